#!/usr/bin/env bash
# ci/smoke-gate.sh: a ready CI step for projects that use mergelab.
# Builds mergelab, runs the smoke suite, gates it against the stored
# baseline, and writes the HTML report. Its exit code is mergelab's:
#   0 ok, 1 regression found, 2 bad input or usage, 3 a run failed.
# Usage: ci/smoke-gate.sh [SUITE] [BASELINE]
set -uo pipefail
cd "$(dirname "$0")/.."
suite=${1:-suites/smoke.json}
name=$(basename "$suite" .json)
baseline=${2:-fixtures/baselines/$name.json}
make deps build/mergelab >/dev/null || exit 3
build/mergelab run "$suite" -o "out/$name" --quiet || exit $?
build/mergelab report "out/$name/results.json" -o "out/$name/report" >/dev/null || exit $?
build/mergelab check "out/$name/results.json" --baseline "$baseline" \
    --junit "out/$name/check.xml" --markdown "out/$name/check.md"
