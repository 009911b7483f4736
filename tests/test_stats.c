/*
 * tests/test_stats.c: core/stats.c (t CDF and quantile, sample summary,
 * Welch difference of means).
 * Owns: the ml_tests_stats table. Not here: where metrics come from.
 *
 * Reference values were computed independently of this code, with mpmath
 * 1.3.0 at 50 significant digits (t CDF as betainc(df/2, 1/2, 0, x)/2 with
 * x = df/(df+t^2), quantiles by mpmath.findroot on it; scipy is not on the
 * build machine), and agree with the printed t table of the NIST/SEMATECH
 * e-Handbook of Statistical Methods, section 1.3.6.7.2, to its 3 decimals
 * (12.706, 4.303, 3.182, 2.571, 2.228, 2.042, 1.984, 1.960; 63.657, 4.604,
 * 2.845; 3.078). Sample moments and Welch degrees of freedom are exact
 * fractions worked out by hand (and checked with Python's fractions).
 */
#include "tests/test.h"

#include "core/error.h"
#include "core/stats.h"

#include <math.h>

/* Relative tolerance for quantiles against the references: the module
 * solves to adjacent doubles, measured error is below 1e-14. */
#define Q_RTOL 1e-12

/* The predicate of ML_ASSERT_NEAR (tests/test.h), as a value, so the
 * negative tests can show a wrong answer would not pass the same check. */
