/*
 * sched/jobs.c: the bodies of the graph's jobs and what is already done
 * (jobs.h). A job reads what the jobs before it left (the model cache,
 * part records, cell files) and writes its own output atomically, so a job
 * killed at any moment leaves nothing half-written and simply runs again.
 * Every body is one call of the study protocol, or of the store, the
 * findings or the report below it; what a person sees goes to the
 * context's callbacks.
 */
#include "sched/jobs.h"
#include "sched/sched.h"
#include "analysis/findings.h"
#include "reports/report.h"
#include "store/cellfile.h"
#include "store/lease.h"
#include "store/provenance.h"
#include "store/results.h"
#include "store/store.h"
#include "study/runner.h"
#include "core/error.h"
#include "core/fs.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

double ml_jobs_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ml_jobs_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* bad input stops the run; any other failure is the cell's and is recorded */
static int is_bad_input(int error) { return error == ML_EINVALID || error == ML_ENOTFOUND || error == ML_EDATA; }

__attribute__((format(printf, 2, 3))) static void note(const ml_jobs_ctx *x, const char *fmt, ...) {
    char line[ML_ERROR_MSG_MAX + 128];
    va_list ap;
    if (!x->note) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    x->note(x->ctx, line);
}

/* runner.h's progress of job j, to the context's */
typedef struct {
    const ml_jobs_ctx *x;
    int j;
} step_ctx;

static void on_step(void *ctx, const char *phase, int step, int total, double loss) {
    const step_ctx *s = ctx;
    s->x->progress(s->x->ctx, s->j, phase, step, total, loss);
}

static ml_run_options options(const ml_jobs_ctx *x, const ml_cell *c, ml_run_stage stage, int point) {
    ml_run_options opt = { .threads = x->cs->threads, .verbose = x->verbose, .cache_dir = x->cache,
                           .key_base = c->key_base, .key_specialists = c->key_specialists,
                           .key_direct = c->key_direct, .stage = stage, .point = point, .log = x->log,
                           .log_ctx = x->ctx };
    return opt;
}

/* ---- a cell's jobs ------------------------------------------------------- */

/* One call of the protocol, with its start (when, wall and CPU clocks); on
 * bad input (which stops the run) nothing is left to free. */
static int run_timed(cJSON **run, char when[32], double *w0, double *c0, const ml_cell *c, const ml_run_options *opt) {
    *w0 = ml_jobs_wall();
    *c0 = ml_jobs_cpu();
    ml_time_iso8601(when, 32, time(NULL));
    int error = ml_run_suite(run, c->suite, opt);
    if (is_bad_input(error)) {
        cJSON_Delete(*run);
        *run = NULL;
    }
    return error;
}

/* cell: the whole cell in one call, and its file */
static int job_cell(const ml_jobs_ctx *x, int j) {
    int i = x->g->jobs[j].cell;
    const ml_cell *c = &x->cs->cells[i];
    step_ctx sc = { x, j };
    ml_run_options opt = options(x, c, ML_STAGE_ALL, 0);
    if (x->progress) {
        opt.progress = on_step;
        opt.progress_ctx = &sc;
    }
    cJSON *run = NULL;
    char when[32];
    double w0, c0;
    int error = run_timed(&run, when, &w0, &c0, c, &opt);
    if (is_bad_input(error)) return error;
    cJSON *cell = ml_cellfile_doc(x->cs, i, run, error, when, ml_jobs_wall() - w0, ml_jobs_cpu() - c0);
    int werr = ml_cellfile_share(x->cache, x->cs, i, cell);
    if (werr < 0) cJSON_Delete(cell);
    else werr = ml_cellfile_write(x->cs, i, x->dir, cell);
    return werr < 0 ? werr : error < 0;
}

/* base, train, point: one stage of the protocol; train and point leave
 * their result as a part record, base its cache entry */
static int job_stage(const ml_jobs_ctx *x, int j) {
    const ml_job *job = &x->g->jobs[j];
    const ml_cell *c = &x->cs->cells[job->cell];
    ml_run_stage stage = job->kind == ML_JOB_BASE ? ML_STAGE_BASE : job->kind == ML_JOB_TRAIN ? ML_STAGE_TRAIN
                                                                                           : ML_STAGE_POINT;
    ml_run_options opt = options(x, c, stage, job->point);
    cJSON *run = NULL;
    char when[32];
    double w0, c0;
    int error = run_timed(&run, when, &w0, &c0, c, &opt);
    if (is_bad_input(error)) return error;
    if (error < 0) {
        if (job->kind == ML_JOB_BASE) {   /* each cell that needs it tries again and records why it failed */
            note(x, "the base of %s failed: %s", c->name, ml_error_last()->message);
            return 0;
        }
        cJSON *cell = ml_cellfile_doc(x->cs, job->cell, NULL, error, when, ml_jobs_wall() - w0, ml_jobs_cpu() - c0);
        int werr = ml_cellfile_write(x->cs, job->cell, x->dir, cell);
        return werr < 0 ? werr : 1;
    }
    if (job->kind == ML_JOB_BASE) {   /* its result is the cache entry */
        cJSON_Delete(run);
        return 0;
    }
    return ml_cellfile_part_write(x->cache, job->hash, x->cs, job->cell, run, when, ml_jobs_wall() - w0,
                                  ml_jobs_cpu() - c0);
}

