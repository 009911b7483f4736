/*
 * kernels/merge.h: merge methods over flat parameter vectors that share one
 * layout (specialists fine-tuned from one base). One file per method:
 * kernels/merge_<method>.c.
 * Not here: choosing methods or weights (the suite does), evaluation.
 */
#ifndef ML_KERNELS_MERGE_H
#define ML_KERNELS_MERGE_H

#include <stddef.h>

/* models[k] (n) for k < nmodels, weights (nmodels) >= 0 with a positive sum
 * -> out (n) = sum_k w_k models[k] / sum_k w_k. out may alias no input.
 * ML_EINVALID on a negative weight or a zero sum. */
int ml_merge_average(float *out, const float *const *models, const double *weights, int nmodels, size_t n);

#endif
