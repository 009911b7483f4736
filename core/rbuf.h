/*
 * core/rbuf.h: a growable byte buffer for building HTML, CSV, SVG and PNG bytes in
 * memory before one atomic write.
 * Owns: appending, printf, HTML/CSV escaping, shortest round-trip number printing.
 * Not here: writing files (core/fs.h).
 * Errors: an allocation failure is sticky (b->oom); check it once with ml_rbuf_check()
 *         at the end instead of after every append.
 */
#ifndef ML_REPORTS_RBUF_H
#define ML_REPORTS_RBUF_H

#include <stddef.h>

typedef struct {
    char  *p;      /* NUL-terminated when len > 0 or after any append */
    size_t len, cap;
    int    oom;    /* 1 once an allocation failed; later appends are dropped */
} ml_rbuf;

void ml_rbuf_put(ml_rbuf *b, const void *data, size_t n);
void ml_rbuf_puts(ml_rbuf *b, const char *s);
void ml_rbuf_printf(ml_rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' escaped; NULL appends nothing. */
void ml_rbuf_html(ml_rbuf *b, const char *s);
/* s as one RFC 4180 field: quoted when it holds , " CR or LF. */
void ml_rbuf_csv(ml_rbuf *b, const char *s);
/* The shortest %g form that reads back as v; NaN appends `nan_text`. */
void ml_rbuf_num(ml_rbuf *b, double v, const char *nan_text);
/* 0, or ML_ENOMEM (with a message) when any append failed. */
int ml_rbuf_check(const ml_rbuf *b);
void ml_rbuf_free(ml_rbuf *b);

#endif
