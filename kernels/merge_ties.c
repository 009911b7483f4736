/*
 * kernels/merge_ties.c: TIES merging (Yadav et al. 2023): trim each task
 * vector to its largest entries, elect a sign per parameter, and average
 * only the entries that agree with it (the disjoint mean).
 * Trimming is per task vector and per tensor (as mergekit does). The
 * threshold is found by quickselect on the float magnitudes of one tensor
 * (numel floats of scratch, reused); the kept set is then "above the
 * threshold, plus the first `budget` entries equal to it in index order",
 * which is exactly round(density * numel) entries. Task vectors are
 * recomputed per read instead of stored (ml_merge__tau), so memory stays
 * at one tensor's magnitudes however many models there are.
 */
#include "kernels/merge.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

static void swapf(float *x, float *y) { float t = *x; *x = *y; *y = t; }

static float median3(float x, float y, float z) {
    if (x > y) { float t = x; x = y; y = t; }
    if (y > z) y = z;
    return x > y ? x : y;
}

/* The value at position kth (0-based) if a (n > kth) were sorted ascending;
 * reorders a. Three-way partitions, so runs of equal values (many zeros in
 * a task vector) cost one pass. The pivot is always a value of the current
 * range, so each round returns or shrinks the range. */
static float select_kth(float *a, size_t n, size_t kth) {
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        float p = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
        size_t lt = lo, i = lo, gt = hi;   /* [lo,lt) < p, [lt,gt) == p, [gt,hi) > p */
        while (i < gt) {
            if (a[i] < p) swapf(&a[lt++], &a[i++]);
            else if (a[i] > p) swapf(&a[i], &a[--gt]);
            else i++;
        }
        if (kth < lt) hi = lt;
        else if (kth >= gt) lo = gt;
        else return p;
    }
    return a[lo];
}

/* The ranking key of a task-vector entry. */
static float key_of(double tau) { return (float)fabs(tau); }

int ml_merge__ties(float *out, const ml_layout *layout, const float *base, const float *const *models, int nmodels,
                   double density, double lambda, const ml_merge__drop *drop) {
    float *keys = NULL, *thr = NULL;
    size_t *budget = NULL;
    double *tau = NULL;
    int error = 0;
    size_t maxn = 0;
    for (int ti = 0; ti < layout->n; ti++)
        if (layout->tensors[ti].numel > maxn) maxn = layout->tensors[ti].numel;
    if ((error = ml_malloc((void **)&keys, (maxn ? maxn : 1) * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&thr, (size_t)nmodels * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&budget, (size_t)nmodels * sizeof(size_t))) < 0 ||
        (error = ml_malloc((void **)&tau, (size_t)nmodels * sizeof(double))) < 0)
        goto cleanup;

    for (int ti = 0; ti < layout->n; ti++) {
        const ml_tensor_info *T = &layout->tensors[ti];
        size_t off = T->offset, n = T->numel;
        if (ml_merge__frozen(base, models, nmodels, off, n)) {
            memcpy(out + off, base + off, n * sizeof(float));
            continue;
        }
        /* trim: per model, keep = round(density n) clamped to [1, n] */
        double want = floor(density * (double)n + 0.5);
        size_t keep = want < 1.0 ? 1 : want > (double)n ? n : (size_t)want;
        for (int k = 0; k < nmodels; k++) {
            for (size_t j = 0; j < n; j++) keys[j] = key_of(ml_merge__tau(base, models[k], k, off + j, drop));
            thr[k] = select_kth(keys, n, n - keep);   /* the keep-th largest */
            size_t above = 0;
            for (size_t j = 0; j < n; j++)            /* keys were reordered: recount */
                above += keys[j] > thr[k];
            budget[k] = keep - above;                 /* >= 1: thr itself is a kept value */
        }
        /* elect and disjoint mean, in index order (the tie budget is spent
         * on the lowest indices first) */
        for (size_t j = 0; j < n; j++) {
            size_t i = off + j;
            double mass = 0.0;
            for (int k = 0; k < nmodels; k++) {
                double t = ml_merge__tau(base, models[k], k, i, drop);
                float key = key_of(t);
                int kept = key > thr[k];
                if (!kept && key == thr[k] && budget[k] > 0) { kept = 1; budget[k]--; }
                tau[k] = kept ? t : 0.0;
                mass += tau[k];
            }
            double sum = 0.0;
            int count = 0;
            for (int k = 0; k < nmodels; k++)
                if ((mass > 0.0 && tau[k] > 0.0) || (mass < 0.0 && tau[k] < 0.0)) { sum += tau[k]; count++; }
            double merged = count ? sum / count : 0.0;
            out[i] = (float)((double)base[i] + lambda * merged);
        }
    }
cleanup:
    free(keys);
    free(thr);
    free(budget);
    free(tau);
    return error;
}

int ml_merge_ties(float *out, const ml_layout *layout, const float *base, const float *const *models, int nmodels,
                  double density, double lambda) {
    ML_CHECK_ARG(nmodels >= 1, "ties: need at least one model, got %d", nmodels);
    ML_CHECK_ARG(density > 0.0 && density <= 1.0, "ties: density must be in (0, 1], got %g", density);
    ML_CHECK_ARG(isfinite(lambda), "ties: lambda must be finite, got %g", lambda);
    return ml_merge__ties(out, layout, base, models, nmodels, density, lambda, NULL);
}
