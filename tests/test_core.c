/*
 * tests/test_core.c: core/ (errors, atomic files, SHA-256) and the flat
 * parameter layout of kernels/params.c.
 * Owns: the ml_tests_core table. Not here: kernels' numerics (test_kernels.c).
 * File tests run inside a fresh mkdtemp directory under /tmp that
 * with_tmpdir() removes even when an assertion returns early. The tests run
 * as root, so failures are provoked with paths that no permission bit can
 * rescue (a missing directory, a regular file used as a directory) rather
 * than with chmod.
 */
#include "tests/test.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"
#include "kernels/params.h"

#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- SHA-256 ------------------------------------------------------------ */

/* FIPS 180-2 test vectors (appendix B.1, B.2, B.3) */
#define SHA_EMPTY   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define MSG_448     "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

static void test_core__sha256_fips_vectors(void) {
    char hex[65];
    ML_ASSERT_EQ_INT(56, strlen(MSG_448));      /* 448 bits */
    ml_sha256_hex(hex, "", 0);
    ML_ASSERT_MSG(!strcmp(hex, SHA_EMPTY), "sha256(\"\") = %s", hex);
    ml_sha256_hex(hex, "abc", 3);
    ML_ASSERT_MSG(!strcmp(hex, SHA_ABC), "sha256(\"abc\") = %s", hex);
    ml_sha256_hex(hex, MSG_448, 56);
    ML_ASSERT_MSG(!strcmp(hex, SHA_448), "sha256(448-bit) = %s", hex);
}

/* One million 'a' fed in chunks of 1, 7, 63, 64, 65, 1000, 4093, ... bytes,
 * so blocks are filled across calls at every offset. */
static void test_core__sha256_million_a_streamed(void) {
    static const size_t chunks[] = { 1, 7, 63, 64, 65, 1000, 4093, 3, 129, 55, 56, 9999 };
    static char a[10000];
    ml_sha256 s;
    uint8_t d[32];
    char hex[65];
    size_t done = 0, c = 0;
    memset(a, 'a', sizeof(a));
    ml_sha256_init(&s);
    while (done < 1000000) {
        size_t take = chunks[c++ % (sizeof(chunks) / sizeof(chunks[0]))];
        if (take > 1000000 - done) take = 1000000 - done;
        ml_sha256_update(&s, a, take);
        done += take;
    }
    ml_sha256_final(&s, d);
    ml_sha256_to_hex(hex, d);
    ML_ASSERT_MSG(!strcmp(hex, SHA_MILLION), "sha256(10^6 'a') = %s", hex);
}

/* Lengths around the padding boundary (55 bytes still fit the length in
 * the last block, 56 do not). Expected values from coreutils sha256sum. */
