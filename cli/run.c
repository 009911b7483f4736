/*
 * cli/run.c: `mergelab run` and `mergelab list`.
 * A run expands the suite into cells, takes the output folder's lock,
 * skips cells whose file already holds a finished result with the same
 * identity, runs the rest (in this process, or in --jobs worker processes,
 * a cell with finetune.points split into parts; sched/graph.h and
 * sched.h) writing
 * each cell's file atomically the moment it ends, then assembles
 * the suite's results file from every cell on disk. Killed at any moment,
 * the same command picks up where it stopped and ends with the same file.
 */
#include "cli/cli.h"
#include "suite/cells.h"
#include "analysis/findings.h"
#include "sched/graph.h"
#include "sched/sched.h"
#include "store/provenance.h"
#include "store/results.h"
#include "study/runner.h"
#include "store/store.h"
#include "core/version.h"
#include "core/error.h"
#include "core/fs.h"
#include "reports/report.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ml_cli_commits(int argc, char **argv, const char *range);   /* cli_commits.c */

typedef struct {
    const char *suite_path, *outdir, *root, *only, *report, *cache, *commits;
    int jobs, force, quiet, verbose, threads, no_cache;
} run_args;

/* The protocols' --verbose lines (runner.h's log): only the CLI prints. */
static void log_line(void *ctx, const char *line) {
    (void)ctx;
    fputs(line, stderr);
}

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_duration(char *buf, size_t size, double s) {
    if (!isfinite(s) || s < 0) snprintf(buf, size, "--");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* ---- progress ---------------------------------------------------------- */

typedef struct {
    int tty, quiet;
    int done, total;           /* cells finished in this run, cells to run */
    const char *cell;
    double t0, last;           /* run start, last status line */
    int shown;                 /* a status line is on screen */
} progress;

/* Rough share of a cell's time each phase ends at, for the ETA. */
static double phase_fraction(const char *phase, int step, int total) {
    static const struct { const char *name; double lo, hi; } ph[] = {
        { "pretrain", 0.0, 0.3 }, { "finetune", 0.3, 0.65 }, { "direct", 0.65, 0.8 }, { "merge", 0.8, 1.0 } };
    for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
        if (!strcmp(ph[i].name, phase)) return ph[i].lo + (ph[i].hi - ph[i].lo) * (total > 0 ? (double)step / total : 0.0);
    return 0.0;
}

static void progress_clear(progress *p) {
    if (p->shown) fputs("\r\033[K", stderr);
    p->shown = 0;
}

static void on_progress(void *ctx, const char *phase, int step, int total, double loss) {
    progress *p = ctx;
    double t = now_mono();
    if (!p->tty || p->quiet || (t - p->last < 0.1 && step != total)) return;
    p->last = t;
    double f = (p->done + phase_fraction(phase, step, total)) / (p->total > 0 ? p->total : 1);
    char eta[32], steps[48] = "", lossbuf[32] = "";
    fmt_duration(eta, sizeof(eta), f > 0.005 ? (t - p->t0) * (1.0 - f) / f : NAN);
    if (total > 0) snprintf(steps, sizeof(steps), " step %d/%d", step, total);
    if (isfinite(loss)) snprintf(lossbuf, sizeof(lossbuf), " loss %.4f", loss);
    fprintf(stderr, "\r\033[K[%d/%d] %s: %s%s%s  ETA %s", p->done, p->total, p->cell, phase, steps, lossbuf, eta);
    fflush(stderr);
    p->shown = 1;
}

/* ---- one cell ---------------------------------------------------------- */

static int is_bad_input(int error) { return error == ML_EINVALID || error == ML_ENOTFOUND || error == ML_EDATA; }

/* The file of cell i from its run's results (consumed), or its failure. */
static cJSON *cell_doc(const ml_cellset *cs, int i, cJSON *run, int error, const char *when, double wall, double cpu) {
    const ml_cell *c = &cs->cells[i];
    int failed = error < 0;
    cJSON *cell = cJSON_CreateObject();
    cJSON_AddNumberToObject(cell, "schema_version", ML_RESULTS_SCHEMA_VERSION);
    cJSON_AddStringToObject(cell, "suite", cs->suite->name);
    cJSON_AddStringToObject(cell, "name", c->name);
    cJSON_AddStringToObject(cell, "group", c->group);
    cJSON_AddStringToObject(cell, "id", c->id);
    cJSON_AddItemToObject(cell, "params", cJSON_Duplicate(c->params, 1));
    cJSON_AddStringToObject(cell, "status", failed ? "failed" : "ok");
    if (failed) {
        cJSON_AddStringToObject(cell, "error", ml_error_last()->message);
        cJSON_AddStringToObject(cell, "error_kind", ml_error_name(error));
    }
    cJSON_AddStringToObject(cell, "started", when);
    cJSON_AddNumberToObject(cell, "wall_seconds", wall);
    cJSON_AddNumberToObject(cell, "cpu_seconds", cpu);
    cJSON *b = cJSON_AddObjectToObject(cell, "build");
    cJSON_AddStringToObject(b, "commit", ml_build_commit);
    cJSON_AddStringToObject(b, "source_sha256", ml_build_source);
    if (run) {
        for (cJSON *it = run->child; it; it = run->child)
            cJSON_AddItemToObject(cell, it->string, cJSON_DetachItemViaPointer(run, it));
    }
    cJSON_Delete(run);
    return cell;
}

static int write_cell(const ml_cellset *cs, int i, const char *dir, cJSON *cell) {
    char path[PATH_MAX];
    ml_store_cell_file(path, sizeof(path), dir, cs->suite->name, cs->cells[i].name);
    int error = ml_results_write(path, cell);
    cJSON_Delete(cell);
    return error;
}

/* Runs cell i and writes its file. 0 ok, 1 the cell failed (recorded in
 * its file), or a negative error (bad input, or its file cannot be written). */
static int run_cell(const ml_cellset *cs, int i, const char *dir, const char *cache, const run_args *a, progress *p) {
    const ml_cell *c = &cs->cells[i];
    ml_run_options opt = { cs->threads, a->verbose, on_progress, p, cache, c->key_base, c->key_specialists,
                           c->key_direct, ML_STAGE_ALL, 0, NULL, log_line, NULL };
    cJSON *run = NULL;
    char when[32];
    p->cell = c->name;
    double w0 = now_mono(), c0 = now_cpu();
    ml_time_iso8601(when, sizeof(when), time(NULL));
    int error = ml_run_suite(&run, c->suite, &opt);
    if (is_bad_input(error)) {   /* bad input: stop */
        cJSON_Delete(run);
        return error;
    }
    int failed = error < 0, werr = write_cell(cs, i, dir, cell_doc(cs, i, run, error, when, now_mono() - w0, now_cpu() - c0));
    return werr < 0 ? werr : failed;
}

/* The finished cell i from its file, when it is there with the same identity. */
static cJSON *load_done(const ml_cellset *cs, int i, const char *dir, int want_ok) {
    char path[PATH_MAX];
    cJSON *cell = NULL;
    ml_store_cell_file(path, sizeof(path), dir, cs->suite->name, cs->cells[i].name);
    if (!ml_fs_exists(path)) return NULL;
    if (ml_results_load_cell(&cell, path) < 0) {
        fprintf(stderr, "mergelab: note: %s; running the cell again\n", ml_error_last()->message);
        return NULL;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(cell, "id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "status");
    if (strcmp(id->valuestring, cs->cells[i].id) || (want_ok && strcmp(st->valuestring, "ok"))) {
        cJSON_Delete(cell);
        return NULL;
    }
    return cell;
}

static void print_cell_line(const progress *p, const ml_cellset *cs, int i, const char *dir, int rc, double secs) {
    if (p->quiet) return;
    char path[PATH_MAX];
    const char *what = rc == 0 ? "ok    " : "FAILED";
    fprintf(stderr, "[%d/%d] %s %s (%.1f s)", p->done, p->total, what, cs->cells[i].name, secs);
    if (rc == 1) {
        cJSON *cell = NULL;
        ml_store_cell_file(path, sizeof(path), dir, cs->suite->name, cs->cells[i].name);
        if (ml_results_load_cell(&cell, path) == 0) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(cell, "error");
            if (cJSON_IsString(e)) fprintf(stderr, ": %s", e->valuestring);
        }
        cJSON_Delete(cell);
    }
    fputc('\n', stderr);
}

/* The status line of a run with workers: what runs, and an ETA from the fraction f done. */
static void show_running(progress *p, const char *names, double f) {
    char eta[32];
    fmt_duration(eta, sizeof(eta), f > 0 ? (now_mono() - p->t0) * (1 - f) / f : NAN);
    fprintf(stderr, "\r\033[K[%d/%d] running %s  ETA %s", p->done, p->total, names, eta);
    p->shown = 1;
}

/* ---- cells in parts ------------------------------------------------------ */

/* With --jobs > 1 and the model cache, a text cell with finetune.points runs
 * as parts: its base (once for every cell that shares it, pretrain.seed), its
 * training (specialists and direct fine-tune), the evaluation at each point,
 * and a last part that puts the cell's file together. Evaluation dominates a
 * cell, so splitting it by point keeps every worker busy until the end
 * instead of leaving the last cell to run alone. Every part reads what the
 * parts before it put in the cache, so the cell's results are bit-identical
 * to running it whole (test harness__parts). */
/* A part is a job of sched/graph.h (its kind, cell and point); the
 * scheduler keeps its state, the graph says what it needs. */

/* DIR/<suite>.cells/.parts/<cell>.<part>.json */
static void part_path(char *buf, size_t size, const char *dir, const ml_cellset *cs, const ml_job *pt) {
    char cell[PATH_MAX], what[32];
    ml_store_cell_file(cell, sizeof(cell), dir, cs->suite->name, cs->cells[pt->cell].name);
    char *slash = strrchr(cell, '/');
    *slash = '\0';
    int stem = (int)strlen(slash + 1) - 5;   /* without ".json" */
    int len = snprintf(buf, size, "%s/.parts/%.*s.%s.json", cell, stem, slash + 1, ml_job_name(pt, what, sizeof(what)));
    if (len < 0 || (size_t)len >= size) buf[0] = '\0';   /* never a cut path: the write fails instead */
}

/* A finished part's record when its file is there for this cell's identity. */
static cJSON *load_part(const char *dir, const ml_cellset *cs, const ml_job *pt) {
    char path[PATH_MAX], *text = NULL;
    size_t len;
    part_path(path, sizeof(path), dir, cs, pt);
    if (!ml_fs_exists(path) || ml_fs_read_all(&text, &len, path) < 0) return NULL;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    if (!cJSON_IsString(id) || strcmp(id->valuestring, cs->cells[pt->cell].id) ||
        !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "result"))) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static double num_or0(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

/* The last part: the cell's file from its training and point records. */
static int run_final(const ml_cellset *cs, const ml_job *pt, const char *dir, const char *cache, const run_args *a) {
    const ml_cell *c = &cs->cells[pt->cell];
    int npts = c->suite->npoints, error = 0;
    cJSON *train = NULL, *pts[ML_MAX_POINTS] = { 0 }, *run = NULL, *cell = NULL;
    const cJSON *done[ML_MAX_POINTS] = { 0 };
    ml_job q = { .kind = ML_JOB_TRAIN, .cell = pt->cell };
    char when[32], path[PATH_MAX];
    double w0 = now_mono(), c0 = now_cpu(), wall = 0.0, cpu = 0.0, eval = 0.0;
    if (!(train = load_part(dir, cs, &q))) {
        error = ml_error_set(ML_ERUN, "cell %s: its training record is missing; run the suite again", c->name);
        goto cleanup;
    }
    for (int k = 0; k < npts; k++) {
        q.kind = ML_JOB_POINT;
        q.point = k;
        if (!(pts[k] = load_part(dir, cs, &q))) {
            error = ml_error_set(ML_ERUN, "cell %s: the record of point %d is missing; run the suite again", c->name, k + 1);
            goto cleanup;
        }
        done[k] = cJSON_GetObjectItemCaseSensitive(pts[k], "result");
    }
    ml_run_options opt = { cs->threads, a->verbose, NULL, NULL, cache, c->key_base, c->key_specialists,
                           c->key_direct, ML_STAGE_ALL, 0, done, log_line, NULL };
    error = ml_run_suite(&run, c->suite, &opt);
    if (is_bad_input(error)) goto cleanup;
    /* the cell's time is its parts' time; what the last part read from the cache is not */
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(train, "started");
    snprintf(when, sizeof(when), "%s", cJSON_IsString(st) ? st->valuestring : "");
    wall = num_or0(train, "wall_seconds");
    cpu = num_or0(train, "cpu_seconds");
    double psec[ML_MAX_POINTS];
    for (int k = 0; k < npts; k++) {
        psec[k] = num_or0(pts[k], "wall_seconds");
        eval += psec[k];
        wall += psec[k];
        cpu += num_or0(pts[k], "cpu_seconds");
    }
    wall += now_mono() - w0;
    cpu += now_cpu() - c0;
    if (run) {
        cJSON *timing = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(train, "result"),
                                                                         "timing"), 1);
        if (timing) {
            cJSON_ReplaceItemInObjectCaseSensitive(timing, "eval_seconds", cJSON_CreateNumber(eval));
            cJSON *parts = cJSON_AddObjectToObject(timing, "parts");
            cJSON_AddNumberToObject(parts, "train_seconds", num_or0(train, "wall_seconds"));
            cJSON_AddItemToObject(parts, "point_seconds", cJSON_CreateDoubleArray(psec, npts));
            cJSON_AddNumberToObject(parts, "results_seconds", now_mono() - w0);
            cJSON_ReplaceItemInObjectCaseSensitive(run, "timing", timing);
        }
    }
    cell = cell_doc(cs, pt->cell, run, error, when, wall, cpu);
    run = NULL;
    int failed = error < 0;
    if ((error = write_cell(cs, pt->cell, dir, cell)) < 0) goto cleanup;
    cell = NULL;
    error = failed;
    /* the cell's file holds everything now */
    for (int k = -1; k < npts; k++) {
        q.kind = k < 0 ? ML_JOB_TRAIN : ML_JOB_POINT;
        q.point = k;
        part_path(path, sizeof(path), dir, cs, &q);
        remove(path);
    }
cleanup:
    cJSON_Delete(train);
    for (int k = 0; k < npts; k++) cJSON_Delete(pts[k]);
    cJSON_Delete(run);
    cJSON_Delete(cell);
    return error;
}

