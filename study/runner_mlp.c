/*
 * study/runner_mlp.c: the study on the MLP family (Fashion-MNIST class
 * splits).
 * Specialists are trained in lockstep so that their CKA can be measured at
 * the same fine-tuning step without storing checkpoints. Every random
 * choice comes from the counter-based RNG keyed by (seed, stream, counter),
 * so results depend only on the suite, the seed and the BLAS thread count.
 */
#include "study/runner.h"
#include "study/run_common.h"
#include "study/merge_apply.h"
#include "core/error.h"
#include "data/fmnist.h"
#include "kernels/adamw.h"
#include "kernels/cka.h"
#include "kernels/gemm.h"
#include "kernels/merge.h"
#include "kernels/gpt_mix.h"   /* ml_logit_ensemble, ml_prob_ensemble */
#include "kernels/layers.h"
#include "kernels/mlp.h"
#include "kernels/mlp_mix.h"
#include "kernels/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
static int train_step(trainer *t, const ml_suite *s, const ml_dataset *d, double base_lr, int step, int total,
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
    ml_adamw_step(t->opt, m->params, m->grads, ml_lr_at((float)base_lr, step, total, s->warmup, s->schedule == ML_SCHED_COSINE, (float)s->min_lr_ratio), NULL);
    if (loss_out) *loss_out = loss;
    return 0;
}

/* Trains for ph->steps; with snap, the parameters at each of the suite's points
 * (finetune.points, the last being the end) go to snap (npoints, np). */
static int train_run(trainer *t, const ml_suite *s, const ml_dataset *d, const ml_phase *ph, const char *phase,
                     const char *progress_phase, const ml_run_options *opt, float *snap) {
    float loss = 0.0f;
    int error, pi = 0;
    size_t np = t->model->layout.total;
    for (int step = 0; step <= ph->steps; step++) {
        if (snap && pi < s->npoints && step == s->points[pi]) memcpy(snap + (size_t)pi++ * np, t->model->params, np * sizeof(float));
        if (step == ph->steps) break;
        if ((error = train_step(t, s, d, ph->lr, step, ph->steps, phase, &loss)) < 0) return error;
        ml_run__progress(opt, progress_phase, step + 1, ph->steps, loss);
        if ((step + 1) % 100 == 0)
            ml_run__log(opt, "  %s %s step %d/%d loss %.4f\n", phase, t->name, step + 1, ph->steps, loss);
    }
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

static cJSON *model_entry(const char *name, const char *role, double acc, double loss) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "role", role);
    cJSON_AddNumberToObject(o, "test_acc", acc);
    cJSON_AddNumberToObject(o, "test_loss", loss);
    return o;
}

static cJSON *data_entry(const ml_data_file *f) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", f->path);
    cJSON_AddStringToObject(o, "sha256", f->sha256);
    cJSON_AddNumberToObject(o, "bytes", (double)f->bytes);
    return o;
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
    ml_adamw_config oc = { (float)ms->lr, (float)s->beta1, (float)s->beta2, (float)s->eps, (float)s->weight_decay };
    if ((error = ml_mlp_mix_new(&m, &s->model, experts, E, ms->top_k, ms->shared, B > 1000 ? B : 1000)) < 0 ||
        (error = ml_adamw_new(&opt, &m->layout, &oc)) < 0 ||
        (error = ml_malloc((void **)&best, m->layout.total * sizeof(float))) < 0)
        goto cleanup;
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
    ml_run__router_info(info, ms, 1, E, Br, &sel);
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

/* What evaluating a merge at one point reads: the suite, the models as they
 * are at that point, the data, and a scratch model to merge into. */
typedef struct {
    const ml_suite *s;
    const ml_run_options *opt;
    const ml_dataset *train;
    trainer *base, *spec, *direct;    /* spec: the two specialists */
    ml_mlp *merged;
    const eval_set *test, *val;
} mlp_eval;

/* Merge g of the suite at the current point: *me its model entry (method
 * added by the caller), *acc and *loss on the target's test set; an
 * interpolation's selected alpha goes to metrics. */
