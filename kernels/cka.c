/*
 * kernels/cka.c: CKA (linear, RBF, debiased, minibatch, layer x layer)
 * through sgemm. Definitions and conventions are in kernels/cka.h.
 * Centering is done in double, then the products run in float on BLAS and
 * every sum of products goes back to double: float products keep the cost
 * at a few gemms while the sums stay accurate.
 * Two ways to get the same sums:
 *   feature form  blocks of rows of X, Y centred into a small buffer and
 *                 accumulated into Yc^T Xc (one gemm) and the lower
 *                 triangles of Xc^T Xc, Yc^T Yc (strips of ssyrk + sgemm
 *                 split over the worker threads: half a gemm each), so
 *                 about two gemms' flops in all and no n x d copy;
 *                 tr(KL) = ||Yc^T Xc||_F^2 etc., plus diag(K), diag(L)
 *                 for HSIC_1;
 *   Gram form     K, L (n,n) in float, then one O(n^2) pass in double that
 *                 centres (HSIC_0) or U-centres (HSIC_1) on the fly.
 * The O(n^2) and O(n d) loops are split over rows, each row's partial sum
 * kept and added up in row order, so the thread count never changes them.
 * The triangular strips do depend on it (an entry may come from ssyrk or
 * from sgemm), so, as everywhere in mergelab, a fixed thread count repeats
 * bit for bit and another count agrees to float rounding.
 * Not here: the naive references (kernels/ref/cka_ref.c).
 */
#include "kernels/cka.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "core/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- centering and row statistics ---------------------------------------- */

/* X (n,d) -> mean (d), column means in double, rows added in order */
static void col_means(double *mean, const float *X, int n, int d) {
    for (int a = 0; a < d; a++) mean[a] = 0.0;
    for (long i = 0; i < n; i++)
        for (int a = 0; a < d; a++) mean[a] += X[i * d + a];
    for (int a = 0; a < d; a++) mean[a] /= n;
}

typedef struct {
    const float *X;
    float *c;              /* (n,d) out */
    const double *mean;    /* (d) */
    int d;
} center_job;

static void center_rows(void *ctx, long lo, long hi) {
    const center_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        const float *x = j->X + i * j->d;
        float *c = j->c + i * j->d;
        for (int a = 0; a < j->d; a++) c[a] = (float)(x[a] - j->mean[a]);
    }
}

/* X (n,d) -> *out (n,d) with column means removed (means in double) */
static int center(float **out, const float *X, int n, int d) {
    float *c = NULL;
    double *mean = NULL;
    int error;
    *out = NULL;
    if ((error = ml_malloc((void **)&mean, (size_t)d * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&c, (size_t)n * d * sizeof(float))) < 0)
        goto cleanup;
    col_means(mean, X, n, d);
    center_job j = { X, c, mean, d };
    ml_par_for(n, 1 + (1L << 16) / d, center_rows, &j);
    *out = c; c = NULL;
cleanup:
    free(c); free(mean);
    return error;
}

/* rows [r0, r0 + count) of X and Y, centred into the block buffers, and
 * their squared norms (the diagonals of K and L) */
typedef struct {
    const float *X, *Y;
    float *Xb, *Yb;            /* (count,dx), (count,dy) out */
    const double *mx, *my;     /* (dx), (dy) */
    double *kd, *ld;           /* (n) out at r0.. */
    long r0;
    int dx, dy;
} block_job;

static void block_rows(void *ctx, long lo, long hi) {
    const block_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        const float *x = j->X + (j->r0 + i) * j->dx, *y = j->Y + (j->r0 + i) * j->dy;
        float *xb = j->Xb + i * j->dx, *yb = j->Yb + i * j->dy;
        double kd = 0.0, ld = 0.0;
        for (int a = 0; a < j->dx; a++) { xb[a] = (float)(x[a] - j->mx[a]); kd += (double)xb[a] * xb[a]; }
        for (int a = 0; a < j->dy; a++) { yb[a] = (float)(y[a] - j->my[a]); ld += (double)yb[a] * yb[a]; }
        j->kd[j->r0 + i] = kd;
        j->ld[j->r0 + i] = ld;
    }
}