/* results: the cell's file from its training and point records, through
 * one more call of the protocol that evaluates nothing again */
static int job_results(const ml_jobs_ctx *x, int j) {
    const ml_job *job = &x->g->jobs[j];
    int i = job->cell;
    const ml_cell *c = &x->cs->cells[i];
    int npts = c->suite->npoints, error = 0, failed;
    cJSON *train = NULL, *pts[ML_MAX_POINTS] = { 0 }, *run = NULL;
    const cJSON *done[ML_MAX_POINTS] = { 0 };
    double w0 = ml_jobs_wall(), c0 = ml_jobs_cpu();
    /* inputs: the training, then each point in order (graph.c) */
    if (!ml_cellfile_part_load(&train, x->cache, x->g->jobs[job->inputs[0]].hash)) {
        error = ml_error_set(ML_ERUN, "cell %s: its training record is missing; run the suite again", c->name);
        goto cleanup;
    }
    for (int k = 0; k < npts; k++) {
        if (!ml_cellfile_part_load(&pts[k], x->cache, x->g->jobs[job->inputs[1 + k]].hash)) {
            error = ml_error_set(ML_ERUN, "cell %s: the record of point %d is missing; run the suite again", c->name, k + 1);
            goto cleanup;
        }
        done[k] = cJSON_GetObjectItemCaseSensitive(pts[k], "result");
    }
    ml_run_options opt = options(x, c, ML_STAGE_ALL, 0);
    opt.points_done = done;
    error = ml_run_suite(&run, c->suite, &opt);
    if (is_bad_input(error)) goto cleanup;
    failed = error < 0;
    cJSON *cell = ml_cellfile_from_parts(x->cs, i, train, (const cJSON *const *)pts, run, error, ml_jobs_wall() - w0,
                                         ml_jobs_cpu() - c0);
    run = NULL;
    if ((error = ml_cellfile_share(x->cache, x->cs, i, cell)) < 0 || (error = ml_cellfile_write(x->cs, i, x->dir, cell)) < 0)
        goto cleanup;
    error = failed;
cleanup:
    cJSON_Delete(train);
    for (int k = 0; k < npts; k++) cJSON_Delete(pts[k]);
    cJSON_Delete(run);
    return error;
}

/* ---- the suite's jobs ---------------------------------------------------- */

/* The run's provenance with what is known only now, at its end. */
static cJSON *final_provenance(const ml_jobs_run *r) {
    char when[32];
    cJSON *prov = r->prov ? cJSON_Duplicate(r->prov, 1) : cJSON_CreateObject();
    if (!prov) return NULL;
    cJSON_AddStringToObject(prov, "command", r->command ? r->command : "");
    ml_time_iso8601(when, sizeof(when), r->started);
    cJSON_AddStringToObject(prov, "started", when);
    ml_time_iso8601(when, sizeof(when), time(NULL));
    cJSON_AddStringToObject(prov, "finished", when);
    cJSON_AddNumberToObject(prov, "wall_seconds", ml_jobs_wall() - r->wall0);
    cJSON_AddNumberToObject(prov, "cpu_seconds", ml_jobs_cpu() - r->cpu0);
    cJSON_AddNumberToObject(prov, "cells_reused", r->reused);
    cJSON_AddStringToObject(prov, "machine", r->machine ? r->machine : "");
    return prov;
}

static void damaged_cell(void *ctx, const char *why) {
    note(ctx, "%s; the results list the cell as missing", why);
}

/* suite: DIR/<suite>.json from every cell file on disk, with its findings
 * (recomputed whenever the results are assembled, so a resumed run's
 * verdicts cover every cell). Local (graph.h): its provenance is this
 * process's, up to now. */
