/*
 * tests/test_checkpoint.c: kernels/checkpoint.c, the checkpoint format.
 * Owns: the ml_tests_checkpoint table. Not here: the atomic write's own
 * failure modes (test_core.c), the layout table (test_core.c).
 * Every test runs inside with_fixture(), which builds a tiny "gpt" model
 * (3 config fields, 3 tensors, 50 floats, AdamW state) in a fresh mkdtemp
 * directory and frees and removes everything even when an assertion
 * returns early. Load destinations are poisoned with 0xA5 bytes first, so
 * "buffers untouched" is a byte comparison. Error messages are compared
 * whole: they are part of the contract (kernels/checkpoint.h).
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "core/fs.h"
#include "kernels/checkpoint.h"
#include "kernels/params.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#define MAXF 64         /* floats in the largest test layout */
#define POISON 0xA5
#define POISON_STEP (-12345)

static struct {
    char dir[256], path[320];
    ml_layout layout, other;        /* the model's; a second one a test builds */
    ml_ckpt_field config[3];
    float params[MAXF], m[MAXF], v[MAXF];
    ml_ckpt ck;                     /* the model: saves with adam state, step 42 */
    float op[MAXF], om[MAXF], ov[MAXF];
    int64_t ostep;
    char *file;                     /* bytes of g.path read by read_back() */
    size_t len;
} g;

static const int shape_wte[] = { 5, 4 }, shape_w[] = { 6, 4 }, shape_b[] = { 6 };

static int build_model_layout(ml_layout *l) {
    return (ml_layout_add(l, "wte", 2, shape_wte, 1) < 0 ||
            ml_layout_add(l, "blocks.0.attn.w", 2, shape_w, 1) < 0 ||
            ml_layout_add(l, "blocks.0.attn.b", 1, shape_b, 0) < 0) ? -1 : 0;
}

static void with_fixture(void (*body)(void)) {
    static const ml_ckpt_field config[3] = { { "n_layer", 6 }, { "n_head", 4 }, { "n_embd", 4 } };
    memset(&g, 0, sizeof(g));
    if (ml_t_tmpdir(g.dir, sizeof(g.dir), "ckpt") < 0 || build_model_layout(&g.layout) < 0) {
        fprintf(stderr, "    fixture setup failed\n");
        ml_test_failed_now = 1;
        ml_layout_free(&g.layout);
        return;
    }
    snprintf(g.path, sizeof(g.path), "%s/x.ckpt", g.dir);
    memcpy(g.config, config, sizeof(config));
    for (int i = 0; i < MAXF; i++) {
        g.params[i] = 0.25f * (float)i - 3.0f;
        g.m[i] = 1e-3f * (float)(i * i) - 0.5f;
        g.v[i] = 1.0f / (float)(i + 1);
    }
    g.ck = (ml_ckpt){ "gpt", g.config, 3, &g.layout, g.params, g.m, g.v, 42 };
    body();
    free(g.file);
    ml_layout_free(&g.layout);
    ml_layout_free(&g.other);
    ml_t_rmrf(g.dir);
}

static void poison(void) {
    memset(g.op, POISON, sizeof(g.op));
    memset(g.om, POISON, sizeof(g.om));
    memset(g.ov, POISON, sizeof(g.ov));
    g.ostep = POISON_STEP;
}

static int untouched(void) {
    const unsigned char *bufs[3] = { (void *)g.op, (void *)g.om, (void *)g.ov };
    for (int b = 0; b < 3; b++)
        for (size_t i = 0; i < sizeof(g.op); i++)
            if (bufs[b][i] != POISON) return 0;
    return g.ostep == POISON_STEP;
}

/* loads g.path as the fixture model, asking for everything */
static int load_all(void) {
    poison();
    return ml_checkpoint_load(g.path, &g.ck, g.op, g.om, g.ov, &g.ostep);
}

static int read_back(void) {
    free(g.file);
    g.file = NULL;
    return ml_fs_read_all(&g.file, &g.len, g.path);
}