static double frob2(const float *A, long len) {
    double s = 0.0;
    for (long i = 0; i < len; i++) s += (double)A[i] * A[i];
    return s;
}

/* ---- ||A^T A||_F^2 from the lower triangle -------------------------------- */

typedef struct {
    const float *A;    /* (n,d) */
    float *C;          /* (d,d), lower triangle written */
    float beta;
    int n, d, parts;
} tri_job;

/* strip p holds rows [b_p, b_{p+1}) with b_p = d sqrt(p/parts): equal
 * triangle areas, so equal work per thread */
static int tri_bound(int p, int parts, int d) { return (int)lround(d * sqrt((double)p / parts)); }

static void tri_strips(void *ctx, long lo, long hi) {
    const tri_job *j = ctx;
    for (long p = lo; p < hi; p++) {
        int r0 = tri_bound((int)p, j->parts, j->d), r1 = tri_bound((int)p + 1, j->parts, j->d), h = r1 - r0;
        if (h <= 0) continue;
        /* C[r0:r1, 0:r0] = A[:, r0:r1]^T A[:, 0:r0]   (h, r0) */
        if (r0 > 0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, r0, j->n, 1.0f, j->A + r0, j->d,
                        j->A, j->d, j->beta, j->C + (long)r0 * j->d, j->d);
        /* lower triangle of C[r0:r1, r0:r1] = A[:, r0:r1]^T A[:, r0:r1]   (h, h) */
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, h, j->n, 1.0f, j->A + r0, j->d,
                    j->beta, j->C + (long)r0 * j->d + r0, j->d);
    }
}

/* A (n,d) -> lower triangle of C (d,d) = A^T A + beta C, at half the flops
 * of a gemm, in strips over the worker threads */
static void self_product(float *C, const float *A, int n, int d, float beta) {
    int parts = (double)d * d * n < 4e6 ? 1 : ml_par_threads();
    tri_job j = { A, C, beta, n, d, parts };
    ml_par_for(parts, 1, tri_strips, &j);
}

/* ||C||_F^2 of a symmetric C (d,d) from its lower triangle */
static double lower_frob2(const float *C, int d) {
    double s = 0.0;
    for (long i = 0; i < d; i++) {
        const float *c = C + i * d;
        double off = 0.0;
        for (long k = 0; k < i; k++) off += (double)c[k] * c[k];
        s += 2.0 * off + (double)c[i] * c[i];
    }
    return s;
}

/* ---- Gram-form sums -------------------------------------------------------- */

/* kc_ij = K_ij - pk_i - pk_j + ck (and lc likewise), over all i, j or over
 * i != j; per row: sum kc lc, and with want3 also sum kc^2, sum lc^2 */
typedef struct {
    const float *K, *L;
    const double *pk, *pl;
    double ck, cl;
    double *rows;        /* (n,3) per-row partial sums */
    int n, skip_diag, want3;
} pair_job;

static void pair_rows(void *ctx, long lo, long hi) {
    const pair_job *j = ctx;
    int n = j->n;
    for (long i = lo; i < hi; i++) {
        const float *k = j->K + i * n, *l = j->L + i * n;
        double bk = j->ck - j->pk[i], bl = j->cl - j->pl[i];
        double kl = 0.0, kk = 0.0, ll = 0.0;
        for (int c = 0; c < n; c++) {
            double kc = k[c] - j->pk[c] + bk, lc = l[c] - j->pl[c] + bl;
            kl += kc * lc;
            if (j->want3) { kk += kc * kc; ll += lc * lc; }
        }
        if (j->skip_diag) {   /* take the diagonal term back out */
            double kc = k[i] - j->pk[i] + bk, lc = l[i] - j->pl[i] + bl;
            kl -= kc * lc;
            if (j->want3) { kk -= kc * kc; ll -= lc * lc; }
        }
        j->rows[3 * i] = kl; j->rows[3 * i + 1] = kk; j->rows[3 * i + 2] = ll;
    }
}

