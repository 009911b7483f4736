/*
 * study/family_mlp.c: the MLP family (Fashion-MNIST class splits) behind
 * study.h's table: its trainers, probes (every hidden layer's
 * activations), Fisher and RegMean statistics, the output interpolation
 * sweep and the single-layer router, and scoring (test accuracy and loss
 * on the target's classes). A fixed validation subset of the train
 * images, the same for every seed and never trained on, selects alphas and
 * router checkpoints; the test images score.
 * Not here: the protocol (protocol.c), the merge dispatch (merge.c).
 */
#include "study/study.h"
#include "study/run_common.h"
#include "core/error.h"
#include "data/fmnist.h"
#include "kernels/adamw.h"
#include "kernels/gemm.h"
#include "kernels/gpt_mix.h"   /* ml_logit_ensemble, ml_prob_ensemble */
#include "kernels/layers.h"
#include "kernels/mlp.h"
#include "kernels/mlp_mix.h"
#include "kernels/router.h"
#include "kernels/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A training run: model, optimiser, and an epoch-shuffled stream of the
 * example indices of its class subset. */
typedef struct {
    const char *name;
    ml_mlp     *model;
    ml_adamw   *opt;
    int        *index;     /* (n) training examples of the subset */
    int        *perm;      /* (n) this epoch's order */
    int         n, pos, epoch;
    uint64_t    seed;      /* initialisation (the base) and shuffling */
    uint64_t    stream;    /* shuffle stream of this run */
    float      *xb;        /* (B, D) the current batch */
    int32_t    *yb;        /* (B) labels as int32 targets */
} trainer;

/* Indices of d's examples in the split's classes; keep (d->n) or NULL
 * restricts them to examples marked 1 (the train examples not held out for
 * validation, or the held-out ones). */
static int subset_indices(int **out, int *n, const ml_dataset *d, const ml_split *sp, const unsigned char *keep) {
    int member[ML_MAX_CLASSES] = { 0 }, count = 0, error;
    for (int i = 0; i < sp->nclasses; i++) member[sp->classes[i]] = 1;
    for (int i = 0; i < d->n; i++) count += member[d->y[i]] && (!keep || keep[i]);
    if ((error = ml_malloc((void **)out, (size_t)(count ? count : 1) * sizeof(int))) < 0) return error;
    *n = 0;
    for (int i = 0; i < d->n; i++)
        if (member[d->y[i]] && (!keep || keep[i])) (*out)[(*n)++] = i;
    return 0;
}

/* A class subset of d copied out as x (n,D), y (n) for evaluation. */
typedef struct { float *x; int32_t *y; int n; } eval_set;

static int eval_set_make(eval_set *e, const ml_dataset *d, const ml_split *sp, const unsigned char *keep) {
    int *idx = NULL, error;
    memset(e, 0, sizeof(*e));
    if ((error = subset_indices(&idx, &e->n, d, sp, keep)) < 0) return error;
    if ((error = ml_malloc((void **)&e->x, (size_t)(e->n ? e->n : 1) * d->dim * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&e->y, (size_t)(e->n ? e->n : 1) * sizeof(int32_t))) < 0) {
        free(idx);
        return error;
    }
    for (int i = 0; i < e->n; i++) {
        memcpy(e->x + (long)i * d->dim, d->x + (long)idx[i] * d->dim, (size_t)d->dim * sizeof(float));
        e->y[i] = d->y[idx[i]];
    }
    free(idx);
    return 0;
}

static void eval_set_free(eval_set *e) { free(e->x); free(e->y); memset(e, 0, sizeof(*e)); }

static void trainer_free(trainer *t) {
    ml_mlp_free(t->model);
    ml_adamw_free(t->opt);
    free(t->index);
    free(t->perm);
    free(t->xb);
    free(t->yb);
    memset(t, 0, sizeof(*t));
}

