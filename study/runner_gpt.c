/*
 * study/runner_gpt.c: the study on the GPT family and the text domains,
 * following the paper's protocol at small scale (shared/PAPER.md):
 * pretrain a base on the base corpus (all weights); fine-tune the two
 * specialists from it in lockstep (only the suite's parameter groups, the
 * paper's MLP-only by default), measuring CKA between them at every
 * block's residual stream on a fixed probe; fine-tune the base directly on
 * the target with the same budget; merge; score every model on held-out
 * target text.
 * Exact match is computed with teacher forcing: greedy decoding reproduces
 * the reference answer exactly iff, at every answer position, the argmax
 * of the next-token distribution given the reference prefix is the
 * reference token (induction over positions). One forward per batch of
 * documents replaces a decode loop per token; tests/test_gpt_tasks.c checks the
 * equivalence against real greedy decoding (ml_gpt_greedy).
 * Not here: the kernels (kernels/gpt.c), the generators (data/text.c).
 */
#include "study/run_common.h"
#include "study/merge_apply.h"
#include "core/error.h"
#include "data/text.h"
#include "kernels/adamw.h"
#include "kernels/cka.h"
#include "kernels/gemm.h"
#include "kernels/gpt.h"
#include "kernels/gpt_mix.h"
#include "kernels/layers.h"
#include "kernels/merge.h"
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
    float lr = ml_lr_at((float)ph->lr, step, ph->steps, s->warmup, s->schedule == ML_SCHED_COSINE,
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
    if (sc->mix) return ml_gpt_mix_forward(sc->mix, x, y, B, T);
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
static int feature_merge(ml_gpt_mix **out, cJSON *extra, const ml_merge_spec *ms, const ml_suite *s,
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
        cJSON_AddNumberToObject(extra, "alpha", ms->alphas[bi]);
        cJSON_AddStringToObject(extra, "alpha_of", spec[0].name);
        cJSON_AddItemToObject(extra, "alphas", cJSON_CreateDoubleArray(ms->alphas, ms->nalphas));
        cJSON_AddItemToObject(extra, "val_loss", cJSON_CreateDoubleArray(vl, ms->nalphas));
    } else {
        /* router: the experts of layer i are both specialists' MLPs from k
         * blocks (k = 1: the single-layer router), plus the base's own */
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
        ml_adamw_config oc = { (float)ms->lr, (float)s->beta1, (float)s->beta2, (float)s->eps, (float)s->weight_decay };
        if ((error = ml_gpt_mix_new(&m, base->model, experts, E, &mo, B, T)) < 0 ||
            (error = ml_adamw_new(&opt, &m->layout, &oc)) < 0 ||
            (error = ml_malloc((void **)&best, m->layout.total * sizeof(float))) < 0 ||
            (error = ml_malloc((void **)&x, (size_t)B * T * sizeof(int32_t))) < 0 ||
            (error = ml_malloc((void **)&y, (size_t)B * T * sizeof(int32_t))) < 0)
            goto cleanup;
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
        ml_run__router_info(extra, ms, k, E, Br, &sel);
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

static cJSON *corpus_entry(const ml_corpus *c) {
    static const char *const splits[] = { "train", "validation", "test" };
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "generator", ML_TEXT_GENERATOR);
    cJSON_AddStringToObject(o, "domain", ml_domain_name(c->domain));
    cJSON_AddStringToObject(o, "split", splits[c->split]);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "docs", c->ndocs);
    cJSON_AddNumberToObject(o, "chars", (double)c->len);
    if (c->domain == ML_DOMAIN_BASE) {
        cJSON_AddNumberToObject(o, "base_math", c->opts.base_math);
        cJSON_AddNumberToObject(o, "base_code", c->opts.base_code);
    }
    cJSON_AddStringToObject(o, "sha256", c->sha256);
    return o;
}

enum { NEVAL = 3 };   /* target, then each specialist's domain */

/* A weight-space merge of the two specialists into merged, with the
 * Fisher or Gram statistics its method needs; the frozen tensors (mask 0)
 * must come out bit-identical to the base. */
