/*
 * kernels/mlp.c: MLP forward/backward built from kernels/layers.c.
 * All buffers are allocated once in ml_mlp_new; a step allocates nothing.
 */
#include "kernels/mlp.h"
#include "kernels/layers.h"
#include "kernels/rng.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int layer_in(const ml_mlp_config *c, int l) { return l == 0 ? c->in_dim : c->hidden[l - 1]; }
static int layer_out(const ml_mlp_config *c, int l) { return l == c->n_hidden ? c->out_dim : c->hidden[l]; }

size_t ml_mlp_bytes(const ml_mlp_config *cfg, int max_batch) {
    size_t P = 0, maxw = (size_t)cfg->out_dim, acts = 0, N = (size_t)max_batch;
    for (int l = 0; l <= cfg->n_hidden; l++) {
        size_t o = (size_t)layer_out(cfg, l), i = (size_t)layer_in(cfg, l);
        P += o * i + o;
        if (o > maxw) maxw = o;
        acts += N * o * (l < cfg->n_hidden ? 2 : 1);
    }
    return (2 * P + N * (cfg->out_dim + 1 + 2 * maxw) + acts) * sizeof(float);
}

int ml_mlp_new(ml_mlp **out, const ml_mlp_config *cfg, int max_batch) {
    ml_mlp *m = NULL;
    int error = 0, maxw;
    *out = NULL;
    ML_CHECK_ARG(cfg->in_dim > 0, "mlp: in_dim must be > 0, got %d", cfg->in_dim);
    ML_CHECK_ARG(cfg->n_hidden >= 1 && cfg->n_hidden <= ML_MLP_MAX_HIDDEN,
                 "mlp: hidden layers must be 1..%d, got %d", ML_MLP_MAX_HIDDEN, cfg->n_hidden);
    ML_CHECK_ARG(cfg->out_dim >= 2 && cfg->out_dim <= 256, "mlp: out_dim must be 2..256, got %d", cfg->out_dim);
    ML_CHECK_ARG(max_batch > 0, "mlp: max_batch must be > 0");
    for (int l = 0; l < cfg->n_hidden; l++)
        ML_CHECK_ARG(cfg->hidden[l] > 0, "mlp: hidden[%d] must be > 0, got %d", l, cfg->hidden[l]);
    if ((error = ml_calloc((void **)&m, 1, sizeof(*m))) < 0) goto cleanup;
    m->cfg = *cfg;
    m->max_batch = max_batch;
    maxw = cfg->out_dim;
    for (int l = 0; l <= cfg->n_hidden; l++) {
        char name[ML_TENSOR_NAME_MAX];
        int wshape[2] = { layer_out(cfg, l), layer_in(cfg, l) }, bshape[1] = { layer_out(cfg, l) };
        snprintf(name, sizeof(name), "fc%d.weight", l + 1);
        if ((error = ml_layout_add(&m->layout, name, 2, wshape, 1)) < 0) goto cleanup;
        snprintf(name, sizeof(name), "fc%d.bias", l + 1);
        if ((error = ml_layout_add(&m->layout, name, 1, bshape, 0)) < 0) goto cleanup;
        if (layer_out(cfg, l) > maxw) maxw = layer_out(cfg, l);
    }
    if ((error = ml_aligned_alloc((void **)&m->params, m->layout.total * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&m->grads, m->layout.total * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&m->probs, (size_t)max_batch * cfg->out_dim * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&m->losses, (size_t)max_batch * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&m->dpre, (size_t)max_batch * maxw * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&m->dpost, (size_t)max_batch * maxw * sizeof(float))) < 0)
        goto cleanup;
    m->bytes = (2 * m->layout.total + (size_t)max_batch * (cfg->out_dim + 1 + 2 * (size_t)maxw)) * sizeof(float);
    for (int l = 0; l <= cfg->n_hidden; l++) {
        size_t sz = (size_t)max_batch * layer_out(cfg, l) * sizeof(float);
        if ((error = ml_aligned_alloc((void **)&m->pre[l], sz)) < 0) goto cleanup;
        if (l < cfg->n_hidden && (error = ml_aligned_alloc((void **)&m->post[l], sz)) < 0) goto cleanup;
        m->bytes += sz * (l < cfg->n_hidden ? 2 : 1);
    }
    *out = m;
    m = NULL;
cleanup:
    ml_mlp_free(m);
    return error;
}

void ml_mlp_free(ml_mlp *m) {
    if (!m) return;
    ml_layout_free(&m->layout);
    free(m->params);
    free(m->grads);
    free(m->probs);
    free(m->losses);
    free(m->dpre);
    free(m->dpost);
    for (int l = 0; l <= ML_MLP_MAX_HIDDEN; l++) free(m->pre[l]);
    for (int l = 0; l < ML_MLP_MAX_HIDDEN; l++) free(m->post[l]);
    free(m);
}

void ml_mlp_init(ml_mlp *m, uint64_t seed) {
    for (int t = 0; t < m->layout.n; t++) {
        const ml_tensor_info *ti = &m->layout.tensors[t];
        float *p = m->params + ti->offset;
        if (ti->ndim == 1) { memset(p, 0, ti->numel * sizeof(float)); continue; }
        int fan_in = ti->shape[1];
        int is_logits = t == m->layout.n - 2;
        float sd = sqrtf((is_logits ? 1.0f : 2.0f) / (float)fan_in);
        for (size_t i = 0; i < ti->numel; i++)
            p[i] = sd * ml_rng_normal(seed, ML_STREAM_INIT + (uint64_t)t, i);
    }
}

static const float *W_of(const ml_mlp *m, int l) { return m->params + m->layout.tensors[2 * l].offset; }
static const float *b_of(const ml_mlp *m, int l) { return m->params + m->layout.tensors[2 * l + 1].offset; }