/* writes len bytes of buf over g.path (not atomic on purpose: plain bytes) */
static int write_raw(const void *buf, size_t len) {
    FILE *f = fopen(g.path, "wb");
    if (!f) return -1;
    size_t n = len ? fwrite(buf, 1, len, f) : 0;
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

static void put_u32(unsigned char *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
}

/* rewrites the CRC trailer of g.file after a deliberate header edit */
static void fix_crc(void) {
    unsigned char *b = (unsigned char *)g.file;
    put_u32(b + g.len - 4, (uint32_t)crc32(0L, b, (uInt)(g.len - 4)));
}

/* the message must be exactly "<g.path>: <suffix>" */
#define ASSERT_MSG_IS(suffix) do { char want_[ML_ERROR_MSG_MAX]; \
        snprintf(want_, sizeof(want_), "%s: %s", g.path, (suffix)); \
        ML_ASSERT_MSG(!strcmp(ml_error_last()->message, want_), "message\n      \"%s\"\n    want\n      \"%s\"", \
                ml_error_last()->message, want_); } while (0)

/* load_all() fails with code and message "<g.path>: <suffix>", buffers untouched */
#define ASSERT_LOAD_FAILS(code, suffix) do { \
        ML_ASSERT_EQ_INT(code, load_all()); \
        ASSERT_MSG_IS(suffix); \
        ML_ASSERT_MSG(untouched(), "a failed load wrote into the caller's buffers"); } while (0)

/* ---- round trips ---------------------------------------------------------- */

static void body_round_trip_with_adam(void) {
    g.ck.step = 1234567890123LL;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, load_all());
    size_t n = g.layout.total * sizeof(float);
    ML_ASSERT_EQ_INT(50, g.layout.total);
    ML_ASSERT(!memcmp(g.op, g.params, n));
    ML_ASSERT(!memcmp(g.om, g.m, n));
    ML_ASSERT(!memcmp(g.ov, g.v, n));
    ML_ASSERT_EQ_INT(1234567890123LL, g.ostep);
    /* nothing past layout.total is written */
    for (size_t i = n; i < sizeof(g.op); i++) ML_ASSERT(((unsigned char *)g.op)[i] == POISON);
}

static void body_round_trip_params_only(void) {
    g.ck.adam_m = g.ck.adam_v = NULL;
    g.ck.step = 17;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    poison();
    ML_ASSERT_EQ_INT(0, ml_checkpoint_load(g.path, &g.ck, g.op, NULL, NULL, &g.ostep));
    ML_ASSERT(!memcmp(g.op, g.params, g.layout.total * sizeof(float)));
    ML_ASSERT_EQ_INT(17, g.ostep);
    ML_ASSERT(read_back() == 0);
    ML_ASSERT_EQ_INT(64 + 3 * 32 + 3 * 68 + 50 * 4 + 4, g.len);   /* one section only */
}

/* weights for merging: a file with adam state, loaded without it */
static void body_adam_file_loads_params_only(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    poison();
    ML_ASSERT_EQ_INT(0, ml_checkpoint_load(g.path, &g.ck, g.op, NULL, NULL, NULL));
    ML_ASSERT(!memcmp(g.op, g.params, g.layout.total * sizeof(float)));
    ML_ASSERT_EQ_INT(POISON_STEP, g.ostep);
}

static void body_no_adam_state(void) {
    g.ck.adam_m = g.ck.adam_v = NULL;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ASSERT_LOAD_FAILS(ML_EDATA, "has no adam state");
    poison();   /* asking for m alone is asking for adam state too */
    ML_ASSERT_EQ_INT(ML_EDATA, ml_checkpoint_load(g.path, &g.ck, g.op, g.om, NULL, &g.ostep));
    ML_ASSERT(untouched());
}

/* NaN (quiet, signalling, negative, with payloads), infinities, -0 and
 * denormals are data: their bit patterns come back unchanged. */
