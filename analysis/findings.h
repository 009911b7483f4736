/*
 * analysis/findings.h: the paper's four findings as checks on a results document.
 * Owns: evaluating F1-F4 across the seeds of a results file, each as held / not held /
 *       inconclusive with an effect and its 95% interval.
 * Not here: the statistics (core/stats.c), producing results (runners), drawing (reports/).
 *
 * Every effect is a mean over seeds of a per-seed quantity, with a 95% Student-t interval
 * across seeds (pairing by seed: cells of different groups with the same seed share their
 * base and data order). A finding is
 *   held         when the interval lies wholly on the claimed side of zero,
 *   not held     when it lies wholly below zero (the data contradict the claim),
 *   inconclusive when it contains zero, or with fewer than two seeds (no interval), or
 *                when the results lack what the check needs (the detail says what).
 * Effects are signed so that a positive value supports the claim; "better" follows the
 * direction of the suite's gate rule for direct/<metric> (lower for a loss).
 *
 *   F1   CKA between the specialists falls as fine-tuning goes on: per seed, the mean over
 *        layers of CKA(first measured step after 0) - CKA(last step), in the group with
 *        the longest track (step 0 is 1 by construction, so it is left out).
 *   F2   direct fine-tuning beats every merge: per merge and place (group end or point),
 *        direct's margin over it; held when every interval is above zero, not held when
 *        some merge is significantly better. The row shows the pair the verdict rests on:
 *        a contradicting one if any, else the one with the lowest lower bound. F3 the same.
 *   F3a  routing beats interpolation and weight averaging: the best router's margin over
 *        the best of the other two families (each chosen by its mean).
 *   F3b  the multi-layer router improves as k grows: router with the largest k against
 *        k = 1 (routers are told apart by models[].router.layers).
 *   F4   merging gets worse as the specialists train longer, per family (interpolation,
 *        weight averaging, single-layer router, multi-layer router, ensemble): the family's
 *        best at the longest fine-tuning length against the shortest, across groups that
 *        differ in finetune.steps. The detail gives the same change relative to the base
 *        and to the best specialist, and the correlation of the family's metric with CKA
 *        across lengths (mean Fisher z over seeds, 95% t interval, back-transformed).
 */
#ifndef ML_ANALYSIS_FINDINGS_H
#define ML_ANALYSIS_FINDINGS_H

#include <cjson/cJSON.h>

#include "suite/suite.h"   /* ml_findings_spec: what a suite declares */

/* Evaluates spec's checks on doc (schema 2) and returns a new JSON array of findings:
 * {id, statement, verdict, effect, ci_lo, ci_hi, n, metric, detail} (F3 gives F3a and F3b,
 * F4 one row per family). Returns 0, ML_EINVALID (an unknown id) or ML_ENOMEM. */
int ml_findings_eval(cJSON **out, const cJSON *doc, const ml_findings_spec *spec);

#endif
