/*
 * tests/test_hostile.c: mergelab used as a hostile or unlucky user would
 * (issue 16): outputs aimed at devices, links and FIFOs; empty paths;
 * special files as inputs; tampered cell files; damaged cache entries; the
 * parent killed alone; a report replaced while it is read; names that try
 * to leave their folder; a read-only output folder; files that are not
 * what they claim. Each case failed before its fix.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the smoke suite shortened (60 + 60 steps, routers of 20) into dir/tiny.json;
 * with points, one point at 30 (so --jobs 2 splits it) */
static int tiny_suite(char *path, size_t size, const char *dir, int points) {
    return ml_t_short_smoke(path, size, dir, "tiny", 60, points ? 30 : 0, 20, 0, 0);
}

/* dir/out/tiny.json without its volatile keys, as text (NULL if unreadable) */
static char *stable(const char *dir, const char *sub) {
    char path[700];
    cJSON *doc = NULL;
    snprintf(path, sizeof(path), "%s/%s/tiny.json", dir, sub);
    char *text = NULL;
    if (ml_fs_read_all(&text, NULL, path) < 0 || !(doc = cJSON_Parse(text))) {
        free(text);
        return NULL;
    }
    free(text);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "provenance");
    cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    for (cJSON *c = cells ? cells->child : NULL; c; c = c->next) {
        static const char *const keys[] = { "timing", "wall_seconds", "cpu_seconds", "started", NULL };
        for (int i = 0; keys[i]; i++) cJSON_DeleteItemFromObjectCaseSensitive(c, keys[i]);
    }
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    return text;
}

static int is_kind(const char *path, unsigned kind, int follow) {
    struct stat st;
    return (follow ? stat(path, &st) : lstat(path, &st)) == 0 && (st.st_mode & S_IFMT) == kind;
}

/* ---- 1. what an output write may replace --------------------------------- */

static void test_hostile__output_targets(void) {
    const char *res = ml_t_run_once("suites/smoke.json");
    char dir[256], p[600], q[600], *out = NULL, *text = NULL;
    ML_ASSERT(res != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "hostile-out"));
    const char *base = "fixtures/baselines/smoke.json";
    /* a character device is written in place and stays a device; as root the
     * test makes its own null device, so a broken binary cannot replace the
     * machine's /dev/null (an older mergelab did exactly that) */
    char null_dev[600];
    snprintf(null_dev, sizeof(null_dev), "%s/null", dir);
    if (geteuid() != 0 || mknod(null_dev, S_IFCHR | 0666, makedev(1, 3)) < 0) snprintf(null_dev, sizeof(null_dev), "/dev/null");
    ML_ASSERT_MSG(is_kind(null_dev, S_IFCHR, 0), "%s is not a character device before the test", null_dev);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "check %s --baseline %s --junit %s", res, base, null_dev));
    free(out);
    ML_ASSERT_MSG(is_kind(null_dev, S_IFCHR, 0), "%s is no longer a character device", null_dev);
    /* a link to a file: the file is replaced, the link stays a link */
    snprintf(p, sizeof(p), "%s/real.xml", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(p, "old", 3));
    snprintf(q, sizeof(q), "%s/link.xml", dir);
    ML_ASSERT_EQ_INT(0, symlink("real.xml", q));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "check %s --baseline %s --junit %s", res, base, q));
    free(out);
    ML_ASSERT_MSG(is_kind(q, S_IFLNK, 0), "the junit link was replaced by a file");
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, p));
    ML_ASSERT_STR_HAS(text, "<testsuite");
    free(text);
    /* a link to a folder, a loop of links, a FIFO nobody reads: refused, left as they are, no hang */
    snprintf(q, sizeof(q), "%s/dirlink", dir);
    ML_ASSERT_EQ_INT(0, symlink(".", q));
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "check %s --baseline %s --junit %s", res, base, q));
    ML_ASSERT_STR_HAS(out, "a directory");
    free(out);
    snprintf(p, sizeof(p), "%s/loop1", dir);
    snprintf(q, sizeof(q), "%s/loop2", dir);
    ML_ASSERT(symlink("loop2", p) == 0 && symlink("loop1", q) == 0);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "check %s --baseline %s --markdown %s", res, base, p));
    ML_ASSERT_STR_HAS(out, "loop");
    free(out);
    ML_ASSERT_MSG(is_kind(p, S_IFLNK, 0), "the looping link was replaced");
    snprintf(p, sizeof(p), "%s/fifo", dir);
    ML_ASSERT_EQ_INT(0, mkfifo(p, 0644));
    ML_ASSERT_EQ_INT(2, ml_t_sh(&out, "timeout 60 \"$ML_BIN\" check %s --baseline %s --junit %s", res, base, p));
    ML_ASSERT_STR_HAS(out, "no reader");
    free(out);
    ML_ASSERT_MSG(is_kind(p, S_IFIFO, 0), "the FIFO was replaced");
    /* bless through a link: the baseline it points to is updated, the link kept */
    snprintf(p, sizeof(p), "%s/base.json", dir);
    snprintf(q, sizeof(q), "%s/base-link.json", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_copy(p, base));
    ML_ASSERT_EQ_INT(0, symlink("base.json", q));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "bless %s --baseline %s", res, q));
    free(out);
    ML_ASSERT_MSG(is_kind(q, S_IFLNK, 0), "bless detached the baseline link from its target");
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "check %s --baseline %s", res, p));   /* the target holds the new baseline */
    free(out);
    ml_t_rmrf(dir);
}