/* Runs one part in this process: 0 ok, 1 the cell failed (its file says
 * why), or a negative error. */
static int run_part(const ml_cellset *cs, const ml_job *pt, const char *dir, const char *cache, const run_args *a,
                    progress *p) {
    if (pt->kind == ML_JOB_CELL) return run_cell(cs, pt->cell, dir, cache, a, p);
    if (pt->kind == ML_JOB_RESULTS) return run_final(cs, pt, dir, cache, a);
    const ml_cell *c = &cs->cells[pt->cell];
    static const ml_run_stage stages[] = { ML_STAGE_ALL, ML_STAGE_BASE, ML_STAGE_TRAIN, ML_STAGE_POINT };
    ml_run_options opt = { cs->threads, a->verbose, NULL, NULL, cache, c->key_base, c->key_specialists,
                           c->key_direct, stages[pt->kind], pt->point, NULL, log_line, NULL };
    cJSON *run = NULL;
    char when[32], path[PATH_MAX];
    double w0 = now_mono(), c0 = now_cpu();
    ml_time_iso8601(when, sizeof(when), time(NULL));
    int error = ml_run_suite(&run, c->suite, &opt);
    if (is_bad_input(error)) {
        cJSON_Delete(run);
        return error;
    }
    if (error < 0) {
        if (pt->kind == ML_JOB_BASE) {   /* each cell that needs it tries again and records why it failed */
            fprintf(stderr, "mergelab: note: the base of %s failed: %s\n", c->name, ml_error_last()->message);
            return 0;
        }
        int werr = write_cell(cs, pt->cell, dir, cell_doc(cs, pt->cell, NULL, error, when, now_mono() - w0, now_cpu() - c0));
        return werr < 0 ? werr : 1;
    }
    if (pt->kind == ML_JOB_BASE) {   /* its result is the cache entry */
        cJSON_Delete(run);
        return 0;
    }
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "id", c->id);
    cJSON_AddStringToObject(rec, "started", when);
    cJSON_AddNumberToObject(rec, "wall_seconds", now_mono() - w0);
    cJSON_AddNumberToObject(rec, "cpu_seconds", now_cpu() - c0);
    cJSON_AddItemToObject(rec, "result", run);
    part_path(path, sizeof(path), dir, cs, pt);
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    *strrchr(parent, '/') = '\0';
    if ((error = ml_fs_mkdir_p(parent)) == 0) error = ml_results_write(path, rec);
    cJSON_Delete(rec);
    return error;
}

