/*
 * reports/report.c: ml_report_write, a results JSON in, a report folder out.
 * Owns: reading and validating the results file (schema_version 1) with cJSON, the CSV
 *       files, and calling the figure and HTML writers in order.
 * Not here: drawing (fig_*.c, plot.c), page layout (html.c), the schema's producer
 *           (harness/results.c).
 * Validation is strict about keys that are present (a wrong type is ML_EDATA naming the
 * file and the JSON path), lenient about keys that are absent (optional sections are
 * reported as not recorded) and silent about keys it does not know. A JSON null where a
 * number belongs means "not recorded / failed" and is kept as NaN.
 */
#include "reports/report.h"

#include "core/error.h"
#include "core/fs.h"
#include "reports/html.h"
#include "core/rbuf.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 2

typedef struct {
    const char *file;            /* the results path, first in every message */
    cJSON *root;
    const cJSON *cell;           /* the cell drawn: the first that finished (schema 1: the root) */
    char cell_path[32];          /* its JSON path, for messages */
    ml_rep_model *models;
    ml_rep_metric *metrics;
    const char **layers, **hm_layers;
    double *steps, *over_steps, *hm_values;
    char *svg_heatmap, *svg_steps;
    ml_rep_view v;
} rep;

/* ---- typed access with JSON paths in the errors ------------------------------------ */

static const char *kind(const cJSON *j) {
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "an invalid value";
}

static int bad(const rep *r, const char *jpath, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(const rep *r, const char *jpath, const char *fmt, ...) {
    char msg[ML_ERROR_MSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ml_error_set(ML_EDATA, "%s: %s: %s", r->file, jpath, msg);
}

static void child_path(char *out, size_t n, const char *parent, const char *key) {
    snprintf(out, n, "%s.%s", parent, key);
}

static int get_obj(const rep *r, const cJSON *parent, const char *ppath, const char *key,
                   int required, const cJSON **out) {
    char path[256];
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
    child_path(path, sizeof(path), ppath, key);
    *out = NULL;
    if (!j) return required ? bad(r, path, "missing (expected an object)") : 0;
    if (!cJSON_IsObject(j)) return bad(r, path, "expected an object, got %s", kind(j));
    *out = j;
    return 0;
}

static int get_str(const rep *r, const cJSON *parent, const char *ppath, const char *key,
                   int required, const char **out) {
    char path[256];
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
    child_path(path, sizeof(path), ppath, key);
    *out = NULL;
    if (!j) return required ? bad(r, path, "missing (expected a string)") : 0;
    if (!cJSON_IsString(j)) return bad(r, path, "expected a string, got %s", kind(j));
    *out = j->valuestring;
    return 0;
}

/* A number, or null/absent as NaN. */
static int get_num(const rep *r, const cJSON *parent, const char *ppath, const char *key,
                   int required, double *out) {
    char path[256];
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
    child_path(path, sizeof(path), ppath, key);
    *out = NAN;
    if (!j) return required ? bad(r, path, "missing (expected a number)") : 0;
    if (cJSON_IsNull(j)) return 0;
    if (!cJSON_IsNumber(j)) return bad(r, path, "expected a number, got %s", kind(j));
    *out = j->valuedouble;
    return 0;
}

static int get_array(const rep *r, const cJSON *parent, const char *ppath, const char *key,
                     const char *what, const cJSON **out) {
    char path[256];
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, key);
    child_path(path, sizeof(path), ppath, key);
    *out = NULL;
    if (!j) return bad(r, path, "missing (expected %s)", what);
    if (!cJSON_IsArray(j)) return bad(r, path, "expected %s, got %s", what, kind(j));
    *out = j;
    return 0;
}

/* An array of strings; want < 0 accepts any length. *out points into the cJSON tree. */
static int str_array(const rep *r, const cJSON *a, const char *path, int want,
                     const char ***out, int *n) {
    int len = cJSON_GetArraySize(a), i = 0, error;
    if (want >= 0 && len != want) return bad(r, path, "expected an array of %d strings, got %d items", want, len);
    if ((error = ml_calloc((void **)out, (size_t)len, sizeof(**out))) < 0) return error;
    for (const cJSON *c = a->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c)) return bad(r, path, "item %d: expected a string, got %s", i, kind(c));
        (*out)[i] = c->valuestring;
    }
    *n = len;
    return 0;
}