static void test_core__sha256_padding_boundaries(void) {
    static const struct { size_t n; const char *hex; } cases[] = {
        { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
        { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
        { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
        { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
        { 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
        { 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
    };
    char a[128], hex[65];
    memset(a, 'a', sizeof(a));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_sha256 s;
        uint8_t d[32];
        ml_sha256_hex(hex, a, cases[i].n);
        ML_ASSERT_MSG(!strcmp(hex, cases[i].hex), "%zu x 'a': %s", cases[i].n, hex);
        ml_sha256_init(&s);                        /* byte by byte: same digest */
        for (size_t k = 0; k < cases[i].n; k++) ml_sha256_update(&s, a + k, 1);
        ml_sha256_final(&s, d);
        ml_sha256_to_hex(hex, d);
        ML_ASSERT_MSG(!strcmp(hex, cases[i].hex), "%zu x 'a' byte by byte: %s", cases[i].n, hex);
    }
}

/* The comparison can fail: one flipped bit gives another digest. */
static void test_core__sha256_detects_one_bit(void) {
    char msg[] = "abc", hex[65];
    msg[2] ^= 1;                                  /* "abb" */
    ml_sha256_hex(hex, msg, 3);
    ML_ASSERT_MSG(strcmp(hex, SHA_ABC) != 0, "\"abb\" hashed like \"abc\"");
}

/* ---- temp directory for file tests -------------------------------------- */

static char g_dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void with_tmpdir(void (*body)(void)) {
    snprintf(g_dir, sizeof(g_dir), "/tmp/mltest_core.XXXXXX");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "    mkdtemp failed\n");
        ml_test_failed_now = 1;
        return;
    }
    body();
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_dir[0] = '\0';
}

/* path of name inside the temp dir */
static const char *in_tmp(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

/* entries of dir whose name contains ".tmp." */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* 1 when path holds exactly want */
static int file_is(const char *path, const char *want) {
    char *buf = NULL;
    size_t len = 0;
    int ok = ml_fs_read_all(&buf, &len, path) == 0 && len == strlen(want) && !memcmp(buf, want, len);
    free(buf);
    return ok;
}

/* ---- atomic writes ------------------------------------------------------ */

static void body_write_atomic_replaces(void) {
    char p[256];
    in_tmp(p, sizeof(p), "results.json");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "first", 5));
    ML_ASSERT_MSG(file_is(p, "first"), "first write not read back");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "second, longer", 14));
    ML_ASSERT_MSG(file_is(p, "second, longer"), "replacement not read back");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "3", 1));       /* shorter: no old tail */
    ML_ASSERT_MSG(file_is(p, "3"), "shorter replacement kept old bytes");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "", 0));
    ML_ASSERT_MSG(file_is(p, ""), "empty write");
    ML_ASSERT_EQ_INT(0, count_tmp_files(g_dir));
}
static void test_core__fs_write_atomic_replaces(void) { with_tmpdir(body_write_atomic_replaces); }

static void body_write_atomic_missing_dir(void) {
    char p[256];
    in_tmp(p, sizeof(p), "no/such/dir/file.json");
    ML_ASSERT_EQ_INT(ML_EOS, ml_fs_write_atomic(p, "x", 1));
    ML_ASSERT_EQ_INT(ML_EOS, ml_error_last()->code);
    ML_ASSERT_STR_HAS(ml_error_last()->message, p);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "No such file or directory");
    ML_ASSERT(!ml_fs_exists(p));
    ML_ASSERT_EQ_INT(0, count_tmp_files(g_dir));
}
static void test_core__fs_write_atomic_missing_dir(void) { with_tmpdir(body_write_atomic_missing_dir); }

static void body_write_atomic_parent_is_file(void) {
    char parent[256], p[300];
    in_tmp(parent, sizeof(parent), "plain");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(parent, "keep me", 7));
    snprintf(p, sizeof(p), "%s/file.json", parent);
    ML_ASSERT_EQ_INT(ML_EOS, ml_fs_write_atomic(p, "x", 1));
    ML_ASSERT_STR_HAS(ml_error_last()->message, p);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "Not a directory");
    ML_ASSERT_MSG(file_is(parent, "keep me"), "the regular file in the way changed");
    ML_ASSERT_EQ_INT(0, count_tmp_files(g_dir));
}
static void test_core__fs_write_atomic_parent_is_file(void) { with_tmpdir(body_write_atomic_parent_is_file); }

/* The old file survives a failed write, and a full disk is a clean ML_EOS:
 * in a child process RLIMIT_FSIZE makes write() fail with EFBIG as a full
 * disk would (ENOSPC), part way through the new contents. */
