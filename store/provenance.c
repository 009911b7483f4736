/*
 * store/provenance.c: collects the provenance record of a run (source
 * tree state via libgit2, build strings, OpenBLAS setup, host, library
 * versions), resolves git revisions, formats UTC timestamps.
 * Not here: storing the record (results.c) or comparing two of them.
 * Memory:   the caller owns the returned cJSON; every libgit2 object made
 *           here is freed before returning.
 * Errors:   0 or ML_E*, reason in ml_error_last(). Read-only: nothing here
 *           writes to the repository (not even the index stat cache).
 */
#include "store/provenance.h"

#include "core/error.h"
#include "core/sha256.h"
#include "kernels/platform.h"

#include <cblas.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---- cJSON helpers: each returns 0 or ML_ENOMEM ---------------------- */

static int nomem(const char *key) {
    return ml_error_set(ML_ENOMEM, "out of memory building provenance field \"%s\"", key);
}

/* NULL val becomes JSON null, so callers need no branch per optional field. */
static int put_str(cJSON *o, const char *key, const char *val) {
    cJSON *item = val ? cJSON_CreateString(val) : cJSON_CreateNull();
    if (!item || !cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return nomem(key);
    }
    return 0;
}

static int put_num(cJSON *o, const char *key, double val) {
    return cJSON_AddNumberToObject(o, key, val) ? 0 : nomem(key);
}

static int put_bool(cJSON *o, const char *key, int val) {
    return cJSON_AddBoolToObject(o, key, val ? 1 : 0) ? 0 : nomem(key);
}

static int put_obj(cJSON **child, cJSON *o, const char *key) {
    *child = cJSON_AddObjectToObject(o, key);
    return *child ? 0 : nomem(key);
}

/* ---- libgit2 helpers ------------------------------------------------- */