static int near(double want, double got, double atol, double rtol) {
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* ---- t quantile --------------------------------------------------------- */

static void test_stats__t_quantile_975(void) {
    static const struct { double df, want; } cases[] = {
        { 1,    12.706204736174704647 },
        { 2,    4.3026527297494638523 },
        { 3,    3.1824463052837095927 },
        { 5,    2.5705818356363155147 },
        { 10,   2.2281388519862747484 },
        { 30,   2.0422724563012383100 },
        { 100,  1.9839715185235522866 },
        { 1e6,  1.9599663568141070353 },  /* the normal is 1.959963984540054 */
        { 7.3,  2.3450667365477036330 },  /* non-integer df, as Welch gives */
        { 0.5,  164.55767348048853312 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ML_ASSERT_NEAR(cases[i].want, ml_stats_t_quantile(0.975, cases[i].df), 0, Q_RTOL);
}

static void test_stats__t_quantile_other_p(void) {
    ML_ASSERT_NEAR(63.656741162871580995, ml_stats_t_quantile(0.995, 1), 0, Q_RTOL);
    ML_ASSERT_NEAR(4.6040948713499932254, ml_stats_t_quantile(0.995, 4), 0, Q_RTOL);
    ML_ASSERT_NEAR(2.8453397097861084687, ml_stats_t_quantile(0.995, 20), 0, Q_RTOL);
    ML_ASSERT_NEAR(3.0776835371752534026, ml_stats_t_quantile(0.9, 1), 0, Q_RTOL);
    ML_ASSERT_NEAR(1.4089223177480419966, ml_stats_t_quantile(0.9, 7.3), 0, Q_RTOL);
    ML_ASSERT_NEAR(1.2815524121299384804, ml_stats_t_quantile(0.9, 1e6), 0, Q_RTOL);
    ML_ASSERT_NEAR(0.27667066233268991054, ml_stats_t_quantile(0.6, 3), 0, Q_RTOL);
    /* Near the centre the answer is tiny and must keep its relative digits.
     * The references are for the doubles nearest 0.5000001 and 0.5 + 1e-11
     * (here q is proportional to p - 1/2, so the decimal would differ by
     * 5e-10 relative). */
    ML_ASSERT_NEAR(2.7206990449193156765e-7, ml_stats_t_quantile(0.5000001, 3), 0, Q_RTOL);
    ML_ASSERT_NEAR(-2.7206990449193156765e-7, ml_stats_t_quantile(1 - 0.5000001, 3), 0, Q_RTOL);
    ML_ASSERT_NEAR(2.7206992714629752479e-11, ml_stats_t_quantile(0.50000000001, 3), 0, Q_RTOL);
    /* far lower tail of a heavy-tailed t */
    ML_ASSERT_NEAR(-8765.4377713645717507, ml_stats_t_quantile(1e-10, 2.5), 0, Q_RTOL);
    ML_ASSERT(ml_stats_t_quantile(0.5, 3) == 0);
    ML_ASSERT(ml_stats_t_quantile(0.5, 1e6) == 0);
}

static void test_stats__t_quantile_symmetry(void) {
    static const double dfs[] = { 0.5, 1, 3, 7.3, 30, 1e6 };
    /* 1 - p is exact for these p, so the symmetry is exact too */
    static const double exact_p[] = { 0.25, 0.125, 0.0625, 0.375, 0.4375, 1.0 / 1024 };
    /* 1 - p rounds by up to 2^-54, about 1e-14 of p here; the quantile
     * moves by at most that over df (tail ~ t^-df), well inside 1e-12.
     * (For p = 1e-6 the rounding alone would be 1e-10 at df = 1/2.) */
    static const double p[] = { 0.025, 0.005, 0.1, 0.3, 0.45 };
    for (size_t i = 0; i < sizeof(dfs) / sizeof(dfs[0]); i++) {
        for (size_t j = 0; j < sizeof(exact_p) / sizeof(exact_p[0]); j++) {
            double lo = ml_stats_t_quantile(exact_p[j], dfs[i]);
            double hi = ml_stats_t_quantile(1 - exact_p[j], dfs[i]);
            ML_ASSERT_MSG(lo < 0 && hi == -lo, "df %g p %g: %.17g vs %.17g",
                          dfs[i], exact_p[j], lo, hi);
        }
        for (size_t j = 0; j < sizeof(p) / sizeof(p[0]); j++)
            ML_ASSERT_NEAR(-ml_stats_t_quantile(p[j], dfs[i]),
                           ml_stats_t_quantile(1 - p[j], dfs[i]), 0, 1e-12);
    }
}

static void test_stats__t_domain(void) {
    ML_ASSERT(isnan(ml_stats_t_quantile(0.975, 0)));
    ML_ASSERT(isnan(ml_stats_t_quantile(0.975, -1)));
    ML_ASSERT(isnan(ml_stats_t_quantile(0.975, NAN)));
    ML_ASSERT(isnan(ml_stats_t_quantile(-0.1, 3)));
    ML_ASSERT(isnan(ml_stats_t_quantile(1.1, 3)));
    ML_ASSERT(isnan(ml_stats_t_quantile(NAN, 3)));
    ML_ASSERT(ml_stats_t_quantile(0, 3) == -INFINITY);
    ML_ASSERT(ml_stats_t_quantile(1, 3) == INFINITY);
    ML_ASSERT(isnan(ml_stats_t_cdf(1, 0)));
    ML_ASSERT(isnan(ml_stats_t_cdf(NAN, 3)));
    ML_ASSERT(ml_stats_t_cdf(INFINITY, 3) == 1);
    ML_ASSERT(ml_stats_t_cdf(-INFINITY, 3) == 0);
    /* df = inf is the normal */
    ML_ASSERT_NEAR(1.9599639845400542355, ml_stats_t_quantile(0.975, INFINITY), 0, Q_RTOL);
    ML_ASSERT_NEAR(0.975, ml_stats_t_cdf(1.9599639845400542355, INFINITY), 1e-15, 0);
}

/* ---- t CDF -------------------------------------------------------------- */

static void test_stats__t_cdf_values(void) {
    /* closed forms: df = 1 is Cauchy, 1/2 + atan(t)/pi; df = 2 is
     * 1/2 + t / (2 sqrt(2 + t^2)) */
    static const double ts[] = { -30, -2, -0.5, 0, 0.1, 1, 3.7, 100 };
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        double t = ts[i];
        ML_ASSERT_NEAR(0.5 + atan(t) / M_PI, ml_stats_t_cdf(t, 1), 1e-15, 1e-14);
        ML_ASSERT_NEAR(0.5 + t / (2 * sqrt(2 + t * t)), ml_stats_t_cdf(t, 2), 1e-15, 1e-14);
    }
    ML_ASSERT(ml_stats_t_cdf(0, 7.3) == 0.5);
    ML_ASSERT_NEAR(0.98017488266719976458, ml_stats_t_cdf(2.5, 7.3), 0, 1e-14);
    ML_ASSERT_NEAR(0.019506487920659123307, ml_stats_t_cdf(-4, 2.5), 0, 1e-13);
    ML_ASSERT_NEAR(0.97500196620736510673, ml_stats_t_cdf(1.96, 1e6), 0, 1e-14);
}

static void test_stats__t_cdf_quantile_round_trip(void) {
    static const double dfs[] = { 0.5, 0.9, 1, 2, 3, 4.5, 7.3, 10, 29.5, 100, 1e3, 1e4, 1e6 };
    static const double ps[] = { 1e-8, 0.001, 0.025, 0.1, 0.3, 0.49, 0.5, 0.51,
                                 0.7, 0.9, 0.975, 0.995, 0.999 };
    for (size_t i = 0; i < sizeof(dfs) / sizeof(dfs[0]); i++) {
        for (size_t j = 0; j < sizeof(ps) / sizeof(ps[0]); j++) {
            double q = ml_stats_t_quantile(ps[j], dfs[i]);
            double back = ml_stats_t_cdf(q, dfs[i]);
            ML_ASSERT_MSG(near(ps[j], back, 1e-15, 1e-12), "df %g p %g: q %.17g cdf %.17g",
                          dfs[i], ps[j], q, back);
        }
        /* and the other way, t -> p -> t, for t where p carries the digits:
         * cdf(6) is 1 - 1e-9 at large df, and its rounding alone moves t
         * by 1e-8; by symmetry the upper side is covered by t < 0 */
        for (double t = -6; t <= 1.5; t += 0.75) {
            double p = ml_stats_t_cdf(t, dfs[i]);
            ML_ASSERT_NEAR(t, ml_stats_t_quantile(p, dfs[i]), 1e-12, 1e-10);
        }
    }
}

/* ---- summary ------------------------------------------------------------ */

/* mean 5, sum of squared deviations 32: population sd 2, sample sd
 * sqrt(32/7), sem sqrt(4/7); t(0.975, 7) = 2.3646242515927853417. */
static const double SAMPLE[] = { 2, 4, 4, 4, 5, 5, 7, 9 };
#define SAMPLE_SD  2.1380899352993950775
#define SAMPLE_SEM 0.75592894601845445443
#define SAMPLE_LO  3.2125120817637891050
#define SAMPLE_HI  6.7874879182362108950

static void test_stats__summary_hand_sample(void) {
    ml_summary s;
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, SAMPLE, 8));
    ML_ASSERT_EQ_INT(8, s.n);
    ML_ASSERT(s.mean == 5);
    ML_ASSERT_NEAR(SAMPLE_SD, s.sd, 0, 1e-14);
    ML_ASSERT_NEAR(SAMPLE_SEM, s.sem, 0, 1e-14);
    ML_ASSERT_NEAR(SAMPLE_LO, s.lo, 0, 1e-13);
    ML_ASSERT_NEAR(SAMPLE_HI, s.hi, 0, 1e-13);
    ML_ASSERT(s.hi - s.mean == s.mean - s.lo);
}

