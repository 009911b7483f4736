/*
 * tests/test_layout.c: rules of the source layout that a compiler does not
 * check. Only the CLI (the files of cli/) prints to the
 * terminal or ends the process: library code returns an error and sets
 * ml_error_last(), and hands progress and detail lines to a callback.
 * Scans every library source file for printf, puts, perror, exit, abort and
 * fprintf to stderr or stdout. One exception: sched/sched.c's forked
 * worker ends with _exit, once.
 * The folders are layers along the data path; a file includes headers of
 * its own folder and the folders below it, never above (the order is
 * ml_layers below, the README's layout diagram). And no function of the
 * harness (every folder but core, kernels and data) is longer than 150
 * lines: a longer one is a protocol that wants to be phases.
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
            /* the scheduler's forked workers (local, and an MPI rank's child) end with _exit: the
             * one process end library code makes */
            while ((what = forbidden_from(text, &from, &line)) && !exempt &&
                   (!strcmp(path, "sched/sched.c") || !strcmp(path, "sched/mpi.c")) && !strcmp(what, "_exit("))
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

/* Bottom to top: each folder may include its own and those before it. */
static const char *const ml_layers[] = { "core", "kernels", "data", "suite", "store", "study", "analysis",
                                         "reports", "sched", "cli", "tests", "bench", NULL };

static int layer_of(const char *path) {
    for (int i = 0; ml_layers[i]; i++) {
        size_t n = strlen(ml_layers[i]);
        if (!strncmp(path, ml_layers[i], n) && path[n] == '/') return i;
    }
    return -1;
}

/* The first include in text of a folder above `own` (or unknown), as its
 * path; NULL when there is none. */
static const char *upward_include(const char *text, int own, int *line, char *buf, size_t size) {
    *line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') { (*line)++; continue; }
        if ((p > text && p[-1] != '\n') || strncmp(p, "#include \"", 10)) continue;
        const char *q = p + 10, *end = strchr(q, '"');
        if (!end || !memchr(q, '/', (size_t)(end - q))) continue;   /* same-folder or system style */
        snprintf(buf, size, "%.*s", (int)(end - q), q);
        int l = layer_of(buf);
        if (l < 0 || l > own) return buf;
    }
    return NULL;
}

static void test_layout__no_upward_include(void) {
    static const char *const globs[] = { "core/*.[ch]", "kernels/*.[ch]", "kernels/ref/*.[ch]", "data/*.[ch]",
                                         "suite/*.[ch]", "store/*.[ch]", "study/*.[ch]", "analysis/*.[ch]",
                                         "reports/*.[ch]", "sched/*.[ch]", "cli/*.[ch]", NULL };
    int files = 0, bad = 0, line;
    char inc[256];
    for (int g = 0; globs[g]; g++) {
        glob_t gl;
        if (glob(globs[g], 0, NULL, &gl) != 0) continue;
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            const char *path = gl.gl_pathv[i], *up;
            char *text = NULL;
            size_t len;
            if (ml_fs_read_all(&text, &len, path) < 0) continue;
            files++;
            if ((up = upward_include(text, layer_of(path), &line, inc, sizeof(inc)))) {
                fprintf(stderr, "    %s:%d: includes %s, a folder above its own\n", path, line, up);
                bad++;
            }
            free(text);
        }
        globfree(&gl);
    }
    ML_ASSERT_MSG(files > 80, "read only %d source files (run from the repository root)", files);
    ML_ASSERT_EQ_INT(0, bad);
    /* the scan must be able to fail */
    ML_ASSERT(upward_include("#include \"core/error.h\"\n#include \"cli/cli.h\"\n", layer_of("store/x.c"), &line, inc,
                             sizeof(inc)) != NULL && line == 2);
    ML_ASSERT(upward_include("#include \"harness/x.h\"\n", layer_of("cli/x.c"), &line, inc, sizeof(inc)) != NULL);
    ML_ASSERT(upward_include("#include \"study/study.h\"\n#include <stdio.h>\n", layer_of("study/x.c"), &line, inc,
                             sizeof(inc)) == NULL);
}

/* The longest function body in text (a line starting with a letter that
 * opens a definition, to the next line starting with '}'), its first line. */
static int longest_function(const char *text, int *at) {
    int line = 1, start = 0, best = 0;
    for (const char *p = text; *p; p++) {
        int bol = p == text || p[-1] == '\n';
        if (bol && start == 0 && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
            const char *eol = strchr(p, '\n');
            size_t n = eol ? (size_t)(eol - p) : strlen(p);
            /* a definition's first line: has '(' and does not end with ';' */
            if (memchr(p, '(', n) && p[n - 1] != ';' && strncmp(p, "typedef", 7) && strncmp(p, "struct", 6) &&
                strncmp(p, "enum", 4) && strncmp(p, "static const", 12))
                start = line;
        } else if (bol && start && *p == '}') {
            if (line - start + 1 > best) { best = line - start + 1; *at = start; }
            start = 0;
        }
        if (*p == '\n') line++;
    }
    return best;
}

static void test_layout__short_functions(void) {
    static const char *const globs[] = { "suite/*.c", "store/*.c", "study/*.c", "analysis/*.c", "reports/*.c",
                                         "sched/*.c", "cli/*.c", NULL };
    int files = 0, bad = 0, at = 0;
    for (int g = 0; globs[g]; g++) {
        glob_t gl;
        if (glob(globs[g], 0, NULL, &gl) != 0) continue;
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            char *text = NULL;
            size_t len;
            if (ml_fs_read_all(&text, &len, gl.gl_pathv[i]) < 0) continue;
            files++;
            int n = longest_function(text, &at);
            if (n > 150) {
                fprintf(stderr, "    %s:%d: a function of %d lines (at most 150)\n", gl.gl_pathv[i], at, n);
                bad++;
            }
            free(text);
        }
        globfree(&gl);
    }
    ML_ASSERT_MSG(files > 30, "read only %d harness files", files);
    ML_ASSERT_EQ_INT(0, bad);
    /* the scan must be able to fail: a 200-line function */
    char *big = malloc(4096);
    ML_ASSERT(big != NULL);
    strcpy(big, "static int f(void) {\n");
    for (int i = 0; i < 200; i++) strcat(big, "x;\n");
    strcat(big, "}\nint g(void) {\n}\n");
    ML_ASSERT_EQ_INT(202, longest_function(big, &at));
    ML_ASSERT_EQ_INT(1, at);
    free(big);
}

const ml_test ml_tests_layout[] = {
    { "layout__only_cli_prints", test_layout__only_cli_prints, "unit" },
    { "layout__no_upward_include", test_layout__no_upward_include, "unit" },
    { "layout__short_functions", test_layout__short_functions, "unit" },
    { NULL, NULL, NULL }
};
