/*
 * data/fmnist.h: Fashion-MNIST from Debian's dataset-fashion-mnist package.
 * Owns: reading gzip'd IDX files with zlib, validating magic numbers and
 * sizes, turning pixels into standardised floats, hashing every file read.
 * Not here: class splits and batching (the harness does those).
 */
#ifndef ML_DATA_FMNIST_H
#define ML_DATA_FMNIST_H

#include <stdint.h>
#include <stddef.h>

#define ML_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define ML_FMNIST_CLASSES 10

typedef struct {
    char   path[512];
    char   sha256[65];   /* of the file as stored (compressed) */
    size_t bytes;
} ml_data_file;

typedef struct {
    int      n;          /* examples */
    int      dim;        /* features = rows * cols */
    float   *x;          /* (n, dim) standardised pixels */
    uint8_t *y;          /* (n) labels 0..9 */
    ml_data_file files[2];   /* images, labels */
} ml_dataset;

/* Loads the train (60000) or test (10000) split from dir. Errors name the
 * file: ML_ENOTFOUND when missing, ML_EDATA on a bad magic number, a size
 * that disagrees with the header, a truncated stream or a label > 9. */
int ml_fmnist_load(ml_dataset *out, const char *dir, int train);
void ml_dataset_free(ml_dataset *d);   /* NULL-safe */

/* Reads an IDX file (gzip or plain). Exposed for tests. On success
 * *data (nitems * item_bytes) is the caller's to free(); dims[0] = items. */
int ml_idx_read(uint8_t **data, int *dims, int *ndim, ml_data_file *rec,
                const char *path, int want_ndim);

#endif