/* Exactly n numbers (null = NaN) into dst; anything else is one message about the row,
 * which is what a person fixing the producer needs to see. */
static int num_row(const rep *r, const cJSON *a, const char *path, int n, double *dst) {
    int i = 0, ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) == n;
    for (const cJSON *c = ok ? a->child : NULL; c && ok; c = c->next, i++) {
        ok = cJSON_IsNull(c) || cJSON_IsNumber(c);
        dst[i] = cJSON_IsNumber(c) ? c->valuedouble : NAN;
    }
    return ok ? 0 : bad(r, path, "expected an array of %d numbers", n);
}

/* ---- the sections ------------------------------------------------------------------ */

static int read_suite(rep *r) {
    const cJSON *suite;
    int error;
    if ((error = get_obj(r, r->root, "$", "suite", 1, &suite)) < 0 ||
        (error = get_str(r, suite, "$.suite", "name", 1, &r->v.suite_name)) < 0 ||
        (error = get_str(r, suite, "$.suite", "description", 0, &r->v.suite_desc)) < 0 ||
        (error = get_str(r, suite, "$.suite", "file", 0, &r->v.suite_file)) < 0 ||
        (error = get_str(r, suite, "$.suite", "sha256", 0, &r->v.suite_sha256)) < 0)
        return error;
    return 0;
}

static int read_provenance(rep *r) {
    const cJSON *prov, *repo, *build;
    int error;
    if ((error = get_obj(r, r->root, "$", "provenance", 0, &prov)) < 0) return error;
    r->v.provenance = prov;
    if (!prov) return 0;
    repo = cJSON_GetObjectItemCaseSensitive(prov, "repository");
    if (cJSON_IsNull(repo)) repo = NULL;   /* run outside a repository: provenance says why */
    else if ((error = get_obj(r, prov, "$.provenance", "repository", 0, &repo)) < 0)
        return error;
    if ((error = get_obj(r, prov, "$.provenance", "build", 0, &build)) < 0) return error;
    if (repo) {
        const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(repo, "dirty");
        if ((error = get_str(r, repo, "$.provenance.repository", "commit", 0, &r->v.commit)) < 0) return error;
        if (dirty && !cJSON_IsBool(dirty))
            return bad(r, "$.provenance.repository.dirty", "expected true or false, got %s", kind(dirty));
        r->v.dirty = cJSON_IsTrue(dirty);
    }
    if (!r->v.commit && build &&
        (error = get_str(r, build, "$.provenance.build", "commit", 0, &r->v.commit)) < 0)
        return error;
    return 0;
}

static int read_models(rep *r) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(r->cell, "models");
    char path[64];
    int n, i = 0, error;
    if (!models) return 0;
    if (!cJSON_IsArray(models)) return bad(r, "$.models", "expected an array, got %s", kind(models));
    n = cJSON_GetArraySize(models);
    if ((error = ml_calloc((void **)&r->models, (size_t)n, sizeof(*r->models))) < 0) return error;
    for (const cJSON *m = models->child; m; m = m->next, i++) {
        ml_rep_model *o = &r->models[i];
        snprintf(path, sizeof(path), "$.models[%d]", i);
        if (!cJSON_IsObject(m)) return bad(r, path, "expected an object, got %s", kind(m));
        if ((error = get_str(r, m, path, "name", 1, &o->name)) < 0 ||
            (error = get_str(r, m, path, "role", 0, &o->role)) < 0 ||
            (error = get_str(r, m, path, "method", 0, &o->method)) < 0 ||
            (error = get_num(r, m, path, "test_acc", 0, &o->test_acc)) < 0 ||
            (error = get_num(r, m, path, "test_loss", 0, &o->test_loss)) < 0)
            return error;
    }
    r->v.models = r->models;
    r->v.nmodels = n;
    return 0;
}

