/*
 * cli/run.c: `mergelab run`, `list` and `plan`.
 * A run expands the suite into cells, takes the output folder's lock and
 * hands the job graph of its cells, the suite's results file and the
 * report (sched/graph.h) to the one scheduler (sched/sched.h), in this
 * process or on --jobs worker processes. What a job does, and which jobs
 * a folder already holds, is sched/jobs.h: `plan -o` asks the same
 * question, so it shows what a rerun skips. Each cell's file is written
 * atomically the moment it ends, so a run killed at any moment picks up
 * where it stopped and ends with the same file.
 * Here: the arguments, what is printed (the status line, a line per
 * finished cell, the jobs' notes, the summary) and the exit code.
 */
#include "cli/cli.h"
#include "cli/scale.h"
#include "suite/cells.h"
#include "sched/graph.h"
#include "sched/jobs.h"
#include "sched/sched.h"
#include "sched/mpi.h"
#include "store/cellfile.h"
#include "store/provenance.h"
#include "store/results.h"
#include "store/store.h"
#include "core/version.h"
#include "core/error.h"

#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ml_cli_commits(int argc, char **argv, const char *range);   /* cli_commits.c */

/* run: the suite here; shard: its K-th of N shares (run --shard K/N);
 * gather: the shares' results into the suite's; job: one job (run-job) */
enum { MODE_RUN, MODE_SHARD, MODE_GATHER, MODE_JOB };

typedef struct {
    const char *cmd, *suite_path, *outdir, *root, *only, *report, *cache, *commits, *job;
    const char *from[256];
    int mode, nfrom, shard_k, shard_n, mpi;
    int jobs, force, quiet, verbose, threads, no_cache, ignore_memory;
} run_args;

/* The protocols' --verbose lines (runner.h's log) and the jobs' notes: only the CLI prints. */
static void log_line(void *ctx, const char *line) {
    (void)ctx;
    fputs(line, stderr);
}

static void note_line(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "mergelab: note: %s\n", line);
}

