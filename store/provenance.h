/*
 * store/provenance.h: where and how a run happens, recorded next to its
 * results so a number can always be traced back to a source tree, a build,
 * a BLAS configuration and a machine.
 * Owns:     the provenance JSON object, git revision resolution (libgit2),
 *           the ISO-8601 UTC timestamp format used in result files.
 * Not here: writing results (results.c), deciding what counts as the same
 *           machine or commit when comparing (gate.c, compare).
 * Memory:   the caller owns the cJSON object from ml_provenance_collect.
 * Errors:   0 or a negative ML_E*, reason in ml_error_last().
 */
#ifndef ML_STORE_PROVENANCE_H
#define ML_STORE_PROVENANCE_H

#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

/* Collects where and how a run happens, as a new cJSON object:
 * {
 *   "repository": {"path": "/abs/workdir", "commit": "40-hex" | null (unborn),
 *                  "tree": "40-hex" | null (the commit's source tree id),
 *                  "branch": "main" | null (detached), "dirty": false,
 *                  "diff_sha256": "64-hex" | null (clean)}
 *                 | null, then also "repository_error": "not a git repository: DIR"
 *                   (or why DIR's repository could not be opened),
 *   "build":     {"commit": build_commit, "compiler": build_cc, "cflags": build_cflags},
 *   "blas":      {"config": "...", "corename": "...", "threads": N,
 *                 "env": {"OPENBLAS_CORETYPE": "..." | null, "OPENBLAS_L2_SIZE": ..., "OPENBLAS_NUM_THREADS": ..., "MERGELAB_BLAS_CORE": ...}},
 *   "platform":  {"blas": "OpenBLAS 0.3.21", "blas_core": "Haswell", "blas_choice": "pinned",
 *                 "blas_requested": "Haswell" | null, "kernels_isa": "avx2", "libc": "glibc 2.36",
 *                 "note": "why the choice was not honoured" | null}  (kernels/platform.h;
 *                 `run` adds "threads", the suite's thread count, which is part of it),
 *   "host":      {"hostname": "...", "os": "Linux 6.1.0 x86_64", "cpu": "model name" | "unknown", "ncpu": N},
 *   "libraries": {"libgit2": "1.5.1", "cjson": "1.7.15", "openblas": "0.3.21"}
 * }
 * repo_dir: where to look for the repository (searched upwards; NULL means
 *   "."); "path" is the repository's working directory without a trailing
 *   slash (the git dir for a bare repository, which is never dirty).
 * Dirty: a tracked file differs from HEAD in the index or the working tree;
 *   untracked and ignored files do not count. diff_sha256 is the SHA-256 of
 *   the patch text of that difference (what `git diff HEAD` prints). With an
 *   unborn HEAD everything in the index counts as a change.
 * build_*: stored as given; NULL becomes JSON null.
 * *out is NULL on failure. Returns 0, ML_EINVALID (out is NULL), ML_ENOMEM,
 * or ML_ERROR when an opened repository cannot be read. Not being inside a
 * repository is not an error. */
int ml_provenance_collect(cJSON **out, const char *repo_dir, const char *build_commit,
                          const char *build_cc, const char *build_cflags);

/* Resolves a revision (branch, tag, short hash, HEAD~3, ...) in the
 * repository containing repo_dir into a 40-hex commit id plus NUL; tags are
 * peeled to their commit. hex is written only on success.
 * Returns 0; ML_ENOTFOUND "unknown revision 'X' in /path" when it does not
 * resolve (or is an ambiguous short id), ML_ENOTFOUND "not a git repository:
 * DIR" when repo_dir is in none; ML_EINVALID when rev is empty or names
 * something that is not a commit (a tree, a blob); ML_ERROR otherwise. */
int ml_git_resolve(char hex[41], const char *repo_dir, const char *rev);

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" (UTC); size should be at least 21.
 * A shorter buffer gets a truncated, NUL-terminated string; "" when t cannot
 * be represented. */
void ml_time_iso8601(char *buf, size_t size, time_t t);

#endif