/* ---- running the graph ------------------------------------------------- */

typedef struct {
    const ml_cellset *cs;
    const ml_graph *g;
    const char *dir, *cache;
    const run_args *a;
    progress *p;
    int workers;
} run_ctx;

/* sched.h's run: one job, in this process or in a worker */
static int job_run(void *ctx, int j, int in_worker) {
    run_ctx *x = ctx;
    const ml_job *job = &x->g->jobs[j];
    progress quiet = *x->p;
    quiet.tty = 0;   /* a worker's steps do not draw the status line */
    int rc = run_part(x->cs, job, x->dir, x->cache, x->a, in_worker ? &quiet : x->p);
    if (rc < 0 && in_worker) fprintf(stderr, "mergelab: error: %s\n", ml_error_last()->message);
    return rc;
}

/* sched.h's ended: a cell's line when the cell ended, a part's when not on a TTY */
static void job_ended(void *ctx, int j, int rc, double secs) {
    run_ctx *x = ctx;
    const ml_job *job = &x->g->jobs[j];
    if (rc == 0 && job->kind != ML_JOB_CELL && job->kind != ML_JOB_RESULTS) {
        if (!x->p->quiet && !x->p->tty) {
            char what[32];
            fprintf(stderr, "mergelab: %s: %s done (%.1f s)\n", x->cs->cells[job->cell].name,
                    ml_job_name(job, what, sizeof(what)), secs);
        }
        return;
    }
    if (rc != 0 && rc != 1) return;   /* the worker printed why */
    x->p->done++;
    progress_clear(x->p);
    print_cell_line(x->p, x->cs, job->cell, x->dir, rc, secs);
}

