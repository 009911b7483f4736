/*
 * store/cellfile.c: the documents of a run folder (cellfile.h). Every
 * write goes through ml_results_write (atomic), every read checks the
 * identity of the cell it is for, so a file left by another version of a
 * cell is never taken for this one.
 */
#include "store/cellfile.h"
#include "store/results.h"
#include "store/store.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/version.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *ml_cellfile_doc(const ml_cellset *cs, int i, cJSON *run, int error, const char *started, double wall,
                       double cpu) {
    const ml_cell *c = &cs->cells[i];
    int failed = error < 0;
    cJSON *cell = cJSON_CreateObject();
    cJSON_AddNumberToObject(cell, "schema_version", ML_RESULTS_SCHEMA_VERSION);
    cJSON_AddStringToObject(cell, "suite", cs->suite->name);
    cJSON_AddStringToObject(cell, "name", c->name);
    cJSON_AddStringToObject(cell, "group", c->group);
    cJSON_AddStringToObject(cell, "id", c->id);
    cJSON_AddItemToObject(cell, "params", cJSON_Duplicate(c->params, 1));
    cJSON_AddStringToObject(cell, "status", failed ? "failed" : "ok");
    if (failed) {
        cJSON_AddStringToObject(cell, "error", ml_error_last()->message);
        cJSON_AddStringToObject(cell, "error_kind", ml_error_name(error));
    }
    cJSON_AddStringToObject(cell, "started", started);
    cJSON_AddNumberToObject(cell, "wall_seconds", wall);
    cJSON_AddNumberToObject(cell, "cpu_seconds", cpu);
    cJSON *b = cJSON_AddObjectToObject(cell, "build");
    cJSON_AddStringToObject(b, "commit", ml_build_commit);
    cJSON_AddStringToObject(b, "source_sha256", ml_build_source);
    if (run) {
        for (cJSON *it = run->child; it; it = run->child)
            cJSON_AddItemToObject(cell, it->string, cJSON_DetachItemViaPointer(run, it));
    }
    cJSON_Delete(run);
    return cell;
}

int ml_cellfile_write(const ml_cellset *cs, int i, const char *dir, cJSON *cell) {
    char path[PATH_MAX];
    ml_store_cell_file(path, sizeof(path), dir, cs->suite->name, cs->cells[i].name);
    int error = ml_results_seal(cell);
    if (error == 0) error = ml_results_write(path, cell);
    cJSON_Delete(cell);
    return error;
}

int ml_cellfile_load_done(cJSON **out, const ml_cellset *cs, int i, const char *dir, int want_ok, char *why,
                          size_t why_size) {
    char path[PATH_MAX];
    cJSON *cell = NULL;
    if (out) *out = NULL;
    if (why && why_size) why[0] = '\0';
    ml_store_cell_file(path, sizeof(path), dir, cs->suite->name, cs->cells[i].name);
    if (!ml_fs_exists(path)) return 0;
    /* damaged, or changed since it was written: the caller says so and runs the cell again */
    if (ml_results_load_cell(&cell, path) < 0 || ml_results_seal_check(cell, path) < 0) {
        if (why && why_size) snprintf(why, why_size, "%s", ml_error_last()->message);
        cJSON_Delete(cell);
        return 0;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(cell, "id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "status");
    if (strcmp(id->valuestring, cs->cells[i].id) || (want_ok && strcmp(st->valuestring, "ok"))) {
        cJSON_Delete(cell);
        return 0;
    }
    if (out) *out = cell;
    else cJSON_Delete(cell);
    return 1;
}

/* ---- records in the store ------------------------------------------------ */

void ml_cellfile_record_path(char *buf, size_t size, const char *store, const char *hash) {
    int len = snprintf(buf, size, "%s/jobs/%.64s.json", store, hash);
    if (len < 0 || (size_t)len >= size) buf[0] = '\0';
}

/* Writes rec (consumed) sealed as STORE/jobs/HASH.json, creating the folder. */
static int record_write(const char *store, const char *hash, cJSON *rec) {
    char path[PATH_MAX], parent[PATH_MAX];
    ml_cellfile_record_path(path, sizeof(path), store, hash);
    int len = snprintf(parent, sizeof(parent), "%s/jobs", store);
    int error = path[0] && len > 0 && (size_t)len < sizeof(parent)
                    ? 0 : ml_error_set(ML_EINVALID, "the store's path is too long: '%s'", store);
    if (error == 0) error = ml_fs_mkdir_p(parent);
    if (error == 0) error = ml_results_seal(rec);
    if (error == 0) error = ml_results_write(path, rec);
    cJSON_Delete(rec);
    return error;
}

/* STORE/jobs/HASH.json when it is sealed and is a record of job hash (and,
 * when id is not NULL, of cell identity id): the document, else NULL
 * (missing or damaged: to run). */
static cJSON *record_load(const char *store, const char *hash, const char *id) {
    char path[PATH_MAX], *text = NULL;
    size_t len;
    ml_cellfile_record_path(path, sizeof(path), store, hash);
    if (!path[0] || !ml_fs_exists(path) || ml_fs_read_all(&text, &len, path) < 0) return NULL;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(doc, "id");
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(doc, "job");
    if (!doc || ml_results_seal_check(doc, path) < 0 || !cJSON_IsString(rid) || (id && strcmp(rid->valuestring, id)) ||
        !cJSON_IsString(job) || strcmp(job->valuestring, hash)) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

int ml_cellfile_part_write(const char *store, const char *hash, const ml_cellset *cs, int i, cJSON *result,
                           const char *started, double wall, double cpu) {
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "job", hash);
    cJSON_AddStringToObject(rec, "id", cs->cells[i].id);
    cJSON_AddStringToObject(rec, "started", started);
    cJSON_AddNumberToObject(rec, "wall_seconds", wall);
    cJSON_AddNumberToObject(rec, "cpu_seconds", cpu);
    cJSON_AddItemToObject(rec, "result", result);
    return record_write(store, hash, rec);
}

int ml_cellfile_part_load(cJSON **out, const char *store, const char *hash) {
    if (out) *out = NULL;
    /* not checked against the cell: a part's hash covers all it depends on,
     * and a training is one job for every cell (of any suite) that shares it */
    cJSON *doc = store ? record_load(store, hash, NULL) : NULL;
    if (doc && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "result"))) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    if (out) *out = doc;
    else cJSON_Delete(doc);
    return doc != NULL;
}