static const char *git_msg(void) {
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

/* The working directory as the user would type it: libgit2 hands it back
 * with a trailing slash. A bare repository has none, so its git dir stands
 * in. *out is malloc'd. */
static int repo_display_path(char **out, git_repository *repo) {
    const char *p = git_repository_workdir(repo);
    size_t n;
    if (!p) p = git_repository_path(repo);
    n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    if (ml_malloc((void **)out, n + 1) < 0) return ML_ENOMEM;
    memcpy(*out, p, n);
    (*out)[n] = '\0';
    return 0;
}

/* The branch HEAD will point at once something is committed; HEAD itself
 * is a symbolic ref to a ref that does not exist yet. NULL when HEAD is
 * not symbolic (cannot normally happen while unborn). */
static int unborn_branch(char **out, git_repository *repo, const char *shown) {
    git_reference *ref = NULL;
    const char *target, *prefix = "refs/heads/";
    int error = 0;
    *out = NULL;
    if (git_reference_lookup(&ref, repo, "HEAD") < 0) {
        error = ml_error_set(ML_ERROR, "%s: reading HEAD: %s", shown, git_msg());
        goto cleanup;
    }
    target = git_reference_symbolic_target(ref);
    if (!target) goto cleanup;
    if (!strncmp(target, prefix, strlen(prefix))) target += strlen(prefix);
    if ((error = ml_malloc((void **)out, strlen(target) + 1)) < 0) goto cleanup;
    strcpy(*out, target);
cleanup:
    git_reference_free(ref);
    return error;
}

/* Rebuilds the text git_diff_to_buf would produce, line by line, straight
 * into the hash, so a huge diff (binary blobs, generated files) never has
 * to sit in memory. Content lines carry their origin as a prefix; headers
 * and "\ No newline" markers already contain their full text. */
static int hash_diff_line(const git_diff_delta *delta, const git_diff_hunk *hunk,
                          const git_diff_line *line, void *payload) {
    ml_sha256 *s = payload;
    if (line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
        line->origin == GIT_DIFF_LINE_DELETION) {
        char origin = line->origin;
        ml_sha256_update(s, &origin, 1);
    }
    ml_sha256_update(s, line->content, line->content_len);
    return 0;
}

/* Fills r with commit, branch, dirty, diff_sha256 for an open repository. */
static int repo_fields(cJSON *r, git_repository *repo, const char *shown) {
    git_reference *head = NULL;
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    git_diff *diff = NULL;
    char *branch = NULL;
    char commit_hex[GIT_OID_HEXSZ + 1] = "";
    char diff_hex[65] = "";
    int error = 0, rc, dirty = 0;

    rc = git_repository_head(&head, repo);
    if (rc == GIT_EUNBORNBRANCH) {
        /* No commit yet: diff against the empty tree (tree stays NULL). */
        if ((error = unborn_branch(&branch, repo, shown)) < 0) goto cleanup;
    } else if (rc < 0) {
        error = ml_error_set(ML_ERROR, "%s: reading HEAD: %s", shown, git_msg());
        goto cleanup;
    } else {
        const git_oid *oid = git_reference_target(head);
        if (!oid) {
            error = ml_error_set(ML_ERROR, "%s: HEAD does not resolve to a commit", shown);
            goto cleanup;
        }
        git_oid_tostr(commit_hex, sizeof(commit_hex), oid);
        /* A detached HEAD comes back as the ref "HEAD" itself, not a branch. */
        if (git_reference_is_branch(head)) {
            const char *name = git_reference_shorthand(head);
            if ((error = ml_malloc((void **)&branch, strlen(name) + 1)) < 0) goto cleanup;
            strcpy(branch, name);
        }
        if (git_commit_lookup(&commit, repo, oid) < 0 || git_commit_tree(&tree, commit) < 0) {
            error = ml_error_set(ML_ERROR, "%s: reading commit %s: %s", shown, commit_hex, git_msg());
            goto cleanup;
        }
    }

    /* A bare repository has no working tree that could differ from HEAD. */
    if (!git_repository_is_bare(repo)) {
        git_diff_options opts;
        /* Default flags already leave out untracked and ignored files, and
         * do not write refreshed stat data back to the index. This is what
         * `git diff HEAD` compares: HEAD against the index-then-workdir.
         * Options come from the init function, not GIT_DIFF_OPTIONS_INIT,
         * which leaves fields out and trips -Wmissing-field-initializers. */
        if (git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION) < 0 ||
            git_diff_tree_to_workdir_with_index(&diff, repo, tree, &opts) < 0) {
            error = ml_error_set(ML_ERROR, "%s: diffing HEAD against the working tree: %s",
                                 shown, git_msg());
            goto cleanup;
        }
        dirty = git_diff_num_deltas(diff) > 0;
        if (dirty) {
            ml_sha256 s;
            uint8_t digest[32];
            ml_sha256_init(&s);
            if (git_diff_print(diff, GIT_DIFF_FORMAT_PATCH, hash_diff_line, &s) < 0) {
                error = ml_error_set(ML_ERROR, "%s: formatting the working tree diff: %s",
                                     shown, git_msg());
                goto cleanup;
            }
            ml_sha256_final(&s, digest);
            ml_sha256_to_hex(diff_hex, digest);
        }
    }

    char tree_hex[GIT_OID_HEXSZ + 1] = "";
    if (tree) git_oid_tostr(tree_hex, sizeof(tree_hex), git_tree_id(tree));
    if ((error = put_str(r, "commit", commit_hex[0] ? commit_hex : NULL)) < 0 ||
        (error = put_str(r, "tree", tree_hex[0] ? tree_hex : NULL)) < 0 ||
        (error = put_str(r, "branch", branch)) < 0 ||
        (error = put_bool(r, "dirty", dirty)) < 0 ||
        (error = put_str(r, "diff_sha256", dirty ? diff_hex : NULL)) < 0)
        goto cleanup;

cleanup:
    git_diff_free(diff);
    git_tree_free(tree);
    git_commit_free(commit);
    git_reference_free(head);
    free(branch);
    return error;
}

/* Adds "repository" (and "repository_error" when there is none to show). */
static int add_repository(cJSON *root, const char *repo_dir) {
    git_repository *repo = NULL;
    cJSON *r = NULL;
    char *shown = NULL, *abs = NULL, msg[ML_ERROR_MSG_MAX];
    int error = 0, rc;

    rc = git_repository_open_ext(&repo, repo_dir, 0, NULL);
    if (rc < 0) {
        /* Provenance must never stop a run: a missing or unreadable
         * repository (wrong owner, corrupt HEAD) is recorded, not raised. */
        abs = realpath(repo_dir, NULL);
        if (rc == GIT_ENOTFOUND)
            snprintf(msg, sizeof(msg), "not a git repository: %s", abs ? abs : repo_dir);
        else
            snprintf(msg, sizeof(msg), "cannot open the git repository at %s: %s",
                     abs ? abs : repo_dir, git_msg());
        if ((error = put_str(root, "repository", NULL)) < 0 ||
            (error = put_str(root, "repository_error", msg)) < 0)
            goto cleanup;
        goto cleanup;
    }
    if ((error = repo_display_path(&shown, repo)) < 0 ||
        (error = put_obj(&r, root, "repository")) < 0 ||
        (error = put_str(r, "path", shown)) < 0 ||
        (error = repo_fields(r, repo, shown)) < 0)
        goto cleanup;

cleanup:
    git_repository_free(repo);
    free(shown);
    free(abs);
    return error;
}

