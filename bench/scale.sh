#!/usr/bin/env bash
# bench/scale.sh: the scale-out figures (make bench-scale), each measured in
# this run on this machine:
#   1. suites/demo.json's wall time in one process, on 2 forked workers, and
#      under MPI with 1, 2 and 3 ranks running jobs (mpirun -np 2, 3, 4: rank
#      0 schedules; oversubscribed on a 2-core machine), each checked
#      bit-identical to the one-process run;
#   2. the scheduling overhead per job: a suite whose 26 jobs do almost
#      nothing (a 1-layer GPT of width 16, a few steps), so a job's time is
#      the engine's own cost: in one process (a shard of one), on forked
#      workers, on one MPI rank, and one process per job (run-job, what a
#      Slurm array task runs, without Slurm's queueing);
#   3. with PAPER=1, the per-job costs of suites/paper.json (its seed=1
#      cell in parts on 2 workers: base, training, each point, results) and
#      from them how many 2-core machines run the full paper sweep in one
#      hour, at this model size and at d=256 with 8 layers (scaled by
#      suite/cost.c's arithmetic, routers k=1..8).
# PARTS="2 3" measures only those parts.
# Needs build/mergelab and build-mpi/mergelab (make check-scale builds both)
# and mpirun. Prints a table; the numbers go into the README and the issues.
set -euo pipefail
BIN=${ML_BIN:-build/mergelab}
MPIBIN=${ML_MPI_BIN:-build-mpi/mergelab}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)   # a rank may use every core: its job sets its BLAS threads
OUT=$(mktemp -d /tmp/mergelab-bench-scale.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
export OMPI_MCA_mpi_warn_on_fork=0

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
same() {   # results file, reference: "bit-identical" or what check said
    if "$BIN" check "$1" --baseline "$2" 2>&1 | grep -q "bit-identical to the baseline"; then echo "bit-identical"
    else echo "DIFFERENT"; fi
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
PARTS=${PARTS:-1 2 3}   # which of the three to measure
part() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }

if part 1; then
echo "== 1. suites/demo.json (9 cells), wall seconds"
t=$(now); "$BIN" run suites/demo.json -o "$OUT/d1" --quiet >/dev/null; d1=$(since "$t")
printf "  %-44s %7s s\n" "one process (--jobs 1)" "$d1"
t=$(now); "$BIN" run suites/demo.json -o "$OUT/d2" --quiet --jobs 2 >/dev/null; s=$(since "$t")
printf "  %-44s %7s s  %s\n" "2 forked workers (--jobs 2)" "$s" "$(same "$OUT/d2/demo.json" "$OUT/d1/demo.json")"
for np in 2 3 4; do
    t=$(now); "${MPIRUN[@]}" -np $np "$MPIBIN" run suites/demo.json -o "$OUT/m$np" --mpi --quiet >/dev/null; s=$(since "$t")
    printf "  %-44s %7s s  %s\n" "MPI, $((np - 1)) rank(s) running jobs (-np $np)" "$s" "$(same "$OUT/m$np/demo.json" "$OUT/d1/demo.json")"
done

fi

if part 2; then
echo "== 2. scheduling overhead: 26 jobs that do almost nothing"
python3 - "$OUT/tiny.json" <<'EOF'
import json, sys
suite = {"name": "tiny", "seed": 1, "threads": 1,
         "data": {"dataset": "text", "train_docs": 100, "eval_docs": 20},
         "model": {"type": "gpt", "n_layer": 1, "n_head": 1, "n_embd": 16, "context": 16},
         "optimizer": {"name": "adamw", "lr": 0.01, "schedule": "cosine", "grad_clip": 1.0},
         "batch_size": 4, "pretrain": {"data": "base", "steps": 4},
         "finetune": {"steps": 6, "lr": 0.005, "train": ["mlp"], "points": [2, 4]},
         "specialists": [{"name": "math", "data": "math"}, {"name": "code", "data": "code"}],
         "target": {"data": "target"},
         "merges": [{"name": "average", "method": "average"}],
         "cka": {"every": 2, "probe_size": 8}, "eval": {"windows": 4, "exact_match": 0},
         "gate": [{"match": "*/loss", "direction": "lower", "atol": 0.02, "rtol": 0.02}],
         "matrix": {"seed": [1, 2, 3, 4]}}
json.dump(suite, open(sys.argv[1], "w"), indent=1)
EOF
T="$OUT/tiny.json"
n=$("$BIN" plan "$T" --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['jobs']))")
per() { python3 -c "import sys; print(f'{1000 * float(sys.argv[1]) / int(sys.argv[2]):.0f}')" "$1" "$n"; }
t=$(now); "$BIN" run "$T" --shard 1/1 -o "$OUT/o1" --quiet 2>/dev/null; "$BIN" gather "$T" -o "$OUT/o1" --quiet >/dev/null; s=$(since "$t")
printf "  %-44s %7s s  %5s ms/job\n" "one process (a shard of one, then gather)" "$s" "$(per "$s")"
t=$(now); "$BIN" run "$T" -o "$OUT/o2" --jobs 2 --quiet >/dev/null; s=$(since "$t")
printf "  %-44s %7s s  %5s ms/job (2 at once)\n" "forked workers (--jobs 2)" "$s" "$(per "$s")"
t=$(now); "${MPIRUN[@]}" -np 2 "$MPIBIN" run "$T" -o "$OUT/o3" --mpi --quiet >/dev/null; s=$(since "$t")
printf "  %-44s %7s s  %5s ms/job (mpirun's start included)\n" "MPI, one rank running jobs (-np 2)" "$s" "$(per "$s")"
"$BIN" plan "$T" --json | python3 -c "
import json, sys
d = json.load(sys.stdin); level = {}
for j in d['jobs']:
    level[j['index']] = max([level[i] + 1 for i in j['inputs']] or [0])