/* K (n,n) -> p (n) and *c: the offsets that centre K (unbiased = 0: row
 * means and the grand mean, kc = H K H) or U-centre K~ (unbiased = 1:
 * p_i = (K~1)_i / (n-2), c = 1^T K~ 1 / ((n-1)(n-2)), used off the diagonal) */
static void gram_offsets(double *p, double *c, const float *K, int n, int unbiased) {
    double total = 0.0;
    for (long i = 0; i < n; i++) {
        const float *k = K + i * n;
        double s = 0.0;
        for (int a = 0; a < n; a++) s += k[a];
        if (unbiased) s -= k[i];
        total += s;
        p[i] = s;
    }
    for (int i = 0; i < n; i++) p[i] /= unbiased ? (n - 2.0) : (double)n;
    *c = unbiased ? total / ((n - 1.0) * (n - 2.0)) : total / ((double)n * n);
}

/* sums of kc lc (and kc^2, lc^2 when want3) over the rows, in row order */
static int pair_sums(double out[3], const float *K, const double *pk, double ck, const float *L,
                     const double *pl, double cl, int n, int unbiased, int want3) {
    double *rows = NULL;
    int error;
    if ((error = ml_calloc((void **)&rows, (size_t)n * 3, sizeof(double))) < 0) return error;
    pair_job j = { K, L, pk, pl, ck, cl, rows, n, unbiased, want3 };
    ml_par_for(n, 1 + (1L << 14) / n, pair_rows, &j);
    out[0] = out[1] = out[2] = 0.0;
    for (long i = 0; i < n; i++) { out[0] += rows[3 * i]; out[1] += rows[3 * i + 1]; out[2] += rows[3 * i + 2]; }
    free(rows);
    return 0;
}

/* K, L (n,n) -> { <Kc,Lc>, <Kc,Kc>, <Lc,Lc> } centred (HSIC_0 times (n-1)^2),
 * or with unbiased the three HSIC_1 values */
static int gram_sums(double out[3], const float *K, const float *L, int n, int unbiased) {
    double *pk = NULL, *pl = NULL, ck, cl;
    int error;
    if ((error = ml_calloc((void **)&pk, (size_t)n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&pl, (size_t)n, sizeof(double))) < 0)
        goto cleanup;
    gram_offsets(pk, &ck, K, n, unbiased);
    gram_offsets(pl, &cl, L, n, unbiased);
    if ((error = pair_sums(out, K, pk, ck, L, pl, cl, n, unbiased, 1)) < 0) goto cleanup;
    if (unbiased)   /* sum_{i!=j} Ku Lu = n(n-3) HSIC_1 (U-centering, Szekely & Rizzo 2014) */
        for (int t = 0; t < 3; t++) out[t] /= (double)n * (n - 3.0);
cleanup:
    free(pk); free(pl);
    return error;
}

/* ---- linear kernels ---------------------------------------------------------- */

/* HSIC_1 from the feature-form pieces. For column-centred X, K 1 = 0, so
 * tr(K~L~) = tr(KL) - sum_i K_ii L_ii, 1^T K~ 1 = -sum_i K_ii and
 * K~ 1 = -diag(K), 1^T K~ L~ 1 = sum_i K_ii L_ii. The float-rounded centred
 * columns sum to zero only up to rounding; that moves K~1 by a relative
 * ~sqrt(n/d) 1e-7, below the float products' own error. */
static double hsic1_from(double trKL, const double *kd, const double *ld, int n) {
    double dkl = 0.0, sk = 0.0, sl = 0.0;
    for (int i = 0; i < n; i++) { dkl += kd[i] * ld[i]; sk += kd[i]; sl += ld[i]; }
    return (trKL - dkl + sk * sl / ((n - 1.0) * (n - 2.0)) - 2.0 / (n - 2.0) * dkl) / ((double)n * (n - 3.0));
}

