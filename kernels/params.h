/*
 * kernels/params.h: the layout table of a model's flat parameter vector.
 * Parameters, gradients, AdamW m and v each live in ONE allocation of
 * layout.total floats, indexed by the same table, so merging, the
 * optimiser, checkpoints and CKA probes are flat loops over named ranges.
 * Not here: what the tensors mean (the model files own that).
 */
#ifndef ML_KERNELS_PARAMS_H
#define ML_KERNELS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define ML_TENSOR_NAME_MAX 48

typedef struct {
    char   name[ML_TENSOR_NAME_MAX];  /* e.g. "fc1.weight" */
    size_t offset;                    /* in floats from the start */
    size_t numel;
    int    ndim;
    int    shape[4];
    int    decay;                     /* AdamW weight decay applies (matrices, not biases) */
} ml_tensor_info;

typedef struct {
    ml_tensor_info *tensors;  /* (n) */
    int    n;
    size_t total;             /* floats in the flat vector */
} ml_layout;

/* Appends a tensor; shape has ndim entries. 0, ML_EINVALID (ndim not 1..4,
 * a dimension <= 0, a name too long) or ML_ENOMEM. */
int ml_layout_add(ml_layout *l, const char *name, int ndim, const int *shape, int decay);
void ml_layout_free(ml_layout *l);   /* NULL-safe; leaves an empty layout */
/* Index of the tensor called name, or -1. */
int ml_layout_find(const ml_layout *l, const char *name);
/* A stable hash of names, shapes and offsets: two models with the same
 * value can be merged or loaded into each other. */
uint64_t ml_layout_hash(const ml_layout *l);

#endif