static int read_metrics(rep *r) {
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(r->cell, "metrics");
    int n, i = 0, error;
    if (!metrics) return 0;
    if (!cJSON_IsObject(metrics)) return bad(r, "$.metrics", "expected an object, got %s", kind(metrics));
    n = cJSON_GetArraySize(metrics);
    if ((error = ml_calloc((void **)&r->metrics, (size_t)n, sizeof(*r->metrics))) < 0) return error;
    for (const cJSON *m = metrics->child; m; m = m->next, i++) {
        char path[320];
        snprintf(path, sizeof(path), "$.metrics[\"%.256s\"]", m->string);
        r->metrics[i].name = m->string;
        if (cJSON_IsNull(m)) r->metrics[i].value = NAN;
        else if (cJSON_IsNumber(m)) r->metrics[i].value = m->valuedouble;
        else return bad(r, path, "expected a number or null, got %s", kind(m));
    }
    r->v.metrics = r->metrics;
    r->v.nmetrics = n;
    return 0;
}

static int read_heatmap(rep *r, const cJSON *cka) {
    const cJSON *hm, *layers, *values;
    char path[64];
    int n = 0, i = 0, error;
    if ((error = get_obj(r, cka, "$.cka", "heatmap", 0, &hm)) < 0 || !hm) return error;
    if ((error = get_num(r, hm, "$.cka.heatmap", "step", 0, &r->v.hm_step)) < 0 ||
        (error = get_str(r, hm, "$.cka.heatmap", "row_model", 0, &r->v.hm_row_model)) < 0 ||
        (error = get_str(r, hm, "$.cka.heatmap", "col_model", 0, &r->v.hm_col_model)) < 0)
        return error;
    if (!r->v.hm_row_model) r->v.hm_row_model = r->v.pair[0];
    if (!r->v.hm_col_model) r->v.hm_col_model = r->v.pair[1];
    /* the heatmap's own layer list, else the one cka.over_steps uses */
    layers = cJSON_GetObjectItemCaseSensitive(hm, "layers");
    if (layers) {
        if (!cJSON_IsArray(layers))
            return bad(r, "$.cka.heatmap.layers", "expected an array of strings, got %s", kind(layers));
        if ((error = str_array(r, layers, "$.cka.heatmap.layers", -1, &r->hm_layers, &n)) < 0) return error;
    } else {
        n = r->v.nlayers;
        if ((error = ml_calloc((void **)&r->hm_layers, (size_t)n, sizeof(*r->hm_layers))) < 0) return error;
        for (int k = 0; k < n; k++) r->hm_layers[k] = r->v.layers[k];
    }
    snprintf(path, sizeof(path), "an array of %d arrays (one per layer)", n);
    if ((error = get_array(r, hm, "$.cka.heatmap", "values", path, &values)) < 0) return error;
    if (cJSON_GetArraySize(values) != n)
        return bad(r, "$.cka.heatmap.values", "expected an array of %d arrays (one per layer), got %d",
                   n, cJSON_GetArraySize(values));
    if ((error = ml_calloc((void **)&r->hm_values, (size_t)n * (size_t)n, sizeof(double))) < 0) return error;
    for (const cJSON *row = values->child; row; row = row->next, i++) {
        snprintf(path, sizeof(path), "$.cka.heatmap.values[%d]", i);
        if ((error = num_row(r, row, path, n, r->hm_values + (size_t)i * (size_t)n)) < 0) return error;
    }
    r->v.has_heatmap = 1;
    r->v.hm_layers = r->hm_layers;
    r->v.hm_n = n;
    r->v.hm_values = r->hm_values;
    return 0;
}