static int trainer_init(trainer *t, const char *name, const ml_suite *s, const ml_dataset *train,
                        const ml_split *sp, uint64_t seed, uint64_t stream, const float *init_params,
                        const unsigned char *trainable) {
    ml_adamw_config oc = { (float)s->finetune.lr, (float)s->beta1, (float)s->beta2, (float)s->eps,
                           (float)s->weight_decay };
    int error;
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->seed = seed;
    t->stream = stream;
    if ((error = ml_mlp_new(&t->model, &s->model, s->batch_size)) < 0 ||
        (error = ml_adamw_new(&t->opt, &t->model->layout, &oc)) < 0 ||
        (error = subset_indices(&t->index, &t->n, train, sp, trainable)) < 0 ||
        (error = ml_malloc((void **)&t->perm, (size_t)t->n * sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&t->xb, (size_t)s->batch_size * train->dim * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&t->yb, (size_t)s->batch_size * sizeof(int32_t))) < 0)
        return error;
    if (t->n < s->batch_size)
        return ml_error_set(ML_EINVALID, "%s: run '%s' has %d training examples, fewer than batch_size %d",
                            s->file, name, t->n, s->batch_size);
    if (init_params) memcpy(t->model->params, init_params, t->model->layout.total * sizeof(float));
    else ml_mlp_init(t->model, t->seed);
    t->pos = t->n;   /* forces a shuffle before the first batch */
    t->epoch = -1;
    return 0;
}

static void next_batch(trainer *t, const ml_dataset *d, int B, uint64_t seed) {
    for (int b = 0; b < B; b++) {
        if (t->pos >= t->n) {
            t->epoch++;
            ml_rng_permutation(t->perm, t->n, seed, ML_STREAM_SHUFFLE + t->stream * 100000 + (uint64_t)t->epoch);
            t->pos = 0;
        }
        int i = t->index[t->perm[t->pos++]];
        memcpy(t->xb + (long)b * d->dim, d->x + (long)i * d->dim, (size_t)d->dim * sizeof(float));
        t->yb[b] = d->y[i];
    }
}

/* One optimiser step; ML_ERUN when the loss is not finite. */
static int train_step(trainer *t, const ml_suite *s, const ml_dataset *d, const ml_phase *ph, int step,
                      const char *phase, float *loss_out) {
    ml_mlp *m = t->model;
    next_batch(t, d, s->batch_size, t->seed);
    float loss = ml_mlp_forward(m, t->xb, t->yb, s->batch_size);
    if (!isfinite(loss))
        return ml_error_set(ML_ERUN, "%s: %s of '%s' diverged: loss is %s at step %d (lower the lr?)",
                            s->file, phase, t->name, isnan(loss) ? "nan" : "inf", step);
    memset(m->grads, 0, m->layout.total * sizeof(float));
    ml_mlp_backward(m, t->xb, t->yb, s->batch_size);
    if (s->grad_clip > 0.0) ml_clip_grad_norm(m->grads, m->layout.total, s->grad_clip);
    ml_adamw_step(t->opt, m->params, m->grads,
                  ml_lr_at((float)ph->lr, step, ph->steps, ph->warmup, s->schedule == ML_SCHED_COSINE, (float)s->min_lr_ratio), NULL);
    if (loss_out) *loss_out = loss;
    return 0;
}

/* Hidden activations of every layer for the probe set, gathered chunk by
 * chunk: acts[l] (P, H_l). */
static void probe_hidden(ml_mlp *m, const float *X, int P, float **acts) {
    for (int s = 0; s < P; s += m->max_batch) {
        int B = P - s < m->max_batch ? P - s : m->max_batch;
        ml_mlp_forward(m, X + (long)s * m->cfg.in_dim, NULL, B);
        for (int l = 0; l < m->cfg.n_hidden; l++) {
            int H = m->cfg.hidden[l];
            memcpy(acts[l] + (long)s * H, ml_mlp_hidden(m, l), (size_t)B * H * sizeof(float));
        }
    }
}

/* Accuracy and loss of the output-space ensemble of a and b over n rows:
 * logits (or probabilities, prob = 1) averaged with weights w. */
