#!/usr/bin/env bash
# A single-node SLURM on this Debian machine, for tests/test_cluster.py (and CI, see .ci/run).
#
#   sudo bash tests/cluster/setup_slurm.sh
#
# Idempotent: installs packages only when a command is missing, writes /etc/slurm/slurm.conf
# only when its content would change, starts munged, slurmctld and slurmd only when they are not
# running (restarts the SLURM daemons when the config changed), then waits until `sinfo` shows the
# node idle. A second run on a working cluster changes nothing.
#
# The cluster: this host (`hostname -s`) as controller and only node, `nproc` CPUs, 80% of the
# machine's memory, one default partition `debug`, no accounting (so `sacct` knows no jobs: the
# test profile sets `slurm-status-command: squeue`), MinJobAge=600 so finished jobs stay visible
# to `squeue` and `scontrol show job` for 10 minutes.
set -euo pipefail

log() { echo "setup_slurm: $*"; }
die() {
    echo "setup_slurm: $*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons)"

# --- packages --------------------------------------------------------------------------------
missing=0
for command in munged mungekey slurmctld slurmd sinfo squeue sbatch scontrol; do
    command -v "$command" >/dev/null 2>&1 || missing=1
done
if ((missing)); then
    log "installing slurm-wlm and munge"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge
fi

# --- munge -----------------------------------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating the munge key"
    mungekey --create --keyfile /etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! pgrep -u munge -x munged >/dev/null; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 1 20); do
    munge -n </dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.5
done
munge -n </dev/null | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"

# --- slurm.conf ------------------------------------------------------------------------------
host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
install -d -m 0755 /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
wanted=$(
    cat <<EOF
# Written by augablate's tests/cluster/setup_slurm.sh: a single-node test cluster.
ClusterName=augablate-test
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${host} CPUs=${cpus} RealMemory=${memory_mb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF
)
changed=0
if [[ ! -f /etc/slurm/slurm.conf ]] || [[ "$(cat /etc/slurm/slurm.conf)" != "$wanted" ]]; then
    log "writing /etc/slurm/slurm.conf (${host}: ${cpus} CPUs, ${memory_mb} MB)"
    printf '%s\n' "$wanted" >/etc/slurm/slurm.conf.new
    mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
    changed=1
fi

# --- daemons ---------------------------------------------------------------------------------
# The pid of a daemon we run, from its pid file, if that process is alive and is the daemon.
running_pid() {
    local name=$1 pid
    pid=$(cat "/run/${name}.pid" 2>/dev/null) || return 1
    [[ -n "$pid" && "$(ps -o comm= -p "$pid" 2>/dev/null)" == "$name" ]] || return 1
    echo "$pid"
}
for daemon in slurmctld slurmd; do
    if ((changed)) && pid=$(running_pid "$daemon"); then
        log "stopping ${daemon} (pid ${pid}) to apply the new config"
        kill "$pid"
        for _ in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
    fi
    if ! running_pid "$daemon" >/dev/null && ! pgrep -x "$daemon" >/dev/null; then
        log "starting ${daemon}"
        "/usr/sbin/${daemon}"
    fi
done

# --- wait for the node -----------------------------------------------------------------------
state=""
for attempt in $(seq 1 60); do
    state=$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null | head -n 1 || true)
    case "$state" in
    idle | mixed | allocated | completing)
        log "node ${host} is ${state}"
        sinfo
        exit 0
        ;;
    down* | drain* | drained*)
        # e.g. left down by an earlier run of the daemons; ReturnToService=2 usually handles it
        ((attempt % 10 == 1)) && scontrol update nodename="$host" state=resume 2>/dev/null || true
        ;;
    esac
    sleep 1
done
die "node ${host} not idle after 60 s (state '${state}'); see /var/log/slurm/slurmctld.log and slurmd.log"