static int eval_merge(cJSON **me_out, double *acc, double *loss, const mlp_eval *ev, int g, cJSON *metrics) {
    const ml_suite *s = ev->s;
    const ml_merge_spec *ms = &s->merges[g];
    trainer *spec = ev->spec;
    ml_mlp *merged = ev->merged;
    int error = 0, L = s->model.n_hidden;
    cJSON *me;
    if (ms->method == ML_MERGE_ROUTER) {
        ml_mlp_mix *rm = NULL;
        cJSON *info = cJSON_CreateObject();
        if ((error = mlp_router(&rm, info, ms, s, ev->direct, ev->base->model, spec[0].model, spec[1].model, ev->train, ev->val,
                                20 + (uint64_t)g, ev->opt)) < 0) {
            cJSON_Delete(info);
            ml_error_prefix("%s: merge '%s'", s->file, ms->name);
            return error;
        }
        ml_mlp_mix_evaluate(rm, ev->test->x, ev->test->y, ev->test->n, acc, loss);
        ml_mlp_mix_free(rm);
        me = model_entry(ms->name, "merge", *acc, *loss);
        for (cJSON *it = info->child; it; it = info->child)
            cJSON_AddItemToObject(me, it->string, cJSON_DetachItemViaPointer(info, it));
        cJSON_Delete(info);
    } else if (ms->method == ML_MERGE_ENSEMBLE) {
        if ((error = eval_ensemble(spec[0].model, spec[1].model, ms->weights, ms->prob_ensemble, ev->test->x, ev->test->y,
                                   ev->test->n, acc, loss)) < 0)
            return error;
        me = model_entry(ms->name, "merge", *acc, *loss);
        cJSON_AddStringToObject(me, "space", ms->prob_ensemble ? "probabilities" : "logits");
        cJSON_AddItemToObject(me, "weights", cJSON_CreateDoubleArray(ms->weights, ms->nmodels));
    } else if (ms->method == ML_MERGE_INTERPOLATE) {
        /* the alpha sweep: select on validation loss, report on test */
        const ml_mlp *pair[2] = { spec[0].model, spec[1].model };
        double vl[ML_MAX_ALPHAS], tl[ML_MAX_ALPHAS], ta[ML_MAX_ALPHAS], va;
        int best = 0;
        for (int a = 0; a < ms->nalphas; a++) {
            double w[2] = { ms->alphas[a], 1.0 - ms->alphas[a] };
            ml_mlp_evaluate_mix(merged, pair, w, 2, ev->val->x, ev->val->y, ev->val->n, &va, &vl[a]);
            ml_mlp_evaluate_mix(merged, pair, w, 2, ev->test->x, ev->test->y, ev->test->n, &ta[a], &tl[a]);
            if (vl[a] < vl[best]) best = a;
        }
        *acc = ta[best];
        *loss = tl[best];
        me = model_entry(ms->name, "merge", *acc, *loss);
        cJSON_AddNumberToObject(me, "alpha", ms->alphas[best]);
        cJSON_AddStringToObject(me, "alpha_of", spec[0].name);
        cJSON_AddItemToObject(me, "alphas", cJSON_CreateDoubleArray(ms->alphas, ms->nalphas));
        cJSON_AddItemToObject(me, "val_loss", cJSON_CreateDoubleArray(vl, ms->nalphas));
        cJSON_AddItemToObject(me, "test_loss_curve", cJSON_CreateDoubleArray(tl, ms->nalphas));
        cJSON_AddItemToObject(me, "test_acc_curve", cJSON_CreateDoubleArray(ta, ms->nalphas));
        ml_run__add_metric(metrics, ms->name, "alpha", ms->alphas[best]);
    } else {
        const float *inputs[2] = { spec[0].model->params, spec[1].model->params };
        ml_merge_stats st = { NULL, NULL, 0 };
        float *fisher[2] = { NULL, NULL }, *grams[2][ML_MLP_MAX_HIDDEN + 1] = { { NULL } };
        ml_regmean_layer layers[ML_MLP_MAX_HIDDEN + 1];
        const float *gptr[ML_MLP_MAX_HIDDEN + 1][2];
        int examples = ms->examples;
        if (ms->method == ML_MERGE_FISHER) {
            for (int k = 0; k < 2 && error == 0; k++)
                if ((error = ml_malloc((void **)&fisher[k], merged->layout.total * sizeof(float))) == 0)
                    error = mlp_fisher(fisher[k], &spec[k], ev->train, ms->examples, ms->seed, ML_STREAM_STATS + (uint64_t)k);
            st.fishers = (const float *const *)fisher;
            examples = ms->examples < spec[0].n ? ms->examples : spec[0].n;
        } else if (ms->method == ML_MERGE_REGMEAN) {
            float *xb = NULL;
            error = ml_malloc((void **)&xb, (size_t)spec[0].model->max_batch * ev->train->dim * sizeof(float));
            for (int k = 0; k < 2 && error == 0; k++) {
                for (int l = 0; l <= L && error == 0; l++) {
                    int I = l == 0 ? s->model.in_dim : s->model.hidden[l - 1];
                    error = ml_calloc((void **)&grams[k][l], (size_t)I * I, sizeof(float));
                }
                if (error == 0)
                    error = mlp_grams(grams[k], &spec[k], ev->train, ms->examples, ms->seed, ML_STREAM_STATS + (uint64_t)k, xb);
            }
            free(xb);
            /* An input that is 0 on every example of every model (a dead
             * ReLU unit) leaves a zero row and column in each Gram matrix
             * and makes the sum singular. It carries no information, so
             * weight the models equally there: G_jj = 1 in each, which
             * makes RegMean average that column of W. */
            for (int l = 0; l <= L && error == 0; l++) {
                int I = l == 0 ? s->model.in_dim : s->model.hidden[l - 1];
                for (int j = 0; j < I; j++) {
                    long jj = (long)j * I + j;
                    if (grams[0][l][jj] == 0.0f && grams[1][l][jj] == 0.0f) grams[0][l][jj] = grams[1][l][jj] = 1.0f;
                }
            }
            for (int l = 0; l <= L; l++) {
                gptr[l][0] = grams[0][l];
                gptr[l][1] = grams[1][l];
                layers[l].tensor = 2 * l;   /* fc<l+1>.weight */
                layers[l].grams = gptr[l];
            }
            st.layers = layers;
            st.nlayers = L + 1;
        }
        if (error == 0)
            error = ml_merge_apply(merged->params, ms, &merged->layout, ev->base->model->params, inputs, 2, &st);
        for (int k = 0; k < 2; k++) {
            free(fisher[k]);
            for (int l = 0; l <= L; l++) free(grams[k][l]);
        }
        if (error < 0) {
            ml_error_prefix("%s: merge '%s'", s->file, ms->name);
            return error;
        }
        ml_mlp_evaluate(merged, ev->test->x, ev->test->y, ev->test->n, acc, loss);
        me = model_entry(ms->name, "merge", *acc, *loss);
        if (ms->method == ML_MERGE_AVERAGE || ms->method == ML_MERGE_FISHER)
            cJSON_AddItemToObject(me, "weights", cJSON_CreateDoubleArray(ms->weights, ms->nmodels));
        if (ms->method == ML_MERGE_FISHER || ms->method == ML_MERGE_REGMEAN)
            cJSON_AddNumberToObject(me, "examples", examples);
    }
    *me_out = me;
    return 0;
}

