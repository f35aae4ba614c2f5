"""Rule ``replicas``: the iso-configurational NVE ensemble of one equilibrated frame (SCIENCE.md §3)."""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from glassdyn import config as cfgmod
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.progress import Progress
from glassdyn.io.provenance import provenance
from glassdyn.io.storage import StorageError
from glassdyn.md.checkpoint import (
    Checkpoint,
    CheckpointState,
    _remove_tree,
    fingerprint,
    segment_ends,
    thermo_steps,
)
from glassdyn.md.engine import Engine, potential_description, run_chunks
from glassdyn.md.equilibrate import default_checkpoint_dir
from glassdyn.md.parallel import Execution, Parallel, on_root, parallel_settings
from glassdyn.physics.protocol import (
    SamplingPlan,
    box_vector,
    maxwell_boltzmann_velocities,
    replica_seed,
    sampling_plan,
)
from glassdyn.physics.thermodynamics import energy_drift

log = logging.getLogger(__name__)


class MDCheckError(ValueError):
    """A physics check of an MD run failed (energy drift, initial temperature)."""


#: What the replicas read: the system, R, the thermo interval and the sampling times of T.
#: ``protocol.checks`` is a gate (a job fails or not; its file is the same) and reaches the step
#: as ``checks``, not as a rerun trigger; rule ``dynamics`` re-checks every replica with the current values.
READS = reads("system", "protocol.replicas", "protocol.thermo_every", "temperatures[T].times")

EQUILIBRATED_DATASETS = ("positions", "types", "box")


def read_equilibrated(path: str | Path, cfg: dict) -> dict[str, np.ndarray]:
    """The t = 0 frame; a missing/corrupt/incompatible file raises StorageError naming it."""
    data, attrs = storage.read_h5(path, EQUILIBRATED_DATASETS)
    n = int(cfg["system"]["n_particles"])
    if data["positions"].shape != (n, 3) or data["types"].shape != (n,):
        raise StorageError(path, f"holds {data['positions'].shape[0]} particles, the configuration has N = {n}; "
                                 "rerun the equilibrate rule")
    if not np.allclose(data["box"], box_vector(cfg)):
        raise StorageError(path, f"box {data['box']} differs from the configuration's {box_vector(cfg)}")
    if not np.all(np.isfinite(data["positions"])):
        raise StorageError(path, "positions contain non-finite values; delete it and rerun equilibrate")
    data["attrs"] = attrs
    return data


def _replica_fingerprint(cfg: dict, T: float, c: int, r: int, frame: dict) -> str:
    """What replica r depends on: the step's configuration slice, its identity and the frame's content."""
    h = hashlib.sha256()
    for k in EQUILIBRATED_DATASETS:
        h.update(np.ascontiguousarray(frame[k]).tobytes())
    return fingerprint({"step": "replicas", "config": cfg, "T": cfgmod.temperature_key(T), "c": int(c), "r": int(r),
                        "frame": h.hexdigest()})


def replica_thermo_steps(cfg: dict, plan: SamplingPlan) -> list[int]:
    """Thermo steps of one replica: 0, multiples of thermo_every and the sampling steps, up to the last sample."""
    last = int(plan.steps[-1])
    return [0] + thermo_steps(0, last, int(cfg["protocol"]["thermo_every"]), plan.steps)


