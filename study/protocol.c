/*
 * study/protocol.c: the study protocol, written once for every model
 * family (study.h), as one function per phase over the study state:
 *   open      the family's data, probe inputs and evaluation sets
 *   pretrain  the base, on every parameter (model cache: key_base)
 *   special.  the two specialists in lockstep from the base, CKA between
 *             them (and each against the base) at the suite's cka steps on
 *             a fixed probe; their states kept at every fine-tuning point
 *             (cache: key_specialists, with the CKA track)
 *   direct    the base fine-tuned on the target with the same budget and
 *             parameter groups (cache: key_direct)
 *   evaluate  at each point: base, specialists, direct and every merge
 *             scored on the target's test split; anything selected (an
 *             alpha, a router checkpoint) is selected on validation
 *   report    CKA, fine-tuning groups, data, seeds and timing
 * Specialists train in lockstep so their CKA is measured at the same step
 * without storing checkpoints. Every random choice comes from the
 * counter-based RNG keyed by (seed, stream, counter), so results depend
 * only on the suite, the seed and the BLAS thread count; a run in parts
 * (runner.h's stages) reads the same states from the cache and gives the
 * same numbers.
 * Not here: the families (family_*.c), the merge dispatch (merge.c), the
 * JSON keys (store/results_write.c).
 */
#include "study/study.h"
#include "study/run_common.h"
#include "core/error.h"
#include "kernels/gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ml_study_family *family_of(const ml_suite *s) {
    return s->family == ML_FAMILY_GPT ? &ml_study__gpt : &ml_study__mlp;
}

static const char *run_name(const ml_study *st, int r) {
    static const char *const fixed[] = { "base", NULL, NULL, "direct" };
    return r == ML_RUN_A || r == ML_RUN_B ? st->s->specialists[r - ML_RUN_A].name : fixed[r];
}

/* ---- training ------------------------------------------------------------ */

/* Trains run r for ph->steps, keeping its parameters at every fine-tuning
 * point in keep (npts, np) when keep is set. */
static int train_run(ml_study *st, int r, const ml_phase *ph, const char *phase, const char *progress, float *keep) {
    float *params = st->fam->params(st, r);
    int error, pi = 0;
    for (int step = 0; step <= ph->steps; step++) {
        float loss = 0.0f;
        if (keep && pi < st->npts && step == st->s->points[pi])
            memcpy(keep + (size_t)pi++ * st->np, params, st->np * sizeof(float));
        if (step == ph->steps) break;
        if ((error = st->fam->step(st, r, ph, step, phase, &loss)) < 0) return error;
        ml_run__progress(st->opt, progress, step + 1, ph->steps, loss);
        if ((step + 1) % 50 == 0)
            ml_run__log(st->opt, "  %s %s step %d/%d loss %.4f\n", phase, run_name(st, r), step + 1, ph->steps, loss);
    }
    return 0;
}

static int phase_pretrain(ml_study *st) {
    const ml_suite *s = st->s;
    ml_run__phase ph = { -1, 0, NULL };
    int error;
    ml_run__log(st->opt, "mergelab: %s: pretraining base for %d steps\n", s->name, s->pretrain.steps);
    if ((error = st->fam->run_new(st, ML_RUN_BASE, NULL)) < 0) return error;
    float *params = st->fam->params(st, ML_RUN_BASE);
    if ((error = ml_run__phase_begin(&ph, st->opt, st->opt ? st->opt->key_base : NULL, params, st->np, NULL, 0)) < 0)
        return error;
    st->cached[0] = ph.hit;
    if (!ph.hit && s->pretrain_threads > 0) ml_blas_set_threads(s->pretrain_threads);
    if (!ph.hit) error = train_run(st, ML_RUN_BASE, &s->pretrain, "pretraining", "pretrain", NULL);
    ml_blas_set_threads(st->threads);
    if (error == 0) error = ml_run__phase_end(&ph, st->opt, params, st->np, NULL, 0);
    ml_run__phase_abort(&ph);
    st->t[1] = ml_run__now();
    return error;
}

/* CKA at point ck: both specialists probed, compared with each other and the base. */
static int cka_point(ml_study *st, int ck, int step) {
    int error;
    for (int k = 0; k < 2; k++) st->fam->probe(st, ML_RUN_A + k, st->rep[k], st->tok[k]);
    if ((error = ml_run__cka_point(&st->track, ck, st->rep[0], st->rep[1], st->rep[2], st->dims, st->s->probe_size)) < 0 ||
        (st->tokrows && (error = ml_run__cka_token_point(&st->track, ck, st->tok[0], st->tok[1], st->dims, st->tokrows)) < 0))
        ml_error_prefix("%s: CKA at step %d", st->s->file, step);
    return error;
}