static void body_nan_inf_bit_exact(void) {
    static const uint32_t bits[] = { 0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fbfffffu, 0x7fc12345u,
        0xff812345u, 0x7f800000u, 0xff800000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x7f7fffffu };
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        memcpy(&g.params[i], &bits[i], 4);
        memcpy(&g.m[49 - i], &bits[i], 4);
        memcpy(&g.v[20 + i], &bits[i], 4);
    }
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, load_all());
    size_t n = g.layout.total * sizeof(float);
    ML_ASSERT(!memcmp(g.op, g.params, n));
    ML_ASSERT(!memcmp(g.om, g.m, n));
    ML_ASSERT(!memcmp(g.ov, g.v, n));
}

/* ---- the byte layout of docs/checkpoint.md -------------------------------- */

/* A one-tensor "mlp" with one config field, every byte spelled out in the
 * order of the documented table: reordering or resizing any field fails. */
static void body_exact_bytes(void) {
    const int shape[] = { 2 };
    const ml_ckpt_field cfg[] = { { "n", 3 } };
    const float p[] = { 1.0f, -2.0f };
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "w", 1, shape, 0));
    ml_ckpt c = { "mlp", cfg, 1, &g.other, p, NULL, NULL, 5 };
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ML_ASSERT_EQ_INT(0, read_back());
    ML_ASSERT_EQ_INT(64 + 32 + 68 + 8 + 4, g.len);

    unsigned char want[176] = { 0 }, *w = want;
    uint64_t hash = ml_layout_hash(&g.other);
    memcpy(w, "MLCKPT\r\n", 8);                    /*   0 magic              */
    w[8] = 1;                                       /*   8 version u32 = 1    */
    w[12] = 1;                                      /*  12 sections = params  */
    memcpy(w + 16, "mlp", 3);                       /*  16 kind[16]           */
    w[32] = 5;                                      /*  32 step i64           */
    for (int i = 0; i < 8; i++) w[40 + i] = (unsigned char)(hash >> (8 * i));  /* 40 layout hash */
    w[48] = 2;                                      /*  48 nfloats u64        */
    w[56] = 1;                                      /*  56 nconfig u32        */
    w[60] = 1;                                      /*  60 ntensors u32       */
    w[64] = 'n';                                    /*  64 config[0].name[24] */
    w[88] = 3;                                      /*  88 config[0].value    */
    w[96] = 'w';                                    /*  96 tensor[0].name[48] */
    w[144] = 1;                                     /* 144 tensor[0].ndim     */
    w[148] = 2;                                     /* 148 tensor[0].shape[4] */
    memcpy(w + 164, "\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);   /* 164 data: 1.0f, -2.0f */
    put_u32(w + 172, (uint32_t)crc32(0L, want, 172));          /* 172 CRC-32 of 0..171 */

    for (size_t i = 0; i < sizeof(want); i++)
        ML_ASSERT_MSG((unsigned char)g.file[i] == want[i], "byte %zu is 0x%02x, docs say 0x%02x",
                i, (unsigned char)g.file[i], want[i]);
}

/* ---- compatibility -------------------------------------------------------- */

static void body_config_value_differs(void) {
    ml_ckpt_field cfg[3];
    memcpy(cfg, g.config, sizeof(cfg));
    cfg[0].value = 4;
    ml_ckpt c = g.ck;
    c.config = cfg;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ASSERT_LOAD_FAILS(ML_EDATA, "config n_layer is 4, the model has 6");
}

/* every difference is listed, not just the first */
static void body_config_all_differences(void) {
    ml_ckpt_field cfg[3] = { { "n_layer", 4 }, { "n_head", 2 }, { "dropout_x", 1 } };
    ml_ckpt c = g.ck;
    c.config = cfg;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ASSERT_LOAD_FAILS(ML_EDATA, "config n_layer is 4, the model has 6; config n_head is 2, the model has 4; "
            "config n_embd is missing from the file; config dropout_x is in the file but not in the model");
}

/* the same fields in another order are the same config */
static void body_config_order_free(void) {
    ml_ckpt_field cfg[3] = { g.config[2], g.config[0], g.config[1] };
    ml_ckpt c = g.ck;
    c.config = cfg;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ML_ASSERT_EQ_INT(0, load_all());
}