static int read_cka(rep *r) {
    const cJSON *cka, *pair, *layers, *steps, *over;
    const char **pair_names = NULL;
    char path[64], what[64];
    int npair = 0, i = 0, error;
    if ((error = get_obj(r, r->cell, r->cell_path, "cka", 0, &cka)) < 0 || !cka) return error;
    if ((error = get_array(r, cka, "$.cka", "pair", "an array of 2 strings", &pair)) < 0 ||
        (error = str_array(r, pair, "$.cka.pair", 2, &pair_names, &npair)) < 0)
        goto cleanup;
    r->v.pair[0] = pair_names[0];
    r->v.pair[1] = pair_names[1];
    if ((error = get_array(r, cka, "$.cka", "layers", "an array of strings", &layers)) < 0 ||
        (error = str_array(r, layers, "$.cka.layers", -1, &r->layers, &r->v.nlayers)) < 0 ||
        (error = get_array(r, cka, "$.cka", "steps", "an array of numbers", &steps)) < 0)
        goto cleanup;
    r->v.layers = r->layers;
    r->v.nsteps = cJSON_GetArraySize(steps);
    if ((error = ml_calloc((void **)&r->steps, (size_t)r->v.nsteps, sizeof(double))) < 0) goto cleanup;
    for (const cJSON *s = steps->child; s; s = s->next, i++) {
        if (!cJSON_IsNumber(s)) {
            snprintf(path, sizeof(path), "$.cka.steps[%d]", i);
            error = bad(r, path, "expected a number, got %s", kind(s));
            goto cleanup;
        }
        r->steps[i] = s->valuedouble;
    }
    r->v.steps = r->steps;
    snprintf(what, sizeof(what), "an array of %d arrays (one per layer)", r->v.nlayers);
    if ((error = get_array(r, cka, "$.cka", "over_steps", what, &over)) < 0) goto cleanup;
    if (cJSON_GetArraySize(over) != r->v.nlayers) {
        error = bad(r, "$.cka.over_steps", "expected %s, got %d", what, cJSON_GetArraySize(over));
        goto cleanup;
    }
    if ((error = ml_calloc((void **)&r->over_steps, (size_t)r->v.nlayers * (size_t)r->v.nsteps,
                           sizeof(double))) < 0)
        goto cleanup;
    i = 0;
    for (const cJSON *row = over->child; row; row = row->next, i++) {
        snprintf(path, sizeof(path), "$.cka.over_steps[%d]", i);
        if ((error = num_row(r, row, path, r->v.nsteps, r->over_steps + (size_t)i * (size_t)r->v.nsteps)) < 0)
            goto cleanup;
    }
    r->v.over_steps = r->over_steps;
    if ((error = read_heatmap(r, cka)) < 0) goto cleanup;
    r->v.has_cka = 1;
cleanup:
    free(pair_names);   /* the names themselves live in the cJSON tree */
    return error;
}