static int eval_ensemble(ml_mlp *a, ml_mlp *b, const double *w, int prob, const float *x, const int32_t *y, int n,
                         double *acc, double *loss) {
    int V = a->cfg.out_dim, B = a->max_batch < b->max_batch ? a->max_batch : b->max_batch, error = 0;
    float *la = NULL, *out = NULL, *probs = NULL, *losses = NULL;
    long correct = 0;
    double total = 0.0;
    if ((error = ml_malloc((void **)&la, (size_t)B * V * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&out, (size_t)B * V * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&probs, (size_t)B * V * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&losses, (size_t)B * sizeof(float))) < 0)
        goto cleanup;
    for (int s0 = 0; s0 < n; s0 += B) {
        int nb = n - s0 < B ? n - s0 : B;
        ml_mlp_forward(a, x + (long)s0 * a->cfg.in_dim, NULL, nb);
        memcpy(la, a->pre[a->cfg.n_hidden], (size_t)nb * V * sizeof(float));
        ml_mlp_forward(b, x + (long)s0 * b->cfg.in_dim, NULL, nb);
        const float *both[2] = { la, b->pre[b->cfg.n_hidden] };
        if ((error = prob ? ml_prob_ensemble(out, both, w, 2, nb, V) : ml_logit_ensemble(out, both, w, 2, (long)nb * V)) < 0)
            goto cleanup;
        total += (double)ml_softmax_ce_forward(probs, losses, out, y + s0, nb, V) * nb;
        for (int i = 0; i < nb; i++) {
            int best = 0;
            for (int v = 1; v < V; v++) if (out[(long)i * V + v] > out[(long)i * V + best]) best = v;
            correct += best == y[s0 + i];
        }
    }
    *acc = n ? (double)correct / n : 0.0;
    *loss = n ? total / n : 0.0;
cleanup:
    free(la); free(out); free(probs); free(losses);
    return error;
}

/* A learned router over the specialists' layers (plus the base's, with
 * base_expert): only the router trains, on the target's training examples;
 * the checkpoint with the lowest validation loss is kept. */
static int mlp_router(ml_mlp_mix **out, cJSON *info, const ml_merge_spec *ms, const ml_suite *s, trainer *direct_data,
                      const ml_mlp *base, const ml_mlp *a, const ml_mlp *b, const ml_dataset *train, const eval_set *val,
                      uint64_t stream, const ml_run_options *ro) {
    int nl = s->model.n_hidden + 1, E, error = 0, B = s->batch_size, Br = ms->batch > 0 ? ms->batch : B;
    ml_mlp_expert experts[ML_MLP_MIX_MAX_LAYERS * 3];
    const float *specs[2] = { a->params, b->params };
    ml_mlp_mix *m = NULL;
    ml_adamw *opt = NULL;
    float *best = NULL;
    *out = NULL;
    if ((E = ml_mlp_mix_pool_single_layer(experts, nl, specs, 2, ms->base_expert ? base->params : NULL)) < 0)
        return E;
    ml_adamw_config oc = { (float)ms->lr, (float)s->beta1, (float)s->beta2, (float)s->eps, (float)ms->weight_decay };
    if ((error = ml_mlp_mix_new(&m, &s->model, experts, E, ms->top_k, ms->shared, B > 1000 ? B : 1000)) < 0 ||
        (error = ml_adamw_new(&opt, &m->layout, &oc)) < 0 ||
        (error = ml_malloc((void **)&best, m->layout.total * sizeof(float))) < 0)
        goto cleanup;
    if (ms->kaiming_init)
        ml_router_init_kaiming(m->params, &m->layout, s->seed, ML_STREAM_ROUTER + 64 * (uint64_t)(ms - s->merges));
    double acc, vl;
    int every = ms->steps / ms->checkpoints > 0 ? ms->steps / ms->checkpoints : 1;
    ml_run__selector sel;
    ml_mlp_mix_evaluate(m, val->x, val->y, val->n, &acc, &vl);
    ml_run__select_init(&sel, best, m->layout.total, m->params, vl);
    /* the direct fine-tune's trainer already draws batches of the target */
    direct_data->stream = stream;
    direct_data->pos = direct_data->n;
    direct_data->epoch = -1;
    for (int step = 0; step < ms->steps; step++) {
        next_batch(direct_data, train, Br, direct_data->seed);
        float loss = ml_mlp_mix_forward(m, direct_data->xb, direct_data->yb, Br);
        if (!isfinite(loss)) {
            error = ml_error_set(ML_ERUN, "router training diverged: loss is %s at step %d", isnan(loss) ? "nan" : "inf", step);
            goto cleanup;
        }
        ml_mlp_mix_zero_grad(m);
        if ((error = ml_mlp_mix_backward(m, direct_data->xb, direct_data->yb)) < 0) goto cleanup;
        if (s->grad_clip > 0.0) ml_clip_grad_norm(m->grads, m->layout.total, s->grad_clip);
        ml_adamw_step(opt, m->params, m->grads, ml_lr_at((float)ms->lr, step, ms->steps, 0, 1, (float)s->min_lr_ratio), NULL);
        if ((step + 1) % every == 0 || step + 1 == ms->steps) {
            ml_mlp_mix_evaluate(m, val->x, val->y, val->n, &acc, &vl);
            ml_run__select_point(&sel, step + 1, vl, m->params);
            ml_run__log(ro, "  router %s step %d/%d train %.4f validation %.4f\n", ms->name, step + 1,
                                 ms->steps, loss, vl);
        }
    }
    memcpy(m->params, best, m->layout.total * sizeof(float));
    ml_results_router(info, ms, 1, E, Br, sel.best_step, sel.steps, sel.loss, sel.nv);
    *out = m;
    m = NULL;
cleanup:
    ml_mlp_mix_free(m);
    ml_adamw_free(opt);
    free(best);
    return error;
}

