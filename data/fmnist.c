/*
 * data/fmnist.c: IDX reader (through zlib's gzread, which also reads plain
 * files) and the Fashion-MNIST loader. IDX is big-endian:
 * magic = 0x00000800 | ndim (uint8 data), then ndim uint32 sizes, then data.
 */
#include "data/fmnist.h"
#include "core/error.h"
#include "core/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Mean and standard deviation of Fashion-MNIST training pixels / 255. */
#define FMNIST_MEAN 0.2860f
#define FMNIST_STD  0.3530f

/* Fashion-MNIST's largest file holds 47 MB of pixels */
#define ML_IDX_MAX_BYTES ((size_t)1 << 30)

static int read_exact(gzFile f, void *buf, size_t len, const char *path, const char *what) {
    size_t got = 0;
    while (got < len) {
        unsigned chunk = len - got > (1u << 30) ? (1u << 30) : (unsigned)(len - got);
        int n = gzread(f, (char *)buf + got, chunk);
        if (n < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            return ml_error_set(ML_EDATA, "%s: corrupt gzip stream while reading %s: %s", path, what, msg);
        }
        if (n == 0)
            return ml_error_set(ML_EDATA, "%s: truncated: %s needs %zu bytes, file ends after %zu",
                                path, what, len, got);
        got += (size_t)n;
    }
    return 0;
}

int ml_idx_read(uint8_t **data, int *dims, int *ndim, ml_data_file *rec, const char *path, int want_ndim) {
    gzFile f = NULL;
    uint8_t hdr[4], *buf = NULL, extra;
    size_t items = 1;
    struct stat st;
    int error = 0;
    *data = NULL;
    if (stat(path, &st) < 0)
        return ml_error_set(errno == ENOENT ? ML_ENOTFOUND : ML_EOS, "%s: %s", path, strerror(errno));
    if ((error = ml_sha256_file(rec->sha256, path)) < 0) return error;
    snprintf(rec->path, sizeof(rec->path), "%s", path);
    rec->bytes = (size_t)st.st_size;
    f = gzopen(path, "rb");
    if (!f) return ml_error_set(ML_EOS, "%s: cannot open: %s", path, strerror(errno));
    if ((error = read_exact(f, hdr, 4, path, "the magic number")) < 0) goto cleanup;
    if (hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 || hdr[3] != want_ndim) {
        error = ml_error_set(ML_EDATA, "%s: bad IDX magic %02x%02x%02x%02x (expected 000008%02x: unsigned bytes, %d dims)",
                             path, hdr[0], hdr[1], hdr[2], hdr[3], want_ndim, want_ndim);
        goto cleanup;
    }
    *ndim = hdr[3];
    for (int d = 0; d < *ndim; d++) {
        uint8_t b[4];
        if ((error = read_exact(f, b, 4, path, "the dimension sizes")) < 0) goto cleanup;
        uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (v == 0 || v > (1u << 24)) {
            error = ml_error_set(ML_EDATA, "%s: dimension %d has implausible size %u", path, d, v);
            goto cleanup;
        }
        dims[d] = (int)v;
        items *= v;
    }
    if (items > ML_IDX_MAX_BYTES) {
        error = ml_error_set(ML_EDATA, "%s: the header declares %zu bytes of items, more than the %zu an IDX file may "
                             "hold here", path, items, (size_t)ML_IDX_MAX_BYTES);
        goto cleanup;
    }
    /* the buffer grows with the bytes really there: a header that lies about
     * the size costs what the file holds, not what it claims */
    for (size_t got = 0, cap = 0; got < items;) {
        size_t want = items - got < (1u << 20) ? items - got : (1u << 20);
        if (got + want > cap) {
            size_t ncap = cap ? cap * 2 : (1u << 20);
            if (ncap > items) ncap = items;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) { error = ml_error_set(ML_ENOMEM, "%s: out of memory reading %zu bytes", path, ncap); goto cleanup; }
            buf = nb;
            cap = ncap;
        }
        if ((error = read_exact(f, buf + got, want, path, "the data")) < 0) goto cleanup;
        got += want;
    }
    if (gzread(f, &extra, 1) != 0) {
        error = ml_error_set(ML_EDATA, "%s: trailing bytes after %zu items declared by the header", path, items);
        goto cleanup;
    }
    *data = buf;
    buf = NULL;
cleanup:
    free(buf);
    if (f) gzclose(f);
    return error;
}

int ml_fmnist_load(ml_dataset *out, const char *dir, int train) {
    char ipath[512], lpath[512];
    uint8_t *img = NULL, *lab = NULL;
    int idims[3], ldims[1], ind, lnd, error;
    memset(out, 0, sizeof(*out));
    snprintf(ipath, sizeof(ipath), "%s/%s-images-idx3-ubyte.gz", dir, train ? "train" : "t10k");
    snprintf(lpath, sizeof(lpath), "%s/%s-labels-idx1-ubyte.gz", dir, train ? "train" : "t10k");
    if ((error = ml_idx_read(&img, idims, &ind, &out->files[0], ipath, 3)) < 0 ||
        (error = ml_idx_read(&lab, ldims, &lnd, &out->files[1], lpath, 1)) < 0)
        goto cleanup;
    if (idims[0] != ldims[0]) {
        error = ml_error_set(ML_EDATA, "%s: %d images but %s has %d labels", ipath, idims[0], lpath, ldims[0]);
        goto cleanup;
    }
    if (idims[1] != 28 || idims[2] != 28) {
        error = ml_error_set(ML_EDATA, "%s: images are %dx%d, expected 28x28", ipath, idims[1], idims[2]);
        goto cleanup;
    }
    int want = train ? 60000 : 10000;
    if (idims[0] != want) {
        error = ml_error_set(ML_EDATA, "%s: %d images, expected %d", ipath, idims[0], want);
        goto cleanup;
    }
    for (int i = 0; i < ldims[0]; i++)
        if (lab[i] >= ML_FMNIST_CLASSES) {
            error = ml_error_set(ML_EDATA, "%s: label %d of item %d is out of range 0..9", lpath, lab[i], i);
            goto cleanup;
        }
    out->n = idims[0];
    out->dim = idims[1] * idims[2];
    if ((error = ml_aligned_alloc((void **)&out->x, (size_t)out->n * out->dim * sizeof(float))) < 0) goto cleanup;
    for (long i = 0; i < (long)out->n * out->dim; i++)
        out->x[i] = ((float)img[i] / 255.0f - FMNIST_MEAN) / FMNIST_STD;
    out->y = lab;
    lab = NULL;
cleanup:
    free(img);
    free(lab);
    if (error < 0) ml_dataset_free(out);
    return error;
}

void ml_dataset_free(ml_dataset *d) {
    if (!d) return;
    free(d->x);
    free(d->y);
    d->x = NULL;
    d->y = NULL;
    d->n = 0;
}
