/*
 * core/stats.h: small statistics for comparing a metric across seeds and
 * commits: a per-sample summary with a 95% t interval of the mean, Welch's
 * interval for a difference of two means, and Student's t CDF/quantile.
 * Owns: the numerics only (sums in index order, so results are bit-for-bit
 *       deterministic for the same input).
 * Not here: collecting metrics from results files, choosing what to compare,
 *       printing or deciding "significant" (analysis/ and reports/ do that).
 * Errors: ml_stats_summary/ml_stats_welch return 0 or ML_EINVALID (with
 *       ml_error_set); the t functions are libm-like and return NaN for
 *       arguments outside their domain.
 */
#ifndef ML_CORE_STATS_H
#define ML_CORE_STATS_H

/* Summary of the finite values of a sample.
 *   n     how many finite values were used (NaN and +-inf are skipped)
 *   mean  arithmetic mean; NaN when n == 0
 *   sd    sample standard deviation (divisor n-1)
 *   sem   standard error of the mean, sd / sqrt(n)
 *   lo,hi 95% two-sided Student-t interval of the mean, df = n-1
 * For n < 2 there is no spread estimate: sd, sem, lo and hi are NaN (not
 * lo = hi = mean, which would claim certainty; NaN makes every "lo > x"
 * comparison false, the same rule ml_stats_welch follows). */
typedef struct {
    int n;
    double mean, sd, sem, lo, hi;
} ml_summary;

/* Summarizes x[0..n-1]. x may be NULL when n == 0. ML_EINVALID for a NULL
 * out, n < 0, or a NULL x with n > 0 (out is then untouched). */
int ml_stats_summary(ml_summary *out, const double *x, int n);

/* Student's t with df degrees of freedom; df is real (Welch needs it),
 * df > 0, and df = +inf gives the standard normal.
 * cdf: P(T <= t); t = +-inf gives 1/0. NaN for NaN t or df <= 0/NaN.
 * quantile: the t with cdf(t) = p, for 0 < p < 1, to about 1e-14 relative
 * (df 0.5 to 1e12 checked); p = 0/1 give -inf/+inf, NaN otherwise. It is
 * odd: quantile(1-p) = -quantile(p) up to the rounding of 1-p, and
 * quantile(0.5) = 0. */
double ml_stats_t_cdf(double t, double df);
double ml_stats_t_quantile(double p, double df);

/* Difference b - a of two means with a 95% Welch interval (unequal
 * variances, Welch-Satterthwaite df, which is real-valued).
 *   diff = b->mean - a->mean (NaN when either n == 0)
 *   When either side has n < 2: lo = hi = df = NaN (no variance estimate).
 *   When both sds are 0: lo = hi = diff, and df = NaN (Welch's df is 0/0;
 *   there is no spread to have degrees of freedom for).
 *   When one sd is 0, df is the other side's n-1, as the formula gives.
 * ML_EINVALID for NULL pointers, n < 0 or a negative sd. */
typedef struct {
    double diff, lo, hi, df;
} ml_diff;

int ml_stats_welch(ml_diff *out, const ml_summary *a, const ml_summary *b);

#endif
