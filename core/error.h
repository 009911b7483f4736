/*
 * core/error.h: mergelab's error codes and the per-thread last error.
 * Owns: the ML_E* codes, ml_error_set/ml_error_last, the CHECK macros.
 * Not here: mapping codes to process exit codes (cli/main.c does that).
 * Library code returns 0 or a negative ML_E* and leaves a one-line reason
 * here; only main() prints it.
 */
#ifndef ML_CORE_ERROR_H
#define ML_CORE_ERROR_H

#include <stddef.h>

enum {
    ML_OK        =  0,
    ML_ERROR     = -1,  /* generic failure, reason in ml_error_last() */
    ML_EINVALID  = -2,  /* bad argument, bad suite, bad usage           */
    ML_ENOMEM    = -3,  /* allocation failed                            */
    ML_EOS       = -4,  /* an I/O or OS call failed (errno in message)  */
    ML_ENOTFOUND = -5,  /* a file, key or metric does not exist         */
    ML_EDATA     = -6,  /* a data or results file is malformed          */
    ML_ERUN      = -7,  /* a run failed: NaN/inf loss, divergence       */
};

#define ML_ERROR_MSG_MAX 1024

typedef struct {
    int  code;                       /* one of ML_E*, ML_OK when none */
    char message[ML_ERROR_MSG_MAX];  /* one line, no trailing newline */
} ml_error;

/* Sets the calling thread's last error and returns `code`, so that
 * `return ml_error_set(ML_EINVALID, "...")` reads naturally. */
int ml_error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with "prefix: " (adds context going up). */
void ml_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const ml_error *ml_error_last(void);
void ml_error_clear(void);
/* A short name for a code: "invalid", "nomem", ... */
const char *ml_error_name(int code);

#define ML_CHECK_ARG(cond, ...) do { \
        if (!(cond)) return ml_error_set(ML_EINVALID, __VA_ARGS__); } while (0)

/* Allocation helpers that set the last error; they return 0 or ML_ENOMEM. */
int ml_calloc(void **out, size_t n, size_t size);
int ml_malloc(void **out, size_t size);
/* Grows *p to size bytes; on failure *p is untouched (still the caller's). */
int ml_realloc(void **p, size_t size);
/* 64-byte aligned, for the flat parameter/gradient/state buffers. */
int ml_aligned_alloc(void **out, size_t size);

#endif
