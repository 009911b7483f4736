/*
 * cli/main.c: the mergelab command line, git-style subcommands.
 * Exit codes (the contract with CI): 0 ok, 1 regression found, 2 bad input
 * or usage, 3 a run failed. Only this file prints errors or exits.
 */
#include "core/error.h"
#include "core/fs.h"
#include "core/fault.h"
#include "suite/cells.h"
#include "cli/cli.h"
#include "cli/scale.h"
#include "analysis/gate.h"
#include "store/provenance.h"
#include "store/results.h"
#include "study/runner.h"
#include "suite/suite.h"
#include "core/version.h"
#include "kernels/platform.h"
#include "reports/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
    const char *help;
} ml_cmd;

static const ml_cmd *find_cmd(const char *name);

int ml_cli_fail(int error) {
    const ml_error *e = ml_error_last();
    /* after an allocation failed, whatever went wrong next is its consequence
     * (cJSON drops what it cannot allocate): a failed run, never bad input */
    if (ml_alloc_failures() > 0 && error != ML_ENOMEM) {
        fprintf(stderr, "mergelab: error: out of memory (an allocation failed), then: %s\n",
                e->message[0] ? e->message : ml_error_name(error));
        return EXIT_FAILED;
    }
    fprintf(stderr, "mergelab: error: %s\n", e->message[0] ? e->message : ml_error_name(error));
    switch (error) {
    case ML_EINVALID: case ML_ENOTFOUND: case ML_EDATA: return EXIT_USAGE;
    default: return EXIT_FAILED;
    }
}

int ml_cli_usage(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "mergelab %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: mergelab %s\n", find_cmd(cmd)->usage);
    return EXIT_USAGE;
}

int ml_cli_int(const char *cmd, const char *opt, const char *val, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || *end || end == val || v < lo || v > hi) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s wants %d..%d, got '%%s'", opt, lo, hi);
        ml_cli_usage(cmd, msg, val);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

static void print_cmd_help(const ml_cmd *c) { printf("usage: mergelab %s\n\n%s\n", c->usage, c->help); }

void ml_cli_join_args(char *buf, size_t size, int argc, char **argv) {
    size_t used = (size_t)snprintf(buf, size, "mergelab");
    for (int i = 0; i < argc && used < size; i++) used += (size_t)snprintf(buf + used, size - used, " %s", argv[i]);
}

static int cmd_validate(int argc, char **argv) {
    ml_cellset *cs = NULL;
    const char *suite = NULL;
    int error, force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--force")) force = 1;
        else if (argv[i][0] == '-') return ml_cli_usage("validate", "unknown option '%s'", argv[i]);
        else if (!suite) suite = argv[i];
        else return ml_cli_usage("validate", "%s", "expected exactly one SUITE");
    }
    if (!suite) return ml_cli_usage("validate", "%s", "expected exactly one SUITE");
    if ((error = ml_cells_load(&cs, suite, 0)) < 0) return ml_cli_fail(error);
    /* a suite the machine cannot hold is refused now, not an hour into its run */
    if ((error = ml_cells_check_memory(cs, 1, force, "--force")) < 0) {
        ml_cells_free(cs);
        return ml_cli_fail(error);
    }
    printf("%s: ok (suite \"%s\", %d cell%s, %d specialists, %d merges, %d gate rules; about %.2f GB per cell)\n", suite,
           cs->suite->name, cs->n, cs->n == 1 ? "" : "s", cs->suite->nspecialists, cs->suite->nmerges, cs->suite->ngate,
           ml_cells_memory(cs) / 1e9);
    ml_cells_free(cs);
    return EXIT_OK;
}

/* The lines that say what a check could not gate, and the exit code they
 * cost: 2 for a baseline that cannot gate, 3 for results that are not all
 * there; --allow-partial reports them and keeps the metrics' verdict. */
