/*
 * kernels/cka.h: linear centered kernel alignment (Kornblith et al. 2019).
 * CKA(X,Y) = HSIC(K,L) / sqrt(HSIC(K,K) HSIC(L,L)) with K = X X^T,
 * L = Y Y^T and the biased HSIC estimator; for linear kernels this equals
 * ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with column-centred Xc, Yc.
 * Dimension letters: n examples, dx and dy features.
 * Not here: which activations are compared (the harness picks layers).
 */
#ifndef ML_KERNELS_CKA_H
#define ML_KERNELS_CKA_H

/* X (n,dx)  Y (n,dy) -> CKA in [0,1]. Uses the feature-space form through
 * sgemm when it is cheaper than the n x n Gram form, else the Gram form.
 * Returns 0, ML_ENOMEM, or ML_EINVALID (n < 2, or a constant X or Y, for
 * which CKA is undefined). */
int ml_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy);
/* Reference: Gram matrices and the centering matrix H, in double, O(n^2 d). */
int ml_ref_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy);

#endif