/* the feature form costs n(dx dy + (dx^2 + dy^2)/2), the Gram form n^2 (dx + dy) */
static int use_feature_form(int n, int dx, int dy) {
    return (double)dx * dy + 0.5 * ((double)dx * dx + (double)dy * dy) <= (double)n * (dx + dy);
}

/* rows per block of the feature form: 2 MB of centred floats, so the block
 * stays in cache between centring and the products, and no n x d copy is
 * ever made (at n = 10000, d = 512 blocks of 512 rows measured 10-15%
 * faster than 2048 or whole copies, which also page-fault) */
static long block_rows_for(int n, int dx, int dy) {
    long b = (1L << 19) / (dx + dy);
    b = b < 256 ? 256 : b;
    return b < n ? b : n;
}

/* feature form: blocks of rows centred, then P += Yb^T Xb, lower(Q) += Xb^T Xb,
 * lower(R) += Yb^T Yb */
static int feature_sums(double out[3], const float *X, const float *Y, int n, int dx, int dy, int unbiased) {
    float *Xb = NULL, *Yb = NULL, *P = NULL, *Q = NULL, *R = NULL;
    double *mx = NULL, *my = NULL, *kd = NULL, *ld = NULL;
    long B = block_rows_for(n, dx, dy);
    int error;
    if ((error = ml_malloc((void **)&mx, (size_t)dx * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&my, (size_t)dy * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&kd, (size_t)n * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&ld, (size_t)n * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&Xb, (size_t)B * dx * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&Yb, (size_t)B * dy * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&P, (size_t)dy * dx * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&Q, (size_t)dx * dx * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&R, (size_t)dy * dy * sizeof(float))) < 0)
        goto cleanup;
    col_means(mx, X, n, dx);
    col_means(my, Y, n, dy);
    for (long r0 = 0; r0 < n; r0 += B) {
        int rows = (int)(n - r0 < B ? n - r0 : B);
        float beta = r0 == 0 ? 0.0f : 1.0f;
        block_job bj = { X, Y, Xb, Yb, mx, my, kd, ld, r0, dx, dy };
        ml_par_for(rows, 1 + (1L << 15) / (dx + dy), block_rows, &bj);
        ml_gemm_tn(dy, dx, rows, Yb, Xb, beta, P);   /* P += Yc^T Xc (dy,dx) */
        self_product(Q, Xb, rows, dx, beta);          /* Q += Xc^T Xc (dx,dx), lower */
        self_product(R, Yb, rows, dy, beta);          /* R += Yc^T Yc (dy,dy), lower */
    }
    double kl = frob2(P, (long)dy * dx);   /* tr(KL) = ||Yc^T Xc||^2 */
    double kk = lower_frob2(Q, dx);        /* tr(KK) */
    double ll = lower_frob2(R, dy);
    if (!unbiased) {
        out[0] = kl; out[1] = kk; out[2] = ll;
    } else {
        out[0] = hsic1_from(kl, kd, ld, n);
        out[1] = hsic1_from(kk, kd, kd, n);
        out[2] = hsic1_from(ll, ld, ld, n);
    }
cleanup:
    free(Xb); free(Yb); free(P); free(Q); free(R); free(mx); free(my); free(kd); free(ld);
    return error;
}

/* X (n,dx) Y (n,dy) -> out (3): unbiased = 0: { tr(KcLc), tr(KcKc), tr(LcLc) }
 * (the ratio is HSIC_0 CKA); unbiased = 1: the three HSIC_1 values */
static int linear_sums(double out[3], const float *X, const float *Y, int n, int dx, int dy, int unbiased) {
    float *Xc = NULL, *Yc = NULL, *K = NULL, *L = NULL;
    int error;
    if (use_feature_form(n, dx, dy)) return feature_sums(out, X, Y, n, dx, dy, unbiased);
    if ((error = center(&Xc, X, n, dx)) < 0 || (error = center(&Yc, Y, n, dy)) < 0 ||
        (error = ml_malloc((void **)&K, (size_t)n * n * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&L, (size_t)n * n * sizeof(float))) < 0)
        goto cleanup;
    ml_gemm_nt(n, n, dx, Xc, Xc, 0.0f, K);     /* K = Xc Xc^T (n,n) */
    ml_gemm_nt(n, n, dy, Yc, Yc, 0.0f, L);     /* L = Yc Yc^T (n,n) */
    error = gram_sums(out, K, L, n, unbiased);
cleanup:
    free(Xc); free(Yc); free(K); free(L);
    return error;
}