static int check_document_problems(const ml_gate_summary *sum, const char *results, const char *baseline,
                                   int allow_partial) {
    int rc = EXIT_OK;
    const char *tag = allow_partial ? "warning (--allow-partial)" : "error";
    if (sum->baseline_empty) {
        fprintf(stderr, "mergelab check: error: baseline %s is empty: no cell holds a finite metric, so it would pass "
                "anything; bless complete results\n", baseline);
        return EXIT_USAGE;
    }
    if (sum->baseline_holes) {
        fprintf(stderr, "mergelab check: error: baseline %s lacks a finite value for %d metric%s in some seed "
                "(BAD BASELINE rows); bless complete results, or let the rule \"allow_missing\"\n", baseline,
                sum->baseline_holes, sum->baseline_holes == 1 ? "" : "s");
        rc = EXIT_USAGE;
    }
    if (sum->baseline_partial) {
        fprintf(stderr, "mergelab check: %s: baseline %s is partial (%d failed or missing cell%s)\n", tag, baseline,
                sum->baseline_partial, sum->baseline_partial == 1 ? "" : "s");
        if (!allow_partial) rc = EXIT_USAGE;
    }
    if (rc != EXIT_OK) return rc;
    if (sum->incomplete) {
        fprintf(stderr, "mergelab check: %s: results %s are incomplete: %d cell%s of the suite or the baseline not "
                "run (rerun the same command to finish them)\n", tag, results, sum->incomplete,
                sum->incomplete == 1 ? "" : "s");
        if (!allow_partial) rc = EXIT_FAILED;
    }
    if (sum->failed_cells && !allow_partial) rc = EXIT_FAILED;
    return rc;
}

static int cmd_check(int argc, char **argv) {
    const char *results = NULL, *baseline = NULL, *junit = NULL, *markdown = NULL;
    cJSON *r = NULL, *b = NULL;
    ml_gate_summary sum;
    ml_gate_rows rows = { 0 };
    char platform[600];
    int error, rc, allow_partial = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--baseline") && i + 1 < argc) baseline = argv[++i];
        else if (!strcmp(argv[i], "--junit") && i + 1 < argc) junit = argv[++i];
        else if (!strcmp(argv[i], "--markdown") && i + 1 < argc) markdown = argv[++i];
        else if (!strcmp(argv[i], "--allow-partial")) allow_partial = 1;
        else if (argv[i][0] == '-') return ml_cli_usage("check", "unknown option '%s'", argv[i]);
        else if (!results) results = argv[i];
        else return ml_cli_usage("check", "unexpected argument '%s'", argv[i]);
    }
    if (!results || !baseline) return ml_cli_usage("check", "%s", "need RESULTS and --baseline FILE");
    if (!ml_fs_exists(baseline)) {
        fprintf(stderr, "mergelab check: no baseline: '%s' does not exist (create it with: mergelab bless %s --baseline %s)\n",
                baseline, results, baseline);
        return EXIT_USAGE;
    }
    if ((error = ml_results_load(&r, results)) < 0 || (error = ml_results_load(&b, baseline)) < 0) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    if ((error = ml_gate_check(&sum, stdout, r, b, &rows)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
    ml_gate_platform_line(platform, sizeof(platform), &sum);
    printf("%s\n", platform);
    {
        const cJSON *sn = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "suite"), "name");
        const char *suite = cJSON_IsString(sn) ? sn->valuestring : results;
        if ((junit && (error = ml_gate_write_junit(junit, suite, &rows, &sum)) < 0) ||
            (markdown && (error = ml_gate_write_markdown(markdown, suite, &rows, &sum)) < 0)) {
            rc = ml_cli_fail(error);
            goto cleanup;
        }
    }
    rc = sum.regressed ? EXIT_REGRESSION : EXIT_OK;
    /* a cell that failed to run is worse than a regression: the numbers are not there */
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(r, "cells");
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        if (strcmp(st->valuestring, "ok")) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "error");
            fprintf(stderr, "mergelab check: %s: cell %s failed: %s\n", allow_partial ? "warning (--allow-partial)" : "error",
                    cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring,
                    cJSON_IsString(e) ? e->valuestring : "(no reason recorded)");
        }
    }
    int doc_rc = check_document_problems(&sum, results, baseline, allow_partial);
    if (doc_rc != EXIT_OK) rc = doc_rc;
    printf("%d metrics: %d regressed, %d ok, %d improved, %d untracked, %d new%s%s%s -> exit %d\n", sum.total,
           sum.regressed, sum.ok, sum.improved, sum.untracked, sum.added, sum.failed_cells ? "; cells failed" : "",
           sum.incomplete ? "; results incomplete" : "",
           sum.baseline_empty || sum.baseline_holes || sum.baseline_partial ? "; baseline unusable" : "", rc);