int ml_cellfile_share(const char *store, const ml_cellset *cs, int i, const cJSON *cell) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "status");
    if (!store || !cJSON_IsString(st) || strcmp(st->valuestring, "ok")) return 0;   /* a failed cell is run again */
    cJSON *rec = cJSON_Duplicate(cell, 1);
    if (!rec) return ml_error_set(ML_ENOMEM, "out of memory sharing cell %s", cs->cells[i].name);
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "job");
    cJSON_AddStringToObject(rec, "job", cs->cells[i].id);
    return record_write(store, cs->cells[i].id, rec);
}

int ml_cellfile_adopt(const char *store, const ml_cellset *cs, int i, const char *dir) {
    const ml_cell *c = &cs->cells[i];
    cJSON *rec = store ? record_load(store, c->id, c->id) : NULL;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");
    if (!rec || !cJSON_IsString(st) || strcmp(st->valuestring, "ok")) {
        cJSON_Delete(rec);
        return 0;
    }
    if (!dir) {   /* only asked whether it is there */
        cJSON_Delete(rec);
        return 1;
    }
    /* the same identity under this suite's names (an identity leaves them out) */
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "job");
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "suite", cJSON_CreateString(cs->suite->name));
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "name", cJSON_CreateString(c->name));
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "group", cJSON_CreateString(c->group));
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "params", cJSON_Duplicate(c->params, 1));
    int error = ml_cellfile_write(cs, i, dir, rec);
    return error < 0 ? error : 1;
}

static double num_or0(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

cJSON *ml_cellfile_from_parts(const ml_cellset *cs, int i, const cJSON *train, const cJSON *const *pts, cJSON *run,
                              int error, double wall, double cpu) {
    int npts = cs->cells[i].suite->npoints;
    double psec[ML_MAX_POINTS], eval = 0.0, last_wall = wall, last_cpu = cpu;
    /* the cell's time is its parts' time; what the last part read from the cache is not */
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(train, "started");
    char started[32];
    snprintf(started, sizeof(started), "%s", cJSON_IsString(st) ? st->valuestring : "");
    wall = num_or0(train, "wall_seconds");
    cpu = num_or0(train, "cpu_seconds");
    for (int k = 0; k < npts; k++) {
        psec[k] = num_or0(pts[k], "wall_seconds");
        eval += psec[k];
        wall += psec[k];
        cpu += num_or0(pts[k], "cpu_seconds");
    }
    wall += last_wall;
    cpu += last_cpu;
    if (run) {
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(train, "result");
        cJSON *timing = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(tr, "timing"), 1);
        if (timing) {
            cJSON_ReplaceItemInObjectCaseSensitive(timing, "eval_seconds", cJSON_CreateNumber(eval));
            cJSON *parts = cJSON_AddObjectToObject(timing, "parts");
            cJSON_AddNumberToObject(parts, "train_seconds", num_or0(train, "wall_seconds"));
            cJSON_AddItemToObject(parts, "point_seconds", cJSON_CreateDoubleArray(psec, npts));
            cJSON_AddNumberToObject(parts, "results_seconds", last_wall);
            cJSON_ReplaceItemInObjectCaseSensitive(run, "timing", timing);
        }
    }
    return ml_cellfile_doc(cs, i, run, error, started, wall, cpu);
}

