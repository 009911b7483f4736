#!/bin/sh
# tests/valgrind.sh BIN: a whole study under valgrind memcheck, for `make
# check`: run, bless, check and report pass with 0 errors and 0 definitely
# lost bytes (the tool's exit code 99 says otherwise). The study is
# suites/gpt-smoke.json made small (a 2-layer GPT of width 32, 10 steps a
# phase, every merge method, a point at step 5, 4 windows of 32 tokens, no
# exact match, whose documents need a longer context): the protocol,
# every merge, routers, CKA, the cache, the cell and suite files and the
# report run their code, each loop a few times. The smoke suite itself is
# too slow under memcheck (over 20 minutes: memcheck runs the BLAS about a
# hundred times slower, and the MLP suites evaluate 10,000 test images per
# model); every test, the smoke suite's included, also runs under ASan and
# LSan in `make check`. OPENBLAS_CORETYPE is set to the pinned kernel so
# mergelab does not re-execute itself (under valgrind /proc/self/exe is the tool).
set -eu
BIN=${1:-build/mergelab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 - "$T/small.json" <<'PY'
import json, sys
s = json.load(open('suites/gpt-smoke.json'))
s['name'] = 'vg'
s['model'].update({'n_embd': 32, 'context': 32})
s['data'].update({'train_docs': 400, 'eval_docs': 60})
s['pretrain']['steps'] = 10; s['finetune']['steps'] = 10; s['finetune']['points'] = [5]
s['cka'].update({'every': 5, 'probe_size': 8, 'probe_sweep': [4, 8]}); s['eval'].update({'windows': 4, 'exact_match': 0})
for m in s['merges']:
    if 'steps' in m: m['steps'] = 4
    if 'examples' in m: m['examples'] = 4
s.pop('findings', None)
json.dump(s, open(sys.argv[1], 'w'))
PY
export OPENBLAS_CORETYPE=Haswell
fail=0
vg() {   # vg NAME ARGS...: one command under memcheck
    name=$1; shift
    t0=$(date +%s)
    if valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
         --show-leak-kinds=definite --num-callers=30 --suppressions=tests/valgrind.supp --log-file="$T/$name.vg" "$BIN" "$@" > "$T/$name.out" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    errors=$(grep -o 'ERROR SUMMARY: [0-9]*' "$T/$name.vg" | tail -1 | awk '{print $3}')
    lost=$(grep -o 'definitely lost: [0-9,]* bytes' "$T/$name.vg" | tail -1 | awk '{print $3}')
    echo "valgrind memcheck, $name: exit $rc, ${errors:-?} errors, ${lost:-0} bytes definitely lost ($(( $(date +%s) - t0 )) s)"
    if [ "$rc" != 0 ]; then tail -60 "$T/$name.vg"; tail -20 "$T/$name.out"; fail=1; fi
}
vg run run "$T/small.json" -o "$T/out" --quiet --jobs 1
vg bless bless "$T/out/vg.json" --baseline "$T/base.json"
vg check check "$T/out/vg.json" --baseline "$T/base.json"
vg report report "$T/out/vg.json" -o "$T/rep" --formats png,svg,pdf
exit $fail
