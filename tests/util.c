/*
 * tests/util.c: shared test helpers (see util.h).
 */
#include "tests/util.h"
#include "core/fs.h"
#include "store/results.h"
#include "suite/suite.h"
#include "kernels/layers.h"
#include "kernels/rng.h"

#include <cjson/cJSON.h>
#include <math.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int ml_t_tmpdir(char *path, size_t size, const char *tag) {
    snprintf(path, size, "/tmp/mltest-%s-XXXXXX", tag);
    return mkdtemp(path) ? 0 : -1;
}

void ml_t_rmrf(const char *path) {
    char cmd[1024];
    if (strncmp(path, "/tmp/mltest-", 12) != 0) return;   /* never anything else */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "    warning: could not remove %s\n", path);
}

int ml_t_cli(char **out, const char *fmt, ...) {
    char args[4096], cmd[8192], log[] = "/tmp/mltest-cli-XXXXXX";
    const char *bin = getenv("ML_BIN");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (!bin) bin = "build/mergelab";
    int fd = mkstemp(log);
    if (fd < 0) return -1;
    close(fd);
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>&1 </dev/null", bin, args, log);
    int st = system(cmd);
    size_t len;
    *out = NULL;
    if (ml_fs_read_all(out, &len, log) < 0) *out = strdup("");
    unlink(log);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

pid_t ml_t_spawn(const char *log, const char *fmt, ...) {
    char args[4096], cmd[8192];
    const char *bin = getenv("ML_BIN");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "exec %s %s >'%s' 2>&1 </dev/null", bin ? bin : "build/mergelab", args, log);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) setpgid(pid, pid);
    return pid;
}

int ml_t_wait(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int ml_t_identical(const char *results, const char *baseline) {
    char *out = NULL;
    int rc = ml_t_cli(&out, "check %s --baseline %s", results, baseline);
    int same = rc == 0 && out && strstr(out, "bit-identical to the baseline");
    if (!same) fprintf(stderr, "    %s vs %s: %s", results, baseline, out ? out : "(no output)\n");
    free(out);
    return same;
}

int ml_t_sh(char **out, const char *fmt, ...) {
    char cmd[4096], chunk[4096], *buf = NULL;
    size_t len = 0, n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    if (out) *out = NULL;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        char *g = realloc(buf, len + n + 1);
        if (!g) break;
        buf = g;
        memcpy(buf + len, chunk, n);
        len += n;
        buf[len] = '\0';
    }
    int st = pclose(p);
    if (out) *out = buf ? buf : strdup("");
    else free(buf);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *ml_t_replace(const char *src, const char *from, const char *to) {
    const char *at = strstr(src, from);
    if (!at) return NULL;
    size_t a = (size_t)(at - src), lf = strlen(from), lt = strlen(to), ls = strlen(src);
    char *r = malloc(ls - lf + lt + 1);
    if (!r) return NULL;
    memcpy(r, src, a);
    memcpy(r + a, to, lt);
    memcpy(r + a + lt, at + lf, ls - a - lf + 1);
    return r;
}

int ml_t_write(char *path, size_t size, const char *dir, const char *name, const char *text) {
    snprintf(path, size, "%s/%s", dir, name);
    return ml_fs_write_atomic(path, text, strlen(text));
}

void ml_t_results_path(char *buf, size_t size, const char *dir, const char *suite_file) {
    ml_suite *s = NULL;
    snprintf(buf, size, "%s/%s.json", dir, ml_suite_load(&s, suite_file) == 0 ? s->name : "unknown-suite");
    ml_suite_free(s);
}

cJSON *ml_t_cell0(cJSON *doc) {
    cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    return cJSON_IsArray(cells) ? cJSON_GetArrayItem(cells, 0) : doc;
}

cJSON *ml_t_metrics(cJSON *doc) { return cJSON_GetObjectItemCaseSensitive(ml_t_cell0(doc), "metrics"); }

static struct { char suite[256], dir[256], path[512]; int rc; } runs[8];
static int nruns;

static void remove_runs(void) {
    for (int i = 0; i < nruns; i++) ml_t_rmrf(runs[i].dir);
}

int ml_t_short_smoke(char *path, size_t size, const char *dir, const char *name, int steps, int point, int router_steps,
                     int probe, int keep_findings) {
    char *text = NULL;
    if (ml_fs_read_all(&text, NULL, "suites/smoke.json") < 0) return -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc) return -1;
    cJSON *ft = cJSON_GetObjectItemCaseSensitive(doc, "finetune"), *cka = cJSON_GetObjectItemCaseSensitive(doc, "cka");
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "pretrain"), "steps"), steps);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(ft, "steps"), steps);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(cka, "every"), steps / 2);
    if (probe > 0) cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(cka, "probe_size"), probe);
    if (point > 0) cJSON_AddItemToObject(ft, "points", cJSON_CreateIntArray(&point, 1));
    for (cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "merges")->child; m; m = m->next) {
        cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "steps");
        if (st) cJSON_SetNumberValue(st, router_steps);
    }
    if (!keep_findings) cJSON_DeleteItemFromObjectCaseSensitive(doc, "findings");
    cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(doc, "name"), name);
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    char file[128];
    snprintf(file, sizeof(file), "%s.json", name);
    int rc = text ? ml_t_write(path, size, dir, file, text) : -1;
    free(text);
    return rc;
}

