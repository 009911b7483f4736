/*
 * cli/cli.h: what the command files of cli/
 * share. They are the program, not the library: only they print errors
 * and choose exit codes.
 * Exit codes (the contract with CI): 0 ok, 1 regression found, 2 bad input
 * or usage, 3 a run failed.
 */
#ifndef ML_CLI_CLI_H
#define ML_CLI_CLI_H

#include <stddef.h>

enum { EXIT_OK = 0, EXIT_REGRESSION = 1, EXIT_USAGE = 2, EXIT_FAILED = 3 };

/* Prints the library's last error and maps the code to an exit code. */
int ml_cli_fail(int error);
/* "mergelab CMD: <fmt with arg>" and the command's usage line; EXIT_USAGE. */
int ml_cli_usage(const char *cmd, const char *fmt, const char *arg);
/* "mergelab ARGS..." for provenance. */
void ml_cli_join_args(char *buf, size_t size, int argc, char **argv);
/* Parses an integer option value in [lo, hi]; -1 (after printing) if bad. */
int ml_cli_int(const char *cmd, const char *opt, const char *val, int lo, int hi, int *out);

int ml_cmd_run(int argc, char **argv);
int ml_cmd_gather(int argc, char **argv);
int ml_cmd_run_job(int argc, char **argv);
int ml_cmd_list(int argc, char **argv);
int ml_cmd_plan(int argc, char **argv);
int ml_cmd_show(int argc, char **argv);
int ml_cmd_compare(int argc, char **argv);
int ml_cmd_history(int argc, char **argv);
int ml_cmd_bench(int argc, char **argv);
int ml_cmd_report(int argc, char **argv);
int ml_cmd_findings(int argc, char **argv);

#endif