static int job_suite(const ml_jobs_ctx *x, int j) {
    char path[PATH_MAX];
    cJSON *prov = NULL, *doc = NULL, *findings = NULL;
    int error;
    if ((error = ml_cellfile_suite_path(path, sizeof(path), x->dir, x->cs)) < 0) return error;
    if (!(prov = final_provenance(&x->run))) return ml_error_set(ML_ENOMEM, "out of memory for the provenance");
    if ((error = ml_cellfile_suite(&doc, x->cs, prov, x->dir, damaged_cell, (void *)x)) < 0) goto cleanup;
    if (x->cs->suite->findings.n) {
        if ((error = ml_findings_eval(&findings, doc, &x->cs->suite->findings)) < 0) goto cleanup;
        cJSON_AddItemToObject(doc, "findings", findings);
    }
    if ((error = ml_results_write(path, doc)) < 0) goto cleanup;
    if (x->wrote) x->wrote(x->ctx, j, path, doc);
cleanup:
    cJSON_Delete(doc);
    return error;
}

/* report: the HTML report of the suite's file into x->report */
static int job_report(const ml_jobs_ctx *x, int j) {
    char path[PATH_MAX], index[PATH_MAX + 16];
    int error;
    if (!x->report) return ml_error_set(ML_EINVALID, "the report job has no folder to write to");
    if ((error = ml_cellfile_suite_path(path, sizeof(path), x->dir, x->cs)) < 0) return error;
    if ((error = ml_report_write(path, x->report)) < 0) return error;
    snprintf(index, sizeof(index), "%s/index.html", x->report);
    if (x->wrote) x->wrote(x->ctx, j, index, NULL);
    return 0;
}

int ml_jobs_fail(const ml_jobs_ctx *x, int j, const char *why) {
    const ml_job *job = &x->g->jobs[j];
    char when[32];
    if (job->cell < 0) return ml_error_set(ML_EINVALID, "job %d belongs to no cell", j);
    ml_time_iso8601(when, sizeof(when), time(NULL));
    int error = ml_error_set(ML_ERUN, "%s", why);
    return ml_cellfile_write(x->cs, job->cell, x->dir, ml_cellfile_doc(x->cs, job->cell, NULL, error, when, 0.0, 0.0));
}

int ml_job_exec(const ml_jobs_ctx *x, int j) {
    switch (x->g->jobs[j].kind) {
    case ML_JOB_CELL: return job_cell(x, j);
    case ML_JOB_BASE: case ML_JOB_TRAIN: case ML_JOB_POINT: return job_stage(x, j);
    case ML_JOB_RESULTS: return job_results(x, j);
    case ML_JOB_SUITE: return job_suite(x, j);
    case ML_JOB_REPORT: return job_report(x, j);
    }
    return ml_error_set(ML_EINVALID, "job %d has an unknown kind", j);
}

/* ---- what a job writes ----------------------------------------------------- */