static void fmt_duration(char *buf, size_t size, double s) {
    if (!isfinite(s) || s < 0) snprintf(buf, size, "--");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* ---- what a run prints --------------------------------------------------- */

/* The context of every callback of a run (jobs.h's and sched.h's). */
typedef struct {
    const run_args *a;
    const ml_jobs_ctx *x;
    int tty;
    int selected, reused;      /* cells of the run, cells an earlier run finished */
    int done, total, failed;   /* cells finished, to run and failed in this run */
    double t0, last;           /* the scheduler's start, last status line */
    int shown;                 /* a status line is on screen */
    ml_jobs_claims *claims;    /* leases in the store; NULL without one */
    int suite_ok;              /* the suite's file was written, complete, no cell failed */
} run_state;

static const char *cell_name(const run_state *s, int j) { return s->x->cs->cells[s->x->g->jobs[j].cell].name; }

/* Rough share of a cell's time each phase ends at, for the ETA. */
static double phase_fraction(const char *phase, int step, int total) {
    static const struct { const char *name; double lo, hi; } ph[] = {
        { "pretrain", 0.0, 0.3 }, { "finetune", 0.3, 0.65 }, { "direct", 0.65, 0.8 }, { "merge", 0.8, 1.0 } };
    for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
        if (!strcmp(ph[i].name, phase)) return ph[i].lo + (ph[i].hi - ph[i].lo) * (total > 0 ? (double)step / total : 0.0);
    return 0.0;
}

static void progress_clear(run_state *s) {
    if (s->shown) fputs("\r\033[K", stderr);
    s->shown = 0;
}

/* jobs.h's progress: a cell job's steps, in this process */
static void on_progress(void *ctx, int j, const char *phase, int step, int total, double loss) {
    run_state *s = ctx;
    double t = ml_jobs_wall();
    if (!s->tty || s->a->quiet || (t - s->last < 0.1 && step != total)) return;
    s->last = t;
    double f = (s->done + phase_fraction(phase, step, total)) / (s->total > 0 ? s->total : 1);
    char eta[32], steps[48] = "", lossbuf[32] = "";
    fmt_duration(eta, sizeof(eta), f > 0.005 ? (t - s->t0) * (1.0 - f) / f : NAN);
    if (total > 0) snprintf(steps, sizeof(steps), " step %d/%d", step, total);
    if (isfinite(loss)) snprintf(lossbuf, sizeof(lossbuf), " loss %.4f", loss);
    fprintf(stderr, "\r\033[K[%d/%d] %s: %s%s%s  ETA %s", s->done, s->total, cell_name(s, j), phase, steps, lossbuf, eta);
    fflush(stderr);
    s->shown = 1;
}

/* A cell's line when it ends; with --quiet only a failed cell's, which says why. */
static void print_cell_line(const run_state *s, int i, int rc, double secs) {
    if (s->a->quiet && rc == 0) return;
    if (s->a->quiet) fprintf(stderr, "mergelab: cell %s FAILED", s->x->cs->cells[i].name);
    else
        fprintf(stderr, "[%d/%d] %s %s (%.1f s)", s->done, s->total, rc == 0 ? "ok    " : "FAILED",
                s->x->cs->cells[i].name, secs);
    cJSON *cell = NULL;
    if (rc == 1 && ml_cellfile_load_done(&cell, s->x->cs, i, s->x->dir, 0, NULL, 0)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(cell, "error");
        if (cJSON_IsString(e)) fprintf(stderr, ": %s", e->valuestring);
    }
    cJSON_Delete(cell);
    fputc('\n', stderr);
}

/* sched.h's run: one job, in this process or in a worker */
static int job_run(void *ctx, int j, int in_worker) {
    run_state *s = ctx;
    ml_jobs_ctx x = *s->x;
    if (in_worker) x.progress = NULL;   /* a worker's steps do not draw the status line */
    int rc = ml_job_exec(&x, j);
    if (rc < 0 && in_worker) fprintf(stderr, "mergelab: error: %s\n", ml_error_last()->message);
    return rc;
}

/* sched.h's ended: a cell's line when the cell ended, a part's when not on
 * a TTY; the suite and report jobs print what they wrote (job_wrote) */
static void job_ended(void *ctx, int j, int rc, double secs) {
    run_state *s = ctx;
    const ml_job *job = &s->x->g->jobs[j];
    if (job->cell < 0) return;
    if (rc == ML_SCHED_ELSEWHERE) {   /* another run, host or shard sharing the store made it meanwhile */
        if (job->kind != ML_JOB_CELL && job->kind != ML_JOB_RESULTS) return;
        s->done++;
        progress_clear(s);
        if (!s->a->quiet)
            fprintf(stderr, "[%d/%d] made elsewhere %s (by another process sharing the store)\n", s->done, s->total,
                    cell_name(s, j));
        return;
    }
    if (rc == 0 && job->kind != ML_JOB_CELL && job->kind != ML_JOB_RESULTS) {
        if (!s->a->quiet && !s->tty) {
            char what[32];
            fprintf(stderr, "mergelab: %s: %s done (%.1f s)\n", cell_name(s, j), ml_job_name(job, what, sizeof(what)), secs);
        }
        return;
    }
    if (rc != 0 && rc != 1) return;   /* the worker printed why */
    s->done++;
    s->failed += rc == 1;
    progress_clear(s);
    print_cell_line(s, job->cell, rc, secs);
}

/* sched.h's running: the status line of the workers (in this process the
 * protocol's own progress draws it) */
static void job_running(void *ctx, const int *jobs, int n, double f) {
    run_state *s = ctx;
    char names[200] = "", what[32], eta[32];
    size_t used = 0;
    if (s->a->jobs <= 1 || !s->tty || s->a->quiet) return;
    for (int r = 0; r < n && used < sizeof(names); r++) {
        const ml_job *job = &s->x->g->jobs[jobs[r]];
        const char *sep = r ? ", " : "";
        if (job->cell < 0) used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", sep, ml_job_name(job, what, sizeof(what)));
        else if (job->kind == ML_JOB_CELL) used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", sep, cell_name(s, jobs[r]));
        else used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s:%s", sep, cell_name(s, jobs[r]),
                                      ml_job_name(job, what, sizeof(what)));
    }
    fmt_duration(eta, sizeof(eta), f > 0 ? (ml_jobs_wall() - s->t0) * (1 - f) / f : NAN);
    fprintf(stderr, "\r\033[K[%d/%d] running %s  ETA %s", s->done, s->total, names, eta);
    s->shown = 1;
}

/* sched.h's fail: a job that died where it ran (a worker, an MPI rank's child) fails its cell */
static int job_fail(void *ctx, int j, const char *why) { return ml_jobs_fail(((run_state *)ctx)->x, j, why); }