/* ---- 2. an empty path is a usage error ----------------------------------- */

static void test_hostile__empty_paths(void) {
    const char *res = ml_t_run_once("suites/smoke.json");
    char *out = NULL;
    ML_ASSERT(res != NULL);
    int had_root_files = ml_fs_exists("/smoke.json") || ml_fs_exists("/.lock") || ml_fs_exists("/smoke.cells");
    static const char *const cmds[] = { "run suites/smoke.json -o ''", "run suites/smoke.json -o ' '",
                                        "run suites/smoke.json --results ''", "run suites/smoke.json --cache ''",
                                        "report %s -o ''", "check %s --baseline fixtures/baselines/smoke.json --junit ''",
                                        "bless %s --baseline ''", "plan suites/smoke.json -o ''", NULL };
    for (int i = 0; cmds[i]; i++) {
        int rc = ml_t_cli(&out, cmds[i], res);
        ML_ASSERT_MSG(rc == 2 && strstr(out, "empty path"), "'%s': exit %d: %s", cmds[i], rc, out);
        free(out);
    }
    if (!had_root_files)
        ML_ASSERT_MSG(!ml_fs_exists("/smoke.json") && !ml_fs_exists("/.lock") && !ml_fs_exists("/smoke.cells"),
                      "an empty -o wrote into /");
    /* the library refuses it too, whatever the CLI lets through */
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_fs_write_atomic("", "x", 1));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_fs_mkdir_p("  "));
}

/* ---- 3. special files as inputs: refused at once, never a hang ----------- */

static void test_hostile__special_inputs(void) {
    char dir[256], fifo[600], data[600], suite[600], *out = NULL, *text = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "hostile-in"));
    snprintf(fifo, sizeof(fifo), "%s/suite.json", dir);
    ML_ASSERT_EQ_INT(0, mkfifo(fifo, 0644));
    static const char *const cmds[] = { "validate %s", "run %s -o %s.out", "show %s", "report %s -o %s.rep",
                                        "check %s --baseline %s", NULL };
    for (int i = 0; cmds[i]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "timeout 60 \"$ML_BIN\" %s", cmds[i]);
        int rc = ml_t_sh(&out, cmd, fifo, fifo);
        ML_ASSERT_MSG(rc == 2 && strstr(out, "FIFO"), "'%s' on a FIFO: exit %d: %s", cmds[i], rc, out);
        free(out);
    }
    ML_ASSERT_EQ_INT(2, ml_t_sh(&out, "timeout 60 \"$ML_BIN\" validate /dev/zero"));
    ML_ASSERT_STR_HAS(out, "character device");
    free(out);
    /* a data folder of FIFOs and /dev/zero: the data hashing refuses them */
    snprintf(data, sizeof(data), "%s/data", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(data));
    static const char *const files[] = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
    for (int i = 0; i < 4; i++) {
        char f[700];
        snprintf(f, sizeof(f), "%s/%s", data, files[i]);
        ML_ASSERT(i == 1 ? symlink("/dev/zero", f) == 0 : mkfifo(f, 0644) == 0);
    }
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, "suites/smoke.json"));
    char *t2 = ml_t_replace(text, "/usr/share/datasets/fashion-mnist", data);
    free(text);
    ML_ASSERT(t2 != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_write(suite, sizeof(suite), dir, "fifo-data.json", t2));
    free(t2);
    int rc = ml_t_sh(&out, "timeout 60 \"$ML_BIN\" validate %s", suite);
    ML_ASSERT_MSG(rc == 2 && strstr(out, "not a regular file"), "a data folder of FIFOs: exit %d: %s", rc, out);
    free(out);
    /* a file larger than a reader allows is refused before it is read */
    char big[600];
    snprintf(big, sizeof(big), "%s/big", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(big, "0123456789", 10));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_fs_read_max(&text, NULL, big, 9));
    ml_t_rmrf(dir);
}