/* The examples Fisher and RegMean look at: the first `count` of a seeded
 * shuffle of the specialist's own training examples. */
static int stat_examples(int **out, int *count, const trainer *t, uint64_t seed, uint64_t stream) {
    int error;
    if (*count > t->n) *count = t->n;
    if ((error = ml_malloc((void **)out, (size_t)t->n * sizeof(int))) < 0) return error;
    ml_rng_permutation(*out, t->n, seed, stream);
    for (int i = 0; i < *count; i++) (*out)[i] = t->index[(*out)[i]];
    return 0;
}

/* Empirical diagonal Fisher of t's model: mean over examples of the squared
 * per-example gradient of the loss at the true label. F (layout.total). */
static int mlp_fisher(float *F, trainer *t, const ml_dataset *d, int examples, uint64_t seed, uint64_t stream) {
    ml_mlp *m = t->model;
    int *idx = NULL, error;
    if ((error = stat_examples(&idx, &examples, t, seed, stream)) < 0) return error;
    memset(F, 0, m->layout.total * sizeof(float));
    for (int i = 0; i < examples; i++) {
        int32_t y = d->y[idx[i]];
        const float *x = d->x + (long)idx[i] * d->dim;
        ml_mlp_forward(m, x, &y, 1);
        memset(m->grads, 0, m->layout.total * sizeof(float));
        ml_mlp_backward(m, x, &y, 1);
        ml_fisher_accumulate(F, m->grads, m->layout.total);
    }
    free(idx);
    return ml_fisher_finish(F, m->layout.total, examples);
}

/* RegMean's Gram matrices of every linear layer's inputs over the
 * examples: grams[l] (in_l, in_l) += X_l^T X_l. */
static int mlp_grams(float **grams, trainer *t, const ml_dataset *d, int examples, uint64_t seed, uint64_t stream,
                     float *xb) {
    ml_mlp *m = t->model;
    int *idx = NULL, error, L = m->cfg.n_hidden;
    if ((error = stat_examples(&idx, &examples, t, seed, stream)) < 0) return error;
    for (int s0 = 0; s0 < examples; s0 += m->max_batch) {
        int B = examples - s0 < m->max_batch ? examples - s0 : m->max_batch;
        for (int b = 0; b < B; b++)
            memcpy(xb + (long)b * d->dim, d->x + (long)idx[s0 + b] * d->dim, (size_t)d->dim * sizeof(float));
        ml_mlp_forward(m, xb, NULL, B);
        for (int l = 0; l <= L; l++) {
            int I = l == 0 ? m->cfg.in_dim : m->cfg.hidden[l - 1];
            const float *in = l == 0 ? xb : m->post[l - 1];
            ml_gemm_tn(I, I, B, in, in, 1.0f, grams[l]);   /* G += X^T X (I,I) */
        }
    }
    free(idx);
    return 0;
}


/* The statistics of one Fisher or RegMean merge, freed together. */
typedef struct {
    ml_regmean_layer layers[ML_MLP_MAX_HIDDEN + 1];
    const float *gptr[ML_MLP_MAX_HIDDEN + 1][2];
    float *fisher[2], *grams[2][ML_MLP_MAX_HIDDEN + 1];
} mlp_stats_buf;