/* sched.h's claim, release and tick: leases in the shared store */
static int job_claim(void *ctx, int j) { return ml_jobs_claim(((run_state *)ctx)->claims, j); }
static void job_release(void *ctx, int j) { ml_jobs_release(((run_state *)ctx)->claims, j); }
static void job_tick(void *ctx) { ml_jobs_renew(((run_state *)ctx)->claims); }

/* jobs.h's wrote: the summary of the suite's results file, the report's page */
static void job_wrote(void *ctx, int j, const char *path, const cJSON *doc) {
    run_state *s = ctx;
    progress_clear(s);
    if (!doc) {
        printf("wrote %s\n", path);
        return;
    }
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    if (!s->a->quiet && cJSON_GetArraySize(cells) == 1 && ml_results_first_ok(doc)) {
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(ml_results_first_ok(doc), "metrics");
        for (const cJSON *m = metrics->child; m; m = m->next)
            printf("%-28s %10.4f\n", m->string, cJSON_IsNumber(m) ? m->valuedouble : NAN);
    }
    int complete = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete"));
    int failed = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cells) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        failed += !cJSON_IsString(st) || strcmp(st->valuestring, "ok") != 0;
    }
    s->suite_ok = complete && !failed;
    printf("wrote %s (%d cell%s: %d ran, %d reused, %d failed%s; %.1f s)\n", path, s->selected,
           s->selected == 1 ? "" : "s", s->total, s->reused, s->failed, complete ? "" : "; incomplete",
           ml_jobs_wall() - s->x->run.wall0);
}

/* ---- the command ------------------------------------------------------- */

static int parse_mode_arg(run_args *a, const char *cmd, const char *o, const char *val) {
    if (!strcmp(o, "--shard") && a->mode == MODE_RUN) {
        char *end;
        long k = strtol(val, &end, 10), n = *end == '/' ? strtol(end + 1, &end, 10) : 0;
        if (*end || k < 1 || n < 1 || k > n || n > 100000) {
            ml_cli_usage(cmd, "--shard K/N wants 1 <= K <= N, got '%s'", val);
            return -1;
        }
        a->shard_k = (int)k;
        a->shard_n = (int)n;
        a->mode = MODE_SHARD;
        return 1;
    }
    if (!strcmp(o, "--from") && a->mode == MODE_GATHER) {
        if (a->nfrom == (int)(sizeof(a->from) / sizeof(a->from[0]))) {
            ml_cli_usage(cmd, "at most 256 --from, got more at '%s'", val);
            return -1;
        }
        a->from[a->nfrom++] = val;
        return 1;
    }
    return 0;
}

static int parse_run_args(run_args *a, int mode, const char *cmd, int argc, char **argv) {
    const char *build_opt = NULL;
    memset(a, 0, sizeof(*a));
    a->mode = mode;
    a->cmd = cmd;
    a->jobs = 1;
    a->root = ml_store_root();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc, m;
        if (has && (m = parse_mode_arg(a, cmd, o, argv[i + 1])) != 0) {
            if (m < 0) return -1;
            i++;
        } else if (!strcmp(o, "-o") && has) a->outdir = argv[++i];
        else if (!strcmp(o, "--results") && has) a->root = argv[++i];
        else if (!strcmp(o, "--only") && has) a->only = argv[++i];
        else if (!strcmp(o, "--report") && has) a->report = argv[++i];
        else if (!strcmp(o, "--cache") && has) a->cache = argv[++i];
        else if (!strcmp(o, "--commits") && has && mode == MODE_RUN) a->commits = argv[++i];
        else if (!strcmp(o, "--no-cache") && mode == MODE_RUN) a->no_cache = 1;
        else if (!strcmp(o, "--mpi") && mode == MODE_RUN) a->mpi = 1;
        else if (!strcmp(o, "--force") && mode == MODE_RUN) a->force = 1;
        else if (!strcmp(o, "--ignore-memory")) a->ignore_memory = 1;
        else if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) a->quiet = 1;
        else if (!strcmp(o, "--verbose") || !strcmp(o, "-v")) a->verbose = 1;
        else if (!strcmp(o, "--jobs") && has) {
            if (ml_cli_int(cmd, "--jobs", argv[++i], 1, 256, &a->jobs) < 0) return -1;
        } else if (!strcmp(o, "--threads") && has) {
            if (ml_cli_int(cmd, "--threads", argv[++i], 1, 256, &a->threads) < 0) return -1;
        } else if ((!strcmp(o, "--build") || !strcmp(o, "--bin")) && has && mode == MODE_RUN) {
            i++;   /* used with --commits (cli_commits.c) */
            build_opt = o;
        } else if (o[0] == '-') { ml_cli_usage(cmd, "unknown option '%s'", o); return -1; }
        else if (!a->suite_path) a->suite_path = o;
        else if (mode == MODE_JOB && !a->job) a->job = o;
        else { ml_cli_usage(cmd, "unexpected argument '%s'", o); return -1; }
    }
    if (!a->suite_path) { ml_cli_usage(cmd, "%s", "missing SUITE"); return -1; }
    if (mode == MODE_JOB && !a->job) { ml_cli_usage(cmd, "%s", "missing HASH (see: mergelab plan SUITE)"); return -1; }
    if (build_opt && !a->commits) { ml_cli_usage(cmd, "%s is only for --commits A..B", build_opt); return -1; }
    if (a->quiet && a->verbose) { ml_cli_usage(cmd, "%s", "--quiet and --verbose exclude each other"); return -1; }
    if (a->commits && a->mode == MODE_SHARD) { ml_cli_usage(cmd, "%s", "--shard and --commits exclude each other"); return -1; }
    if (a->mpi && (a->mode != MODE_RUN || a->commits || a->no_cache || a->jobs > 1)) {
        ml_cli_usage(cmd, "%s", "--mpi is a run of its own: not with --shard, --commits, --no-cache or --jobs (the ranks are the workers)");
        return -1;
    }
    if (a->report && a->mode == MODE_SHARD) {
        ml_cli_usage(cmd, "%s", "a shard writes no report: give --report to mergelab gather");
        return -1;
    }
    return 0;
}