static int gpt_weight_merge(ml_gpt *merged, const ml_merge_spec *ms, const ml_suite *s, const gtrainer *base,
                            gtrainer *spec, const unsigned char *mask) {
    int error = 0, L = s->gpt.n_layer;
    const float *inputs[2] = { spec[0].model->params, spec[1].model->params };
    ml_merge_stats st = { NULL, NULL, 0 };
    float *fisher[2] = { NULL, NULL }, **grams[2] = { NULL, NULL };
    gpt_linear *lin = NULL;
    ml_regmean_layer *layers = NULL;
    const float **gptr = NULL;
    int nlin = 0;
    if (ms->method == ML_MERGE_FISHER) {
        for (int k = 0; k < 2 && error == 0; k++)
            if ((error = ml_malloc((void **)&fisher[k], merged->layout.total * sizeof(float))) == 0)
                error = gpt_fisher(fisher[k], &spec[k], s, ms->examples, ms->seed, ML_STREAM_STATS + (uint64_t)k,
                                   mask);
        st.fishers = (const float *const *)fisher;
    } else if (ms->method == ML_MERGE_REGMEAN) {
        if ((error = ml_calloc((void **)&lin, (size_t)4 * L, sizeof(*lin))) == 0 &&
            (error = ml_calloc((void **)&layers, (size_t)4 * L, sizeof(*layers))) == 0 &&
            (error = ml_calloc((void **)&gptr, (size_t)8 * L, sizeof(*gptr))) == 0)
            nlin = gpt_linears(lin, base->model, mask);
        for (int k = 0; k < 2 && error == 0; k++) {
            if ((error = ml_calloc((void **)&grams[k], (size_t)(nlin ? nlin : 1), sizeof(float *))) < 0) break;
            for (int i = 0; i < nlin && error == 0; i++)
                error = ml_calloc((void **)&grams[k][i], (size_t)lin[i].width * lin[i].width, sizeof(float));
            if (error == 0)
                error = gpt_grams(grams[k], lin, nlin, &spec[k], s, ms->examples, ms->seed,
                                  ML_STREAM_STATS + (uint64_t)k);
        }
        for (int i = 0; i < nlin && error == 0; i++) {
            /* an input that is 0 everywhere carries no information: equal weights */
            for (int j = 0; j < lin[i].width; j++) {
                long jj = (long)j * lin[i].width + j;
                if (grams[0][i][jj] == 0.0f && grams[1][i][jj] == 0.0f) grams[0][i][jj] = grams[1][i][jj] = 1.0f;
            }
            gptr[2 * i] = grams[0][i];
            gptr[2 * i + 1] = grams[1][i];
            layers[i].tensor = lin[i].tensor;
            layers[i].grams = gptr + 2 * i;
        }
        st.layers = layers;
        st.nlayers = nlin;
    }
    if (error == 0)
        error = ml_merge_apply(merged->params, ms, &merged->layout, base->model->params, inputs, 2, &st);
    for (int k = 0; k < 2; k++) {
        free(fisher[k]);
        for (int i = 0; grams[k] && i < nlin; i++) free(grams[k][i]);
        free(grams[k]);
    }
    free(lin);
    free(layers);
    free(gptr);
    if (error < 0) {
        ml_error_prefix("%s: merge '%s'", s->file, ms->name);
        return error;
    }
    /* the frozen groups are identical in both specialists: every
     * weight-space merge must leave them bit-identical to the base */
    for (int t = 0; t < base->model->layout.n; t++) {
        const ml_tensor_info *ti = &base->model->layout.tensors[t];
        if (!mask[t] && memcmp(merged->params + ti->offset, base->model->params + ti->offset,
                               ti->numel * sizeof(float))) {
            error = ml_error_set(ML_ERUN, "%s: merge '%s' changed frozen tensor %s", s->file, ms->name, ti->name);
            return error;
        }
    }
    return 0;
}

