/*
 * suite/cells.c: matrix expansion and cell identities.
 * Each cell is the suite's JSON with the matrix values written in and the
 * matrix removed, parsed again by the strict parser: a cell can never hold
 * a value the parser would refuse in a suite written out by hand.
 */
#include "suite/cells.h"
#include "core/version.h"
#include "kernels/platform.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/rbuf.h"
#include "core/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_keys(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static int canon_into(ml_rbuf *b, const cJSON *v) {
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int n = 0, obj = cJSON_IsObject(v);
        for (const cJSON *c = v->child; c; c = c->next) n++;
        const cJSON **kids = NULL;
        if (ml_calloc((void **)&kids, (size_t)(n ? n : 1), sizeof(*kids)) < 0) return ML_ENOMEM;
        n = 0;
        for (const cJSON *c = v->child; c; c = c->next) kids[n++] = c;
        if (obj) qsort(kids, (size_t)n, sizeof(*kids), cmp_keys);
        ml_rbuf_puts(b, obj ? "{" : "[");
        for (int i = 0; i < n; i++) {
            if (i) ml_rbuf_puts(b, ",");
            if (obj) {
                cJSON *key = cJSON_CreateString(kids[i]->string);
                char *k = key ? cJSON_PrintUnformatted(key) : NULL;
                cJSON_Delete(key);
                if (!k) { free(kids); return ML_ENOMEM; }
                ml_rbuf_puts(b, k);
                ml_rbuf_puts(b, ":");
                free(k);
            }
            if (canon_into(b, kids[i]) < 0) { free(kids); return ML_ENOMEM; }
        }
        ml_rbuf_puts(b, obj ? "}" : "]");
        free(kids);
        return 0;
    }
    /* a leaf prints the same detached or not; cJSON never reads siblings for it */
    cJSON tmp = *v;
    tmp.next = tmp.prev = NULL;
    tmp.string = NULL;
    char *t = cJSON_PrintUnformatted(&tmp);
    if (!t) return ML_ENOMEM;
    ml_rbuf_puts(b, t);
    free(t);
    return 0;
}

/* A JSON text with every object's keys sorted, no whitespace: the
 * canonical form hashed into identities. The caller frees it. */
static char *json_canonical(const cJSON *v) {
    ml_rbuf b = { 0 };
    if (canon_into(&b, v) < 0 || ml_rbuf_check(&b) < 0) {
        ml_rbuf_free(&b);
        return NULL;
    }
    return b.p;   /* NUL-terminated after any append */
}

/* sha256 over "tag\n" and each part followed by "\n" */
static int hash_parts(char out[65], const char *tag, const char *const *parts, int n) {
    ml_sha256 h;
    uint8_t d[32];
    ml_sha256_init(&h);
    ml_sha256_update(&h, tag, strlen(tag));
    ml_sha256_update(&h, "\n", 1);
    for (int i = 0; i < n; i++) {
        if (!parts[i]) return ML_ENOMEM;
        ml_sha256_update(&h, parts[i], strlen(parts[i]));
        ml_sha256_update(&h, "\n", 1);
    }
    ml_sha256_final(&h, d);
    ml_sha256_to_hex(out, d);
    return 0;
}

/* Canonical text of spec without `drop` keys (keep == 0) or with only
 * `keys` (keep == 1). */
static char *canon_subset(const cJSON *spec, const char *const *keys, int keep) {
    cJSON *c = cJSON_CreateObject();
    char *t;
    if (!c) return NULL;
    for (const cJSON *it = spec->child; it; it = it->next) {
        int listed = 0;
        for (int k = 0; keys[k]; k++) listed |= !strcmp(keys[k], it->string);
        if (listed == keep) cJSON_AddItemReferenceToObject(c, it->string, (cJSON *)it);
    }
    t = json_canonical(c);
    cJSON_Delete(c);
    return t;
}

/* The identity of the data a suite reads: the Fashion-MNIST files' hashes
 * (remembered per folder), or "generated" for seeded text. */
typedef struct { char dir[512]; char hash[65]; } data_memo;

static int data_identity(char out[65], const ml_suite *s, data_memo *memo) {
    static const char *const files[] = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
    char hex[4][65], path[1100];
    const char *parts[4];
    int error;
    if (s->family != ML_FAMILY_MLP) {
        snprintf(out, 65, "generated");
        return 0;
    }
    if (memo->hash[0] && !strcmp(memo->dir, s->data_dir)) {
        memcpy(out, memo->hash, 65);
        return 0;
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", s->data_dir, files[i]);
        if ((error = ml_sha256_file(hex[i], path)) < 0) return error;
        parts[i] = hex[i];
    }
    if ((error = hash_parts(out, "fashion-mnist", parts, 4)) < 0) return error;
    snprintf(memo->dir, sizeof(memo->dir), "%s", s->data_dir);
    memcpy(memo->hash, out, 65);
    return 0;
}

