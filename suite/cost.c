/*
 * suite/cost.c: the arithmetic one cell's jobs do, estimated from the
 * suite alone, for the time limits `mergelab slurm` writes and for sizing
 * a cluster. A training step is 6 flops per parameter and token (forward
 * and backward), an evaluation 2; attention's T^2 terms and the merges'
 * own loops are left out (a few percent at these sizes), so the figures
 * are lower bounds that callers turn into limits with a margin.
 * Not here: measured costs (make bench), memory (memory.c).
 */
#include "suite/suite.h"

/* parameters, and tokens (GPT) or examples (MLP) per optimiser step */
static void shape(const ml_suite *s, double *params, double *per_step, double *eval_items) {
    if (s->family == ML_FAMILY_GPT) {
        const ml_gpt_config *g = &s->gpt;
        double C = g->n_embd, L = g->n_layer, T = g->max_T, V = g->vocab_size;
        *params = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
        *per_step = (double)s->batch_size * T * (s->grad_accum > 0 ? s->grad_accum : 1);
        *eval_items = (double)s->eval_windows * T;
        return;
    }
    double P = 0, in = s->model.in_dim;
    for (int l = 0; l <= s->model.n_hidden; l++) {
        double i = l == 0 ? in : s->model.hidden[l - 1];
        double o = l == s->model.n_hidden ? s->model.out_dim : s->model.hidden[l];
        P += i * o + o;
    }
    *params = P;
    *per_step = s->batch_size;
    *eval_items = 10000.0 + s->validation_size;   /* test set and validation split */
}

void ml_suite_cost_of(const ml_suite *s, ml_suite_cost *out) {
    double P, per_step, eval_items, router = 0;
    shape(s, &P, &per_step, &eval_items);
    double step = 6 * P * per_step, eval = 2 * P * eval_items;
    /* a router's step runs the mixture forward and backward on its own batch */
    for (int m = 0; m < s->nmerges; m++)
        if (s->merges[m].method == ML_MERGE_ROUTER) {
            int b = s->merges[m].batch > 0 ? s->merges[m].batch : s->batch_size;
            router += (double)s->merges[m].steps * b / (s->batch_size > 0 ? s->batch_size : 1);
        }
    int npts = s->npoints > 0 ? s->npoints : 1;
    out->base = s->pretrain.steps * step;
    /* two specialists and the direct fine-tune */
    out->train = 3.0 * s->finetune.steps * step;
    /* at one point: the routers' training (about one model's step each) and
     * scoring the base, both specialists, the direct model and every merge */
    out->point = router * step + (4.0 + s->nmerges) * eval;
    out->results = (4.0 + s->nmerges) * eval / npts;   /* the frozen check and what the cell's file repeats */
    out->cell = out->base + out->train + npts * out->point;
}
