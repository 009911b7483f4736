/*
 * store/results.c: results files. They are written only through
 * ml_fs_write_atomic so a crash never leaves half a file, and they are read
 * strictly: an unknown schema_version or a metric that is not a number is
 * refused rather than half-understood.
 */
#include "store/results.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/sha256.h"
#include "core/fs.h"
#include "core/json.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ml_results_write(const char *path, const cJSON *doc) {
    /* a document built while an allocation failed may silently lack parts
     * (cJSON drops what it could not allocate): it is never written */
    if (ml_alloc_failures() > 0)
        return ml_error_set(ML_ENOMEM, "out of memory: not writing '%s', an allocation failed while it was built", path);
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int error;
    if (slash && slash != path) {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir)) return ml_error_set(ML_EINVALID, "path too long: '%s'", path);
        memcpy(dir, path, n);
        dir[n] = '\0';
        if ((error = ml_fs_mkdir_p(dir)) < 0) return error;
    }
    char *text = cJSON_Print(doc);
    if (!text) return ml_error_set(ML_ENOMEM, "out of memory printing results for '%s'", path);
    size_t len = strlen(text);
    void *grown = text;
    if ((error = ml_realloc(&grown, len + 2)) < 0) { free(text); return error; }
    char *withnl = grown;
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    error = ml_fs_write_atomic(path, withnl, len + 1);
    free(withnl);
    return error;
}

/* Parses src (named path in errors) and checks what every results document
 * needs: an object, no repeated key, a known schema_version. */
static int parse_doc(cJSON **out, const char *path, const char *src, size_t len, int *version) {
    int error;
    *out = NULL;
    long failed = ml_alloc_failures();
    cJSON *doc = cJSON_ParseWithLength(src, len);
    if (!doc && ml_alloc_failures() > failed)   /* cJSON ran out of memory, the file may be fine */
        return ml_error_set(ML_ENOMEM, "%s: out of memory parsing it", path);
    if (!doc || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return ml_error_set(ML_EDATA, "%s: not a mergelab results file (invalid or truncated JSON)", path);
    }
    if ((error = ml_json_check_unique_keys(doc, path, ML_EDATA)) < 0) {
        cJSON_Delete(doc);
        return error;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "schema_version");
    if (!cJSON_IsNumber(v)) {
        const char *got = !v ? NULL : cJSON_IsString(v) ? "a string" : cJSON_IsNull(v) ? "null" : cJSON_IsBool(v) ? "a boolean"
                        : cJSON_IsArray(v) ? "an array" : "an object";
        cJSON_Delete(doc);
        if (got)
            return ml_error_set(ML_EDATA, "%s: $.schema_version: expected a number (1 or 2), got %s", path, got);
        return ml_error_set(ML_EDATA, "%s: $.schema_version: missing; not a mergelab results file", path);
    }
    if (v->valuedouble != 1 && v->valuedouble != ML_RESULTS_SCHEMA_VERSION) {
        error = ml_error_set(ML_EDATA, "%s: $.schema_version: %g is not supported by this build (it reads 1 and %d); "
                             "rerun the suite or use a matching mergelab", path, v->valuedouble,
                             ML_RESULTS_SCHEMA_VERSION);
        cJSON_Delete(doc);
        return error;
    }
    *version = (int)v->valuedouble;
    *out = doc;
    return 0;
}

static int read_doc(cJSON **out, const char *path, int *version) {
    char *src = NULL;
    size_t len;
    int error;
    *out = NULL;
    if ((error = ml_fs_read_all(&src, &len, path)) < 0) return error;
    error = parse_doc(out, path, src, len, version);
    free(src);
    return error;
}