/* The cells --only selects (every cell without it) into sel; how many. */
static int select_cells(const ml_cellset *cs, const char *only, int *sel) {
    int n = 0;
    for (int i = 0; i < cs->n; i++)
        if (!only || fnmatch(only, cs->cells[i].name, 0) == 0) sel[n++] = i;
    return n;
}

/* What a run holds from its start to its end. */
typedef struct {
    run_args a;
    ml_cellset *cs;
    ml_graph g;
    cJSON *prov;
    char dir[PATH_MAX], cache[PATH_MAX], path[PATH_MAX], machine[128], cmdline[4096];
    int *sel, *done, nsel, lock;
    int job;                    /* run-job: the job, -1 when nothing is to run */
    time_t t_start;
    double w0, c0;
} run_ctx;

/* Steps before the graph: the cells, the provenance, the folders, the lock. */
static int run_open(run_ctx *r) {
    run_args *a = &r->a;
    char commit[128], cells_dir[PATH_MAX + 128];
    int error, shared = a->mode == MODE_SHARD || a->mode == MODE_JOB;
    if ((error = ml_cells_load(&r->cs, a->suite_path, a->threads)) < 0) return ml_cli_fail(error);
    /* --jobs cells at once must fit: refused now rather than killed or swapping later */
    if ((error = ml_cells_check_memory(r->cs, a->jobs < r->cs->n ? a->jobs : r->cs->n, a->ignore_memory,
                                       "--ignore-memory")) < 0)
        return ml_cli_fail(error);
    r->t_start = time(NULL);
    r->w0 = ml_jobs_wall();
    r->c0 = ml_jobs_cpu();
    if ((error = ml_provenance_collect(&r->prov, ".", ml_build_commit, ml_build_cc, ml_build_cflags)) < 0)
        return ml_cli_fail(error);
    ml_store_machine(r->machine, sizeof(r->machine));
    ml_store_commit_dir(commit, sizeof(commit), r->prov);
    if (a->outdir) snprintf(r->dir, sizeof(r->dir), "%s", a->outdir);
    else snprintf(r->dir, sizeof(r->dir), "%s/%s/%s", a->root, r->machine, commit);
    if (a->cache) snprintf(r->cache, sizeof(r->cache), "%s", a->cache);
    else if (a->outdir) snprintf(r->cache, sizeof(r->cache), "%s/cache", a->outdir);
    else snprintf(r->cache, sizeof(r->cache), "%s/cache", a->root);
    if (ml_cellfile_suite_path(r->path, sizeof(r->path), r->dir, r->cs) < 0)
        return ml_cli_usage(a->cmd, "output folder path too long: '%s'", r->dir);
    /* shards and Slurm tasks share the folder; a run or a gather has it alone */
    if ((error = shared ? ml_store_lock_shared(&r->lock, r->dir) : ml_store_lock(&r->lock, r->dir)) < 0)
        return ml_cli_fail(error);
    snprintf(cells_dir, sizeof(cells_dir), "%s/%s.cells", r->dir, r->cs->suite->name);
    ml_store_sweep_temps(r->dir, !shared);
    ml_store_sweep_temps(cells_dir, !shared);
    ml_store_sweep_temps(r->cache, 0);
    if (a->mode == MODE_GATHER &&
        (error = ml_cli_import_stores(r->cache, r->dir, r->cs, a->from, a->nfrom, a->quiet)) < 0)
        return ml_cli_fail(error);
    return EXIT_OK;
}

