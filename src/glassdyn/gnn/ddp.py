"""Distributed data-parallel training of one (T, t) cell: the process group and its signals.

A cell trains on W ranks (``training.ranks``; torchrun or ``srun`` set RANK,
WORLD_SIZE, LOCAL_RANK, or a single process runs alone). Each rank trains
its own slots of every epoch (:func:`glassdyn.gnn.batches.rank_slots`) and
DDP averages the gradients, so W ranks × G graphs per rank make one optimiser
step of W·G graphs. Control values (stop flags, validation sums) travel on a
gloo group. SIGTERM/SIGUSR1 (SLURM's warning before the time limit) set a flag
the loop reads between steps; rank 0 then writes the checkpoint and the job
exits with 128 + signal (:class:`TrainingInterrupted`), to be resumed.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


#: Signals after which rank 0 writes a checkpoint and the job exits non-zero (SLURM sends them before the limit).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class TrainingInterrupted(SystemExit):
    """Training stopped on a signal after writing its checkpoint; exit status 128 + signal number."""


# ----------------------------------------------------------------------------- distributed
@dataclasses.dataclass
class Dist:
    """This process's place in the job: rank, world size, local rank; ``group`` = gloo group for control."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    group: object = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _first_slurm_host(nodelist: str | None) -> str:
    if not nodelist:
        return "127.0.0.1"
    try:
        res = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True,
                             timeout=30, check=True)
        hosts = res.stdout.split()
        return hosts[0] if hosts else "127.0.0.1"
    except (OSError, subprocess.SubprocessError):
        return "127.0.0.1"


def distributed_env(environ: dict | None = None) -> dict | None:
    """RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT of a launch that is already distributed, else None.

    torchrun sets RANK and WORLD_SIZE itself. Under ``srun -n W`` they are
    derived from SLURM_PROCID, SLURM_NTASKS (the step's, SLURM_STEP_NUM_TASKS,
    when set) and SLURM_LOCALID; MASTER_ADDR is the first host of
    ``scontrol show hostnames $SLURM_JOB_NODELIST`` (127.0.0.1 without
    scontrol) and MASTER_PORT 15000 + (job id · 16 + step id) mod 20000.
    One task alone is not a distributed launch.
    """
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        out = {"RANK": env["RANK"], "WORLD_SIZE": env["WORLD_SIZE"], "LOCAL_RANK": env.get("LOCAL_RANK", "0"),
               "MASTER_ADDR": env.get("MASTER_ADDR", "127.0.0.1"), "MASTER_PORT": env.get("MASTER_PORT", "29500")}
        return out if int(out["WORLD_SIZE"]) > 1 else None
    ntasks = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or env.get("SLURM_NPROCS")
    if "SLURM_PROCID" in env and ntasks and int(ntasks) > 1:
        job = int(env.get("SLURM_JOB_ID", "0") or 0)
        step = int(env.get("SLURM_STEP_ID", "0") or 0) if str(env.get("SLURM_STEP_ID", "0")).isdigit() else 0
        return {
            "RANK": env["SLURM_PROCID"], "WORLD_SIZE": str(int(ntasks)), "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
            "MASTER_ADDR": env.get("MASTER_ADDR") or _first_slurm_host(env.get("SLURM_JOB_NODELIST")
                                                                        or env.get("SLURM_NODELIST")),
            "MASTER_PORT": env.get("MASTER_PORT") or str(15000 + (job * 16 + step) % 20000),
        }
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads_per_rank(local_world: int) -> int:
    if os.environ.get("OMP_NUM_THREADS"):
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, local_world))


def init_process_group(env: dict, device: torch.device) -> Dist:
    os.environ.update(env)
    rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=rank, world_size=world)
    group = dist.new_group(backend="gloo") if backend != "gloo" else dist.group.WORLD
    return Dist(rank=rank, world=world, local_rank=int(env.get("LOCAL_RANK", 0)), group=group)


def all_max(flag: bool, d: Dist) -> bool:
    if d.world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=d.group)
    return bool(t.item() > 0)


def all_sum(a: np.ndarray, d: Dist) -> np.ndarray:
    if d.world == 1:
        return a
    t = torch.as_tensor(np.nan_to_num(a, nan=0.0), dtype=torch.float64)
    m = torch.as_tensor(np.isnan(a), dtype=torch.float64)
    dist.all_reduce(t, group=d.group)
    dist.all_reduce(m, group=d.group)
    out = t.numpy()
    out[m.numpy() > 0] = np.nan
    return out


def replica_weight_difference(net: nn.Module, d: Dist) -> float:
    """Largest |w_rank − w_rank0| over all weights and ranks (0.0 when DDP kept the replicas in sync)."""
    if d.world == 1:
        return 0.0
    flat = torch.cat([q.detach().reshape(-1) for q in net.parameters()]).cpu().double()
    ref = flat.clone()
    dist.broadcast(ref, 0, group=d.group)
    diff = (flat - ref).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX, group=d.group)
    return float(diff.item())


class StopFlag:
    """Set by SIGTERM/SIGUSR1; the loop checks it between optimiser steps (rank 0 then checkpoints)."""

    def __init__(self):
        self.signum: int | None = None
        self._old = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum
        log.warning("received signal %d: checkpointing at the next step boundary, then exiting", signum)

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False