/* The family's state (ml_study.impl). */
typedef struct {
    ml_dataset train, test;
    unsigned char *trainable, *held;   /* (train.n) examples used for training / held out for validation */
    trainer run[ML_NRUNS];             /* base, A, B, direct */
    ml_mlp *scratch;                   /* merges are written into it and models scored in it */
    float *probe_x;                    /* (P, D) the CKA probe: test images */
    eval_set test_set, val_set;        /* the target's classes */
    ml_mlp_mix *router;                /* the current mixture: a router, or with NULL */
    double mix_w[2];                   /* the selected interpolation weights */
} mlp_state;

#define MLP(st) ((mlp_state *)(st)->impl)

static int mlp_open(ml_study *st) {
    const ml_suite *s = st->s;
    int *perm = NULL, error, P = s->probe_size;
    mlp_state *f;
    if ((error = ml_calloc((void **)&f, 1, sizeof(*f))) < 0) return error;
    st->impl = f;
    st->L = s->model.n_hidden;
    for (int l = 0; l < st->L; l++) st->dims[l] = s->model.hidden[l];
    if ((error = ml_fmnist_load(&f->train, s->data_dir, 1)) < 0 || (error = ml_fmnist_load(&f->test, s->data_dir, 0)) < 0)
        return error;
    if (P > f->test.n)
        return ml_error_set(ML_EINVALID, "%s: $.cka.probe_size: %d exceeds the %d test examples", s->file, P, f->test.n);
    if ((error = ml_calloc((void **)&f->trainable, (size_t)f->train.n, 1)) < 0 ||
        (error = ml_calloc((void **)&f->held, (size_t)f->train.n, 1)) < 0 ||
        (error = ml_malloc((void **)&perm, (size_t)f->train.n * sizeof(int))) < 0)
        goto cleanup;
    ml_rng_permutation(perm, f->train.n, 0, ML_STREAM_VALID);
    for (int i = 0; i < f->train.n; i++) {
        int h = i < s->validation_size;
        f->held[perm[i]] = (unsigned char)h;
        f->trainable[perm[i]] = (unsigned char)!h;
    }
    free(perm);
    perm = NULL;
    if ((error = ml_malloc((void **)&perm, (size_t)f->test.n * sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&f->probe_x, (size_t)P * f->test.dim * sizeof(float))) < 0 ||
        (error = eval_set_make(&f->test_set, &f->test, &s->target, NULL)) < 0 ||
        (error = eval_set_make(&f->val_set, &f->train, &s->target, f->held)) < 0 ||
        (error = ml_mlp_new(&f->scratch, &s->model, 1000)) < 0)
        goto cleanup;
    ml_rng_permutation(perm, f->test.n, s->seed, ML_STREAM_PROBE);
    for (int i = 0; i < P; i++)
        memcpy(f->probe_x + (long)i * f->test.dim, f->test.x + (long)perm[i] * f->test.dim,
               (size_t)f->test.dim * sizeof(float));
cleanup:
    free(perm);
    return error;
}

static void mlp_close(ml_study *st) {
    mlp_state *f = MLP(st);
    if (!f) return;
    for (int r = 0; r < ML_NRUNS; r++) trainer_free(&f->run[r]);
    ml_mlp_free(f->scratch);
    ml_mlp_mix_free(f->router);
    free(f->probe_x);
    eval_set_free(&f->test_set);
    eval_set_free(&f->val_set);
    free(f->trainable);
    free(f->held);
    ml_dataset_free(&f->train);
    ml_dataset_free(&f->test);
    free(f);
    st->impl = NULL;
}

static int mlp_run_new(ml_study *st, int r, const float *init) {
    const ml_suite *s = st->s;
    mlp_state *f = MLP(st);
    int error;
    if (r == ML_RUN_BASE) {
        if ((error = trainer_init(&f->run[r], "base", s, &f->train, &s->pretrain_split, s->pretrain_seed, 0, NULL,
                                  f->trainable)) < 0)
            return error;
        f->run[r].opt->cfg.lr = (float)s->pretrain.lr;
        st->np = f->run[r].model->layout.total;
        return 0;
    }
    if (r == ML_RUN_DIRECT)
        return trainer_init(&f->run[r], "direct", s, &f->train, &s->target, s->seed, 3, init, f->trainable);
    int k = r - ML_RUN_A;
    return trainer_init(&f->run[r], s->specialists[k].name, s, &f->train, &s->specialists[k], s->seed, 1 + (uint64_t)k,
                        init, f->trainable);
}