/* The graph of the selected cells and what of it is done; the mode decides
 * what is left to this process. */
static int run_shape(run_ctx *r, ml_jobs_ctx *x) {
    run_args *a = &r->a;
    int error;
    /* the jobs of the selected cells, then the suite's file and the report; with
     * several workers and the cache, and always for another engine, a cell with
     * finetune.points runs in parts */
    if ((error = ml_calloc((void **)&r->sel, (size_t)r->cs->n, sizeof(int))) < 0) return ml_cli_fail(error);
    if ((r->nsel = select_cells(r->cs, a->only, r->sel)) == 0)
        return ml_cli_usage(a->cmd, "--only '%s' matches no cell (see: mergelab list SUITE)", a->only);
    int ends = a->mode == MODE_SHARD ? 0 : ML_GRAPH_SUITE | (a->report || a->mode == MODE_JOB ? ML_GRAPH_REPORT : 0);
    int split = !a->no_cache && (a->jobs > 1 || a->mode != MODE_RUN || a->mpi);
    if ((error = ml_graph_build(&r->g, r->cs, r->sel, r->nsel, split, ends)) < 0 ||
        (error = ml_calloc((void **)&r->done, (size_t)(r->g.n ? r->g.n : 1), sizeof(int))) < 0)
        return ml_cli_fail(error);
    /* what is left: the rule `plan -o` shows */
    if (!a->force && (error = ml_jobs_done(x, r->done)) < 0) return ml_cli_fail(error);
    switch (a->mode) {
    case MODE_SHARD: return ml_cli_shard_mask(&r->g, a->shard_k, a->shard_n, r->done, a->quiet);
    case MODE_GATHER: return ml_cli_gather_check(x, r->done);
    case MODE_JOB: return ml_cli_job_mask(x, a->job, r->done, &r->job, a->quiet);
    default:   /* the suite's file and the report are written again whatever it says, with this run's provenance */
        for (int j = 0; j < r->g.n; j++)
            if (r->g.jobs[j].cell < 0) r->done[j] = 0;
        return EXIT_OK;
    }
}

/* The scheduler over what is left, with leases in the store when there is one. */
static int run_jobs(run_ctx *r, run_state *s, ml_jobs_ctx *x) {
    ml_sched_ops ops = { job_run, job_ended, job_running, NULL, NULL, NULL, job_fail, s };
    int error;
    if (x->cache) {   /* other runs, hosts and shards may share the store */
        if ((error = ml_jobs_claims_new(&s->claims, x)) < 0) return error;
        ops.claim = job_claim;
        ops.release = job_release;
        ops.tick = job_tick;
    }
    s->t0 = ml_jobs_wall();
    error = r->a.mpi ? ml_mpi_run(&r->g, r->done, &ops, r->prov, note_line) : ml_sched_run(&r->g, r->done, r->a.jobs, &ops);
    ml_jobs_claims_free(s->claims);
    s->claims = NULL;
    progress_clear(s);
    return error;
}

static void run_free(run_ctx *r) {
    ml_store_unlock(r->lock);
    free(r->sel);
    free(r->done);
    ml_graph_free(&r->g);
    cJSON_Delete(r->prov);
    ml_cells_free(r->cs);
}


/* An MPI rank other than 0: the same cells and graph as rank 0, in the run
 * folder and store rank 0 chose; it runs the jobs rank 0 hands it. Rank 0
 * prints what went wrong; a rank says only what is its own. */