int ml_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy) {
    double s[3];
    int error;
    *out = NAN;
    ML_CHECK_ARG(n >= 2 && dx >= 1 && dy >= 1, "cka: need n >= 2 and d >= 1 (n=%d dx=%d dy=%d)", n, dx, dy);
    if ((error = linear_sums(s, X, Y, n, dx, dy, 0)) < 0) return error;
    if (!(s[1] > 0.0) || !(s[2] > 0.0))
        return ml_error_set(ML_EINVALID, "cka: a representation is constant over the %d examples", n);
    *out = s[0] / (sqrt(s[1]) * sqrt(s[2]));
    return 0;
}

int ml_hsic1_linear(double hsic[3], const float *X, const float *Y, int n, int dx, int dy) {
    hsic[0] = hsic[1] = hsic[2] = NAN;
    ML_CHECK_ARG(n >= 4 && dx >= 1 && dy >= 1, "hsic1: need n >= 4 and d >= 1 (n=%d dx=%d dy=%d)", n, dx, dy);
    return linear_sums(hsic, X, Y, n, dx, dy, 1);
}

/* h (3) HSIC_1 values -> debiased CKA, or ML_EINVALID when undefined */
static int debiased_ratio(double *out, const double h[3], const char *what) {
    if (!(h[1] > 0.0) || !(h[2] > 0.0))
        return ml_error_set(ML_EINVALID, "%s: debiased CKA undefined: self-HSIC_1 of X %.3g, of Y %.3g (need > 0)",
                            what, h[1], h[2]);
    *out = h[0] / sqrt(h[1] * h[2]);
    return 0;
}

int ml_cka_linear_debiased(double *out, const float *X, const float *Y, int n, int dx, int dy) {
    double h[3];
    int error;
    *out = NAN;
    if ((error = ml_hsic1_linear(h, X, Y, n, dx, dy)) < 0) return error;
    return debiased_ratio(out, h, "cka");
}

/* ---- RBF kernels --------------------------------------------------------------- */

/* a (m) is permuted; returns its k-th smallest (0-based) and leaves
 * a[0..k) <= a[k] <= a[k+1..m) (Hoare partitioning, median-of-3 pivot) */
static float select_kth(float *a, long m, long k) {
    long l = 0, r = m - 1;
    while (l < r) {
        float p0 = a[l], p1 = a[k], p2 = a[r], x;
        if (p0 < p1) x = p1 < p2 ? p1 : (p0 < p2 ? p2 : p0);
        else         x = p0 < p2 ? p0 : (p1 < p2 ? p2 : p1);
        long i = l, j = r;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        } while (i <= j);
        if (j < k) l = i;
        if (k < i) r = j;
    }
    return a[k];
}

typedef struct {
    float *K;              /* (n,n) in: X X^T; out: squared distances, then kernel */
    const double *g;       /* (n) squared norms */
    double scale;          /* -1/(2 sigma^2) */
    int n, stage;          /* 0: distances, 1: exponentials */
} rbf_job;

static void rbf_rows(void *ctx, long lo, long hi) {
    const rbf_job *j = ctx;
    int n = j->n;
    for (long i = lo; i < hi; i++) {
        float *k = j->K + i * n;
        if (j->stage == 0) {
            for (int c = 0; c < n; c++) {
                double d2 = j->g[i] + j->g[c] - 2.0 * k[c];
                k[c] = (float)(d2 > 0.0 ? d2 : 0.0);
            }
            k[i] = 0.0f;
        } else {
            for (int c = 0; c < n; c++) k[c] = (float)exp(j->scale * k[c]);
        }
    }
}

