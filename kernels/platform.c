/*
 * kernels/platform.c: the numeric platform (see platform.h). OpenBLAS reads
 * OPENBLAS_CORETYPE once, in its load-time constructor, before main() runs;
 * the only way to change the kernels of a running process is to start it
 * again with the variable set, which is what ml_platform_init does.
 */
#include "kernels/platform.h"
#include "core/error.h"

#include <cblas.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHOICE_ENV  "MERGELAB_BLAS_CORE"
#define REEXEC_ENV  "MERGELAB_PLATFORM_REEXEC"   /* set across the one re-exec, to stop a loop */
#define PINNED_CORE "Haswell"

static ml_platform platform = { .choice = "unset" };
static int isa_forced = -1;

/* ---- own kernels' ISA ------------------------------------------------- */

int ml_isa_supported(int level) {
    if (level == ML_ISA_BASELINE) return 1;
#if defined(__x86_64__) && defined(__GNUC__)
    if (level == ML_ISA_AVX2) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
#endif
    return 0;
}

int ml_isa_level(void) {
    if (isa_forced >= 0) return isa_forced;
    return ml_isa_supported(ML_ISA_AVX2) ? ML_ISA_AVX2 : ML_ISA_BASELINE;
}

int ml_isa_force(int level) {
    if (level < 0) { isa_forced = -1; return 0; }
    if (level >= ML_ISA_COUNT || !ml_isa_supported(level))
        return ml_error_set(ML_EINVALID, "this CPU cannot run the %s variant of mergelab's kernels",
                            level < ML_ISA_COUNT ? ml_isa_name(level) : "unknown");
    isa_forced = level;
    return 0;
}

const char *ml_isa_name(int level) {
    switch (level) {
    case ML_ISA_BASELINE: return "baseline";
    case ML_ISA_AVX2: return "avx2";
    default: return "unknown";
    }
}

/* ---- the BLAS kernel family ------------------------------------------- */

static int valid_choice(const char *c) {
    size_t n = strlen(c);
    if (n == 0 || n >= sizeof(platform.choice)) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9')))
            return 0;
    return 1;
}

/* Removes argv[i] .. argv[i+k-1], keeping argv NULL-terminated. */
static void drop_args(int *argc, char **argv, int i, int k) {
    for (int j = i; j + k <= *argc; j++) argv[j] = argv[j + k];
    *argc -= k;
}

/* The choice from the command line (taken out of argv), else the
 * environment, else "pinned". */
static int read_choice(char *out, size_t size, int *argc, char **argv) {
    const char *c = NULL;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--blas-core")) {
            if (i + 1 >= *argc) return ml_error_set(ML_EINVALID, "--blas-core wants pinned, native, env or a kernel name");
            c = argv[i + 1];
            snprintf(out, size, "%s", c);
            drop_args(argc, argv, i, 2);
            break;
        }
        if (!strncmp(argv[i], "--blas-core=", 12)) {
            c = argv[i] + 12;
            snprintf(out, size, "%s", c);
            drop_args(argc, argv, i, 1);
            break;
        }
    }
    if (!c) {
        c = getenv(CHOICE_ENV);
        snprintf(out, size, "%s", c && *c ? c : "pinned");
        if (c && *c && !valid_choice(c))
            return ml_error_set(ML_EINVALID, "$%s: '%s' is not pinned, native, env or a kernel name", CHOICE_ENV, c);
        return 0;
    }
    if (!valid_choice(c))
        return ml_error_set(ML_EINVALID, "--blas-core: '%s' is not pinned, native, env or a kernel name", c);
    return 0;
}

/* What OPENBLAS_CORETYPE should be for a choice ("" = unset). */
static void wanted_core(char *out, size_t size, const char *choice, char *note, size_t nnote) {
    const char *env = getenv("OPENBLAS_CORETYPE");
    note[0] = '\0';
    if (!strcmp(choice, "pinned")) {
        if (ml_isa_supported(ML_ISA_AVX2)) snprintf(out, size, "%s", PINNED_CORE);
        else {
            out[0] = '\0';
            snprintf(note, nnote, "not pinned: the CPU lacks AVX2+FMA (or is not x86-64), so OpenBLAS detects its kernels");
        }
    } else if (!strcmp(choice, "native")) {
        out[0] = '\0';
    } else if (!strcmp(choice, "env")) {
        snprintf(out, size, "%s", env ? env : "");
    } else {
        snprintf(out, size, "%s", choice);
    }
}