static int read_results(rep *r, const char *text, size_t len) {
    const cJSON *ver, *timing;
    int error;
    r->root = cJSON_ParseWithLength(text, len);
    if (!r->root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        return ml_error_set(ML_EDATA, "%s: not valid JSON (near byte %ld)", r->file, off);
    }
    if (!cJSON_IsObject(r->root)) return bad(r, "$", "expected an object, got %s", kind(r->root));
    ver = cJSON_GetObjectItemCaseSensitive(r->root, "schema_version");
    if (!ver) return bad(r, "$.schema_version", "missing (expected %d)", SCHEMA_VERSION);
    if (!cJSON_IsNumber(ver)) return bad(r, "$.schema_version", "expected a number, got %s", kind(ver));
    if (ver->valuedouble == 1) {
        r->cell = r->root;
        snprintf(r->cell_path, sizeof(r->cell_path), "$");
    } else if (ver->valuedouble == SCHEMA_VERSION) {
        const cJSON *cells = cJSON_GetObjectItemCaseSensitive(r->root, "cells");
        int i = 0;
        if (!cJSON_IsArray(cells)) return bad(r, "$.cells", "expected an array of cells");
        for (const cJSON *c = cells->child; c && !r->cell; c = c->next, i++) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
            if (cJSON_IsString(st) && !strcmp(st->valuestring, "ok")) {
                r->cell = c;
                snprintf(r->cell_path, sizeof(r->cell_path), "$.cells[%d]", i);
            }
        }
        if (!r->cell) return bad(r, "$.cells", "no cell finished; nothing to draw");
    } else {
        return bad(r, "$.schema_version", "is %g, this mergelab reads versions 1 and %d", ver->valuedouble,
                   SCHEMA_VERSION);
    }
    if ((error = read_suite(r)) < 0 || (error = read_provenance(r)) < 0 ||
        (error = read_models(r)) < 0 || (error = read_metrics(r)) < 0 ||
        (error = read_cka(r)) < 0 || (error = get_obj(r, r->cell, r->cell_path, "timing", 0, &timing)) < 0)
        return error;
    r->v.timing = timing;
    return 0;
}

/* ---- outputs ----------------------------------------------------------------------- */

static int join(char *out, size_t n, const char *dir, const char *name) {
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        return ml_error_set(ML_EINVALID, "output path too long: '%s/%s'", dir, name);
    return 0;
}

static int write_figures(rep *r, const char *dir) {
    char png[PATH_MAX], svg[PATH_MAX], title[512], rlab[256], clab[256];
    const ml_rep_view *v = &r->v;
    ml_fig_opts opts = {.source = v->commit, .suite = v->suite_name, .y_include_n = 1, .y_include = {1.0}};
    int error;

    if ((error = join(png, sizeof(png), dir, "cka_heatmap.png")) < 0 ||
        (error = join(svg, sizeof(svg), dir, "cka_heatmap.svg")) < 0)
        return error;
    if (v->has_heatmap) {
        snprintf(title, sizeof(title), "CKA between %s and %s layers at step %g", v->hm_row_model,
                 v->hm_col_model, v->hm_step);
        snprintf(rlab, sizeof(rlab), "%s layer", v->hm_row_model);
        snprintf(clab, sizeof(clab), "%s layer", v->hm_col_model);
    } else {
        if (v->has_cka) snprintf(title, sizeof(title), "CKA between %s and %s layers", v->pair[0], v->pair[1]);
        else snprintf(title, sizeof(title), "CKA between layers");
        rlab[0] = clab[0] = '\0';
    }
    for (int f = 0; f < 2; f++) {
        if ((error = ml_fig_heatmap(f ? svg : png, f ? ML_FIG_SVG : ML_FIG_PNG, title, rlab, clab,
                                    v->hm_layers, v->hm_layers, v->hm_values, v->hm_n, v->hm_n,
                                    0.0, 1.0, &opts)) < 0)
            return error;
    }
    if ((error = join(png, sizeof(png), dir, "cka_steps.png")) < 0 ||
        (error = join(svg, sizeof(svg), dir, "cka_steps.svg")) < 0)
        return error;
    if (v->has_cka) snprintf(title, sizeof(title), "CKA between %s and %s over fine-tuning", v->pair[0], v->pair[1]);
    else snprintf(title, sizeof(title), "CKA over fine-tuning");
    for (int f = 0; f < 2; f++) {
        if ((error = ml_fig_lines(f ? svg : png, f ? ML_FIG_SVG : ML_FIG_PNG, title, "fine-tuning step", "CKA",
                                  v->steps, v->nsteps, v->layers, v->over_steps, v->nlayers, &opts)) < 0)
            return error;
    }
    /* read the SVGs back for inlining: the page then shows exactly the files beside it */
    size_t n;
    if ((error = ml_fs_read_all(&r->svg_steps, &n, svg)) < 0 ||
        (error = join(svg, sizeof(svg), dir, "cka_heatmap.svg")) < 0 ||
        (error = ml_fs_read_all(&r->svg_heatmap, &n, svg)) < 0)
        return error;
    r->v.svg_heatmap = r->svg_heatmap;
    r->v.svg_steps = r->svg_steps;
    return 0;
}