/* sched.h's running: the status line of the workers (in this process the
 * protocol's own progress draws it) */
static void job_running(void *ctx, const int *jobs, int n, double done) {
    run_ctx *x = ctx;
    char names[200] = "", what[32];
    size_t used = 0;
    if (x->workers <= 1 || !x->p->tty || x->p->quiet) return;
    for (int r = 0; r < n && used < sizeof(names); r++) {
        const ml_job *job = &x->g->jobs[jobs[r]];
        if (job->kind == ML_JOB_CELL)
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", r ? ", " : "", x->cs->cells[job->cell].name);
        else
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s:%s", r ? ", " : "",
                                     x->cs->cells[job->cell].name, ml_job_name(job, what, sizeof(what)));
    }
    show_running(x->p, names, done);
}

/* Runs the pending cells as a job graph on --jobs workers. With several
 * workers and the model cache a cell with finetune.points runs in parts
 * (see above); otherwise each cell is one job. Returns the number of cells
 * that failed, or a negative error. */
static int run_graph(const ml_cellset *cs, const int *pending, int npending, const char *dir, const char *cache,
                     const run_args *a, progress *p) {
    ml_graph g;
    int *done = NULL, error;
    int split = a->jobs > 1 && cache != NULL;
    if ((error = ml_graph_build(&g, cs, pending, npending, split, 0)) < 0) return error;
    if ((error = ml_calloc((void **)&done, (size_t)(g.n ? g.n : 1), sizeof(int))) < 0) goto cleanup;
    /* a resumed run keeps the parts it finished */
    for (int j = 0; j < g.n && !a->force; j++) {
        if (g.jobs[j].kind != ML_JOB_TRAIN && g.jobs[j].kind != ML_JOB_POINT) continue;
        cJSON *rec = load_part(dir, cs, &g.jobs[j]);
        done[j] = rec != NULL;
        cJSON_Delete(rec);
    }
    run_ctx x = { cs, &g, dir, cache, a, p, a->jobs };
    ml_sched_ops ops = { job_run, job_ended, job_running, &x };
    error = ml_sched_run(&g, done, a->jobs, &ops);
cleanup:
    free(done);
    ml_graph_free(&g);
    return error;
}