static void describe_blas(void) {
    const char *config = openblas_get_config();
    const char *core = openblas_get_corename();
    const char *prefix = "OpenBLAS ";
    if (config && !strncmp(config, prefix, strlen(prefix))) {
        size_t n = strspn(config + strlen(prefix), "0123456789.");
        snprintf(platform.blas, sizeof(platform.blas), "OpenBLAS %.*s", (int)n, config + strlen(prefix));
    } else {
        snprintf(platform.blas, sizeof(platform.blas), "OpenBLAS (unknown version)");
    }
    snprintf(platform.blas_core, sizeof(platform.blas_core), "%s", core ? core : "unknown");
    snprintf(platform.libc, sizeof(platform.libc), "glibc %s", gnu_get_libc_version());
}

int ml_platform_init(int *argc, char **argv) {
    char choice[32], wanted[32], note[160];
    const char *now;
    int error;

    if ((error = read_choice(choice, sizeof(choice), argc, argv)) < 0) return error;
    wanted_core(wanted, sizeof(wanted), choice, note, sizeof(note));
    setenv(CHOICE_ENV, choice, 1);
    now = getenv("OPENBLAS_CORETYPE");
    if (strcmp(now ? now : "", wanted) != 0) {
        if (getenv(REEXEC_ENV))
            return ml_error_set(ML_ERROR, "OPENBLAS_CORETYPE is '%s' after re-executing for '%s'", now ? now : "", wanted);
        if (wanted[0]) setenv("OPENBLAS_CORETYPE", wanted, 1);
        else unsetenv("OPENBLAS_CORETYPE");
        setenv(REEXEC_ENV, "1", 1);
        execv("/proc/self/exe", argv);
        execvp(argv[0], argv);   /* no /proc: the name it was started by */
        return ml_error_set(ML_EOS, "re-executing %s for OPENBLAS_CORETYPE=%s: %s", argv[0], wanted, strerror(errno));
    }
    unsetenv(REEXEC_ENV);   /* a child of ours may need its own re-exec */

    describe_blas();
    snprintf(platform.choice, sizeof(platform.choice), "%s", choice);
    snprintf(platform.requested, sizeof(platform.requested), "%s", wanted);
    snprintf(platform.note, sizeof(platform.note), "%s", note);
    /* OpenBLAS falls back to its own detection, silently, on a name it does
     * not know or a build without DYNAMIC_ARCH: say so, never pretend */
    if (wanted[0] && strcasecmp(wanted, platform.blas_core)) {
        if (!strcmp(choice, "pinned") || !strcmp(choice, "env"))
            snprintf(platform.note, sizeof(platform.note), "OpenBLAS runs %s although %s was asked for "
                     "(an unknown name, or a build without DYNAMIC_ARCH)", platform.blas_core, wanted);
        else
            return ml_error_set(ML_EINVALID, "--blas-core %s: this OpenBLAS (%s) runs %s instead; "
                                "use a kernel family it has for this CPU, or native", wanted,
                                openblas_get_config(), platform.blas_core);
    }
    return 0;
}

void ml_platform_get(ml_platform *out) {
    if (!platform.blas[0]) describe_blas();   /* ml_platform_init was not called: describe what runs */
    *out = platform;
    /* the variant in force now (a test may have forced one) */
    snprintf(out->isa, sizeof(out->isa), "%s", ml_isa_name(ml_isa_level()));
}

void ml_platform_line(char *buf, size_t size, const ml_platform *p, int threads) {
    char t[32] = "";
    if (threads > 0) snprintf(t, sizeof(t), ", %d thread%s", threads, threads == 1 ? "" : "s");
    snprintf(buf, size, "%s %s (%s), kernels %s, %s%s", p->blas, p->blas_core, p->choice, p->isa, p->libc, t);
}
