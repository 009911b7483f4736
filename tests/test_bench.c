/*
 * tests/test_bench.c: `mergelab bench`, the speed benchmark's gate. No
 * speed is judged here (timings belong in make bench): only that --gate
 * exits 1 when a line falls short and 0 when every line holds, and that bad
 * usage is exit 2. The CKA lines are the quickest to measure.
 */
#include "tests/test.h"
#include "tests/util.h"

#include <stdlib.h>

static void test_bench__gate_fails_and_passes(void) {
    char *out = NULL;
    int rc = ml_t_cli(&out, "bench --only cka --gate --targets-times 1000");
    ML_ASSERT_MSG(rc == 1, "an impossible target must exit 1, got %d: %s", rc, out);
    ML_ASSERT_MSG(strstr(out, "NOT met") != NULL, "no line says NOT met: %s", out);
    free(out);
    rc = ml_t_cli(&out, "bench --only cka --gate --targets-times 0.001");
    ML_ASSERT_MSG(rc == 0, "a trivial target must exit 0, got %d: %s", rc, out);
    ML_ASSERT_MSG(strstr(out, "0 line(s) short of target") != NULL, "%s", out);
    free(out);
    rc = ml_t_cli(&out, "bench --only nothing");
    ML_ASSERT_MSG(rc == 2, "an unknown --only must exit 2, got %d: %s", rc, out);
    free(out);
    rc = ml_t_cli(&out, "bench --threads 0");
    ML_ASSERT_MSG(rc == 2, "--threads 0 must exit 2, got %d: %s", rc, out);
    free(out);
}

const ml_test ml_tests_bench[] = {
    { "bench__gate_fails_and_passes", test_bench__gate_fails_and_passes, "e2e" },
    { NULL, NULL, NULL }
};
