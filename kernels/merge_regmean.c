/*
 * kernels/merge_regmean.c: RegMean (Jin et al. 2023): per linear layer,
 * the weights that minimise sum_k |X_k W^T - X_k W_k^T|^2, in closed form
 *   W^T = (sum_k G_k)^{-1} sum_k G_k W_k^T,   G_k = X_k^T X_k (C, C),
 * with G_k's off-diagonal entries scaled by alpha first (the paper's
 * regularisation towards plain averaging). Other tensors are averaged.
 * Not here: collecting the Gram matrices (the model code).
 * Solved in double with LAPACK from OpenBLAS (no lapacke.h on the build
 * machines, so the Fortran entry points are declared here): Cholesky
 * (dposv) on the symmetric sum; when that says "not positive definite",
 * LU with partial pivoting (dgesv) on a saved copy. A factorisation that
 * succeeds on a numerically singular sum (collinear inputs: a pivot of
 * 1e-16 instead of 0) would return huge garbage weights, so the reciprocal
 * condition number is estimated (dpocon/dgecon) and rcond < C * DBL_EPSILON
 * counts as singular too.
 */
#include "kernels/merge.h"
#include "core/error.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
                   const int *ldb, int *info);
extern void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b, const int *ldb,
                   int *info);
extern void dpocon_(const char *uplo, const int *n, const double *a, const int *lda, const double *anorm,
                    double *rcond, double *work, int *iwork, int *info);
extern void dgecon_(const char *norm, const int *n, const double *a, const int *lda, const double *anorm,
                    double *rcond, double *work, int *iwork, int *info);

static int check_layers(const ml_layout *layout, int nmodels, const ml_regmean_layer *layers, int nlayers) {
    for (int l = 0; l < nlayers; l++) {
        int ti = layers[l].tensor;
        ML_CHECK_ARG(ti >= 0 && ti < layout->n, "regmean: layer %d: tensor index %d out of range (layout has %d)",
                     l, ti, layout->n);
        const ml_tensor_info *T = &layout->tensors[ti];
        ML_CHECK_ARG(T->ndim == 2, "regmean: layer %d: tensor '%s' is not 2-D (ndim %d)", l, T->name, T->ndim);
        for (int m = 0; m < l; m++)
            ML_CHECK_ARG(layers[m].tensor != ti, "regmean: tensor '%s' is listed twice (layers %d and %d)",
                         T->name, m, l);
        ML_CHECK_ARG(layers[l].grams != NULL, "regmean: layer '%s': no Gram matrices", T->name);
        for (int k = 0; k < nmodels; k++)
            ML_CHECK_ARG(layers[l].grams[k] != NULL, "regmean: layer '%s': model %d has no Gram matrix", T->name,
                         k);
    }
    return 0;
}

typedef struct {
    double *A, *A2, *B, *B2, *G, *W;   /* A, A2, G (C,C); B, B2, W (OC,C) */
    double *work;                     /* (4C) for the condition estimates */
    int    *ipiv, *iwork;             /* (C) */
} scratch;