static void test_stats__summary_skips_nonfinite(void) {
    const double x[] = { NAN, 2, 4, INFINITY, 4, 4, NAN, 5, 5, -INFINITY, 7, 9, NAN };
    ml_summary s, ref;
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&ref, SAMPLE, 8));
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, x, (int)(sizeof(x) / sizeof(x[0]))));
    ML_ASSERT_EQ_INT(8, s.n);
    /* same values in the same order: the same bits */
    ML_ASSERT(s.mean == ref.mean && s.sd == ref.sd && s.sem == ref.sem);
    ML_ASSERT(s.lo == ref.lo && s.hi == ref.hi);
}

static void test_stats__summary_small_n(void) {
    const double one[] = { NAN, 3.5 }, none[] = { NAN, NAN };
    ml_summary s;
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, one, 2));
    ML_ASSERT_EQ_INT(1, s.n);
    ML_ASSERT(s.mean == 3.5);
    ML_ASSERT(isnan(s.sd) && isnan(s.sem) && isnan(s.lo) && isnan(s.hi));
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, none, 2));
    ML_ASSERT_EQ_INT(0, s.n);
    ML_ASSERT(isnan(s.mean) && isnan(s.sd) && isnan(s.lo) && isnan(s.hi));
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, NULL, 0));
    ML_ASSERT_EQ_INT(0, s.n);
    ML_ASSERT(isnan(s.mean));
    /* n = 2: df = 1, t = 12.706...; values 1 and 3: sd sqrt(2), sem 1 */
    const double two[] = { 1, 3 };
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, two, 2));
    ML_ASSERT_NEAR(sqrt(2.0), s.sd, 0, 1e-15);
    ML_ASSERT_NEAR(2 - 12.706204736174704647, s.lo, 0, 1e-12);
    ML_ASSERT_NEAR(2 + 12.706204736174704647, s.hi, 0, 1e-12);
}

