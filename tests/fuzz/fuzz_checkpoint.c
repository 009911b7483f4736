/*
 * tests/fuzz/fuzz_checkpoint.c: libFuzzer target over the checkpoint
 * reader (ml_checkpoint_load) against a small MLP's layout and config: the
 * header, kind, config fields, tensor table, hashes and the adam state.
 * Seeds: that model saved by ml_checkpoint_save, with and without adam
 * state (tests/fuzz/corpus/checkpoint/, written by tests/fuzz/seeds.sh).
 */
#include "kernels/checkpoint.h"
#include "kernels/mlp.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ml_mlp *m;
    static float *buf;
    ml_mlp_config cfg = { .in_dim = 6, .n_hidden = 1, .hidden = { 5 }, .out_dim = 3, .act = ML_ACT_RELU };
    ml_ckpt_field conf[3] = { { "in_dim", 6 }, { "hidden0", 5 }, { "out_dim", 3 } };
    int64_t step = 0;
    if (!m && (ml_mlp_new(&m, &cfg, 1) < 0 || !(buf = malloc(3 * m->layout.total * sizeof(float))))) abort();
    ml_ckpt expect = { "mlp", conf, 3, &m->layout, NULL, NULL, NULL, 0 };
    const char *path = fuzz_file("model.ckpt", data, size);
    float *p = buf, *am = buf + m->layout.total, *av = buf + 2 * m->layout.total;
    (void)ml_checkpoint_load(path, &expect, p, am, av, &step);
    (void)ml_checkpoint_load(path, &expect, p, NULL, NULL, &step);
    return 0;
}