static void body_kind_differs(void) {
    ml_ckpt c = g.ck;
    c.kind = "mlp";
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ASSERT_LOAD_FAILS(ML_EDATA, "model kind is \"mlp\", expected \"gpt\"");
}

/* same name, same numel, other shape: only the table can tell */
static void body_tensor_shape_differs(void) {
    const int w2[] = { 3, 8 };
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "wte", 2, shape_wte, 1));
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "blocks.0.attn.w", 2, w2, 1));
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "blocks.0.attn.b", 1, shape_b, 0));
    ml_ckpt c = g.ck;
    c.layout = &g.other;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ASSERT_LOAD_FAILS(ML_EDATA, "tensor 1 is blocks.0.attn.w (3,8), the model has blocks.0.attn.w (6,4)");
}

static void body_tensor_name_differs(void) {
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "wte", 2, shape_wte, 1));
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "blocks.0.attn.w", 2, shape_w, 1));
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "blocks.0.attn.bias", 1, shape_b, 0));
    ml_ckpt c = g.ck;
    c.layout = &g.other;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ASSERT_LOAD_FAILS(ML_EDATA, "tensor 2 is blocks.0.attn.bias (6), the model has blocks.0.attn.b (6)");
}

static void body_tensor_count_differs(void) {
    const int lm[] = { 5 };
    ML_ASSERT_EQ_INT(0, build_model_layout(&g.other));
    ML_ASSERT_EQ_INT(0, ml_layout_add(&g.other, "lm_head.b", 1, lm, 0));
    ml_ckpt c = g.ck;
    c.layout = &g.other;                       /* the file has one tensor more */
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &c));
    ASSERT_LOAD_FAILS(ML_EDATA, "tensor 3 is lm_head.b (5), the model has no tensor 3");
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));   /* the model has one more */
    poison();
    c.config = g.config;
    ML_ASSERT_EQ_INT(ML_EDATA, ml_checkpoint_load(g.path, &c, g.op, g.om, g.ov, &g.ostep));
    ASSERT_MSG_IS("the file has no tensor 3, the model has lm_head.b (5)");
    ML_ASSERT(untouched());
}

/* same names and shapes, other offsets (a hand-built layout): the hash tells */
static void body_layout_hash_differs(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, build_model_layout(&g.other));
    g.other.tensors[1].offset += 2;
    g.other.tensors[2].offset += 2;
    ml_ckpt c = g.ck;
    c.layout = &g.other;
    poison();
    ML_ASSERT_EQ_INT(ML_EDATA, ml_checkpoint_load(g.path, &c, g.op, g.om, g.ov, &g.ostep));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "differs from the model's");
    ML_ASSERT_STR_HAS(ml_error_last()->message, "although every tensor matches");
    ML_ASSERT(untouched());
}

/* ---- damaged files -------------------------------------------------------- */

/* one flipped byte in the kind, step, hash, config, tensor table, data or
 * the CRC itself: only the CRC can notice */
static void body_flip_any_byte_crc(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, read_back());
    for (size_t i = 16; i < g.len; i++) {
        if (i >= 48 && i < 64) continue;   /* the counts: those make it "truncated" (next test) */
        g.file[i] ^= (char)0xFF;
        int wr = write_raw(g.file, g.len);
        g.file[i] ^= (char)0xFF;
        ML_ASSERT(wr == 0);
        int rc = load_all();
        ML_ASSERT_MSG(rc == ML_EDATA && untouched() &&
                strstr(ml_error_last()->message, ": CRC mismatch: file is corrupt"),
                "byte %zu flipped: rc %d, \"%s\"", i, rc, ml_error_last()->message);
    }
    ASSERT_MSG_IS("CRC mismatch: file is corrupt");
}

