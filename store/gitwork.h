/*
 * store/gitwork.h: the git operations cross-commit work needs (libgit2):
 * listing commits of a range or a first-parent line, and checking a commit
 * out into a temporary worktree to build and run it there.
 * Not here: provenance and single revisions (provenance.h).
 * Errors: ML_ENOTFOUND (not a repository, unknown revision), ML_EINVALID
 * (bad range), ML_ERROR (libgit2 failed; its message is included).
 */
#ifndef ML_STORE_GITWORK_H
#define ML_STORE_GITWORK_H

#include <stddef.h>

typedef struct {
    char      hex[41];
    long long time;          /* committer time, seconds since the epoch */
    char      summary[96];   /* first line of the message */
} ml_git_commit;

/* The commits of `spec` in the repository holding repo_dir, oldest first:
 * "A..B" lists those reachable from B but not from A (as git log A..B);
 * a single revision lists its first-parent line back to the root.
 * At most `limit` (> 0) of the newest are kept. *out is the caller's to free. */
int ml_git_log(ml_git_commit **out, int *n, const char *repo_dir, const char *spec, int limit);

/* Checks commit `hex` out into a new worktree at `path` (which must not
 * exist), on a temporary branch "mergelab-wt-<hex12>", so builds there see
 * a real repository at that commit. */
int ml_git_worktree_add(const char *repo_dir, const char *path, const char *hex);
/* Removes that worktree (its files and its administrative data) and branch. */
int ml_git_worktree_remove(const char *repo_dir, const char *path, const char *hex);

#endif