static int run_rank(run_ctx *r) {
    char shared[2 * PATH_MAX];
    int error, loaded = ml_cells_load(&r->cs, r->a.suite_path, r->a.threads) == 0;
    shared[0] = '\0';
    if ((error = ml_mpi_share(shared, (int)sizeof(shared))) < 0) return ml_cli_fail(error);
    const char *cache = shared + strlen(shared) + 1;
    if (loaded && ml_calloc((void **)&r->sel, (size_t)r->cs->n, sizeof(int)) < 0) loaded = 0;
    if (!loaded || !shared[0] || select_cells(r->cs, r->a.only, r->sel) == 0) {
        ml_mpi_serve(NULL, NULL, 0, note_line);   /* rank 0 stops, or learns this rank cannot run */
        return EXIT_FAILED;
    }
    size_t nd = strlen(shared), nc = strlen(cache);
    if (nd >= sizeof(r->dir) || nc >= sizeof(r->cache)) {   /* rank 0 checked them: never, in practice */
        ml_mpi_serve(NULL, NULL, 0, note_line);
        return EXIT_FAILED;
    }
    memcpy(r->dir, shared, nd + 1);
    memcpy(r->cache, cache, nc + 1);
    run_state s = { .a = &r->a };
    ml_jobs_ctx x = { .cs = r->cs, .g = &r->g, .dir = r->dir, .cache = r->cache, .report = r->a.report,
                      .verbose = r->a.verbose, .adopt = 1, .log = log_line, .note = note_line, .ctx = &s };
    s.x = &x;
    r->nsel = select_cells(r->cs, r->a.only, r->sel);
    int ends = ML_GRAPH_SUITE | (r->a.report ? ML_GRAPH_REPORT : 0);
    if ((error = ml_graph_build(&r->g, r->cs, r->sel, r->nsel, 1, ends)) < 0) {
        ml_mpi_serve(NULL, NULL, 0, note_line);
        return ml_cli_fail(error);
    }
    ml_sched_ops ops = { job_run, NULL, NULL, NULL, NULL, NULL, job_fail, &s };
    error = ml_mpi_serve(&r->g, &ops, r->cs->threads, note_line);
    return error < 0 ? ml_cli_fail(error) : EXIT_OK;
}

/* Rank 0 tells the others the run folder and the store ("" when it cannot run). */
static int share_folders(run_ctx *r, int ok) {
    char shared[2 * PATH_MAX];
    memset(shared, 0, sizeof(shared));
    if (ok) {
        size_t n = strlen(r->dir);
        snprintf(shared, sizeof(shared), "%s", r->dir);
        if (n + 1 < sizeof(shared)) snprintf(shared + n + 1, sizeof(shared) - n - 1, "%s", r->cache);
    }
    return ml_mpi_share(shared, (int)sizeof(shared));
}

/* The largest process's peak RSS (this one, or the largest worker it
 * waited for) beside the live tensors the largest cell needs at once, as
 * suite/memory.c counts them: how much the allocator, the libraries and
 * the buffers outside the count add. */
static void print_memory(const ml_cellset *cs) {
    struct rusage self, kids;
    if (getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &kids) < 0) return;
    double peak = 1024.0 * (double)(self.ru_maxrss > kids.ru_maxrss ? self.ru_maxrss : kids.ru_maxrss);
    double tensors = (double)ml_cells_tensor_bytes(cs);
    fprintf(stderr, "mergelab: memory: peak RSS %.0f MB (the largest process), live tensors of one cell %.0f MB "
            "(suite/memory.c): %.2fx\n", peak / 1e6, tensors / 1e6, tensors > 0 ? peak / tensors : 0.0);
}