/* X (n,d) -> K (n,n) RBF kernel (or, with sigma_only, squared distances) and
 * *sigma; sel (n(n-1)/2) is scratch for the median */
static int rbf_gram(float *K, float *sel, double *sigma, const float *X, int n, int d, double sigma_frac,
                    int sigma_only) {
    float *Xc = NULL;
    double *g = NULL;
    int error;
    *sigma = NAN;
    /* distances do not move under translation; centring keeps X X^T small */
    if ((error = center(&Xc, X, n, d)) < 0 ||
        (error = ml_calloc((void **)&g, (size_t)n, sizeof(double))) < 0)
        goto cleanup;
    ml_gemm_nt(n, n, d, Xc, Xc, 0.0f, K);   /* X X^T (n,n) */
    for (long i = 0; i < n; i++) g[i] = K[i * n + i];
    rbf_job j = { K, g, 0.0, n, 0 };
    ml_par_for(n, 1 + (1L << 15) / n, rbf_rows, &j);   /* ||x_i||^2 + ||x_j||^2 - 2 x_i.x_j */
    long m = 0;
    for (long i = 0; i < n; i++)
        for (long c = i + 1; c < n; c++) sel[m++] = K[i * n + c];
    double med = sqrt((double)select_kth(sel, m, m / 2));
    if (m % 2 == 0) {   /* the mean of the two middle distances */
        float lo = sel[0];
        for (long i = 1; i < m / 2; i++) lo = sel[i] > lo ? sel[i] : lo;
        med = 0.5 * (med + sqrt((double)lo));
    }
    *sigma = sigma_frac * med;
    if (!(*sigma > 0.0) || !isfinite(*sigma)) {
        error = ml_error_set(ML_EINVALID, "rbf: the median pairwise distance of the %d examples is %g, "
                             "so the bandwidth is %g (need > 0)", n, med, *sigma);
        goto cleanup;
    }
    if (!sigma_only) {
        j.scale = -1.0 / (2.0 * *sigma * *sigma);
        j.stage = 1;
        ml_par_for(n, 1 + (1L << 14) / n, rbf_rows, &j);
    }
cleanup:
    free(Xc); free(g);
    return error;
}

static int check_rbf_args(int n, int nmin, int dx, int dy, double sigma_frac) {
    ML_CHECK_ARG(n >= nmin && dx >= 1 && dy >= 1, "rbf: need n >= %d and d >= 1 (n=%d dx=%d dy=%d)",
                 nmin, n, dx, dy);
    ML_CHECK_ARG(n <= ML_CKA_RBF_MAX_N, "rbf: n = %d exceeds ML_CKA_RBF_MAX_N = %d (the Gram form holds "
                 "n x n matrices; use ml_cka_acc for more examples)", n, ML_CKA_RBF_MAX_N);
    ML_CHECK_ARG(sigma_frac > 0.0 && isfinite(sigma_frac), "rbf: sigma_frac must be finite and > 0, got %g",
                 sigma_frac);
    return 0;
}

int ml_cka_rbf_sigma(double *sigma, const float *X, int n, int d, double sigma_frac) {
    float *K = NULL, *sel = NULL;
    int error;
    *sigma = NAN;
    if ((error = check_rbf_args(n, 2, d, d, sigma_frac)) < 0) return error;
    if ((error = ml_aligned_alloc((void **)&K, (size_t)n * n * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&sel, (size_t)n * (n - 1) / 2 * sizeof(float))) < 0)
        goto cleanup;
    error = rbf_gram(K, sel, sigma, X, n, d, sigma_frac, 1);
cleanup:
    free(K); free(sel);
    return error;
}