/* ---- the suite's results file ------------------------------------------ */

static cJSON *assemble(const ml_cellset *cs, cJSON *prov, const char *dir, int *complete) {
    cJSON *doc = cJSON_CreateObject(), *cells, *missing, *seeds, *data = NULL;
    cJSON_AddNumberToObject(doc, "schema_version", ML_RESULTS_SCHEMA_VERSION);
    cJSON *suite = cJSON_AddObjectToObject(doc, "suite");
    cJSON_AddStringToObject(suite, "name", cs->suite->name);
    cJSON_AddStringToObject(suite, "file", cs->suite->file);
    cJSON_AddStringToObject(suite, "sha256", cs->suite->sha256);
    cJSON_AddStringToObject(suite, "description", cs->suite->description);
    cJSON_AddItemToObject(doc, "provenance", prov);
    cJSON *matrix = cJSON_AddObjectToObject(doc, "matrix");
    for (int a = 0; a < cs->suite->naxes; a++) {
        const ml_axis *ax = &cs->suite->axes[a];
        cJSON *vals = cJSON_AddArrayToObject(matrix, ax->path);
        for (int v = 0; v < ax->nvalues; v++)
            cJSON_AddItemToArray(vals, ax->kind == ML_AXIS_MERGE ? cJSON_CreateString(ax->names[v])
                                                                 : cJSON_CreateNumber(ax->values[v]));
    }
    ml_results_add_gate(doc, cs->suite);
    cJSON_AddNumberToObject(prov, "threads", cs->threads);
    cJSON *plat = cJSON_GetObjectItemCaseSensitive(prov, "platform");
    if (cJSON_IsObject(plat)) cJSON_AddNumberToObject(plat, "threads", cs->threads);   /* part of the platform */
    seeds = cJSON_AddArrayToObject(prov, "seeds");
    missing = cJSON_CreateArray();
    cells = cJSON_CreateArray();
    *complete = 1;
    for (int i = 0; i < cs->n; i++) {
        cJSON *cell = load_done(cs, i, dir, 0);
        if (!cell) {
            cJSON_AddItemToArray(missing, cJSON_CreateString(cs->cells[i].name));
            *complete = 0;
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(cell, "schema_version");
        cJSON_DeleteItemFromObjectCaseSensitive(cell, "suite");
        if (!data && cJSON_GetObjectItemCaseSensitive(cell, "data"))
            data = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cell, "data"), 1);
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(cell, "seed");
        int seen = 0;
        for (const cJSON *x = seeds->child; x && cJSON_IsNumber(sd); x = x->next) seen |= x->valuedouble == sd->valuedouble;
        if (cJSON_IsNumber(sd) && !seen) cJSON_AddItemToArray(seeds, cJSON_CreateNumber(sd->valuedouble));
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "status");
        if (strcmp(st->valuestring, "ok")) *complete = 0;
        cJSON_AddItemToArray(cells, cell);
    }
    cJSON_AddItemToObject(prov, "data", data ? data : cJSON_CreateArray());
    cJSON_AddBoolToObject(doc, "complete", *complete);
    cJSON_AddItemToObject(doc, "missing", missing);
    cJSON_AddItemToObject(doc, "cells", cells);
    /* the suite's findings, evaluated on the finished cells (recomputed whenever the
     * results are assembled, so a resumed run's verdicts cover every cell) */
    if (cs->suite->findings.n) {
        cJSON *f = NULL;
        if (ml_findings_eval(&f, doc, &cs->suite->findings) < 0) {
            cJSON_Delete(doc);
            return NULL;
        }
        cJSON_AddItemToObject(doc, "findings", f);
    }
    return doc;
}