static void add_path(cJSON *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_path(cJSON *arr, const char *fmt, ...) {
    char path[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(path)) cJSON_AddItemToArray(arr, cJSON_CreateString(path));
}

cJSON *ml_jobs_outputs(const ml_jobs_ctx *x, int j) {
    const ml_job *job = &x->g->jobs[j];
    const ml_cell *c = job->cell >= 0 ? &x->cs->cells[job->cell] : NULL;
    const char *cache = x->cache ? x->cache : "(no cache)";
    char path[PATH_MAX];
    cJSON *arr = cJSON_CreateArray();
    switch (job->kind) {
    case ML_JOB_CELL:   /* a whole cell also fills the cache, when there is one */
        if (x->cache) {
            add_path(arr, "%s/%.64s.bin", cache, c->key_base);
            add_path(arr, "%s/%.64s.bin", cache, c->key_specialists);
            add_path(arr, "%s/%.64s.bin", cache, c->key_direct);
        }
        /* fall through */
    case ML_JOB_RESULTS:
        ml_store_cell_file(path, sizeof(path), x->dir, x->cs->suite->name, c->name);
        add_path(arr, "%s", path);
        if (x->cache) {   /* and its copy in the store, when it ends ok */
            ml_cellfile_record_path(path, sizeof(path), cache, c->id);
            add_path(arr, "%s", path);
        }
        break;
    case ML_JOB_BASE:
        add_path(arr, "%s/%.64s.bin", cache, c->key_base);
        break;
    case ML_JOB_TRAIN:
        add_path(arr, "%s/%.64s.bin", cache, c->key_specialists);
        add_path(arr, "%s/%.64s.bin", cache, c->key_direct);
        /* fall through */
    case ML_JOB_POINT:
        ml_cellfile_record_path(path, sizeof(path), cache, job->hash);
        add_path(arr, "%s", path);
        break;
    case ML_JOB_SUITE:
        if (ml_cellfile_suite_path(path, sizeof(path), x->dir, x->cs) == 0) add_path(arr, "%s", path);
        break;
    case ML_JOB_REPORT:
        if (x->report) add_path(arr, "%s/index.html", x->report);
        break;
    }
    return arr;
}

/* ---- what is done -------------------------------------------------------- */

/* study/cache.h's entry dir/KEY.bin is there */
static int cache_has(const char *cache, const char *key) {
    char path[PATH_MAX];
    int len = cache ? snprintf(path, sizeof(path), "%s/%.64s.bin", cache, key) : -1;
    return len > 0 && (size_t)len < sizeof(path) && ml_fs_exists(path);
}

static int suite_complete(const ml_jobs_ctx *x) {
    char path[PATH_MAX];
    cJSON *doc = NULL;
    if (ml_cellfile_suite_path(path, sizeof(path), x->dir, x->cs) < 0 || !ml_fs_exists(path) ||
        ml_results_load(&doc, path) < 0)
        return 0;
    int complete = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete"));
    cJSON_Delete(doc);
    return complete;
}

/* REPORT/index.html is not older than the suite's file it was drawn from */
static int report_current(const ml_jobs_ctx *x) {
    char path[PATH_MAX], index[PATH_MAX + 16];
    struct stat rs, is;
    if (ml_cellfile_suite_path(path, sizeof(path), x->dir, x->cs) < 0 || stat(path, &rs) < 0) return 0;
    snprintf(index, sizeof(index), "%s/index.html", x->report);
    if (stat(index, &is) < 0) return 0;
    return is.st_mtim.tv_sec > rs.st_mtim.tv_sec ||
           (is.st_mtim.tv_sec == rs.st_mtim.tv_sec && is.st_mtim.tv_nsec >= rs.st_mtim.tv_nsec);
}

int ml_jobs_done(const ml_jobs_ctx *x, int *done) {
    const ml_graph *g = x->g;
    const ml_cellset *cs = x->cs;
    int *cell = NULL, *base_needed = NULL, error, cells_done = 1, suite = -1;
    char why[ML_ERROR_MSG_MAX];
    if ((error = ml_calloc((void **)&cell, (size_t)(cs->n ? cs->n : 1), sizeof(int))) < 0) return error;
    if ((error = ml_calloc((void **)&base_needed, (size_t)(g->n ? g->n : 1), sizeof(int))) < 0) goto cleanup;
    /* each cell's file once, so a damaged one is noted once (-1: not read yet) */
    for (int i = 0; i < cs->n; i++) cell[i] = -1;
    for (int j = 0; j < g->n; j++) {
        int i = g->jobs[j].cell;
        if (i < 0 || cell[i] >= 0) continue;
        cell[i] = ml_cellfile_load_done(NULL, cs, i, x->dir, 1, why, sizeof(why));
        if (!cell[i] && x->cache) {   /* finished by another run, host or shard sharing the store */
            int got = ml_cellfile_adopt(x->cache, cs, i, x->adopt ? x->dir : NULL);
            if (got < 0) {
                error = got;
                goto cleanup;
            }
            cell[i] = got;
        }
        /* a damaged file is said once: replaced by the store's sealed copy, or run again */
        if (why[0]) note(x, "%s; %s", why, cell[i] ? "the store's copy of the cell replaces it" : "running the cell again");
    }
    for (int j = 0; j < g->n; j++) {
        const ml_job *job = &g->jobs[j];
        switch (job->kind) {
        case ML_JOB_CELL: case ML_JOB_RESULTS:
            done[j] = cell[job->cell];
            cells_done &= done[j];
            break;
        case ML_JOB_TRAIN: case ML_JOB_POINT:
            done[j] = cell[job->cell] || ml_cellfile_part_load(NULL, x->cache, job->hash);
            if (job->kind == ML_JOB_TRAIN && !cell[job->cell]) base_needed[job->inputs[0]] = 1;
            break;
        case ML_JOB_BASE:
            done[j] = cache_has(x->cache, job->hash);
            break;
        case ML_JOB_SUITE:
            done[j] = cells_done && suite_complete(x);
            suite = j;
            break;
        case ML_JOB_REPORT:
            done[j] = !x->report ? -1 : suite >= 0 && done[suite] && report_current(x);
            break;
        }
    }
    /* a base that no cell still to run needs is not run either */
    for (int j = 0; j < g->n; j++)
        if (g->jobs[j].kind == ML_JOB_BASE && !base_needed[j]) done[j] = 1;
cleanup:
    free(cell);
    free(base_needed);
    return error;
}

int ml_jobs_done_one(const ml_jobs_ctx *x, int j) {
    const ml_job *job = &x->g->jobs[j];
    switch (job->kind) {
    case ML_JOB_CELL: case ML_JOB_RESULTS:
        if (ml_cellfile_load_done(NULL, x->cs, job->cell, x->dir, 1, NULL, 0)) return 1;
        return x->cache && ml_cellfile_adopt(x->cache, x->cs, job->cell, x->adopt ? x->dir : NULL) == 1;
    case ML_JOB_TRAIN: case ML_JOB_POINT:
        return ml_cellfile_part_load(NULL, x->cache, job->hash);
    case ML_JOB_BASE:
        return cache_has(x->cache, job->hash);
    case ML_JOB_SUITE: {   /* its file is there (complete or not: the report shows either) */
        char path[PATH_MAX];
        return ml_cellfile_suite_path(path, sizeof(path), x->dir, x->cs) == 0 && ml_fs_exists(path);
    }
    case ML_JOB_REPORT:
        return x->report && report_current(x);
    }
    return 0;
}

/* ---- claims ---------------------------------------------------------------- */

struct ml_jobs_claims {
    const ml_jobs_ctx *x;
    char dir[PATH_MAX];         /* CACHE/leases */
    double ttl;
    ml_lease *lease;            /* per job */
    char *noted;                /* per job: its holder was named once */
};

int ml_jobs_claims_new(ml_jobs_claims **out, const ml_jobs_ctx *x) {
    ml_jobs_claims *c = NULL;
    int error;
    *out = NULL;
    if (!x->cache) return ml_error_set(ML_EINVALID, "claims on jobs need the store (the model cache)");
    if ((error = ml_calloc((void **)&c, 1, sizeof(*c))) < 0) return error;
    size_t n = (size_t)(x->g->n ? x->g->n : 1);
    if ((error = ml_calloc((void **)&c->lease, n, sizeof(ml_lease))) < 0 ||
        (error = ml_calloc((void **)&c->noted, n, 1)) < 0) {
        ml_jobs_claims_free(c);
        return error;
    }
    int len = snprintf(c->dir, sizeof(c->dir), "%s/leases", x->cache);
    if (len < 0 || (size_t)len >= sizeof(c->dir)) {
        ml_jobs_claims_free(c);
        return ml_error_set(ML_EINVALID, "the store's path is too long: '%s'", x->cache);
    }
    c->x = x;
    c->ttl = ml_lease_ttl();
    *out = c;
    return 0;
}

void ml_jobs_claims_free(ml_jobs_claims *c) {
    if (!c) return;
    for (int j = 0; c->lease && c->x && j < c->x->g->n; j++) ml_lease_release(&c->lease[j]);
    free(c->lease);
    free(c->noted);
    free(c);
}

static void job_label(const ml_jobs_ctx *x, int j, char *buf, size_t size) {
    char what[32];
    const ml_job *job = &x->g->jobs[j];
    ml_job_name(job, what, sizeof(what));
    if (job->cell >= 0) snprintf(buf, size, "%s of %.200s", what, x->cs->cells[job->cell].name);
    else snprintf(buf, size, "%s", what);
}

int ml_jobs_claim(ml_jobs_claims *c, int j) {
    const ml_jobs_ctx *x = c->x;
    char holder[256], label[256];
    if (ml_jobs_done_one(x, j)) return ML_SCHED_DONE;
    int got = ml_lease_claim(&c->lease[j], c->dir, x->g->jobs[j].hash, c->ttl, holder, sizeof(holder));
    if (got < 0) return got;
    if (got == 0) {
        if (!c->noted[j]) {
            job_label(x, j, label, sizeof(label));
            note(x, "%s is being made by %s; waiting for it", label, holder[0] ? holder : "another process");
            c->noted[j] = 1;
        }
        return ML_SCHED_HELD;
    }
    /* made between the look and the claim: nothing to run */
    if (ml_jobs_done_one(x, j)) {
        ml_lease_release(&c->lease[j]);
        return ML_SCHED_DONE;
    }
    return ML_SCHED_RUN;
}

void ml_jobs_release(ml_jobs_claims *c, int j) {
    if (c) ml_lease_release(&c->lease[j]);
}

void ml_jobs_renew(ml_jobs_claims *c) {
    char label[256];
    if (!c) return;
    for (int j = 0; j < c->x->g->n; j++) {
        ml_lease *l = &c->lease[j];
        if (!l->held || l->lost) continue;
        if (ml_lease_renew(l, c->ttl) == 1) {
            job_label(c->x, j, label, sizeof(label));
            note(c->x, "the lease of %s lapsed and another process took it over; both finish it, with the same output",
                 label);
        }
    }
}