static int run_mode(int mode, const char *cmd, int argc, char **argv) {
    run_ctx r;
    int error, rc, rank = 0, size = 1, mpi_ran = 0;
    memset(&r, 0, sizeof(r));
    r.lock = -1;
    if (parse_run_args(&r.a, mode, cmd, argc, argv) < 0) return EXIT_USAGE;
    mode = r.a.mode;   /* run --shard is a shard */
    if (r.a.commits) return ml_cli_commits(argc, argv, r.a.commits);
    if (r.a.no_cache && mode != MODE_RUN) return ml_cli_usage(cmd, "%s", "--no-cache: this needs the store");
    if (r.a.mpi) {
        if ((error = ml_mpi_init(NULL, NULL, &rank, &size)) < 0) return ml_cli_fail(error);
        if (size < 2) {
            ml_mpi_finalize();
            return ml_cli_usage(cmd, "%s", "--mpi needs 2 or more ranks (rank 0 schedules): mpirun -np 3 mergelab run SUITE --mpi");
        }
        if (rank > 0) {
            rc = run_rank(&r);
            run_free(&r);
            ml_mpi_finalize();
            return rc;
        }
    }
    rc = run_open(&r);
    if (r.a.mpi && (error = share_folders(&r, rc == EXIT_OK)) < 0 && rc == EXIT_OK) rc = ml_cli_fail(error);
    if (rc != EXIT_OK) goto cleanup;
    ml_cli_join_args(r.cmdline, sizeof(r.cmdline), argc, argv);
    run_state s = { .a = &r.a, .tty = isatty(2) };
    ml_jobs_ctx x = { .cs = r.cs, .g = &r.g, .dir = r.dir, .cache = r.a.no_cache ? NULL : r.cache,
                      .report = r.a.report, .verbose = r.a.verbose, .adopt = 1,
                      .run = { r.prov, r.cmdline, r.machine, r.t_start, r.w0, r.c0, 0 }, .progress = on_progress,
                      .log = log_line, .note = note_line, .wrote = job_wrote, .ctx = &s };
    s.x = &x;
    if ((rc = run_shape(&r, &x)) != EXIT_OK) goto cleanup;
    s.selected = r.nsel;
    for (int j = 0; j < r.g.n; j++)
        if (r.g.jobs[j].kind == ML_JOB_CELL || r.g.jobs[j].kind == ML_JOB_RESULTS) {
            s.reused += r.done[j] > 0;   /* the job that ends a cell */
            s.total += r.done[j] == 0;
        }
    if (mode == MODE_SHARD) {   /* a shard's cells: those it has a job of to run */
        s.total = 0;
        for (int i = 0; i < r.cs->n; i++) {
            int todo = 0;
            for (int j = 0; j < r.g.n && !todo; j++)   /* a shared base is no one cell's */
                todo = r.g.jobs[j].cell == i && r.g.jobs[j].kind != ML_JOB_BASE && r.done[j] == 0;
            s.total += todo;
        }
    }
    x.run.reused = s.reused;
    if (!r.a.quiet && mode == MODE_RUN)
        fprintf(stderr, "mergelab: %s: %d cell%s, %d to run, %d already done; writing %s\n", r.cs->suite->name,
                r.nsel, r.nsel == 1 ? "" : "s", s.total, s.reused, r.dir);
    mpi_ran = r.a.mpi;   /* ml_mpi_run stops the ranks, whatever happens */
    if ((error = run_jobs(&r, &s, &x)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
    if (!r.a.quiet && mode == MODE_RUN && s.total > 0) print_memory(r.cs);
    if (mode == MODE_SHARD) {
        if (!r.a.quiet)
            fprintf(stderr, "mergelab: shard %d/%d ended (%d cell%s failed); when every shard has: mergelab gather %s -o "
                    "DIR [--from SHARD_DIR]...\n", r.a.shard_k, r.a.shard_n, s.failed, s.failed == 1 ? "" : "s",
                    r.a.suite_path);
        rc = s.failed ? EXIT_FAILED : EXIT_OK;
    } else if (mode == MODE_JOB) {
        /* a cell that failed is recorded, and the jobs after it go on (Slurm's
         * afterok); the suite's job says whether the whole suite holds */
        rc = r.job >= 0 && r.g.jobs[r.job].kind == ML_JOB_SUITE && !s.suite_ok ? EXIT_FAILED : EXIT_OK;
    } else if (mode == MODE_GATHER && !s.suite_ok) {   /* the shards' failures are recorded, not counted here */
        fprintf(stderr, "mergelab: the results are incomplete or hold a failed cell; the reasons are in %s\n", r.path);
        rc = EXIT_FAILED;
    } else if (s.failed) {
        fprintf(stderr, "mergelab: %d cell%s failed; their reasons are in %s (rerun to retry them)\n", s.failed,
                s.failed == 1 ? "" : "s", r.path);
        rc = EXIT_FAILED;
    }
cleanup:
    if (r.a.mpi && !mpi_ran) ml_mpi_stop();
    if (r.a.mpi) ml_mpi_finalize();
    run_free(&r);
    return rc;
}

int ml_cmd_run(int argc, char **argv) { return run_mode(MODE_RUN, "run", argc, argv); }
int ml_cmd_gather(int argc, char **argv) { return run_mode(MODE_GATHER, "gather", argc, argv); }
int ml_cmd_run_job(int argc, char **argv) { return run_mode(MODE_JOB, "run-job", argc, argv); }

int ml_cmd_list(int argc, char **argv) {
    const char *suite = NULL, *outdir = NULL;
    ml_cellset *cs = NULL;
    int error, threads = 0;
    char why[ML_ERROR_MSG_MAX];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) outdir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (ml_cli_int("list", "--threads", argv[++i], 1, 256, &threads) < 0) return EXIT_USAGE;
        } else if (argv[i][0] == '-') return ml_cli_usage("list", "unknown option '%s'", argv[i]);
        else if (!suite) suite = argv[i];
        else return ml_cli_usage("list", "unexpected argument '%s'", argv[i]);
    }
    if (!suite) return ml_cli_usage("list", "%s", "missing SUITE");
    if ((error = ml_cells_load(&cs, suite, threads)) < 0) return ml_cli_fail(error);
    printf("%s: %d cell%s (threads %d)\n", cs->suite->name, cs->n, cs->n == 1 ? "" : "s", cs->threads);
    for (int i = 0; i < cs->n; i++) {
        const char *state = "";
        if (outdir) {
            cJSON *done = NULL;
            int there = ml_cellfile_load_done(&done, cs, i, outdir, 0, why, sizeof(why));
            if (why[0]) fprintf(stderr, "mergelab: note: %s; running the cell again\n", why);
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(done, "status");
            state = !there ? "  pending" : !strcmp(st->valuestring, "ok") ? "  done" : "  failed";
            cJSON_Delete(done);
        }
        printf("%-48s %.12s  %d merge%s%s\n", cs->cells[i].name, cs->cells[i].id, cs->cells[i].suite->nmerges,
               cs->cells[i].suite->nmerges == 1 ? "" : "s", state);
    }
    ml_cells_free(cs);
    return EXIT_OK;
}

