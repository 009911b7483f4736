/*
 * kernels/checkpoint.c: the checkpoint format of docs/checkpoint.md.
 * Every multi-byte number is encoded and decoded byte by byte, little-endian,
 * so the file is the same on any host and no struct padding leaks into it.
 * A save encodes the whole file into one buffer and hands it to
 * ml_fs_write_atomic(); a load reads the whole file, checks size, CRC and
 * compatibility in that buffer, and only then decodes floats into the
 * caller's arrays, so an error never leaves them half-written.
 * Not here: the atomic write (core/fs.c), the layout table (params.c).
 */
#include "kernels/checkpoint.h"
#include "core/error.h"
#include "core/fs.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const unsigned char ckpt_magic[8] = { 'M', 'L', 'C', 'K', 'P', 'T', '\r', '\n' };

enum {
    FIXED_HEADER   = 64,                      /* magic .. ntensors */
    FIELD_BYTES    = ML_CKPT_FIELD_MAX + 8,   /* name[24], i64 value */
    TENSOR_BYTES   = ML_TENSOR_NAME_MAX + 4 + 4 * 4,  /* name[48], u32 ndim, u32 shape[4] */
    CRC_BYTES      = 4,
    SEC_PARAMS     = 1u << 0,
    SEC_ADAM_M     = 1u << 1,
    SEC_ADAM_V     = 1u << 2,
};

/* ---- little-endian encoding --------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t x) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) x |= (uint32_t)p[i] << (8 * i);
    return x;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x |= (uint64_t)p[i] << (8 * i);
    return x;
}
/* A NUL-padded fixed-width string field; the caller checked that s fits. */
static void put_str(unsigned char *p, const char *s, size_t width) {
    size_t n = strlen(s);
    memset(p, 0, width);
    memcpy(p, s, n);
}
/* Copies a NUL-padded field into out (width + 1 bytes); -1 when the field
 * holds no NUL (the writer always leaves at least one). */
static int get_str(char *out, const unsigned char *p, size_t width) {
    const unsigned char *nul = memchr(p, 0, width);
    if (!nul) return -1;
    memcpy(out, p, (size_t)(nul - p) + 1);
    return 0;
}
/* Floats go through their bit pattern, so NaN payloads and infinities
 * survive exactly: the format never does arithmetic on data. */
static void put_floats(unsigned char *p, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        put_u32(p + 4 * i, bits);
    }
}
static void get_floats(float *x, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = get_u32(p + 4 * i);
        memcpy(&x[i], &bits, 4);
    }
}

/* zlib's crc32 takes a uInt length; feed large buffers in 1 GiB pieces. */
static uint32_t crc_of(const unsigned char *p, size_t len) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        size_t take = len < (1u << 30) ? len : (1u << 30);
        crc = crc32(crc, p, (uInt)take);
        p += take;
        len -= take;
    }
    return (uint32_t)crc;
}