static void body_write_atomic_keeps_old_file(void) {
    char p[256], big[8192];
    in_tmp(p, sizeof(p), "old.json");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "old contents", 12));
    memset(big, 'x', sizeof(big));
    pid_t pid = fork();
    ML_ASSERT(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = { 4096, 4096 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        int rc = ml_fs_write_atomic(p, big, sizeof(big));
        int named = strstr(ml_error_last()->message, p) && strstr(ml_error_last()->message, "at write");
        _exit(rc == ML_EOS && named ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ML_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the failed write was not ML_EOS naming the path and step");
    ML_ASSERT_MSG(file_is(p, "old contents"), "old file changed by a failed write");
    ML_ASSERT_EQ_INT(0, count_tmp_files(g_dir));
}
static void test_core__fs_write_atomic_keeps_old_file(void) { with_tmpdir(body_write_atomic_keeps_old_file); }

/* a directory at the target is refused as bad input, before any temp file */
static void body_write_atomic_onto_dir(void) {
    char p[256], inner[300];
    in_tmp(p, sizeof(p), "adir");
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(p));
    snprintf(inner, sizeof(inner), "%s/x", p);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(inner, "x", 1));   /* non-empty dir */
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_fs_write_atomic(p, "data", 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, p);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "a directory");
    ML_ASSERT_EQ_INT(0, count_tmp_files(g_dir));
    ML_ASSERT_MSG(file_is(inner, "x"), "the directory's content changed");
}
static void test_core__fs_write_atomic_onto_dir(void) { with_tmpdir(body_write_atomic_onto_dir); }

/* ---- reads, mkdir -p, copy ---------------------------------------------- */

static void body_read_all(void) {
    char p[256], *buf = (char *)p;
    size_t len = 99;
    in_tmp(p, sizeof(p), "missing.json");
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_fs_read_all(&buf, &len, p));
    ML_ASSERT(buf == NULL);
    ML_ASSERT_EQ_INT(0, len);
    ML_ASSERT_STR_HAS(ml_error_last()->message, p);
    ML_ASSERT(!ml_fs_exists(p));
    in_tmp(p, sizeof(p), "data.bin");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "a\0b", 3));
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&buf, &len, p));
    int ok = len == 3 && buf[0] == 'a' && buf[1] == '\0' && buf[2] == 'b' && buf[3] == '\0';
    free(buf);
    ML_ASSERT_MSG(ok, "read back wrong bytes or no NUL terminator (len %zu)", len);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "", 0));
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&buf, NULL, p));
    ok = buf != NULL && buf[0] == '\0';
    free(buf);
    ML_ASSERT_MSG(ok, "empty file did not read as \"\"");
}
static void test_core__fs_read_all(void) { with_tmpdir(body_read_all); }

/* ml_fs_read_all(path) run in a child process, so that a crash (an ASan
 * build aborts on an absurd malloc) fails this test instead of ending the
 * run. 0 with the child's return code and message, -1 if the child died. */
static int read_all_in_child(const char *path, int *rc, char *msg, size_t size) {
    int fds[2], status = 0;
    pid_t pid;
    msg[0] = '\0';
    if (pipe(fds) < 0) return -1;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) { close(fds[0]); close(fds[1]); return -1; }
    if (pid == 0) {
        char *buf = NULL;
        size_t len = 0;
        int code = ml_fs_read_all(&buf, &len, path);
        free(buf);
        close(fds[0]);
        if (write(fds[1], &code, sizeof(code)) != (ssize_t)sizeof(code) ||
            write(fds[1], ml_error_last()->message, strlen(ml_error_last()->message) + 1) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], rc, sizeof(*rc)), n = 0, k;
    while (got == (ssize_t)sizeof(*rc) && n < (ssize_t)size - 1 &&
           (k = read(fds[0], msg + n, size - 1 - (size_t)n)) > 0)
        n += k;
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        got != (ssize_t)sizeof(*rc))
        return -1;
    return 0;
}

