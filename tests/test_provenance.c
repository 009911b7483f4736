/*
 * tests/test_provenance.c: store/provenance.c against real repositories
 * made with the `git` command in a fresh mkdtemp directory under /tmp.
 * Owns: the ml_tests_provenance table. Not here: results storage tests.
 * Each test body runs between setup() and teardown() so the temp directory
 * and the collected JSON are removed even when an assertion returns early.
 * `git` is the reference: commit ids, branch names and the `git diff HEAD`
 * text are checked against what it prints.
 */
#include "tests/test.h"

#include "core/error.h"
#include "store/provenance.h"

#include <cblas.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Variables a git hook (say pre-push running the tests) may export; they
 * would point our git commands at the outer repository instead. */
#define GIT_CMD "env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE -u GIT_OBJECT_DIRECTORY " \
                "-u GIT_COMMON_DIR -u GIT_PREFIX git -C '%s' "

static char g_dir[64];      /* the temp dir of the running test, "" when none */
static char g_real[4096];   /* realpath(g_dir): what libgit2 reports */
static cJSON *g_prov;       /* freed by teardown() */

/* ---- helpers --------------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    int status;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    status = system(cmd);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "    command failed: %s\n", cmd);
        return -1;
    }
    return 0;
}

/* First line of a command's stdout, without the newline. */
static int sh_out(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh_out(char *out, size_t size, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    FILE *p;
    int status;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    out[0] = '\0';
    if (!(p = popen(cmd, "r"))) return -1;
    if (fgets(out, (int)size, p)) out[strcspn(out, "\n")] = '\0';
    status = pclose(p);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "    command failed: %s\n", cmd);
        return -1;
    }
    return 0;
}

static int write_file(const char *name, const char *text) {
    char path[4200];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    if (!(f = fopen(path, "w"))) return -1;
    fputs(text, f);
    return fclose(f);
}