float ml_mlp_forward(ml_mlp *m, const float *x, const int32_t *targets, int N) {
    const ml_mlp_config *c = &m->cfg;
    const float *in = x;
    for (int l = 0; l <= c->n_hidden; l++) {
        int I = layer_in(c, l), O = layer_out(c, l);
        ml_linear_forward(m->pre[l], in, W_of(m, l), b_of(m, l), N, I, O);
        if (l < c->n_hidden) {
            long n = (long)N * O;
            if (c->act == ML_ACT_GELU) ml_gelu_forward(m->post[l], m->pre[l], n);
            else ml_relu_forward(m->post[l], m->pre[l], n);
            in = m->post[l];
        }
    }
    m->last_n = N;
    if (!targets) return 0.0f;
    return ml_softmax_ce_forward(m->probs, m->losses, m->pre[c->n_hidden], targets, N, c->out_dim);
}

void ml_mlp_backward(ml_mlp *m, const float *x, const int32_t *targets, int N) {
    const ml_mlp_config *c = &m->cfg;
    int L = c->n_hidden;
    /* dpre holds d loss / d pre[l] for the layer being processed */
    memset(m->dpre, 0, (size_t)N * c->out_dim * sizeof(float));
    ml_softmax_ce_backward(m->dpre, m->probs, targets, N, c->out_dim);
    for (int l = L; l >= 0; l--) {
        int I = layer_in(c, l), O = layer_out(c, l);
        const float *in = l == 0 ? x : m->post[l - 1];
        float *dW = m->grads + m->layout.tensors[2 * l].offset;
        float *db = m->grads + m->layout.tensors[2 * l + 1].offset;
        float *dx = NULL;
        if (l > 0) {
            dx = m->dpost;
            memset(dx, 0, (size_t)N * I * sizeof(float));
        }
        ml_linear_backward(dx, dW, db, m->dpre, in, W_of(m, l), N, I, O);
        if (l > 0) {
            long n = (long)N * I;
            memset(m->dpre, 0, (size_t)n * sizeof(float));
            if (c->act == ML_ACT_GELU) ml_gelu_backward(m->dpre, m->dpost, m->pre[l - 1], n);
            else ml_relu_backward(m->dpre, m->dpost, m->pre[l - 1], n);
        }
    }
}

float ml_mlp_forward_mix(ml_mlp *work, const ml_mlp *const *models, const double *w, int K, const float *x,
                         const int32_t *targets, int N) {
    const ml_mlp_config *c = &work->cfg;
    const float *in = x;
    float *tmp = work->dpre;   /* (N, max width) scratch: no backward runs on a mixture */
    for (int l = 0; l <= c->n_hidden; l++) {
        int I = layer_in(c, l), O = layer_out(c, l);
        long n = (long)N * O;
        float *mix = l < c->n_hidden ? work->post[l] : work->pre[l];
        for (int k = 0; k < K; k++) {
            ml_linear_forward(tmp, in, W_of(models[k], l), b_of(models[k], l), N, I, O);
            if (l < c->n_hidden) {
                if (c->act == ML_ACT_GELU) ml_gelu_forward(tmp, tmp, n);
                else ml_relu_forward(tmp, tmp, n);
            }
            float wk = (float)w[k];
            if (k == 0) for (long i = 0; i < n; i++) mix[i] = wk * tmp[i];
            else for (long i = 0; i < n; i++) mix[i] += wk * tmp[i];
        }
        in = mix;
    }
    work->last_n = N;
    if (!targets) return 0.0f;
    return ml_softmax_ce_forward(work->probs, work->losses, work->pre[c->n_hidden], targets, N, c->out_dim);
}

long ml_mlp_count_correct(const float *probs, const int32_t *y, int B, int V) {
    long correct = 0;
    for (int i = 0; i < B; i++) {
        const float *p = probs + (long)i * V;
        int best = 0;
        for (int v = 1; v < V; v++) if (p[v] > p[best]) best = v;
        correct += best == y[i];
    }
    return correct;
}

void ml_mlp_evaluate_mix(ml_mlp *work, const ml_mlp *const *models, const double *w, int K, const float *x,
                         const int32_t *y, int n, double *acc, double *loss) {
    long correct = 0;
    double total = 0.0;
    for (int s = 0; s < n; s += work->max_batch) {
        int B = n - s < work->max_batch ? n - s : work->max_batch;
        total += (double)ml_mlp_forward_mix(work, models, w, K, x + (long)s * work->cfg.in_dim, y + s, B) * B;
        correct += ml_mlp_count_correct(work->probs, y + s, B, work->cfg.out_dim);
    }
    *acc = n ? (double)correct / n : 0.0;
    *loss = n ? total / n : 0.0;
}

void ml_mlp_evaluate(ml_mlp *m, const float *x, const int32_t *y, int n, double *acc, double *loss) {
    long correct = 0;
    double total = 0.0;
    int V = m->cfg.out_dim;
    for (int s = 0; s < n; s += m->max_batch) {
        int B = n - s < m->max_batch ? n - s : m->max_batch;
        float mean = ml_mlp_forward(m, x + (long)s * m->cfg.in_dim, y + s, B);
        total += (double)mean * B;
        correct += ml_mlp_count_correct(m->probs, y + s, B, V);
    }
    *acc = n ? (double)correct / n : 0.0;
    *loss = n ? total / n : 0.0;
}

int ml_mlp_hidden_width(const ml_mlp *m, int l) { return m->cfg.hidden[l]; }
const float *ml_mlp_hidden(const ml_mlp *m, int l) { return m->post[l]; }
