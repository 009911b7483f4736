/*
 * tests/test_layout.c: rules of the source layout that a compiler does not
 * check. Only the CLI (the files of cli/) prints to the
 * terminal or ends the process: library code returns an error and sets
 * ml_error_last(), and hands progress and detail lines to a callback.
 * Scans every library source file for printf, puts, perror, exit, abort and
 * fprintf to stderr or stdout. One exception: sched/sched.c's forked
 * worker ends with _exit, once.
 */
#include "tests/test.h"
#include "core/fs.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ident(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

/* The first forbidden call in text at or after *from, as "name", or NULL;
 * *line gets its line, *from the text after it. */
static const char *forbidden_from(const char *text, const char **from, int *line) {
    static const char *const calls[] = { "printf(", "puts(", "perror(", "exit(", "_exit(", "abort(", NULL };
    static const char *const streams[] = { "fprintf(stderr", "fprintf(stdout", "fputs(", NULL };
    *line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') { (*line)++; continue; }
        if (p < *from || (p > text && ident(p[-1]))) continue;
        for (int i = 0; calls[i]; i++)
            if (!strncmp(p, calls[i], strlen(calls[i]))) { *from = p + strlen(calls[i]); return calls[i]; }
        for (int i = 0; streams[i]; i++)
            if (!strncmp(p, streams[i], strlen(streams[i]))) { *from = p + strlen(streams[i]); return streams[i]; }
    }
    return NULL;
}

static const char *forbidden(const char *text, int *line) {
    const char *from = text;
    return forbidden_from(text, &from, line);
}

static int cli_file(const char *path) {
    return !strncmp(path, "cli/", 4);
}

static void test_layout__only_cli_prints(void) {
    static const char *const globs[] = { "core/*.c", "kernels/*.c", "kernels/ref/*.c", "data/*.c", "suite/*.c", "study/*.c", "sched/*.c", "store/*.c", "analysis/*.c",
                                         "reports/*.c", NULL };
    int files = 0, bad = 0;
    for (int g = 0; globs[g]; g++) {
        glob_t gl;
        if (glob(globs[g], 0, NULL, &gl) != 0) continue;
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            const char *path = gl.gl_pathv[i];
            char *text = NULL;
            size_t len;
            int line;
            if (cli_file(path) || ml_fs_read_all(&text, &len, path) < 0) continue;
            files++;
            const char *from = text, *what;
            int exempt = 0;
            /* the scheduler's forked worker ends with _exit: the one process end library code makes */
            while ((what = forbidden_from(text, &from, &line)) && !exempt && !strcmp(path, "sched/sched.c") &&
                   !strcmp(what, "_exit("))
                exempt = 1;
            if (what) {
                fprintf(stderr, "    %s:%d: %s in library code (only the CLI prints or exits)\n", path, line, what);
                bad++;
            }
            free(text);
        }
        globfree(&gl);
    }
    ML_ASSERT_MSG(files > 50, "read only %d library files (run from the repository root)", files);
    ML_ASSERT_EQ_INT(0, bad);
    /* the scan must be able to fail */
    int l;
    ML_ASSERT(forbidden("int f(void) {\n    fprintf(stderr, \"x\");\n}", &l) && l == 2);
    ML_ASSERT(forbidden("  exit(3);", &l) != NULL);
    ML_ASSERT(forbidden("snprintf(b, 4, \"x\"); ml_rbuf_printf(b, \"y\");", &l) == NULL);
}

const ml_test ml_tests_layout[] = {
    { "layout__only_cli_prints", test_layout__only_cli_prints, "unit" },
    { NULL, NULL, NULL }
};
