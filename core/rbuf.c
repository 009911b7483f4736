/*
 * core/rbuf.c: the growable buffer behind every report, CSV, SVG and JUnit file.
 * Not here: file I/O; callers hand b->p to ml_fs_write_atomic.
 */
#include "core/rbuf.h"

#include "core/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(ml_rbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    void *p = b->p;
    if (ml_realloc(&p, cap) < 0) { b->oom = 1; return -1; }
    b->p = p;
    b->cap = cap;
    return 0;
}

void ml_rbuf_put(ml_rbuf *b, const void *data, size_t n) {
    if (reserve(b, n) < 0) return;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ml_rbuf_puts(ml_rbuf *b, const char *s) { if (s) ml_rbuf_put(b, s, strlen(s)); }

void ml_rbuf_printf(ml_rbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) < 0) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ml_rbuf_html(ml_rbuf *b, const char *s) {
    if (!s) return;
    for (const char *run = s;; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':  rep = "&amp;";  break;
        case '<':  rep = "&lt;";   break;
        case '>':  rep = "&gt;";   break;
        case '"':  rep = "&quot;"; break;
        case '\'': rep = "&#39;";  break;
        case '\0': ml_rbuf_put(b, run, (size_t)(s - run)); return;
        default:   continue;
        }
        ml_rbuf_put(b, run, (size_t)(s - run));
        ml_rbuf_puts(b, rep);
        run = s + 1;
    }
}

void ml_rbuf_csv(ml_rbuf *b, const char *s) {
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) { ml_rbuf_puts(b, s); return; }
    ml_rbuf_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"') ml_rbuf_put(b, "\"", 1);   /* "" is a literal quote inside quotes */
        ml_rbuf_put(b, s, 1);
    }
    ml_rbuf_put(b, "\"", 1);
}

void ml_rbuf_num(ml_rbuf *b, double v, const char *nan_text) {
    char tmp[40];
    if (isnan(v)) { ml_rbuf_puts(b, nan_text); return; }
    /* byte counts and step numbers: digits, never 2.642188e+07 */
    if (v == floor(v) && fabs(v) < 1e15) { ml_rbuf_printf(b, "%.0f", v == 0 ? 0.0 : v); return; }
    /* %.17g always round-trips but prints 0.8 as 0.80000000000000004; take the shortest
     * precision that reads back exactly, so CSVs show what the JSON said. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    ml_rbuf_puts(b, tmp);
}

int ml_rbuf_check(const ml_rbuf *b) {
    if (b->oom) return ml_error_set(ML_ENOMEM, "out of memory building a %zu-byte report buffer", b->len);
    return 0;
}

void ml_rbuf_free(ml_rbuf *b) {
    if (!b) return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
