/*
 * harness/results.c: results files. They are written only through
 * ml_fs_write_atomic so a crash never leaves half a file, and they are read
 * strictly: an unknown schema_version or a metric that is not a number is
 * refused rather than half-understood.
 */
#include "harness/results.h"
#include "core/error.h"
#include "core/fs.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int ml_results_write(const char *path, const cJSON *doc) {
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
    char *withnl = realloc(text, len + 2);
    if (!withnl) { free(text); return ml_error_set(ML_ENOMEM, "out of memory printing results"); }
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    error = ml_fs_write_atomic(path, withnl, len + 1);
    free(withnl);
    return error;
}

int ml_results_load(cJSON **out, const char *path) {
    char *src = NULL;
    size_t len;
    cJSON *doc = NULL;
    int error;
    *out = NULL;
    if ((error = ml_fs_read_all(&src, &len, path)) < 0) return error;
    doc = cJSON_ParseWithLength(src, len);
    if (!doc || !cJSON_IsObject(doc)) {
        error = ml_error_set(ML_EDATA, "%s: not a mergelab results file (invalid or truncated JSON)", path);
        goto cleanup;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "schema_version");
    if (!cJSON_IsNumber(v)) {
        error = ml_error_set(ML_EDATA, "%s: $.schema_version: missing; not a mergelab results file", path);
        goto cleanup;
    }
    if (v->valuedouble != ML_RESULTS_SCHEMA_VERSION) {
        error = ml_error_set(ML_EDATA, "%s: $.schema_version: %g is not supported by this build (it reads %d); "
                             "rerun the suite or use a matching mergelab", path, v->valuedouble,
                             ML_RESULTS_SCHEMA_VERSION);
        goto cleanup;
    }
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(doc, "metrics");
    if (!cJSON_IsObject(metrics)) {
        error = ml_error_set(ML_EDATA, "%s: $.metrics: expected an object", path);
        goto cleanup;
    }
    for (const cJSON *m = metrics->child; m; m = m->next)
        if (!cJSON_IsNumber(m) && !cJSON_IsNull(m)) {
            error = ml_error_set(ML_EDATA, "%s: $.metrics.%s: expected a number", path, m->string);
            goto cleanup;
        }
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(doc, "gate");
    if (!cJSON_IsArray(gate)) {
        error = ml_error_set(ML_EDATA, "%s: $.gate: expected an array of rules", path);
        goto cleanup;
    }
    int i = 0;
    for (const cJSON *r = gate->child; r; r = r->next, i++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "match");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "direction");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "atol");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "rtol");
        if (!cJSON_IsString(m) || !cJSON_IsString(d) || !cJSON_IsNumber(a) || !cJSON_IsNumber(t) ||
            (strcmp(d->valuestring, "higher") && strcmp(d->valuestring, "lower") && strcmp(d->valuestring, "both"))) {
            error = ml_error_set(ML_EDATA, "%s: $.gate[%d]: expected {match, direction (higher|lower|both), atol, rtol}",
                                 path, i);
            goto cleanup;
        }
    }
    *out = doc;
    doc = NULL;
cleanup:
    cJSON_Delete(doc);
    free(src);
    return error;
}

void ml_results_strip_volatile(cJSON *doc) {
    cJSON *prov = cJSON_GetObjectItemCaseSensitive(doc, "provenance");
    static const char *const prov_keys[] = { "command", "started", "finished", "wall_seconds", "cpu_seconds",
                                             NULL };
    for (int i = 0; prov && prov_keys[i]; i++) cJSON_DeleteItemFromObjectCaseSensitive(prov, prov_keys[i]);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "timing");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "blessed");
}