static void test_stats__summary_bad_args(void) {
    ml_summary s = { 0 };
    const double x[] = { 1, 2 };
    ml_error_clear();
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_summary(NULL, x, 2));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "NULL output");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_summary(&s, x, -1));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "negative count");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_summary(&s, NULL, 3));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_error_last()->code);
}

static void test_stats__summary_hard_data(void) {
    ml_summary s;
    /* a large offset: naive sum-of-squares would lose the spread */
    const double off[] = { 1e9 + 2, 1e9 + 4, 1e9 + 4, 1e9 + 4, 1e9 + 5, 1e9 + 5, 1e9 + 7, 1e9 + 9 };
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, off, 8));
    ML_ASSERT(s.mean == 1e9 + 5);
    ML_ASSERT_NEAR(SAMPLE_SD, s.sd, 0, 1e-12);
    /* values near DBL_MAX: mean 0, sd sqrt(2) * 1e308, no overflow */
    const double big[] = { 1e308, -1e308 };
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, big, 2));
    ML_ASSERT(s.mean == 0);
    ML_ASSERT_NEAR(1.4142135623730950488e308, s.sd, 0, 1e-15);
    /* constant data: zero spread, zero-width interval */
    const double same[] = { 0.1, 0.1, 0.1, 0.1 };
    ML_ASSERT_EQ_INT(0, ml_stats_summary(&s, same, 4));
    ML_ASSERT(s.sd == 0 && s.lo == s.mean && s.hi == s.mean);
}

/* ---- Welch -------------------------------------------------------------- */

static void summarize(ml_summary *s, const double *x, int n) {
    if (ml_stats_summary(s, x, n) != 0) s->n = -1;   /* fails the caller's checks */
}

static void test_stats__welch_equal_n(void) {
    /* a: mean 3, var 5/2; b: mean 6, var 10; n = 5 each.
     * se^2 = 1/2 + 2 = 5/2; df = (5/2)^2 / ((1/2)^2/4 + 2^2/4) = 100/17;
     * t(0.975, 100/17) = 2.4588237096991468538. */
    const double a[] = { 1, 2, 3, 4, 5 }, b[] = { 2, 4, 6, 8, 10 };
    ml_summary sa, sb;
    ml_diff d;
    summarize(&sa, a, 5);
    summarize(&sb, b, 5);
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&d, &sa, &sb));
    ML_ASSERT(d.diff == 3);
    ML_ASSERT_NEAR(100.0 / 17, d.df, 0, 1e-14);
    ML_ASSERT_NEAR(-0.88774164373697625525, d.lo, 0, 1e-12);
    ML_ASSERT_NEAR(6.8877416437369762553, d.hi, 0, 1e-12);
}