/* The specialists in lockstep from the base, with CKA at the cka steps. */
static int train_specialists(ml_study *st) {
    const ml_suite *s = st->s;
    float *params[2] = { st->fam->params(st, ML_RUN_A), st->fam->params(st, ML_RUN_B) };
    int error;
    ml_run__log(st->opt, "mergelab: %s: fine-tuning %s and %s for %d steps\n", s->name, s->specialists[0].name,
                s->specialists[1].name, s->finetune.steps);
    st->fam->probe(st, ML_RUN_BASE, st->rep[2], st->tok[2]);   /* the base does not change */
    for (int step = 0, ck = 0, pi = 0; step <= s->finetune.steps; step++) {
        if (pi < st->npts && step == s->points[pi]) {   /* a state kept for the evaluation at this point */
            for (int k = 0; k < 2; k++) memcpy(st->pack + ((size_t)pi * 2 + k) * st->np, params[k], st->np * sizeof(float));
            pi++;
        }
        if (ck < s->ncka && step == s->cka_steps[ck] && (error = cka_point(st, ck++, step)) < 0) return error;
        if (step == s->finetune.steps) break;
        float loss = 0.0f;
        for (int k = 0; k < 2; k++)
            if ((error = st->fam->step(st, ML_RUN_A + k, &s->finetune, step, "fine-tuning", &loss)) < 0) return error;
        ml_run__progress(st->opt, "finetune", step + 1, s->finetune.steps, loss);
    }
    /* the probes hold the last point: the layer x layer matrices and the RBF kernel there */
    return ml_run__cka_final(&st->track, st->rep[0], st->rep[1], st->rep[2], st->dims, s->probe_size, s->rbf_bandwidth,
                             s->sweep);
}

static int probes_new(ml_study *st) {
    int error;
    for (int k = 0; k < 3; k++)
        for (int l = 0; l < st->L; l++)
            if ((error = ml_malloc((void **)&st->rep[k][l], (size_t)st->s->probe_size * st->dims[l] * sizeof(float))) < 0 ||
                (st->tokrows && (error = ml_malloc((void **)&st->tok[k][l], (size_t)st->tokrows * st->dims[l] * sizeof(float))) < 0))
                return error;
    return 0;
}

static int phase_specialists(ml_study *st) {
    const ml_suite *s = st->s;
    ml_run__phase ph = { -1, 0, NULL };
    const float *base = st->fam->params(st, ML_RUN_BASE);
    double *extra = NULL;
    size_t npack = (size_t)st->npts * 2 * st->np, nextra;
    int error;
    for (int k = 0; k < 2; k++)
        if ((error = st->fam->run_new(st, ML_RUN_A + k, base)) < 0) return error;
    if ((error = ml_run__cka_track_new(&st->track, st->L, s->ncka, st->tokrows > 0, s->nsweep)) < 0 ||
        (error = probes_new(st)) < 0)
        return error;
    nextra = ml_run__track_size(&st->track);
    /* cached: both specialists at every point, and the CKA track */
    if ((error = ml_malloc((void **)&st->pack, npack * sizeof(float))) < 0 ||
        (error = ml_malloc((void **)&extra, nextra * sizeof(double))) < 0 ||
        (error = ml_run__phase_begin(&ph, st->opt, st->opt ? st->opt->key_specialists : NULL, st->pack, npack, extra,
                                     nextra)) < 0)
        goto cleanup;
    st->cached[1] = ph.hit;
    if (ph.hit) {
        ml_run__track_unpack(&st->track, extra);
        for (int k = 0; k < 2; k++)
            memcpy(st->fam->params(st, ML_RUN_A + k), st->pack + ((size_t)(st->npts - 1) * 2 + k) * st->np,
                   st->np * sizeof(float));
    } else if ((error = train_specialists(st)) < 0) {
        goto cleanup;
    } else {
        ml_run__track_pack(extra, &st->track);
    }
    error = ml_run__phase_end(&ph, st->opt, st->pack, npack, extra, nextra);
cleanup:
    ml_run__phase_abort(&ph);
    free(extra);
    st->t[2] = ml_run__now();
    return error;
}

static int phase_direct(ml_study *st) {
    const ml_suite *s = st->s;
    ml_run__phase ph = { -1, 0, NULL };
    size_t n = (size_t)st->npts * st->np;
    int error;
    if ((error = st->fam->run_new(st, ML_RUN_DIRECT, st->fam->params(st, ML_RUN_BASE))) < 0 ||
        (error = ml_malloc((void **)&st->dpack, n * sizeof(float))) < 0 ||
        (error = ml_run__phase_begin(&ph, st->opt, st->opt ? st->opt->key_direct : NULL, st->dpack, n, NULL, 0)) < 0)
        return error;
    st->cached[2] = ph.hit;
    if (ph.hit) {
        memcpy(st->fam->params(st, ML_RUN_DIRECT), st->dpack + (size_t)(st->npts - 1) * st->np, st->np * sizeof(float));
    } else {
        ml_run__log(st->opt, "mergelab: %s: direct fine-tuning for %d steps\n", s->name, s->finetune.steps);
        error = train_run(st, ML_RUN_DIRECT, &s->finetune, "direct fine-tuning", "direct", st->dpack);
    }
    if (error == 0) error = ml_run__phase_end(&ph, st->opt, st->dpack, n, NULL, 0);
    ml_run__phase_abort(&ph);
    st->t[3] = ml_run__now();
    return error;
}

