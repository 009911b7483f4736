/*
 * study/family_gpt.c: the GPT family and the generated text domains
 * behind study.h's table, following the paper's protocol at small scale
 * (shared/PAPER.md): the base pretrains on the base corpus (all weights);
 * the specialists and the direct fine-tune train only the suite's
 * parameter groups (the paper's MLP-only by default); CKA compares every
 * block's residual stream on a fixed probe of target validation windows;
 * models are scored on held-out target text (loss and exact match) and on
 * each specialist's own domain.
 * Exact match is computed with teacher forcing: greedy decoding reproduces
 * the reference answer exactly iff, at every answer position, the argmax
 * of the next-token distribution given the reference prefix is the
 * reference token (induction over positions). One forward per batch of
 * documents replaces a decode loop per token; tests/test_gpt_tasks.c checks
 * the equivalence against real greedy decoding (ml_gpt_greedy).
 * Not here: the protocol (protocol.c), the merge dispatch (merge.c), the
 * kernels (kernels/gpt.c), the generators (data/text.c).
 */
#include "study/study.h"
#include "study/run_common.h"
#include "core/error.h"
#include "data/text.h"
#include "kernels/adamw.h"
#include "kernels/cka.h"
#include "kernels/gemm.h"
#include "kernels/gpt.h"
#include "kernels/gpt_mix.h"
#include "kernels/router.h"
#include "kernels/layers.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    ml_gpt   *model;
    ml_adamw *opt;
    const ml_corpus *data;
    uint64_t  seed;        /* initialisation (the base) and batch order */
    uint64_t  stream;      /* batch stream of this run */
    int32_t  *x, *y;       /* (B,T) */
} gtrainer;

static void gtrainer_free(gtrainer *t) {
    ml_gpt_free(t->model);
    ml_adamw_free(t->opt);
    free(t->x);
    free(t->y);
    memset(t, 0, sizeof(*t));
}

static int gtrainer_init(gtrainer *t, const char *name, const ml_suite *s, const ml_corpus *data, uint64_t seed,
                         uint64_t stream, const float *init_params) {
    ml_adamw_config oc = { (float)s->finetune.lr, (float)s->beta1, (float)s->beta2, (float)s->eps,
                           (float)s->weight_decay };
    int B = s->batch_size, T = s->gpt.max_T, error;
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->data = data;
    t->seed = seed;
    t->stream = stream;
    if ((error = ml_gpt_new(&t->model, &s->gpt, B, T)) < 0 ||
        (error = ml_adamw_new(&t->opt, &t->model->layout, &oc)) < 0 ||
        (error = ml_malloc((void **)&t->x, (size_t)B * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&t->y, (size_t)B * T * sizeof(int32_t))) < 0)
        return error;
    if (init_params) memcpy(t->model->params, init_params, t->model->layout.total * sizeof(float));
    else ml_gpt_init(t->model, seed);
    return 0;
}

/* One optimiser step over grad_accum micro-batches: backward accumulates,
 * so the summed gradient is scaled by 1/grad_accum to be the gradient of
 * the mean loss over all of them (equal-sized micro-batches). */
static int gtrain_step(gtrainer *t, const ml_suite *s, const ml_phase *ph, int step, const unsigned char *mask,
                       const char *phase, float *loss_out) {
    ml_gpt *m = t->model;
    int B = s->batch_size, T = s->gpt.max_T, k = s->grad_accum, error;
    double total = 0.0;
    ml_par_zero(m->grads, (long)m->layout.total);
    for (int micro = 0; micro < k; micro++) {
        if ((error = ml_corpus_batch(t->x, t->y, t->data, B, T, t->seed, t->stream, (uint64_t)step * k + micro)) < 0) {
            ml_error_prefix("%s: %s of '%s'", s->file, phase, t->name);
            return error;
        }
        float loss = ml_gpt_forward(m, t->x, t->y, B, T, -1, NULL);
        if (!isfinite(loss))
            return ml_error_set(ML_ERUN, "%s: %s of '%s' diverged: loss is %s at step %d (lower the lr?)", s->file,
                                phase, t->name, isnan(loss) ? "nan" : "inf", step);
        if ((error = ml_gpt_backward(m, t->x, t->y, mask)) < 0) return error;
        total += loss;
    }
    if (k > 1) {
        float inv = 1.0f / (float)k;
        for (size_t i = 0; i < m->layout.total; i++) m->grads[i] *= inv;
    }
    if (s->grad_clip > 0.0) ml_clip_grad_norm(m->grads, m->layout.total, s->grad_clip);
    float lr = ml_lr_at((float)ph->lr, step, ph->steps, ph->warmup, s->schedule == ML_SCHED_COSINE,
                        (float)s->min_lr_ratio);
    ml_adamw_step(t->opt, m->params, m->grads, lr, mask);
    if (loss_out) *loss_out = (float)(total / k);
    return 0;
}