static void test_stats__welch_unequal(void) {
    /* a: n 3, mean 12, var 4; b: n 6, mean 22.5, var 7/2.
     * se^2 = 4/3 + 7/12 = 23/12; df = 2645/689 = 3.8388969521044992743;
     * t(0.975, df) = 2.8230060354174465158. */
    const double a[] = { 10, 12, 14 }, b[] = { 20, 21, 22, 23, 24, 25 };
    ml_summary sa, sb;
    ml_diff d, r;
    summarize(&sa, a, 3);
    summarize(&sb, b, 6);
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&d, &sa, &sb));
    ML_ASSERT(d.diff == 10.5);
    ML_ASSERT_NEAR(2645.0 / 689, d.df, 0, 1e-14);
    ML_ASSERT_NEAR(6.5917251168399484651, d.lo, 0, 1e-12);
    ML_ASSERT_NEAR(14.408274883160051535, d.hi, 0, 1e-12);
    /* swapping the sides negates the difference and mirrors the interval */
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&r, &sb, &sa));
    ML_ASSERT(r.diff == -d.diff && r.df == d.df);
    ML_ASSERT_NEAR(-d.hi, r.lo, 0, 1e-15);
    ML_ASSERT_NEAR(-d.lo, r.hi, 0, 1e-15);
}

static void test_stats__welch_zero_variance(void) {
    const double a[] = { 7, 7, 7 }, c[] = { 9.5, 9.5 }, b[] = { 20, 21, 22, 23, 24, 25 };
    ml_summary sa, sb, sc;
    ml_diff d;
    summarize(&sa, a, 3);
    summarize(&sb, b, 6);
    summarize(&sc, c, 2);
    /* both constant: the interval is the point, df is undefined */
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&d, &sa, &sc));
    ML_ASSERT(d.diff == 2.5 && d.lo == 2.5 && d.hi == 2.5);
    ML_ASSERT(isnan(d.df));
    /* one constant: all the spread is b's, df = 6 - 1, t(0.975, 5) */
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&d, &sa, &sb));
    ML_ASSERT(d.diff == 15.5);
    ML_ASSERT_NEAR(5, d.df, 0, 1e-15);
    ML_ASSERT_NEAR(13.536685693019675423, d.lo, 0, 1e-12);
    ML_ASSERT_NEAR(17.463314306980324577, d.hi, 0, 1e-12);
}

static void test_stats__welch_small_n(void) {
    const double a[] = { 1, 2, 3 }, one[] = { 4 };
    ml_summary sa, s1, s0;
    ml_diff d;
    summarize(&sa, a, 3);
    summarize(&s1, one, 1);
    summarize(&s0, NULL, 0);
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&d, &sa, &s1));
    ML_ASSERT(d.diff == 2);
    ML_ASSERT(isnan(d.lo) && isnan(d.hi) && isnan(d.df));
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&d, &s1, &sa));
    ML_ASSERT(d.diff == -2 && isnan(d.lo) && isnan(d.hi) && isnan(d.df));
    ML_ASSERT_EQ_INT(0, ml_stats_welch(&d, &s0, &sa));
    ML_ASSERT(isnan(d.diff) && isnan(d.lo) && isnan(d.hi) && isnan(d.df));
}

static void test_stats__welch_bad_args(void) {
    ml_summary ok = { 3, 1, 1, 1, 0, 2 }, neg_sd = { 3, 1, -1, 1, 0, 2 }, neg_n = { -1, 1, 1, 1, 0, 2 };
    ml_diff d;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_welch(NULL, &ok, &ok));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_welch(&d, NULL, &ok));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_welch(&d, &ok, NULL));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_welch(&d, &ok, &neg_sd));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "negative sd");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_stats_welch(&d, &neg_n, &ok));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "negative count");
}