/* A directory is not a file: bad input (ML_EINVALID) naming the path. */
static void body_read_all_directory(void) {
    char msg[ML_ERROR_MSG_MAX];
    int rc = 0;
    ML_ASSERT_MSG(read_all_in_child(g_dir, &rc, msg, sizeof(msg)) == 0,
                  "ml_fs_read_all(<a directory>) crashed the process");
    ML_ASSERT_MSG(rc == ML_EINVALID, "reading a directory: want ML_EINVALID (%d), got %d: \"%s\"", ML_EINVALID, rc, msg);
    ML_ASSERT_STR_HAS(msg, g_dir);
}
static void test_core__fs_read_all_directory(void) { with_tmpdir(body_read_all_directory); }

static void body_mkdir_p(void) {
    char p[320], f[300];
    struct stat st;
    in_tmp(p, sizeof(p), "a/b/c/d");
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(p));
    ML_ASSERT(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(p));                    /* exists already: fine */
    in_tmp(p, sizeof(p), "e/f/");
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(p));
    ML_ASSERT(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    in_tmp(f, sizeof(f), "a/file");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(f, "x", 1));
    ML_ASSERT_EQ_INT(ML_EOS, ml_fs_mkdir_p(f));               /* a file is not a directory */
    snprintf(p, sizeof(p), "%s/sub", f);
    ML_ASSERT_EQ_INT(ML_EOS, ml_fs_mkdir_p(p));               /* nor a parent */
    ML_ASSERT_STR_HAS(ml_error_last()->message, "a/file");
}
static void test_core__fs_mkdir_p(void) { with_tmpdir(body_mkdir_p); }

static void body_copy(void) {
    char src[256], dst[256];
    in_tmp(src, sizeof(src), "src");
    in_tmp(dst, sizeof(dst), "dst");
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_fs_copy(dst, src));
    ML_ASSERT(!ml_fs_exists(dst));
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(src, "payload", 7));
    ML_ASSERT_EQ_INT(0, ml_fs_copy(dst, src));
    ML_ASSERT_MSG(file_is(dst, "payload"), "copy differs");
    ML_ASSERT_EQ_INT(0, count_tmp_files(g_dir));
}
static void test_core__fs_copy(void) { with_tmpdir(body_copy); }

static void body_sha256_file(void) {
    char p[256], hex[65];
    in_tmp(p, sizeof(p), "abc.txt");
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "abc", 3));
    ML_ASSERT_EQ_INT(0, ml_sha256_file(hex, p));
    ML_ASSERT_MSG(!strcmp(hex, SHA_ABC), "file hash %s", hex);
    in_tmp(p, sizeof(p), "none.txt");
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_sha256_file(hex, p));
    ML_ASSERT_STR_HAS(ml_error_last()->message, p);
}
static void test_core__sha256_file(void) { with_tmpdir(body_sha256_file); }

/* ---- errors ------------------------------------------------------------- */

static void test_core__error_prefix_composes(void) {
    ML_ASSERT_EQ_INT(ML_EDATA, ml_error_set(ML_EDATA, "inner %d", 42));
    ml_error_prefix("outer");
    ML_ASSERT_MSG(!strcmp(ml_error_last()->message, "outer: inner 42"), "got \"%s\"", ml_error_last()->message);
    ml_error_prefix("%s[%d]", "suite.json", 3);
    ML_ASSERT_MSG(!strcmp(ml_error_last()->message, "suite.json[3]: outer: inner 42"), "got \"%s\"",
                  ml_error_last()->message);
    ML_ASSERT_EQ_INT(ML_EDATA, ml_error_last()->code);     /* prefixing keeps the code */
    ml_error_clear();
    ML_ASSERT_EQ_INT(ML_OK, ml_error_last()->code);
    ML_ASSERT_EQ_INT(0, strlen(ml_error_last()->message));
}