/* `mergelab plan`: the job graph (graph.h) for people or as JSON; with
 * -o DIR, which jobs' outputs are already there: what a rerun skips, by
 * the rule run uses (jobs.h's ml_jobs_done). The report job is always in
 * the graph; with --report DIR it is done when DIR/index.html is not older
 * than the suite's results file, without it its state is "not requested". */
int ml_cmd_plan(int argc, char **argv) {
    const char *suite = NULL, *outdir = NULL, *cache = NULL, *report = NULL;
    ml_cellset *cs = NULL;
    ml_graph g = { 0 };
    int error, threads = 0, json = 0, rc = EXIT_OK, *done = NULL;
    char def_cache[PATH_MAX];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) outdir = argv[++i];
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc) cache = argv[++i];
        else if (!strcmp(argv[i], "--report") && i + 1 < argc) report = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (ml_cli_int("plan", "--threads", argv[++i], 1, 256, &threads) < 0) return EXIT_USAGE;
        } else if (argv[i][0] == '-') return ml_cli_usage("plan", "unknown option '%s'", argv[i]);
        else if (!suite) suite = argv[i];
        else return ml_cli_usage("plan", "unexpected argument '%s'", argv[i]);
    }
    if (!suite) return ml_cli_usage("plan", "%s", "missing SUITE");
    if (report && !outdir) return ml_cli_usage("plan", "%s", "--report DIR is only with -o DIR");
    if ((error = ml_cells_load(&cs, suite, threads)) < 0) return ml_cli_fail(error);
    if ((error = ml_graph_build(&g, cs, NULL, 0, 1, ML_GRAPH_SUITE | ML_GRAPH_REPORT)) < 0) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    if (!cache) {
        snprintf(def_cache, sizeof(def_cache), "%s/cache", outdir ? outdir : "DIR");
        cache = def_cache;
    }
    /* without -o the outputs are named under DIR, the folder a run would write */
    ml_jobs_ctx x = { .cs = cs, .g = &g, .dir = outdir ? outdir : "DIR", .cache = cache, .report = report,
                      .note = note_line };
    if (outdir &&
        ((error = ml_calloc((void **)&done, (size_t)g.n, sizeof(int))) < 0 || (error = ml_jobs_done(&x, done)) < 0)) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    cJSON *doc = json ? ml_graph_json(&g, done) : NULL;
    for (int j = 0; doc && j < g.n; j++)
        cJSON_AddItemToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "jobs"), j), "outputs",
                              ml_jobs_outputs(&x, j));
    char *text = json ? (doc ? cJSON_Print(doc) : NULL) : ml_graph_text(&g, done);
    cJSON_Delete(doc);
    if (!text) { rc = ml_cli_fail(ml_error_set(ML_ENOMEM, "out of memory printing the plan")); goto cleanup; }
    fputs(text, stdout);
    if (json) putchar('\n');
    free(text);
cleanup:
    free(done);
    ml_graph_free(&g);
    ml_cells_free(cs);
    return rc;
}
