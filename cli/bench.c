/*
 * cli/bench.c: `mergelab bench`, which runs the speed benchmark
 * (bench/bench.c, built as mlbench beside this binary) with the same
 * arguments. The benchmark is its own program because it races PyTorch in
 * child processes and times kernels directly; the CLI only finds it.
 * Not here: any measurement.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ml_cmd_bench(int argc, char **argv) {
    char self[4096], path[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "mergelab bench: cannot find this program's folder: %s\n", strerror(errno));
        return EXIT_FAILED;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(path, sizeof(path), "%s/mlbench", self);
    if (access(path, X_OK) != 0) {
        fprintf(stderr, "mergelab bench: %s: not built (run: make bench, or make %s)\n", path,
                strstr(path, "/build/") ? "build/mlbench" : "BUILD/mlbench");
        return EXIT_USAGE;
    }
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    if (!args) return EXIT_FAILED;
    args[0] = path;
    for (int i = 1; i < argc; i++) args[i] = argv[i];
    fflush(NULL);
    execv(path, args);
    fprintf(stderr, "mergelab bench: cannot run %s: %s\n", path, strerror(errno));
    free(args);
    return EXIT_FAILED;
}
