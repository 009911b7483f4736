/*
 * tests/fuzz/fuzz_idx.c: libFuzzer target over the IDX reader of the
 * Fashion-MNIST files (ml_idx_read), gzip or plain: magic, dimensions,
 * sizes against the bytes there, truncation. Seeds: small valid IDX files,
 * plain and gzip, images and labels (tests/fuzz/corpus/idx/).
 */
#include "data/fmnist.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *items = NULL;
    int dims[4], ndim = 0;
    ml_data_file rec;
    const char *path = fuzz_file("data-idx.gz", data, size);
    for (int want = 1; want <= 3; want += 2) {   /* labels (1 dim) and images (3 dims) */
        if (ml_idx_read(&items, dims, &ndim, &rec, path, want) == 0) free(items);
        items = NULL;
    }
    return 0;
}