static int check_cell(const cJSON *cell, const char *path, const char *where) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cell, "name");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(cell, "status");
    if (!cJSON_IsObject(cell) || !cJSON_IsString(name) || !cJSON_IsString(status) ||
        (strcmp(status->valuestring, "ok") && strcmp(status->valuestring, "failed")))
        return ml_error_set(ML_EDATA, "%s: %s: expected a cell {name, status \"ok\"|\"failed\", ...}", path, where);
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(cell, "metrics");
    if (!strcmp(status->valuestring, "failed") && !metrics) return 0;
    if (!cJSON_IsObject(metrics)) return ml_error_set(ML_EDATA, "%s: %s.metrics: expected an object", path, where);
    for (const cJSON *m = metrics->child; m; m = m->next)
        if (!cJSON_IsNumber(m) && !cJSON_IsNull(m))
            return ml_error_set(ML_EDATA, "%s: %s.metrics.%s: expected a number", path, where, m->string);
    return 0;
}

static int check_gate(const cJSON *gate, const char *path) {
    int i = 0;
    if (!cJSON_IsArray(gate)) return ml_error_set(ML_EDATA, "%s: $.gate: expected an array of rules", path);
    for (const cJSON *r = gate->child; r; r = r->next, i++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "match");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "direction");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "atol");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "rtol");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, "across_platforms");
        const cJSON *am = cJSON_GetObjectItemCaseSensitive(r, "allow_missing");
        if ((x && (!cJSON_IsObject(x) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, "atol")) ||
                   !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, "rtol")))) || (am && !cJSON_IsBool(am)))
            return ml_error_set(ML_EDATA, "%s: $.gate[%d]: expected across_platforms {atol, rtol} and allow_missing "
                                "true|false", path, i);
        if (!cJSON_IsString(m) || !cJSON_IsString(d) || !cJSON_IsNumber(a) || !cJSON_IsNumber(t) ||
            (strcmp(d->valuestring, "higher") && strcmp(d->valuestring, "lower") && strcmp(d->valuestring, "both")))
            return ml_error_set(ML_EDATA, "%s: $.gate[%d]: expected {match, direction (higher|lower|both), atol, rtol}",
                                path, i);
    }
    return 0;
}

/* Schema 1 held one run at the top level: it becomes the single cell
 * "default", so every reader sees one shape. */
static void upgrade_v1(cJSON *doc) {
    static const char *const top[] = { "schema_version", "suite", "provenance", "gate", "blessed", NULL };
    cJSON *cell = cJSON_CreateObject(), *cells = cJSON_CreateArray();
    cJSON_AddStringToObject(cell, "name", "default");
    cJSON_AddStringToObject(cell, "group", "default");
    cJSON_AddItemToObject(cell, "params", cJSON_CreateObject());
    cJSON_AddStringToObject(cell, "status", "ok");
    for (cJSON *it = doc->child, *next; it; it = next) {
        int keep = 0;
        next = it->next;
        for (int k = 0; top[k]; k++) keep |= !strcmp(top[k], it->string);
        if (!keep) cJSON_AddItemToObject(cell, it->string, cJSON_DetachItemViaPointer(doc, it));
    }
    cJSON_AddItemToArray(cells, cell);
    cJSON_AddItemToObject(doc, "cells", cells);
    cJSON_AddBoolToObject(doc, "complete", 1);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "schema_version"), ML_RESULTS_SCHEMA_VERSION);
    cJSON_AddNumberToObject(doc, "upgraded_from_schema", 1);
}

/* The checks of a whole results document after parsing; frees doc on error. */
static int check_results(cJSON **out, cJSON *doc, const char *path, int version) {
    int error, i = 0;
    char where[64];
    *out = NULL;
    if (version == 1) {
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "metrics"))) {
            cJSON_Delete(doc);
            return ml_error_set(ML_EDATA, "%s: $.metrics: expected an object (schema 1)", path);
        }
        upgrade_v1(doc);
    }
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    if (!cJSON_IsArray(cells)) {
        cJSON_Delete(doc);
        return ml_error_set(ML_EDATA, "%s: $.cells: expected an array", path);
    }
    for (const cJSON *c = cells->child; c; c = c->next, i++) {
        snprintf(where, sizeof(where), "$.cells[%d]", i);
        if ((error = check_cell(c, path, where)) < 0) { cJSON_Delete(doc); return error; }
    }
    if ((error = check_gate(cJSON_GetObjectItemCaseSensitive(doc, "gate"), path)) < 0) {
        cJSON_Delete(doc);
        return error;
    }
    *out = doc;
    return 0;
}

