#!/bin/sh
# tests/fuzz/run.sh TARGET...: for each libFuzzer target of `make fuzz`:
# every input of its seed corpus once (tests/fuzz/corpus/TARGET/: the
# regression inputs), then FUZZ_SECONDS of fuzzing from them. Ends with a
# line per target: seconds, executions, crashes; exits 1 when any crashed.
set -u
B=${FUZZ_BUILD:-build-fuzz}
S=${FUZZ_SECONDS:-60}
failed=0
summary=""
for t in "$@"; do
    bin=$B/fuzz_$t corpus=tests/fuzz/corpus/$t work=$B/corpus-$t log=$B/fuzz_$t.log
    mkdir -p "$work"
    len=65536
    [ "$t" = cache ] && len=1048576
    dict=""
    [ "$t" = results ] && dict="-dict=${FUZZ_DICT:-tests/fuzz/results.dict}"
    before=$(ls "$B" | grep -c "^crash-" || true)
    # the regression inputs, each once
    if ! UBSAN_OPTIONS=print_stacktrace=1 "$bin" -runs=0 "$corpus" > "$log.regress" 2>&1 ||
       ! UBSAN_OPTIONS=print_stacktrace=1 "$bin" "$corpus"/* >> "$log.regress" 2>&1; then
        echo "fuzz $t: a regression input fails:"; tail -20 "$log.regress"; failed=1
    fi
    UBSAN_OPTIONS=print_stacktrace=1 "$bin" -max_total_time="$S" -max_len=$len -timeout=25 -rss_limit_mb=4096 $dict \
        -artifact_prefix="$B/crash-$t-" "$work" "$corpus" > "$log" 2>&1
    rc=$?
    runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $2" executions in "$5" s"}')
    crashes=$(( $(ls "$B" | grep -c "^crash-$t-" || true) ))
    [ $rc -ne 0 ] && { echo "fuzz $t: exit $rc"; tail -30 "$log"; failed=1; }
    summary="$summary
fuzz $t: ${runs:-no summary line}, $crashes crash input(s) in $B/ (corpus $(ls "$corpus" | wc -l) seeds, $(ls "$work" | wc -l) new)"
    : "$before"
done
echo "$summary"
exit $failed
