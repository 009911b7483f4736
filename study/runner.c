/*
 * study/runner.c: dispatch to the study protocol of the suite's model
 * family (runner_mlp.c, runner_gpt.c). Not here: the pieces both protocols
 * share (run_common.c), which they call without calling back up here.
 */
#include "study/run_common.h"
#include "study/runner.h"

int ml_run_suite(cJSON **out, const ml_suite *s, const ml_run_options *opt) {
    return s->family == ML_FAMILY_GPT ? ml_run__gpt(out, s, opt) : ml_run__mlp(out, s, opt);
}
