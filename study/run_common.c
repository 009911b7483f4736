/*
 * study/run_common.c: the pieces the protocol (protocol.c) and the
 * families (family_*.c) share: the CKA track, checkpoint selection, cached
 * phases, progress and log lines.
 * Not here: the protocol itself, the JSON keys (store/results_write.c).
 */
#include "study/run_common.h"
#include "core/error.h"
#include "store/cache.h"
#include "kernels/cka.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double ml_run__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}




int ml_run__cka_track_new(ml_cka_track *t, int L, int nck, int token, int nsweep) {
    int error;
    memset(t, 0, sizeof(*t));
    t->L = L;
    t->nck = nck;
    t->nsweep = nsweep;
    size_t n = (size_t)L * nck;
    if ((error = ml_calloc((void **)&t->linear, n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->debiased, n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->vs_base[0], n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->vs_base[1], n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->rbf, (size_t)L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat, (size_t)L * L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat_base[0], (size_t)L * L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat_base[1], (size_t)L * L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat_steps, (size_t)nck * L * L, sizeof(double))) < 0 ||
        (token && (error = ml_calloc((void **)&t->token, n, sizeof(double))) < 0) ||
        (nsweep && ((error = ml_calloc((void **)&t->sweep_linear, (size_t)L * nsweep, sizeof(double))) < 0 ||
                    (error = ml_calloc((void **)&t->sweep_debiased, (size_t)L * nsweep, sizeof(double))) < 0)))
        ml_run__cka_track_free(t);
    return error;
}

void ml_run__cka_track_free(ml_cka_track *t) {
    free(t->linear); free(t->debiased); free(t->vs_base[0]); free(t->vs_base[1]); free(t->rbf); free(t->heat);
    free(t->heat_base[0]); free(t->heat_base[1]); free(t->heat_steps);
    free(t->token);
    free(t->sweep_linear); free(t->sweep_debiased);
    memset(t, 0, sizeof(*t));
}

int ml_run__cka_point(ml_cka_track *t, int ck, float *const *a, float *const *b, float *const *base, const int *dims,
                      int n) {
    int error;
    for (int l = 0; l < t->L; l++) {
        long at = (long)l * t->nck + ck;
        if ((error = ml_cka_linear(&t->linear[at], a[l], b[l], n, dims[l], dims[l])) < 0 ||
            (error = ml_cka_linear(&t->vs_base[0][at], a[l], base[l], n, dims[l], dims[l])) < 0 ||
            (error = ml_cka_linear(&t->vs_base[1][at], b[l], base[l], n, dims[l], dims[l])) < 0)
            return error;
        /* the unbiased estimator can be undefined on a small probe: record NaN, not a failure */
        if (ml_cka_linear_debiased(&t->debiased[at], a[l], b[l], n, dims[l], dims[l]) < 0) t->debiased[at] = NAN;
        for (int j = 0; j < t->L; j++)
            if ((error = ml_cka_linear(&t->heat_steps[((size_t)ck * t->L + l) * t->L + j], a[l], b[j], n, dims[l],
                                       dims[j])) < 0)
                return error;
    }
    return 0;
}

int ml_run__cka_token_point(ml_cka_track *t, int ck, float *const *a, float *const *b, const int *dims, int rows) {
    int error;
    for (int l = 0; l < t->L; l++)
        if ((error = ml_cka_linear(&t->token[l * t->nck + ck], a[l], b[l], rows, dims[l], dims[l])) < 0) {
            ml_error_prefix("per-token CKA of layer %d", l + 1);
            return error;
        }
    return 0;
}

int ml_run__cka_final(ml_cka_track *t, float *const *a, float *const *b, float *const *base, const int *dims, int n,
                      double rbf_bandwidth, const int *sweep) {
    int error;
    /* the probe's rows are its examples, so the first m of them are a probe of size m */
    for (int l = 0; l < t->L; l++)
        for (int i = 0; i < t->nsweep; i++) {
            double *lin = &t->sweep_linear[l * t->nsweep + i], *deb = &t->sweep_debiased[l * t->nsweep + i];
            int m = sweep[i] < n ? sweep[i] : n;
            if ((error = ml_cka_linear(lin, a[l], b[l], m, dims[l], dims[l])) < 0) return error;
            if (ml_cka_linear_debiased(deb, a[l], b[l], m, dims[l], dims[l]) < 0) *deb = NAN;
        }
    for (int i = 0; i < t->L; i++) {
        for (int j = 0; j < t->L; j++)
            if ((error = ml_cka_linear(&t->heat[i * t->L + j], a[i], b[j], n, dims[i], dims[j])) < 0 ||
                (error = ml_cka_linear(&t->heat_base[0][i * t->L + j], a[i], base[j], n, dims[i], dims[j])) < 0 ||
                (error = ml_cka_linear(&t->heat_base[1][i * t->L + j], b[i], base[j], n, dims[i], dims[j])) < 0)
                return error;
        if (ml_cka_rbf(&t->rbf[i], a[i], b[i], n, dims[i], dims[i], rbf_bandwidth) < 0) t->rbf[i] = NAN;
    }
    return 0;
}



void ml_run__select_init(ml_run__selector *sel, float *best, size_t n, const float *params, double loss0) {
    memset(sel, 0, sizeof(*sel));
    sel->best = best;
    sel->n = n;
    memcpy(best, params, n * sizeof(float));
    sel->best_loss = loss0;
    sel->loss[0] = loss0;
    sel->nv = 1;
}