static int commit_all(const char *msg) {
    return sh(GIT_CMD "add -A && " GIT_CMD "commit -q -m '%s'", g_dir, g_dir, msg);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

/* ncommits < 0: a plain directory; 0: `git init` only; n: n commits, each
 * rewriting a.txt, on branch main. */
static int setup(int ncommits) {
    snprintf(g_dir, sizeof(g_dir), "/tmp/mlprov.XXXXXX");
    if (!mkdtemp(g_dir)) { g_dir[0] = '\0'; return -1; }
    if (!realpath(g_dir, g_real)) return -1;
    if (ncommits < 0) return 0;
    if (sh(GIT_CMD "init -q -b main", g_dir) < 0 ||
        sh(GIT_CMD "config user.name t && " GIT_CMD "config user.email t@t && "
           GIT_CMD "config commit.gpgsign false", g_dir, g_dir, g_dir) < 0)
        return -1;
    for (int i = 1; i <= ncommits; i++) {
        char text[64], msg[32];
        snprintf(text, sizeof(text), "version %d\nsecond line\n", i);
        snprintf(msg, sizeof(msg), "c%d", i);
        if (write_file("a.txt", text) < 0 || commit_all(msg) < 0) return -1;
    }
    return 0;
}

static void teardown(void) {
    cJSON_Delete(g_prov);
    g_prov = NULL;
    if (g_dir[0]) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    g_dir[0] = '\0';
}

static void run(void (*body)(void), int ncommits) {
    if (setup(ncommits) < 0) {
        fprintf(stderr, "    setup of a temp repository in '%s' failed\n", g_dir);
        ml_test_failed_now = 1;
    } else {
        body();
    }
    teardown();
}

static cJSON *get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *get_str(const cJSON *o, const char *key) {
    const cJSON *v = get(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int str_eq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static int is_hex(const char *s, size_t n) {
    if (!s || strlen(s) != n) return 0;
    return strspn(s, "0123456789abcdef") == n;
}

/* Collects into g_prov with fixed build strings. */
static int collect(const char *dir) {
    return ml_provenance_collect(&g_prov, dir, "abc123", "cc", "-O2");
}

/* ---- repository state ------------------------------------------------ */

static void clean_repo(void) {
    char head[64];
    cJSON *r;
    ML_ASSERT(sh_out(head, sizeof(head), GIT_CMD "rev-parse HEAD", g_dir) == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    r = get(g_prov, "repository");
    ML_ASSERT(cJSON_IsObject(r));
    ML_ASSERT(get(g_prov, "repository_error") == NULL);
    ML_ASSERT_MSG(str_eq(g_real, get_str(r, "path")), "path %s, want %s", get_str(r, "path"), g_real);
    ML_ASSERT_MSG(str_eq(head, get_str(r, "commit")), "commit %s, want %s", get_str(r, "commit"), head);
    ML_ASSERT(str_eq("main", get_str(r, "branch")));
    ML_ASSERT(cJSON_IsFalse(get(r, "dirty")));
    ML_ASSERT(cJSON_IsNull(get(r, "diff_sha256")));
}
static void test_provenance__clean_repo(void) { run(clean_repo, 1); }

static void modified_is_dirty(void) {
    char want[128];
    const char *got;
    cJSON *r;
    ML_ASSERT(write_file("a.txt", "version 1\nchanged line\n") == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    r = get(g_prov, "repository");
    ML_ASSERT(cJSON_IsTrue(get(r, "dirty")));
    got = get_str(r, "diff_sha256");
    ML_ASSERT_MSG(is_hex(got, 64), "diff_sha256 \"%s\" is not 64 hex digits", got ? got : "(null)");
    /* The hash is of the same text a user gets from `git diff HEAD`, so
     * they can check a recorded run against their own tree. */
    ML_ASSERT(sh_out(want, sizeof(want),
                     GIT_CMD "-c color.ui=never -c diff.noprefix=false -c diff.mnemonicPrefix=false "
                     "--no-pager diff HEAD | sha256sum", g_dir) == 0);
    want[64] = '\0';
    ML_ASSERT_MSG(str_eq(want, got), "diff_sha256 %s, `git diff HEAD | sha256sum` %s", got, want);
}
static void test_provenance__modified_tracked_is_dirty(void) { run(modified_is_dirty, 1); }

static void staged_is_dirty(void) {
    cJSON *r;
    /* Index differs from HEAD while the working tree equals the index. */
    ML_ASSERT(write_file("a.txt", "staged\n") == 0);
    ML_ASSERT(sh(GIT_CMD "add a.txt", g_dir) == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    r = get(g_prov, "repository");
    ML_ASSERT(cJSON_IsTrue(get(r, "dirty")));
    ML_ASSERT(is_hex(get_str(r, "diff_sha256"), 64));
}
static void test_provenance__staged_change_is_dirty(void) { run(staged_is_dirty, 1); }

static void deleted_is_dirty(void) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/a.txt", g_dir);
    ML_ASSERT(unlink(path) == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    ML_ASSERT(cJSON_IsTrue(get(get(g_prov, "repository"), "dirty")));
}
static void test_provenance__deleted_tracked_is_dirty(void) { run(deleted_is_dirty, 1); }

static void untracked_not_dirty(void) {
    cJSON *r;
    ML_ASSERT(write_file("new.txt", "untracked\n") == 0);
    /* An ignored file never counts either (exclude, so no new tracked file). */
    ML_ASSERT(write_file(".git/info/exclude", "*.log\n") == 0);
    ML_ASSERT(write_file("run.log", "ignored\n") == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    r = get(g_prov, "repository");
    ML_ASSERT(cJSON_IsFalse(get(r, "dirty")));
    ML_ASSERT(cJSON_IsNull(get(r, "diff_sha256")));
}
static void test_provenance__untracked_and_ignored_not_dirty(void) { run(untracked_not_dirty, 1); }

static void touched_not_dirty(void) {
    char path[4200];
    struct timespec later[2] = { { .tv_sec = 2000000000 }, { .tv_sec = 2000000000 } };
    /* Same content, new mtime: a stat-only change must not read as dirty. */
    snprintf(path, sizeof(path), "%s/a.txt", g_dir);
    ML_ASSERT(write_file("a.txt", "version 1\nsecond line\n") == 0);
    ML_ASSERT(utimensat(AT_FDCWD, path, later, 0) == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    ML_ASSERT(cJSON_IsFalse(get(get(g_prov, "repository"), "dirty")));
}
static void test_provenance__touched_file_not_dirty(void) { run(touched_not_dirty, 1); }

static void detached_head(void) {
    char head[64];
    cJSON *r;
    ML_ASSERT(sh(GIT_CMD "checkout -q --detach HEAD~1", g_dir) == 0);
    ML_ASSERT(sh_out(head, sizeof(head), GIT_CMD "rev-parse HEAD", g_dir) == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    r = get(g_prov, "repository");
    ML_ASSERT(str_eq(head, get_str(r, "commit")));
    ML_ASSERT(cJSON_IsNull(get(r, "branch")));
    ML_ASSERT(cJSON_IsFalse(get(r, "dirty")));
}
static void test_provenance__detached_head(void) { run(detached_head, 2); }

static void other_branch(void) {
    ML_ASSERT(sh(GIT_CMD "checkout -q -b feature/x", g_dir) == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    ML_ASSERT(str_eq("feature/x", get_str(get(g_prov, "repository"), "branch")));
}
static void test_provenance__branch_name(void) { run(other_branch, 1); }

static void unborn_head(void) {
    cJSON *r;
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    r = get(g_prov, "repository");
    ML_ASSERT(cJSON_IsObject(r));
    ML_ASSERT(cJSON_IsNull(get(r, "commit")));
    ML_ASSERT(str_eq("main", get_str(r, "branch")));
    ML_ASSERT(cJSON_IsFalse(get(r, "dirty")));
    cJSON_Delete(g_prov);
    g_prov = NULL;
    /* With no HEAD tree, whatever is staged is a change. */
    ML_ASSERT(write_file("a.txt", "first\n") == 0);
    ML_ASSERT(sh(GIT_CMD "add a.txt", g_dir) == 0);
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    r = get(g_prov, "repository");
    ML_ASSERT(cJSON_IsNull(get(r, "commit")));
    ML_ASSERT(cJSON_IsTrue(get(r, "dirty")));
    ML_ASSERT(is_hex(get_str(r, "diff_sha256"), 64));
}
static void test_provenance__unborn_head(void) { run(unborn_head, 0); }

static void from_subdir(void) {
    char sub[4200];
    snprintf(sub, sizeof(sub), "%s/deep/er", g_dir);
    ML_ASSERT(sh("mkdir -p '%s'", sub) == 0);
    ML_ASSERT_EQ_INT(0, collect(sub));
    ML_ASSERT(str_eq(g_real, get_str(get(g_prov, "repository"), "path")));
}
static void test_provenance__subdir_finds_workdir(void) { run(from_subdir, 1); }

static void not_a_repo(void) {
    ML_ASSERT_EQ_INT(0, collect(g_dir));
    ML_ASSERT(g_prov != NULL);
    ML_ASSERT(cJSON_IsNull(get(g_prov, "repository")));
    ML_ASSERT_STR_HAS(get_str(g_prov, "repository_error"), "not a git repository: ");
    ML_ASSERT_STR_HAS(get_str(g_prov, "repository_error"), g_real);
    /* The rest of the record is still there. */
    ML_ASSERT(cJSON_IsObject(get(g_prov, "host")));
}
static void test_provenance__not_a_repo(void) { run(not_a_repo, -1); }

/* ---- build, blas, host, libraries ------------------------------------ */

/* The environment may already set these (the test machine sets L2 size);
 * the test changes them for one collect and puts them back. */
static const char *const blas_vars[2] = { "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE" };

static void other_sections(void) {
    char saved[2][256];
    int had[2], threads_was = openblas_get_num_threads(), rc;
    cJSON *b, *blas, *env, *host, *libs;
    char want[64];
    int major, minor, rev;

    for (int i = 0; i < 2; i++) {
        const char *v = getenv(blas_vars[i]);
        had[i] = v != NULL;
        snprintf(saved[i], sizeof(saved[i]), "%s", v ? v : "");
    }
    setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    unsetenv("OPENBLAS_L2_SIZE");
    openblas_set_num_threads(2);
    rc = ml_provenance_collect(&g_prov, g_dir, "deadbeef", "gcc 12.2", "-O2 -g");
    openblas_set_num_threads(threads_was);
    for (int i = 0; i < 2; i++) {
        if (had[i]) setenv(blas_vars[i], saved[i], 1);
        else unsetenv(blas_vars[i]);
    }
    ML_ASSERT_EQ_INT(0, rc);

    b = get(g_prov, "build");
    ML_ASSERT(str_eq("deadbeef", get_str(b, "commit")));
    ML_ASSERT(str_eq("gcc 12.2", get_str(b, "compiler")));
    ML_ASSERT(str_eq("-O2 -g", get_str(b, "cflags")));

    blas = get(g_prov, "blas");
    ML_ASSERT(str_eq(openblas_get_config(), get_str(blas, "config")));
    ML_ASSERT(str_eq(openblas_get_corename(), get_str(blas, "corename")));
    ML_ASSERT(cJSON_IsNumber(get(blas, "threads")));
    ML_ASSERT_EQ_INT(2, get(blas, "threads")->valueint);
    env = get(blas, "env");
    ML_ASSERT(str_eq("Prescott", get_str(env, "OPENBLAS_CORETYPE")));
    ML_ASSERT(cJSON_IsNull(get(env, "OPENBLAS_L2_SIZE")));
    ML_ASSERT(get(env, "OPENBLAS_NUM_THREADS") != NULL);

    host = get(g_prov, "host");
    ML_ASSERT(get_str(host, "hostname") && get_str(host, "hostname")[0]);
    ML_ASSERT_STR_HAS(get_str(host, "os"), "Linux ");
    ML_ASSERT(get_str(host, "cpu") && get_str(host, "cpu")[0]);
    ML_ASSERT(cJSON_IsNumber(get(host, "ncpu")));
    ML_ASSERT_EQ_INT(sysconf(_SC_NPROCESSORS_ONLN), get(host, "ncpu")->valueint);

    libs = get(g_prov, "libraries");
    git_libgit2_version(&major, &minor, &rev);
    snprintf(want, sizeof(want), "%d.%d.%d", major, minor, rev);
    ML_ASSERT(str_eq(want, get_str(libs, "libgit2")));
    ML_ASSERT(str_eq(cJSON_Version(), get_str(libs, "cjson")));
    ML_ASSERT_STR_HAS(openblas_get_config(), get_str(libs, "openblas"));
    ML_ASSERT_MSG(strspn(get_str(libs, "openblas"), "0123456789.") == strlen(get_str(libs, "openblas")),
                  "openblas version \"%s\" is not just the version number", get_str(libs, "openblas"));
}
static void test_provenance__build_blas_host_libraries(void) { run(other_sections, 1); }

static void null_build_strings(void) {
    ML_ASSERT_EQ_INT(0, ml_provenance_collect(&g_prov, g_dir, NULL, NULL, NULL));
    ML_ASSERT(cJSON_IsNull(get(get(g_prov, "build"), "commit")));
    ML_ASSERT(cJSON_IsNull(get(get(g_prov, "build"), "cflags")));
}
static void test_provenance__null_build_strings(void) { run(null_build_strings, -1); }

/* ---- ml_git_resolve -------------------------------------------------- */

static void resolve_revisions(void) {
    char want[64], got[41], shorthash[16];
    static const char *const revs[] = { "HEAD", "HEAD~1", "HEAD~2", "main", "v1", "v2-annotated", "HEAD^" };
    ML_ASSERT(sh(GIT_CMD "tag v1 HEAD~1 && " GIT_CMD "tag -a -m 'release' v2-annotated HEAD~2",
                 g_dir, g_dir) == 0);
    for (size_t i = 0; i < sizeof(revs) / sizeof(revs[0]); i++) {
        ML_ASSERT(sh_out(want, sizeof(want), GIT_CMD "rev-parse '%s^{commit}'", g_dir, revs[i]) == 0);
        memset(got, 'x', sizeof(got));
        ML_ASSERT_EQ_INT(0, ml_git_resolve(got, g_dir, revs[i]));
        ML_ASSERT_MSG(str_eq(want, got), "%s: got %s, want %s", revs[i], got, want);
    }
    /* An 8-digit short hash of HEAD~1. */
    ML_ASSERT(sh_out(want, sizeof(want), GIT_CMD "rev-parse HEAD~1", g_dir) == 0);
    snprintf(shorthash, sizeof(shorthash), "%.8s", want);
    ML_ASSERT_EQ_INT(0, ml_git_resolve(got, g_dir, shorthash));
    ML_ASSERT_MSG(str_eq(want, got), "%s: got %s, want %s", shorthash, got, want);
}
static void test_provenance__resolve_revisions(void) { run(resolve_revisions, 3); }

static void resolve_unknown(void) {
    char hex[41] = "untouched", want[4200];
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_git_resolve(hex, g_dir, "no-such-branch"));
    snprintf(want, sizeof(want), "unknown revision 'no-such-branch' in %s", g_real);
    ML_ASSERT_STR_HAS(ml_error_last()->message, want);
    ML_ASSERT(str_eq("untouched", hex));
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_git_resolve(hex, g_dir, "HEAD~5"));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "unknown revision 'HEAD~5'");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_git_resolve(hex, g_dir, "HEAD^{tree}"));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "is a tree, not a commit");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_git_resolve(hex, g_dir, ""));
}
static void test_provenance__resolve_unknown(void) { run(resolve_unknown, 1); }

static void resolve_unborn(void) {
    char hex[41];
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_git_resolve(hex, g_dir, "HEAD"));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "unknown revision 'HEAD'");
}
static void test_provenance__resolve_unborn(void) { run(resolve_unborn, 0); }

static void resolve_not_a_repo(void) {
    char hex[41];
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_git_resolve(hex, g_dir, "HEAD"));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "not a git repository: ");
}
static void test_provenance__resolve_not_a_repo(void) { run(resolve_not_a_repo, -1); }