/* Long format, one value per row, so a spreadsheet or pandas reads it without reshaping. */
static int write_csvs(const rep *r, const char *dir) {
    const ml_rep_view *v = &r->v;
    char path[PATH_MAX];
    ml_rbuf b = {0};
    int error;
    ml_rbuf_puts(&b, "model_a,model_b,layer,step,cka\n");
    for (int l = 0; l < v->nlayers; l++)
        for (int s = 0; s < v->nsteps; s++) {
            ml_rbuf_csv(&b, v->pair[0]);
            ml_rbuf_puts(&b, ",");
            ml_rbuf_csv(&b, v->pair[1]);
            ml_rbuf_puts(&b, ",");
            ml_rbuf_csv(&b, v->layers[l]);
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, v->steps[s], "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, v->over_steps[(size_t)l * (size_t)v->nsteps + (size_t)s], "");
            ml_rbuf_puts(&b, "\n");
        }
    if ((error = ml_rbuf_check(&b)) < 0 || (error = join(path, sizeof(path), dir, "cka_steps.csv")) < 0 ||
        (error = ml_fs_write_atomic(path, b.p, b.len)) < 0)
        goto cleanup;
    b.len = 0;
    ml_rbuf_puts(&b, "step,row_model,row_layer,col_model,col_layer,cka\n");
    for (int i = 0; i < v->hm_n; i++)
        for (int j = 0; j < v->hm_n; j++) {
            ml_rbuf_num(&b, v->hm_step, "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_csv(&b, v->hm_row_model);
            ml_rbuf_puts(&b, ",");
            ml_rbuf_csv(&b, v->hm_layers[i]);
            ml_rbuf_puts(&b, ",");
            ml_rbuf_csv(&b, v->hm_col_model);
            ml_rbuf_puts(&b, ",");
            ml_rbuf_csv(&b, v->hm_layers[j]);
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, v->hm_values[(size_t)i * (size_t)v->hm_n + (size_t)j], "");
            ml_rbuf_puts(&b, "\n");
        }
    if ((error = ml_rbuf_check(&b)) < 0 || (error = join(path, sizeof(path), dir, "cka_heatmap.csv")) < 0 ||
        (error = ml_fs_write_atomic(path, b.p, b.len)) < 0)
        goto cleanup;
cleanup:
    ml_rbuf_free(&b);
    return error;
}

int ml_report_write(const char *results_path, const char *out_dir) {
    rep r = {0};
    char *text = NULL, path[PATH_MAX];
    size_t len = 0;
    int error;
    ML_CHECK_ARG(results_path && out_dir, "ml_report_write: results_path and out_dir are required");
    r.file = results_path;
    if ((error = ml_fs_read_all(&text, &len, results_path)) < 0 ||
        (error = read_results(&r, text, len)) < 0 ||
        (error = ml_fs_mkdir_p(out_dir)) < 0 ||
        (error = write_figures(&r, out_dir)) < 0 ||
        (error = write_csvs(&r, out_dir)) < 0 ||
        (error = join(path, sizeof(path), out_dir, "index.html")) < 0 ||
        (error = ml_html__write(path, &r.v)) < 0)
        goto cleanup;
cleanup:
    cJSON_Delete(r.root);
    free(text);
    free(r.models);
    free(r.metrics);
    free(r.layers);
    free(r.hm_layers);
    free(r.steps);
    free(r.over_steps);
    free(r.hm_values);
    free(r.svg_heatmap);
    free(r.svg_steps);
    return error;
}
