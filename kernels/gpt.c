/*
 * kernels/gpt.c: the GPT forward and backward, strung from kernels/layers.h.
 * Every buffer is allocated once in ml_gpt_new, so a training step
 * allocates nothing (large per-step mallocs cross glibc's mmap threshold
 * and get slow). Tensor k of layer l is layout entry 2 + 12*l + k.
 */
#include "kernels/gpt.h"
#include "kernels/layers.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LN1W, LN1B, QKVW, QKVB, PROJW, PROJB, LN2W, LN2B, FCW, FCB, FCPW, FCPB, PER_LAYER };
static const char *const layer_names[PER_LAYER] = {
    "ln1.w", "ln1.b", "attn.qkv.w", "attn.qkv.b", "attn.proj.w", "attn.proj.b",
    "ln2.w", "ln2.b", "mlp.fc.w", "mlp.fc.b", "mlp.proj.w", "mlp.proj.b" };

static int tix(int l, int k) { return 2 + PER_LAYER * l + k; }
static int lnf_ix(const ml_gpt *m, int k) { return 2 + PER_LAYER * m->cfg.n_layer + k; }
static float *P(const ml_gpt *m, int t) { return m->params + m->layout.tensors[t].offset; }
/* the gradient of tensor t, or NULL when it is frozen */
static float *G(const ml_gpt *m, int t, const unsigned char *trainable) {
    return trainable && !trainable[t] ? NULL : m->grads + m->layout.tensors[t].offset;
}

int ml_gpt_new(ml_gpt **out, const ml_gpt_config *cfg, int B, int T) {
    ml_gpt *m = NULL;
    int error = 0;
    *out = NULL;
    int V = cfg->vocab_size, C = cfg->n_embd, L = cfg->n_layer, NH = cfg->n_head;
    ML_CHECK_ARG(V > 0 && cfg->max_T > 0 && L > 0 && NH > 0 && C > 0,
                 "gpt: sizes must be > 0 (vocab %d, context %d, layers %d, heads %d, channels %d)",
                 V, cfg->max_T, L, NH, C);
    ML_CHECK_ARG(C % NH == 0, "gpt: n_embd %d is not divisible by n_head %d", C, NH);
    ML_CHECK_ARG(B > 0 && T > 0 && T <= cfg->max_T, "gpt: batch %d x %d does not fit context %d", B, T, cfg->max_T);
    if ((error = ml_calloc((void **)&m, 1, sizeof(*m))) < 0) goto cleanup;
    m->cfg = *cfg;
    m->B = B;
    m->T = T;
    m->injected_at = -1;
    {
        int s_wte[2] = { V, C }, s_wpe[2] = { cfg->max_T, C };
        if ((error = ml_layout_add(&m->layout, "wte", 2, s_wte, 1)) < 0 ||
            (error = ml_layout_add(&m->layout, "wpe", 2, s_wpe, 1)) < 0)
            goto cleanup;
        for (int l = 0; l < L; l++)
            for (int k = 0; k < PER_LAYER; k++) {
                int shape[2], nd = 1;
                char name[ML_TENSOR_NAME_MAX];
                switch (k) {
                case QKVW: shape[0] = 3 * C; shape[1] = C; nd = 2; break;
                case QKVB: shape[0] = 3 * C; break;
                case PROJW: shape[0] = C; shape[1] = C; nd = 2; break;
                case FCW: shape[0] = 4 * C; shape[1] = C; nd = 2; break;
                case FCB: shape[0] = 4 * C; break;
                case FCPW: shape[0] = C; shape[1] = 4 * C; nd = 2; break;
                default: shape[0] = C; break;
                }
                snprintf(name, sizeof(name), "h.%d.%s", l, layer_names[k]);
                if ((error = ml_layout_add(&m->layout, name, nd, shape, nd == 2)) < 0) goto cleanup;
            }
        int s_c[1] = { C };
        if ((error = ml_layout_add(&m->layout, "lnf.w", 1, s_c, 0)) < 0 ||
            (error = ml_layout_add(&m->layout, "lnf.b", 1, s_c, 0)) < 0)
            goto cleanup;
    }
    size_t BT = (size_t)B * T, f = sizeof(float);
    struct { float **p; size_t n; } bufs[] = {
        { &m->params, m->layout.total }, { &m->grads, m->layout.total },
        { &m->res, (size_t)(L + 1) * BT * C },
        { &m->ln1, L * BT * C }, { &m->ln1_mean, L * BT }, { &m->ln1_rstd, L * BT },
        { &m->qkv, L * BT * 3 * C }, { &m->att, (size_t)L * B * NH * T * T }, { &m->atty, L * BT * C },
        { &m->mid, L * BT * C },
        { &m->ln2, L * BT * C }, { &m->ln2_mean, L * BT }, { &m->ln2_rstd, L * BT },
        { &m->fch, L * BT * 4 * C }, { &m->fch_gelu, L * BT * 4 * C },
        { &m->lnf, BT * C }, { &m->lnf_mean, BT }, { &m->lnf_rstd, BT },
        { &m->logits, BT * V }, { &m->probs, BT * V }, { &m->losses, BT },
        { &m->dres, BT * C }, { &m->dC, BT * C }, { &m->dC2, BT * C }, { &m->d4C, BT * 4 * C },
        { &m->d4C2, BT * 4 * C }, { &m->dqkv, BT * 3 * C }, { &m->datt, (size_t)B * NH * T * T }, { &m->dlogits, BT * V },
    };
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        if ((error = ml_aligned_alloc((void **)bufs[i].p, bufs[i].n * f)) < 0) goto cleanup;
        m->bytes += bufs[i].n * f;
    }
    *out = m;
    m = NULL;
