/*
 * kernels/cka.h: centered kernel alignment (Kornblith et al. 2019) and the
 * HSIC estimators behind it.
 * Dimension letters: n examples, dx and dy features (of X and Y), LA and
 * LB layers (for ml_cka_matrix). All inputs are row-major float32.
 *
 * Kernels. Linear: K = X X^T. RBF: K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)),
 * sigma = sigma_frac * median{ ||x_i - x_j|| : i < j } over the n(n-1)/2
 * distinct pairs of the representation itself (so X and Y each get their
 * own sigma). Diagonal zeros are NOT in the median; with an even pair count
 * the median is the mean of the two middle distances. (Kornblith et al.'s
 * notebook takes the median of all n^2 SQUARED distances, diagonal zeros
 * included, which gives a slightly smaller sigma for small n; the paper's
 * text says "a fraction of the median distance between examples".)
 *
 * Estimators, H = I - 11^T/n, K~ = K with its diagonal set to zero:
 *   biased   HSIC_0(K,L) = tr(K H L H) / (n-1)^2                 (n >= 2)
 *   unbiased HSIC_1(K,L) = [ tr(K~ L~) + (1^T K~ 1)(1^T L~ 1)/((n-1)(n-2))
 *                            - 2/(n-2) 1^T K~ L~ 1 ] / (n(n-3))   (n >= 4)
 *            (Song et al. 2012; it can be negative)
 *   CKA = HSIC(K,L) / sqrt(HSIC(K,K) HSIC(L,L)); "debiased" CKA uses HSIC_1.
 * For the linear kernel HSIC_0 gives ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)
 * with column-centred Xc, Yc, and HSIC_1 also needs only Xc^T Xc-type
 * products plus diag(K), diag(L), so both run in "feature form" (three
 * d x n x d products, the two self ones triangular: about two gemms) when
 * dx dy + (dx^2 + dy^2)/2 <= n (dx + dy), else in the n x n "Gram form".
 * Minibatch CKA (Nguyen, Raghu, Kornblith 2021): mean over batches of
 * HSIC_1 for (K,L), (K,K), (L,L), then the ratio; see ml_cka_acc.
 *
 * Memory:   every function frees what it allocates; the caller owns an
 *           ml_cka_acc and frees it with ml_cka_acc_free() (NULL is a no-op).
 * Errors:   0 or ML_E*, reason in ml_error_last(); *out is NAN on failure.
 * Threads:  products run on mergelab's worker threads (kernels/parallel.h);
 *           a fixed thread count gives bit-identical results.
 * Not here: which activations are compared (the harness picks layers).
 */
#ifndef ML_KERNELS_CKA_H
#define ML_KERNELS_CKA_H

/* Largest n the RBF (Gram-form only) functions accept. They hold two float
 * n x n Gram matrices plus a float selection buffer of n(n-1)/2 for the
 * median, about 10 n^2 bytes: n = 4096 is 168 MB, n = 10000 is 1 GB. For
 * more examples use the minibatch accumulator. */
#define ML_CKA_RBF_MAX_N 32768

/* X (n,dx)  Y (n,dy) -> linear CKA with HSIC_0, in [0,1]. Feature form
 * through sgemm when cheaper than the n x n Gram form, else the Gram form.
 * Returns 0, ML_ENOMEM, or ML_EINVALID (n < 2, or a constant X or Y, for
 * which CKA is undefined). */
int ml_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy);

/* X (n,dx)  Y (n,dy) -> hsic (3) = { HSIC_1(K,L), HSIC_1(K,K), HSIC_1(L,L) }
 * for linear kernels, in the same feature or Gram form as ml_cka_linear.
 * ML_EINVALID when n < 4. */
int ml_hsic1_linear(double hsic[3], const float *X, const float *Y, int n, int dx, int dy);

/* X (n,dx)  Y (n,dy) -> debiased linear CKA, HSIC_1(K,L)/sqrt(HSIC_1(K,K) HSIC_1(L,L)).
 * About 1 for equal inputs, about 0 (either sign) for independent ones.
 * ML_EINVALID when n < 4 or a self-HSIC_1 is <= 0 (undefined: a constant
 * representation, or a tiny n that happens to give a negative estimate). */
int ml_cka_linear_debiased(double *out, const float *X, const float *Y, int n, int dx, int dy);

/* X (n,d) -> *sigma, the RBF bandwidth the functions below use for X:
 * sigma_frac * median pairwise distance (see the top of this file).
 * ML_EINVALID when n < 2, n > ML_CKA_RBF_MAX_N, sigma_frac is not a finite
 * value > 0, or the median distance is 0 (more than half the pairs equal). */
