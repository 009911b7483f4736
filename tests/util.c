/*
 * tests/util.c: shared test helpers (see util.h).
 */
#include "tests/util.h"
#include "core/fs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int ml_t_tmpdir(char *path, size_t size, const char *tag) {
    snprintf(path, size, "/tmp/mltest-%s-XXXXXX", tag);
    return mkdtemp(path) ? 0 : -1;
}

void ml_t_rmrf(const char *path) {
    char cmd[1024];
    if (strncmp(path, "/tmp/mltest-", 12) != 0) return;   /* never anything else */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "    warning: could not remove %s\n", path);
}

int ml_t_cli(char **out, const char *fmt, ...) {
    char args[4096], cmd[8192], log[] = "/tmp/mltest-cli-XXXXXX";
    const char *bin = getenv("ML_BIN");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (!bin) bin = "build/mergelab";
    int fd = mkstemp(log);
    if (fd < 0) return -1;
    close(fd);
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>&1 </dev/null", bin, args, log);
    int st = system(cmd);
    size_t len;
    *out = NULL;
    if (ml_fs_read_all(out, &len, log) < 0) *out = strdup("");
    unlink(log);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

char *ml_t_replace(const char *src, const char *from, const char *to) {
    const char *at = strstr(src, from);
    if (!at) return NULL;
    size_t a = (size_t)(at - src), lf = strlen(from), lt = strlen(to), ls = strlen(src);
    char *r = malloc(ls - lf + lt + 1);
    if (!r) return NULL;
    memcpy(r, src, a);
    memcpy(r + a, to, lt);
    memcpy(r + a + lt, at + lf, ls - a - lf + 1);
    return r;
}

int ml_t_write(char *path, size_t size, const char *dir, const char *name, const char *text) {
    snprintf(path, size, "%s/%s", dir, name);
    return ml_fs_write_atomic(path, text, strlen(text));
}