/* "(384,128)" into buf */
static const char *shape_str(char *buf, size_t size, int ndim, const int *shape) {
    size_t at = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%d", d ? "," : "(", shape[d]);
    if (at < size) snprintf(buf + at, size - at, ")");
    return buf;
}

/* ---- save ---------------------------------------------------------------- */

static int check_save_args(const char *path, const ml_ckpt *c) {
    ML_CHECK_ARG(path && c, "checkpoint save: path and checkpoint are required");
    ML_CHECK_ARG(c->kind && c->kind[0] && strlen(c->kind) < ML_CKPT_KIND_MAX,
            "%s: model kind must be 1..%d characters", path, ML_CKPT_KIND_MAX - 1);
    ML_CHECK_ARG(c->nconfig >= 0 && c->nconfig <= ML_CKPT_CONFIG_MAX,
            "%s: %d config fields (0..%d allowed)", path, c->nconfig, ML_CKPT_CONFIG_MAX);
    ML_CHECK_ARG(c->nconfig == 0 || c->config, "%s: config is NULL with %d fields", path, c->nconfig);
    for (int i = 0; i < c->nconfig; i++) {
        const char *name = c->config[i].name;
        size_t n = strnlen(name, ML_CKPT_FIELD_MAX);
        ML_CHECK_ARG(n > 0 && n < ML_CKPT_FIELD_MAX,
                "%s: config field %d: name must be 1..%d characters", path, i, ML_CKPT_FIELD_MAX - 1);
        for (int j = 0; j < i; j++)
            ML_CHECK_ARG(strcmp(c->config[j].name, name) != 0,
                    "%s: config field %s appears twice", path, name);
    }
    ML_CHECK_ARG(c->layout && c->layout->n > 0, "%s: the layout has no tensors", path);
    size_t sum = 0;
    for (int i = 0; i < c->layout->n; i++) {
        const ml_tensor_info *t = &c->layout->tensors[i];
        ML_CHECK_ARG(t->offset == sum, "%s: tensor %d (%s) is not contiguous (offset %zu, expected %zu)",
                path, i, t->name, t->offset, sum);
        sum += t->numel;
    }
    ML_CHECK_ARG(sum == c->layout->total, "%s: layout total %zu, its tensors hold %zu",
            path, c->layout->total, sum);
    ML_CHECK_ARG(c->params, "%s: params is NULL", path);
    ML_CHECK_ARG(!c->adam_m == !c->adam_v, "%s: adam_m and adam_v go together (one is NULL)", path);
    ML_CHECK_ARG(c->step >= 0, "%s: step must be >= 0, got %" PRId64, path, c->step);
    return 0;
}

int ml_checkpoint_save(const char *path, const ml_ckpt *c) {
    unsigned char *buf = NULL, *p;
    int error;
    if ((error = check_save_args(path, c)) < 0) return error;

    const ml_layout *l = c->layout;
    int adam = c->adam_m != NULL;
    size_t nsec = adam ? 3 : 1;
    size_t header = FIXED_HEADER + (size_t)c->nconfig * FIELD_BYTES + (size_t)l->n * TENSOR_BYTES;
    if (l->total > (SIZE_MAX - header - CRC_BYTES) / (4 * nsec))
        return ml_error_set(ML_EINVALID, "%s: %zu floats do not fit in memory", path, l->total);
    size_t len = header + nsec * 4 * l->total + CRC_BYTES;
    if ((error = ml_malloc((void **)&buf, len)) < 0) {
        ml_error_prefix("%s", path);
        return error;
    }

    p = buf;
    memcpy(p, ckpt_magic, 8);
    put_u32(p + 8, ML_CKPT_VERSION);
    put_u32(p + 12, SEC_PARAMS | (adam ? SEC_ADAM_M | SEC_ADAM_V : 0));
    put_str(p + 16, c->kind, ML_CKPT_KIND_MAX);
    put_u64(p + 32, (uint64_t)c->step);
    put_u64(p + 40, ml_layout_hash(l));
    put_u64(p + 48, (uint64_t)l->total);
    put_u32(p + 56, (uint32_t)c->nconfig);
    put_u32(p + 60, (uint32_t)l->n);
    p += FIXED_HEADER;
    for (int i = 0; i < c->nconfig; i++, p += FIELD_BYTES) {
        put_str(p, c->config[i].name, ML_CKPT_FIELD_MAX);
        put_u64(p + ML_CKPT_FIELD_MAX, (uint64_t)c->config[i].value);
    }
    for (int i = 0; i < l->n; i++, p += TENSOR_BYTES) {
        const ml_tensor_info *t = &l->tensors[i];
        put_str(p, t->name, ML_TENSOR_NAME_MAX);
        put_u32(p + ML_TENSOR_NAME_MAX, (uint32_t)t->ndim);
        for (int d = 0; d < 4; d++)
            put_u32(p + ML_TENSOR_NAME_MAX + 4 + 4 * d, d < t->ndim ? (uint32_t)t->shape[d] : 0);
    }
    put_floats(p, c->params, l->total);
    p += 4 * l->total;
    if (adam) {
        put_floats(p, c->adam_m, l->total);
        p += 4 * l->total;
        put_floats(p, c->adam_v, l->total);
        p += 4 * l->total;
    }
    put_u32(p, crc_of(buf, (size_t)(p - buf)));

    error = ml_fs_write_atomic(path, buf, len);
    free(buf);
    return error;
}

/* ---- load ---------------------------------------------------------------- */

/* What the header says, decoded once the CRC has vouched for it. */
typedef struct {
    uint32_t sections;
    char     kind[ML_CKPT_KIND_MAX + 1];
    int64_t  step;
    uint64_t hash, nfloats;
    uint32_t nconfig, ntensors;
    const unsigned char *config;   /* (nconfig) FIELD_BYTES entries */
    const unsigned char *tensors;  /* (ntensors) TENSOR_BYTES entries */
    const unsigned char *data;     /* the sections, back to back */
} ckpt_header;

/* Magic, version, sizes and CRC: is this an intact version-1 file? */
static int check_envelope(ckpt_header *h, const char *path, const unsigned char *b, size_t len) {
    size_t m = len < 8 ? len : 8;
    if (memcmp(b, ckpt_magic, m) != 0)
        return ml_error_set(ML_EDATA, "%s: not a mergelab checkpoint (bad magic)", path);
    if (len >= 12 && get_u32(b + 8) != ML_CKPT_VERSION)
        return ml_error_set(ML_EDATA, "%s: format version %" PRIu32 " is not supported (this build reads %d)",
                path, get_u32(b + 8), ML_CKPT_VERSION);
    if (len < FIXED_HEADER)
        return ml_error_set(ML_EDATA, "%s: truncated (%zu bytes; the fixed header needs %d)",
                path, len, FIXED_HEADER);

    h->sections = get_u32(b + 12);
    h->nfloats  = get_u64(b + 48);
    h->nconfig  = get_u32(b + 56);
    h->ntensors = get_u32(b + 60);
    /* u64 arithmetic: nconfig and ntensors are u32, so this cannot overflow */
    uint64_t header = FIXED_HEADER + (uint64_t)h->nconfig * FIELD_BYTES + (uint64_t)h->ntensors * TENSOR_BYTES;
    if (len < header)
        return ml_error_set(ML_EDATA, "%s: truncated (%zu bytes; the header with %" PRIu32
                " config fields and %" PRIu32 " tensors needs %" PRIu64 ")",
                path, len, h->nconfig, h->ntensors, header);
    uint64_t nsec = !!(h->sections & SEC_PARAMS) + !!(h->sections & SEC_ADAM_M) + !!(h->sections & SEC_ADAM_V);
    if (h->nfloats > (UINT64_MAX - header - CRC_BYTES) / 16)
        return ml_error_set(ML_EDATA, "%s: truncated (%zu bytes; the header claims %" PRIu64 " floats)",
                path, len, h->nfloats);
    uint64_t want = header + nsec * 4 * h->nfloats + CRC_BYTES;
    if (len < want)
        return ml_error_set(ML_EDATA, "%s: truncated (%zu bytes; the header, %" PRIu64 " section(s) of %"
                PRIu64 " floats and the CRC need %" PRIu64 ")", path, len, nsec, h->nfloats, want);
    if (len > want)
        return ml_error_set(ML_EDATA, "%s: size is %zu bytes, the header describes %" PRIu64 " (trailing bytes)",
                path, len, want);
    if (crc_of(b, len - CRC_BYTES) != get_u32(b + len - CRC_BYTES))
        return ml_error_set(ML_EDATA, "%s: CRC mismatch: file is corrupt", path);

    h->config  = b + FIXED_HEADER;
    h->tensors = h->config + (size_t)h->nconfig * FIELD_BYTES;
    h->data    = h->tensors + (size_t)h->ntensors * TENSOR_BYTES;
    return 0;
}

/* The rest of the header, which the CRC says is what the writer wrote; a
 * failure here means a writer bug, not disk damage. */
static int check_header(ckpt_header *h, const char *path, const unsigned char *b) {
    if (h->sections != SEC_PARAMS && h->sections != (SEC_PARAMS | SEC_ADAM_M | SEC_ADAM_V))
        return ml_error_set(ML_EDATA, "%s: corrupt header: sections 0x%" PRIx32
                " (version 1 has params, or params + adam m + adam v)", path, h->sections);
    if (get_str(h->kind, b + 16, ML_CKPT_KIND_MAX) < 0 || !h->kind[0])
        return ml_error_set(ML_EDATA, "%s: corrupt header: model kind is not a 1..15 character string", path);
    h->step = (int64_t)get_u64(b + 32);
    h->hash = get_u64(b + 40);
    if (h->nconfig > ML_CKPT_CONFIG_MAX)
        return ml_error_set(ML_EDATA, "%s: corrupt header: %" PRIu32 " config fields (at most %d)",
                path, h->nconfig, ML_CKPT_CONFIG_MAX);
    for (uint32_t i = 0; i < h->nconfig; i++) {
        const char *name = (const char *)h->config + (size_t)i * FIELD_BYTES;
        if (!memchr(name, 0, ML_CKPT_FIELD_MAX) || !name[0])
            return ml_error_set(ML_EDATA, "%s: corrupt header: config field %" PRIu32 " has no valid name", path, i);
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(name, (const char *)h->config + (size_t)j * FIELD_BYTES))
                return ml_error_set(ML_EDATA, "%s: corrupt header: config field %s appears twice", path, name);
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < h->ntensors; i++) {
        const unsigned char *t = h->tensors + (size_t)i * TENSOR_BYTES;
        char name[ML_TENSOR_NAME_MAX + 1];
        uint32_t ndim = get_u32(t + ML_TENSOR_NAME_MAX);
        uint64_t numel = 1;
        if (get_str(name, t, ML_TENSOR_NAME_MAX) < 0 || !name[0] || ndim < 1 || ndim > 4)
            return ml_error_set(ML_EDATA, "%s: corrupt header: tensor %" PRIu32 " has a bad name or ndim", path, i);
        for (uint32_t d = 0; d < ndim; d++) {
            uint32_t s = get_u32(t + ML_TENSOR_NAME_MAX + 4 + 4 * d);
            if (s < 1 || s > INT32_MAX)
                return ml_error_set(ML_EDATA, "%s: corrupt header: tensor %s has dimension %" PRIu32 " = %" PRIu32,
                        path, name, d, s);
            if (numel > UINT64_MAX / s)
                return ml_error_set(ML_EDATA, "%s: corrupt header: tensor %s is too large", path, name);
            numel *= s;
        }
        if (numel > UINT64_MAX - sum)
            return ml_error_set(ML_EDATA, "%s: corrupt header: the tensors are too large", path);
        sum += numel;
    }
    if (sum != h->nfloats)
        return ml_error_set(ML_EDATA, "%s: corrupt header: its tensors hold %" PRIu64 " floats, it says %" PRIu64,
                path, sum, h->nfloats);
    return 0;
}

