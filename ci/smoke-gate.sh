#!/usr/bin/env bash
# ci/smoke-gate.sh: a ready CI step for projects that use mergelab.
# Builds mergelab, runs the smoke suite into out/<suite>/ (resuming if a
# previous attempt was interrupted), writes the HTML report (with the gate
# table), and gates the
# results against the stored baseline, leaving JUnit XML and a Markdown
# summary beside them. Its exit code is mergelab's:
#   0 ok, 1 regression found, 2 bad input or usage, 3 a run failed.
# Usage: ci/smoke-gate.sh [SUITE] [BASELINE]
set -uo pipefail
cd "$(dirname "$0")/.."
suite=${1:-suites/smoke.json}
name=$(basename "$suite" .json)   # suites here are named after their file
baseline=${2:-fixtures/baselines/$name.json}
make deps build/mergelab >/dev/null || exit 3
out="out/$name"
build/mergelab run "$suite" -o "$out" --quiet || exit $?
# The report carries the same gate table (regressions first), so the page a
# reviewer opens from the job's artifacts says what the exit code says.
build/mergelab report "$out/$name.json" -o "$out/report" --baseline "$baseline" >/dev/null || exit $?
build/mergelab check "$out/$name.json" --baseline "$baseline" \
    --junit "$out/check.xml" --markdown "$out/check.md"