/* ---- the checks can fail ------------------------------------------------ */

/* Each plausible mistake is computed inline and shown to fall outside the
 * tolerance the tests above use, while the module's answer is inside it. */
static void test_stats__checks_reject_wrong_answers(void) {
    const double t3 = 3.1824463052837095927;        /* t(0.975, 3) */
    const double z = 1.9599639845400542355;         /* normal 0.975 */
    ML_ASSERT(near(t3, ml_stats_t_quantile(0.975, 3), 0, Q_RTOL));
    ML_ASSERT(!near(t3, z, 0, Q_RTOL));             /* normal used for df = 3 */
    ML_ASSERT(!near(t3, t3 * (1 + 1e-10), 0, Q_RTOL));  /* a loose root find */
    /* df = 1e6 is close to the normal, but not within the tolerance */
    ML_ASSERT(!near(1.9599663568141070353, z, 0, Q_RTOL));
    /* t(0.975, df) for the wrong df: n instead of n - 1 */
    ML_ASSERT(!near(t3, ml_stats_t_quantile(0.975, 4), 0, Q_RTOL));

    /* population sd (divisor n) instead of the sample sd */
    double ss = 0;
    for (int i = 0; i < 8; i++) ss += (SAMPLE[i] - 5) * (SAMPLE[i] - 5);
    ML_ASSERT(!near(SAMPLE_SD, sqrt(ss / 8), 0, 1e-14));
    ML_ASSERT(near(SAMPLE_SD, sqrt(ss / 7), 0, 1e-14));
    /* a normal interval instead of the t one */
    ML_ASSERT(!near(SAMPLE_LO, 5 - z * SAMPLE_SEM, 0, 1e-13));
    /* sd in place of sem */
    ML_ASSERT(!near(SAMPLE_LO, 5 - 2.3646242515927853417 * SAMPLE_SD, 0, 1e-13));

    /* Welch with the pooled df na + nb - 2 = 8 instead of 100/17 */
    const double se = sqrt(2.5);
    ML_ASSERT(!near(-0.88774164373697625525, 3 - ml_stats_t_quantile(0.975, 8) * se, 0, 1e-12));
    /* Welch with an integer-rounded df (6) */
    ML_ASSERT(!near(-0.88774164373697625525, 3 - ml_stats_t_quantile(0.975, 6) * se, 0, 1e-12));
}

const ml_test ml_tests_stats[] = {
    { "stats/t_quantile_975", test_stats__t_quantile_975, "unit" },
    { "stats/t_quantile_other_p", test_stats__t_quantile_other_p, "unit" },
    { "stats/t_quantile_symmetry", test_stats__t_quantile_symmetry, "unit" },
    { "stats/t_domain", test_stats__t_domain, "unit" },
    { "stats/t_cdf_values", test_stats__t_cdf_values, "unit" },
    { "stats/t_cdf_quantile_round_trip", test_stats__t_cdf_quantile_round_trip, "unit" },
    { "stats/summary_hand_sample", test_stats__summary_hand_sample, "unit" },
    { "stats/summary_skips_nonfinite", test_stats__summary_skips_nonfinite, "unit" },
    { "stats/summary_small_n", test_stats__summary_small_n, "unit" },
    { "stats/summary_bad_args", test_stats__summary_bad_args, "unit" },
    { "stats/summary_hard_data", test_stats__summary_hard_data, "unit" },
    { "stats/welch_equal_n", test_stats__welch_equal_n, "unit" },
    { "stats/welch_unequal", test_stats__welch_unequal, "unit" },
    { "stats/welch_zero_variance", test_stats__welch_zero_variance, "unit" },
    { "stats/welch_small_n", test_stats__welch_small_n, "unit" },
    { "stats/welch_bad_args", test_stats__welch_bad_args, "unit" },
    { "stats/checks_reject_wrong_answers", test_stats__checks_reject_wrong_answers, "unit" },
    { 0 },
};