/* every byte, every bit pattern flip: always a clean ML_EDATA */
static void body_flip_any_byte_never_loads(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, read_back());
    for (size_t i = 0; i < g.len; i++) {
        static const unsigned char masks[] = { 0x01, 0x80, 0xFF };
        for (int k = 0; k < 3; k++) {
            g.file[i] ^= (char)masks[k];
            int wr = write_raw(g.file, g.len);
            g.file[i] ^= (char)masks[k];
            ML_ASSERT(wr == 0);
            int rc = load_all();
            ML_ASSERT_MSG(rc == ML_EDATA && untouched(), "byte %zu ^ 0x%02x: rc %d, \"%s\"",
                    i, masks[k], rc, ml_error_last()->message);
        }
    }
}

static void body_truncated(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, read_back());
    size_t header = 64 + 3 * 32 + 3 * 68;
    ML_ASSERT_EQ_INT(header + 3 * 50 * 4 + 4, g.len);
    const size_t cuts[] = { 0, 1, 7, 8, 11, 12, 40, 63, 64, 64 + 40, 64 + 96 + 100, header - 1,
        header, header + 1, header + 301, g.len - 5, g.len - 4, g.len - 1 };
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        ML_ASSERT(write_raw(g.file, cuts[k]) == 0);
        int rc = load_all();
        ML_ASSERT_MSG(rc == ML_EDATA && untouched() && strstr(ml_error_last()->message, ": truncated ("),
                "cut at %zu: rc %d, \"%s\"", cuts[k], rc, ml_error_last()->message);
    }
    ML_ASSERT(write_raw(g.file, 0) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "truncated (0 bytes; the fixed header needs 64)");
    ML_ASSERT(write_raw(g.file, 7) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "truncated (7 bytes; the fixed header needs 64)");
    ML_ASSERT(write_raw(g.file, 100) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "truncated (100 bytes; the header with 3 config fields and 3 tensors needs 364)");
    ML_ASSERT(write_raw(g.file, g.len - 1) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "truncated (967 bytes; the header, 3 section(s) of 50 floats and the CRC need 968)");
}

static void body_trailing_bytes(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, read_back());
    char *longer = realloc(g.file, g.len + 1);
    ML_ASSERT(longer);
    g.file = longer;
    g.file[g.len] = '\n';
    ML_ASSERT(write_raw(g.file, g.len + 1) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "size is 969 bytes, the header describes 968 (trailing bytes)");
}

static void body_bad_magic(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, read_back());
    g.file[0] = 'X';
    ML_ASSERT(write_raw(g.file, g.len) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "not a mergelab checkpoint (bad magic)");
    /* a text-mode copy that turned \r\n into \n */
    g.file[0] = 'M';
    memmove(g.file + 6, g.file + 7, g.len - 7);
    ML_ASSERT(write_raw(g.file, g.len - 1) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "not a mergelab checkpoint (bad magic)");
    ML_ASSERT(write_raw("{\"json\": 1}\n", 12) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "not a mergelab checkpoint (bad magic)");
    ML_ASSERT(write_raw("ML", 2) == 0);      /* short, but what is there is wrong */
    ML_ASSERT_EQ_INT(ML_EDATA, load_all());
    ML_ASSERT(write_raw("MX", 2) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "not a mergelab checkpoint (bad magic)");
}

/* the version is checked before the CRC: a newer file must say so */
static void body_future_version(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, read_back());
    put_u32((unsigned char *)g.file + 8, 7);
    ML_ASSERT(write_raw(g.file, g.len) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "format version 7 is not supported (this build reads 1)");
    ML_ASSERT(write_raw(g.file, 20) == 0);    /* even when short */
    ASSERT_LOAD_FAILS(ML_EDATA, "format version 7 is not supported (this build reads 1)");
}