int ml_run__gpt(cJSON **out, const ml_suite *s, const ml_run_options *opt) {
    ml_corpus train[ML_DOMAIN_COUNT] = { { 0 } }, valid = { 0 }, test[ML_DOMAIN_COUNT] = { { 0 } }, pre_own = { 0 };
    const ml_corpus *pre_data = NULL;   /* the base's corpus: its domain's train split at pretrain.seed */
    gtrainer base = { 0 }, spec[2] = { { 0 } }, direct = { 0 };
    ml_gpt *merged = NULL;
    ml_gpt_mix *mix = NULL;
    scorer sc = { 0 };
    int32_t *vx = NULL, *vy = NULL;
    int nvw = 0;
    unsigned char *mask = NULL;
    int32_t *probe_x = NULL, *probe_y = NULL, *ex = NULL, *wx[ML_DOMAIN_COUNT] = { 0 }, *wy[ML_DOMAIN_COUNT] = { 0 };
    int nw[ML_DOMAIN_COUNT] = { 0 };
    float *pooled[2][64] = { { 0 } }, *tok[2][64] = { { 0 } };
    double *curve_tok = NULL;
    float *base_pooled[64] = { 0 }, *base_tok[64] = { 0 };
    int dims[64];
    ml_cka_track track = { 0 };
    cJSON *res = NULL, *own_pt = NULL;
    int error = 0, L = s->gpt.n_layer, C = s->gpt.n_embd, T = s->gpt.max_T, B = s->batch_size;
    int P = s->probe_size, nck = s->ncka;
    ml_text_options topts = { s->base_math_fraction, s->base_code_fraction };
    double t0 = ml_run__now(), t_pre, t_ft, t_dir;
    ml_run__phase phase = { -1, 0, NULL };
    float *pack = NULL;                 /* (npts, 2, np) both specialists at every point, as cached */
    float *dpack = NULL;                /* (npts, np) the direct fine-tune at every point, as cached */
    int npts = s->npoints > 0 ? s->npoints : 1;
    double *track_buf = NULL;
    int cached[3] = { 0, 0, 0 };        /* base, specialists, direct came from the cache */
    *out = NULL;
    ml_blas_set_threads(opt && opt->threads > 0 ? opt->threads : (s->threads > 0 ? s->threads : 1));
    if (L > 64) return ml_error_set(ML_EINVALID, "%s: $.model.n_layer: at most 64 layers", s->file);
    ml_run_stage stage = opt ? opt->stage : ML_STAGE_ALL;
    if (stage != ML_STAGE_ALL && (!opt->cache_dir || !opt->key_base || !opt->key_specialists || !opt->key_direct))
        return ml_error_set(ML_EINVALID, "%s: a run in parts needs the model cache", s->file);

    /* 1. data: train splits of every domain in use, target validation (probe) and test (scores) */
    int used[ML_DOMAIN_COUNT] = { 0 };
    used[s->pretrain_split.domain] = used[s->specialists[0].domain] = used[s->specialists[1].domain] = 1;
    used[s->target.domain] = 1;
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        if (!used[d]) continue;
        if ((error = ml_corpus_generate_opts(&train[d], (ml_domain)d, s->seed, ML_SPLIT_TRAIN, s->text_train_docs,
                                             &topts)) < 0 ||
            (error = ml_corpus_generate_opts(&test[d], (ml_domain)d, s->seed, ML_SPLIT_TEST, s->text_eval_docs,
                                             &topts)) < 0)
            goto cleanup;
        int n = ml_corpus_eval_windows(NULL, NULL, &test[d], T, s->eval_windows);
        if (n < 1) {
            error = ml_error_set(ML_EINVALID, "%s: $.data.eval_docs: the %s test split has no window of %d tokens",
                                 s->file, ml_domain_name((ml_domain)d), T + 1);
            goto cleanup;
        }
        if ((error = ml_malloc((void **)&wx[d], (size_t)n * T * sizeof(int32_t))) < 0 ||
            (error = ml_malloc((void **)&wy[d], (size_t)n * T * sizeof(int32_t))) < 0)
            goto cleanup;
        nw[d] = ml_corpus_eval_windows(wx[d], wy[d], &test[d], T, s->eval_windows);
    }
    pre_data = &train[s->pretrain_split.domain];
    if (s->pretrain_seed != s->seed) {
        if ((error = ml_corpus_generate_opts(&pre_own, s->pretrain_split.domain, s->pretrain_seed, ML_SPLIT_TRAIN,
                                             s->text_train_docs, &topts)) < 0)
            goto cleanup;
        pre_data = &pre_own;
    }
    if ((error = ml_corpus_generate_opts(&valid, s->target.domain, s->seed, ML_SPLIT_VALID, s->text_eval_docs,
                                         &topts)) < 0)
        goto cleanup;
    if (ml_corpus_eval_windows(NULL, NULL, &valid, T, P) < P) {
        error = ml_error_set(ML_EINVALID, "%s: $.cka.probe_size: the target validation split has fewer than %d windows "
                             "of %d tokens (raise $.data.eval_docs)", s->file, P, T + 1);
        goto cleanup;
    }
    if ((error = ml_malloc((void **)&probe_x, (size_t)P * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&probe_y, (size_t)P * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&ex, (size_t)B * T * sizeof(int32_t))) < 0)
        goto cleanup;
    ml_corpus_eval_windows(probe_x, probe_y, &valid, T, P);

    /* 2. pretrain the base on every parameter */
    ml_run__log(opt, "mergelab: %s: pretraining base for %d steps\n", s->name, s->pretrain.steps);
    if ((error = gtrainer_init(&base, "base", s, pre_data, s->pretrain_seed, 0, NULL)) < 0) goto cleanup;
    size_t np = base.model->layout.total;
    if ((error = ml_run__phase_begin(&phase, opt, opt ? opt->key_base : NULL, base.model->params, np, NULL, 0)) < 0)
        goto cleanup;
    cached[0] = phase.hit;
    if (!phase.hit && s->pretrain_threads > 0) ml_blas_set_threads(s->pretrain_threads);
    for (int step = 0; !phase.hit && step < s->pretrain.steps; step++) {
        float loss;
        if ((error = gtrain_step(&base, s, &s->pretrain, step, NULL, "pretraining", &loss)) < 0) goto cleanup;
        ml_run__progress(opt, "pretrain", step + 1, s->pretrain.steps, loss);
        if ((step + 1) % 50 == 0)
            ml_run__log(opt, "  pretraining step %d/%d loss %.4f\n", step + 1, s->pretrain.steps, loss);
    }
    ml_blas_set_threads(opt && opt->threads > 0 ? opt->threads : (s->threads > 0 ? s->threads : 1));
    if ((error = ml_run__phase_end(&phase, opt, base.model->params, np, NULL, 0)) < 0) goto cleanup;
    t_pre = ml_run__now();
    if (stage == ML_STAGE_BASE) {
        *out = cJSON_CreateObject();
        goto cleanup;
    }

    /* 3. specialists in lockstep, CKA at the suite's cka steps */
    if ((error = ml_calloc((void **)&mask, (size_t)base.model->layout.n, 1)) < 0) goto cleanup;
    for (int g = 0; g < s->ntrain_groups; g++)
        if ((error = ml_gpt_mark_trainable(mask, base.model, s->train_groups[g])) < 0) goto cleanup;
    if ((error = ml_run__cka_track_new(&track, L, nck)) < 0 ||
        (error = ml_calloc((void **)&curve_tok, (size_t)L * nck, sizeof(double))) < 0)
        goto cleanup;
    for (int l = 0; l < L; l++) {
        dims[l] = C;
        if ((error = ml_malloc((void **)&base_pooled[l], (size_t)P * C * sizeof(float))) < 0 ||
            (error = ml_malloc((void **)&base_tok[l], (size_t)P * T * C * sizeof(float))) < 0)
            goto cleanup;
    }
    for (int k = 0; k < 2; k++) {
        if ((error = gtrainer_init(&spec[k], s->specialists[k].name, s, &train[s->specialists[k].domain],
                                   s->seed, 1 + (uint64_t)k, base.model->params)) < 0)
            goto cleanup;
        for (int l = 0; l < L; l++)
            if ((error = ml_malloc((void **)&pooled[k][l], (size_t)P * C * sizeof(float))) < 0 ||
                (error = ml_malloc((void **)&tok[k][l], (size_t)P * T * C * sizeof(float))) < 0)
                goto cleanup;
    }
    /* cached: both specialists' parameters, the CKA track and the per-token curves */
    size_t ntrack = ml_run__track_size(&track), nextra = ntrack + (size_t)L * nck;
    if ((error = ml_malloc((void **)&pack, (size_t)npts * 2 * np * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&track_buf, nextra * sizeof(double))) < 0 ||
        (error = ml_run__phase_begin(&phase, opt, opt ? opt->key_specialists : NULL, pack, (size_t)npts * 2 * np,
                                     track_buf, nextra)) < 0)
        goto cleanup;
    cached[1] = phase.hit;
    if (phase.hit) {
        for (int k = 0; k < 2; k++)
            memcpy(spec[k].model->params, pack + ((size_t)(npts - 1) * 2 + k) * np, np * sizeof(float));
        ml_run__track_unpack(&track, track_buf);
        memcpy(curve_tok, track_buf + ntrack, (size_t)L * nck * sizeof(double));
    } else {
        probe(base.model, probe_x, P, T, base_pooled, base_tok);   /* the base does not change */
    }
    if (!phase.hit) ml_run__log(opt, "mergelab: %s: fine-tuning %s and %s for %d steps\n", s->name,
                                       s->specialists[0].name, s->specialists[1].name, s->finetune.steps);
    for (int step = 0, ck = 0, pi = 0; !phase.hit && step <= s->finetune.steps; step++) {
        if (pi < npts && step == s->points[pi]) {   /* a state kept for the evaluation at this point */
            for (int k = 0; k < 2; k++)
                memcpy(pack + ((size_t)pi * 2 + k) * np, spec[k].model->params, np * sizeof(float));
            pi++;
        }
        if (ck < nck && step == s->cka_steps[ck]) {
            for (int k = 0; k < 2; k++) probe(spec[k].model, probe_x, P, T, pooled[k], tok[k]);
            if ((error = ml_run__cka_point(&track, ck, pooled[0], pooled[1], base_pooled, dims, P)) < 0) {
                ml_error_prefix("%s: CKA at step %d", s->file, step);
                goto cleanup;
            }
            for (int l = 0; l < L; l++)
                if ((error = ml_cka_linear(&curve_tok[l * nck + ck], tok[0][l], tok[1][l], P * T, C, C)) < 0) {
                    ml_error_prefix("%s: per-token CKA of block %d at step %d", s->file, l + 1, step);
                    goto cleanup;
                }
            ck++;
        }
        if (step == s->finetune.steps) break;
        float fl = 0.0f;
        for (int k = 0; k < 2; k++)
            if ((error = gtrain_step(&spec[k], s, &s->finetune, step, mask, "fine-tuning", &fl)) < 0) goto cleanup;
        ml_run__progress(opt, "finetune", step + 1, s->finetune.steps, fl);
    }
    if (!phase.hit) {
        /* the probes hold the last point: heatmap and RBF CKA there */
        if ((error = ml_run__cka_final(&track, pooled[0], pooled[1], base_pooled, dims, P)) < 0) goto cleanup;
        ml_run__track_pack(track_buf, &track);
        memcpy(track_buf + ntrack, curve_tok, (size_t)L * nck * sizeof(double));
    }
    if ((error = ml_run__phase_end(&phase, opt, pack, (size_t)npts * 2 * np, track_buf, nextra)) < 0) goto cleanup;
    t_ft = ml_run__now();

    /* 4. direct fine-tune on the target, same steps and parameter groups */
    ml_run__log(opt, "mergelab: %s: direct fine-tuning for %d steps\n", s->name, s->finetune.steps);
    if ((error = gtrainer_init(&direct, "direct", s, &train[s->target.domain], s->seed, 3, base.model->params)) < 0 ||
        (error = ml_malloc((void **)&dpack, (size_t)npts * np * sizeof(float))) < 0 ||
        (error = ml_run__phase_begin(&phase, opt, opt ? opt->key_direct : NULL, dpack, (size_t)npts * np, NULL, 0)) < 0)
        goto cleanup;
    cached[2] = phase.hit;
    if (phase.hit) memcpy(direct.model->params, dpack + (size_t)(npts - 1) * np, np * sizeof(float));
    for (int step = 0, pi = 0; !phase.hit && step <= s->finetune.steps; step++) {
        float dl;
        if (pi < npts && step == s->points[pi]) {   /* the same budget as the specialists at this point */
            memcpy(dpack + (size_t)pi * np, direct.model->params, np * sizeof(float));
            pi++;
        }
        if (step == s->finetune.steps) break;
        if ((error = gtrain_step(&direct, s, &s->finetune, step, mask, "direct fine-tuning", &dl)) < 0) goto cleanup;
        ml_run__progress(opt, "direct", step + 1, s->finetune.steps, dl);
    }
    if ((error = ml_run__phase_end(&phase, opt, dpack, (size_t)npts * np, NULL, 0)) < 0) goto cleanup;
    t_dir = ml_run__now();
    if (stage == ML_STAGE_TRAIN) {
        double phases[5] = { t0, t_pre, t_ft, t_dir, t_dir };
        res = cJSON_CreateObject();
        ml_run__add_timing(res, phases);
        ml_run__add_cached(res, cached);
        ml_run__add_step_times(res, cached, s->pretrain.steps, s->finetune.steps);
        *out = res;
        res = NULL;
        goto cleanup;
    }
    ml_run__progress(opt, "merge", 0, 0, NAN);

    /* the parameter groups that were not trained must still be the base's,
     * bit for bit: a violation is a bug in masking, not a result */
    int frozen = 0;
    for (int t = 0; t < base.model->layout.n; t++) {
        if (mask[t]) continue;
        const ml_tensor_info *ti = &base.model->layout.tensors[t];
        const gtrainer *runs[3] = { &spec[0], &spec[1], &direct };
        for (int r = 0; r < 3; r++)
            if (memcmp(runs[r]->model->params + ti->offset, base.model->params + ti->offset, ti->numel * sizeof(float))) {
                error = ml_error_set(ML_ERUN, "%s: frozen tensor %s of '%s' changed during fine-tuning", s->file,
                                     ti->name, runs[r]->name);
                goto cleanup;
            }
        frozen++;
    }

    /* 5. score base, specialists, direct and every merge on held-out text;
     * anything selected (an alpha, a router checkpoint) is selected on the
     * target's validation windows, never on the test windows it reports */
    if ((error = ml_gpt_new(&merged, &s->gpt, B, T)) < 0) goto cleanup;
    nvw = ml_corpus_eval_windows(NULL, NULL, &valid, T, s->eval_windows);
    if ((error = ml_malloc((void **)&vx, (size_t)nvw * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&vy, (size_t)nvw * T * sizeof(int32_t))) < 0 ||
        (error = ml_malloc((void **)&sc.ens_a, (size_t)B * T * s->gpt.vocab_size * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&sc.ens_out, (size_t)B * T * s->gpt.vocab_size * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&sc.probs, (size_t)B * T * s->gpt.vocab_size * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&sc.losses, (size_t)B * T * sizeof(float))) < 0)
        goto cleanup;
    ml_corpus_eval_windows(vx, vy, &valid, T, nvw);
    sc.capB = B;
    sc.V = s->gpt.vocab_size;
    res = cJSON_CreateObject();
    cJSON *models = NULL, *metrics = NULL;
    cJSON *points = npts > 1 && stage == ML_STAGE_ALL ? cJSON_AddArrayToObject(res, "points") : NULL;
    int nmodels = 4 + s->nmerges;
    /* every model at every point (finetune.points), each from the states kept there; the
     * last point is the end of fine-tuning and is also the cell's top-level result. A
     * point another process evaluated (points_done) is taken as it is: it came from the
     * same cached states by the same code */
    for (int pi = 0; pi < npts; pi++) {
        if (stage == ML_STAGE_POINT && pi != opt->point) continue;
        const cJSON *done = stage == ML_STAGE_ALL && opt && opt->points_done ? opt->points_done[pi] : NULL;
        cJSON *pt = done ? cJSON_Duplicate(done, 1) : cJSON_CreateObject();
        if (points) cJSON_AddItemToArray(points, pt);
        else own_pt = pt;
        if (done) {
            models = cJSON_GetObjectItemCaseSensitive(pt, "models");
            metrics = cJSON_GetObjectItemCaseSensitive(pt, "metrics");
            goto point_done;
        }
        cJSON_AddNumberToObject(pt, "step", s->points[pi]);
        models = cJSON_AddArrayToObject(pt, "models");
        metrics = cJSON_AddObjectToObject(pt, "metrics");
        for (int k = 0; k < 2; k++)
            memcpy(spec[k].model->params, pack + ((size_t)pi * 2 + k) * np, np * sizeof(float));
        memcpy(direct.model->params, dpack + (size_t)pi * np, np * sizeof(float));
        if (npts > 1) ml_run__log(opt, "mergelab: %s: evaluating at fine-tuning step %d\n", s->name, s->points[pi]);
        for (int e = 0; e < nmodels; e++) {
            const char *name, *role;
            cJSON *extra = NULL;
            memset(sc.ens, 0, sizeof(sc.ens));
            sc.gpt = merged;
            sc.mix = NULL;
            if (e < 4) {
                const gtrainer *src[4] = { &base, &spec[0], &spec[1], &direct };
                static const char *const roles[4] = { "base", "specialist", "specialist", "direct" };
                name = src[e]->name;
                role = roles[e];
                memcpy(merged->params, src[e]->model->params, merged->layout.total * sizeof(float));
            } else if (!ml_merge_is_weight_space(s->merges[e - 4].method)) {
                const ml_merge_spec *ms = &s->merges[e - 4];
                name = ms->name;
                role = "merge";
                ml_gpt_mix_free(mix);
                mix = NULL;
                extra = cJSON_CreateObject();
                if (ms->method == ML_MERGE_ENSEMBLE) {
                    sc.gpt = NULL;
                    sc.ens[0] = spec[0].model;
                    sc.ens[1] = spec[1].model;
                    sc.ens_w[0] = ms->weights[0];
                    sc.ens_w[1] = ms->weights[1];
                    sc.ens_prob = ms->prob_ensemble;
                    cJSON_AddStringToObject(extra, "space", ms->prob_ensemble ? "probabilities" : "logits");
                    cJSON_AddItemToObject(extra, "weights", cJSON_CreateDoubleArray(ms->weights, 2));
                } else if ((error = feature_merge(&mix, extra, ms, s, &base, spec, &train[s->target.domain], vx, vy, nvw,
                                                  B, T, opt)) < 0) {
                    ml_error_prefix("%s: merge '%s'", s->file, ms->name);
                    goto cleanup;
                } else {
                    sc.gpt = NULL;
                    sc.mix = mix;
                }
            } else {
                const ml_merge_spec *ms = &s->merges[e - 4];
                name = ms->name;
                role = "merge";
                if ((error = gpt_weight_merge(merged, ms, s, &base, spec, mask)) < 0) goto cleanup;
            }
            double loss = eval_loss(&sc, wx[s->target.domain], wy[s->target.domain], nw[s->target.domain], T), em = NAN;
            if ((error = exact_match(&em, &sc, &test[s->target.domain], s->exact_match, T, ex)) < 0) goto cleanup;
            cJSON *me = cJSON_CreateObject();
            cJSON_AddStringToObject(me, "name", name);
            cJSON_AddStringToObject(me, "role", role);
            if (e >= 4) {
                cJSON_AddStringToObject(me, "method", ml_merge_method_name(s->merges[e - 4].method));
                if (s->merges[e - 4].method == ML_MERGE_AVERAGE)
                    cJSON_AddItemToObject(me, "weights", cJSON_CreateDoubleArray(s->merges[e - 4].weights, 2));
                if (extra) {
                    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(extra, "alpha");
                    if (cJSON_IsNumber(alpha)) ml_run__add_metric(metrics, name, "alpha", alpha->valuedouble);
                    for (cJSON *it = extra->child; it; it = extra->child)
                        cJSON_AddItemToObject(me, it->string, cJSON_DetachItemViaPointer(extra, it));
                    cJSON_Delete(extra);
                    extra = NULL;
                }
            }
            cJSON_AddNumberToObject(me, "loss", loss);
            cJSON_AddNumberToObject(me, "exact_match", em);
            ml_run__add_metric(metrics, name, "loss", loss);
            if (s->exact_match > 0) ml_run__add_metric(metrics, name, "exact_match", em);   /* NaN: not measured */
            /* each specialist's own domain, to see specialisation and forgetting (for the
             * merges too unless eval.merge_domain_losses is false) */
            for (int k = 0; k < 2 && (e < 4 || s->merge_domain_losses); k++) {
                int d = s->specialists[k].domain;
                char what[48];
                if (d == s->target.domain) continue;
                double dl = eval_loss(&sc, wx[d], wy[d], nw[d], T);
                snprintf(what, sizeof(what), "%s_loss", ml_domain_name((ml_domain)d));
                cJSON_AddNumberToObject(me, what, dl);
                ml_run__add_metric(metrics, name, what, dl);
            }
            cJSON_AddItemToArray(models, me);
        }
    point_done:
        if (!cJSON_IsArray(models) || !cJSON_IsObject(metrics)) {
            error = ml_error_set(ML_EINVALID, "%s: the evaluated point %d has no models or metrics", s->file, pi);
            goto cleanup;
        }
        if (stage == ML_STAGE_POINT) {
            *out = own_pt;
            own_pt = NULL;
            goto cleanup;
        }
        if (pi == npts - 1) {   /* the end of fine-tuning: the cell's own models and metrics */
            models = cJSON_AddArrayToObject(res, "models");
            metrics = cJSON_AddObjectToObject(res, "metrics");
            for (const cJSON *m = cJSON_GetObjectItemCaseSensitive(pt, "models")->child; m; m = m->next)
                cJSON_AddItemToArray(models, cJSON_Duplicate(m, 1));
            for (const cJSON *m = cJSON_GetObjectItemCaseSensitive(pt, "metrics")->child; m; m = m->next)
                cJSON_AddItemToObject(metrics, m->string, cJSON_Duplicate(m, 0));   /* null stays null */
        }
        cJSON_Delete(own_pt);
        own_pt = NULL;
    }
    if (stage == ML_STAGE_POINT) {
        error = ml_error_set(ML_EINVALID, "%s: no fine-tuning point %d (the suite has %d)", s->file, opt->point, npts);
        goto cleanup;
    }

    /* 6. CKA (mean-pooled, the paper's; per token alongside), gate, data, timing */
    {
        char names[64][24];
        const char *lnames[64];
        for (int l = 0; l < L; l++) {
            snprintf(names[l], sizeof(names[l]), "block%d", l + 1);
            lnames[l] = names[l];
        }
        cJSON *cka = ml_run__cka_report(res, metrics, &track, spec[0].name, spec[1].name, lnames, s->cka_steps);
        for (int l = 0; l < L; l++) {
            char what[64];
            snprintf(what, sizeof(what), "block%d_token", l + 1);
            ml_run__add_metric(metrics, "cka", what, curve_tok[l * nck + nck - 1]);
        }
        cJSON *ot = cJSON_AddArrayToObject(cka, "over_steps_token");
        for (int l = 0; l < L; l++) cJSON_AddItemToArray(ot, cJSON_CreateDoubleArray(curve_tok + l * nck, nck));
        cJSON_AddStringToObject(cka, "representation", "residual stream after each block; over_steps mean-pooled over "
                                "positions (the paper's), over_steps_token per position");
        cJSON_AddNumberToObject(cka, "probe_size", P);
    }
    cJSON *ft = cJSON_AddObjectToObject(res, "finetune");
    cJSON *groups = cJSON_AddArrayToObject(ft, "train");
    for (int g = 0; g < s->ntrain_groups; g++) cJSON_AddItemToArray(groups, cJSON_CreateString(s->train_groups[g]));
    cJSON_AddNumberToObject(ft, "frozen_tensors", frozen);
    cJSON_AddBoolToObject(ft, "frozen_identical_to_base", 1);   /* checked above, else the run failed */
    cJSON *data = cJSON_AddArrayToObject(res, "data");
    for (int d = 0; d < ML_DOMAIN_COUNT; d++)
        if (used[d]) {
            cJSON_AddItemToArray(data, corpus_entry(&train[d]));
            cJSON_AddItemToArray(data, corpus_entry(&test[d]));
        }
    cJSON_AddItemToArray(data, corpus_entry(&valid));
    if (pre_data == &pre_own) cJSON_AddItemToArray(data, corpus_entry(&pre_own));
    cJSON_AddNumberToObject(res, "seed", (double)s->seed);
    cJSON_AddNumberToObject(res, "pretrain_seed", (double)s->pretrain_seed);
    if (s->pretrain_threads > 0) cJSON_AddNumberToObject(res, "pretrain_threads", s->pretrain_threads);
    cJSON_AddNumberToObject(res, "threads", ml_blas_threads());
    double phases[5] = { t0, t_pre, t_ft, t_dir, ml_run__now() };
    ml_run__add_timing(res, phases);
    ml_run__add_cached(res, cached);
    ml_run__add_step_times(res, cached, s->pretrain.steps, s->finetune.steps);
    *out = res;
    res = NULL;
cleanup:
    cJSON_Delete(res);
    cJSON_Delete(own_pt);
    gtrainer_free(&base);
    gtrainer_free(&spec[0]);
    gtrainer_free(&spec[1]);
    gtrainer_free(&direct);
    ml_gpt_free(merged);
    ml_gpt_mix_free(mix);
    free(vx);
    free(vy);
    free(sc.ens_a);
    free(sc.ens_out);
    free(sc.probs);
    free(sc.losses);
    free(mask);
    free(probe_x);
    free(probe_y);
    free(ex);
    ml_run__phase_abort(&phase);
    free(pack);
    free(dpack);
    free(track_buf);
    ml_run__cka_track_free(&track);
    for (int l = 0; l < 64; l++) { free(base_pooled[l]); free(base_tok[l]); }
    free(curve_tok);
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 64; l++) { free(pooled[k][l]); free(tok[k][l]); }
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus_free(&train[d]);
        ml_corpus_free(&test[d]);
        free(wx[d]);
        free(wy[d]);
    }
    ml_corpus_free(&valid);
    ml_corpus_free(&pre_own);
    return error;
}
