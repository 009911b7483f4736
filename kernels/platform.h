/*
 * kernels/platform.h: the numeric platform, i.e. everything outside the
 * suite that decides the bits of a result: the BLAS library and the kernel
 * family it runs, the instruction set of mergelab's own vectorised loops,
 * the C library (libm's expf/log), and the thread count.
 * Owns: choosing OpenBLAS's kernel family before OpenBLAS is loaded (by
 *       re-executing the program once with OPENBLAS_CORETYPE set), the
 *       ISA dispatch of kernels/layers.c's loops, and describing both.
 * Not here: comparing two results' platforms (store/results.c), the
 *       thread pool (kernels/parallel.h).
 *
 * Why pin: OpenBLAS picks its kernels by CPU (SkylakeX on AVX-512 Intel,
 * Haswell on AVX2, ...), and different kernels sum in different orders, so
 * the same suite gives different numbers on different machines. Pinned
 * (the default), every x86-64 CPU with AVX2 and FMA runs the Haswell
 * kernels, whatever the caller's OPENBLAS_CORETYPE says, and a suite gives
 * the same bits everywhere. glibc's libm selects its FMA variants of expf
 * and log on the same condition, so it agrees too.
 *
 * The choice ("blas core"), from --blas-core X anywhere on the command
 * line, else $MERGELAB_BLAS_CORE, else "pinned":
 *   pinned   Haswell on x86-64 with AVX2+FMA; elsewhere OpenBLAS's own
 *            detection, with the reason recorded in the platform's note
 *   native   OpenBLAS's own detection (OPENBLAS_CORETYPE removed)
 *   env      whatever the caller's OPENBLAS_CORETYPE says (unset: native)
 *   NAME     that kernel family (Haswell, SkylakeX, Sandybridge, Zen, ...);
 *            an error if OpenBLAS does not run it
 */
#ifndef ML_KERNELS_PLATFORM_H
#define ML_KERNELS_PLATFORM_H

#include <stddef.h>

typedef struct {
    char blas[64];        /* "OpenBLAS 0.3.21" */
    char blas_core[32];   /* the kernel family OpenBLAS runs: "Haswell" */
    char choice[32];      /* pinned | native | env | a kernel name */
    char requested[32];   /* the OPENBLAS_CORETYPE asked for; "" = OpenBLAS's detection */
    char isa[16];         /* mergelab's own loops: "avx2" or "baseline" */
    char libc[32];        /* "glibc 2.36" */
    char note[160];       /* why the choice could not be honoured, or "" */
} ml_platform;

/* Call first in main(), before any BLAS call. Takes --blas-core X (or
 * --blas-core=X) out of argv, settles the choice, exports it as
 * MERGELAB_BLAS_CORE (so child processes follow) and, when the process's
 * OPENBLAS_CORETYPE is not what the choice wants, re-executes the program
 * once with it set; so a call that returns runs on the chosen kernels.
 * Returns 0; ML_EINVALID for a bad choice or a kernel name OpenBLAS does
 * not run here (the reason in ml_error_last()); ML_EOS when exec fails. */
int ml_platform_init(int *argc, char **argv);

/* What this process runs on (valid after ml_platform_init; before it the
 * choice reads "unset"). */
void ml_platform_get(ml_platform *out);

/* One line: "OpenBLAS 0.3.21 Haswell (pinned), kernels avx2, glibc 2.36,
 * 2 threads"; threads <= 0 leaves the count out. */
void ml_platform_line(char *buf, size_t size, const ml_platform *p, int threads);

/* mergelab's own vectorised loops (kernels/layers.c): which variant runs.
 * The variants give bit-identical results (tests/test_kernels.c compares
 * them); ml_isa_force lets a test run each. */
enum { ML_ISA_BASELINE = 0, ML_ISA_AVX2 = 1, ML_ISA_COUNT = 2 };
int ml_isa_level(void);                 /* the variant in force */
int ml_isa_supported(int level);        /* 1 when this CPU can run it */
/* Forces a variant (ML_EINVALID when this CPU cannot run it); -1 goes back
 * to the CPU's best. Not thread-safe: call it between kernels. */
int ml_isa_force(int level);
const char *ml_isa_name(int level);

#endif
