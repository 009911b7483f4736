#!/bin/sh
# tests/valgrind.sh BIN: the smoke suite under valgrind memcheck, for
# `make check`: it passes with 0 errors and 0 definitely lost bytes (the
# tool's exit code 99 says otherwise). OPENBLAS_CORETYPE is set to the
# pinned kernel beforehand so mergelab does not re-execute itself (under
# valgrind /proc/self/exe is the tool). About 30 times a normal run.
set -eu
BIN=${1:-build/mergelab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OPENBLAS_CORETYPE=Haswell
start=$(date +%s)
if valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
     --show-leak-kinds=definite --num-callers=30 --log-file="$T/vg.log" \
     "$BIN" run suites/smoke.json -o "$T/out" --no-cache --quiet > "$T/run.log" 2>&1; then
    rc=0
else
    rc=$?
fi
errors=$(grep -o 'ERROR SUMMARY: [0-9]*' "$T/vg.log" | tail -1 | awk '{print $3}')
lost=$(grep -o 'definitely lost: [0-9,]* bytes' "$T/vg.log" | tail -1 | awk '{print $3}')
echo "valgrind memcheck, smoke suite: exit $rc, ${errors:-?} errors, ${lost:-0} bytes definitely lost ($(( $(date +%s) - start )) s)"
if [ "$rc" != 0 ]; then
    tail -60 "$T/vg.log"
    tail -20 "$T/run.log"
    exit 1
fi
