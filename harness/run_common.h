/*
 * harness/run_common.h: pieces both study protocols (runner_mlp.c,
 * runner_gpt.c) share when they turn a run into results JSON, and the
 * protocols' entry points that runner.c dispatches to.
 * Internal to harness/ (ml_run__ prefix). Not here: the protocols.
 */
#ifndef ML_HARNESS_RUN_COMMON_H
#define ML_HARNESS_RUN_COMMON_H

#include "harness/runner.h"

#include <cjson/cJSON.h>

int ml_run__mlp(cJSON **out, const ml_suite *s, const ml_run_options *opt);
int ml_run__gpt(cJSON **out, const ml_suite *s, const ml_run_options *opt);

double ml_run__now(void);
/* metrics["<model>/<what>"] = v */
void ml_run__add_metric(cJSON *metrics, const char *model, const char *what, double v);
/* res["gate"] = the suite's rules, so a results file gates itself */
void ml_run__add_gate(cJSON *res, const ml_suite *s);
/* res["cka"]: the pair's curve over steps and the layer x layer heatmap at
 * the last step. curve (L, nsteps), heat (L, L), layer_names (L). */
cJSON *ml_run__add_cka(cJSON *res, const char *a, const char *b, const char *const *layer_names, int L,
                       const int *steps, int nsteps, const double *curve, const double *heat);

#endif