/* The parameter groups that were not trained must still be the base's,
 * bit for bit, in every fine-tuned run and every weight-space merge: a
 * violation is a bug in masking, not a result. */
static int check_frozen(ml_study *st, const float *params, const char *what, const char *who) {
    const ml_layout *lay = st->fam->layout(st);
    const float *base = st->fam->params(st, ML_RUN_BASE);
    for (int t = 0; st->mask && t < lay->n; t++) {
        const ml_tensor_info *ti = &lay->tensors[t];
        if (!st->mask[t] && memcmp(params + ti->offset, base + ti->offset, ti->numel * sizeof(float)))
            return ml_error_set(ML_ERUN, "%s: %s '%s' changed frozen tensor %s", st->s->file, what, who, ti->name);
    }
    return 0;
}

static int phase_frozen(ml_study *st) {
    const ml_layout *lay = st->fam->layout(st);
    int error;
    st->frozen = 0;
    for (int t = 0; st->mask && t < lay->n; t++) st->frozen += !st->mask[t];
    for (int r = ML_RUN_A; r <= ML_RUN_DIRECT; r++)
        if ((error = check_frozen(st, st->fam->params(st, r), "fine-tuning of", run_name(st, r))) < 0) return error;
    return 0;
}

/* ---- evaluation ---------------------------------------------------------- */

/* One model of a point: an entry in models, its scores in metrics. */
static int score_one(ml_study *st, int e, cJSON *models, cJSON *metrics) {
    static const char *const roles[4] = { "base", "specialist", "specialist", "direct" };
    ml_study_model m = { ML_STUDY_PARAMS, NULL, NULL };
    cJSON *info = NULL, *me;
    const char *name;
    int error;
    if (e < 4) {
        name = run_name(st, e);
        me = ml_results_model(name, roles[e]);
        m.params = st->fam->params(st, e);
    } else {
        const ml_merge_spec *ms = &st->s->merges[e - 4];
        name = ms->name;
        me = ml_results_model(name, "merge");
        info = cJSON_CreateObject();
        if ((error = ml_study__merge(st, e - 4, info, &m)) < 0) {
            cJSON_Delete(me);
            cJSON_Delete(info);
            ml_error_prefix("%s: merge '%s'", st->s->file, ms->name);
            return error;
        }
        if (m.kind == ML_STUDY_PARAMS && (error = check_frozen(st, m.params, "merge", ms->name)) < 0) {
            cJSON_Delete(me);
            cJSON_Delete(info);
            return error;
        }
        ml_results_merge_entry(me, info, metrics, name);
        cJSON_Delete(info);
    }
    cJSON_AddItemToArray(models, me);
    return st->fam->score(st, &m, e >= 4, name, me, metrics);
}

/* Every model at point pi, from the states kept there: {"step", "models", "metrics"}. */
static int eval_point(cJSON **out, ml_study *st, int pi) {
    const ml_suite *s = st->s;
    int error;
    cJSON *models, *metrics, *pt = ml_results_point(s->points[pi], &models, &metrics);
    for (int k = 0; k < 2; k++)
        memcpy(st->fam->params(st, ML_RUN_A + k), st->pack + ((size_t)pi * 2 + k) * st->np, st->np * sizeof(float));
    memcpy(st->fam->params(st, ML_RUN_DIRECT), st->dpack + (size_t)pi * st->np, st->np * sizeof(float));
    if (st->npts > 1) ml_run__log(st->opt, "mergelab: %s: evaluating at fine-tuning step %d\n", s->name, s->points[pi]);
    for (int e = 0; e < 4 + s->nmerges; e++)
        if ((error = score_one(st, e, models, metrics)) < 0) {
            cJSON_Delete(pt);
            return error;
        }
    *out = pt;
    return 0;
}

/* Every point (one, with a run in parts); a point another process already
 * evaluated (points_done) is taken as it is: it came from the same cached
 * states by the same code. The last point is the end of fine-tuning and is
 * also the cell's own models and metrics. */
