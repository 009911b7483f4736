/*
 * core/version.c: the build stamp, from the generated build/ml_build_stamp.h.
 */
#include "core/version.h"
#include "ml_build_stamp.h"   /* generated in the build folder */

const char ml_build_commit[] = ML_BUILD_COMMIT;
const char ml_build_cc[] = ML_BUILD_CC;
const char ml_build_cflags[] = ML_BUILD_CFLAGS;
const char ml_build_source[] = ML_BUILD_SOURCE;