/* Anything that maps tokens to next-token logits: a GPT, a mixture GPT
 * (feature interpolation, routers) or an output-space ensemble of two GPTs.
 * Losses and exact match are computed the same way for all of them. */
typedef struct {
    ml_gpt     *gpt;          /* a plain model, or */
    ml_gpt_mix *mix;          /* a mixture, or */
    ml_gpt     *ens[2];       /* an ensemble of two models */
    double      ens_w[2];
    int         ens_prob;     /* 0 logits, 1 probabilities */
    float      *ens_a, *ens_out, *probs, *losses;   /* (B,T,V), (B,T,V), (B,T,V), (B,T) */
    int         capB, V, lastT;
} scorer;

static float sc_forward(scorer *sc, const int32_t *x, const int32_t *y, int B, int T) {
    sc->lastT = T;
    if (sc->gpt) return ml_gpt_forward(sc->gpt, x, y, B, T, -1, NULL);
    if (sc->mix) return ml_gpt_mix_forward_eval(sc->mix, x, y, B, T);
    long rows = (long)B * T, n = rows * sc->V;
    ml_gpt_forward(sc->ens[0], x, NULL, B, T, -1, NULL);
    memcpy(sc->ens_a, sc->ens[0]->logits, (size_t)n * sizeof(float));
    ml_gpt_forward(sc->ens[1], x, NULL, B, T, -1, NULL);
    const float *both[2] = { sc->ens_a, sc->ens[1]->logits };
    if (sc->ens_prob) ml_prob_ensemble(sc->ens_out, both, sc->ens_w, 2, rows, sc->V);
    else ml_logit_ensemble(sc->ens_out, both, sc->ens_w, 2, n);
    /* log-probabilities are logits whose softmax is the ensemble's distribution */
    return y ? ml_softmax_ce_forward(sc->probs, sc->losses, sc->ens_out, y, (int)rows, sc->V) : 0.0f;
}

static const float *sc_logits(void *ctx, int b, int t) {
    scorer *sc = ctx;
    if (sc->gpt) return ml_gpt_logits(sc->gpt, b, t);
    if (sc->mix) return ml_gpt_mix_logits(sc->mix, b, t);
    return sc->ens_out + ((long)b * sc->lastT + t) * sc->V;
}

/* Mean next-token loss over W windows x, y (W,T). */
static double eval_loss(scorer *sc, const int32_t *x, const int32_t *y, int W, int T) {
    double total = 0.0;
    for (int w = 0; w < W; w += sc->capB) {
        int B = W - w < sc->capB ? W - w : sc->capB;
        total += (double)sc_forward(sc, x + (long)w * T, y + (long)w * T, B, T) * B;
    }
    return W ? total / W : NAN;
}

/* The fraction of the first n documents of c whose answer the model
 * reproduces exactly under greedy decoding (teacher-forced, see above). */
static int exact_match(double *out, scorer *sc, const ml_corpus *c, int n, int T, int32_t *x) {
    int matched = 0, prompt[sc->capB], len[sc->capB], match[sc->capB];
    if (n > c->ndocs) n = c->ndocs;
    for (int d0 = 0; d0 < n; d0 += sc->capB) {
        int B = n - d0 < sc->capB ? n - d0 : sc->capB;
        for (int b = 0; b < B; b++) {
            int d = d0 + b;
            len[b] = c->doc_len[d] + 1;   /* + the separator: the answer must also end */
            prompt[b] = c->doc_prompt[d];
            if (len[b] > T)
                return ml_error_set(ML_EINVALID, "exact match: document %d has %d tokens, the context is %d", d,
                                    len[b], T);
            for (int t = 0; t < T; t++) x[b * T + t] = t < len[b] ? c->tokens[c->doc_start[d] + t] : 0;
        }
        sc_forward(sc, x, NULL, B, T);
        ml_answer_matches(sc_logits, sc, sc->V, x, prompt, len, B, T, match);
        for (int b = 0; b < B; b++) matched += match[b];
    }
    *out = n ? (double)matched / n : NAN;
    return 0;
}

/* Residual streams after every block for the probe windows (P,T):
 * pooled[l] (P,C) mean over positions, tokens[l] (P*T,C). */