static int rbf_sums(double out[3], const float *X, const float *Y, int n, int dx, int dy, double sigma_frac,
                    int unbiased) {
    float *K = NULL, *L = NULL, *sel = NULL;
    double sx, sy;
    int error;
    if ((error = ml_aligned_alloc((void **)&K, (size_t)n * n * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&L, (size_t)n * n * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&sel, (size_t)n * (n - 1) / 2 * sizeof(float))) < 0)
        goto cleanup;
    if ((error = rbf_gram(K, sel, &sx, X, n, dx, sigma_frac, 0)) < 0) { ml_error_prefix("X"); goto cleanup; }
    if ((error = rbf_gram(L, sel, &sy, Y, n, dy, sigma_frac, 0)) < 0) { ml_error_prefix("Y"); goto cleanup; }
    error = gram_sums(out, K, L, n, unbiased);
cleanup:
    free(K); free(L); free(sel);
    return error;
}

int ml_cka_rbf(double *out, const float *X, const float *Y, int n, int dx, int dy, double sigma_frac) {
    double s[3];
    int error;
    *out = NAN;
    if ((error = check_rbf_args(n, 2, dx, dy, sigma_frac)) < 0 ||
        (error = rbf_sums(s, X, Y, n, dx, dy, sigma_frac, 0)) < 0)
        return error;
    if (!(s[1] > 0.0) || !(s[2] > 0.0))
        return ml_error_set(ML_EINVALID, "cka: a centred RBF Gram matrix is zero over the %d examples", n);
    *out = s[0] / (sqrt(s[1]) * sqrt(s[2]));
    return 0;
}

int ml_hsic1_rbf(double hsic[3], const float *X, const float *Y, int n, int dx, int dy, double sigma_frac) {
    int error;
    hsic[0] = hsic[1] = hsic[2] = NAN;
    if ((error = check_rbf_args(n, 4, dx, dy, sigma_frac)) < 0) return error;
    return rbf_sums(hsic, X, Y, n, dx, dy, sigma_frac, 1);
}

/* ---- minibatch accumulator ---------------------------------------------------- */

struct ml_cka_acc {
    ml_cka_kernel kernel;
    int dx, dy;
    double sigma_frac;
    double sum[3];       /* sum over batches of HSIC_1 (K,L), (K,K), (L,L) */
    int batches;
};

int ml_cka_acc_new(ml_cka_acc **out, ml_cka_kernel kernel, int dx, int dy, double sigma_frac) {
    ml_cka_acc *a = NULL;
    int error;
    *out = NULL;
    ML_CHECK_ARG(kernel == ML_CKA_KERNEL_LINEAR || kernel == ML_CKA_KERNEL_RBF,
                 "cka_acc: unknown kernel %d", (int)kernel);
    ML_CHECK_ARG(dx >= 1 && dy >= 1, "cka_acc: need d >= 1 (dx=%d dy=%d)", dx, dy);
    ML_CHECK_ARG(kernel != ML_CKA_KERNEL_RBF || (sigma_frac > 0.0 && isfinite(sigma_frac)),
                 "cka_acc: sigma_frac must be finite and > 0, got %g", sigma_frac);
    if ((error = ml_calloc((void **)&a, 1, sizeof(*a))) < 0) return error;
    a->kernel = kernel;
    a->dx = dx;
    a->dy = dy;
    a->sigma_frac = sigma_frac;
    *out = a;
    return 0;
}

int ml_cka_acc_add(ml_cka_acc *acc, const float *X, const float *Y, int n) {
    double h[3];
    int error = acc->kernel == ML_CKA_KERNEL_RBF
        ? ml_hsic1_rbf(h, X, Y, n, acc->dx, acc->dy, acc->sigma_frac)
        : ml_hsic1_linear(h, X, Y, n, acc->dx, acc->dy);
    if (error < 0) {
        ml_error_prefix("cka_acc: batch %d", acc->batches);
        return error;
    }
    for (int t = 0; t < 3; t++) acc->sum[t] += h[t];
    acc->batches++;
    return 0;
}

int ml_cka_acc_value(double *out, const ml_cka_acc *acc) {
    *out = NAN;
    ML_CHECK_ARG(acc->batches > 0, "cka_acc: no batches added");
    /* the 1/B of the three means cancels in the ratio */
    return debiased_ratio(out, acc->sum, "cka_acc");
}

int ml_cka_acc_batches(const ml_cka_acc *acc) { return acc->batches; }

