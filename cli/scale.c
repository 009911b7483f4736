/*
 * cli/scale.c: shards, gather and single jobs (scale.h), the parts of
 * those commands that a plain run does not have. The runs themselves go
 * through cli/run.c and the one scheduler.
 */
#include "cli/scale.h"
#include "cli/cli.h"
#include "store/cellfile.h"
#include "store/store.h"
#include "core/error.h"
#include "core/fs.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Copies the files of src whose names end in ext into dst when dst lacks
 * them; how many, or a negative error. Names are checked: only plain
 * names, never a path. */
static int copy_missing(const char *dst, const char *src, const char *ext, int *copied) {
    DIR *d = opendir(src);
    struct dirent *e;
    char from[PATH_MAX], to[PATH_MAX];
    int error = 0;
    size_t el = strlen(ext);
    if (!d) return 0;
    while ((e = readdir(d)) && error == 0) {
        size_t n = strlen(e->d_name);
        if (n <= el || strcmp(e->d_name + n - el, ext) || e->d_name[0] == '.' || strstr(e->d_name, ".tmp.")) continue;
        int a = snprintf(from, sizeof(from), "%s/%s", src, e->d_name), b = snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
        if (a < 0 || (size_t)a >= sizeof(from) || b < 0 || (size_t)b >= sizeof(to) || ml_fs_exists(to)) continue;
        if ((error = ml_fs_mkdir_p(dst)) == 0 && (error = ml_fs_copy(to, from)) == 0) (*copied)++;
    }
    closedir(d);
    return error;
}

int ml_cli_import_stores(const char *store, const char *dir, const ml_cellset *cs, const char *const *from, int nfrom,
                         int quiet) {
    char src[PATH_MAX], sj[PATH_MAX + 8], dj[PATH_MAX + 8], cells_src[PATH_MAX + 128], cells_dst[PATH_MAX + 128];
    int error;
    for (int k = 0; k < nfrom; k++) {
        int records = 0, entries = 0, cells = 0;
        if ((error = ml_fs_check_path(from[k], "--from")) < 0) return error;
        if (!is_dir(from[k])) return ml_error_set(ML_ENOTFOUND, "--from %s: no such folder", from[k]);
        /* a shard's run folder: its store is its cache/, its cells beside it */
        snprintf(cells_src, sizeof(cells_src), "%s/%s.cells", from[k], cs->suite->name);
        if (is_dir(cells_src)) {
            snprintf(cells_dst, sizeof(cells_dst), "%s/%s.cells", dir, cs->suite->name);
            if ((error = copy_missing(cells_dst, cells_src, ".json", &cells)) < 0) return error;
        }
        snprintf(src, sizeof(src), "%s/cache", from[k]);
        if (!is_dir(src)) snprintf(src, sizeof(src), "%s", from[k]);
        snprintf(sj, sizeof(sj), "%s/jobs", src);
        snprintf(dj, sizeof(dj), "%s/jobs", store);
        if ((error = copy_missing(dj, sj, ".json", &records)) < 0 || (error = copy_missing(store, src, ".bin", &entries)) < 0)
            return error;
        if (!quiet)
            fprintf(stderr, "mergelab: from %s: %d job record%s, %d model%s, %d cell file%s\n", from[k], records,
                    records == 1 ? "" : "s", entries, entries == 1 ? "" : "s", cells, cells == 1 ? "" : "s");
    }
    return 0;
}

int ml_cli_shard_mask(const ml_graph *g, int k, int n, int *done, int quiet) {
    int *mine = NULL, own = 0, need = 0, left = 0;
    if (ml_calloc((void **)&mine, (size_t)(g->n ? g->n : 1), sizeof(int)) < 0) return ml_cli_fail(ML_ENOMEM);
    ml_graph_share(g, k - 1, n, mine);
    for (int j = 0; j < g->n; j++) {
        if (!mine[j]) done[j] = 1;
        own += mine[j] == 1;
        need += mine[j] == 2;
        left += mine[j] && done[j] <= 0;
    }
    free(mine);
    if (!quiet)
        fprintf(stderr, "mergelab: %s: shard %d/%d: %d job%s of its own, %d needed first; %d to run\n",
                g->cs->suite->name, k, n, own, own == 1 ? "" : "s", need, left);
    return EXIT_OK;
}

/* Cell i is recorded as failed in x->dir (for its identity). */
static int cell_failed(const ml_jobs_ctx *x, int i) {
    cJSON *cell = NULL;
    int failed = 0;
    if (ml_cellfile_load_done(&cell, x->cs, i, x->dir, 0, NULL, 0)) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "status");
        failed = cJSON_IsString(st) && strcmp(st->valuestring, "ok") != 0;
    }
    cJSON_Delete(cell);
    return failed;
}