int ml_run__mlp(cJSON **out, const ml_suite *s, const ml_run_options *opt) {
    ml_dataset train = { 0 }, test = { 0 };
    trainer base = { 0 }, spec[2] = { { 0 } }, direct = { 0 };
    ml_mlp *merged = NULL;
    float *probe_x = NULL, *acts[2][ML_MLP_MAX_HIDDEN] = { { 0 } }, *base_acts[ML_MLP_MAX_HIDDEN] = { 0 };
    ml_cka_track track = { 0 };
    unsigned char *trainable = NULL, *held = NULL;   /* (train.n) examples used for training / held out */
    eval_set test_set = { 0 }, val_set = { 0 };
    int *perm = NULL, error, L = s->model.n_hidden, P = s->probe_size;
    int nck = s->ncka;
    cJSON *res = NULL, *own_pt = NULL, *models, *metrics, *cka;
    double t0, t_pre, t_ft, t_dir, t_eval, acc, loss;
    ml_run__phase phase = { -1, 0, NULL };
    float *pack = NULL;                 /* (npts, 2, np) both specialists at every point, as cached */
    float *dpack = NULL;                /* (npts, np) the direct fine-tune at every point, as cached */
    int npts = s->npoints > 0 ? s->npoints : 1;
    double *track_buf = NULL;
    int cached[3] = { 0, 0, 0 };        /* base, specialists, direct came from the cache */
    *out = NULL;

    if (opt && opt->stage != ML_STAGE_ALL)
        return ml_error_set(ML_EINVALID, "%s: runs in parts are for gpt suites with finetune.points", s->file);
    int threads = opt && opt->threads > 0 ? opt->threads : (s->threads > 0 ? s->threads : 1);
    ml_blas_set_threads(threads);

    t0 = ml_run__now();
    if ((error = ml_fmnist_load(&train, s->data_dir, 1)) < 0 || (error = ml_fmnist_load(&test, s->data_dir, 0)) < 0)
        goto cleanup;
    if (P > test.n) { error = ml_error_set(ML_EINVALID, "%s: $.cka.probe_size: %d exceeds the %d test examples", s->file, P, test.n); goto cleanup; }
    /* a fixed validation subset of the train images, the same for every
     * seed, never trained on: merges and routers are selected on it and
     * reported on the test set */
    if ((error = ml_calloc((void **)&trainable, (size_t)train.n, 1)) < 0 ||
        (error = ml_calloc((void **)&held, (size_t)train.n, 1)) < 0 ||
        (error = ml_malloc((void **)&perm, (size_t)train.n * sizeof(int))) < 0)
        goto cleanup;
    ml_rng_permutation(perm, train.n, 0, ML_STREAM_VALID);
    for (int i = 0; i < train.n; i++) {
        int h = i < s->validation_size;
        held[perm[i]] = (unsigned char)h;
        trainable[perm[i]] = (unsigned char)!h;
    }
    free(perm);
    perm = NULL;

    /* 1. pretrain the base */
    ml_run__log(opt, "mergelab: %s: pretraining base for %d steps\n", s->name, s->pretrain.steps);
    if ((error = trainer_init(&base, "base", s, &train, &s->pretrain_split, s->pretrain_seed, 0, NULL, trainable)) < 0) goto cleanup;
    base.opt->cfg.lr = (float)s->pretrain.lr;
    size_t np = base.model->layout.total;
    if ((error = ml_run__phase_begin(&phase, opt, opt ? opt->key_base : NULL, base.model->params, np, NULL, 0)) < 0)
        goto cleanup;
    cached[0] = phase.hit;
    if (!phase.hit && s->pretrain_threads > 0) ml_blas_set_threads(s->pretrain_threads);
    if (!phase.hit && (error = train_run(&base, s, &train, &s->pretrain, "pretraining", "pretrain", opt, NULL)) < 0) goto cleanup;
    ml_blas_set_threads(threads);
    if ((error = ml_run__phase_end(&phase, opt, base.model->params, np, NULL, 0)) < 0) goto cleanup;
    t_pre = ml_run__now();

    /* 2. specialists in lockstep, CKA on a fixed probe set at the suite's cka steps */
    if ((error = ml_malloc((void **)&perm, (size_t)test.n * sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&probe_x, (size_t)P * test.dim * sizeof(float))) < 0 ||
        (error = ml_run__cka_track_new(&track, L, nck)) < 0)
        goto cleanup;
    ml_rng_permutation(perm, test.n, s->seed, ML_STREAM_PROBE);
    for (int i = 0; i < P; i++)
        memcpy(probe_x + (long)i * test.dim, test.x + (long)perm[i] * test.dim, (size_t)test.dim * sizeof(float));
    for (int k = 0; k < 2; k++) {
        if ((error = trainer_init(&spec[k], s->specialists[k].name, s, &train, &s->specialists[k], s->seed, 1 + (uint64_t)k,
                                  base.model->params, trainable)) < 0)
            goto cleanup;
        for (int l = 0; l < L; l++)
            if ((error = ml_malloc((void **)&acts[k][l], (size_t)P * s->model.hidden[l] * sizeof(float))) < 0)
                goto cleanup;
    }
    for (int l = 0; l < L; l++)
        if ((error = ml_malloc((void **)&base_acts[l], (size_t)P * s->model.hidden[l] * sizeof(float))) < 0)
            goto cleanup;
    size_t npack = (size_t)npts * 2 * np;
    if ((error = ml_malloc((void **)&pack, npack * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&track_buf, ml_run__track_size(&track) * sizeof(double))) < 0 ||
        (error = ml_run__phase_begin(&phase, opt, opt ? opt->key_specialists : NULL, pack, npack, track_buf,
                                     ml_run__track_size(&track))) < 0)
        goto cleanup;
    cached[1] = phase.hit;
    if (phase.hit) ml_run__track_unpack(&track, track_buf);
    probe_hidden(base.model, probe_x, P, base_acts);   /* the base does not change */
    if (!phase.hit) ml_run__log(opt, "mergelab: %s: fine-tuning %s and %s for %d steps\n", s->name,
                                       s->specialists[0].name, s->specialists[1].name, s->finetune.steps);
    for (int step = 0, ck = 0, pi = 0; !phase.hit && step <= s->finetune.steps; step++) {
        if (pi < npts && step == s->points[pi]) {   /* a state kept for the evaluation at this point */
            for (int k = 0; k < 2; k++)
                memcpy(pack + ((size_t)pi * 2 + k) * np, spec[k].model->params, np * sizeof(float));
            pi++;
        }
        if (ck < nck && step == s->cka_steps[ck]) {
            for (int k = 0; k < 2; k++) probe_hidden(spec[k].model, probe_x, P, acts[k]);
            if ((error = ml_run__cka_point(&track, ck, acts[0], acts[1], base_acts, s->model.hidden, P)) < 0) {
                ml_error_prefix("%s: CKA at step %d", s->file, step);
                goto cleanup;
            }
            ck++;
        }
        if (step == s->finetune.steps) break;
        float fl = 0.0f;
        for (int k = 0; k < 2; k++)
            if ((error = train_step(&spec[k], s, &train, s->finetune.lr, step, s->finetune.steps,
                                    "fine-tuning", &fl)) < 0)
                goto cleanup;
        ml_run__progress(opt, "finetune", step + 1, s->finetune.steps, fl);
    }
    if (!phase.hit) {
        /* the last point's activations are still in acts: the layer x layer
         * matrix and the RBF kernel there, cached with the curves */
        if ((error = ml_run__cka_final(&track, acts[0], acts[1], base_acts, s->model.hidden, P)) < 0) goto cleanup;
        ml_run__track_pack(track_buf, &track);
    }
    if ((error = ml_run__phase_end(&phase, opt, pack, npack, track_buf, ml_run__track_size(&track))) < 0)
        goto cleanup;
    t_ft = ml_run__now();

    /* 3. direct fine-tune of the base on the target, same step budget */
    if ((error = trainer_init(&direct, "direct", s, &train, &s->target, s->seed, 3, base.model->params, trainable)) < 0 ||
        (error = ml_malloc((void **)&dpack, (size_t)npts * np * sizeof(float))) < 0 ||
        (error = ml_run__phase_begin(&phase, opt, opt ? opt->key_direct : NULL, dpack, (size_t)npts * np, NULL, 0)) < 0)
        goto cleanup;
    cached[2] = phase.hit;
    if ((!phase.hit && (error = train_run(&direct, s, &train, &s->finetune, "direct fine-tuning", "direct", opt, dpack)) < 0) ||
        (error = ml_run__phase_end(&phase, opt, dpack, (size_t)npts * np, NULL, 0)) < 0)
        goto cleanup;
    t_dir = ml_run__now();
    ml_run__progress(opt, "merge", 0, 0, NAN);

    /* 4. evaluate base, specialists, merges and the direct fine-tune on the target */
    if ((error = eval_set_make(&test_set, &test, &s->target, NULL)) < 0 ||
        (error = eval_set_make(&val_set, &train, &s->target, held)) < 0 ||
        (error = ml_mlp_new(&merged, &s->model, 1000)) < 0)
        goto cleanup;
    res = cJSON_CreateObject();
    cJSON *points = npts > 1 ? cJSON_AddArrayToObject(res, "points") : NULL;
    mlp_eval ev = { s, opt, &train, &base, spec, &direct, merged, &test_set, &val_set };
    /* every model at every point (finetune.points), each from the states kept there;
     * the last point is the end of fine-tuning and is also the cell's top-level result */
    for (int pi = 0; pi < npts; pi++) {
        for (int k = 0; k < 2; k++)
            memcpy(spec[k].model->params, pack + ((size_t)pi * 2 + k) * np, np * sizeof(float));
        memcpy(direct.model->params, dpack + (size_t)pi * np, np * sizeof(float));
        cJSON *pt = cJSON_CreateObject();
        if (points) cJSON_AddItemToArray(points, pt);
        else own_pt = pt;
        cJSON_AddNumberToObject(pt, "step", s->points[pi]);
        models = cJSON_AddArrayToObject(pt, "models");
        metrics = cJSON_AddObjectToObject(pt, "metrics");
        if (npts > 1) ml_run__log(opt, "mergelab: %s: evaluating at fine-tuning step %d\n", s->name, s->points[pi]);
        struct { const char *name, *role; ml_mlp *m; } evals[4] = {
            { "base", "base", base.model }, { spec[0].name, "specialist", spec[0].model },
            { spec[1].name, "specialist", spec[1].model }, { "direct", "direct", direct.model } };
        for (int e = 0; e < 4; e++) {
            memcpy(merged->params, evals[e].m->params, merged->layout.total * sizeof(float));
            ml_mlp_evaluate(merged, test_set.x, test_set.y, test_set.n, &acc, &loss);
            cJSON_AddItemToArray(models, model_entry(evals[e].name, evals[e].role, acc, loss));
            ml_run__add_metric(metrics, evals[e].name, "test_acc", acc);
            ml_run__add_metric(metrics, evals[e].name, "test_loss", loss);
        }
        for (int g = 0; g < s->nmerges; g++) {
            const ml_merge_spec *ms = &s->merges[g];
            cJSON *me = NULL;
            if ((error = eval_merge(&me, &acc, &loss, &ev, g, metrics)) < 0) goto cleanup;
            cJSON_AddStringToObject(me, "method", ml_merge_method_name(ms->method));
            cJSON_AddItemToArray(models, me);
            ml_run__add_metric(metrics, ms->name, "test_acc", acc);
            ml_run__add_metric(metrics, ms->name, "test_loss", loss);
        }
        if (pi == npts - 1) {   /* the end of fine-tuning: the cell's own models and metrics */
            models = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(pt, "models"), 1);
            metrics = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(pt, "metrics"), 1);
            cJSON_AddItemToObject(res, "models", models);
            cJSON_AddItemToObject(res, "metrics", metrics);
        }
        cJSON_Delete(own_pt);
        own_pt = NULL;
    }

    /* 5. CKA: curves over steps, and at the last point (the activations
     * still hold it) the layer x layer matrix and the RBF kernel */
    {
        char names[ML_MLP_MAX_HIDDEN][32];
        const char *lnames[ML_MLP_MAX_HIDDEN];
        for (int l = 0; l < L; l++) {
            snprintf(names[l], sizeof(names[l]), "hidden%d", l + 1);
            lnames[l] = names[l];
        }
        cka = ml_run__cka_report(res, metrics, &track, spec[0].name, spec[1].name, lnames, s->cka_steps);
        cJSON_AddNumberToObject(cka, "probe_size", P);
    }
    t_eval = ml_run__now();

    /* 6. what gates it, and what it took */
    cJSON *data = cJSON_AddArrayToObject(res, "data");
    for (int f = 0; f < 2; f++) cJSON_AddItemToArray(data, data_entry(&train.files[f]));
    for (int f = 0; f < 2; f++) cJSON_AddItemToArray(data, data_entry(&test.files[f]));
    cJSON_AddNumberToObject(res, "seed", (double)s->seed);
    cJSON_AddNumberToObject(res, "pretrain_seed", (double)s->pretrain_seed);
    if (s->pretrain_threads > 0) cJSON_AddNumberToObject(res, "pretrain_threads", s->pretrain_threads);
    cJSON_AddNumberToObject(res, "threads", ml_blas_threads());
    double phases[5] = { t0, t_pre, t_ft, t_dir, t_eval };
    ml_run__add_timing(res, phases);
    ml_run__add_cached(res, cached);
    ml_run__add_step_times(res, cached, s->pretrain.steps, s->finetune.steps);
    *out = res;
    res = NULL;
cleanup:
    cJSON_Delete(res);
    cJSON_Delete(own_pt);
    trainer_free(&base);
    trainer_free(&spec[0]);
    trainer_free(&spec[1]);
    trainer_free(&direct);
    ml_mlp_free(merged);
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < ML_MLP_MAX_HIDDEN; l++) free(acts[k][l]);
    free(probe_x);
    free(perm);
    ml_run__phase_abort(&phase);
    free(pack);
    free(dpack);
    free(track_buf);
    ml_run__cka_track_free(&track);
    for (int l = 0; l < ML_MLP_MAX_HIDDEN; l++) free(base_acts[l]);
    eval_set_free(&test_set);
    eval_set_free(&val_set);
    free(trainable);
    free(held);
    ml_dataset_free(&train);
    ml_dataset_free(&test);
    return error;
}
