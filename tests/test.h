/*
 * tests/test.h: mergelab's tiny test framework (redis testhelp.h style).
 * Owns: the test registry macros, assertions and the closing count line.
 * A test is a `static void test_<area>__<case>(void)`; a failed assertion
 * marks the current test failed and returns from it. Each test file
 * exports one `ml_tests_<area>[]` table, gathered by tests/main.c.
 */
#ifndef ML_TESTS_TEST_H
#define ML_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    void (*fn)(void);
    const char *tier;     /* "unit" (fast) or "e2e" (runs the CLI) */
} ml_test;

extern int ml_test_failed_now;   /* set by a failing assertion */

#define ML_FAIL_(...) do { \
        fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
        ml_test_failed_now = 1; return; } while (0)

#define ML_ASSERT(cond) do { if (!(cond)) ML_FAIL_("assertion failed: %s", #cond); } while (0)
#define ML_ASSERT_MSG(cond, ...) do { if (!(cond)) ML_FAIL_(__VA_ARGS__); } while (0)
#define ML_ASSERT_EQ_INT(want, got) do { long long w_ = (want), g_ = (got); \
        if (w_ != g_) ML_FAIL_("%s == %s: want %lld, got %lld", #want, #got, w_, g_); } while (0)
#define ML_ASSERT_STR_HAS(hay, needle) do { const char *h_ = (hay), *n_ = (needle); \
        if (!h_ || !strstr(h_, n_)) ML_FAIL_("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)"); } while (0)
/* |got - want| <= atol + rtol*|want| */
#define ML_ASSERT_NEAR(want, got, atol, rtol) do { double w_ = (want), g_ = (got); \
        if (!(fabs(g_ - w_) <= (atol) + (rtol) * fabs(w_))) \
            ML_FAIL_("%s ~ %s: want %.9g, got %.9g (atol %g rtol %g)", #want, #got, w_, g_, \
                     (double)(atol), (double)(rtol)); } while (0)

#endif
