/*
 * core/stats.c: Student's t through the regularized incomplete beta
 * function, and the summary and Welch intervals built on it.
 * Not here: any I/O; the only state is the last error on bad arguments.
 *
 * The t tail is P(T > t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2),
 * and the central P(0 < T <= t) = I_y(1/2, df/2) / 2 with y = 1 - x; both
 * come out of one evaluation. I_x is a continued fraction evaluated with
 * the modified Lentz method.
 * Large df is the hard case (a = df/2 is big and x is close to 1), so:
 *   - x and 1-x are carried separately and each is computed directly,
 *     never as 1 minus the other;
 *   - the fraction is used in its contracted (odd-part) form, whose terms
 *     1 + d(2m) + d(2m+1) are computed in closed form: summed numerically
 *     they cancel to O(1/a) and lose about log10(df) digits;
 *   - log B(a, b) uses a Stirling difference for the large argument, since
 *     lgamma(a) - lgamma(a + 1/2) is a difference of two values near 6e6 at
 *     df = 1e6, off by about 1e-9.
 * The quantile is a bisection on the tail probability (on the central one
 * for p near 1/2): slower than Newton or Brent, but it cannot fail on a
 * monotone function, and it runs to adjacent doubles.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* lgamma_r */
#endif
#include "core/stats.h"
#include "core/error.h"

#include <float.h>
#include <math.h>

/* Two-sided 95% intervals. */
#define CI_UPPER_P 0.975

/* Above this df the t tail equals the normal one to double precision (they
 * differ by a relative O(t^4 / df)), and the beta path is not needed. */
#define DF_NORMAL 1e25

/* The contracted fraction converges in under ~60 steps for every (a, 1/2)
 * the t functions use; the bound only guards against an endless loop. */
#define CF_MAX_STEPS 5000

/* lgamma_r rather than lgamma: lgamma writes the global signgam, a data
 * race when stats run on worker threads. Arguments here are > 0. */
static double log_gamma(double z) {
    int sign;
    return lgamma_r(z, &sign);
}

/* The Stirling series tail S(z) in lgamma(z) = (z-1/2)ln z - z + ln(2 pi)/2
 * + S(z), from the Bernoulli numbers B2..B12; for z >= 15 the first omitted
 * term is below 4e-18. */
static double stirling_tail(double z) {
    double r = 1.0 / (z * z);
    return (1.0 / 12 + r * (-1.0 / 360 + r * (1.0 / 1260 + r * (-1.0 / 1680 +
            r * (1.0 / 1188 + r * (-691.0 / 360360)))))) / z;
}

/* lgamma(z) - lgamma(z + s) for z, s > 0, without the cancellation of two
 * large lgamma values when z is large. */
static double log_gamma_diff(double z, double s) {
    if (z < 15) return log_gamma(z) - log_gamma(z + s);
    return -(z - 0.5) * log1p(s / z) - s * log(z + s) + s
           + stirling_tail(z) - stirling_tail(z + s);
}

static double log_beta(double a, double b) {
    double small = a < b ? a : b, big = a < b ? b : a;
    return log_gamma(small) + log_gamma_diff(big, small);
}

/* The continued fraction K in I_x(a,b) = x^a y^b / (a B(a,b) K), y = 1-x,
 * K = 1 + d1/(1 + d2/(1 + ...)) with (DLMF 8.17.22)
 *   d(2m+1) = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),
 *   d(2m)   =  m(b-m) x / ((a+2m-1)(a+2m)),
 * evaluated as its odd part K = c0 + n1/(e1 + n2/(e2 + ...)) with
 *   c0 = 1 + d1, n(m) = -d(2m-1) d(2m), e(m) = 1 + d(2m) + d(2m+1).
 * c0 and e(m) are the closed forms of those sums (common factors taken out),
 * written in x or in y, whichever is the small one, so nothing cancels. */