static void probe(ml_gpt *m, const int32_t *px, int P, int T, float **pooled, float **tokens) {
    int C = m->cfg.n_embd, L = m->cfg.n_layer;
    for (int p0 = 0; p0 < P; p0 += m->B) {
        int B = P - p0 < m->B ? P - p0 : m->B;
        ml_gpt_forward(m, px + (long)p0 * T, NULL, B, T, -1, NULL);
        for (int l = 0; l < L; l++) {
            const float *r = ml_gpt_residual(m, l + 1);
            memcpy(tokens[l] + (long)p0 * T * C, r, (size_t)B * T * C * sizeof(float));
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++) {
                    double acc = 0.0;
                    for (int t = 0; t < T; t++) acc += r[((long)b * T + t) * C + c];
                    pooled[l][(long)(p0 + b) * C + c] = (float)(acc / T);
                }
        }
    }
}

/* Empirical diagonal Fisher of t's model over `examples` windows of its
 * own training text, one window per backward (the per-example gradient);
 * only the trainable tensors get gradients, the rest are frozen and merge
 * as copies. F (layout.total). */
static int gpt_fisher(float *F, gtrainer *t, const ml_suite *s, int examples, uint64_t seed, uint64_t stream,
                      const unsigned char *mask) {
    ml_gpt *m = t->model;
    int T = s->gpt.max_T, error;
    memset(F, 0, m->layout.total * sizeof(float));
    for (int i = 0; i < examples; i++) {
        if ((error = ml_corpus_batch(t->x, t->y, t->data, 1, T, seed, stream, (uint64_t)i)) < 0) return error;
        ml_gpt_forward(m, t->x, t->y, 1, T, -1, NULL);
        ml_par_zero(m->grads, (long)m->layout.total);
        if ((error = ml_gpt_backward(m, t->x, t->y, mask)) < 0) return error;
        ml_fisher_accumulate(F, m->grads, m->layout.total);
    }
    return ml_fisher_finish(F, m->layout.total, examples);
}

/* The linear layers RegMean solves: per block qkv, attention projection,
 * MLP fc and MLP projection, when trainable (frozen ones merge as copies).
 * For each: its tensor index, input width, and where its input sits in the
 * model's activations of the last forward. */
typedef struct { int tensor, width, block, kind; } gpt_linear;

static int gpt_linears(gpt_linear *out, const ml_gpt *m, const unsigned char *mask) {
    static const char *const kinds[4] = { "attn.qkv.w", "attn.proj.w", "mlp.fc.w", "mlp.proj.w" };
    int n = 0, C = m->cfg.n_embd;
    for (int l = 0; l < m->cfg.n_layer; l++)
        for (int k = 0; k < 4; k++) {
            char name[ML_TENSOR_NAME_MAX];
            snprintf(name, sizeof(name), "h.%d.%s", l, kinds[k]);
            int t = ml_layout_find(&m->layout, name);
            if (t < 0 || !mask[t]) continue;
            out[n].tensor = t;
            out[n].width = k == 3 ? 4 * C : C;
            out[n].block = l;
            out[n].kind = k;
            n++;
        }
    return n;
}

static const float *gpt_linear_input(const ml_gpt *m, const gpt_linear *g) {
    size_t cap = (size_t)m->B * m->T, C = (size_t)m->cfg.n_embd, l = (size_t)g->block;
    switch (g->kind) {
    case 0: return m->ln1 + l * cap * C;
    case 1: return m->atty + l * cap * C;
    case 2: return m->ln2 + l * cap * C;
    default: return m->fch_gelu + l * cap * 4 * C;
    }
}

/* grams[i] (width_i, width_i) += X^T X over `examples` windows (rows = tokens) */
static int gpt_grams(float **grams, const gpt_linear *lin, int nlin, gtrainer *t, const ml_suite *s, int examples,
                     uint64_t seed, uint64_t stream) {
    ml_gpt *m = t->model;
    int T = s->gpt.max_T, error;
    for (int w0 = 0; w0 < examples; w0 += m->B) {
        int B = examples - w0 < m->B ? examples - w0 : m->B;
        if ((error = ml_corpus_batch(t->x, t->y, t->data, B, T, seed, stream, (uint64_t)w0)) < 0) return error;
        ml_gpt_forward(m, t->x, NULL, B, T, -1, NULL);
        for (int i = 0; i < nlin; i++) {
            const float *X = gpt_linear_input(m, &lin[i]);
            ml_gemm_tn(lin[i].width, lin[i].width, B * T, X, X, 1.0f, grams[i]);
        }
    }
    return 0;
}