/* A message that no longer fits is cut, still one NUL-terminated line. */
static void test_core__error_prefix_truncates(void) {
    char longer[2000];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    ml_error_set(ML_EOS, "%s", longer);
    ML_ASSERT_EQ_INT(ML_ERROR_MSG_MAX - 1, strlen(ml_error_last()->message));
    ml_error_prefix("ctx");
    ML_ASSERT_EQ_INT(ML_ERROR_MSG_MAX - 1, strlen(ml_error_last()->message));
    ML_ASSERT(!strncmp(ml_error_last()->message, "ctx: xxx", 8));
    ml_error_prefix("%s", longer);
    ML_ASSERT_EQ_INT(ML_ERROR_MSG_MAX - 1, strlen(ml_error_last()->message));
    ml_error_clear();
}

static void test_core__error_names(void) {
    ML_ASSERT(!strcmp(ml_error_name(ML_OK), "ok"));
    ML_ASSERT(!strcmp(ml_error_name(ML_EINVALID), "invalid"));
    ML_ASSERT(!strcmp(ml_error_name(ML_ENOTFOUND), "notfound"));
    ML_ASSERT(!strcmp(ml_error_name(ML_EOS), "os"));
    ML_ASSERT(!strcmp(ml_error_name(12345), "error"));
}

/* ---- parameter layout --------------------------------------------------- */

/* fc1.weight (4,3), fc1.bias (4), fc2.weight (2,4) with the given fc2 shape */
static int small_layout(ml_layout *L, int r, int c, const char *last_name) {
    int w1[2] = { 4, 3 }, b1[1] = { 4 }, w2[2] = { r, c };
    int error = ml_layout_add(L, "fc1.weight", 2, w1, 1);
    if (!error) error = ml_layout_add(L, "fc1.bias", 1, b1, 0);
    if (!error) error = ml_layout_add(L, last_name, 2, w2, 1);
    return error;
}

static void test_core__layout_add_find(void) {
    ml_layout L = { 0 };
    int error = small_layout(&L, 2, 4, "fc2.weight");
    int n = L.n;
    size_t total = L.total, off[3] = { 0 }, numel[3] = { 0 };
    int f1 = ml_layout_find(&L, "fc1.bias"), f2 = ml_layout_find(&L, "fc2.weight");
    int fnone = ml_layout_find(&L, "fc2.bias"), fprefix = ml_layout_find(&L, "fc1");
    int decay[3] = { -1, -1, -1 };
    for (int i = 0; i < n && i < 3; i++) {
        off[i] = L.tensors[i].offset;
        numel[i] = L.tensors[i].numel;
        decay[i] = L.tensors[i].decay;
    }
    ml_layout_free(&L);
    ML_ASSERT_EQ_INT(0, error);
    ML_ASSERT_EQ_INT(3, n);
    ML_ASSERT_EQ_INT(12 + 4 + 8, total);
    ML_ASSERT_EQ_INT(0, off[0]);
    ML_ASSERT_EQ_INT(12, off[1]);
    ML_ASSERT_EQ_INT(16, off[2]);
    ML_ASSERT_EQ_INT(8, numel[2]);
    ML_ASSERT_EQ_INT(1, decay[0]);
    ML_ASSERT_EQ_INT(0, decay[1]);
    ML_ASSERT_EQ_INT(1, f1);
    ML_ASSERT_EQ_INT(2, f2);
    ML_ASSERT_EQ_INT(-1, fnone);
    ML_ASSERT_EQ_INT(-1, fprefix);
    ML_ASSERT(L.tensors == NULL && L.n == 0 && L.total == 0);
    ml_layout_free(NULL);
}

