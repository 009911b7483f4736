/*
 * store/gitwork.c: commit ranges and temporary worktrees with libgit2.
 */
#include "store/gitwork.h"
#include "core/error.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *git_msg(void) {
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

static int open_repo(git_repository **repo, const char *repo_dir) {
    int rc = git_repository_open_ext(repo, repo_dir ? repo_dir : ".", 0, NULL);
    if (rc == GIT_ENOTFOUND) return ml_error_set(ML_ENOTFOUND, "not a git repository: %s", repo_dir ? repo_dir : ".");
    if (rc < 0) return ml_error_set(ML_ERROR, "cannot open the git repository at %s: %s", repo_dir, git_msg());
    return 0;
}

static int resolve(git_oid *oid, git_repository *repo, const char *rev) {
    git_object *obj = NULL, *peeled = NULL;
    int rc = git_revparse_single(&obj, repo, rev);
    if (rc < 0) return ml_error_set(ML_ENOTFOUND, "unknown revision '%s'", rev);
    rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
    git_object_free(obj);
    if (rc < 0) return ml_error_set(ML_EINVALID, "revision '%s' is not a commit", rev);
    git_oid_cpy(oid, git_object_id(peeled));
    git_object_free(peeled);
    return 0;
}

int ml_git_log(ml_git_commit **out, int *n, const char *repo_dir, const char *spec, int limit) {
    git_repository *repo = NULL;
    git_revwalk *walk = NULL;
    ml_git_commit *list = NULL;
    git_oid oid;
    int error = 0, count = 0, cap = 0;
    *out = NULL;
    *n = 0;
    if (git_libgit2_init() < 0) return ml_error_set(ML_ERROR, "initialising libgit2: %s", git_msg());
    if ((error = open_repo(&repo, repo_dir)) < 0) goto cleanup;
    if (git_revwalk_new(&walk, repo) < 0) { error = ml_error_set(ML_ERROR, "revwalk: %s", git_msg()); goto cleanup; }
    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
    const char *dots = strstr(spec, "..");
    if (dots) {
        char a[256];
        git_oid from, to;
        if (dots == spec || !dots[2] || strstr(dots + 2, "..") || (size_t)(dots - spec) >= sizeof(a)) {
            error = ml_error_set(ML_EINVALID, "'%s' is not a range A..B", spec);
            goto cleanup;
        }
        memcpy(a, spec, (size_t)(dots - spec));
        a[dots - spec] = '\0';
        if ((error = resolve(&from, repo, a)) < 0 || (error = resolve(&to, repo, dots + 2)) < 0) goto cleanup;
        if (git_revwalk_push(walk, &to) < 0 || git_revwalk_hide(walk, &from) < 0) {
            error = ml_error_set(ML_ERROR, "walking %s: %s", spec, git_msg());
            goto cleanup;
        }
    } else {
        if ((error = resolve(&oid, repo, spec)) < 0) goto cleanup;
        git_revwalk_simplify_first_parent(walk);
        if (git_revwalk_push(walk, &oid) < 0) { error = ml_error_set(ML_ERROR, "walking %s: %s", spec, git_msg()); goto cleanup; }
    }
    while (count < limit && git_revwalk_next(&oid, walk) == 0) {
        git_commit *c = NULL;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            void *grown = list;
            if ((error = ml_realloc(&grown, (size_t)cap * sizeof(ml_git_commit))) < 0) goto cleanup;
            list = grown;
        }
        ml_git_commit *e = &list[count++];
        git_oid_tostr(e->hex, sizeof(e->hex), &oid);
        e->time = 0;
        e->summary[0] = '\0';
        if (git_commit_lookup(&c, repo, &oid) == 0) {
            const char *sum = git_commit_summary(c);
            e->time = (long long)git_commit_time(c);
            snprintf(e->summary, sizeof(e->summary), "%s", sum ? sum : "");
            git_commit_free(c);
        }
    }
    /* the walk gives newest first */
    for (int i = 0; i < count / 2; i++) {
        ml_git_commit t = list[i];
        list[i] = list[count - 1 - i];
        list[count - 1 - i] = t;
    }
    *out = list;
    *n = count;
    list = NULL;
cleanup:
    free(list);
    git_revwalk_free(walk);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return error;
}

static void wt_name(char *buf, size_t size, const char *hex) { snprintf(buf, size, "mergelab-wt-%.12s", hex); }

int ml_git_worktree_add(const char *repo_dir, const char *path, const char *hex) {
    git_repository *repo = NULL;
    git_commit *commit = NULL;
    git_reference *branch = NULL;
    git_worktree *wt = NULL;
    git_oid oid;
    char name[64];
    int error = 0;
    if (git_libgit2_init() < 0) return ml_error_set(ML_ERROR, "initialising libgit2: %s", git_msg());
    if ((error = open_repo(&repo, repo_dir)) < 0) goto cleanup;
    if (git_oid_fromstr(&oid, hex) < 0 || git_commit_lookup(&commit, repo, &oid) < 0) {
        error = ml_error_set(ML_ENOTFOUND, "no commit %s", hex);
        goto cleanup;
    }
    wt_name(name, sizeof(name), hex);
    /* a stale worktree of ours from a killed run would block the name */
    git_worktree *old = NULL;
    if (git_worktree_lookup(&old, repo, name) == 0) {
        git_worktree_prune_options po = GIT_WORKTREE_PRUNE_OPTIONS_INIT;
        po.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_WORKING_TREE;
        git_worktree_prune(old, &po);
        git_worktree_free(old);
    }
    if (git_branch_create(&branch, repo, name, commit, 1) < 0) {
        error = ml_error_set(ML_ERROR, "creating branch %s: %s", name, git_msg());
        goto cleanup;
    }
    git_worktree_add_options opts;
    git_worktree_add_options_init(&opts, GIT_WORKTREE_ADD_OPTIONS_VERSION);
    opts.ref = branch;
    if (git_worktree_add(&wt, repo, name, path, &opts) < 0) {
        error = ml_error_set(ML_ERROR, "checking out %.12s into %s: %s", hex, path, git_msg());
        goto cleanup;
    }
cleanup:
    git_worktree_free(wt);
    git_reference_free(branch);
    git_commit_free(commit);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return error;
}

int ml_git_worktree_remove(const char *repo_dir, const char *path, const char *hex) {
    git_repository *repo = NULL;
    git_worktree *wt = NULL;
    git_reference *branch = NULL;
    char name[64];
    int error = 0;
    (void)path;
    if (git_libgit2_init() < 0) return ml_error_set(ML_ERROR, "initialising libgit2: %s", git_msg());
    if ((error = open_repo(&repo, repo_dir)) < 0) goto cleanup;
    wt_name(name, sizeof(name), hex);
    if (git_worktree_lookup(&wt, repo, name) == 0) {
        git_worktree_prune_options po = GIT_WORKTREE_PRUNE_OPTIONS_INIT;
        po.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_WORKING_TREE;
        if (git_worktree_prune(wt, &po) < 0) {
            error = ml_error_set(ML_ERROR, "removing worktree %s: %s", name, git_msg());
            goto cleanup;
        }
    }
    if (git_branch_lookup(&branch, repo, name, GIT_BRANCH_LOCAL) == 0 && git_branch_delete(branch) < 0)
        error = ml_error_set(ML_ERROR, "deleting branch %s: %s", name, git_msg());
cleanup:
    git_reference_free(branch);
    git_worktree_free(wt);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return error;
}
