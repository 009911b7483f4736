/*
 * tests/test_data.c: the IDX reader and the Fashion-MNIST loader, on the
 * Debian package's files and on small broken files made here with zlib.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "data/fmnist.h"

#include <stdlib.h>
#include <zlib.h>

/* SHA-256 of the files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1. */
static const char *const T10K_IMAGES = "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa";
static const char *const T10K_LABELS = "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05";

static void test_data__fmnist_test_split(void) {
    ml_dataset d;
    ML_ASSERT_EQ_INT(0, ml_fmnist_load(&d, ML_FMNIST_DIR, 0));
    int n = d.n, dim = d.dim, counts[10] = { 0 };
    for (int i = 0; i < n; i++) counts[d.y[i]]++;
    double mean = 0.0;
    for (long i = 0; i < (long)n * dim; i++) mean += d.x[i];
    mean /= (double)n * dim;
    int hashes_ok = !strcmp(d.files[0].sha256, T10K_IMAGES) && !strcmp(d.files[1].sha256, T10K_LABELS);
    ml_dataset_free(&d);
    ML_ASSERT_EQ_INT(10000, n);
    ML_ASSERT_EQ_INT(784, dim);
    for (int k = 0; k < 10; k++) ML_ASSERT_EQ_INT(1000, counts[k]);   /* the test split is balanced */
    ML_ASSERT_NEAR(0.0, mean, 0.02, 0);                                /* standardised with train stats */
    ML_ASSERT(hashes_ok);
}

static int write_gz(const char *path, const unsigned char *buf, size_t len) {
    gzFile f = gzopen(path, "wb");
    if (!f) return -1;
    int ok = gzwrite(f, buf, (unsigned)len) == (int)len;
    return gzclose(f) == Z_OK && ok ? 0 : -1;
}

static void test_data__idx_bad_magic(void) {
    char dir[256], path[512];
    unsigned char buf[] = { 0, 0, 0x0d, 1, 0, 0, 0, 2, 7, 7 };   /* 0x0d = float, not ubyte */
    uint8_t *data = NULL;
    int dims[3], nd;
    ml_data_file rec;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "idx"));
    snprintf(path, sizeof(path), "%s/x.gz", dir);
    ML_ASSERT_EQ_INT(0, write_gz(path, buf, sizeof(buf)));
    int rc = ml_idx_read(&data, dims, &nd, &rec, path, 1);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(ML_EDATA, rc);
    ML_ASSERT(data == NULL);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "bad IDX magic 00000d01 (expected 00000801");
}

static void test_data__idx_truncated_and_trailing(void) {
    char dir[256], path[512];
    unsigned char shortbuf[] = { 0, 0, 8, 1, 0, 0, 0, 5, 1, 2 };       /* says 5 labels, has 2 */
    unsigned char longbuf[] = { 0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3 };     /* says 2 labels, has 3 */
    uint8_t *data = NULL;
    int dims[3], nd, rc1, rc2;
    ml_data_file rec;
    char msg1[ML_ERROR_MSG_MAX];
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "idx"));
    snprintf(path, sizeof(path), "%s/short.gz", dir);
    write_gz(path, shortbuf, sizeof(shortbuf));
    rc1 = ml_idx_read(&data, dims, &nd, &rec, path, 1);
    snprintf(msg1, sizeof(msg1), "%s", ml_error_last()->message);
    snprintf(path, sizeof(path), "%s/long.gz", dir);
    write_gz(path, longbuf, sizeof(longbuf));
    rc2 = ml_idx_read(&data, dims, &nd, &rec, path, 1);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(ML_EDATA, rc1);
    ML_ASSERT_STR_HAS(msg1, "truncated: the data needs 5 bytes, file ends after 2");
    ML_ASSERT_EQ_INT(ML_EDATA, rc2);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "trailing bytes after 2 items");
}

static void test_data__idx_ok_small(void) {
    char dir[256], path[512];
    unsigned char buf[] = { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 9, 8, 7, 6, 5, 4 };
    uint8_t *data = NULL;
    int dims[3], nd;
    ml_data_file rec;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "idx"));
    snprintf(path, sizeof(path), "%s/ok.gz", dir);
    write_gz(path, buf, sizeof(buf));
    int rc = ml_idx_read(&data, dims, &nd, &rec, path, 3);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_EQ_INT(3, nd);
    ML_ASSERT(dims[0] == 2 && dims[1] == 1 && dims[2] == 3);
    ML_ASSERT(data[0] == 9 && data[5] == 4);
    ML_ASSERT_EQ_INT(64, (long long)strlen(rec.sha256));
    free(data);
}

static void test_data__missing_dir(void) {
    ml_dataset d;
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_fmnist_load(&d, "/nonexistent-ml", 1));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "/nonexistent-ml/train-images-idx3-ubyte.gz: No such file");
}

const ml_test ml_tests_data[] = {
    { "data__fmnist_test_split", test_data__fmnist_test_split, "unit" },
    { "data__idx_bad_magic", test_data__idx_bad_magic, "unit" },
    { "data__idx_truncated_and_trailing", test_data__idx_truncated_and_trailing, "unit" },
    { "data__idx_ok_small", test_data__idx_ok_small, "unit" },
    { "data__missing_dir", test_data__missing_dir, "unit" },
    { 0 }
};