/* Builds the mixture for an interpolation or router merge and selects it on
 * the validation windows: the alpha of the sweep, or the router checkpoint
 * with the lowest validation loss. Curves and choices go into extra. */
static int feature_merge(ml_gpt_mix **out, double *valid_loss, cJSON *extra, const ml_merge_spec *ms, const ml_suite *s,
                         const gtrainer *base, const gtrainer *spec, const ml_corpus *target_train, const int32_t *vx,
                         const int32_t *vy, int nvw, int B, int T, const ml_run_options *ro) {
    int L = s->gpt.n_layer, E, error = 0;
    ml_expert *experts = NULL;
    ml_gpt_mix *m = NULL;
    ml_adamw *opt = NULL;
    float *best = NULL;
    int32_t *x = NULL, *y = NULL;
    scorer sc = { 0 };
    *out = NULL;
    *valid_loss = NAN;
    if (ms->method == ML_MERGE_INTERPOLATE) {
        ml_mix_options mo = { ML_MIX_FIXED, NULL, 0, 0 };
        double vl[ML_MAX_ALPHAS];
        int bi = 0;
        E = 2;
        if ((error = ml_malloc((void **)&experts, (size_t)L * E * sizeof(*experts))) < 0) goto cleanup;
        for (int l = 0; l < L; l++) {
            experts[l * E] = (ml_expert){ spec[0].model->params, l };
            experts[l * E + 1] = (ml_expert){ spec[1].model->params, l };
        }
        if ((error = ml_gpt_mix_new(&m, base->model, experts, E, &mo, B, T)) < 0) goto cleanup;
        sc.mix = m;
        sc.capB = B;
        sc.V = s->gpt.vocab_size;
        for (int a = 0; a < ms->nalphas; a++) {
            if ((error = ml_gpt_mix_set_alpha(m, ms->alphas[a])) < 0) goto cleanup;
            vl[a] = eval_loss(&sc, vx, vy, nvw, T);
            if (vl[a] < vl[bi]) bi = a;
        }
        ml_gpt_mix_set_alpha(m, ms->alphas[bi]);
        *valid_loss = vl[bi];
        ml_results_interpolation(extra, ms, bi, spec[0].name, vl, NULL, NULL);
    } else {
        /* router: the experts of layer i are both specialists' MLPs from k
         * blocks (k = 1: the single-layer router), and with base_expert the
         * base's own MLP of block i as one more */
        int k = ms->k_layers, pool = 2 * k;
        if (k > L) return ml_error_set(ML_EINVALID, "router layers %d exceeds the model's %d blocks", k, L);
        E = pool + (ms->base_expert ? 1 : 0);
        ml_expert *tmp = NULL;
        if ((error = ml_malloc((void **)&experts, (size_t)L * E * sizeof(*experts))) < 0 ||
            (error = ml_malloc((void **)&tmp, (size_t)L * pool * sizeof(*tmp))) < 0 ||
            (error = ml_mix_pool_multilayer(tmp, spec[0].model->params, spec[1].model->params, L, k)) < 0) {
            free(tmp);
            goto cleanup;
        }
        for (int l = 0; l < L; l++) {
            for (int e = 0; e < pool; e++) experts[l * E + e] = tmp[l * pool + e];
            if (ms->base_expert) experts[l * E + pool] = (ml_expert){ base->model->params, l };
        }
        free(tmp);
        ml_mix_options mo = { ML_MIX_ROUTER, NULL, ms->top_k, ms->shared };
        ml_adamw_config oc = { (float)ms->lr, (float)s->beta1, (float)s->beta2, (float)s->eps, (float)ms->weight_decay };
        if ((error = ml_gpt_mix_new(&m, base->model, experts, E, &mo, B, T)) < 0 ||
            (error = ml_adamw_new(&opt, &m->layout, &oc)) < 0 ||
            (error = ml_malloc((void **)&best, m->layout.total * sizeof(float))) < 0 ||
            (error = ml_malloc((void **)&x, (size_t)B * T * sizeof(int32_t))) < 0 ||
            (error = ml_malloc((void **)&y, (size_t)B * T * sizeof(int32_t))) < 0)
            goto cleanup;
        if (ms->kaiming_init)
            ml_router_init_kaiming(m->params, &m->layout, s->seed, ML_STREAM_ROUTER + 64 * (uint64_t)(ms - s->merges));
        sc.mix = m;
        sc.capB = B;
        sc.V = s->gpt.vocab_size;
        int every = ms->steps / ms->checkpoints > 0 ? ms->steps / ms->checkpoints : 1, Br = ms->batch > 0 ? ms->batch : B;
        ml_run__selector sel;
        ml_run__select_init(&sel, best, m->layout.total, m->params, eval_loss(&sc, vx, vy, nvw, T));
        for (int step = 0; step < ms->steps; step++) {
            if ((error = ml_corpus_batch(x, y, target_train, Br, T, s->seed, 10 + (uint64_t)(ms - s->merges),
                                         (uint64_t)step)) < 0)
                goto cleanup;
            float loss = ml_gpt_mix_forward(m, x, y, Br, T);
            if (!isfinite(loss)) {
                error = ml_error_set(ML_ERUN, "router training diverged: loss is %s at step %d", isnan(loss) ? "nan" : "inf", step);
                goto cleanup;
            }
            ml_gpt_mix_zero_grad(m);
            if ((error = ml_gpt_mix_backward(m, x, y)) < 0) goto cleanup;
            if (s->grad_clip > 0.0) ml_clip_grad_norm(m->grads, m->layout.total, s->grad_clip);
            ml_adamw_step(opt, m->params, m->grads,
                          ml_lr_at((float)ms->lr, step, ms->steps, 0, 1, (float)s->min_lr_ratio), NULL);
            if ((step + 1) % every == 0 || step + 1 == ms->steps) {
                double vl = eval_loss(&sc, vx, vy, nvw, T);
                ml_run__select_point(&sel, step + 1, vl, m->params);
                ml_run__log(ro, "  router %s step %d/%d train %.4f validation %.4f\n", ms->name, step + 1,
                                     ms->steps, loss, vl);
            }
        }
        memcpy(m->params, best, m->layout.total * sizeof(float));
        *valid_loss = sel.best_loss;
        ml_results_router(extra, ms, k, E, Br, sel.best_step, sel.steps, sel.loss, sel.nv);
    }
    *out = m;
    m = NULL;
cleanup:
    ml_gpt_mix_free(m);
    ml_adamw_free(opt);
    free(experts);
    free(best);
    free(x);
    free(y);
    return error;
}