static void test_core__layout_rejects_bad_tensors(void) {
    ml_layout L = { 0 };
    int zero[2] = { 3, 0 }, ok[1] = { 2 };
    char name[ML_TENSOR_NAME_MAX + 8];
    int e_ndim = ml_layout_add(&L, "t", 5, ok, 1);
    char m_ndim[ML_ERROR_MSG_MAX];
    snprintf(m_ndim, sizeof(m_ndim), "%s", ml_error_last()->message);
    int e_zero = ml_layout_add(&L, "z", 2, zero, 1);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    int e_long = ml_layout_add(&L, name, 1, ok, 1);
    int n = L.n;
    size_t total = L.total;
    ml_layout_free(&L);
    ML_ASSERT_EQ_INT(ML_EINVALID, e_ndim);
    ML_ASSERT_STR_HAS(m_ndim, "tensor 't': ndim must be 1..4, got 5");
    ML_ASSERT_EQ_INT(ML_EINVALID, e_zero);
    ML_ASSERT_EQ_INT(ML_EINVALID, e_long);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "tensor name too long");
    ML_ASSERT_EQ_INT(0, n);          /* nothing half-added */
    ML_ASSERT_EQ_INT(0, total);
}

static void test_core__layout_hash(void) {
    ml_layout a = { 0 }, b = { 0 }, t = { 0 }, r = { 0 };
    int ea = small_layout(&a, 2, 4, "fc2.weight");
    int eb = small_layout(&b, 2, 4, "fc2.weight");
    int et = small_layout(&t, 4, 2, "fc2.weight");     /* same numel, other shape */
    int er = small_layout(&r, 2, 4, "fc2.weighs");     /* other name */
    uint64_t ha = ml_layout_hash(&a), hb = ml_layout_hash(&b), ht = ml_layout_hash(&t), hr = ml_layout_hash(&r);
    ml_layout empty = { 0 };
    uint64_t he = ml_layout_hash(&empty);
    ml_layout_free(&a); ml_layout_free(&b); ml_layout_free(&t); ml_layout_free(&r);
    ML_ASSERT(ea == 0 && eb == 0 && et == 0 && er == 0);
    ML_ASSERT_MSG(ha == hb, "same layout, two hashes %016llx %016llx", (unsigned long long)ha, (unsigned long long)hb);
    ML_ASSERT_MSG(ha != ht, "(2,4) and (4,2) hash alike");
    ML_ASSERT_MSG(ha != hr, "renamed tensor hashes alike");
    ML_ASSERT_MSG(ha != he, "layout hashes like an empty one");
}

const ml_test ml_tests_core[] = {
    { "core__sha256_fips_vectors", test_core__sha256_fips_vectors, "unit" },
    { "core__sha256_million_a_streamed", test_core__sha256_million_a_streamed, "unit" },
    { "core__sha256_padding_boundaries", test_core__sha256_padding_boundaries, "unit" },
    { "core__sha256_detects_one_bit", test_core__sha256_detects_one_bit, "unit" },
    { "core__sha256_file", test_core__sha256_file, "unit" },
    { "core__fs_write_atomic_replaces", test_core__fs_write_atomic_replaces, "unit" },
    { "core__fs_write_atomic_missing_dir", test_core__fs_write_atomic_missing_dir, "unit" },
    { "core__fs_write_atomic_parent_is_file", test_core__fs_write_atomic_parent_is_file, "unit" },
    { "core__fs_write_atomic_keeps_old_file", test_core__fs_write_atomic_keeps_old_file, "unit" },
    { "core__fs_write_atomic_onto_dir", test_core__fs_write_atomic_onto_dir, "unit" },
    { "core__fs_read_all", test_core__fs_read_all, "unit" },
    { "core__fs_read_all_directory", test_core__fs_read_all_directory, "unit" },
    { "core__fs_mkdir_p", test_core__fs_mkdir_p, "unit" },
    { "core__fs_copy", test_core__fs_copy, "unit" },
    { "core__error_prefix_composes", test_core__error_prefix_composes, "unit" },
    { "core__error_prefix_truncates", test_core__error_prefix_truncates, "unit" },
    { "core__error_names", test_core__error_names, "unit" },
    { "core__layout_add_find", test_core__layout_add_find, "unit" },
    { "core__layout_rejects_bad_tensors", test_core__layout_rejects_bad_tensors, "unit" },
    { "core__layout_hash", test_core__layout_hash, "unit" },
    { 0 },
};
