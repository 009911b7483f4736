/*
 * kernels/params.c: building and looking up the flat parameter layout.
 */
#include "kernels/params.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ml_layout_add(ml_layout *l, const char *name, int ndim, const int *shape, int decay) {
    ML_CHECK_ARG(ndim >= 1 && ndim <= 4, "tensor '%s': ndim must be 1..4, got %d", name, ndim);
    ML_CHECK_ARG(strlen(name) < ML_TENSOR_NAME_MAX, "tensor name too long: '%s'", name);
    void *grown = l->tensors;
    if (ml_realloc(&grown, (size_t)(l->n + 1) * sizeof(ml_tensor_info)) < 0) return ML_ENOMEM;
    l->tensors = grown;
    ml_tensor_info *t = &l->tensors[l->n];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        ML_CHECK_ARG(shape[i] > 0, "tensor '%s': dimension %d must be > 0", name, i);
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->offset = l->total;
    t->decay = decay;
    l->total += t->numel;
    l->n++;
    return 0;
}

void ml_layout_free(ml_layout *l) {
    if (!l) return;
    free(l->tensors);
    l->tensors = NULL;
    l->n = 0;
    l->total = 0;
}

int ml_layout_find(const ml_layout *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->tensors[i].name, name)) return i;
    return -1;
}

uint64_t ml_layout_hash(const ml_layout *l) {
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a over the table's content */
#define FNV(byte) (h = (h ^ (uint8_t)(byte)) * 1099511628211ULL)
    for (int i = 0; i < l->n; i++) {
        const ml_tensor_info *t = &l->tensors[i];
        for (const char *p = t->name; *p; p++) FNV(*p);
        FNV(0);
        for (int d = 0; d < t->ndim; d++)
            for (int b = 0; b < 4; b++) FNV(t->shape[d] >> (8 * b));
        for (int b = 0; b < 8; b++) FNV(t->offset >> (8 * b));
    }
#undef FNV
    return h;
}