/* The family's state (ml_study.impl). */
typedef struct {
    ml_corpus train[ML_DOMAIN_COUNT], test[ML_DOMAIN_COUNT], valid, pre_own;
    const ml_corpus *pre_data;         /* the base's corpus: its domain's train split at pretrain.seed */
    int used[ML_DOMAIN_COUNT];
    int32_t *wx[ML_DOMAIN_COUNT], *wy[ML_DOMAIN_COUNT];   /* (nw, T) test windows of each domain in use */
    int nw[ML_DOMAIN_COUNT];
    int32_t *vx, *vy;                  /* (nvw, T) target validation windows: selection */
    int nvw;
    int32_t *probe_x, *probe_y, *ex;   /* (P, T) the CKA probe; (B, T) exact-match scratch */
    gtrainer run[ML_NRUNS];            /* base, A, B, direct */
    ml_gpt *scratch;                   /* merges are written into it and models scored in it */
    ml_gpt_mix *mix;                   /* the current mixture (interpolation, router) */
    double mix_valid_loss;             /* its validation loss, measured when it was chosen */
    unsigned char *mask;               /* (layout.n) tensors the fine-tuning trains */
    scorer sc;
} gpt_state;

#define GPT(st) ((gpt_state *)(st)->impl)

/* Train and test splits of every domain in use, their test windows, and the
 * target's validation split. */
static int gpt_corpora(ml_study *st) {
    const ml_suite *s = st->s;
    gpt_state *f = GPT(st);
    ml_text_options topts = { s->base_math_fraction, s->base_code_fraction };
    int T = s->gpt.max_T, error;
    f->used[s->pretrain_split.domain] = f->used[s->specialists[0].domain] = f->used[s->specialists[1].domain] = 1;
    f->used[s->target.domain] = 1;
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        if (!f->used[d]) continue;
        if ((error = ml_corpus_generate_opts(&f->train[d], (ml_domain)d, s->seed, ML_SPLIT_TRAIN, s->text_train_docs,
                                             &topts)) < 0 ||
            (error = ml_corpus_generate_opts(&f->test[d], (ml_domain)d, s->seed, ML_SPLIT_TEST, s->text_eval_docs,
                                             &topts)) < 0)
            return error;
        int n = ml_corpus_eval_windows(NULL, NULL, &f->test[d], T, s->eval_windows);
        if (n < 1)
            return ml_error_set(ML_EINVALID, "%s: $.data.eval_docs: the %s test split has no window of %d tokens",
                                s->file, ml_domain_name((ml_domain)d), T + 1);
        if ((error = ml_malloc((void **)&f->wx[d], (size_t)n * T * sizeof(int32_t))) < 0 ||
            (error = ml_malloc((void **)&f->wy[d], (size_t)n * T * sizeof(int32_t))) < 0)
            return error;
        f->nw[d] = ml_corpus_eval_windows(f->wx[d], f->wy[d], &f->test[d], T, s->eval_windows);
    }
    f->pre_data = &f->train[s->pretrain_split.domain];
    if (s->pretrain_seed != s->seed) {
        if ((error = ml_corpus_generate_opts(&f->pre_own, s->pretrain_split.domain, s->pretrain_seed, ML_SPLIT_TRAIN,
                                             s->text_train_docs, &topts)) < 0)
            return error;
        f->pre_data = &f->pre_own;
    }
    return ml_corpus_generate_opts(&f->valid, s->target.domain, s->seed, ML_SPLIT_VALID, s->text_eval_docs, &topts);
}

