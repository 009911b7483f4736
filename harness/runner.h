/*
 * harness/runner.h: runs a parsed suite end to end and returns its results.
 * Owns: the experiment protocol (pretrain a base, fine-tune the specialists
 * in lockstep while tracking CKA, fine-tune directly, merge, evaluate).
 * Not here: parsing (suite.c), provenance (provenance.c), storage (results.c).
 */
#ifndef ML_HARNESS_RUNNER_H
#define ML_HARNESS_RUNNER_H

#include "harness/suite.h"

#include <cjson/cJSON.h>

typedef struct {
    int threads;          /* BLAS threads; 0 = the suite's, else 1 */
    int verbose;          /* progress lines on stderr */
} ml_run_options;

/* Runs the suite. On success *out is a new cJSON object holding "models",
 * "metrics", "gate", "cka", "timing", "seed", "threads" and "data" (the
 * caller adds suite and provenance). Errors: ML_ENOTFOUND/ML_EDATA for data,
 * ML_ERUN when training diverges (message names the phase and step). */
int ml_run_suite(cJSON **out, const ml_suite *s, const ml_run_options *opt);

#endif