void ml_run__select_point(ml_run__selector *sel, int step, double loss, const float *params) {
    if (sel->nv < 64) {
        sel->steps[sel->nv] = step;
        sel->loss[sel->nv++] = loss;
    }
    if (loss < sel->best_loss) {
        sel->best_loss = loss;
        sel->best_step = step;
        memcpy(sel->best, params, sel->n * sizeof(float));
    }
}


void ml_run__log(const ml_run_options *opt, const char *fmt, ...) {
    char line[512];
    va_list ap;
    if (!opt || !opt->verbose || !opt->log) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    opt->log(opt->log_ctx, line);
}

void ml_run__note(const ml_run_options *opt, const char *fmt, ...) {
    char line[700];
    va_list ap;
    if (!opt || !opt->log) return;
    int n = snprintf(line, sizeof(line), "mergelab: note: ");
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    opt->log(opt->log_ctx, line);
}

void ml_run__progress(const ml_run_options *opt, const char *phase, int step, int total, double loss) {
    if (opt && opt->progress) opt->progress(opt->progress_ctx, phase, step, total, loss);
}

int ml_run__phase_begin(ml_run__phase *ph, const ml_run_options *opt, const char *key, float *params, size_t n,
                        double *extra, size_t nextra) {
    const char *dir = opt && opt->cache_dir && key ? opt->cache_dir : NULL;
    int error;
    ph->fd = -1;
    ph->hit = 0;
    ph->key = dir ? key : NULL;
    if (!dir) return 0;
    if ((error = ml_cache_lock(&ph->fd, dir, key)) < 0) return error;
    char note[600];
    if ((error = ml_cache_get(&ph->hit, note, sizeof(note), dir, key, params, n, extra, nextra)) < 0)
        ml_run__phase_abort(ph);
    else if (note[0])
        ml_run__note(opt, "%s", note);
    return error;
}

int ml_run__phase_end(ml_run__phase *ph, const ml_run_options *opt, const float *params, size_t n,
                      const double *extra, size_t nextra) {
    int error = 0;
    if (ph->key && !ph->hit) error = ml_cache_put(opt->cache_dir, ph->key, params, n, extra, nextra);
    ml_run__phase_abort(ph);
    return error;
}

void ml_run__phase_abort(ml_run__phase *ph) {
    ml_cache_unlock(ph->fd);
    ph->fd = -1;
}

size_t ml_run__track_size(const ml_cka_track *t) {
    return (size_t)t->L * t->nck * (4 + (t->token ? 1 : 0)) + (size_t)t->L + (size_t)t->L * t->L * (3 + (size_t)t->nck) +
           (size_t)2 * t->L * t->nsweep;
}

/* where the probe sweep sits: after everything else, so a track without it keeps its layout */
static size_t sweep_at(const ml_cka_track *t) { return ml_run__track_size(t) - (size_t)2 * t->L * t->nsweep; }

void ml_run__track_pack(double *dst, const ml_cka_track *t) {
    size_t c = (size_t)t->L * t->nck;
    memcpy(dst, t->linear, c * sizeof(double));
    memcpy(dst + c, t->debiased, c * sizeof(double));
    memcpy(dst + 2 * c, t->vs_base[0], c * sizeof(double));
    memcpy(dst + 3 * c, t->vs_base[1], c * sizeof(double));
    memcpy(dst + 4 * c, t->rbf, (size_t)t->L * sizeof(double));
    memcpy(dst + 4 * c + t->L, t->heat, (size_t)t->L * t->L * sizeof(double));
    for (int k = 0; k < 2; k++)
        memcpy(dst + 4 * c + t->L + (size_t)(k + 1) * t->L * t->L, t->heat_base[k], (size_t)t->L * t->L * sizeof(double));
    memcpy(dst + 4 * c + t->L + (size_t)3 * t->L * t->L, t->heat_steps, (size_t)t->nck * t->L * t->L * sizeof(double));
    /* the per-token curves last: a track without them has the same layout */
    if (t->token) memcpy(dst + 4 * c + t->L + (size_t)(3 + t->nck) * t->L * t->L, t->token, c * sizeof(double));
    if (t->nsweep) {
        size_t w = (size_t)t->L * t->nsweep;
        memcpy(dst + sweep_at(t), t->sweep_linear, w * sizeof(double));
        memcpy(dst + sweep_at(t) + w, t->sweep_debiased, w * sizeof(double));
    }
}

void ml_run__track_unpack(ml_cka_track *t, const double *src) {
    size_t c = (size_t)t->L * t->nck;
    memcpy(t->linear, src, c * sizeof(double));
    memcpy(t->debiased, src + c, c * sizeof(double));
    memcpy(t->vs_base[0], src + 2 * c, c * sizeof(double));
    memcpy(t->vs_base[1], src + 3 * c, c * sizeof(double));
    memcpy(t->rbf, src + 4 * c, (size_t)t->L * sizeof(double));
    memcpy(t->heat, src + 4 * c + t->L, (size_t)t->L * t->L * sizeof(double));
    for (int k = 0; k < 2; k++)
        memcpy(t->heat_base[k], src + 4 * c + t->L + (size_t)(k + 1) * t->L * t->L, (size_t)t->L * t->L * sizeof(double));
    memcpy(t->heat_steps, src + 4 * c + t->L + (size_t)3 * t->L * t->L, (size_t)t->nck * t->L * t->L * sizeof(double));
    if (t->token) memcpy(t->token, src + 4 * c + t->L + (size_t)(3 + t->nck) * t->L * t->L, c * sizeof(double));
    if (t->nsweep) {
        size_t w = (size_t)t->L * t->nsweep;
        memcpy(t->sweep_linear, src + sweep_at(t), w * sizeof(double));
        memcpy(t->sweep_debiased, src + sweep_at(t) + w, w * sizeof(double));
    }
}