static int gpt_open(ml_study *st) {
    const ml_suite *s = st->s;
    int error, T = s->gpt.max_T, B = s->batch_size, P = s->probe_size, V = s->gpt.vocab_size;
    gpt_state *f;
    if (s->gpt.n_layer > 64) return ml_error_set(ML_EINVALID, "%s: $.model.n_layer: at most 64 layers", s->file);
    if ((error = ml_calloc((void **)&f, 1, sizeof(*f))) < 0) return error;
    st->impl = f;
    st->L = s->gpt.n_layer;
    for (int l = 0; l < st->L; l++) st->dims[l] = s->gpt.n_embd;
    st->tokrows = P * T;
    if ((error = gpt_corpora(st)) < 0) return error;
    if (ml_corpus_eval_windows(NULL, NULL, &f->valid, T, P) < P)
        return ml_error_set(ML_EINVALID, "%s: $.cka.probe_size: the target validation split has fewer than %d windows "
                            "of %d tokens (raise $.data.eval_docs)", s->file, P, T + 1);
    f->nvw = ml_corpus_eval_windows(NULL, NULL, &f->valid, T, s->eval_windows);
    if ((error = ml_malloc((void **)&f->probe_x, (size_t)P * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&f->probe_y, (size_t)P * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&f->ex, (size_t)B * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&f->vx, (size_t)f->nvw * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&f->vy, (size_t)f->nvw * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&f->sc.ens_a, (size_t)B * T * V * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&f->sc.ens_out, (size_t)B * T * V * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&f->sc.probs, (size_t)B * T * V * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&f->sc.losses, (size_t)B * T * sizeof(float))) < 0 ||
        (error = ml_gpt_new(&f->scratch, &s->gpt, B, T)) < 0)
        return error;
    ml_corpus_eval_windows(f->probe_x, f->probe_y, &f->valid, T, P);
    ml_corpus_eval_windows(f->vx, f->vy, &f->valid, T, f->nvw);
    f->sc.capB = B;
    f->sc.V = V;
    return 0;
}

static void gpt_close(ml_study *st) {
    gpt_state *f = GPT(st);
    if (!f) return;
    for (int r = 0; r < ML_NRUNS; r++) gtrainer_free(&f->run[r]);
    ml_gpt_free(f->scratch);
    ml_gpt_mix_free(f->mix);
    free(f->vx); free(f->vy); free(f->probe_x); free(f->probe_y); free(f->ex); free(f->mask);
    free(f->sc.ens_a); free(f->sc.ens_out); free(f->sc.probs); free(f->sc.losses);
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus_free(&f->train[d]);
        ml_corpus_free(&f->test[d]);
        free(f->wx[d]);
        free(f->wy[d]);
    }
    ml_corpus_free(&f->valid);
    ml_corpus_free(&f->pre_own);
    free(f);
    st->impl = NULL;
    st->mask = NULL;
}

static int gpt_run_new(ml_study *st, int r, const float *init) {
    const ml_suite *s = st->s;
    gpt_state *f = GPT(st);
    int error;
    if (r == ML_RUN_BASE) {
        if ((error = gtrainer_init(&f->run[r], "base", s, f->pre_data, s->pretrain_seed, 0, NULL)) < 0) return error;
        st->np = f->run[r].model->layout.total;
        return 0;
    }
    if (!f->mask) {   /* the suite's parameter groups: what fine-tuning trains */
        const ml_gpt *base = f->run[ML_RUN_BASE].model;
        if ((error = ml_calloc((void **)&f->mask, (size_t)base->layout.n, 1)) < 0) return error;
        for (int g = 0; g < s->ntrain_groups; g++)
            if ((error = ml_gpt_mark_trainable(f->mask, base, s->train_groups[g])) < 0) return error;
        st->mask = f->mask;
    }
    if (r == ML_RUN_DIRECT)
        return gtrainer_init(&f->run[r], "direct", s, &f->train[s->target.domain], s->seed, 3, init);
    int k = r - ML_RUN_A;
    return gtrainer_init(&f->run[r], s->specialists[k].name, s, &f->train[s->specialists[k].domain], s->seed,
                         1 + (uint64_t)k, init);
}