/* ---- time ------------------------------------------------------------ */

static void test_provenance__time_iso8601(void) {
    char buf[32], small[11];
    ml_time_iso8601(buf, sizeof(buf), 0);
    ML_ASSERT(str_eq("1970-01-01T00:00:00Z", buf));
    ml_time_iso8601(buf, sizeof(buf), 1700000000);
    ML_ASSERT(str_eq("2023-11-14T22:13:20Z", buf));
    ml_time_iso8601(buf, 21, 951782400);           /* leap day, exact fit */
    ML_ASSERT(str_eq("2000-02-29T00:00:00Z", buf));
    ml_time_iso8601(small, sizeof(small), 0);      /* truncated, still terminated */
    ML_ASSERT(str_eq("1970-01-01", small));
}

const ml_test ml_tests_provenance[] = {
    { "provenance__clean_repo", test_provenance__clean_repo, "unit" },
    { "provenance__modified_tracked_is_dirty", test_provenance__modified_tracked_is_dirty, "unit" },
    { "provenance__staged_change_is_dirty", test_provenance__staged_change_is_dirty, "unit" },
    { "provenance__deleted_tracked_is_dirty", test_provenance__deleted_tracked_is_dirty, "unit" },
    { "provenance__untracked_and_ignored_not_dirty", test_provenance__untracked_and_ignored_not_dirty, "unit" },
    { "provenance__touched_file_not_dirty", test_provenance__touched_file_not_dirty, "unit" },
    { "provenance__detached_head", test_provenance__detached_head, "unit" },
    { "provenance__branch_name", test_provenance__branch_name, "unit" },
    { "provenance__unborn_head", test_provenance__unborn_head, "unit" },
    { "provenance__subdir_finds_workdir", test_provenance__subdir_finds_workdir, "unit" },
    { "provenance__not_a_repo", test_provenance__not_a_repo, "unit" },
    { "provenance__build_blas_host_libraries", test_provenance__build_blas_host_libraries, "unit" },
    { "provenance__null_build_strings", test_provenance__null_build_strings, "unit" },
    { "provenance__resolve_revisions", test_provenance__resolve_revisions, "unit" },
    { "provenance__resolve_unknown", test_provenance__resolve_unknown, "unit" },
    { "provenance__resolve_unborn", test_provenance__resolve_unborn, "unit" },
    { "provenance__resolve_not_a_repo", test_provenance__resolve_not_a_repo, "unit" },
    { "provenance__time_iso8601", test_provenance__time_iso8601, "unit" },
    { 0 },
};