static void mark_cell_done(const ml_graph *g, int cell, int *done) {
    for (int j = 0; j < g->n; j++)
        if (g->jobs[j].cell == cell) done[j] = 1;
}

int ml_cli_gather_check(const ml_jobs_ctx *x, int *done) {
    const ml_graph *g = x->g;
    int missing = 0;
    char what[32];
    for (int j = 0; j < g->n; j++) {
        const ml_job *job = &g->jobs[j];
        if (job->cell < 0 || job->kind == ML_JOB_RESULTS || done[j] > 0) continue;
        if (cell_failed(x, job->cell)) {   /* its failure is recorded: the suite's results list it */
            mark_cell_done(g, job->cell, done);
            continue;
        }
        if (missing++ < 8)
            fprintf(stderr, "mergelab: gather: %s of cell %s (job %.12s) has no output in %s\n",
                    ml_job_name(job, what, sizeof(what)), x->cs->cells[job->cell].name, job->hash, x->cache);
    }
    /* a cell's results load its trained models: they must be in the store too */
    for (int j = 0; j < g->n; j++) {
        const ml_job *job = &g->jobs[j];
        const ml_cell *c = job->cell >= 0 ? &x->cs->cells[job->cell] : NULL;
        if (!c || job->kind != ML_JOB_RESULTS || done[j] > 0) continue;
        const char *keys[3] = { c->key_base, c->key_specialists, c->key_direct };
        for (int k = 0; k < 3; k++) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%.64s.bin", x->cache, keys[k]);
            if (!ml_fs_exists(path) && missing++ < 8)
                fprintf(stderr, "mergelab: gather: the %s model of cell %s is not in %s\n",
                        k == 0 ? "base" : k == 1 ? "specialists'" : "direct", c->name, x->cache);
        }
    }
    if (!missing) return EXIT_OK;
    fprintf(stderr, "mergelab: gather: %d output%s missing: a shard has not finished, or its store was not given with "
            "--from; run the shards again (they resume) and gather again\n", missing, missing == 1 ? " is" : "s are");
    return EXIT_FAILED;
}

/* The job whose hash starts with prefix: its index, -1 none, -2 several. */
static int find_job(const ml_graph *g, const char *prefix) {
    size_t n = strlen(prefix);
    int found = -1;
    for (int j = 0; j < g->n; j++)
        if (!strncmp(g->jobs[j].hash, prefix, n)) {
            if (found >= 0) return -2;
            found = j;
        }
    return found;
}

int ml_cli_job_mask(const ml_jobs_ctx *x, const char *hash, int *done, int *jp, int quiet) {
    const ml_graph *g = x->g;
    char what[32], need[32];
    size_t n = strlen(hash);
    *jp = -1;
    if (n < 6 || n > 64 || strspn(hash, "0123456789abcdef") != n)
        return ml_cli_usage("run-job", "HASH must be 6 to 64 lower-case hex digits, got '%s'", hash);
    int j = find_job(g, hash);
    if (j == -1) return ml_cli_usage("run-job", "no job of this suite has a hash starting '%s' (see: mergelab plan SUITE)", hash);
    if (j == -2) return ml_cli_usage("run-job", "several jobs have hashes starting '%s': give more digits", hash);
    const ml_job *job = &g->jobs[j];
    if (job->kind == ML_JOB_REPORT && !x->report)
        return ml_cli_usage("run-job", "job %s is the report: give --report DIR", hash);
    int nothing = (!job->local && done[j] > 0) || (job->cell >= 0 && cell_failed(x, job->cell));
    for (int k = 0; k < g->n; k++) done[k] = 1;
    if (nothing) {
        if (!quiet)
            fprintf(stderr, "mergelab: run-job: %s of %s is %s; nothing to run\n", ml_job_name(job, what, sizeof(what)),
                    job->cell >= 0 ? x->cs->cells[job->cell].name : x->cs->suite->name,
                    cell_failed(x, job->cell) ? "in a cell that failed" : "done");
        return EXIT_OK;
    }
    /* the suite job lists cells without a file as missing; every other job needs its inputs */
    for (int k = 0; job->kind != ML_JOB_SUITE && k < job->ninputs; k++) {
        int in = job->inputs[k];
        if (ml_jobs_done_one(x, in)) continue;
        fprintf(stderr, "mergelab: run-job: %s of %s needs %s (job %.12s), which is not done: run it first\n",
                ml_job_name(job, what, sizeof(what)), job->cell >= 0 ? x->cs->cells[job->cell].name : x->cs->suite->name,
                ml_job_name(&g->jobs[in], need, sizeof(need)), g->jobs[in].hash);
        return EXIT_FAILED;
    }
    done[j] = 0;
    *jp = j;
    return EXIT_OK;
}