/* ---- 4 and 5. tampered cell files and damaged cache entries -------------- */

/* Changes the first digit after "test_acc": in path (0.85 -> 0.95). */
static int tamper(const char *path) {
    char *text = NULL;
    if (ml_fs_read_all(&text, NULL, path) < 0) return -1;
    char *p = strstr(text, "\"test_acc\":");
    while (p && *p && !(*p >= '0' && *p <= '9')) p++;
    while (p && *p && *p != '.') p++;
    if (!p || !p[1]) { free(text); return -1; }
    p[1] = p[1] == '9' ? '1' : (char)(p[1] + 1);
    int rc = ml_fs_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

static void test_hostile__tampered_cell_and_cache(void) {
    char dir[256], suite[600], path[700], *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "hostile-cell"));
    ML_ASSERT_EQ_INT(0, tiny_suite(suite, sizeof(suite), dir, 0));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run %s -o %s/out --quiet", suite, dir));
    free(out);
    char *want = stable(dir, "out");
    ML_ASSERT(want != NULL);
    /* one digit changed in the cell file: noticed, said, recomputed */
    snprintf(path, sizeof(path), "%s/out/tiny.cells/default.json", dir);
    ML_ASSERT_EQ_INT(0, tamper(path));
    int rc = ml_t_cli(&out, "run %s -o %s/out --quiet", suite, dir);
    ML_ASSERT_MSG(rc == 0 && strstr(out, "does not match its checksum"), "tampered cell: exit %d: %s", rc, out);
    free(out);
    char *got = stable(dir, "out");
    ML_ASSERT_MSG(got && !strcmp(want, got), "a tampered cell's number reached the results");
    free(got);
    /* cache entries that are not regular files: a folder, a FIFO, a link to /dev/zero, a loop
     * (the cell's file and the store's records of finished jobs go, so the cell runs and reads them) */
    static const char *const kinds[] = { "folder", "fifo", "zero", "loop" };
    for (int k = 0; k < 4; k++) {
        char cmd[1400];
        snprintf(cmd, sizeof(cmd), "e=$(ls %s/out/cache/*.bin | head -1) && rm -f \"$e\" && case %s in "
                 "folder) mkdir \"$e\" && touch \"$e/x\";; fifo) mkfifo \"$e\";; zero) ln -s /dev/zero \"$e\";; "
                 "loop) ln -s \"$e\" \"$e\";; esac && rm -rf %s/out/tiny.cells %s/out/cache/jobs", dir, kinds[k], dir, dir);
        ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "%s", cmd));
        rc = ml_t_sh(&out, "timeout 300 \"$ML_BIN\" run %s -o %s/out --quiet", suite, dir);
        ML_ASSERT_MSG(rc == 0 && strstr(out, "note: cache entry"), "cache entry as a %s: exit %d: %s", kinds[k], rc, out);
        free(out);
        got = stable(dir, "out");
        ML_ASSERT_MSG(got && !strcmp(want, got), "results changed after a damaged cache entry (%s)", kinds[k]);
        free(got);
    }
    free(want);
    ml_t_rmrf(dir);
}

/* ---- 6. the parent killed alone; who holds the lock ---------------------- */