int ml_results_load(cJSON **out, const char *path) {
    cJSON *doc = NULL;
    int version, error;
    *out = NULL;
    if ((error = read_doc(&doc, path, &version)) < 0) return error;
    return check_results(out, doc, path, version);
}

int ml_results_parse(cJSON **out, const char *name, const char *src, size_t len) {
    cJSON *doc = NULL;
    int version, error;
    *out = NULL;
    if ((error = parse_doc(&doc, name, src, len, &version)) < 0) return error;
    return check_results(out, doc, name, version);
}

int ml_results_load_cell(cJSON **out, const char *path) {
    cJSON *doc = NULL;
    int version, error;
    *out = NULL;
    if ((error = read_doc(&doc, path, &version)) < 0) return error;
    if (version != ML_RESULTS_SCHEMA_VERSION || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "id"))) {
        cJSON_Delete(doc);
        return ml_error_set(ML_EDATA, "%s: not a mergelab cell file", path);
    }
    if ((error = check_cell(doc, path, "$")) < 0) { cJSON_Delete(doc); return error; }
    *out = doc;
    return 0;
}

/* SHA-256 of doc's compact text without its "sha256" key (cJSON prints a
 * number the same way after a round trip, so a file read back hashes to
 * what was sealed unless a byte of its content changed). */
static int seal_of(char hex[65], cJSON *doc) {
    cJSON *had = cJSON_DetachItemFromObjectCaseSensitive(doc, "sha256");
    char *text = cJSON_PrintUnformatted(doc);
    if (had) cJSON_AddItemToObject(doc, "sha256", had);
    if (!text) return ml_error_set(ML_ENOMEM, "out of memory sealing a results document");
    ml_sha256_hex(hex, text, strlen(text));
    free(text);
    return 0;
}

int ml_results_seal(cJSON *doc) {
    char hex[65];
    int error;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "sha256");
    if ((error = seal_of(hex, doc)) < 0) return error;
    cJSON_AddStringToObject(doc, "sha256", hex);
    return 0;
}

int ml_results_seal_check(cJSON *doc, const char *path) {
    char hex[65];
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(doc, "sha256");
    int error;
    if (!cJSON_IsString(want)) return ml_error_set(ML_EDATA, "%s: has no checksum (sha256)", path);
    if ((error = seal_of(hex, doc)) < 0) return error;
    if (strcmp(hex, want->valuestring))
        return ml_error_set(ML_EDATA, "%s: its content does not match its checksum (changed after it was written)", path);
    return 0;
}

static void strip_cell(cJSON *cell) {
    static const char *const keys[] = { "timing", "wall_seconds", "cpu_seconds", "started", NULL };
    for (int i = 0; keys[i]; i++) cJSON_DeleteItemFromObjectCaseSensitive(cell, keys[i]);
}

void ml_results_strip_volatile(cJSON *doc) {
    cJSON *prov = cJSON_GetObjectItemCaseSensitive(doc, "provenance");
    static const char *const prov_keys[] = { "command", "started", "finished", "wall_seconds", "cpu_seconds",
                                             "cells_reused", NULL };
    for (int i = 0; prov && prov_keys[i]; i++) cJSON_DeleteItemFromObjectCaseSensitive(prov, prov_keys[i]);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "blessed");
    strip_cell(doc);   /* a cell file */
    cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    for (cJSON *c = cells ? cells->child : NULL; c; c = c->next) strip_cell(c);
}