def _run_one_replica(cfg: dict, T: float, c: int, r: int, frame: dict, eng: Engine, rank: int, folder: Path,
                     seg: int, progress: Progress, steps_after: int = 0) -> None:
    """Run (or finish) replica ``r`` and write ``folder/r<r>.h5``; never redoes saved work."""
    done_path = folder / f"r{r:04d}.h5"
    fp = _replica_fingerprint(cfg, T, c, r, frame)
    if done_path.exists():
        ok = False
        if rank == 0:
            try:
                _, attrs = storage.read_h5(done_path, ["frames"])
                ok = attrs.get("fingerprint") == fp
            except StorageError:
                ok = False
        if eng.comm is not None and eng.comm.Get_size() > 1:
            ok = eng.comm.bcast(ok, root=0)
        if ok:
            if rank == 0:
                log.info("replica %d already complete in %s; kept", r, done_path)
            return
    plan = sampling_plan(cfg, T)
    last = int(plan.steps[-1])
    record = replica_thermo_steps(cfg, plan)
    samples = [int(s) for s in plan.steps]
    ck = Checkpoint(folder / f"r{r:04d}", fp)
    state = on_root(eng.comm, ck.load, last, samples)
    seed = replica_seed(T, c, r)
    mass = float(cfg["system"]["mass"])
    v0 = maxwell_boltzmann_velocities(eng.n, float(T), mass, seed)
    if state is not None and rank == 0:
        log.info("replica %d: resuming from %s at step %d", r, state.restart, state.step)
    fresh = state is None
    if fresh:  # the initial state is a function of the inputs: no checkpoint needed before the first segment
        eng.create(frame["positions"], frame["types"], v0)
        eng.command("fix integrate all nve")
        eng.run(0, pre=True)
        state = CheckpointState(0, f"replica {r}", Path(), [(0, *eng.thermo())])
    for end in segment_ends(0, last, seg, samples):
        if end <= state.step:
            continue
        t0, begin = time.perf_counter(), state.step
        if not fresh:
            ck.verify_restart_step(state, eng.load(state.restart))
            eng.command("fix integrate all nve")
        run_chunks(eng, begin, end, record, None, state.thermo, setup=not fresh)
        fresh = False
        if end in samples:
            state.frames.append(eng.unwrapped_positions())
        state = ck.save(eng, rank, CheckpointState(end, f"replica {r}", state.restart, state.thermo, state.frames))
        progress.segment(f"replica {r}", end, end - begin, time.perf_counter() - t0, last - end + steps_after)
    if rank == 0:
        th = np.asarray(state.thermo, dtype=float)
        if list(th[:, 0].astype(np.int64)) != record:
            raise RuntimeError(f"replica {r}: thermo steps {th[:, 0]} differ from the plan {record}")
        storage.write_h5(done_path, {"frames": np.stack(state.frames), "thermo": th, "initial_velocities": v0},
                         {"fingerprint": fp, "seed": seed, "temperature0": float(th[0, 4]), "step": last})
        ck.remove()


def check_replicas(chk: dict, T: float, drift: np.ndarray, temperature0: np.ndarray) -> None:
    """Raise :class:`MDCheckError` unless every drift < max_energy_drift and mean T(0) is within tolerance of T.

    ``chk`` is ``protocol.checks``: ``max_energy_drift`` (per unit time), ``temperature_tolerance`` (relative).
    """
    bad = np.flatnonzero(~(drift < chk["max_energy_drift"]))
    if bad.size:
        raise MDCheckError(f"NVE energy drift too large in replicas {bad.tolist()}: "
                           f"{drift[bad].tolist()} per unit time > protocol.checks.max_energy_drift = "
                           f"{chk['max_energy_drift']} (timestep too large or the equilibrated frame is bad)")
    mean_t0 = float(np.mean(temperature0))
    if abs(mean_t0 - T) > chk["temperature_tolerance"] * T:
        raise MDCheckError(f"mean kinetic temperature of the replicas at t = 0 is {mean_t0:.4f}, more than "
                           f"protocol.checks.temperature_tolerance = {chk['temperature_tolerance']} (relative) from "
                           f"T = {T}")


def _replica_groups(par: Parallel, n_replicas: int):
    """(group communicator, group index, number of groups, rank in group)."""
    g = max(1, min(par.replica_groups, n_replicas, par.size))
    if par.size % g:
        raise ValueError(f"parallel.replica_groups = {g} does not divide the {par.size} MPI ranks")
    per = par.size // g
    color = par.rank // per
    comm = par.world.Split(color, par.rank) if par.world is not None else None
    return comm, color, g, comm.Get_rank() if comm is not None else 0