/* ---- the command ------------------------------------------------------- */

static int parse_run_args(run_args *a, int argc, char **argv) {
    const char *build_opt = NULL;
    memset(a, 0, sizeof(*a));
    a->jobs = 1;
    a->root = ml_store_root();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(o, "-o") && has) a->outdir = argv[++i];
        else if (!strcmp(o, "--results") && has) a->root = argv[++i];
        else if (!strcmp(o, "--only") && has) a->only = argv[++i];
        else if (!strcmp(o, "--report") && has) a->report = argv[++i];
        else if (!strcmp(o, "--cache") && has) a->cache = argv[++i];
        else if (!strcmp(o, "--commits") && has) a->commits = argv[++i];
        else if (!strcmp(o, "--no-cache")) a->no_cache = 1;
        else if (!strcmp(o, "--force")) a->force = 1;
        else if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) a->quiet = 1;
        else if (!strcmp(o, "--verbose") || !strcmp(o, "-v")) a->verbose = 1;
        else if (!strcmp(o, "--jobs") && has) {
            if (ml_cli_int("run", "--jobs", argv[++i], 1, 256, &a->jobs) < 0) return -1;
        } else if (!strcmp(o, "--threads") && has) {
            if (ml_cli_int("run", "--threads", argv[++i], 1, 256, &a->threads) < 0) return -1;
        } else if ((!strcmp(o, "--build") || !strcmp(o, "--bin")) && has) {
            i++;   /* used with --commits (cli_commits.c) */
            build_opt = o;
        } else if (o[0] == '-') { ml_cli_usage("run", "unknown option '%s'", o); return -1; }
        else if (!a->suite_path) a->suite_path = o;
        else { ml_cli_usage("run", "unexpected argument '%s'", o); return -1; }
    }
    if (!a->suite_path) { ml_cli_usage("run", "%s", "missing SUITE"); return -1; }
    if (build_opt && !a->commits) { ml_cli_usage("run", "%s is only for --commits A..B", build_opt); return -1; }
    if (a->quiet && a->verbose) { ml_cli_usage("run", "%s", "--quiet and --verbose exclude each other"); return -1; }
    return 0;
}

