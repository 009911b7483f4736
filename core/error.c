/*
 * core/error.c: the per-thread last error and checked allocation.
 * Not here: anything that prints; callers decide what the user sees.
 */
#include "core/error.h"
#include "core/fault.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread ml_error ml__last;

int ml_error_set(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ml__last.message, sizeof(ml__last.message), fmt, ap);
    va_end(ap);
    ml__last.code = code;
    return code;
}

void ml_error_prefix(const char *fmt, ...) {
    char prefix[ML_ERROR_MSG_MAX], old[ML_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* built by hand: a message that no longer fits is cut, on purpose */
    memcpy(old, ml__last.message, sizeof(old));
    size_t np = strlen(prefix), no = strlen(old), cap = sizeof(ml__last.message) - 1, at = 0;
    if (np > cap) np = cap;
    memcpy(ml__last.message, prefix, np);
    at = np;
    if (at + 2 <= cap) { memcpy(ml__last.message + at, ": ", 2); at += 2; }
    if (no > cap - at) no = cap - at;
    memcpy(ml__last.message + at, old, no);
    ml__last.message[at + no] = '\0';
}

const ml_error *ml_error_last(void) { return &ml__last; }

void ml_error_clear(void) { ml__last.code = ML_OK; ml__last.message[0] = '\0'; }

const char *ml_error_name(int code) {
    switch (code) {
    case ML_OK:        return "ok";
    case ML_EINVALID:  return "invalid";
    case ML_ENOMEM:    return "nomem";
    case ML_EOS:       return "os";
    case ML_ENOTFOUND: return "notfound";
    case ML_EDATA:     return "data";
    case ML_ERUN:      return "run";
    default:           return "error";
    }
}

/* The site is the helper's caller, so a walk over sites visits each place
 * in the code that allocates. */
#define FAULT(out) (ml_fault_alloc(__builtin_return_address(0)) ? (*(out) = NULL, 1) : 0)

static int out_of_memory(size_t n, size_t size) {
    ml_alloc_failed();
    if (size) return ml_error_set(ML_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return ml_error_set(ML_ENOMEM, "out of memory allocating %zu bytes", n);
}

int ml_calloc(void **out, size_t n, size_t size) {
    if (FAULT(out) || !(*out = calloc(n ? n : 1, size ? size : 1))) return out_of_memory(n, size ? size : 1);
    return 0;
}

int ml_malloc(void **out, size_t size) {
    if (FAULT(out) || !(*out = malloc(size ? size : 1))) return out_of_memory(size, 0);
    return 0;
}

int ml_realloc(void **p, size_t size) {
    void *grown = NULL;
    if (ml_fault_alloc(__builtin_return_address(0)) || !(grown = realloc(*p, size ? size : 1)))
        return out_of_memory(size, 0);   /* *p stays valid: the caller frees it */
    *p = grown;
    return 0;
}

int ml_aligned_alloc(void **out, size_t size) {
    size_t rounded = (size + 63) / 64 * 64;
    if (FAULT(out) || !(*out = aligned_alloc(64, rounded ? rounded : 64))) return out_of_memory(size, 0);
    memset(*out, 0, rounded ? rounded : 64);
    return 0;
}