static int phase_evaluate(cJSON *res, cJSON **point_out, ml_study *st) {
    const ml_run_options *opt = st->opt;
    cJSON *points = st->npts > 1 && st->stage == ML_STAGE_ALL ? ml_results_points(res) : NULL;
    int error;
    ml_run__progress(opt, "merge", 0, 0, NAN);
    for (int pi = 0; pi < st->npts; pi++) {
        if (st->stage == ML_STAGE_POINT && pi != opt->point) continue;
        const cJSON *done = st->stage == ML_STAGE_ALL && opt && opt->points_done ? opt->points_done[pi] : NULL;
        cJSON *pt = NULL;
        if (done) pt = cJSON_Duplicate(done, 1);
        else if ((error = eval_point(&pt, st, pi)) < 0) return error;
        const cJSON *models, *metrics;
        if (ml_results_point_parts(pt, &models, &metrics) < 0) {
            cJSON_Delete(pt);
            return ml_error_set(ML_EINVALID, "%s: the evaluated point %d has no models or metrics", st->s->file, pi);
        }
        if (st->stage == ML_STAGE_POINT) {
            *point_out = pt;
            return 0;
        }
        if (pi == st->npts - 1) ml_results_cell_models(res, models, metrics);
        if (points) cJSON_AddItemToArray(points, pt);
        else cJSON_Delete(pt);
    }
    if (st->stage == ML_STAGE_POINT)
        return ml_error_set(ML_EINVALID, "%s: no fine-tuning point %d (the suite has %d)", st->s->file, opt->point,
                            st->npts);
    return 0;
}

/* ---- the results --------------------------------------------------------- */

static void phase_report(cJSON *res, ml_study *st) {
    const ml_suite *s = st->s;
    char names[64][24];
    const char *lnames[64];
    for (int l = 0; l < st->L; l++) {
        snprintf(names[l], sizeof(names[l]), st->fam->layer_fmt, l + 1);
        lnames[l] = names[l];
    }
    ml_results_cka(res, ml_results_metrics(res), &st->track, s->specialists[0].name,
                   s->specialists[1].name, lnames, s->cka_steps, st->fam->representation, s->probe_size,
                   s->rbf_bandwidth, s->sweep);
    if (st->mask) ml_results_finetune(res, s, st->frozen);
    st->fam->describe(st, ml_results_data(res));
    ml_results_seeds(res, s, ml_blas_threads());
    st->t[4] = ml_run__now();
    ml_results_timing(res, st->t, st->cached, s->pretrain.steps, s->finetune.steps);
}

static void study_free(ml_study *st) {
    if (st->fam) st->fam->close(st);
    free(st->pack);
    free(st->dpack);
    ml_run__cka_track_free(&st->track);
    for (int k = 0; k < 3; k++)
        for (int l = 0; l < 64; l++) {
            free(st->rep[k][l]);
            free(st->tok[k][l]);
        }
}

/* The stages after training: the cell's results, or one point's. */
static int evaluate_and_report(cJSON **out, ml_study *st) {
    cJSON *res = NULL, *pt = NULL;
    int error;
    if ((error = phase_frozen(st)) < 0) return error;
    res = cJSON_CreateObject();
    if ((error = phase_evaluate(res, &pt, st)) < 0) {
        cJSON_Delete(res);
        return error;
    }
    if (st->stage == ML_STAGE_POINT) {
        cJSON_Delete(res);
        *out = pt;
        return 0;
    }
    phase_report(res, st);
    *out = res;
    return 0;
}

int ml_run_suite(cJSON **out, const ml_suite *s, const ml_run_options *opt) {
    ml_study st;
    int error;
    memset(&st, 0, sizeof(st));
    *out = NULL;
    st.s = s;
    st.opt = opt;
    st.stage = opt ? opt->stage : ML_STAGE_ALL;
    st.threads = opt && opt->threads > 0 ? opt->threads : (s->threads > 0 ? s->threads : 1);
    st.npts = s->npoints > 0 ? s->npoints : 1;
    st.t[0] = ml_run__now();
    if (st.stage != ML_STAGE_ALL && (!opt->cache_dir || !opt->key_base || !opt->key_specialists || !opt->key_direct))
        return ml_error_set(ML_EINVALID, "%s: a run in parts needs the model cache", s->file);
    ml_blas_set_threads(st.threads);
    st.fam = family_of(s);
    if ((error = st.fam->open(&st)) < 0 || (error = phase_pretrain(&st)) < 0) goto cleanup;
    if (st.stage == ML_STAGE_BASE) {
        *out = cJSON_CreateObject();
        goto cleanup;
    }
    if ((error = phase_specialists(&st)) < 0 || (error = phase_direct(&st)) < 0) goto cleanup;
    if (st.stage == ML_STAGE_TRAIN) {
        st.t[4] = st.t[3];
        *out = cJSON_CreateObject();
        ml_results_timing(*out, st.t, st.cached, s->pretrain.steps, s->finetune.steps);
        goto cleanup;
    }
    error = evaluate_and_report(out, &st);
cleanup:
    study_free(&st);
    return error;
}