static pid_t spawn_run(const char *suite, const char *out_dir, int jobs) {
    const char *bin = getenv("ML_BIN");
    char j[16];
    snprintf(j, sizeof(j), "%d", jobs);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(bin ? bin : "build/mergelab", "mergelab", "run", suite, "-o", out_dir, "--quiet", "--jobs", j, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The pids whose parent is ppid (from /proc). */
static int children_of(pid_t ppid, pid_t *kids, int max) {
    char cmd[128], *out = NULL;
    int n = 0;
    snprintf(cmd, sizeof(cmd), "ps -o pid= --ppid %ld", (long)ppid);
    if (ml_t_sh(&out, "%s", cmd) < 0) return 0;
    for (char *p = out; *p && n < max;) {
        long v = strtol(p, &p, 10);
        if (v > 0) kids[n++] = (pid_t)v;
        while (*p == ' ' || *p == '\n') p++;
        if (*p && (*p < '0' || *p > '9')) break;
    }
    free(out);
    return n;
}

static void test_hostile__parent_killed_alone(void) {
    char dir[256], suite[600], out_dir[700], *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "hostile-orphan"));
    ML_ASSERT_EQ_INT(0, tiny_suite(suite, sizeof(suite), dir, 1));
    snprintf(out_dir, sizeof(out_dir), "%s/whole", dir);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run %s -o %s --quiet --no-cache", suite, out_dir));
    free(out);
    char *want = stable(dir, "whole");
    ML_ASSERT(want != NULL);
    snprintf(out_dir, sizeof(out_dir), "%s/parts", dir);
    pid_t parent = spawn_run(suite, out_dir, 2), kids[16];
    int nk = 0;
    for (int i = 0; i < 400 && nk == 0; i++) {   /* wait for a worker */
        usleep(25000);
        nk = children_of(parent, kids, 16);
    }
    ML_ASSERT_MSG(nk > 0, "no worker appeared");
    /* a second run names the holder of the folder */
    int rc = ml_t_cli(&out, "run %s -o %s --quiet", suite, out_dir);
    char want_pid[64];
    snprintf(want_pid, sizeof(want_pid), "pid %ld on ", (long)parent);
    ML_ASSERT_MSG(rc == 2 && strstr(out, want_pid) && strstr(out, "since"), "second run: exit %d: %s", rc, out);
    free(out);
    kill(parent, SIGKILL);
    waitpid(parent, NULL, 0);
    int alive = nk;
    for (int i = 0; i < 200 && alive; i++) {
        usleep(10000);
        alive = 0;
        for (int k = 0; k < nk; k++) alive += kill(kids[k], 0) == 0;
    }
    ML_ASSERT_MSG(alive == 0, "%d worker(s) outlived their killed parent", alive);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run %s -o %s --quiet --jobs 2", suite, out_dir));   /* resumes */
    free(out);
    char *got = stable(dir, "parts");
    ML_ASSERT_MSG(got && !strcmp(want, got), "the resumed run differs from an uninterrupted one");
    free(got);
    free(want);
    ml_t_rmrf(dir);
}

/* ---- 7. a report is replaced whole --------------------------------------- */

/* The names in folder, sorted, as one string. */
static char *listing(const char *folder) {
    char *out = NULL;
    if (ml_t_sh(&out, "ls -A %s | sort | tr '\\n' ' '", folder) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_hostile__report_whole(void) {
    const char *res = ml_t_run_once("suites/smoke.json");
    char dir[256], rep[600], stale[700], *out = NULL;
    ML_ASSERT(res != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "hostile-rep"));
    snprintf(rep, sizeof(rep), "%s/rep", dir);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "report %s -o %s --formats svg", res, rep));
    free(out);
    char *old = listing(rep);
    /* leftovers of a killed writer (a dead pid): a staging folder and a temp file */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(stale, sizeof(stale), "%s.tmp.%ld", rep, (long)dead);
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(stale));
    char tmpf[800];
    snprintf(tmpf, sizeof(tmpf), "%s/base.json.tmp.%ld.0", dir, (long)dead);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(tmpf, "partial", 7));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "report %s -o %s --formats png", res, rep));
    free(out);
    char *fresh = listing(rep);
    ML_ASSERT_MSG(old && fresh && strcmp(old, fresh) && !strstr(fresh, ".svg"), "the svg report was not replaced whole");
    ML_ASSERT_MSG(!ml_fs_exists(stale), "a dead writer's staging folder was left");
    char base[700];
    snprintf(base, sizeof(base), "%s/base.json", dir);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "bless %s --baseline %s", res, base));
    free(out);
    ML_ASSERT_MSG(!ml_fs_exists(tmpf), "a dead writer's temp file was left beside the baseline");
    /* killed at moments spread over a report: the folder is the old report or the new one */
    for (int k = 0; k < 6; k++) {
        const char *fmt = k % 2 ? "svg" : "png";
        char *before = listing(rep);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            const char *bin = getenv("ML_BIN");
            execl(bin ? bin : "build/mergelab", "mergelab", "report", res, "-o", rep, "--formats", fmt, (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)(50000 + 120000 * k));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        char *after = listing(rep);
        int whole = after && before && (!strcmp(after, before) || !strstr(after, k % 2 ? ".png" : ".svg"));
        ML_ASSERT_MSG(whole, "kill %d left a mix: %s", k, after ? after : "(none)");
        free(before);
        free(after);
    }
    /* a folder that holds anything but a report is not replaced */
    char other[700], keep[800];
    snprintf(other, sizeof(other), "%s/mine", dir);
    snprintf(keep, sizeof(keep), "%s/notes.txt", other);
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(other));
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(keep, "mine", 4));
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "report %s -o %s", res, other));
    ML_ASSERT_STR_HAS(out, "not a mergelab report");
    free(out);
    ML_ASSERT(ml_fs_exists(keep));
    free(old);
    free(fresh);
    ml_t_rmrf(dir);
}