cleanup:
    ml_gate_rows_free(&rows);
    cJSON_Delete(r);
    cJSON_Delete(b);
    return rc;
}

static int cmd_bless(int argc, char **argv) {
    const char *results = NULL, *baseline = NULL;
    char def[PATH_MAX];
    cJSON *r = NULL;
    int error;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--baseline") && i + 1 < argc) baseline = argv[++i];
        else if (argv[i][0] == '-') return ml_cli_usage("bless", "unknown option '%s'", argv[i]);
        else if (!results) results = argv[i];
        else return ml_cli_usage("bless", "unexpected argument '%s'", argv[i]);
    }
    if (!results) return ml_cli_usage("bless", "%s", "missing RESULTS");
    if (!baseline) {
        if ((error = ml_results_load(&r, results)) < 0) return ml_cli_fail(error);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "suite"), "name");
        if (!cJSON_IsString(name)) {
            cJSON_Delete(r);
            fprintf(stderr, "mergelab bless: %s: $.suite.name missing; pass --baseline FILE\n", results);
            return EXIT_USAGE;
        }
        /* the name becomes a path: hold it to the suite's own rule for names */
        if (!ml_suite_name_ok(name->valuestring)) {
            fprintf(stderr, "mergelab bless: %s: $.suite.name '%s' is not a suite name (letters, digits, '-', '_', "
                    "1..63 characters); pass --baseline FILE\n", results, name->valuestring);
            cJSON_Delete(r);
            return EXIT_USAGE;
        }
        snprintf(def, sizeof(def), "fixtures/baselines/%s.json", name->valuestring);
        baseline = def;
        cJSON_Delete(r);
    }
    if ((error = ml_gate_bless(baseline, results, ml_build_commit)) < 0) return ml_cli_fail(error);
    printf("blessed %s as %s (build %s)\n", results, baseline, ml_build_commit);
    return EXIT_OK;
}

static int cmd_help(int argc, char **argv);

