#!/bin/sh
# tests/slurm.sh: a real single-node Slurm on this machine, for the tests.
#   sh tests/slurm.sh start DIR   munged, slurmctld and slurmd with their state,
#                                 spool, pids and logs in DIR; waits until the
#                                 node is idle; prints the SLURM_CONF to export
#   sh tests/slurm.sh stop DIR    stops them (and the munged it started)
# Needs root and Debian 12's slurmctld, slurmd, slurm-client and munge. The
# ports are not Slurm's defaults, so a Slurm already on the machine is left
# alone.
set -eu
cmd=${1:?start or stop}
dir=${2:?a folder for the state}

stop() {
    SLURM_CONF=$dir/slurm.conf scontrol shutdown >/dev/null 2>&1 || true
    for p in slurmd slurmctld munged; do
        [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
    done
    sleep 1
    for p in slurmd slurmctld munged; do
        [ -f "$dir/$p.pid" ] && kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null || true
        rm -f "$dir/$p.pid"
    done
    if [ -f "$dir/munge.dir" ]; then
        case $(cat "$dir/munge.dir") in /tmp/mergelab-munge.*) rm -rf "$(cat "$dir/munge.dir")";; esac
        rm -f "$dir/munge.dir"
    fi
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "slurm.sh: needs root" >&2; exit 2; }
for t in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || { echo "slurm.sh: $t is missing" >&2; exit 2; }
done
PATH=$PATH:/usr/sbin
mkdir -p "$dir/state" "$dir/spool"
host=$(hostname -s)

# munge: its own key and socket, run as the munge user, in a folder of its
# own that user can reach (DIR may sit in a folder only root may enter)
m=$(mktemp -d /tmp/mergelab-munge.XXXXXX)
chmod 755 "$m"
echo "$m" >"$dir/munge.dir"
chown munge:munge "$m" 2>/dev/null || true
dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 2>/dev/null
chown munge:munge "$m/munge.key" 2>/dev/null || true
chmod 400 "$m/munge.key"
mkdir -p /run/munge
chown munge:munge /run/munge 2>/dev/null || true
sock=$m/munge.socket
runuser -u munge -- munged --key-file="$m/munge.key" --socket="$sock" \
    --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/seed" --force
cp "$m/munged.pid" "$dir/munged.pid"

cat >"$dir/slurm.conf" <<EOF
ClusterName=mergelabtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# the tests wait for every level in turn: schedule as soon as a job ends, not every minute
SchedulerParameters=sched_interval=2,bf_interval=1,batch_sched_delay=0,sched_min_interval=0
MpiDefault=none
ReturnToService=2
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobCompType=jobcomp/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF"
for i in $(seq 1 100); do
    state=$(sinfo -h -o %t 2>/dev/null || true)
    case $state in idle*) echo "SLURM_CONF=$SLURM_CONF"; exit 0;; esac
    sleep 0.2
done
echo "slurm.sh: the node did not become idle (state '$state'); see $dir/slurmctld.log and $dir/slurmd.log" >&2
tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
stop
exit 3