for j in sorted(d['jobs'], key=lambda j: level[j['index']]):
    if j['kind'] != 'report': print(j['hash'])" >"$OUT/order"
t=$(now)
while read -r h; do "$BIN" run-job "$T" "$h" -o "$OUT/o4" --quiet >/dev/null 2>&1; done <"$OUT/order"
s=$(since "$t")
printf "  %-44s %7s s  %5s ms/job\n" "one process per job (run-job, as Slurm runs)" "$s" "$(per "$s")"
for o in o2 o3 o4; do printf "  %-44s %s\n" "$o vs one process" "$(same "$OUT/$o/tiny.json" "$OUT/o1/tiny.json")"; done

fi

part 3 || exit 0
[ "${PAPER:-0}" = 1 ] || { echo "== 3. skipped (PAPER=1 measures suites/paper.json's per-job costs, about 12 min)"; exit 0; }
# one cell of the 3 bases x 3 seeds: the first base, the first seed
CELL='pretrain.seed=1,seed=1'
echo "== 3. suites/paper.json: per-job costs (cell $CELL in parts, 2 workers)"
"$BIN" run suites/paper.json --only "$CELL" --jobs 2 -o "$OUT/p" 2>"$OUT/p.log" >/dev/null
"$BIN" plan suites/paper.json --json >"$OUT/paper-plan.json"
python3 - suites/paper.json "$OUT/paper256.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["name"] = "paper256"
d["model"].update({"n_embd": 256, "n_layer": 8, "n_head": 8})
r = [m for m in d["merges"] if m["method"] == "router"][0]
d["merges"] = [m for m in d["merges"] if m["method"] != "router"] + \
    [dict(r, name="router_k%d" % k, layers=k) for k in range(1, 9)]
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF
"$BIN" plan "$OUT/paper256.json" --json >"$OUT/paper256-plan.json"
python3 - "$OUT/p.log" "$OUT/p/paper.json" "$OUT/paper-plan.json" "$OUT/paper256-plan.json" "$CELL" <<'EOF'
import json, math, re, sys
log, res, plan = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
name = sys.argv[5]
t = {}
for kind, secs in re.findall(re.escape(name) + r": (base|train|point\d+) done \(([\d.]+) s\)", log):
    t.setdefault(re.sub(r"\d+$", "", kind), []).append(float(secs))
cell = res["cells"][0]
t["results"] = [cell["timing"]["parts"]["results_seconds"]]
flops = {}
for j in plan["jobs"]:
    if j["cell"] == name: flops.setdefault(j["kind"], j["flops"])
print("  %-8s %9s %12s %10s" % ("job", "seconds", "flops", "GFLOP/s"))
for k in ("base", "train", "point", "results"):
    s = sum(t[k]) / len(t[k])
    print("  %-8s %9.1f %12.3g %10.1f" % (k, s, flops[k], flops[k] / s / 1e9))
base, train, point, results = (sum(t[k]) / len(t[k]) for k in ("base", "train", "point", "results"))
# the full sweep: 3 seeds, the paper's 27 saved states (10 to 100 by 10,
# 500 to 8,500 by 500) as evaluation points, every merge of paper.json with
# routers k = 1..L; one base shared by the seeds (pretrain.seed)
seeds, points = 3, 27
def machines(base, train, point, results, label):
    work = base + seeds * (train + points * point + results)      # core-seconds: one job = one core
    path = base + train + point + results                         # the longest chain of jobs
    need = math.ceil(work / (2 * 3600.0))
    fits = path < 3600
    print("  %-30s work %8.0f core-s, longest chain %6.0f s: %s" % (label, work, path,
          ("%d two-core machines for one hour" % need) if fits else "the chain alone is over an hour"))
    if not fits:   # the soonest it can end: the chain, given enough machines to keep up with it
        print("  %-30s soonest end %.0f min (the chain), with %d two-core machines" % ("", path / 60,
              math.ceil(work / (2 * path))))
machines(base, train, point, results, "d=128, 4 layers (paper.json)")
# d=256, 8 layers: each job's time scaled by its arithmetic (suite/cost.c,
# the measured GFLOP/s kept), the points carrying routers k = 1..8
big = json.load(open(sys.argv[4]))
bf = {}
for j in big["jobs"]:
    if j["cell"] == name: bf.setdefault(j["kind"], j["flops"])
sc = {k: bf[k] / flops[k] for k in ("base", "train", "point", "results")}
machines(base * sc["base"], train * sc["train"], point * sc["point"], results * sc["results"], "d=256, 8 layers")
print("  (time per job scaled by its arithmetic: base x%.1f, train x%.1f, point x%.1f)" % (sc["base"], sc["train"], sc["point"]))
EOF