/* ---- the other sections ---------------------------------------------- */

static int add_build(cJSON *root, const char *commit, const char *cc, const char *cflags) {
    cJSON *b;
    int error;
    if ((error = put_obj(&b, root, "build")) < 0 ||
        (error = put_str(b, "commit", commit)) < 0 ||
        (error = put_str(b, "compiler", cc)) < 0 ||
        (error = put_str(b, "cflags", cflags)) < 0)
        return error;
    return 0;
}

static int add_blas(cJSON *root) {
    /* These variables change which kernels and how many threads OpenBLAS
     * uses, so they change timings and, through summation order, results. */
    static const char *const vars[] = { "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                        "OPENBLAS_NUM_THREADS", "MERGELAB_BLAS_CORE" };
    cJSON *b, *env;
    int error;
    if ((error = put_obj(&b, root, "blas")) < 0 ||
        (error = put_str(b, "config", openblas_get_config())) < 0 ||
        (error = put_str(b, "corename", openblas_get_corename())) < 0 ||
        (error = put_num(b, "threads", openblas_get_num_threads())) < 0 ||
        (error = put_obj(&env, b, "env")) < 0)
        return error;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if ((error = put_str(env, vars[i], getenv(vars[i]))) < 0) return error;
    return 0;
}

/* The numeric platform (kernels/platform.h): what, besides the suite and
 * the thread count, decides the bits; the gate compares it between sides. */
static int add_platform(cJSON *root) {
    ml_platform p;
    cJSON *o;
    int error;
    ml_platform_get(&p);
    if ((error = put_obj(&o, root, "platform")) < 0 ||
        (error = put_str(o, "blas", p.blas)) < 0 ||
        (error = put_str(o, "blas_core", p.blas_core)) < 0 ||
        (error = put_str(o, "blas_choice", p.choice)) < 0 ||
        (error = put_str(o, "blas_requested", p.requested[0] ? p.requested : NULL)) < 0 ||
        (error = put_str(o, "kernels_isa", p.isa)) < 0 ||
        (error = put_str(o, "libc", p.libc)) < 0 ||
        (error = put_str(o, "note", p.note[0] ? p.note : NULL)) < 0)
        return error;
    return 0;
}

/* First "model name" of /proc/cpuinfo, trimmed, into buf; "unknown" when
 * there is none (non-x86 kernels spell it differently or not at all). */
static void cpu_model(char *buf, size_t size) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char *line = NULL;
    size_t cap = 0;
    snprintf(buf, size, "unknown");
    if (!f) return;
    while (getline(&line, &cap, f) >= 0) {
        char *p, *end;
        if (strncmp(line, "model name", 10) || !(p = strchr(line, ':'))) continue;
        for (p++; *p == ' ' || *p == '\t'; p++) {}
        end = p + strlen(p);
        while (end > p && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
        if (end > p) snprintf(buf, size, "%.*s", (int)(end - p), p);
        break;
    }
    free(line);
    fclose(f);
}

static int add_host(cJSON *root) {
    struct utsname u;
    /* three fields and two spaces fit: each field counts its own NUL */
    char hostname[256] = "", os[sizeof(u.sysname) + sizeof(u.release) + sizeof(u.machine)] = "unknown";
    char cpu[256];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cJSON *h;
    int error;

    if (gethostname(hostname, sizeof(hostname) - 1) < 0 || !hostname[0])
        snprintf(hostname, sizeof(hostname), "unknown");
    if (uname(&u) == 0)
        snprintf(os, sizeof(os), "%s %s %s", u.sysname, u.release, u.machine);
    cpu_model(cpu, sizeof(cpu));
    if ((error = put_obj(&h, root, "host")) < 0 ||
        (error = put_str(h, "hostname", hostname)) < 0 ||
        (error = put_str(h, "os", os)) < 0 ||
        (error = put_str(h, "cpu", cpu)) < 0)
        return error;
    if (ncpu > 0) error = put_num(h, "ncpu", (double)ncpu);
    else error = put_str(h, "ncpu", NULL);
    return error;
}

static int add_libraries(cJSON *root) {
    char git_version[64];
    const char *blas_version;
    int major = 0, minor = 0, rev = 0;
    ml_platform p;
    cJSON *l;
    int error;

    git_libgit2_version(&major, &minor, &rev);
    snprintf(git_version, sizeof(git_version), "%d.%d.%d", major, minor, rev);
    ml_platform_get(&p);   /* "OpenBLAS 0.3.21": its version, parsed once (kernels/platform.c) */
    blas_version = strncmp(p.blas, "OpenBLAS ", 9) ? p.blas : p.blas + 9;
    if ((error = put_obj(&l, root, "libraries")) < 0 ||
        (error = put_str(l, "libgit2", git_version)) < 0 ||
        (error = put_str(l, "cjson", cJSON_Version())) < 0 ||
        (error = put_str(l, "openblas", blas_version)) < 0)
        return error;
    return 0;
}

/* ---- public ---------------------------------------------------------- */

int ml_provenance_collect(cJSON **out, const char *repo_dir, const char *build_commit,
                          const char *build_cc, const char *build_cflags) {
    cJSON *root = NULL;
    int error = 0, git_ready = 0;

    ML_CHECK_ARG(out != NULL, "ml_provenance_collect: out is NULL");
    *out = NULL;
    if (!repo_dir) repo_dir = ".";
    /* libgit2 refcounts init/shutdown, so pairing them per call is safe
     * even when another module holds its own reference. */
    if (git_libgit2_init() < 0) {
        error = ml_error_set(ML_ERROR, "initialising libgit2: %s", git_msg());
        goto cleanup;
    }
    git_ready = 1;
    if (!(root = cJSON_CreateObject())) {
        error = nomem("provenance");
        goto cleanup;
    }
    if ((error = add_repository(root, repo_dir)) < 0 ||
        (error = add_build(root, build_commit, build_cc, build_cflags)) < 0 ||
        (error = add_blas(root)) < 0 ||
        (error = add_platform(root)) < 0 ||
        (error = add_host(root)) < 0 ||
        (error = add_libraries(root)) < 0)
        goto cleanup;
    *out = root;
    root = NULL;                      /* the caller owns it now */

cleanup:
    cJSON_Delete(root);
    if (git_ready) git_libgit2_shutdown();
    return error;
}

int ml_git_resolve(char hex[41], const char *repo_dir, const char *rev) {
    git_repository *repo = NULL;
    git_object *obj = NULL, *peeled = NULL;
    char *shown = NULL, buf[GIT_OID_HEXSZ + 1];
    int error = 0, rc, git_ready = 0;

    ML_CHECK_ARG(hex != NULL, "ml_git_resolve: hex is NULL");
    ML_CHECK_ARG(rev != NULL && rev[0] != '\0', "empty revision");
    if (!repo_dir) repo_dir = ".";
    if (git_libgit2_init() < 0) {
        error = ml_error_set(ML_ERROR, "initialising libgit2: %s", git_msg());
        goto cleanup;
    }
    git_ready = 1;
    rc = git_repository_open_ext(&repo, repo_dir, 0, NULL);
    if (rc == GIT_ENOTFOUND) {
        error = ml_error_set(ML_ENOTFOUND, "not a git repository: %s", repo_dir);
        goto cleanup;
    } else if (rc < 0) {
        error = ml_error_set(ML_ERROR, "cannot open the git repository at %s: %s", repo_dir, git_msg());
        goto cleanup;
    }
    if ((error = repo_display_path(&shown, repo)) < 0) goto cleanup;

    rc = git_revparse_single(&obj, repo, rev);
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC || rc == GIT_EUNBORNBRANCH) {
        error = ml_error_set(ML_ENOTFOUND, "unknown revision '%s' in %s", rev, shown);
        goto cleanup;
    } else if (rc == GIT_EAMBIGUOUS) {
        error = ml_error_set(ML_ENOTFOUND, "unknown revision '%s' in %s: ambiguous short id",
                             rev, shown);
        goto cleanup;
    } else if (rc < 0) {
        error = ml_error_set(ML_ERROR, "resolving revision '%s' in %s: %s", rev, shown, git_msg());
        goto cleanup;
    }
    /* Tags (annotated ones are objects of their own) name their commit. */
    if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
        error = ml_error_set(ML_EINVALID, "revision '%s' in %s is a %s, not a commit", rev, shown,
                             git_object_type2string(git_object_type(obj)));
        goto cleanup;
    }
    git_oid_tostr(buf, sizeof(buf), git_object_id(peeled));
    memcpy(hex, buf, sizeof(buf));

cleanup:
    git_object_free(peeled);
    git_object_free(obj);
    git_repository_free(repo);
    free(shown);
    if (git_ready) git_libgit2_shutdown();
    return error;
}

void ml_time_iso8601(char *buf, size_t size, time_t t) {
    struct tm tm;
    char tmp[64];
    if (!buf || size == 0) return;
    /* Years past 9999 still format (wider); gmtime fails only far beyond. */
    if (!gmtime_r(&t, &tm) || strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        tmp[0] = '\0';
    snprintf(buf, size, "%s", tmp);
}