static void num_text(char *buf, size_t size, double v) {
    ml_rbuf b = { 0 };
    ml_rbuf_num(&b, v, "nan");
    snprintf(buf, size, "%s", ml_rbuf_check(&b) == 0 && b.p ? b.p : "?");
    ml_rbuf_free(&b);
}

/* Writes value into the number the dotted path names (checked by the parser). */
static void set_path(cJSON *spec, const char *path, double value) {
    char seg[ML_AXIS_PATH_MAX];
    cJSON *parent = spec;
    const char *p = path;
    for (;;) {
        size_t n = strcspn(p, ".");
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (!p[n]) break;
        parent = cJSON_GetObjectItemCaseSensitive(parent, seg);
        p += n + 1;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(parent, seg, cJSON_CreateNumber(value));
}

static void keep_merge(cJSON *spec, const char *name) {
    cJSON *merges = cJSON_GetObjectItemCaseSensitive(spec, "merges"), *keep = cJSON_CreateArray();
    for (cJSON *m = merges ? merges->child : NULL; m; m = m->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) cJSON_AddItemToArray(keep, cJSON_Duplicate(m, 1));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(spec, "merges", keep);
}

static int build_cell(ml_cell *cell, const ml_cellset *cs, const cJSON *root, int index, data_memo *memo) {
    const ml_suite *s = cs->suite;
    int pick[ML_MAX_AXES], error = 0;
    cJSON *spec = NULL;
    char *canon = NULL, *canon_base = NULL, *canon_spec = NULL, *canon_direct = NULL;
    char val[64], threads[160], data[65];
    ml_platform plat;
    size_t used = 0, gused = 0;

    for (int a = s->naxes - 1, rest = index; a >= 0; a--) {
        pick[a] = rest % s->axes[a].nvalues;
        rest /= s->axes[a].nvalues;
    }
    if (!(spec = cJSON_Duplicate(root, 1)) || !(cell->params = cJSON_CreateObject())) {
        error = ml_error_set(ML_ENOMEM, "out of memory expanding %s", s->file);
        goto cleanup;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "matrix");
    cell->name[0] = cell->group[0] = '\0';
    for (int a = 0; a < s->naxes; a++) {
        const ml_axis *ax = &s->axes[a];
        if (ax->kind == ML_AXIS_MERGE) {
            snprintf(val, sizeof(val), "%s", ax->names[pick[a]]);
            keep_merge(spec, val);
            cJSON_AddStringToObject(cell->params, ax->path, val);
        } else {
            num_text(val, sizeof(val), ax->values[pick[a]]);
            if (ax->kind == ML_AXIS_SEED) cJSON_ReplaceItemInObjectCaseSensitive(spec, "seed", cJSON_CreateNumber(ax->values[pick[a]]));
            else set_path(spec, ax->path, ax->values[pick[a]]);
            cJSON_AddNumberToObject(cell->params, ax->path, ax->values[pick[a]]);
        }
        used += (size_t)snprintf(cell->name + used, used < sizeof(cell->name) ? sizeof(cell->name) - used : 0,
                                 "%s%s=%s", used ? "," : "", ax->path, val);
        /* seeds and bases (pretrain.seed) are replicates, not conditions: cells that
         * differ only in them form one group, which the findings pair by (base, seed) */
        if (ax->kind != ML_AXIS_SEED && strcmp(ax->path, "pretrain.seed"))
            gused += (size_t)snprintf(cell->group + gused, gused < sizeof(cell->group) ? sizeof(cell->group) - gused : 0,
                                      "%s%s=%s", gused ? "," : "", ax->path, val);
    }
    if (used >= sizeof(cell->name) || gused >= sizeof(cell->group)) {
        error = ml_error_set(ML_EINVALID, "%s: $.matrix: a cell name is longer than %d characters", s->file,
                             ML_CELL_NAME_MAX - 1);
        goto cleanup;
    }
    if (!used) snprintf(cell->name, sizeof(cell->name), "default");
    if (!gused) snprintf(cell->group, sizeof(cell->group), "default");

    if ((error = ml_suite_parse_json(&cell->suite, s->file, s->sha256, spec)) < 0) {
        if (s->naxes) {
            /* "FILE: cell NAME ($.matrix): $.path: reason": the value came from the matrix */
            char msg[ML_ERROR_MSG_MAX];
            const char *m = ml_error_last()->message;
            size_t fl = strlen(s->file);
            snprintf(msg, sizeof(msg), "%s", !strncmp(m, s->file, fl) && !strncmp(m + fl, ": ", 2) ? m + fl + 2 : m);
            error = ml_error_set(error, "%s: cell %s ($.matrix): %s", s->file, cell->name, msg);
        }
        goto cleanup;
    }
    cell->suite->threads = cs->threads;

    /* identities */
    static const char *const NOT_RESULTS[] = { "name", "description", "gate", "threads", "report", "findings", NULL };
    static const char *const NOT_BASE[] = { "name", "description", "gate", "threads", "report", "findings", "merges", "finetune",
                                            "specialists", "target", "cka", "eval", NULL };
    /* with pretrain.seed the base depends on no cell seed: one base for the whole matrix */
    static const char *const NOT_BASE_SHARED[] = { "name", "description", "gate", "threads", "report", "findings", "merges",
                                                   "finetune", "specialists", "target", "cka", "eval", "seed", NULL };
    /* the seed is named here too: with a shared base (pretrain.seed) the base key no longer carries it */
    static const char *const SPECIALISTS[] = { "seed", "finetune", "specialists", "target", "cka", NULL };
    static const char *const DIRECT[] = { "seed", "finetune", "target", NULL };
    if ((error = data_identity(data, cell->suite, memo)) < 0) goto cleanup;
    /* the BLAS kernels decide the bits as much as the thread count does: a
     * cell or a cached model from another kernel family is another result */
    ml_platform_get(&plat);
    snprintf(threads, sizeof(threads), "%d %s %s", cs->threads, plat.blas, plat.blas_core);
    canon = canon_subset(spec, NOT_RESULTS, 0);
    canon_base = canon_subset(spec, cell->suite->pretrain_seed_shared ? NOT_BASE_SHARED : NOT_BASE, 0);
    canon_spec = canon_subset(spec, SPECIALISTS, 1);
    canon_direct = canon_subset(spec, DIRECT, 1);
    {
        const char *cellp[] = { ml_build_source, ml_build_cflags, threads, data, canon };
        const char *basep[] = { ml_build_source, ml_build_cflags, threads, data, canon_base };
        if ((error = hash_parts(cell->id, "mergelab cell 1", cellp, 5)) < 0 ||
            (error = hash_parts(cell->key_base, "mergelab base 1", basep, 5)) < 0)
            goto nomem;
        const char *specp[] = { cell->key_base, canon_spec };
        const char *dirp[] = { cell->key_base, canon_direct };
        if ((error = hash_parts(cell->key_specialists, "mergelab specialists 1", specp, 2)) < 0 ||
            (error = hash_parts(cell->key_direct, "mergelab direct 1", dirp, 2)) < 0)
            goto nomem;
    }
    goto cleanup;
nomem:
    error = ml_error_set(ML_ENOMEM, "out of memory hashing cell %s", cell->name);
cleanup:
    free(canon);
    free(canon_base);
    free(canon_spec);
    free(canon_direct);
    cJSON_Delete(spec);
    return error;
}

int ml_cells_load(ml_cellset **out, const char *path, int threads) {
    ml_cellset *cs = NULL;
    cJSON *root = NULL;
    char *src = NULL, sha[65];
    size_t len;
    data_memo memo = { "", "" };
    int error;
    *out = NULL;
    if ((error = ml_fs_read_all(&src, &len, path)) < 0) return error;
    if ((error = ml_json_parse_strict(&root, path, src, len)) < 0) goto cleanup;
    ml_sha256_hex(sha, src, len);
    if ((error = ml_calloc((void **)&cs, 1, sizeof(*cs))) < 0 ||
        (error = ml_suite_parse_json(&cs->suite, path, sha, root)) < 0)
        goto cleanup;
    cs->threads = threads > 0 ? threads : cs->suite->threads > 0 ? cs->suite->threads : 1;
    if ((error = ml_calloc((void **)&cs->cells, (size_t)cs->suite->ncells, sizeof(ml_cell))) < 0) goto cleanup;
    for (int i = 0; i < cs->suite->ncells; i++) {
        cs->n = i + 1;
        if ((error = build_cell(&cs->cells[i], cs, root, i, &memo)) < 0) goto cleanup;
    }
    *out = cs;
    cs = NULL;
cleanup:
    ml_cells_free(cs);
    cJSON_Delete(root);
    free(src);
    return error;
}

void ml_cells_free(ml_cellset *cs) {
    if (!cs) return;
    for (int i = 0; i < cs->n; i++) {
        cJSON_Delete(cs->cells[i].params);
        ml_suite_free(cs->cells[i].suite);
    }
    free(cs->cells);
    ml_suite_free(cs->suite);
    free(cs);
}
