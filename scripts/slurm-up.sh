#!/usr/bin/env bash
# Bring up a one-node SLURM (slurmctld + slurmd + munge) on this machine, as
# root and without systemd, so that `snakemake --profile profiles/slurm` and
# tests/test_slurm.py run against a real scheduler (CI does this).
#
# The node offers every core, the memory minus a margin, and two fake GPUs
# (gres on /dev/tty0-1) so that --gpus scheduling and CUDA_VISIBLE_DEVICES can
# be exercised without GPUs. Idempotent: when the daemons already answer, it
# only prints the state. Stop with scripts/slurm-down.sh.
#
# Environment: SLURM_UP_MEM_MARGIN_MB (default 1024) memory kept for the OS;
# SLURM_UP_NO_INSTALL=1 fails instead of installing missing Debian packages.
set -euo pipefail

say() { echo "slurm-up: $*"; }
die() { echo "slurm-up: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts daemons)"

PKGS=(slurm-wlm munge openmpi-bin libpmix-dev)
ETC=/etc/slurm
RUN=/run/slurm
MARGIN_MB=${SLURM_UP_MEM_MARGIN_MB:-1024}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_state() { timeout 10 sinfo -h -o '%T' 2>/dev/null | head -n1 || true; }

if command -v sinfo >/dev/null && pid_alive "$RUN/slurmctld.pid" && pid_alive "$RUN/slurmd.pid"; then
  state=$(node_state)
  if [ -n "$state" ]; then
    say "already running (node $state); nothing to do"
    exit 0
  fi
fi

# ------------------------------------------------------------------ packages
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${SLURM_UP_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]}"
  say "installing ${missing[*]} (apt-get, about 15 s)"
  # Keep the packages' maintainer scripts from starting daemons themselves.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed (no network to the Debian mirror?)"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
else
  say "packages present (${PKGS[*]})"
fi

# ------------------------------------------------------------------ munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 755 /run/munge
MUNGE_PID=/run/munge/munged.pid
if pid_alive "$MUNGE_PID"; then
  say "munged already running (pid $(cat "$MUNGE_PID"))"
else
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock "$MUNGE_PID"
  su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=$MUNGE_PID"
  for _ in $(seq 50); do pid_alive "$MUNGE_PID" && break; sleep 0.1; done
  pid_alive "$MUNGE_PID" || die "munged did not start (see /var/log/munge/munged.log)"
  say "munged started (pid $(cat "$MUNGE_PID"))"
fi
munge -n | unmunge >/dev/null || die "munge round trip failed"

# ------------------------------------------------------------------ config
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
REAL_MB=$(( MEM_MB - MARGIN_MB ))
[ "$REAL_MB" -gt 256 ] || die "only ${MEM_MB} MB of memory; need more than the ${MARGIN_MB} MB margin + 256"

mkdir -p "$ETC" "$RUN" /var/log/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
chown slurm:slurm "$RUN" /var/log/slurm /var/lib/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd

cat > "$ETC/slurm.conf" <<EOF
# Written by glassdyn scripts/slurm-up.sh: a one-node test cluster.
ClusterName=glassdyn
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=pmix
# pgid, not linuxproc: a cancelled job's process that ignores SIGTERM and outlives its
# batch shell (reparented to init) keeps the job's process group and is still killed.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/none
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
GresTypes=gpu
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
NodeName=$HOST CPUs=$CPUS RealMemory=$REAL_MB Gres=gpu:fake:2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
cat > "$ETC/gres.conf" <<EOF
# Two fake GPUs: scheduling and CUDA_VISIBLE_DEVICES without hardware.
Name=gpu Type=fake File=/dev/tty[0-1]
EOF
say "wrote $ETC/slurm.conf (node $HOST: CPUs=$CPUS RealMemory=${REAL_MB}MB, 2 fake GPUs)"

# ------------------------------------------------------------------ daemons
if pid_alive "$RUN/slurmctld.pid"; then
  say "slurmctld already running (pid $(cat "$RUN/slurmctld.pid")), reconfiguring"
  scontrol reconfigure || true
else
  slurmctld -i
fi
for _ in $(seq 100); do pid_alive "$RUN/slurmctld.pid" && break; sleep 0.1; done
pid_alive "$RUN/slurmctld.pid" || die "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
if ! pid_alive "$RUN/slurmd.pid"; then
  slurmd
fi
for _ in $(seq 100); do pid_alive "$RUN/slurmd.pid" && break; sleep 0.1; done
pid_alive "$RUN/slurmd.pid" || die "slurmd did not start (see /var/log/slurm/slurmd.log)"

state=""
for _ in $(seq 60); do
  state=$(node_state)
  case "$state" in idle|mixed|allocated) break ;; esac
  sleep 0.5
done
case "$state" in
  idle|mixed|allocated) ;;
  *) tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
     die "node not ready (state '${state:-no answer}'); logs above" ;;
esac
say "up: slurmctld pid $(cat "$RUN/slurmctld.pid"), slurmd pid $(cat "$RUN/slurmd.pid"), node $HOST $state"
sinfo