static float *gpt_params(ml_study *st, int r) {
    gpt_state *f = GPT(st);
    return r == ML_RUN_SCRATCH ? f->scratch->params : f->run[r].model->params;
}

static const ml_layout *gpt_layout(ml_study *st) { return &GPT(st)->scratch->layout; }

static int gpt_step(ml_study *st, int r, const ml_phase *ph, int step, const char *phase, float *loss) {
    return gtrain_step(&GPT(st)->run[r], st->s, ph, step, r == ML_RUN_BASE ? NULL : GPT(st)->mask, phase, loss);
}

static void gpt_probe(ml_study *st, int r, float **rep, float **tok) {
    probe(GPT(st)->run[r].model, GPT(st)->probe_x, st->s->probe_size, st->s->gpt.max_T, rep, tok);
}

/* The statistics of one Fisher or RegMean merge, freed together. */
typedef struct {
    ml_regmean_layer *layers;
    gpt_linear *lin;
    const float **gptr;
    float *fisher[2], **grams[2];
    int nlin;
} gpt_stats_buf;

static int gpt_stats(ml_study *st, const ml_merge_spec *ms, ml_merge_stats *out) {
    const ml_suite *s = st->s;
    gpt_state *f = GPT(st);
    gtrainer *spec = &f->run[ML_RUN_A];
    gpt_stats_buf *b = NULL;
    int error, L = s->gpt.n_layer;
    memset(out, 0, sizeof(*out));
    out->examples = ms->examples;
    if ((error = ml_calloc((void **)&b, 1, sizeof(*b))) < 0 ||
        (error = ml_calloc((void **)&b->layers, (size_t)4 * L, sizeof(*b->layers))) < 0) {
        free(b);
        return error;
    }
    out->buf = b;
    if (ms->method == ML_MERGE_FISHER) {
        for (int k = 0; k < 2 && error == 0; k++)
            if ((error = ml_malloc((void **)&b->fisher[k], st->np * sizeof(float))) == 0)
                error = gpt_fisher(b->fisher[k], &spec[k], s, ms->examples, ms->seed, ML_STREAM_STATS + (uint64_t)k,
                                   f->mask);
        out->fishers = (const float *const *)b->fisher;
        return error;
    }
    if ((error = ml_calloc((void **)&b->lin, (size_t)4 * L, sizeof(*b->lin))) == 0 &&
        (error = ml_calloc((void **)&b->gptr, (size_t)8 * L, sizeof(*b->gptr))) == 0)
        b->nlin = gpt_linears(b->lin, f->run[ML_RUN_BASE].model, f->mask);
    for (int k = 0; k < 2 && error == 0; k++) {
        if ((error = ml_calloc((void **)&b->grams[k], (size_t)(b->nlin ? b->nlin : 1), sizeof(float *))) < 0) break;
        for (int i = 0; i < b->nlin && error == 0; i++)
            error = ml_calloc((void **)&b->grams[k][i], (size_t)b->lin[i].width * b->lin[i].width, sizeof(float));
        if (error == 0)
            error = gpt_grams(b->grams[k], b->lin, b->nlin, &spec[k], s, ms->examples, ms->seed,
                              ML_STREAM_STATS + (uint64_t)k);
    }
    for (int i = 0; i < b->nlin && error == 0; i++) {
        /* an input that is 0 everywhere carries no information: equal weights */
        for (int j = 0; j < b->lin[i].width; j++) {
            long jj = (long)j * b->lin[i].width + j;
            if (b->grams[0][i][jj] == 0.0f && b->grams[1][i][jj] == 0.0f) b->grams[0][i][jj] = b->grams[1][i][jj] = 1.0f;
        }
        b->gptr[2 * i] = b->grams[0][i];
        b->gptr[2 * i + 1] = b->grams[1][i];
        b->layers[i].tensor = b->lin[i].tensor;
        b->layers[i].grams = b->gptr + 2 * i;
    }
    out->layers = b->layers;
    out->nlayers = b->nlin;
    return error;
}