/* A GPT of one layer on generated text: a run takes a fraction of a second. */
static const char *const TINY =
    "{\n"
    "  \"name\": \"tiny\",\n"
    "  \"seed\": 1,\n"
    "  \"threads\": 1,\n"
    "  \"data\": { \"dataset\": \"text\", \"train_docs\": 300, \"eval_docs\": 60 },\n"
    "  \"model\": { \"type\": \"gpt\", \"n_layer\": 1, \"n_head\": 1, \"n_embd\": 16, \"context\": 16 },\n"
    "  \"optimizer\": { \"name\": \"adamw\", \"lr\": 0.01, \"schedule\": \"cosine\", \"grad_clip\": 1.0 },\n"
    "  \"batch_size\": 8,\n"
    "  \"pretrain\": { \"data\": \"base\", \"steps\": 150 },\n"
    "  \"finetune\": { \"steps\": 60, \"lr\": 0.005, \"train\": [\"mlp\"] },\n"
    "  \"specialists\": [ { \"name\": \"math\", \"data\": \"math\" }, { \"name\": \"code\", \"data\": \"code\" } ],\n"
    "  \"target\": { \"data\": \"target\" },\n"
    "  \"merges\": [ { \"name\": \"average\", \"method\": \"average\" }, { \"name\": \"ensemble\", \"method\": \"ensemble\" } ],\n"
    "  \"cka\": { \"every\": 10, \"probe_size\": 8 },\n"
    "  \"eval\": { \"windows\": 16, \"exact_match\": 0 },\n"
    "  \"gate\": [ { \"match\": \"*/loss\", \"direction\": \"lower\", \"atol\": 0.02, \"rtol\": 0.02 } ],\n"
    "  \"matrix\": MATRIX\n"
    "}\n";

int ml_t_tiny_suite(char *path, size_t size, const char *dir, const char *matrix, int unclipped, int points) {
    char *a = ml_t_replace(TINY, "MATRIX", matrix);
    char *b = a && unclipped ? ml_t_replace(a, "\"grad_clip\": 1.0", "\"grad_clip\": 0") : a;
    char *c = b && points ? ml_t_replace(b, "\"lr\": 0.005,", "\"lr\": 0.005, \"points\": [20, 40],") : b;
    int rc = c ? ml_t_write(path, size, dir, "tiny.json", c) : -1;
    if (c != b) free(c);
    if (b != a) free(b);
    free(a);
    return rc;
}


const char *ml_t_run_once(const char *suite) {
    for (int i = 0; i < nruns; i++)
        if (!strcmp(runs[i].suite, suite)) return runs[i].rc == 0 ? runs[i].path : NULL;
    if (nruns == 8) return NULL;
    char *out = NULL;
    int i = nruns++;
    if (i == 0) atexit(remove_runs);
    snprintf(runs[i].suite, sizeof(runs[i].suite), "%s", suite);
    if (ml_t_tmpdir(runs[i].dir, sizeof(runs[i].dir), "run") < 0) { runs[i].rc = -1; return NULL; }
    runs[i].rc = ml_t_cli(&out, "run %s -o %s --quiet", suite, runs[i].dir);
    if (runs[i].rc != 0) fprintf(stderr, "    %s failed (%d):\n%s\n", suite, runs[i].rc, out);
    free(out);
    char path[512];
    ml_t_results_path(path, sizeof(path), runs[i].dir, suite);
    memcpy(runs[i].path, path, sizeof(path));
    return runs[i].rc == 0 ? runs[i].path : NULL;
}