static double beta_cf(double a, double b, double x, double y) {
    const double tiny = 1e-300;   /* Lentz's stand-in for a zero denominator */
    double f = (x < 0.5 ? 1 + a - (a + b) * x : 1 - b + (a + b) * y) / (a + 1);
    if (fabs(f) < tiny) f = tiny;
    double c = f, d = 0;
    for (int m = 1; m <= CF_MAX_STEPS; m++) {
        double d_odd  = -(a + m - 1) * (a + b + m - 1) * x / ((a + 2 * m - 2) * (a + 2 * m - 1));
        double d_even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        double num = -d_odd * d_even;
        double q = (a + b) * (a - 1) + 2 * m * (a + m);
        double den = (x < 0.5 ? 4 * m * (a + m) + (a - 1) * (a + 1) - q * x
                              : 2 * m * (a + m) + (a - 1) * (1 - b) + q * y)
                     / ((a + 2 * m - 1) * (a + 2 * m + 1));
        d = den + num * d;
        if (fabs(d) < tiny) d = tiny;
        c = den + num / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double delta = c * d;
        f *= delta;
        if (fabs(delta - 1) <= 2 * DBL_EPSILON) break;
    }
    return f;
}

/* Regularized incomplete beta *ix = I_x(a, b) and its complement
 * *iy = 1 - I_x(a, b) = I_y(b, a), a, b > 0, given x, y = 1 - x and their
 * logs lx, ly, all computed by the caller without cancellation (the logs
 * stay exact even where x itself underflows, far in a heavy tail). The one
 * the fraction yields is accurate relative to itself; the other is 1 minus
 * it, accurate relative to 1. */
static void inc_beta(double *ix, double *iy, double a, double b,
                     double x, double y, double lx, double ly) {
    if (y <= 0 || lx == -INFINITY) {
        *ix = y <= 0 ? 1 : 0;
        *iy = 1 - *ix;
        return;
    }
    double front = exp(a * lx + b * ly - log_beta(a, b));
    /* The fraction converges fast for x < (a+1)/(a+b+2); past that, use
     * I_x(a,b) = 1 - I_y(b,a). The test is rearranged so that it reads the
     * smaller of x and y: (a+1)/(a+b+2) rounds to 1 for huge a. */
    int direct = x < 0.5 ? x * (a + b + 2) < a + 1 : y * (a + b + 2) > b + 1;
    if (direct) {
        *ix = front / (a * beta_cf(a, b, x, y));
        *iy = 1 - *ix;
    } else {
        *iy = front / (b * beta_cf(b, a, y, x));
        *ix = 1 - *iy;
    }
}

/* For t >= 0, df > 0 (neither NaN): *upper = P(T > t) and *central =
 * P(0 < T <= t) = 1/2 - *upper, each without forming the other by
 * subtraction where it is the small one (the quantile near p = 1/2 needs
 * the central one to full relative precision). */
static void t_tails(double *upper, double *central, double t, double df) {
    if (isinf(t)) {
        *upper = 0;
        *central = 0.5;
        return;
    }
    if (df > DF_NORMAL) {
        double z = t / sqrt(2.0);
        *upper = 0.5 * erfc(z);
        *central = 0.5 * erf(z);
        return;
    }
    double x, y, lx, ly, ix, iy;
    if (t <= sqrt(df)) {          /* t^2 <= df: no overflow */
        double u = t * t, w = df + u;
        x = df / w;
        y = u / w;
        lx = -log1p(u / df);
        ly = log(y);
    } else {                      /* r = df/t^2 < 1, may underflow */
        double r = df / t / t;
        x = r / (1 + r);
        y = 1 / (1 + r);
        lx = log(df) - 2 * log(t) - log1p(r);
        ly = -log1p(r);
    }
    inc_beta(&ix, &iy, 0.5 * df, 0.5, x, y, lx, ly);
    *upper = 0.5 * ix;
    *central = 0.5 * iy;
}

double ml_stats_t_cdf(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    double upper, central;
    t_tails(&upper, &central, fabs(t), df);
    return t < 0 ? upper : 0.5 + central;
}

/* Whether the root of the equation solved by the quantile lies above t:
 * P(T > t) > q when solving in the tail, P(0 < T <= t) < q when solving
 * near the centre. Both are monotone in t. */
static int root_above(double t, double df, double q, int in_tail) {
    double upper, central;
    t_tails(&upper, &central, t, df);
    return in_tail ? upper > q : central < q;
}

/* The t >= 0 with P(T > t) = q (in_tail) or P(0 < T <= t) = q. */
static double t_root(double q, double df, int in_tail) {
    double lo = 0, hi = 1;
    while (root_above(hi, df, q, in_tail)) {
        lo = hi;
        hi *= 2;
        if (isinf(hi)) return INFINITY;   /* the answer exceeds DBL_MAX */
    }
    /* Bisect to adjacent doubles: about 53 steps, more for roots near 0.
     * The bound only guards against an endless loop. */
    for (int i = 0; i < 2200; i++) {
        double mid = lo + 0.5 * (hi - lo);
        if (mid <= lo || mid >= hi) break;
        if (root_above(mid, df, q, in_tail)) lo = mid;
        else hi = mid;
    }
    return lo + 0.5 * (hi - lo);
}

