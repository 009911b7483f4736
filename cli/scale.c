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
#include "core/rbuf.h"

#include <errno.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- mergelab slurm --------------------------------------------------------- */

typedef struct {
    const char *suite, *outdir, *cache, *report, *bin, *partition, *account;
    const char *extra[32];
    int nextra, threads;
    double gflops, factor;
} slurm_args;

static int parse_slurm_args(slurm_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    /* half the slowest rate measured on a 2-core EPYC (a paper.json point job:
     * 38 GFLOP/s per core; make bench-scale PAPER=1), then a margin of 3 */
    a->gflops = 20.0;
    a->factor = 3.0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        char *end;
        if (!strcmp(o, "-o") && has) a->outdir = argv[++i];
        else if (!strcmp(o, "--cache") && has) a->cache = argv[++i];
        else if (!strcmp(o, "--report") && has) a->report = argv[++i];
        else if (!strcmp(o, "--bin") && has) a->bin = argv[++i];
        else if (!strcmp(o, "--partition") && has) a->partition = argv[++i];
        else if (!strcmp(o, "--account") && has) a->account = argv[++i];
        else if (!strcmp(o, "--sbatch-arg") && has) {
            if (a->nextra == 32) return ml_cli_usage("slurm", "%s", "at most 32 --sbatch-arg");
            a->extra[a->nextra++] = argv[++i];
        } else if (!strcmp(o, "--threads") && has) {
            if (ml_cli_int("slurm", "--threads", argv[++i], 1, 256, &a->threads) < 0) return EXIT_USAGE;
        } else if ((!strcmp(o, "--gflops") || !strcmp(o, "--time-factor")) && has) {
            double v = strtod(argv[++i], &end);
            if (*end || !(v > 0) || v > 1e6) return ml_cli_usage("slurm", "a positive number, got '%s'", argv[i]);
            if (!strcmp(o, "--gflops")) a->gflops = v;
            else a->factor = v;
        } else if (o[0] == '-') return ml_cli_usage("slurm", "unknown option '%s'", o);
        else if (!a->suite) a->suite = o;
        else return ml_cli_usage("slurm", "unexpected argument '%s'", o);
    }
    if (!a->suite) return ml_cli_usage("slurm", "%s", "missing SUITE");
    if (!a->outdir) return ml_cli_usage("slurm", "%s", "missing -o DIR (a folder every node sees: the run's results and store)");
    return EXIT_OK;
}