/* ---- the suite's results ------------------------------------------------ */

int ml_cellfile_suite_path(char *buf, size_t size, const char *dir, const ml_cellset *cs) {
    int len = snprintf(buf, size, "%s/%s.json", dir, cs->suite->name);
    if (len < 0 || (size_t)len >= size) return ml_error_set(ML_EINVALID, "output folder path too long: '%s'", dir);
    return 0;
}

/* doc's suite, matrix and gate: what the suite file says of itself */
static void add_suite(cJSON *doc, const ml_suite *s) {
    cJSON *suite = cJSON_AddObjectToObject(doc, "suite");
    cJSON_AddStringToObject(suite, "name", s->name);
    cJSON_AddStringToObject(suite, "file", s->file);
    cJSON_AddStringToObject(suite, "sha256", s->sha256);
    cJSON_AddStringToObject(suite, "description", s->description);
}

static void add_matrix(cJSON *doc, const ml_suite *s) {
    cJSON *matrix = cJSON_AddObjectToObject(doc, "matrix");
    for (int a = 0; a < s->naxes; a++) {
        const ml_axis *ax = &s->axes[a];
        cJSON *vals = cJSON_AddArrayToObject(matrix, ax->path);
        for (int v = 0; v < ax->nvalues; v++)
            cJSON_AddItemToArray(vals, ax->kind == ML_AXIS_MERGE ? cJSON_CreateString(ax->names[v])
                                                                 : cJSON_CreateNumber(ax->values[v]));
    }
}

int ml_cellfile_suite(cJSON **out, const ml_cellset *cs, cJSON *prov, const char *dir,
                      void (*note)(void *ctx, const char *why), void *note_ctx) {
    cJSON *doc = cJSON_CreateObject(), *cells, *missing, *seeds, *data = NULL;
    char why[ML_ERROR_MSG_MAX];
    int complete = 1;
    *out = NULL;
    if (!doc) {
        cJSON_Delete(prov);
        return ml_error_set(ML_ENOMEM, "out of memory assembling the results of %s", cs->suite->name);
    }
    cJSON_AddNumberToObject(doc, "schema_version", ML_RESULTS_SCHEMA_VERSION);
    add_suite(doc, cs->suite);
    cJSON_AddItemToObject(doc, "provenance", prov);
    add_matrix(doc, cs->suite);
    ml_results_add_gate(doc, cs->suite);
    cJSON_AddNumberToObject(prov, "threads", cs->threads);
    cJSON *plat = cJSON_GetObjectItemCaseSensitive(prov, "platform");
    if (cJSON_IsObject(plat)) cJSON_AddNumberToObject(plat, "threads", cs->threads);   /* part of the platform */
    seeds = cJSON_AddArrayToObject(prov, "seeds");
    missing = cJSON_CreateArray();
    cells = cJSON_CreateArray();
    for (int i = 0; i < cs->n; i++) {
        cJSON *cell = NULL;
        if (!ml_cellfile_load_done(&cell, cs, i, dir, 0, why, sizeof(why))) {
            if (why[0] && note) note(note_ctx, why);
            cJSON_AddItemToArray(missing, cJSON_CreateString(cs->cells[i].name));
            complete = 0;
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(cell, "schema_version");
        cJSON_DeleteItemFromObjectCaseSensitive(cell, "suite");
        cJSON_DeleteItemFromObjectCaseSensitive(cell, "sha256");   /* the file's own checksum */
        if (!data && cJSON_GetObjectItemCaseSensitive(cell, "data"))
            data = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cell, "data"), 1);
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(cell, "seed");
        int seen = 0;
        for (const cJSON *x = seeds->child; x && cJSON_IsNumber(sd); x = x->next) seen |= x->valuedouble == sd->valuedouble;
        if (cJSON_IsNumber(sd) && !seen) cJSON_AddItemToArray(seeds, cJSON_CreateNumber(sd->valuedouble));
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "status");
        if (strcmp(st->valuestring, "ok")) complete = 0;
        cJSON_AddItemToArray(cells, cell);
    }
    cJSON_AddItemToObject(prov, "data", data ? data : cJSON_CreateArray());
    cJSON_AddBoolToObject(doc, "complete", complete);
    cJSON_AddItemToObject(doc, "missing", missing);
    cJSON_AddItemToObject(doc, "cells", cells);
    *out = doc;
    return 0;
}
