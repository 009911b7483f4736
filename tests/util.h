/*
 * tests/util.h: helpers shared by the test files (temp dirs, running the
 * CLI, editing a suite's text). Not a test table.
 */
#ifndef ML_TESTS_UTIL_H
#define ML_TESTS_UTIL_H

#include <stddef.h>

/* A fresh directory under /tmp (mkdtemp); path has room for 256 bytes. */
int ml_t_tmpdir(char *path, size_t size, const char *tag);
void ml_t_rmrf(const char *path);
/* Runs "$ML_BIN args" through sh, stdout+stderr into *out (malloc'd, the
 * caller frees). Returns the exit status, or -1 when it could not run. */
int ml_t_cli(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces the first occurrence of `from` in src by `to`; NULL when absent. */
char *ml_t_replace(const char *src, const char *from, const char *to);
/* Writes text to dir/name; returns the path in a static buffer per call slot. */
int ml_t_write(char *path, size_t size, const char *dir, const char *name, const char *text);

/* Runs "$ML_BIN run SUITE -o <a temp dir> --quiet" once per suite in this
 * process and returns its results.json path, or NULL when the run failed
 * (its output goes to stderr). The temp dirs are removed at exit. */
const char *ml_t_run_once(const char *suite);
/* Runs SUITE again and compares its results with `first` apart from the
 * volatile keys (times, command). 1 identical, 0 different, -1 when the
 * rerun failed; with `metric`, -2 when a one-ulp change to that metric
 * would go unnoticed (the comparison must be able to fail). */
int ml_t_rerun_identical(const char *suite, const char *first, const char *metric);

#endif