void ml_results_add_gate(cJSON *doc, const ml_suite *s) {
    cJSON *gate = cJSON_AddArrayToObject(doc, "gate");
    for (int g = 0; g < s->ngate; g++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "match", s->gate[g].match);
        cJSON_AddStringToObject(r, "direction", ml_direction_name(s->gate[g].direction));
        cJSON_AddNumberToObject(r, "atol", s->gate[g].atol);
        cJSON_AddNumberToObject(r, "rtol", s->gate[g].rtol);
        if (s->gate[g].has_across) {
            cJSON *x = cJSON_AddObjectToObject(r, "across_platforms");
            cJSON_AddNumberToObject(x, "atol", s->gate[g].across_atol);
            cJSON_AddNumberToObject(x, "rtol", s->gate[g].across_rtol);
        }
        if (s->gate[g].allow_missing) cJSON_AddBoolToObject(r, "allow_missing", 1);
        cJSON_AddItemToArray(gate, r);
    }
    if (s->report_width_in > 0 || s->report_font_pt > 0 || s->report_formats) {
        static const char *const formats[3] = { "png", "svg", "pdf" };
        cJSON *rep = cJSON_AddObjectToObject(doc, "report");
        if (s->report_width_in > 0) cJSON_AddNumberToObject(rep, "width_in", s->report_width_in);
        if (s->report_font_pt > 0) cJSON_AddNumberToObject(rep, "font_pt", s->report_font_pt);
        if (s->report_formats) {
            cJSON *f = cJSON_AddArrayToObject(rep, "formats");
            for (int i = 0; i < 3; i++)
                if (s->report_formats & (1u << i)) cJSON_AddItemToArray(f, cJSON_CreateString(formats[i]));
        }
    }
}

const cJSON *ml_results_first_ok(const cJSON *doc) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        if (cJSON_IsString(st) && !strcmp(st->valuestring, "ok")) return c;
    }
    return NULL;
}

static const char *sget(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int ml_results_platform(char *buf, size_t size, const cJSON *doc, int full) {
    const cJSON *prov = cJSON_GetObjectItemCaseSensitive(doc, "provenance");
    const cJSON *plat = cJSON_GetObjectItemCaseSensitive(prov, "platform");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(plat, "threads");
    if (!th) th = cJSON_GetObjectItemCaseSensitive(prov, "threads");
    char blas[96] = "", threads[32] = "";
    /* a file's number may be anything: print it as given, never cast an absurd one to int */
    if (cJSON_IsNumber(th)) snprintf(threads, sizeof(threads), ", %.6g thread%s", th->valuedouble,
                                     th->valuedouble == 1 ? "" : "s");
    if (sget(plat, "blas") && sget(plat, "blas_core")) {
        snprintf(blas, sizeof(blas), "%s %s", sget(plat, "blas"), sget(plat, "blas_core"));
    } else {
        /* written before provenance.platform: the same facts from blas and libraries */
        const char *core = sget(cJSON_GetObjectItemCaseSensitive(prov, "blas"), "corename");
        const char *ver = sget(cJSON_GetObjectItemCaseSensitive(prov, "libraries"), "openblas");
        if (core && ver) snprintf(blas, sizeof(blas), "OpenBLAS %s %s", ver, core);
    }
    if (!blas[0]) {
        snprintf(buf, size, "unknown (no BLAS recorded)");
        return 0;
    }
    if (full && sget(plat, "blas_choice"))
        snprintf(buf, size, "%s (%s), kernels %s, %s%s%s%s", blas, sget(plat, "blas_choice"),
                 sget(plat, "kernels_isa") ? sget(plat, "kernels_isa") : "?", sget(plat, "libc") ? sget(plat, "libc") : "libc ?",
                 threads, sget(plat, "note") ? "; " : "", sget(plat, "note") ? sget(plat, "note") : "");
    else
        snprintf(buf, size, "%s%s", blas, threads);
    return 1;
}
