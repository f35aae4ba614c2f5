"""How one MD job uses its processes: the MPI world, OpenMP threads and replica groups."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from glassdyn.md import native

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Execution:
    """How an MD job runs, never what it computes, so none of it is a rerun trigger.

    MPI ranks, OpenMP threads, replica groups and the restart-segment length
    change a trajectory only through the order of floating-point sums (the
    last bits, never the physics): a job is not rerun when they change, and a
    checkpoint written under other settings is resumed. Each output records the
    settings it was made with.
    """

    mpi_ranks: int = 1
    omp_threads: int = 1
    replica_groups: int = 1
    segment_steps: int = 1_000_000
    keep_checkpoints: bool = False


@dataclass
class Parallel:
    """How one MD job uses its processes: MPI world, OpenMP threads, replica groups."""

    world: Any = None  # mpi4py communicator (None: serial without MPI)
    omp_threads: int = 1
    replica_groups: int = 1

    @property
    def rank(self) -> int:
        return 0 if self.world is None else self.world.Get_rank()

    @property
    def size(self) -> int:
        return 1 if self.world is None else self.world.Get_size()

    def barrier(self) -> None:
        if self.world is not None and self.size > 1:
            self.world.Barrier()


def parallel_settings(run: Execution) -> Parallel:
    """MPI COMM_WORLD (as started by ``mpiexec -n N``) with the job's threads and replica groups."""
    native.preload_mpi()
    from mpi4py import MPI  # after preload_mpi: mpi4py needs libmpi loaded globally

    world = MPI.COMM_WORLD
    p = Parallel(world=world, omp_threads=run.omp_threads, replica_groups=run.replica_groups)
    want = run.mpi_ranks * run.replica_groups
    if p.size != want and p.rank == 0:
        log.warning("running on %d MPI ranks; the job asks for %d (parallel.mpi_ranks x replica_groups) "
                    "— start it with `%s -n %d`", p.size, want, native.mpiexec(), want)
    return p


def on_root(comm, fn, *args, **kwargs):
    """Run ``fn`` on rank 0 of ``comm`` and share its result with every rank.

    An exception is raised unchanged on rank 0 and as a RuntimeError with the
    same message on the other ranks, so all ranks stop together.
    """
    size = 1 if comm is None else comm.Get_size()
    rank = 0 if comm is None else comm.Get_rank()
    result, error = None, None
    if rank == 0:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if size == 1:
                raise
            error = exc
    if size > 1:
        result, message = comm.bcast((result, None if error is None else f"{type(error).__name__}: {error}"), root=0)
        if error is not None:
            raise error
        if message is not None:
            raise RuntimeError(f"rank 0 failed: {message}")
    return result