/* ---- 8. names, folders and files that are not what they claim ------------ */

static void test_hostile__names_and_files(void) {
    char dir[256], path[600], *out = NULL, *text = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "hostile-names"));
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, "suites/smoke.json"));
    static const struct { const char *from, *to, *says; } cases[] = {
        { "\"name\": \"smoke\"", "\"name\": \"../smoke\"", "$.name" },
        { "\"name\": \"A\"", "\"name\": \"../A\"", "$.specialists[0].name" },
        { "\"name\": \"average\"", "\"name\": \"a/../../b\"", "$.merges[0]" },
        { "\"seed\": 1,", "\"seed\": 1, \"seed\": 2,", "appears 2 times" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = ml_t_replace(text, cases[i].from, cases[i].to);
        ML_ASSERT_MSG(t != NULL, "case %zu: '%s' not in smoke.json", i, cases[i].from);
        ml_t_write(path, sizeof(path), dir, "bad.json", t);
        free(t);
        int rc = ml_t_cli(&out, "validate %s", path);
        ML_ASSERT_MSG(rc == 2 && strstr(out, cases[i].says), "case %zu: exit %d: %s", i, rc, out);
        free(out);
    }
    free(text);
    /* a file that is not JSON is never echoed */
    ml_t_write(path, sizeof(path), dir, "secret", "root:x:hunter2-secret:0:0\n");
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "validate %s", path));
    ML_ASSERT_MSG(!strstr(out, "hunter2"), "the file's content was echoed: %s", out);
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "show %s", path));
    ML_ASSERT_MSG(!strstr(out, "hunter2"), "the file's content was echoed: %s", out);
    free(out);
    /* a string schema_version is named as what it is */
    ml_t_write(path, sizeof(path), dir, "sv.json", "{\"schema_version\": \"2\"}");
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "show %s", path));
    ML_ASSERT_STR_HAS(out, "expected a number");
    free(out);
    /* a suite larger than the machine: refused at validate, unless --force */
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, "suites/gpt-smoke.json"));
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(model, "n_embd"), 4096);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(model, "n_layer"), 48);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(model, "n_head"), 32);
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    ml_t_write(path, sizeof(path), dir, "huge.json", text);
    free(text);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "validate %s", path));
    ML_ASSERT_STR_HAS(out, "more than this machine's");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "validate %s --force", path));
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "run %s -o %s/huge", path, dir));
    ML_ASSERT_STR_HAS(out, "--ignore-memory");
    free(out);
    ml_t_rmrf(dir);
}

/* A folder the user may not write (as root: run as nobody): a clean error
 * naming the path, exit 3, no crash. */
static void test_hostile__read_only_folder(void) {
    char dir[256], suite[600], *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "hostile-ro"));
    ML_ASSERT_EQ_INT(0, tiny_suite(suite, sizeof(suite), dir, 0));
    ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "mkdir %s/ro && chmod 0555 %s/ro && chmod 0755 %s && chmod 0644 %s", dir, dir, dir, suite));
    int rc;
    if (geteuid() == 0)
        rc = ml_t_sh(&out, "cp \"$ML_BIN\" %s/mergelab && chmod 0755 %s/mergelab && cd %s && "
                     "setpriv --reuid=65534 --regid=65534 --clear-groups ./mergelab run tiny.json -o ro/out --no-cache",
                     dir, dir, dir);
    else
        rc = ml_t_cli(&out, "run %s -o %s/ro/out --no-cache", suite, dir);
    ML_ASSERT_MSG(rc == 3 && strstr(out, "ro/out") && strstr(out, "Permission denied"), "exit %d: %s", rc, out);
    free(out);
    ml_t_rmrf(dir);
}

const ml_test ml_tests_hostile[] = {
    { "hostile__output_targets", test_hostile__output_targets, "e2e" },
    { "hostile__empty_paths", test_hostile__empty_paths, "e2e" },
    { "hostile__special_inputs", test_hostile__special_inputs, "e2e" },
    { "hostile__tampered_cell_and_cache", test_hostile__tampered_cell_and_cache, "e2e" },
    { "hostile__parent_killed_alone", test_hostile__parent_killed_alone, "e2e" },
    { "hostile__report_whole", test_hostile__report_whole, "e2e" },
    { "hostile__names_and_files", test_hostile__names_and_files, "e2e" },
    { "hostile__read_only_folder", test_hostile__read_only_folder, "e2e" },
    { NULL, NULL, NULL }
};