cleanup:
    ml_gpt_free(m);
    return error;
}

size_t ml_gpt_bytes(const ml_gpt_config *cfg, int B, int T) {
    size_t V = (size_t)cfg->vocab_size, C = (size_t)cfg->n_embd, L = (size_t)cfg->n_layer, NH = (size_t)cfg->n_head;
    size_t BT = (size_t)B * T, TT = (size_t)T * T;
    size_t P = V * C + (size_t)cfg->max_T * C + L * (12 * C * C + 13 * C) + 2 * C;
    /* the same buffers as ml_gpt_new, in floats (tests/test_gpt.c holds them equal) */
    size_t n = 2 * P + (L + 1) * BT * C + L * (BT * C + 2 * BT + BT * 3 * C + B * NH * TT + 2 * BT * C + BT * C + 2 * BT +
                                                 2 * BT * 4 * C) +
               BT * C + 2 * BT + 2 * BT * V + BT + 3 * BT * C + 2 * BT * 4 * C + BT * 3 * C + B * NH * TT + BT * V;
    return n * sizeof(float);
}

void ml_gpt_free(ml_gpt *m) {
    if (!m) return;
    float *bufs[] = { m->params, m->grads, m->res, m->ln1, m->ln1_mean, m->ln1_rstd, m->qkv, m->att,
                      m->atty, m->mid, m->ln2, m->ln2_mean, m->ln2_rstd, m->fch, m->fch_gelu, m->lnf,
                      m->lnf_mean, m->lnf_rstd, m->logits, m->probs, m->losses, m->dres, m->dC, m->dC2, m->d4C,
                      m->d4C2, m->dqkv, m->datt, m->dlogits };
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) free(bufs[i]);
    ml_layout_free(&m->layout);
    free(m);
}

void ml_gpt_init(ml_gpt *m, uint64_t seed) {
    float proj_sd = 0.02f / sqrtf(2.0f * m->cfg.n_layer);
    for (int t = 0; t < m->layout.n; t++) {
        const ml_tensor_info *ti = &m->layout.tensors[t];
        float *p = m->params + ti->offset;
        const char *name = ti->name;
        size_t n = strlen(name);
        if (ti->ndim == 1) {
            /* LayerNorm weights ".w" start at 1, every bias and LN shift at 0 */
            float v = n >= 2 && !strcmp(name + n - 2, ".w") ? 1.0f : 0.0f;
            for (size_t i = 0; i < ti->numel; i++) p[i] = v;
            continue;
        }
        int is_proj = strstr(name, "attn.proj.w") || strstr(name, "mlp.proj.w");
        float sd = is_proj ? proj_sd : 0.02f;
        for (size_t i = 0; i < ti->numel; i++) p[i] = sd * ml_rng_normal(seed, ML_STREAM_INIT + (uint64_t)t, i);
    }
}