static void gpt_stats_free(ml_study *st, ml_merge_stats *stats) {
    (void)st;
    gpt_stats_buf *b = stats->buf;
    if (!b) return;
    for (int k = 0; k < 2; k++) {
        free(b->fisher[k]);
        for (int i = 0; b->grams[k] && i < b->nlin; i++) free(b->grams[k][i]);
        free(b->grams[k]);
    }
    free(b->lin);
    free(b->layers);
    free(b->gptr);
    free(b);
    memset(stats, 0, sizeof(*stats));
}

static int gpt_mixture(ml_study *st, int g, cJSON *info) {
    const ml_suite *s = st->s;
    gpt_state *f = GPT(st);
    ml_gpt_mix_free(f->mix);
    f->mix = NULL;
    return feature_merge(&f->mix, &f->mix_valid_loss, info, &s->merges[g], s, &f->run[ML_RUN_BASE], &f->run[ML_RUN_A],
                         &f->train[s->target.domain], f->vx, f->vy, f->nvw, s->batch_size, s->gpt.max_T, st->opt);
}

/* Loss and exact match on the target's test split, its loss on the
 * validation windows (where the findings make their choices), and the loss on each
 * specialist's own domain (specialisation and forgetting; for the merges
 * too unless eval.merge_domain_losses is false). */
static int gpt_score(ml_study *st, const ml_study_model *m, int is_merge, const char *name, cJSON *me, cJSON *metrics) {
    const ml_suite *s = st->s;
    gpt_state *f = GPT(st);
    scorer *sc = &f->sc;
    int T = s->gpt.max_T, tg = s->target.domain, error;
    double em = NAN;
    sc->gpt = NULL;
    sc->mix = NULL;
    memset(sc->ens, 0, sizeof(sc->ens));
    if (m->kind == ML_STUDY_PARAMS) {
        if (m->params != f->scratch->params) memcpy(f->scratch->params, m->params, st->np * sizeof(float));
        sc->gpt = f->scratch;
    } else if (m->kind == ML_STUDY_MIXTURE) {
        sc->mix = f->mix;
    } else {
        sc->ens[0] = f->run[ML_RUN_A].model;
        sc->ens[1] = f->run[ML_RUN_B].model;
        sc->ens_w[0] = m->ms->weights[0];
        sc->ens_w[1] = m->ms->weights[1];
        sc->ens_prob = m->ms->prob_ensemble;
    }
    double loss = eval_loss(sc, f->wx[tg], f->wy[tg], f->nw[tg], T);
    /* the same on the validation windows: what the findings choose on (a mixture's
     * was measured when its alpha or router checkpoint was chosen, on these windows) */
    double vloss = m->kind == ML_STUDY_MIXTURE ? f->mix_valid_loss : eval_loss(sc, f->vx, f->vy, f->nvw, T);
    if ((error = exact_match(&em, sc, &f->test[tg], s->exact_match, T, f->ex)) < 0) return error;
    ml_results_score(me, metrics, name, "loss", loss, 1);
    ml_results_score(me, metrics, name, "valid_loss", vloss, 1);
    ml_results_score(me, metrics, name, "exact_match", em, s->exact_match > 0);   /* NaN: not measured */
    for (int k = 0; k < 2 && (!is_merge || s->merge_domain_losses); k++) {
        int d = s->specialists[k].domain;
        char what[48];
        if (d == tg) continue;
        double dl = eval_loss(sc, f->wx[d], f->wy[d], f->nw[d], T);
        snprintf(what, sizeof(what), "%s_loss", ml_domain_name((ml_domain)d));
        ml_results_score(me, metrics, name, what, dl, 1);
    }
    return 0;
}

static void gpt_describe(ml_study *st, cJSON *data) {
    gpt_state *f = GPT(st);
    for (int d = 0; d < ML_DOMAIN_COUNT; d++)
        if (f->used[d]) {
            cJSON_AddItemToArray(data, ml_results_data_corpus(&f->train[d]));
            cJSON_AddItemToArray(data, ml_results_data_corpus(&f->test[d]));
        }
    cJSON_AddItemToArray(data, ml_results_data_corpus(&f->valid));
    if (f->pre_data == &f->pre_own) cJSON_AddItemToArray(data, ml_results_data_corpus(&f->pre_own));
}

const ml_study_family ml_study__gpt = {
    "block%d",
    "residual stream after each block; over_steps mean-pooled over positions (the paper's), over_steps_token per "
    "position",
    gpt_open, gpt_close, gpt_run_new, gpt_params, gpt_layout, gpt_step, gpt_probe,
    gpt_stats, gpt_stats_free, gpt_mixture, gpt_score, gpt_describe,
};