static const ml_cmd cmds[] = {
    { "run", ml_cmd_run,
      "run SUITE [-o DIR] [--results ROOT] [--jobs N|--mpi] [--shard K/N] [--only GLOB] [--force] [--threads N] [--quiet|--verbose]\n"
      "             [--report DIR] [--cache DIR|--no-cache] [--ignore-memory] [--commits A..B [--build CMD] [--bin PATH]]",
      "Runs every cell of a suite (its matrix: seeds x values x merges). Each cell's result is\n"
      "written atomically to DIR/<suite>.cells/ the moment it ends; DIR/<suite>.json gathers them.\n"
      "DIR defaults to ROOT/<machine>/<commit> (ROOT: results, or $MERGELAB_RESULTS; machine:\n"
      "$MERGELAB_MACHINE or the host name). Rerunning the same command skips finished cells, so an\n"
      "interrupted run resumes; --force reruns them. Trained phases (base, specialists, direct)\n"
      "are cached in ROOT/cache (DIR/cache with -o) and shared by cells with the same inputs.\n"
      "  --jobs N      N cells at once, each in its own process (results do not depend on N)\n"
      "  --shard K/N   only the K-th of N disjoint shares of the jobs (and what they need first);\n"
      "                shards run anywhere (GNU parallel, a CI matrix, Kubernetes), at once on one\n"
      "                store or each on its own; then mergelab gather makes the suite's results\n"
      "  --mpi         under mpirun, with a build of make MPI=1 (build-mpi/mergelab): rank 0 schedules,\n"
      "                the other ranks run the jobs (DIR on a filesystem every rank sees)\n"
      "  --only GLOB   only cells whose name matches (see: mergelab list SUITE)\n"
      "  --report DIR  write the HTML report of the results, as the run's last job\n"
      "  --ignore-memory  run even when --jobs cells at once need more than the machine's memory\n"
      "  --commits A..B  for each commit in the range (as git log A..B), check it out into a temporary\n"
      "                worktree, build it (--build, default 'make build/mergelab') and run SUITE with\n"
      "                that build (--bin, default build/mergelab) into ROOT/<machine>/<commit>;\n"
      "                commits already measured are skipped.\n"
      "A failed cell (NaN loss, I/O error) is recorded with its reason and the others go on.\n"
      "Exit 0, 2 on a bad suite or usage (or DIR locked by another run), 3 when a cell failed." },
    { "gather", ml_cmd_gather,
      "gather SUITE [-o DIR] [--cache STORE] [--from DIR|STORE]... [--report DIR] [--jobs N] [--threads N] [--quiet]",
      "Assembles the suite's results from what its shards made (run --shard K/N) into DIR/<suite>.json,\n"
      "bit-identical to a run on one machine. With one shared store (the shards ran with the same\n"
      "--cache, or -o on a shared filesystem) nothing needs copying; shards that each had their own\n"
      "store (a CI matrix) hand theirs over with --from (a shard's -o folder, or a store): their job\n"
      "records, models and cell files are copied in first. Gather makes each cell's file and the\n"
      "suite's; it never trains: an output no shard made is listed, with exit 3 (run that shard\n"
      "again: it resumes). A cell a shard recorded as failed is listed as failed in the results." },
    { "run-job", ml_cmd_run_job, "run-job SUITE HASH [-o DIR] [--cache STORE] [--report DIR] [--threads N] [--quiet]",
      "Runs the one job of the suite's graph whose hash starts with HASH (see: mergelab plan SUITE),\n"
      "once the jobs it needs are done, under a lease in the store (so tasks that run the same job\n"
      "at once make it once, and a task that died is taken over). For Slurm job arrays (mergelab\n"
      "slurm) and any engine that runs one command per job. Exit 0 when the job is done (also when\n"
      "it was already, or when its cell failed: the failure is recorded and the suite's job lists\n"
      "it), 3 when a job it needs is not done, or for the suite's job when a cell failed or is\n"
      "missing; 2 bad usage." },
    { "slurm", ml_cmd_slurm,
      "slurm SUITE -o DIR [--cache STORE] [--report DIR] [--threads N] [--partition P] [--account A]\n"
      "             [--sbatch-arg ARG]... [--bin PATH] [--gflops G] [--time-factor F]",
      "Writes DIR/slurm/: one sbatch script per level of the suite's job graph (bases, trainings,\n"
      "points, cells' results, the suite's results, the report), each a job array of `mergelab\n"
      "run-job` tasks, and submit.sh, which submits them chained with --dependency=afterok. DIR\n"
      "(and --cache) must be on a filesystem every node sees. --cpus-per-task is the suite's\n"
      "threads (pretrain.threads for a base); --time is estimated from the level's largest job\n"
      "(suite/cost.c: its flops at G GFLOP/s per core, default 20, times F, default 3, plus 2 min).\n"
      "Rerunning submit.sh after a failure resumes: tasks whose job is done end at once." },
    { "list", ml_cmd_list, "list SUITE [-o DIR] [--threads N]",
      "Prints the cells the suite's matrix expands into, with their identities; with -o DIR,\n"
      "whether each is done, failed or pending there." },
    { "plan", ml_cmd_plan, "plan SUITE [--json] [-o DIR [--cache DIR] [--report DIR]] [--threads N]",
      "Prints the suite's work as a graph of jobs (sched/graph.h): base (pretrain, shared by the\n"
      "cells whose base is the same), train (specialists and direct), point (every merge, router,\n"
      "ensemble and CKA at one finetune.points step), results (a cell's file), cell (a cell in one\n"
      "call, when its evaluation is not split), suite (the results file with its findings) and\n"
      "report; each with its content hash, the cores it takes and the jobs it needs. --json prints\n"
      "the same as JSON. With -o DIR, which jobs' outputs are already there: what run skips, by\n"
      "the rule run uses (a failed cell is to run again; run always writes the suite's file and\n"
      "the report again). --report DIR: the report is done when DIR/index.html is not older than\n"
      "the suite's results file; without it the report is 'not requested'." },
    { "validate", cmd_validate, "validate SUITE [--force]",
      "Checks a suite without running it, and that one cell fits this machine's memory (--force: do not refuse). "
      "Exit 0 or 2." },
    { "check", cmd_check, "check RESULTS --baseline FILE [--junit FILE] [--markdown FILE] [--allow-partial]",
      "Gates each metric of RESULTS against FILE with the suite's tolerances\n"
      "(atol + rtol*|baseline|). --junit writes JUnit XML (one testcase per gated metric),\n"
      "--markdown a summary table for a CI job page. With several seeds a side, a change\n"
      "beyond tolerance whose 95% interval across seeds still reaches zero is noise, not a\n"
      "regression. Nothing missing passes: a metric missing, null, NaN or infinite in any seed\n"
      "is REGRESSED (unless its rule says \"allow_missing\": true); incomplete results or a failed\n"
      "cell exit 3, an empty or partial baseline exits 2; --allow-partial reports those and gates\n"
      "what is there. It also says whether both sides share a numeric platform (BLAS library and\n"
      "kernels, threads): on the same one, whether they are bit-identical; across two, a rule's\n"
      "\"across_platforms\" tolerance applies. Exit 0 all hold, 1 a regression, 2 bad input or\n"
      "no baseline, 3 a cell failed or results are incomplete." },
    { "bless", cmd_bless, "bless RESULTS [--baseline FILE]",
      "Makes RESULTS the new baseline (default fixtures/baselines/<suite>.json), recording the build\n"
      "commit. Refuses (exit 2) results that are incomplete, have a failed cell, hold no metric, or\n"
      "lack a finite value for a metric in some seed." },
    { "report", ml_cmd_report, "report RESULTS... [-o DIR] [--baseline FILE] [--formats png,svg,pdf] [--width-in W] [--font-pt P] [--png-scale N] [--history] [--history-metric M]... [--results ROOT] [--rev REV]",
      "Writes DIR/index.html (default: report/ beside the first RESULTS) with, per results file,\n"
      "the findings, the method table with 95% intervals across seeds, the cells, the provenance\n"
      "and every figure as PNG (216 dpi, tEXt provenance), SVG and PDF (fonts embedded) with a CSV\n"
      "of its data. Figures are one paper column (3.5 in, 8 pt) unless --width-in/--font-pt say\n"
      "otherwise. --baseline adds the regression table against FILE; --history adds the history\n"
      "of the headline metric and of fine-tuning time per step over REV's first-parent line\n"
      "(default HEAD) from the results store, regressions marked. The page needs no server or\n"
      "network. Exit 0, or 2 on bad input." },
    { "findings", ml_cmd_findings, "findings RESULTS [--check F1,F2,F3,F4] [--metric M]",
      "Evaluates the paper's findings on RESULTS across its seeds (see analysis/findings.h):\n"
      "F1 CKA falls with fine-tuning, F2 direct fine-tuning beats every merge, F3 routing beats\n"
      "interpolation and weight averaging (F3a) and more router layers help (F3b), F4 merging\n"
      "gets worse as specialists train longer (per family). Each is held, not held or\n"
      "inconclusive by the 95% t interval of its effect across seeds. Exit 0, or 2." },
    { "show", ml_cmd_show, "show RESULTS",
      "Prints a results file readably: provenance (commit, build, BLAS, machine, seeds, data),\n"
      "then each cell's status, time and metrics." },
    { "compare", ml_cmd_compare, "compare REV_A REV_B [--suite NAME] [--results ROOT] [--machine M] [--all]",
      "Compares the stored results of two commits (any git revision: branch, tag, short hash,\n"
      "HEAD~3): every metric, both means, the difference with its 95% confidence interval\n"
      "across seeds (Welch), and a verdict by check's rule: better or WORSE beyond the tolerance\n"
      "and the seeds' noise, else same (within tolerance or within noise). Exit 0, or 2." },
    { "history", ml_cmd_history, "history METRIC [--suite NAME] [--group G] [--results ROOT] [--machine M] [--rev REV] [--csv] [--plot F.png|F.svg|F.pdf]",
      "Prints METRIC (e.g. direct/test_acc, or time/finetune_ms_per_step) for every stored commit\n"
      "on REV's first-parent line (default HEAD), oldest first, as mean and 95% interval across\n"
      "seeds, marking a commit REGRESSED when it is worse than the one before by the gate's rule\n"
      "(beyond tolerance, and beyond noise with two or more seeds); --plot draws it." },
    { "bench", ml_cmd_bench, "bench [--gate] [--threads N] [--rounds N] [--steps N] [--only step|torch|gpt|cka|router]",
      "Runs the speed benchmark (build/mlbench, made by make bench): PyTorch on the same GPT, first\n"
      "checked on mergelab's own weights (same loss to 1e-5, same gradients, same matmul FLOPs),\n"
      "then raced in alternating rounds at d=128 and d=256; each step's GFLOP/s against the sgemm\n"
      "peak of the same run; two-thread scaling; forward-only evaluation; the router step; CKA.\n"
      "Every line gives its value, its reference, the ratio, the target and met or NOT met.\n"
      "--gate: exit 1 when a line falls short (for CI). Exit 2 when mlbench is not built." },
    { "help", cmd_help, "help [COMMAND]", "Shows the commands, or one command's usage." },
    { 0 }
};

