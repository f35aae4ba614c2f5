#!/usr/bin/env bash
# Stop the one-node SLURM started by scripts/slurm-up.sh: slurmd, slurmctld and
# munged, each by the PID in its pid file (never by process name, so nothing
# else on the machine is touched). Safe to run when nothing is up.
set -uo pipefail

say() { echo "slurm-down: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "slurm-down: ERROR: run as root" >&2; exit 1; }

stop() {  # name pidfile
  local name=$1 file=$2 pid
  if [ ! -s "$file" ]; then say "$name: no pid file ($file), not running"; return 0; fi
  pid=$(cat "$file")
  if ! kill -0 "$pid" 2>/dev/null; then say "$name: pid $pid not running"; rm -f "$file"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name: pid $pid ignored TERM for 10 s, sending KILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$file"
  say "$name: stopped (pid $pid)"
}

stop slurmd /run/slurm/slurmd.pid
stop slurmctld /run/slurm/slurmctld.pid
stop munged /run/munge/munged.pid
