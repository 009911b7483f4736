/*
 * tests/fuzz/fuzz_cache.c: libFuzzer target over a model cache entry as a
 * cell reads it (ml_cache_get): size, magic, counts, checksum. The counts
 * the reader expects are taken from the entry's own header (capped), so
 * inputs reach the checksum and the copy, not only the size check.
 * Seeds: real entries of a tiny run (tests/fuzz/corpus/cache/).
 */
#include "store/cache.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t counts[2] = { 0, 0 };
    if (size >= 24) memcpy(counts, data + 8, 16);
    size_t np = counts[0] <= 65536 ? (size_t)counts[0] : 7, nx = counts[1] <= 4096 ? (size_t)counts[1] : 3;
    float *params = malloc((np ? np : 1) * sizeof(float));
    double *extra = malloc((nx ? nx : 1) * sizeof(double));
    char note[600];
    int hit = 0;
    fuzz_file("k.bin", data, size);
    if (params && extra) (void)ml_cache_get(&hit, note, sizeof(note), fuzz_dir(), "k", params, np, extra, nx);
    free(params);
    free(extra);
    return 0;
}
