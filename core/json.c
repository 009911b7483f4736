/*
 * core/json.c: repeated-key detection over a parsed cJSON tree.
 */
#include "core/json.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends ".key" or "[i]" to path (cut, never overflowing, when deep). */
static void path_push(char *path, size_t size, size_t at, const cJSON *parent, const cJSON *item, int index) {
    if (at >= size) return;
    if (cJSON_IsArray(parent)) {
        const cJSON *name = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "name") : NULL;
        if (cJSON_IsString(name)) snprintf(path + at, size - at, "[%d] (\"%.60s\")", index, name->valuestring);
        else snprintf(path + at, size - at, "[%d]", index);
    } else {
        snprintf(path + at, size - at, ".%.80s", item->string ? item->string : "");
    }
}

static int walk(const cJSON *node, const char *file, int code, char *path, size_t size, int depth) {
    size_t at = strlen(path);
    int n = 0, error = 0;
    if (depth > 1000) return ml_error_set(code, "%s: %s: nested too deeply", file, path);
    for (const cJSON *c = node->child; c; c = c->next) n++;
    if (cJSON_IsObject(node) && n > 1) {
        const char **names = NULL;
        int k = 0;
        if (ml_malloc((void **)&names, (size_t)n * sizeof(*names)) < 0) {
            ml_error_prefix("%s: checking keys", file);
            return ML_ENOMEM;
        }
        for (const cJSON *c = node->child; c; c = c->next) names[k++] = c->string ? c->string : "";
        qsort(names, (size_t)n, sizeof(*names), cmp_names);
        for (int i = 1; i < n && !error; i++) {
            if (strcmp(names[i - 1], names[i])) continue;
            int times = 2;
            while (i + times - 1 < n && !strcmp(names[i - 1], names[i + times - 1])) times++;
            error = ml_error_set(code, "%s: %s: key \"%.80s\" appears %d times (a repeated key is refused, "
                                 "never resolved silently)", file, path, names[i], times);
        }
        free(names);
        if (error) return error;
    }
    int i = 0;
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        if (!cJSON_IsObject(c) && !cJSON_IsArray(c)) continue;
        path_push(path, size, at, node, c, i);
        error = walk(c, file, code, path, size, depth + 1);
        path[at] = '\0';
        if (error) return error;
    }
    return 0;
}

int ml_json_check_unique_keys(const cJSON *root, const char *file, int code) {
    char path[512] = "$";
    if (!root) return 0;
    return walk(root, file ? file : "(json)", code, path, sizeof(path), 0);
}