/* per-layer activation pointers for (B,T) rows */
typedef struct {
    float *in, *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *mid, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *out;
} acts;

static acts layer_acts(const ml_gpt *m, int l) {
    size_t cap = (size_t)m->B * m->T, C = (size_t)m->cfg.n_embd;
    acts a = {
        m->res + (size_t)l * cap * C, m->ln1 + l * cap * C, m->ln1_mean + l * cap, m->ln1_rstd + l * cap,
        m->qkv + l * cap * 3 * C, m->att + (size_t)l * m->B * m->cfg.n_head * m->T * m->T, m->atty + l * cap * C,
        m->mid + l * cap * C, m->ln2 + l * cap * C, m->ln2_mean + l * cap, m->ln2_rstd + l * cap,
        m->fch + l * cap * 4 * C, m->fch_gelu + l * cap * 4 * C, m->res + (size_t)(l + 1) * cap * C };
    return a;
}

typedef struct { float *y; const float *x; } add_job;

static void add_range(void *ctx, long lo, long hi) {
    const add_job *j = ctx;
    for (long i = lo; i < hi; i++) j->y[i] += j->x[i];
}

/* y += x, element-wise on the worker threads */
static void add_inplace(float *y, const float *x, long n) {
    add_job j = { y, x };
    ml_par_for(n, 16384, add_range, &j);
}

float ml_gpt_forward(ml_gpt *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                     int inject_layer, const float *inject) {
    const ml_gpt_config *c = &m->cfg;
    int C = c->n_embd, L = c->n_layer, NH = c->n_head, V = c->vocab_size, N = B * T;
    m->last_B = B;
    m->last_T = T;
    m->injected_at = inject ? inject_layer : -1;
    m->had_targets = targets != NULL;
    /* the attention buffers are laid out for T = m->T; smaller B or T use a prefix */
    ml_embedding_forward(m->res, tokens, P(m, 0), P(m, 1), B, T, C);
    for (int l = 0; l < L; l++) {
        acts a = layer_acts(m, l);
        if (inject && l == inject_layer) memcpy(a.in, inject, (size_t)N * C * sizeof(float));
        ml_layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, a.in, P(m, tix(l, LN1W)), P(m, tix(l, LN1B)), N, C);
        ml_linear_forward(a.qkv, a.ln1, P(m, tix(l, QKVW)), P(m, tix(l, QKVB)), N, C, 3 * C);
        ml_attention_forward(a.atty, a.att, a.qkv, B, T, C, NH);
        ml_linear_forward(a.mid, a.atty, P(m, tix(l, PROJW)), P(m, tix(l, PROJB)), N, C, C);
        add_inplace(a.mid, a.in, (long)N * C);
        ml_layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.mid, P(m, tix(l, LN2W)), P(m, tix(l, LN2B)), N, C);
        ml_linear_forward(a.fch, a.ln2, P(m, tix(l, FCW)), P(m, tix(l, FCB)), N, C, 4 * C);
        ml_gelu_forward(a.fch_gelu, a.fch, (long)N * 4 * C);
        ml_linear_forward(a.out, a.fch_gelu, P(m, tix(l, FCPW)), P(m, tix(l, FCPB)), N, 4 * C, C);
        add_inplace(a.out, a.mid, (long)N * C);
    }
    float *last = m->res + (size_t)L * m->B * m->T * C;
    if (inject && inject_layer == L) memcpy(last, inject, (size_t)N * C * sizeof(float));
    ml_layernorm_forward(m->lnf, m->lnf_mean, m->lnf_rstd, last, P(m, lnf_ix(m, 0)), P(m, lnf_ix(m, 1)), N, C);
    ml_linear_forward(m->logits, m->lnf, P(m, 0), NULL, N, C, V);   /* tied head: logits = lnf wte^T */
    if (!targets) return 0.0f;
    return ml_softmax_ce_forward(m->probs, m->losses, m->logits, targets, N, V);
}

