/*
 * suite/memory.c: what one cell of a suite needs in memory at its peak,
 * estimated before anything is allocated, so that `validate` and `run`
 * can refuse a suite the machine cannot hold instead of failing (or
 * swapping) an hour in. The estimate counts what the study keeps at once
 * (study/protocol.c and the families): four trained models with AdamW's
 * two moments, the scratch model and a mixture, the states kept at every
 * fine-tuning point, the CKA probes, the scorer's logits, the statistics
 * of the largest merge, and the data. Small things (JSON, corpora's text,
 * router parameters) are covered by a 10% margin, the process by 128 MB.
 * Measured (peak RSS, /usr/bin/time -v, --jobs 1): smoke 341 MB against
 * an estimate of 0.65 GB, gpt-smoke 293 MB against 0.40 GB.
 * Not here: parsing (suite.c), the allocations themselves (kernels/).
 */
#include "suite/cells.h"
#include "core/error.h"
#include "kernels/gpt.h"
#include "kernels/mlp.h"

#include <unistd.h>

static size_t gpt_cell(const ml_suite *s) {
    const ml_gpt_config *g = &s->gpt;
    size_t C = (size_t)g->n_embd, L = (size_t)g->n_layer, T = (size_t)g->max_T, V = (size_t)g->vocab_size;
    size_t B = (size_t)s->batch_size, P = (size_t)s->probe_size, f = sizeof(float);
    size_t npts = s->npoints > 0 ? (size_t)s->npoints : 1;
    size_t model = ml_gpt_bytes(g, s->batch_size, g->max_T);
    size_t params = (V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C) * f;
    size_t n = 4 * (model + 2 * params)   /* base, A, B, direct with AdamW's m and v */
               + 2 * model                /* the scratch model and a mixture */
               + 3 * npts * params        /* both specialists and the direct run at every point */
               + 3 * L * (P * C + P * T * C) * f   /* probes of A, B, base: pooled and per token */
               + 3 * B * T * V * f;       /* the ensemble scorer */
    /* the largest merge statistics: Fisher (a vector per specialist) or RegMean's
     * Gram matrices of every linear layer's input (3 of width C, one of 4C) */
    size_t stats = 2 * params, grams = 2 * L * (3 * C * C + 16 * C * C) * f;
    for (int m = 0; m < s->nmerges; m++)
        if (s->merges[m].method == ML_MERGE_REGMEAN && grams > stats) stats = grams;
    return n + stats + (size_t)(s->text_train_docs + 2 * s->text_eval_docs) * 4 * 256;
}

static size_t mlp_cell(const ml_suite *s) {
    size_t model = ml_mlp_bytes(&s->model, s->batch_size), f = sizeof(float);
    size_t P = 0, grams = 0, in = (size_t)s->model.in_dim;
    for (int l = 0; l <= s->model.n_hidden; l++) {
        size_t i = l == 0 ? in : (size_t)s->model.hidden[l - 1], o = l == s->model.n_hidden ? (size_t)s->model.out_dim
                                                                                            : (size_t)s->model.hidden[l];
        P += i * o + o;
        grams += 2 * i * i * f;
    }
    size_t npts = s->npoints > 0 ? (size_t)s->npoints : 1, hidden = 0;
    for (int l = 0; l < s->model.n_hidden; l++) hidden += (size_t)s->model.hidden[l];
    size_t data = 70000 * in * f * 2;     /* Fashion-MNIST train and test, and the target's copies */
    size_t n = 4 * (model + 2 * P * f) + ml_mlp_bytes(&s->model, 1000) + 3 * npts * P * f +
               3 * (size_t)s->probe_size * hidden * f + data;
    return n + (grams > 2 * P * f ? grams : 2 * P * f);
}

/* the process itself: libraries and OpenBLAS's per-thread buffers (a
 * gpt-smoke run measured 293 MB of RSS against 270 MB of tensors) */
#define PROCESS_BYTES ((size_t)128 << 20)

size_t ml_suite_tensor_bytes(const ml_suite *s) {
    return s->family == ML_FAMILY_GPT ? gpt_cell(s) : mlp_cell(s);
}

/* tensors plus the 10% margin for small things and the process itself */
static size_t with_margin(size_t tensors) { return tensors + tensors / 10 + PROCESS_BYTES; }

size_t ml_suite_memory(const ml_suite *s) { return with_margin(ml_suite_tensor_bytes(s)); }

size_t ml_machine_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (size_t)pages * (size_t)size : 0;
}

size_t ml_cells_tensor_bytes(const ml_cellset *cs) {
    size_t most = 0;
    for (int i = 0; i < cs->n; i++) {
        size_t n = ml_suite_tensor_bytes(cs->cells[i].suite);
        if (n > most) most = n;
    }
    return most;
}

/* the margin grows with the tensors, so the largest cell's is the largest */
size_t ml_cells_memory(const ml_cellset *cs) { return with_margin(ml_cells_tensor_bytes(cs)); }

int ml_cells_check_memory(const ml_cellset *cs, int parallel, int force, const char *override) {
    size_t need = ml_cells_memory(cs) * (size_t)(parallel > 1 ? parallel : 1), have = ml_machine_memory();
    if (force || have == 0 || need <= have) return 0;
    return ml_error_set(ML_EINVALID, "%s: needs about %.1f GB at once (%d cell%s at a time), more than this machine's "
                        "%.1f GB; make the model, batch or probe smaller, run fewer --jobs, or pass %s",
                        cs->suite->file, need / 1e9, parallel > 1 ? parallel : 1, parallel > 1 ? "s" : "", have / 1e9,
                        override);
}
