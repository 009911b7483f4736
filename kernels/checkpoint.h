/*
 * kernels/checkpoint.h: save and load a model's flat parameter vector, and
 * optionally its AdamW state (m, v, step), in mergelab's checkpoint format
 * (docs/checkpoint.md has the byte layout).
 * Owns: the file format, its little-endian encoding, the CRC-32 trailer, and
 *       the compatibility check (model kind, every config field, the layout
 *       table) done before a single float reaches the caller.
 * Not here: what the config fields mean or how a model builds its layout
 *       (the model files), the optimiser update (adamw.c), where checkpoints
 *       live on disk (the harness), the atomic write itself (core/fs.c).
 * Memory: nothing is kept; every pointer passed in stays the caller's.
 * Errors: 0 or ML_E*, reason in ml_error_last(), always naming the file.
 *       Saves are atomic: a reader sees the old file or the whole new one.
 */
#ifndef ML_KERNELS_CHECKPOINT_H
#define ML_KERNELS_CHECKPOINT_H

#include "kernels/params.h"

#include <stdint.h>

#define ML_CKPT_VERSION       1    /* the only format version this build reads and writes */
#define ML_CKPT_KIND_MAX      16   /* kind field, NUL-padded: at most 15 characters */
#define ML_CKPT_FIELD_MAX     24   /* config name field, NUL-padded: at most 23 characters */
#define ML_CKPT_CONFIG_MAX    256  /* config fields per checkpoint */

/* One named integer of a model's config, e.g. {"n_layer", 6}. Floats in a
 * config (dropout, ...) are not architecture and do not belong here. */
typedef struct {
    char    name[ML_CKPT_FIELD_MAX];  /* 1..23 characters, NUL-terminated */
    int64_t value;
} ml_ckpt_field;

/* A checkpoint as the caller sees it; all pointers are borrowed.
 * Saving reads every field. Loading reads only kind, config, nconfig and
 * layout (what the file must match); params, adam_m, adam_v and step are
 * ignored there (the destinations are load's own arguments). */
typedef struct {
    const char          *kind;     /* model kind, 1..15 characters: "gpt", "mlp" */
    const ml_ckpt_field *config;   /* (nconfig), names unique; NULL when nconfig is 0 */
    int                  nconfig;  /* 0..ML_CKPT_CONFIG_MAX */
    const ml_layout     *layout;   /* at least one tensor */
    const float         *params;   /* (layout->total), required */
    const float         *adam_m;   /* (layout->total) or NULL; both or neither */
    const float         *adam_v;   /* (layout->total) or NULL */
    int64_t              step;     /* optimiser steps taken, >= 0; saved even without adam state */
} ml_ckpt;

/* Writes c to path atomically (path.tmp.PID.N, fsync, rename, fsync dir);
 * an existing file is replaced only when the whole new one is on disk.
 * Returns 0, or
 *   ML_EINVALID  a bad argument: kind empty or too long, a config name empty,
 *                too long or repeated, too many config fields, an empty
 *                layout, params NULL, only one of adam_m/adam_v, step < 0;
 *   ML_ENOMEM    the encode buffer (the whole file) could not be allocated;
 *   ML_EOS       the write failed (the step and errno are in the message);
 *                the old file, if any, is untouched. */
int ml_checkpoint_save(const char *path, const ml_ckpt *c);

/* Loads path into the caller's buffers after checking that its kind, its
 * config (the same names with the same values, in any order) and its
 * layout (the same tensors, names and shapes, in the same order) match
 * `expect` exactly. params (expect->layout->total) is required; adam_m and
 * adam_v (same size) may be NULL to skip them (e.g. to merge weights);
 * step may be NULL. The whole file is read and verified in memory first: on
 * any error params, adam_m, adam_v and *step are untouched.
 * Returns 0, or (every message starts with the path, shown as "x.ckpt"):
 *   ML_ENOTFOUND "x.ckpt: no such file"
 *   ML_EOS       the file exists but cannot be read (errno text)
 *   ML_ENOMEM    no memory for the file's bytes
 *   ML_EINVALID  a bad argument (expect, its layout or params NULL)
 *   ML_EDATA     the file is not a loadable checkpoint for this model:
 *     "x.ckpt: not a mergelab checkpoint (bad magic)"
 *     "x.ckpt: format version 7 is not supported (this build reads 1)"
 *     "x.ckpt: truncated (N bytes; ... needs M)"     shorter than its header says
 *     "x.ckpt: size is N bytes, the header describes M (trailing bytes)"
 *     "x.ckpt: CRC mismatch: file is corrupt"
 *     "x.ckpt: corrupt header: ..."                   CRC fine, content impossible
 *     "x.ckpt: model kind is \"mlp\", expected \"gpt\""
 *     "x.ckpt: config n_layer is 4, the model has 6; config n_head is 2, the model has 4"
 *         EVERY difference, "; "-separated: the model's fields in its order
 *         (a different value, or "config d_ff is missing from the file"),
 *         then fields only the file has ("config foo is in the file but
 *         not in the model"); cut with "..." if it outgrows the message
 *     "x.ckpt: tensor 3 is blocks.0.attn.w (384,128), the model has blocks.0.attn.w (192,64)"
 *         only the FIRST differing tensor (one inserted tensor shifts all
 *         the later ones, so the rest would be noise); when one table is a
 *         prefix of the other: "tensor 5 is fc3.bias (10), the model has no
 *         tensor 5" or "the file has no tensor 5, the model has fc3.bias (10)"
 *     "x.ckpt: layout hash 0x... differs from the model's 0x..." (every
 *         tensor matches but the offsets do not)
 *     "x.ckpt: has no adam state"  adam_m or adam_v asked for, not in the file
 * A file with adam state loads fine with adam_m = adam_v = NULL. */
int ml_checkpoint_load(const char *path, const ml_ckpt *expect,
        float *params, float *adam_m, float *adam_v, int64_t *step);

#endif