int ml_gpt_backward(ml_gpt *m, const int32_t *tokens, const int32_t *targets, const unsigned char *trainable) {
    const ml_gpt_config *c = &m->cfg;
    int B = m->last_B, T = m->last_T, C = c->n_embd, L = c->n_layer, NH = c->n_head, V = c->vocab_size;
    int N = B * T;
    ML_CHECK_ARG(targets != NULL && m->had_targets, "gpt backward: needs the forward's targets");
    ML_CHECK_ARG(m->injected_at < 0, "gpt backward: the last forward injected a residual at layer %d",
                 m->injected_at);
    /* head: CE -> tied projection -> final LayerNorm */
    ml_par_zero(m->dlogits, (long)N * V);
    ml_softmax_ce_backward(m->dlogits, m->probs, targets, N, V);
    ml_par_zero(m->dC, (long)N * C);
    ml_linear_backward(m->dC, G(m, 0, trainable), NULL, m->dlogits, m->lnf, P(m, 0), N, C, V);
    ml_par_zero(m->dres, (long)N * C);
    float *last = m->res + (size_t)L * m->B * m->T * C;
    ml_layernorm_backward(m->dres, G(m, lnf_ix(m, 0), trainable), G(m, lnf_ix(m, 1), trainable), m->dC, last,
                          P(m, lnf_ix(m, 0)), m->lnf_mean, m->lnf_rstd, N, C);
    /* blocks, last to first; dres carries d loss / d residual */
    for (int l = L - 1; l >= 0; l--) {
        acts a = layer_acts(m, l);
        /* MLP half: out = mid + proj(gelu(fc(ln2(mid)))) */
        ml_par_zero(m->d4C, (long)N * 4 * C);
        ml_linear_backward(m->d4C, G(m, tix(l, FCPW), trainable), G(m, tix(l, FCPB), trainable), m->dres,
                           a.fch_gelu, P(m, tix(l, FCPW)), N, 4 * C, C);
        ml_par_zero(m->d4C2, (long)N * 4 * C);
        ml_gelu_backward(m->d4C2, m->d4C, a.fch, (long)N * 4 * C);
        ml_par_zero(m->dC, (long)N * C);
        ml_linear_backward(m->dC, G(m, tix(l, FCW), trainable), G(m, tix(l, FCB), trainable), m->d4C2, a.ln2,
                           P(m, tix(l, FCW)), N, C, 4 * C);
        ml_layernorm_backward(m->dres, G(m, tix(l, LN2W), trainable), G(m, tix(l, LN2B), trainable), m->dC, a.mid,
                              P(m, tix(l, LN2W)), a.ln2_mean, a.ln2_rstd, N, C);
        /* attention half: mid = in + proj(attn(qkv(ln1(in)))) */
        ml_par_zero(m->dC, (long)N * C);
        ml_linear_backward(m->dC, G(m, tix(l, PROJW), trainable), G(m, tix(l, PROJB), trainable), m->dres, a.atty,
                           P(m, tix(l, PROJW)), N, C, C);
        ml_par_zero(m->dqkv, (long)N * 3 * C);
        ml_attention_backward(m->dqkv, m->datt, m->dC, a.qkv, a.att, B, T, C, NH);
        ml_par_zero(m->dC2, (long)N * C);
        ml_linear_backward(m->dC2, G(m, tix(l, QKVW), trainable), G(m, tix(l, QKVB), trainable), m->dqkv, a.ln1,
                           P(m, tix(l, QKVW)), N, C, 3 * C);
        ml_layernorm_backward(m->dres, G(m, tix(l, LN1W), trainable), G(m, tix(l, LN1B), trainable), m->dC2, a.in,
                              P(m, tix(l, LN1W)), a.ln1_mean, a.ln1_rstd, N, C);
    }
    float *dwte = G(m, 0, trainable), *dwpe = G(m, 1, trainable);
    if (dwte && dwpe) ml_embedding_backward(dwte, dwpe, m->dres, tokens, B, T, C);
    else if (dwte || dwpe) {
        /* one of the two frozen: accumulate into a scratch-free split */
        for (int i = 0; i < N; i++) {
            const float *d = m->dres + (size_t)i * C;
            if (dwte) { float *g = dwte + (size_t)tokens[i] * C; for (int k = 0; k < C; k++) g[k] += d[k]; }
            if (dwpe) { float *g = dwpe + (size_t)(i % T) * C; for (int k = 0; k < C; k++) g[k] += d[k]; }
        }
    }
    return 0;
}

