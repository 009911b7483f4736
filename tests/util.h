/*
 * tests/util.h: helpers shared by the test files (temp dirs, running the
 * CLI or a shell command, editing a suite's text; the numeric checker, seeded
 * random fills and central differences of the kernel tests). Not a test table.
 */
#ifndef ML_TESTS_UTIL_H
#define ML_TESTS_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

/* A fresh directory under /tmp (mkdtemp); path has room for 256 bytes. */
int ml_t_tmpdir(char *path, size_t size, const char *tag);
void ml_t_rmrf(const char *path);
/* Runs "$ML_BIN args" through sh, stdout+stderr into *out (malloc'd, the
 * caller frees). Returns the exit status, or -1 when it could not run. */
int ml_t_cli(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs the command fmt... through sh (popen) with " 2>&1" appended: stdout and
 * stderr into *out (malloc'd, the caller frees; "" when it printed nothing), or
 * discarded when out is NULL. Returns the exit status, or -1 when it could not run
 * or did not exit normally. */
/* Starts `mergelab ARGS` ($ML_BIN) in its own process group (kill(-pid)
 * ends it with its workers), stdout and stderr to log; its pid. */
pid_t ml_t_spawn(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Waits for pid: its exit code, or 128 + the signal that ended it. */
int ml_t_wait(pid_t pid);
/* `mergelab check results --baseline baseline` says bit-identical: 1; else
 * 0, and what it said goes to stderr. */
int ml_t_identical(const char *results, const char *baseline);
int ml_t_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces the first occurrence of `from` in src by `to`; NULL when absent. */
char *ml_t_replace(const char *src, const char *from, const char *to);
/* Writes text to dir/name; returns the path in a static buffer per call slot. */
int ml_t_write(char *path, size_t size, const char *dir, const char *name, const char *text);

/* suites/smoke.json shortened into dir/NAME.json (suite name NAME): steps
 * for pretraining and fine-tuning, CKA every steps/2, one point (0: none),
 * routers of router_steps, probe_size (0: kept), findings kept or dropped.
 * Every merge method stays, so the same code runs, each loop fewer times. */
int ml_t_short_smoke(char *path, size_t size, const char *dir, const char *name, int steps, int point, int router_steps,
                     int probe, int keep_findings);
/* A tiny GPT suite (one layer, generated text; named "tiny") with the
 * given matrix, as dir/tiny.json: without gradient clipping when
 * unclipped, with finetune.points [20, 40] of its 60 steps when points (a
 * cell of three parts). path gets its name. */
int ml_t_tiny_suite(char *path, size_t size, const char *dir, const char *matrix, int unclipped, int points);
/* Runs "$ML_BIN run SUITE -o <a temp dir> --quiet" once per suite in this
 * process and returns its results.json path, or NULL when the run failed
 * (its output goes to stderr). The temp dirs are removed at exit. */
const char *ml_t_run_once(const char *suite);
/* DIR/<suite's name>.json: where `run SUITE -o DIR` writes its results. */
void ml_t_results_path(char *buf, size_t size, const char *dir, const char *suite_file);
/* The first cell of a results document (schema 2), or doc itself (schema 1),
 * and that cell's metrics object. */
cJSON *ml_t_cell0(cJSON *doc);
cJSON *ml_t_metrics(cJSON *doc);
/* Runs SUITE again and compares its results with `first` apart from the
 * volatile keys (times, command). 1 identical, 0 different, -1 when the
 * rerun failed; with `metric`, -2 when a one-ulp change to that metric
 * would go unnoticed (the comparison must be able to fail). */
int ml_t_rerun_identical(const char *suite, const char *first, const char *metric);

/* ---- numeric helpers (kernel, model and merge tests) -------------------- */

/* THE checker: got (n), ref (n). 1 when |got[i] - ref[i]| <= atol +
 * rtol*|ref[i]| for every i (a NaN anywhere fails and ends the scan);
 * *maxdiff, when not NULL, gets the largest |got - ref| seen (NaN when a
 * NaN was seen). */
int ml_t_close_enough(const float *got, const float *ref, long n, double atol, double rtol, double *maxdiff);
/* max |a[i]| over a (n), in double; 0 for n <= 0 (NaNs are skipped, fmax) */
double ml_t_max_abs(const float *a, long n);

/* a (n) <- lo + (hi - lo) * ml_rng_uniform(seed, stream, i), uniform in
 * [lo, hi); each file passes its own seed, stream tells the buffers apart. */
void ml_t_fill_uniform(float *a, long n, uint64_t seed, uint64_t stream, float lo, float hi);
/* t (n) <- ml_rng_below(seed, stream, i, V): token ids uniform in [0, V) */
void ml_t_fill_tokens(int32_t *t, int n, int V, uint64_t seed, uint64_t stream);

/* A scalar loss of a float forward, summed in double; ctx carries the inputs. */
typedef double (*ml_t_loss_fn)(void *ctx);
/* d f / d p[i] by central differences; the step is the one really taken in
 * float, (float)(p[i]+eps) - (float)(p[i]-eps). p[i] is restored. */
float ml_t_central_diff(float *p, long i, double eps, ml_t_loss_fn f, void *ctx);
/* num (n) <- ml_t_central_diff(p, i, eps, f, ctx) for i in [0, n); p (n). */
void ml_t_central_diff_all(float *num, float *p, long n, double eps, ml_t_loss_fn f, void *ctx);

/* logits (n,V), targets (n) ids in [0,V) or ML_IGNORE -> the mean over the
 * non-ignored rows of log(sum_v exp(z_v)) - z_target, each row max-shifted
 * and summed in double from the float logits; 0 when every row is ignored. */
double ml_t_mean_ce(const float *logits, const int32_t *targets, long n, int V);

#endif