int ml_cka_rbf_sigma(double *sigma, const float *X, int n, int d, double sigma_frac);

/* X (n,dx)  Y (n,dy) -> RBF CKA with HSIC_0, in [0,1]; per-representation
 * median bandwidth. O(n^2 (dx + dy)) through sgemm for the dot products,
 * then O(n^2) exponentials. Errors as ml_cka_rbf_sigma, plus ML_ENOMEM. */
int ml_cka_rbf(double *out, const float *X, const float *Y, int n, int dx, int dy, double sigma_frac);

/* X (n,dx)  Y (n,dy) -> hsic (3) as ml_hsic1_linear, for RBF kernels
 * (each representation's own median bandwidth); n >= 4. */
int ml_hsic1_rbf(double hsic[3], const float *X, const float *Y, int n, int dx, int dy, double sigma_frac);

/* Minibatch CKA. Batches (X_b (n_b,dx), Y_b (n_b,dy)), n_b >= 4 each, may
 * differ in size; every batch counts once (an unweighted mean: each HSIC_1
 * is an unbiased estimate of the same population HSIC). With the RBF kernel
 * each batch gets its own median bandwidth. With a single batch the value
 * is the full-batch debiased CKA. Only three doubles of state are kept, so
 * the total n is unbounded; each ml_cka_acc_add allocates for its batch. */
typedef enum { ML_CKA_KERNEL_LINEAR = 0, ML_CKA_KERNEL_RBF = 1 } ml_cka_kernel;
typedef struct ml_cka_acc ml_cka_acc;

/* sigma_frac is used by ML_CKA_KERNEL_RBF only (ignored for linear).
 * ML_EINVALID for an unknown kernel, d < 1, or a bad sigma_frac. */
int ml_cka_acc_new(ml_cka_acc **out, ml_cka_kernel kernel, int dx, int dy, double sigma_frac);
/* Adds one batch. On an error the accumulator is unchanged. */
int ml_cka_acc_add(ml_cka_acc *acc, const float *X, const float *Y, int n);
/* mean_b HSIC_1(K_b,L_b) / sqrt(mean_b HSIC_1(K_b,K_b) mean_b HSIC_1(L_b,L_b)).
 * ML_EINVALID before the first batch or when a mean self-HSIC_1 is <= 0. */
int ml_cka_acc_value(double *out, const ml_cka_acc *acc);
int ml_cka_acc_batches(const ml_cka_acc *acc);
void ml_cka_acc_free(ml_cka_acc *acc);

/* XA[a] (n,dA[a]) for a < LA, XB[b] (n,dB[b]) for b < LB -> out (LA,LB),
 * out[a*LB + b] = ml_cka_linear(XA[a], XB[b]). Each representation is
 * centred once and its self-similarity norm computed once; the Gram form
 * (one n x n matrix per layer) is used when n <= every d, else the feature
 * form (one d_b x d_a product per pair). Holds a centred copy of every
 * representation (or its n x n Gram matrix) at once. ML_EINVALID as
 * ml_cka_linear, naming the layer. */
int ml_cka_matrix(double *out, const float *const *XA, const int *dA, int LA,
                  const float *const *XB, const int *dB, int LB, int n);

/* ---- naive references (kernels/ref/cka_ref.c), double precision ---------- */

/* Gram matrices and the centering matrix H, O(n^2 d). */
int ml_ref_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy);
/* X (n,d) -> K (n,n) = X X^T, uncentred. */
void ml_ref_gram_linear(double *K, const float *X, int n, int d);
/* X (n,d) -> K (n,n) RBF with the median bandwidth, and *sigma; distances
 * from explicit differences, median by sorting. Errors as ml_cka_rbf_sigma. */
int ml_ref_gram_rbf(double *K, double *sigma, const float *X, int n, int d, double sigma_frac);
/* K (n,n)  L (n,n) -> HSIC_1(K,L), the formula above term by term
 * (K~ and L~ built explicitly). n >= 4. */
int ml_ref_hsic1(double *out, const double *K, const double *L, int n);
/* the references of ml_hsic1_linear, ml_hsic1_rbf, ml_cka_linear_debiased
 * and ml_cka_rbf, same signatures and errors */
int ml_ref_hsic1_linear(double hsic[3], const float *X, const float *Y, int n, int dx, int dy);
int ml_ref_hsic1_rbf(double hsic[3], const float *X, const float *Y, int n, int dx, int dy, double sigma_frac);
int ml_ref_cka_linear_debiased(double *out, const float *X, const float *Y, int n, int dx, int dy);
int ml_ref_cka_rbf(double *out, const float *X, const float *Y, int n, int dx, int dy, double sigma_frac);

#endif