/* Appends to a message buffer; keeps a mark when it runs out of room. */
typedef struct { char *buf; size_t size, at; int full; } msgbuf;
static void msg_add(msgbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(msgbuf *m, const char *fmt, ...) {
    va_list ap;
    if (m->full) return;
    va_start(ap, fmt);
    int n = vsnprintf(m->buf + m->at, m->size - m->at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= m->size - m->at) {
        m->full = 1;
        m->buf[m->at] = '\0';   /* drop the partial item */
        if (m->at + 4 < m->size) memcpy(m->buf + m->at, "...", 4);
        return;
    }
    m->at += (size_t)n;
}

/* Every config difference, in the model's order, then fields only the file has. */
static int check_config(const ckpt_header *h, const char *path, const ml_ckpt *e) {
    char text[ML_ERROR_MSG_MAX - 64];
    msgbuf m = { text, sizeof(text), 0, 0 };
    int bad = 0;
    text[0] = '\0';
    for (int i = 0; i < e->nconfig; i++) {
        const ml_ckpt_field *f = &e->config[i];
        uint32_t j;
        for (j = 0; j < h->nconfig; j++)
            if (!strncmp((const char *)h->config + (size_t)j * FIELD_BYTES, f->name, ML_CKPT_FIELD_MAX)) break;
        if (j == h->nconfig) {
            msg_add(&m, "%sconfig %s is missing from the file", bad++ ? "; " : "", f->name);
            continue;
        }
        int64_t v = (int64_t)get_u64(h->config + (size_t)j * FIELD_BYTES + ML_CKPT_FIELD_MAX);
        if (v != f->value)
            msg_add(&m, "%sconfig %s is %" PRId64 ", the model has %" PRId64,
                    bad++ ? "; " : "", f->name, v, f->value);
    }
    for (uint32_t j = 0; j < h->nconfig; j++) {
        const char *name = (const char *)h->config + (size_t)j * FIELD_BYTES;   /* NUL-checked */
        int i;
        for (i = 0; i < e->nconfig; i++)
            if (!strncmp(name, e->config[i].name, ML_CKPT_FIELD_MAX)) break;
        if (i == e->nconfig)
            msg_add(&m, "%sconfig %s is in the file but not in the model", bad++ ? "; " : "", name);
    }
    return bad ? ml_error_set(ML_EDATA, "%s: %s", path, text) : 0;
}

/* The first tensor whose name or shape differs. */
static int check_layout(const ckpt_header *h, const char *path, const ml_layout *l) {
    char fs[64], ms[64];
    uint32_t n = h->ntensors < (uint32_t)l->n ? h->ntensors : (uint32_t)l->n;
    for (uint32_t i = 0; i <= n; i++) {
        const unsigned char *t = i < h->ntensors ? h->tensors + (size_t)i * TENSOR_BYTES : NULL;
        const ml_tensor_info *mt = i < (uint32_t)l->n ? &l->tensors[i] : NULL;
        int fshape[4] = { 0 }, fndim = 0;
        if (!t && !mt) break;
        if (t) {
            fndim = (int)get_u32(t + ML_TENSOR_NAME_MAX);
            for (int d = 0; d < fndim; d++) fshape[d] = (int)get_u32(t + ML_TENSOR_NAME_MAX + 4 + 4 * d);
        }
        if (t && mt && !strncmp((const char *)t, mt->name, ML_TENSOR_NAME_MAX) && fndim == mt->ndim &&
                !memcmp(fshape, mt->shape, (size_t)fndim * sizeof(int)))
            continue;
        if (!mt)
            return ml_error_set(ML_EDATA, "%s: tensor %" PRIu32 " is %s %s, the model has no tensor %" PRIu32,
                    path, i, (const char *)t, shape_str(fs, sizeof(fs), fndim, fshape), i);
        if (!t)
            return ml_error_set(ML_EDATA, "%s: the file has no tensor %" PRIu32 ", the model has %s %s",
                    path, i, mt->name, shape_str(ms, sizeof(ms), mt->ndim, mt->shape));
        return ml_error_set(ML_EDATA, "%s: tensor %" PRIu32 " is %s %s, the model has %s %s",
                path, i, (const char *)t, shape_str(fs, sizeof(fs), fndim, fshape),
                mt->name, shape_str(ms, sizeof(ms), mt->ndim, mt->shape));
    }
    uint64_t mh = ml_layout_hash(l);
    if (h->hash != mh)
        return ml_error_set(ML_EDATA, "%s: layout hash 0x%016" PRIx64 " differs from the model's 0x%016" PRIx64
                " although every tensor matches (offsets differ)", path, h->hash, mh);
    return 0;
}

int ml_checkpoint_load(const char *path, const ml_ckpt *expect,
        float *params, float *adam_m, float *adam_v, int64_t *step) {
    char *file = NULL;
    size_t len = 0;
    ckpt_header h;
    int error;
    ML_CHECK_ARG(path && expect && expect->layout && params,
            "checkpoint load: path, expect, expect->layout and params are required");
    ML_CHECK_ARG(expect->kind && (expect->nconfig == 0 || expect->config) && expect->nconfig >= 0,
            "%s: expect needs a kind and (nconfig) config fields", path);

    if ((error = ml_fs_read_all(&file, &len, path)) < 0) {
        if (error == ML_ENOTFOUND) ml_error_set(ML_ENOTFOUND, "%s: no such file", path);
        return error;
    }
    const unsigned char *b = (const unsigned char *)file;
    memset(&h, 0, sizeof(h));
    if ((error = check_envelope(&h, path, b, len)) < 0 ||
        (error = check_header(&h, path, b)) < 0)
        goto cleanup;
    if (strcmp(h.kind, expect->kind) != 0) {
        error = ml_error_set(ML_EDATA, "%s: model kind is \"%s\", expected \"%s\"", path, h.kind, expect->kind);
        goto cleanup;
    }
    if ((error = check_config(&h, path, expect)) < 0 ||
        (error = check_layout(&h, path, expect->layout)) < 0)
        goto cleanup;
    /* equal tables imply equal totals; a hand-built layout with gaps would not */
    if (h.nfloats != (uint64_t)expect->layout->total) {
        error = ml_error_set(ML_EDATA, "%s: holds %" PRIu64 " floats, the model has %zu",
                path, h.nfloats, expect->layout->total);
        goto cleanup;
    }
    if ((adam_m || adam_v) && !(h.sections & SEC_ADAM_M)) {
        error = ml_error_set(ML_EDATA, "%s: has no adam state", path);
        goto cleanup;
    }

    /* everything checked: from here on nothing can fail */
    size_t n = (size_t)h.nfloats;
    get_floats(params, h.data, n);
    if (adam_m) get_floats(adam_m, h.data + 4 * n, n);
    if (adam_v) get_floats(adam_v, h.data + 8 * n, n);
    if (step) *step = h.step;
cleanup:
    free(file);
    return error;
}