int ml_cmd_run(int argc, char **argv) {
    run_args a;
    ml_cellset *cs = NULL;
    cJSON *prov = NULL, *doc = NULL;
    char dir[PATH_MAX], cache[PATH_MAX], path[PATH_MAX + 128], machine[128], commit[128], cmdline[4096], when[32];
    int *pending = NULL, npending = 0, reused = 0, selected = 0, lock = -1, error, rc = EXIT_OK, complete;
    if (parse_run_args(&a, argc, argv) < 0) return EXIT_USAGE;
    if (a.commits) return ml_cli_commits(argc, argv, a.commits);

    if ((error = ml_cells_load(&cs, a.suite_path, a.threads)) < 0) return ml_cli_fail(error);
    time_t t_start = time(NULL);
    double w0 = now_mono(), c0 = now_cpu();
    if ((error = ml_provenance_collect(&prov, ".", ml_build_commit, ml_build_cc, ml_build_cflags)) < 0) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    ml_store_machine(machine, sizeof(machine));
    ml_store_commit_dir(commit, sizeof(commit), prov);
    if (a.outdir) snprintf(dir, sizeof(dir), "%s", a.outdir);
    else snprintf(dir, sizeof(dir), "%s/%s/%s", a.root, machine, commit);
    if (a.cache) snprintf(cache, sizeof(cache), "%s", a.cache);
    else if (a.outdir) snprintf(cache, sizeof(cache), "%s/cache", a.outdir);
    else snprintf(cache, sizeof(cache), "%s/cache", a.root);
    if (snprintf(path, sizeof(path), "%s/%s.json", dir, cs->suite->name) >= (int)sizeof(path)) {
        rc = ml_cli_usage("run", "output folder path too long: '%s'", dir);
        goto cleanup;
    }
    if ((error = ml_store_lock(&lock, dir)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
    {
        char cells_dir[PATH_MAX + 128];
        snprintf(cells_dir, sizeof(cells_dir), "%s/%s.cells", dir, cs->suite->name);
        ml_store_sweep_temps(dir, 1);
        ml_store_sweep_temps(cells_dir, 1);
        ml_store_sweep_temps(cache, 0);
    }

    /* what is left to do */
    if ((error = ml_calloc((void **)&pending, (size_t)cs->n, sizeof(int))) < 0) { rc = ml_cli_fail(error); goto cleanup; }
    for (int i = 0; i < cs->n; i++) {
        if (a.only && fnmatch(a.only, cs->cells[i].name, 0) != 0) continue;
        selected++;
        cJSON *done = a.force ? NULL : load_done(cs, i, dir, 1);
        if (done) { reused++; cJSON_Delete(done); continue; }
        pending[npending++] = i;
    }
    if (a.only && selected == 0) {
        rc = ml_cli_usage("run", "--only '%s' matches no cell (see: mergelab list SUITE)", a.only);
        goto cleanup;
    }
    progress p = { isatty(2), a.quiet, 0, npending, "", now_mono(), 0.0, 0 };
    if (!a.quiet)
        fprintf(stderr, "mergelab: %s: %d cell%s, %d to run, %d already done; writing %s\n", cs->suite->name, selected,
                selected == 1 ? "" : "s", npending, reused, dir);
    int failed = run_graph(cs, pending, npending, dir, a.no_cache ? NULL : cache, &a, &p);
    progress_clear(&p);
    if (failed < 0) { rc = ml_cli_fail(failed); goto cleanup; }

    /* the suite's file, from every cell on disk */
    ml_cli_join_args(cmdline, sizeof(cmdline), argc, argv);
    cJSON_AddStringToObject(prov, "command", cmdline);
    ml_time_iso8601(when, sizeof(when), t_start);
    cJSON_AddStringToObject(prov, "started", when);
    ml_time_iso8601(when, sizeof(when), time(NULL));
    cJSON_AddStringToObject(prov, "finished", when);
    cJSON_AddNumberToObject(prov, "wall_seconds", now_mono() - w0);
    cJSON_AddNumberToObject(prov, "cpu_seconds", now_cpu() - c0);
    cJSON_AddNumberToObject(prov, "cells_reused", reused);
    cJSON_AddStringToObject(prov, "machine", machine);
    doc = assemble(cs, prov, dir, &complete);
    prov = NULL;
    if (!doc) { rc = ml_cli_fail(ml_error_last()->code); goto cleanup; }
    if ((error = ml_results_write(path, doc)) < 0) { rc = ml_cli_fail(error); goto cleanup; }

    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    if (!a.quiet && cJSON_GetArraySize(cells) == 1 && ml_results_first_ok(doc)) {
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(ml_results_first_ok(doc), "metrics");
        for (const cJSON *m = metrics->child; m; m = m->next)
            printf("%-28s %10.4f\n", m->string, cJSON_IsNumber(m) ? m->valuedouble : NAN);
    }
    printf("wrote %s (%d cell%s: %d ran, %d reused, %d failed%s; %.1f s)\n", path, selected, selected == 1 ? "" : "s",
           npending, reused, failed, complete ? "" : "; incomplete", now_mono() - w0);
    if (a.report) {
        if ((error = ml_report_write(path, a.report)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
        printf("wrote %s/index.html\n", a.report);
    }
    if (failed) {
        fprintf(stderr, "mergelab: %d cell%s failed; their reasons are in %s (rerun to retry them)\n", failed,
                failed == 1 ? "" : "s", path);
        rc = EXIT_FAILED;
    }
cleanup:
    ml_store_unlock(lock);
    free(pending);
    cJSON_Delete(doc);
    cJSON_Delete(prov);
    ml_cells_free(cs);
    return rc;
}

int ml_cmd_list(int argc, char **argv) {
    const char *suite = NULL, *outdir = NULL;
    ml_cellset *cs = NULL;
    int error, threads = 0;
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
            cJSON *done = load_done(cs, i, outdir, 0);
            const cJSON *st = done ? cJSON_GetObjectItemCaseSensitive(done, "status") : NULL;
            state = !done ? "  pending" : !strcmp(st->valuestring, "ok") ? "  done" : "  failed";
            cJSON_Delete(done);
        }
        printf("%-48s %.12s  %d merge%s%s\n", cs->cells[i].name, cs->cells[i].id, cs->cells[i].suite->nmerges,
               cs->cells[i].suite->nmerges == 1 ? "" : "s", state);
    }
    ml_cells_free(cs);
    return EXIT_OK;
}

/* `mergelab plan`: the job graph (graph.h) for people or as JSON; with
 * -o DIR, which jobs' outputs are already there (what a rerun skips). */
int ml_cmd_plan(int argc, char **argv) {
    const char *suite = NULL, *outdir = NULL, *cache = NULL;
    ml_cellset *cs = NULL;
    ml_graph g = { 0 };
    int error, threads = 0, json = 0, rc = EXIT_OK, *done = NULL;
    char def_cache[PATH_MAX];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) outdir = argv[++i];
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc) cache = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (ml_cli_int("plan", "--threads", argv[++i], 1, 256, &threads) < 0) return EXIT_USAGE;
        } else if (argv[i][0] == '-') return ml_cli_usage("plan", "unknown option '%s'", argv[i]);
        else if (!suite) suite = argv[i];
        else return ml_cli_usage("plan", "unexpected argument '%s'", argv[i]);
    }
    if (!suite) return ml_cli_usage("plan", "%s", "missing SUITE");
    if ((error = ml_cells_load(&cs, suite, threads)) < 0) return ml_cli_fail(error);
    if ((error = ml_graph_build(&g, cs, NULL, 0, 1, ML_GRAPH_SUITE | ML_GRAPH_REPORT)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
    if (outdir) {
        if (!cache) {
            snprintf(def_cache, sizeof(def_cache), "%s/cache", outdir);
            cache = def_cache;
        }
        if ((error = ml_calloc((void **)&done, (size_t)(g.n ? g.n : 1), sizeof(int))) < 0) {
            rc = ml_cli_fail(error);
            goto cleanup;
        }
        int all_cells = 1;
        for (int i = 0; i < g.n; i++) {
            const ml_job *j = &g.jobs[i];
            char path[PATH_MAX];
            cJSON *rec = NULL;
            int cell_done = 0;
            if (j->cell >= 0) {
                rec = load_done(cs, j->cell, outdir, 0);
                cell_done = rec != NULL;
                cJSON_Delete(rec);
            }
            switch (j->kind) {
            case ML_JOB_CELL: case ML_JOB_RESULTS:
                done[i] = cell_done;
                all_cells &= cell_done;
                break;
            case ML_JOB_BASE:
                int blen = snprintf(path, sizeof(path), "%s/%.64s.bin", cache, j->hash);
                done[i] = blen > 0 && (size_t)blen < sizeof(path) && ml_fs_exists(path);
                break;
            case ML_JOB_TRAIN: case ML_JOB_POINT: {
                rec = cell_done ? NULL : load_part(outdir, cs, j);
                done[i] = cell_done || rec;
                cJSON_Delete(rec);
                break;
            }
            case ML_JOB_SUITE: {
                cJSON *doc = NULL;
                int len = snprintf(path, sizeof(path), "%s/%s.json", outdir, cs->suite->name);
                done[i] = len > 0 && (size_t)len < sizeof(path) && all_cells && ml_fs_exists(path) && ml_results_load(&doc, path) == 0 &&
                          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete"));
                cJSON_Delete(doc);
                break;
            }
            case ML_JOB_REPORT:
                done[i] = -1;   /* written wherever --report points; not asked for here */
                break;
            }
        }
    }
    if (json) {
        cJSON *doc = ml_graph_json(&g, done);
        char *text = doc ? cJSON_Print(doc) : NULL;
        cJSON_Delete(doc);
        if (!text) { rc = ml_cli_fail(ml_error_set(ML_ENOMEM, "out of memory printing the plan")); goto cleanup; }
        printf("%s\n", text);
        free(text);
    } else {
        char *text = ml_graph_text(&g, done);
        if (!text) { rc = ml_cli_fail(ml_error_set(ML_ENOMEM, "out of memory printing the plan")); goto cleanup; }
        fputs(text, stdout);
        free(text);
    }
cleanup:
    free(done);
    ml_graph_free(&g);
    ml_cells_free(cs);
    return rc;
}
