/*
 * tests/fuzz/fuzz_cellfile.c: libFuzzer target over a run folder's cell
 * file as a rerun reads it: the strict cell reader (ml_results_load_cell),
 * its checksum (ml_results_seal_check), and the same bytes as a suite's
 * results file (ml_results_load). Seeds: cell files and part records of
 * the smoke suites (tests/fuzz/corpus/cellfile/).
 */
#include "store/results.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("cell.json", data, size);
    cJSON *doc = NULL;
    if (ml_results_load_cell(&doc, path) == 0 && doc) (void)ml_results_seal_check(doc, path);
    cJSON_Delete(doc);
    doc = NULL;
    if (ml_results_load(&doc, path) == 0) cJSON_Delete(doc);
    return 0;
}
