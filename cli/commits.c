/*
 * cli/commits.c: `mergelab run SUITE --commits A..B`.
 * For each commit of the range, oldest first: skip it when the store
 * already holds a complete result of the suite for it; otherwise check it
 * out into a temporary worktree (libgit2), build it there, and run the
 * suite with that build, from inside the worktree (so its provenance names
 * that commit), into ROOT/<machine>/<commit>. The suite file is the one
 * given (the same experiment on every commit), read by each commit's build.
 */
#include "cli/cli.h"
#include "store/gitwork.h"
#include "store/results.h"
#include "store/store.h"
#include "suite/suite.h"
#include "core/error.h"
#include "core/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int measured(const char *path) {
    cJSON *doc = NULL;
    int ok = ml_results_load(&doc, path) == 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete"));
    cJSON_Delete(doc);
    return ok;
}

static void rm_rf(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
}

/* Runs argv in dir with stdout/stderr to log (NULL: inherited); exit status or -1. */
static int spawn(char *const *argv, const char *dir, const char *log) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (dir && chdir(dir) < 0) _exit(127);
        if (log) {
            FILE *f = fopen(log, "w");
            if (!f || dup2(fileno(f), 1) < 0 || dup2(fileno(f), 2) < 0) _exit(127);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "mergelab: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void print_tail(const char *log, int lines) {
    char *text = NULL;
    size_t len;
    if (ml_fs_read_all(&text, &len, log) < 0) return;
    const char *p = text + len;
    for (int n = 0; p > text && n <= lines; p--)
        if (p[-1] == '\n') n++;
    fprintf(stderr, "%s", p);
    free(text);
}

int ml_cli_commits(int argc, char **argv, const char *range) {
    const char *suite_arg = NULL, *root = ML_STORE_DEFAULT_ROOT, *build = "make build/mergelab", *bin = "build/mergelab";
    char suite_abs[PATH_MAX], root_abs[PATH_MAX], machine[128], cwd[PATH_MAX];
    char *pass[32];
    int npass = 0, quiet = 0, error, rc = EXIT_OK;
    ml_git_commit *commits = NULL;
    int ncommits = 0, done = 0, skipped = 0, failed = 0;
    ml_suite *s = NULL;

    root = ml_store_root();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--commits")) i++;
        else if (!strcmp(o, "--build")) build = argv[++i];
        else if (!strcmp(o, "--bin")) bin = argv[++i];
        else if (!strcmp(o, "--results")) root = argv[++i];
        else if (!strcmp(o, "-o") || !strcmp(o, "--report") || !strcmp(o, "--cache"))
            return ml_cli_usage("run", "%s cannot be combined with --commits (each commit has its own folder)", o);
        else if (!strcmp(o, "--jobs") || !strcmp(o, "--only") || !strcmp(o, "--threads")) {
            if (npass + 2 >= 30) return ml_cli_usage("run", "%s", "too many options");
            pass[npass++] = argv[i];
            pass[npass++] = argv[++i];
        } else if (o[0] == '-') {
            if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) quiet = 1;
            if (npass + 1 >= 30) return ml_cli_usage("run", "%s", "too many options");
            pass[npass++] = argv[i];
        } else suite_arg = o;
    }
    /* validated with this build first: a typo should not cost a checkout and a build per commit */
    if ((error = ml_suite_load(&s, suite_arg)) < 0) return ml_cli_fail(error);
    if (!realpath(suite_arg, suite_abs) || !getcwd(cwd, sizeof(cwd))) {
        ml_suite_free(s);
        return ml_cli_usage("run", "cannot resolve the path of '%s'", suite_arg);
    }
    if ((error = ml_fs_mkdir_p(root)) < 0 || !realpath(root, root_abs)) {
        ml_suite_free(s);
        return error < 0 ? ml_cli_fail(error) : ml_cli_usage("run", "cannot resolve the results folder '%s'", root);
    }
    ml_store_machine(machine, sizeof(machine));
    if ((error = ml_git_log(&commits, &ncommits, ".", range, 100000)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
    if (ncommits == 0) {
        fprintf(stderr, "mergelab run: %s holds no commits\n", range);
        rc = EXIT_USAGE;
        goto cleanup;
    }
    if (!quiet) fprintf(stderr, "mergelab: %s: %d commit%s in %s\n", s->name, ncommits, ncommits == 1 ? "" : "s", range);

    for (int c = 0; c < ncommits; c++) {
        const ml_git_commit *k = &commits[c];
        char dir[PATH_MAX + 256], path[PATH_MAX + 512], tmp[] = "/tmp/mergelab-commit-XXXXXX", wt[PATH_MAX], log[PATH_MAX];
        char binpath[PATH_MAX * 2], cache[PATH_MAX + 8];
        snprintf(dir, sizeof(dir), "%s/%s/%s", root_abs, machine, k->hex);
        snprintf(path, sizeof(path), "%s/%s.json", dir, s->name);
        if (measured(path)) {
            skipped++;
            if (!quiet) fprintf(stderr, "[%d/%d] %.12s already measured: %s\n", c + 1, ncommits, k->hex, path);
            continue;
        }
        if (!mkdtemp(tmp)) {
            error = ml_error_set(ML_EOS, "mkdtemp: %s", strerror(errno));
            rc = ml_cli_fail(error);
            goto cleanup;
        }
        snprintf(wt, sizeof(wt), "%s/src", tmp);
        snprintf(log, sizeof(log), "%s/build.log", tmp);
        if (!quiet) fprintf(stderr, "[%d/%d] %.12s %s: checking out, building\n", c + 1, ncommits, k->hex, k->summary);
        if ((error = ml_git_worktree_add(".", wt, k->hex)) < 0) {
            rm_rf(tmp);
            rc = ml_cli_fail(error);
            goto cleanup;
        }
        char *sh[] = { "sh", "-c", (char *)build, NULL };
        int b = spawn(sh, wt, log);
        if (b != 0) {
            fprintf(stderr, "[%d/%d] %.12s: build failed ('%s' exited %d); its last lines:\n", c + 1, ncommits, k->hex,
                    build, b);
            print_tail(log, 15);
            failed++;
        } else {
            snprintf(binpath, sizeof(binpath), "%s/%s", wt, bin);
            snprintf(cache, sizeof(cache), "%s/cache", root_abs);
            char *args[48];
            int na = 0;
            args[na++] = binpath;
            args[na++] = "run";
            args[na++] = suite_abs;
            args[na++] = "-o";
            args[na++] = dir;
            args[na++] = "--cache";
            args[na++] = cache;
            for (int p = 0; p < npass; p++) args[na++] = pass[p];
            args[na] = NULL;
            int r = spawn(args, wt, NULL);
            if (r == 0 && measured(path)) done++;
            else {
                fprintf(stderr, "[%d/%d] %.12s: the run exited %d%s\n", c + 1, ncommits, k->hex, r,
                        r == 2 ? " (bad input for that commit's mergelab: it may predate this suite's format)" : "");
                failed++;
            }
        }
        if ((error = ml_git_worktree_remove(".", wt, k->hex)) < 0)
            fprintf(stderr, "mergelab: warning: %s\n", ml_error_last()->message);
        rm_rf(tmp);
    }
    printf("%d commit%s: %d measured, %d already measured, %d failed (results in %s/%s)\n", ncommits,
           ncommits == 1 ? "" : "s", done, skipped, failed, root_abs, machine);
    if (failed) rc = EXIT_FAILED;
cleanup:
    free(commits);
    ml_suite_free(s);
    return rc;
}