/* One listed layer: out_W (OC, C) from the models' W (OC, C) at off. */
static int solve_layer(float *out, const ml_tensor_info *T, const float *const *models, int nmodels,
                       const float *const *grams, double alpha, scratch *s) {
    int OC = T->shape[0], C = T->shape[1], info = 0, info2 = 0, cinfo = 0;
    double anorm = 0.0, rcond = 0.0;
    size_t cc = (size_t)C * C, oc = (size_t)OC * C;
    memset(s->A, 0, cc * sizeof(double));
    memset(s->B, 0, oc * sizeof(double));
    for (int k = 0; k < nmodels; k++) {
        for (int i = 0; i < C; i++)
            for (int j = 0; j < C; j++) {
                double g = (double)grams[k][(size_t)i * C + j] * (i == j ? 1.0 : alpha);
                s->G[(size_t)i * C + j] = g;
                s->A[(size_t)j * C + i] += g;    /* column-major for LAPACK */
            }
        for (size_t i = 0; i < oc; i++) s->W[i] = (double)models[k][T->offset + i];
        /* B (OC,C) += W_k G'_k^T: row-major B^T is column-major B (C,OC) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, C, C, 1.0, s->W, C, s->G, C, 1.0, s->B, C);
    }
    memcpy(s->A2, s->A, cc * sizeof(double));
    memcpy(s->B2, s->B, oc * sizeof(double));
    for (int j = 0; j < C; j++) {   /* the 1-norm: the largest column sum */
        double col = 0.0;
        for (int i = 0; i < C; i++) col += fabs(s->A[(size_t)j * C + i]);
        if (col > anorm) anorm = col;
    }
    const double *x = s->B;
    dposv_("L", &C, &OC, s->A, &C, s->B, &C, &info);
    if (info == 0) {
        dpocon_("L", &C, s->A, &C, &anorm, &rcond, s->work, s->iwork, &cinfo);
    } else {
        dgesv_(&C, &OC, s->A2, &C, s->ipiv, s->B2, &C, &info2);
        if (info2 == 0) dgecon_("1", &C, s->A2, &C, &anorm, &rcond, s->work, s->iwork, &cinfo);
        x = s->B2;
    }
    if (info2 != 0 || cinfo != 0 || !(rcond >= C * DBL_EPSILON))
        return ml_error_set(ML_ERUN, "regmean: layer '%s': sum of Gram matrices is singular "
                            "(%s, rcond %.3g)", T->name,
                            info2 ? "Cholesky and LU both failed" : info ? "not positive definite, LU ill-conditioned"
                                                                         : "Cholesky ill-conditioned", rcond);
    for (size_t i = 0; i < oc; i++) out[T->offset + i] = (float)x[i];   /* column-major X = row-major W */
    return 0;
}

int ml_merge_regmean(float *out, const ml_layout *layout, const float *const *models, int nmodels,
                     const ml_regmean_layer *layers, int nlayers, double alpha) {
    scratch s = { 0 };
    int *layer_of = NULL, error = 0;
    size_t maxc = 1, maxcc = 1, maxoc = 1;
    ML_CHECK_ARG(nmodels >= 1, "regmean: need at least one model, got %d", nmodels);
    ML_CHECK_ARG(alpha > 0.0 && alpha <= 1.0, "regmean: alpha must be in (0, 1], got %g", alpha);
    ML_CHECK_ARG(nlayers >= 0, "regmean: nlayers must be >= 0, got %d", nlayers);
    if ((error = check_layers(layout, nmodels, layers, nlayers)) < 0) return error;
    for (int l = 0; l < nlayers; l++) {
        const ml_tensor_info *T = &layout->tensors[layers[l].tensor];
        size_t cc = (size_t)T->shape[1] * T->shape[1];
        if ((size_t)T->shape[1] > maxc) maxc = (size_t)T->shape[1];
        if (cc > maxcc) maxcc = cc;
        if (T->numel > maxoc) maxoc = T->numel;
    }
    if ((error = ml_calloc((void **)&layer_of, (size_t)layout->n + 1, sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&s.A, maxcc * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&s.A2, maxcc * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&s.G, maxcc * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&s.B, maxoc * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&s.B2, maxoc * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&s.W, maxoc * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&s.work, 4 * maxc * sizeof(double))) < 0 ||
        (error = ml_malloc((void **)&s.ipiv, maxc * sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&s.iwork, maxc * sizeof(int))) < 0)
        goto cleanup;
    for (int l = 0; l < nlayers; l++) layer_of[layers[l].tensor] = l + 1;

    for (int ti = 0; ti < layout->n; ti++) {
        const ml_tensor_info *T = &layout->tensors[ti];
        if (ml_merge__frozen(models[0], models, nmodels, T->offset, T->numel)) {
            memcpy(out + T->offset, models[0] + T->offset, T->numel * sizeof(float));
            continue;
        }
        if (layer_of[ti]) {
            if ((error = solve_layer(out, T, models, nmodels, layers[layer_of[ti] - 1].grams, alpha, &s)) < 0)
                goto cleanup;
            continue;
        }
        for (size_t i = T->offset; i < T->offset + T->numel; i++) {   /* not a listed linear weight */
            double sum = 0.0;
            for (int k = 0; k < nmodels; k++) sum += (double)models[k][i];
            out[i] = (float)(sum / nmodels);
        }
    }
cleanup:
    free(layer_of);
    free(s.A);
    free(s.A2);
    free(s.G);
    free(s.B);
    free(s.B2);
    free(s.W);
    free(s.work);
    free(s.ipiv);
    free(s.iwork);
    return error;
}