/* The absolute form of path (which exists): scripts run on other nodes, from elsewhere. */
static int absolute(char *buf, const char *path, const char *what) {
    if (!realpath(path, buf)) {
        fprintf(stderr, "mergelab slurm: %s '%s': %s\n", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A time limit in minutes for a job of flops on cores: the estimate at
 * gflops per core, times the margin, plus start-up; at least 5 minutes. */
static long limit_minutes(const slurm_args *a, double flops, int cores) {
    double secs = flops / (a->gflops * 1e9 * (cores > 0 ? cores : 1)) * a->factor + 120.0;
    long m = (long)(secs / 60.0) + 1;
    return m < 5 ? 5 : m;
}

static int job_cores(const ml_graph *g, int j) {
    int t = g->cs->threads > 0 ? g->cs->threads : 1;
    return g->jobs[j].kind == ML_JOB_BASE && g->jobs[j].weight > t ? g->jobs[j].weight : t;
}

/* DIR/slurm/level-L.sbatch and its list of job hashes. */
static int write_level(const slurm_args *a, const ml_graph *g, const int *level, int L, const char *sdir,
                       const char *const paths[5], char *line, size_t line_size) {
    char list[PATH_MAX + 64], script[PATH_MAX + 64];
    int n = 0, cores = 1, error;
    double most = 0;
    ml_rbuf jobs = { 0 }, sh = { 0 };
    for (int j = 0; j < g->n; j++) {
        if (level[j] != L) continue;
        ml_rbuf_printf(&jobs, "%s\n", g->jobs[j].hash);
        if (job_cores(g, j) > cores) cores = job_cores(g, j);
        if (ml_job_flops(g, j) > most) most = ml_job_flops(g, j);
        n++;
    }
    long minutes = limit_minutes(a, most, cores);
    snprintf(list, sizeof(list), "%s/level-%d.jobs", sdir, L);
    snprintf(script, sizeof(script), "%s/level-%d.sbatch", sdir, L);
    ml_rbuf_printf(&sh, "#!/bin/bash\n# mergelab slurm: level %d of suite %s, %d job%s (one array task each)\n", L,
                   g->cs->suite->name, n, n == 1 ? "" : "s");
    ml_rbuf_printf(&sh, "#SBATCH --job-name=ml-%s-%d\n#SBATCH --array=0-%d\n#SBATCH --ntasks=1\n", g->cs->suite->name, L,
                   n - 1);
    ml_rbuf_printf(&sh, "#SBATCH --cpus-per-task=%d\n#SBATCH --time=%ld\n", cores, minutes);
    ml_rbuf_printf(&sh, "#SBATCH --output=%s/logs/level-%d-%%a.out\n#SBATCH --chdir=%s\n", sdir, L, paths[3]);
    if (a->partition) ml_rbuf_printf(&sh, "#SBATCH --partition=%s\n", a->partition);
    if (a->account) ml_rbuf_printf(&sh, "#SBATCH --account=%s\n", a->account);
    for (int k = 0; k < a->nextra; k++) ml_rbuf_printf(&sh, "#SBATCH %s\n", a->extra[k]);
    ml_rbuf_printf(&sh, "set -euo pipefail\nhash=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" '%s')\n", list);
    ml_rbuf_printf(&sh, "exec '%s' run-job '%s' \"$hash\" -o '%s' --cache '%s'", paths[0], paths[1], paths[2], paths[4]);
    if (a->threads) ml_rbuf_printf(&sh, " --threads %d", a->threads);
    if (a->report) ml_rbuf_printf(&sh, " --report '%s'", a->report);
    ml_rbuf_puts(&sh, "\n");
    if ((error = ml_rbuf_check(&jobs)) < 0 || (error = ml_rbuf_check(&sh)) < 0 ||
        (error = ml_fs_write_atomic(list, jobs.p, jobs.len)) < 0 || (error = ml_fs_write_atomic(script, sh.p, sh.len)) < 0)
        goto cleanup;
    snprintf(line, line_size, "level %d: %3d job%s, %d cpu%s, --time=%ld min", L, n, n == 1 ? " " : "s", cores,
             cores == 1 ? " " : "s", minutes);
cleanup:
    ml_rbuf_free(&jobs);
    ml_rbuf_free(&sh);
    return error;
}

/* DIR/slurm/submit.sh: each level's array after the one before it ended ok. */
static int write_submit(const char *sdir, int levels) {
    char path[PATH_MAX + 32];
    ml_rbuf b = { 0 };
    int error;
    ml_rbuf_puts(&b, "#!/bin/sh\n# mergelab slurm: submits every level's job array, each after the one before it\n"
                     "# ended ok (--dependency=afterok); prints the job ids. Run it again after a failure:\n"
                     "# jobs already done finish at once.\nset -eu\ncd \"$(dirname \"$0\")\"\nmkdir -p logs\nprev=\n");
    for (int L = 0; L < levels; L++)
        ml_rbuf_printf(&b, "id=$(sbatch --parsable ${prev:+--dependency=afterok:$prev} level-%d.sbatch)\n"
                           "prev=${id%%%%;*}\necho \"level %d: job $prev\"\n", L, L);
    ml_rbuf_puts(&b, "echo \"last: $prev (squeue -j $prev; when it ends, the results are in the run folder)\"\n");
    snprintf(path, sizeof(path), "%s/submit.sh", sdir);
    if ((error = ml_rbuf_check(&b)) == 0 && (error = ml_fs_write_atomic(path, b.p, b.len)) == 0 && chmod(path, 0755) < 0)
        error = ml_error_set(ML_EOS, "chmod %s: %s", path, strerror(errno));
    ml_rbuf_free(&b);
    return error;
}

int ml_cmd_slurm(int argc, char **argv) {
    slurm_args a;
    ml_cellset *cs = NULL;
    ml_graph g = { 0 };
    int *level = NULL, rc, error, levels;
    char bin[PATH_MAX], suite[PATH_MAX], dir[PATH_MAX], cwd[PATH_MAX], cache[PATH_MAX + 16], sdir[PATH_MAX + 16],
        line[256];
    if ((rc = parse_slurm_args(&a, argc, argv)) != EXIT_OK) return rc;
    if ((error = ml_fs_check_path(a.outdir, "-o")) < 0 || (a.cache && (error = ml_fs_check_path(a.cache, "--cache")) < 0) ||
        (a.report && (error = ml_fs_check_path(a.report, "--report")) < 0))
        return ml_cli_fail(error);
    if ((error = ml_cells_load(&cs, a.suite, a.threads)) < 0) return ml_cli_fail(error);
    rc = EXIT_USAGE;
    if (absolute(bin, a.bin ? a.bin : "/proc/self/exe", "--bin") < 0 || absolute(suite, a.suite, "SUITE") < 0 ||
        !getcwd(cwd, sizeof(cwd)))
        goto cleanup;
    if ((error = ml_fs_mkdir_p(a.outdir)) < 0 || (a.cache && (error = ml_fs_mkdir_p(a.cache)) < 0)) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    if (absolute(dir, a.outdir, "-o") < 0) goto cleanup;
    if (a.cache) {
        if (absolute(cache, a.cache, "--cache") < 0) goto cleanup;
    } else snprintf(cache, sizeof(cache), "%s/cache", dir);
    snprintf(sdir, sizeof(sdir), "%s/slurm", dir);
    char report[PATH_MAX + 16];
    if (a.report) {   /* the tasks run elsewhere: every path is absolute */
        if (a.report[0] == '/') snprintf(report, sizeof(report), "%s", a.report);
        else if ((size_t)snprintf(report, sizeof(report), "%s/%s", cwd, a.report) >= sizeof(report)) {
            rc = ml_cli_usage("slurm", "--report path too long: '%s'", a.report);
            goto cleanup;
        }
        a.report = report;
    }
    const char *quoted[] = { bin, suite, dir, cwd, cache, a.report };
    for (size_t k = 0; k < sizeof(quoted) / sizeof(quoted[0]); k++)
        if (quoted[k] && strchr(quoted[k], '\'')) {
            rc = ml_cli_usage("slurm", "a path with a quote (') cannot go into a script: '%s'", quoted[k]);
            goto cleanup;
        }
    if ((error = ml_graph_build(&g, cs, NULL, 0, 1, ML_GRAPH_SUITE | (a.report ? ML_GRAPH_REPORT : 0))) < 0 ||
        (error = ml_calloc((void **)&level, (size_t)g.n, sizeof(int))) < 0 || (error = ml_fs_mkdir_p(sdir)) < 0) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    char logs[PATH_MAX + 32];
    snprintf(logs, sizeof(logs), "%s/logs", sdir);
    if ((error = ml_fs_mkdir_p(logs)) < 0) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    levels = ml_graph_levels(&g, level);
    const char *const paths[5] = { bin, suite, dir, cwd, cache };
    printf("%s: %d jobs in %d levels, one job array each, chained with --dependency=afterok\n", cs->suite->name, g.n,
           levels);
    for (int L = 0; L < levels; L++) {
        if ((error = write_level(&a, &g, level, L, sdir, paths, line, sizeof(line))) < 0) {
            rc = ml_cli_fail(error);
            goto cleanup;
        }
        printf("  %s\n", line);
    }
    if ((error = write_submit(sdir, levels)) < 0) {
        rc = ml_cli_fail(error);
        goto cleanup;
    }
    printf("wrote %s/level-*.sbatch; submit them with: %s/submit.sh\n", sdir, sdir);
    rc = EXIT_OK;
cleanup:
    free(level);
    ml_graph_free(&g);
    ml_cells_free(cs);
    return rc;
}