static const ml_cmd *find_cmd(const char *name) {
    for (const ml_cmd *c = cmds; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    return NULL;
}

static void print_overview(FILE *f) {
    fprintf(f, "usage: mergelab COMMAND [ARGS]   (mergelab COMMAND --help for details)\n\ncommands:\n");
    for (const ml_cmd *c = cmds; c->name; c++) fprintf(f, "  %-45s\n", c->usage);
    fprintf(f, "\nexit codes: 0 ok, 1 regression found, 2 bad input or usage, 3 a run failed\n");
}

static int cmd_help(int argc, char **argv) {
    if (argc >= 2) {
        const ml_cmd *c = find_cmd(argv[1]);
        if (!c) return ml_cli_usage("help", "unknown command '%s'", argv[1]);
        print_cmd_help(c);
        return EXIT_OK;
    }
    print_overview(stdout);
    return EXIT_OK;
}

/* An option that names a file or folder given an empty or blank value
 * ("-o $UNSET") would otherwise mean "/" once a file name is appended:
 * refused for every command before it runs. Positional paths reach the
 * library, which refuses them too (core/fs.h). */
static int empty_path_option(const char *cmd, int argc, char **argv) {
    static const char *const opts[] = { "-o", "--results", "--cache", "--report", "--baseline", "--junit",
                                        "--markdown", "--plot", "--build", "--bin", NULL };
    for (int i = 1; i + 1 < argc; i++)
        for (int k = 0; opts[k]; k++)
            if (!strcmp(argv[i], opts[k]) && ml_fs_check_path(argv[i + 1], opts[k]) < 0) {
                ml_cli_usage(cmd, "%s", ml_error_last()->message);
                return 1;
            }
    return 0;
}

int main(int argc, char **argv) {
    /* before any BLAS call: may re-execute us with OPENBLAS_CORETYPE set */
    if (ml_platform_init(&argc, argv) < 0) return ml_cli_fail(ML_EINVALID);
    ml_fault_init();   /* off unless the fault tests set MERGELAB_FAULT */
    if (argc < 2) { print_overview(stderr); return EXIT_USAGE; }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mergelab %s\n", ml_build_commit);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { print_overview(stdout); return EXIT_OK; }
    const ml_cmd *c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "mergelab: unknown command '%s'; see 'mergelab help'\n", argv[1]);
        return EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) { print_cmd_help(c); return EXIT_OK; }
    if (empty_path_option(c->name, argc - 1, argv + 1)) return EXIT_USAGE;
    int rc = c->fn(argc - 1, argv + 1);
    /* an allocation that failed where the command could go on (cJSON drops
     * what it cannot allocate) may have cut something it printed or wrote */
    if (rc == EXIT_OK && ml_alloc_failures() > 0) {
        fprintf(stderr, "mergelab: error: out of memory: an allocation failed; what %s printed may be incomplete\n",
                c->name);
        return EXIT_FAILED;
    }
    return rc;
}
