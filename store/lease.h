/*
 * store/lease.h: claims on jobs in a store that several processes and
 * hosts share (an NFS-like folder): who is computing a job's output now.
 * A lease is a file DIR/HASH.G, generation G, made with link() (one
 * creator wins, on NFS too). Its holder touches it while it works; a lease
 * not touched for ttl seconds belongs to a holder that died (a killed
 * process, a lost host), and the next claimer creates HASH.G+1, which the
 * old holder sees as losing it.
 * Ages are measured on the filesystem's clock, never this host's: "now" is
 * the modification time of a file this process has just touched, so hosts
 * whose clocks disagree still agree on which lease is stale. A lease's text
 * names its holder ("host pid N since T"); a pid means something only on
 * its own host, so only there is a lease whose process is gone taken over
 * at once (a rerun right after a kill); elsewhere it lapses after ttl.
 * Why this is enough: every job's output is written atomically and is the
 * same bits whoever computes it, so a lease only saves work. When a lease
 * is wrongly taken over (a holder paused longer than ttl) the job runs
 * twice and both write the same file.
 * Owns: the lease files, their clock, claiming, renewing, releasing.
 * Not here: which jobs exist or are done (sched/jobs.h).
 */
#ifndef ML_STORE_LEASE_H
#define ML_STORE_LEASE_H

#include <limits.h>
#include <stddef.h>

/* The seconds a lease lives without being renewed:
 * $MERGELAB_LEASE_SECONDS when set (tests use 2), else this. Holders renew
 * every ttl/4. */
#define ML_LEASE_TTL_DEFAULT 120.0
double ml_lease_ttl(void);

typedef struct {
    char path[PATH_MAX];        /* DIR/HASH.G, ours while held */
    char next[PATH_MAX];        /* DIR/HASH.G+1: once it exists, someone took over */
    int held;                   /* 1 between a claim and its release */
    int lost;                   /* 1 once renew saw a takeover */
    double renewed;             /* monotonic seconds of the last touch */
} ml_lease;

/* Claims HASH in dir (created when missing): 1 claimed (*l is held), 0
 * someone alive holds it (holder, may be NULL, gets its text: "host pid
 * since"), or a negative ML_E* when dir cannot be used. */
int ml_lease_claim(ml_lease *l, const char *dir, const char *hash, double ttl, char *holder, size_t holder_size);
/* Touches the lease when a quarter of ttl has passed since the last touch
 * (cheap to call often): 0, or 1 when another process has taken it over
 * (l->lost; the work goes on, its output is the same). */
int ml_lease_renew(ml_lease *l, double ttl);
/* Removes the lease (and the generations before it); NULL-safe, idempotent. */
void ml_lease_release(ml_lease *l);

#endif