static float *mlp_params(ml_study *st, int r) {
    mlp_state *f = MLP(st);
    return r == ML_RUN_SCRATCH ? f->scratch->params : f->run[r].model->params;
}

static const ml_layout *mlp_layout(ml_study *st) { return &MLP(st)->scratch->layout; }

static int mlp_step(ml_study *st, int r, const ml_phase *ph, int step, const char *phase, float *loss) {
    return train_step(&MLP(st)->run[r], st->s, &MLP(st)->train, ph, step, phase, loss);
}

static void mlp_probe(ml_study *st, int r, float **rep, float **tok) {
    (void)tok;
    probe_hidden(MLP(st)->run[r].model, MLP(st)->probe_x, st->s->probe_size, rep);
}

static int mlp_stats(ml_study *st, const ml_merge_spec *ms, ml_merge_stats *out) {
    const ml_suite *s = st->s;
    mlp_state *f = MLP(st);
    mlp_stats_buf *b = NULL;
    int error, L = s->model.n_hidden;
    trainer *spec = &f->run[ML_RUN_A];
    memset(out, 0, sizeof(*out));
    if ((error = ml_calloc((void **)&b, 1, sizeof(*b))) < 0) return error;
    out->buf = b;
    if (ms->method == ML_MERGE_FISHER) {
        for (int k = 0; k < 2 && error == 0; k++)
            if ((error = ml_malloc((void **)&b->fisher[k], st->np * sizeof(float))) == 0)
                error = mlp_fisher(b->fisher[k], &spec[k], &f->train, ms->examples, ms->seed, ML_STREAM_STATS + (uint64_t)k);
        out->fishers = (const float *const *)b->fisher;
        out->examples = ms->examples < spec[0].n ? ms->examples : spec[0].n;
        return error;
    }
    float *xb = NULL;
    error = ml_malloc((void **)&xb, (size_t)spec[0].model->max_batch * f->train.dim * sizeof(float));
    for (int k = 0; k < 2 && error == 0; k++) {
        for (int l = 0; l <= L && error == 0; l++) {
            int I = l == 0 ? s->model.in_dim : s->model.hidden[l - 1];
            error = ml_calloc((void **)&b->grams[k][l], (size_t)I * I, sizeof(float));
        }
        if (error == 0)
            error = mlp_grams(b->grams[k], &spec[k], &f->train, ms->examples, ms->seed, ML_STREAM_STATS + (uint64_t)k, xb);
    }
    free(xb);
    /* An input that is 0 on every example of every model (a dead ReLU unit)
     * leaves a zero row and column in each Gram matrix and makes the sum
     * singular. It carries no information, so weight the models equally
     * there: G_jj = 1 in each, which makes RegMean average that column of W. */
    for (int l = 0; l <= L && error == 0; l++) {
        int I = l == 0 ? s->model.in_dim : s->model.hidden[l - 1];
        for (int j = 0; j < I; j++) {
            long jj = (long)j * I + j;
            if (b->grams[0][l][jj] == 0.0f && b->grams[1][l][jj] == 0.0f) b->grams[0][l][jj] = b->grams[1][l][jj] = 1.0f;
        }
    }
    for (int l = 0; l <= L; l++) {
        b->gptr[l][0] = b->grams[0][l];
        b->gptr[l][1] = b->grams[1][l];
        b->layers[l].tensor = 2 * l;   /* fc<l+1>.weight */
        b->layers[l].grams = b->gptr[l];
    }
    out->layers = b->layers;
    out->nlayers = L + 1;
    out->examples = ms->examples;
    return error;
}

static void mlp_stats_free(ml_study *st, ml_merge_stats *stats) {
    (void)st;
    mlp_stats_buf *b = stats->buf;
    if (!b) return;
    for (int k = 0; k < 2; k++) {
        free(b->fisher[k]);
        for (int l = 0; l <= ML_MLP_MAX_HIDDEN; l++) free(b->grams[k][l]);
    }
    free(b);
    memset(stats, 0, sizeof(*stats));
}

/* An interpolation: the alpha sweep of the two specialists' outputs, selected
 * on validation loss (the test curves are recorded beside it); or a router. */