/* a writer bug (bad content under a valid CRC) is reported, not trusted */
static void body_corrupt_header_valid_crc(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(0, read_back());
    unsigned char *b = (unsigned char *)g.file;
    size_t t1 = 64 + 3 * 32 + 68;                  /* tensor 1 */
    put_u32(b + t1 + 48, 5);                       /* ndim 5 */
    fix_crc();
    ML_ASSERT(write_raw(g.file, g.len) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "corrupt header: tensor 1 has a bad name or ndim");
    put_u32(b + t1 + 48, 2);
    put_u32(b + t1 + 52, 7);                       /* (7,4): 54 floats in all, header says 50 */
    fix_crc();
    ML_ASSERT(write_raw(g.file, g.len) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "corrupt header: its tensors hold 54 floats, it says 50");
    put_u32(b + t1 + 52, 6);
    memset(b + 16, 'k', 16);                       /* kind without a NUL */
    fix_crc();
    ML_ASSERT(write_raw(g.file, g.len) == 0);
    ASSERT_LOAD_FAILS(ML_EDATA, "corrupt header: model kind is not a 1..15 character string");
}

static void body_missing_file(void) {
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, load_all());
    ASSERT_MSG_IS("no such file");
    ML_ASSERT(untouched());
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void body_save_replaces_atomically(void) {
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    for (int i = 0; i < MAXF; i++) g.params[i] = -g.params[i];
    g.ck.adam_m = g.ck.adam_v = NULL;
    g.ck.step = 43;
    ML_ASSERT_EQ_INT(0, ml_checkpoint_save(g.path, &g.ck));
    ML_ASSERT_EQ_INT(1, dir_entries(g.dir));      /* x.ckpt, no x.ckpt.tmp.* */
    ML_ASSERT_EQ_INT(0, ml_checkpoint_load(g.path, &g.ck, g.op, NULL, NULL, &g.ostep));
    ML_ASSERT(!memcmp(g.op, g.params, g.layout.total * sizeof(float)));
    ML_ASSERT_EQ_INT(43, g.ostep);
    /* a failed save leaves the old file alone */
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/no/such/dir.ckpt", g.dir);
    ML_ASSERT_EQ_INT(ML_EOS, ml_checkpoint_save(bad, &g.ck));
    ML_ASSERT_EQ_INT(1, dir_entries(g.dir));
}

static void body_save_rejects_bad_args(void) {
    ml_ckpt c = g.ck;
    c.kind = "a_kind_too_long_";
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_checkpoint_save(g.path, &c));
    c.kind = "";
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_checkpoint_save(g.path, &c));
    c = g.ck;
    c.adam_v = NULL;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_checkpoint_save(g.path, &c));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "adam_m and adam_v go together");
    c = g.ck;
    c.step = -1;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_checkpoint_save(g.path, &c));
    ml_ckpt_field dup[2] = { { "n_layer", 1 }, { "n_layer", 2 } };
    c = g.ck;
    c.config = dup;
    c.nconfig = 2;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_checkpoint_save(g.path, &c));
    ASSERT_MSG_IS("config field n_layer appears twice");
    c = g.ck;
    c.layout = &g.other;                           /* empty */
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_checkpoint_save(g.path, &c));
    ML_ASSERT_EQ_INT(0, dir_entries(g.dir));      /* nothing was written */
}