double ml_stats_t_quantile(double p, double df) {
    if (isnan(p) || !(df > 0) || p < 0 || p > 1) return NAN;
    if (p == 0) return -INFINITY;
    if (p == 1) return INFINITY;
    if (p == 0.5) return 0;
    /* The probability solved for is exact in double: 1 - p for p >= 1/2
     * and |p - 1/2| for 1/4 <= p <= 3/4 (Sterbenz), so tail probabilities
     * near 0 and central ones near 0 both keep their relative precision. */
    double sign = p < 0.5 ? -1 : 1;
    if (p > 0.25 && p < 0.75) return sign * t_root(fabs(p - 0.5), df, 0);
    return sign * t_root(p < 0.5 ? p : 1 - p, df, 1);
}

int ml_stats_summary(ml_summary *out, const double *x, int n) {
    ML_CHECK_ARG(out != NULL, "stats summary: NULL output");
    ML_CHECK_ARG(n >= 0, "stats summary: negative count %d", n);
    ML_CHECK_ARG(x != NULL || n == 0, "stats summary: NULL data with count %d", n);
    int k = 0;
    double amax = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        k++;
        if (fabs(x[i]) > amax) amax = fabs(x[i]);
    }
    out->n = k;
    out->mean = out->sd = out->sem = out->lo = out->hi = NAN;
    if (k == 0) return 0;

    /* Work on x * 2^-e with |x| < 2^e so neither the sum nor the squares can
     * overflow. Scaling by a power of two is exact, so ordinary data give
     * the same bits as plain sums. */
    int e;
    frexp(amax, &e);
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) sum += ldexp(x[i], -e);
    double mean = sum / k;
    out->mean = ldexp(mean, e);
    if (k < 2) return 0;

    /* Two-pass variance; the sum of deviations corrects for the rounding
     * of the mean (it is zero in exact arithmetic). */
    double ss = 0, sd = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        double dev = ldexp(x[i], -e) - mean;
        ss += dev * dev;
        sd += dev;
    }
    double var = (ss - sd * sd / k) / (k - 1);
    if (var < 0) var = 0;
    out->sd = ldexp(sqrt(var), e);
    out->sem = out->sd / sqrt((double)k);
    double half = ml_stats_t_quantile(CI_UPPER_P, k - 1) * out->sem;
    out->lo = out->mean - half;
    out->hi = out->mean + half;
    return 0;
}

int ml_stats_welch(ml_diff *out, const ml_summary *a, const ml_summary *b) {
    ML_CHECK_ARG(out != NULL && a != NULL && b != NULL, "stats welch: NULL argument");
    ML_CHECK_ARG(a->n >= 0 && b->n >= 0, "stats welch: negative count (%d, %d)", a->n, b->n);
    ML_CHECK_ARG(!(a->sd < 0) && !(b->sd < 0), "stats welch: negative sd (%g, %g)", a->sd, b->sd);
    out->diff = b->mean - a->mean;
    out->lo = out->hi = out->df = NAN;
    if (a->n < 2 || b->n < 2) return 0;
    /* Standard errors from n and sd (not the sem field), combined with
     * hypot so that huge sds do not overflow when squared. */
    double sa = a->sd / sqrt((double)a->n), sb = b->sd / sqrt((double)b->n);
    double se = hypot(sa, sb);
    if (se == 0) {
        out->lo = out->hi = out->diff;
        return 0;
    }
    /* Welch-Satterthwaite, written with the variance shares wa + wb = 1:
     * df = 1 / (wa^2/(na-1) + wb^2/(nb-1)), between min(na,nb)-1 and na+nb-2. */
    double wa = (sa / se) * (sa / se), wb = (sb / se) * (sb / se);
    out->df = 1 / (wa * wa / (a->n - 1) + wb * wb / (b->n - 1));
    double half = ml_stats_t_quantile(CI_UPPER_P, out->df) * se;
    out->lo = out->diff - half;
    out->hi = out->diff + half;
    return 0;
}