static int mlp_mixture(ml_study *st, int g, cJSON *info) {
    const ml_suite *s = st->s;
    const ml_merge_spec *ms = &s->merges[g];
    mlp_state *f = MLP(st);
    trainer *spec = &f->run[ML_RUN_A];
    ml_mlp_mix_free(f->router);
    f->router = NULL;
    if (ms->method == ML_MERGE_ROUTER)
        return mlp_router(&f->router, info, ms, s, &f->run[ML_RUN_DIRECT], f->run[ML_RUN_BASE].model, spec[0].model,
                          spec[1].model, &f->train, &f->val_set, 20 + (uint64_t)g, st->opt);
    const ml_mlp *pair[2] = { spec[0].model, spec[1].model };
    double vl[ML_MAX_ALPHAS], tl[ML_MAX_ALPHAS], ta[ML_MAX_ALPHAS], va;
    int best = 0;
    for (int a = 0; a < ms->nalphas; a++) {
        double w[2] = { ms->alphas[a], 1.0 - ms->alphas[a] };
        ml_mlp_evaluate_mix(f->scratch, pair, w, 2, f->val_set.x, f->val_set.y, f->val_set.n, &va, &vl[a]);
        ml_mlp_evaluate_mix(f->scratch, pair, w, 2, f->test_set.x, f->test_set.y, f->test_set.n, &ta[a], &tl[a]);
        if (vl[a] < vl[best]) best = a;
    }
    f->mix_w[0] = ms->alphas[best];
    f->mix_w[1] = 1.0 - ms->alphas[best];
    ml_results_interpolation(info, ms, best, spec[0].name, vl, tl, ta);
    return 0;
}

/* Test accuracy and loss on the target's classes. */
/* Accuracy and loss of a model on one evaluation set. */
static int mlp_eval_on(ml_study *st, const ml_study_model *m, const eval_set *t, double *acc, double *loss) {
    mlp_state *f = MLP(st);
    *acc = *loss = NAN;
    if (m->kind == ML_STUDY_PARAMS) {
        if (m->params != f->scratch->params) memcpy(f->scratch->params, m->params, st->np * sizeof(float));
        ml_mlp_evaluate(f->scratch, t->x, t->y, t->n, acc, loss);
    } else if (m->kind == ML_STUDY_ENSEMBLE) {
        return eval_ensemble(f->run[ML_RUN_A].model, f->run[ML_RUN_B].model, m->ms->weights, m->ms->prob_ensemble, t->x,
                             t->y, t->n, acc, loss);
    } else if (f->router) {
        ml_mlp_mix_evaluate(f->router, t->x, t->y, t->n, acc, loss);
    } else {
        const ml_mlp *pair[2] = { f->run[ML_RUN_A].model, f->run[ML_RUN_B].model };
        ml_mlp_evaluate_mix(f->scratch, pair, f->mix_w, 2, t->x, t->y, t->n, acc, loss);
    }
    return 0;
}

/* Test accuracy and loss (reported), and the same on the validation
 * examples held out of the target's training split: what the findings'
 * choices (the best router, the best of a family) are made on. */
static int mlp_score(ml_study *st, const ml_study_model *m, int is_merge, const char *name, cJSON *me, cJSON *metrics) {
    mlp_state *f = MLP(st);
    double acc, loss;
    int error;
    (void)is_merge;
    if ((error = mlp_eval_on(st, m, &f->test_set, &acc, &loss)) < 0) return error;
    ml_results_score(me, metrics, name, "test_acc", acc, 1);
    ml_results_score(me, metrics, name, "test_loss", loss, 1);
    if ((error = mlp_eval_on(st, m, &f->val_set, &acc, &loss)) < 0) return error;
    ml_results_score(me, metrics, name, "valid_acc", acc, 1);
    ml_results_score(me, metrics, name, "valid_loss", loss, 1);
    return 0;
}

static void mlp_describe(ml_study *st, cJSON *data) {
    const ml_dataset *sets[2] = { &MLP(st)->train, &MLP(st)->test };
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 2; i++) {
            const ml_data_file *x = &sets[d]->files[i];
            cJSON_AddItemToArray(data, ml_results_data_file(x->path, x->sha256, (double)x->bytes));
        }
}

const ml_study_family ml_study__mlp = {
    "hidden%d", NULL, mlp_open, mlp_close, mlp_run_new, mlp_params, mlp_layout, mlp_step, mlp_probe,
    mlp_stats, mlp_stats_free, mlp_mixture, mlp_score, mlp_describe,
};