def run_replicas(cfg: dict, T: float, c: int, equilibrated_path: str | Path, output: str | Path, *, checks: dict,
                 run: Execution = Execution(), checkpoint_dir: str | Path | None = None) -> Path:
    """The iso-configurational ensemble of configuration ``c`` (SCIENCE.md §3).

    R = protocol.replicas NVE runs from the equilibrated frame, replica r with
    velocities :func:`maxwell_boltzmann_velocities` (seed :func:`replica_seed`),
    run to the last sampling step. With ``parallel.replica_groups`` = G > 1 and
    G·k MPI ranks, G groups of k ranks run replicas r ≡ g (mod G) side by side.

    Checks before writing (:func:`check_replicas` with ``checks`` =
    ``protocol.checks``): energy drift of every replica and the mean initial
    kinetic temperature; a failure raises :class:`MDCheckError` and nothing is
    written.
    """
    cfg = config_slice(cfg, READS, T=T)
    par = parallel_settings(run)
    T, c = float(T), int(c)
    n_rep = int(cfg["protocol"]["replicas"])
    plan = sampling_plan(cfg, T)
    folder = Path(checkpoint_dir or default_checkpoint_dir(output, "replicas"))
    frame = on_root(par.world, read_equilibrated, equilibrated_path, cfg)
    comm, group, n_groups, grank = _replica_groups(par, n_rep)
    mine = [r for r in range(n_rep) if r % n_groups == group]
    eng = Engine(cfg, comm=comm, omp_threads=par.omp_threads)
    last = int(plan.steps[-1])
    progress = Progress(f"replicas T={cfgmod.temperature_key(T)} c={c} group {group}", grank == 0)
    if par.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        log.info("replicas T=%s c=%d: R=%d to step %d (t = %g), %d group(s) of %d rank(s), segments of %d steps",
                 cfgmod.temperature_key(T), c, n_rep, last, plan.times[-1], n_groups, par.size // n_groups,
                 run.segment_steps)
    par.barrier()
    try:
        for i, r in enumerate(mine):
            _run_one_replica(cfg, T, c, r, frame, eng, grank, folder, run.segment_steps, progress,
                             last * (len(mine) - i - 1))
    finally:
        lammps_version = eng.version
        eng.close()
        if comm is not None:
            comm.Free()
    par.barrier()
    on_root(par.world, _assemble_replicas, cfg, T, c, frame, plan, folder, output, lammps_version,
            {"checks": checks, "keep_checkpoints": run.keep_checkpoints, "mpi_ranks": par.size,
             "omp_threads": par.omp_threads, "input": equilibrated_path})
    par.barrier()
    return Path(output)


def _assemble_replicas(cfg, T, c, frame, plan, folder: Path, output, lammps_version, job: dict):
    """Check the finished replicas and write ``replicas.h5`` (rank 0)."""
    n_rep = int(cfg["protocol"]["replicas"])
    frames, thermo, v0, seeds, t0 = [], [], [], [], []
    for r in range(n_rep):
        d, a = storage.read_h5(folder / f"r{r:04d}.h5")
        frames.append(d["frames"])
        thermo.append(d["thermo"])
        v0.append(d["initial_velocities"])
        seeds.append(int(a["seed"]))
        t0.append(float(a["temperature0"]))
    thermo = np.stack(thermo)  # (R, n_th, 5)
    drift = energy_drift(thermo[:, :, 1], float(plan.times[-1]))
    t0 = np.asarray(t0)
    check_replicas(job["checks"], T, drift, t0)
    storage.write_h5(output, {
        "types": frame["types"], "box": frame["box"], "initial_positions": frame["positions"],
        "times": plan.times, "requested_times": plan.requested_times, "steps": plan.steps,
        "positions": np.stack(frames), "initial_velocities": np.stack(v0),
        "thermo/step": thermo[0, :, 0].astype(np.int64), "thermo/etotal": thermo[:, :, 1],
        "thermo/pe": thermo[:, :, 2], "thermo/ke": thermo[:, :, 3], "thermo/temp": thermo[:, :, 4],
        "checks/energy_drift": drift, "checks/temperature0": t0,
    }, {
        "T": float(T), "c": int(c), "seeds": seeds, "replicas": n_rep, "timestep": float(cfg["system"]["timestep"]),
        "lammps_version": int(lammps_version), "potential": potential_description(cfg),
        "thermo_units": "energies per particle", "checks": job["checks"],
        "max_energy_drift": float(drift.max()), "mean_temperature0": float(t0.mean()),
        "mpi_ranks": job["mpi_ranks"], "omp_threads": job["omp_threads"],
        "provenance": provenance(cfg, [job["input"]], T=float(T), c=int(c)),
    })
    log.info("replicas T=%s c=%d: wrote %s (max drift %.2e per unit time, mean T(0) = %.4f)",
             cfgmod.temperature_key(T), c, output, drift.max(), t0.mean())
    if not job["keep_checkpoints"]:
        _remove_tree(folder)