const float *ml_gpt_residual(const ml_gpt *m, int l) {
    return m->res + (size_t)l * m->B * m->T * m->cfg.n_embd;
}

const float *ml_gpt_logits(const ml_gpt *m, int b, int t) {
    return m->logits + ((size_t)b * m->last_T + t) * m->cfg.vocab_size;
}

static int argmax(const float *z, int V) {
    int best = 0;
    for (int v = 1; v < V; v++) if (z[v] > z[best]) best = v;
    return best;
}

void ml_answer_matches(const float *(*logits)(void *ctx, int b, int t), void *ctx, int V, const int32_t *x,
                       const int *prompt, const int *len, int B, int T, int *match) {
    for (int b = 0; b < B; b++) {
        int ok = 1;
        for (int t = prompt[b] - 1; t < len[b] - 1 && ok; t++)
            ok = argmax(logits(ctx, b, t), V) == x[(long)b * T + t + 1];
        match[b] = ok;
    }
}

static const float *gpt_logits_cb(void *ctx, int b, int t) { return ml_gpt_logits(ctx, b, t); }

void ml_gpt_answer_matches(ml_gpt *m, const int32_t *x, const int *prompt, const int *len, int B, int T,
                           int *match) {
    ml_gpt_forward(m, x, NULL, B, T, -1, NULL);
    ml_answer_matches(gpt_logits_cb, m, m->cfg.vocab_size, x, prompt, len, B, T, match);
}

void ml_gpt_greedy(ml_gpt *m, int32_t *seq, int n, int n_new) {
    for (int i = 0; i < n_new; i++) {
        ml_gpt_forward(m, seq, NULL, 1, n + i, -1, NULL);
        seq[n + i] = argmax(ml_gpt_logits(m, 0, n + i - 1), m->cfg.vocab_size);
    }
}

int ml_gpt_mark_trainable(unsigned char *mask, const ml_gpt *m, const char *group) {
    int all = !strcmp(group, "all");
    int mlp = !strcmp(group, "mlp"), attn = !strcmp(group, "attn"), ln = !strcmp(group, "ln");
    int embed = !strcmp(group, "embed");
    ML_CHECK_ARG(all || mlp || attn || ln || embed,
                 "unknown parameter group \"%s\" (expected one of: all, mlp, attn, ln, embed)", group);
    for (int t = 0; t < m->layout.n; t++) {
        const char *n = m->layout.tensors[t].name;
        int hit = all || (mlp && strstr(n, ".mlp.")) || (attn && strstr(n, ".attn.")) ||
                  (ln && (strstr(n, ".ln1.") || strstr(n, ".ln2.") || !strncmp(n, "lnf.", 4))) ||
                  (embed && (!strcmp(n, "wte") || !strcmp(n, "wpe")));
        if (hit) mask[t] = 1;
    }
    return 0;
}

double ml_gpt_step_flops(const ml_gpt_config *cfg, int B, int T) {
    double N = (double)B * T, C = cfg->n_embd, V = cfg->vocab_size, L = cfg->n_layer;
    /* forward matmuls per token: qkv 3C^2, proj C^2, fc 4C^2, fc proj 4C^2, head VC; 2 FLOPs each */
    double fwd = 2.0 * N * (L * 12.0 * C * C + V * C);
    /* attention: q k^T and P v, each T x T x hs per head = T*T*C per layer per sequence, 2 FLOPs */
    fwd += 2.0 * 2.0 * L * B * (double)T * T * C;
    return 3.0 * fwd;   /* backward is two products per forward product */
}