void ml_cka_acc_free(ml_cka_acc *acc) { free(acc); }

/* ---- every layer pair ----------------------------------------------------------- */

int ml_cka_matrix(double *out, const float *const *XA, const int *dA, int LA,
                  const float *const *XB, const int *dB, int LB, int n) {
    float **C = NULL, *P = NULL;     /* C[l]: layer l (A then B) centred (n,d), or its Gram (n,n) */
    double *self = NULL, *off = NULL;   /* self[l] = ||Kc_l||_F; off (L, n+1): Gram offsets */
    int L = LA + LB, dmin = 0, dmax = 0, error;
    ML_CHECK_ARG(LA >= 1 && LB >= 1 && n >= 2, "cka_matrix: need LA, LB >= 1 and n >= 2 (LA=%d LB=%d n=%d)",
                 LA, LB, n);
    for (int l = 0; l < L; l++) {
        int d = l < LA ? dA[l] : dB[l - LA];
        ML_CHECK_ARG(d >= 1, "cka_matrix: layer %s[%d] has d = %d", l < LA ? "A" : "B", l < LA ? l : l - LA, d);
        dmin = l == 0 || d < dmin ? d : dmin;
        dmax = d > dmax ? d : dmax;
    }
    for (long i = 0; i < (long)LA * LB; i++) out[i] = NAN;
    int gram = n <= dmin;
    if ((error = ml_calloc((void **)&C, (size_t)L, sizeof(float *))) < 0 ||
        (error = ml_calloc((void **)&self, (size_t)L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&off, (size_t)L * (n + 1), sizeof(double))) < 0 ||
        (error = ml_aligned_alloc((void **)&P, gram ? sizeof(float) : (size_t)dmax * dmax * sizeof(float))) < 0)
        goto cleanup;
    for (int l = 0; l < L; l++) {
        const float *X = l < LA ? XA[l] : XB[l - LA];
        int d = l < LA ? dA[l] : dB[l - LA];
        if ((error = center(&C[l], X, n, d)) < 0) goto cleanup;
        if (gram) {
            float *K = NULL;
            double s[3];
            if ((error = ml_aligned_alloc((void **)&K, (size_t)n * n * sizeof(float))) < 0) goto cleanup;
            ml_gemm_nt(n, n, d, C[l], C[l], 0.0f, K);    /* K_l = Xc Xc^T (n,n) */
            free(C[l]);
            C[l] = K;
            double *p = off + (long)l * (n + 1);
            gram_offsets(p, &p[n], K, n, 0);
            if ((error = pair_sums(s, K, p, p[n], K, p, p[n], n, 0, 0)) < 0) goto cleanup;
            self[l] = sqrt(s[0]);
        } else {
            self_product(P, C[l], n, d, 0.0f);
            self[l] = sqrt(lower_frob2(P, d));
        }
        if (!(self[l] > 0.0)) {
            error = ml_error_set(ML_EINVALID, "cka_matrix: layer %s[%d]: a representation is constant over the "
                                 "%d examples", l < LA ? "A" : "B", l < LA ? l : l - LA, n);
            goto cleanup;
        }
    }
    for (int a = 0; a < LA; a++)
        for (int b = 0; b < LB; b++) {
            double kl;
            if (gram) {
                const double *pa = off + (long)a * (n + 1), *pb = off + (long)(LA + b) * (n + 1);
                double s[3];
                if ((error = pair_sums(s, C[a], pa, pa[n], C[LA + b], pb, pb[n], n, 0, 0)) < 0) goto cleanup;
                kl = s[0];
            } else {
                ml_gemm_tn(dB[b], dA[a], n, C[LA + b], C[a], 0.0f, P);   /* Yc^T Xc (dB,dA) */
                kl = frob2(P, (long)dB[b] * dA[a]);
            }
            out[(long)a * LB + b] = kl / (self[a] * self[LA + b]);
        }
cleanup:
    for (int l = 0; C && l < L; l++) free(C[l]);
    free(C); free(P); free(self); free(off);
    return error;
}
