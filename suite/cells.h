/*
 * suite/cells.h: a suite expanded into its cells, each with an identity.
 * Owns: the matrix expansion (cartesian product of the suite's axes, in
 *       the order the suite lists them, the last axis fastest), each cell's
 *       resolved suite, its name and group, and the hashes that decide when
 *       a finished cell or a cached model can be reused.
 * Not here: running a cell (runner.c), storing it (store.c).
 *
 * Identity: a cell's id is the SHA-256 of its resolved spec (the suite
 * with the matrix values filled in, keys sorted, without name, description
 * and gate), the data it reads (the SHA-256 of each Fashion-MNIST file;
 * text is generated from the spec), the BLAS thread count, the compiler
 * flags and the hash of the source files the binary was built from. The
 * model-cache keys (base, specialists, direct fine-tune) are built the same
 * way from the parts of the spec each phase reads, so cells that share a
 * base train it once.
 */
#ifndef ML_SUITE_CELLS_H
#define ML_SUITE_CELLS_H

#include "suite/suite.h"

#include <cjson/cJSON.h>

#define ML_CELL_NAME_MAX 256

typedef struct {
    char      name[ML_CELL_NAME_MAX];    /* "seed=1,finetune.steps=100"; "default" without a matrix */
    char      group[ML_CELL_NAME_MAX];   /* the name without its seed: cells of a group differ by seed only */
    char      id[65];
    char      key_base[65], key_specialists[65], key_direct[65];
    cJSON    *params;                    /* {"seed": 1, "finetune.steps": 100}, axis order */
    ml_suite *suite;                     /* resolved: no matrix, threads as it will run */
} ml_cell;

typedef struct {
    ml_suite *suite;        /* the suite as written, with its matrix */
    int       threads;      /* BLAS threads every cell runs with */
    int       n;
    ml_cell  *cells;
} ml_cellset;

/* Loads, validates and expands the suite at path: every cell is parsed
 * before anything runs, so a bad matrix value is reported up front
 * ("FILE: cell finetune.steps=-1 ($.matrix): $.finetune.steps: ...").
 * threads > 0 overrides the suite's thread count. ML_EINVALID, ML_ENOTFOUND,
 * ML_EOS (reading data files to hash them), ML_ENOMEM. */
int ml_cells_load(ml_cellset **out, const char *path, int threads);
void ml_cells_free(ml_cellset *cs);

/* The most memory one cell of cs needs (suite/memory.c); ML_EINVALID, with
 * the figures, when `parallel` such cells at once exceed the machine's
 * physical memory, unless force; the message names the override flag. */
size_t ml_cells_memory(const ml_cellset *cs);
/* The largest cell's live tensors alone (ml_suite_tensor_bytes). */
size_t ml_cells_tensor_bytes(const ml_cellset *cs);
int ml_cells_check_memory(const ml_cellset *cs, int parallel, int force, const char *override);

#endif