static void test_checkpoint__round_trip_with_adam(void) { with_fixture(body_round_trip_with_adam); }
static void test_checkpoint__round_trip_params_only(void) { with_fixture(body_round_trip_params_only); }
static void test_checkpoint__adam_file_loads_params_only(void) { with_fixture(body_adam_file_loads_params_only); }
static void test_checkpoint__no_adam_state(void) { with_fixture(body_no_adam_state); }
static void test_checkpoint__nan_inf_bit_exact(void) { with_fixture(body_nan_inf_bit_exact); }
static void test_checkpoint__exact_bytes(void) { with_fixture(body_exact_bytes); }
static void test_checkpoint__config_value_differs(void) { with_fixture(body_config_value_differs); }
static void test_checkpoint__config_all_differences(void) { with_fixture(body_config_all_differences); }
static void test_checkpoint__config_order_free(void) { with_fixture(body_config_order_free); }
static void test_checkpoint__kind_differs(void) { with_fixture(body_kind_differs); }
static void test_checkpoint__tensor_shape_differs(void) { with_fixture(body_tensor_shape_differs); }
static void test_checkpoint__tensor_name_differs(void) { with_fixture(body_tensor_name_differs); }
static void test_checkpoint__tensor_count_differs(void) { with_fixture(body_tensor_count_differs); }
static void test_checkpoint__layout_hash_differs(void) { with_fixture(body_layout_hash_differs); }
static void test_checkpoint__flip_any_byte_crc(void) { with_fixture(body_flip_any_byte_crc); }
static void test_checkpoint__flip_any_byte_never_loads(void) { with_fixture(body_flip_any_byte_never_loads); }
static void test_checkpoint__truncated(void) { with_fixture(body_truncated); }
static void test_checkpoint__trailing_bytes(void) { with_fixture(body_trailing_bytes); }
static void test_checkpoint__bad_magic(void) { with_fixture(body_bad_magic); }
static void test_checkpoint__future_version(void) { with_fixture(body_future_version); }
static void test_checkpoint__corrupt_header_valid_crc(void) { with_fixture(body_corrupt_header_valid_crc); }
static void test_checkpoint__missing_file(void) { with_fixture(body_missing_file); }
static void test_checkpoint__save_replaces_atomically(void) { with_fixture(body_save_replaces_atomically); }
static void test_checkpoint__save_rejects_bad_args(void) { with_fixture(body_save_rejects_bad_args); }

const ml_test ml_tests_checkpoint[] = {
    { "checkpoint__round_trip_with_adam",        test_checkpoint__round_trip_with_adam,        "unit" },
    { "checkpoint__round_trip_params_only",      test_checkpoint__round_trip_params_only,      "unit" },
    { "checkpoint__adam_file_loads_params_only", test_checkpoint__adam_file_loads_params_only, "unit" },
    { "checkpoint__no_adam_state",               test_checkpoint__no_adam_state,               "unit" },
    { "checkpoint__nan_inf_bit_exact",           test_checkpoint__nan_inf_bit_exact,           "unit" },
    { "checkpoint__exact_bytes",                 test_checkpoint__exact_bytes,                 "unit" },
    { "checkpoint__config_value_differs",        test_checkpoint__config_value_differs,        "unit" },
    { "checkpoint__config_all_differences",      test_checkpoint__config_all_differences,      "unit" },
    { "checkpoint__config_order_free",           test_checkpoint__config_order_free,           "unit" },
    { "checkpoint__kind_differs",                test_checkpoint__kind_differs,                "unit" },
    { "checkpoint__tensor_shape_differs",        test_checkpoint__tensor_shape_differs,        "unit" },
    { "checkpoint__tensor_name_differs",         test_checkpoint__tensor_name_differs,         "unit" },
    { "checkpoint__tensor_count_differs",        test_checkpoint__tensor_count_differs,        "unit" },
    { "checkpoint__layout_hash_differs",         test_checkpoint__layout_hash_differs,         "unit" },
    { "checkpoint__flip_any_byte_crc",           test_checkpoint__flip_any_byte_crc,           "unit" },
    { "checkpoint__flip_any_byte_never_loads",   test_checkpoint__flip_any_byte_never_loads,   "unit" },
    { "checkpoint__truncated",                   test_checkpoint__truncated,                   "unit" },
    { "checkpoint__trailing_bytes",              test_checkpoint__trailing_bytes,              "unit" },
    { "checkpoint__bad_magic",                   test_checkpoint__bad_magic,                   "unit" },
    { "checkpoint__future_version",              test_checkpoint__future_version,              "unit" },
    { "checkpoint__corrupt_header_valid_crc",    test_checkpoint__corrupt_header_valid_crc,    "unit" },
    { "checkpoint__missing_file",                test_checkpoint__missing_file,                "unit" },
    { "checkpoint__save_replaces_atomically",    test_checkpoint__save_replaces_atomically,    "unit" },
    { "checkpoint__save_rejects_bad_args",       test_checkpoint__save_rejects_bad_args,       "unit" },
    { 0 }
};