int ml_t_rerun_identical(const char *suite, const char *first, const char *metric) {
    char dir[256], path[512], *out = NULL, *ta = NULL, *tb = NULL;
    cJSON *a = NULL, *b = NULL;
    int result = -1;
    if (ml_t_tmpdir(dir, sizeof(dir), "rerun") < 0) return -1;
    int rc = ml_t_cli(&out, "run %s -o %s --quiet", suite, dir);
    free(out);
    ml_t_results_path(path, sizeof(path), dir, suite);
    if (rc != 0 || ml_results_load(&a, first) < 0 || ml_results_load(&b, path) < 0) goto cleanup;
    ml_results_strip_volatile(a);
    ml_results_strip_volatile(b);
    ta = cJSON_Print(a);
    tb = cJSON_Print(b);
    result = !strcmp(ta, tb);
    if (!result) {   /* say where, so a rare difference can be traced */
        const char *x = ta, *y = tb;
        int line = 1;
        while (*x && *x == *y) { line += *x == '\n'; x++; y++; }
        while (x > ta && x[-1] != '\n') { x--; y--; }
        fprintf(stderr, "    first difference at line %d of the stripped results:\n    first: %.160s\n    rerun: %.160s\n",
                line, x, y);
    }
    if (metric) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(ml_t_metrics(b), metric);
        if (!cJSON_IsNumber(m)) { result = -2; goto cleanup; }
        cJSON_SetNumberValue(m, nextafter(m->valuedouble, 1e9));
        char *tc = cJSON_Print(b);
        if (!strcmp(ta, tc)) result = -2;
        free(tc);
    }
cleanup:
    free(ta);
    free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    ml_t_rmrf(dir);
    return result;
}

/* ---- numeric helpers ---------------------------------------------------- */

int ml_t_close_enough(const float *got, const float *ref, long n, double atol, double rtol, double *maxdiff) {
    int ok = 1;
    double worst = 0.0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (isnan(d)) { ok = 0; worst = NAN; break; }
        if (!(d <= atol + rtol * fabs((double)ref[i]))) ok = 0;
        if (d > worst) worst = d;
    }
    if (maxdiff) *maxdiff = worst;
    return ok;
}

double ml_t_max_abs(const float *a, long n) {
    double m = 0.0;
    for (long i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

void ml_t_fill_uniform(float *a, long n, uint64_t seed, uint64_t stream, float lo, float hi) {
    for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * ml_rng_uniform(seed, stream, (uint64_t)i);
}

void ml_t_fill_tokens(int32_t *t, int n, int V, uint64_t seed, uint64_t stream) {
    for (int i = 0; i < n; i++) t[i] = (int32_t)ml_rng_below(seed, stream, (uint64_t)i, (uint64_t)V);
}

float ml_t_central_diff(float *p, long i, double eps, ml_t_loss_fn f, void *ctx) {
    float save = p[i], hi = (float)(save + eps), lo = (float)(save - eps);
    p[i] = hi;
    double fp = f(ctx);
    p[i] = lo;
    double fm = f(ctx);
    p[i] = save;
    return (float)((fp - fm) / ((double)hi - (double)lo));
}

void ml_t_central_diff_all(float *num, float *p, long n, double eps, ml_t_loss_fn f, void *ctx) {
    for (long i = 0; i < n; i++) num[i] = ml_t_central_diff(p, i, eps, f, ctx);
}

double ml_t_mean_ce(const float *logits, const int32_t *targets, long n, int V) {
    double s = 0.0;
    int counted = 0;
    for (long i = 0; i < n; i++) {
        if (targets[i] == ML_IGNORE) continue;
        const float *z = logits + i * V;
        double mx = z[0], e = 0.0;
        for (int v = 1; v < V; v++) mx = fmax(mx, z[v]);
        for (int v = 0; v < V; v++) e += exp((double)z[v] - mx);
        s += log(e) + mx - z[targets[i]];
        counted++;
    }
    return counted ? s / counted : 0.0;
}
