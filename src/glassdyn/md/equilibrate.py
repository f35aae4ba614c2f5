"""Rule ``equilibrate``: the t = 0 structure of one (T, configuration) (SCIENCE.md §2)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from glassdyn import config as cfgmod
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.progress import Progress
from glassdyn.io.provenance import provenance
from glassdyn.md.checkpoint import Checkpoint, CheckpointState, fingerprint, segment_ends, thermo_steps
from glassdyn.md.engine import Engine, potential_description, run_chunks, thermostat_command, wrap_positions
from glassdyn.md.parallel import Execution, on_root, parallel_settings
from glassdyn.physics.protocol import (
    box_vector,
    equilibration_stages,
    equilibration_velocity_seed,
    maxwell_boltzmann_velocities,
    particle_types,
    random_positions,
)

log = logging.getLogger(__name__)


#: What equilibration reads: the system, its own protocol stages and τα(T) (hold length).
READS = reads("system", "protocol.minimize", "protocol.T_high", "protocol.t_high", "protocol.t_cool",
              "protocol.hold_tau_alpha", "protocol.thermostat_damping", "protocol.thermo_every",
              "temperatures[T].tau_alpha")


def default_checkpoint_dir(output: str | Path, name: str) -> Path:
    return Path(output).parent / "checkpoints" / name


def equilibrate(cfg: dict, T: float, c: int, output: str | Path, run: Execution = Execution(),
                checkpoint_dir: str | Path | None = None) -> Path:
    """Rule ``equilibrate``: the t = 0 structure of configuration ``c`` at temperature ``T`` (SCIENCE.md §2).

    Random placement → minimisation → Nosé–Hoover at T_high for t_high →
    linear ramp of the thermostat target to T in t_cool → Nosé–Hoover at T for
    hold_tau_alpha · τα(T). The thermostat is LAMMPS ``fix nvt`` (a Nosé–Hoover
    chain of 3) with T_damp = ``protocol.thermostat_damping`` = 0.1 τ = 100 Δt
    by default: the LAMMPS recommendation of ~100 steps couples the heat bath
    within a few vibrational periods (period ≈ 0.3 τ here), far faster than the
    structural relaxation (τα ≥ 16 τ) the hold equilibrates, yet slow enough not
    to perturb the microscopic dynamics; the papers do not state their value.

    Resumes from ``checkpoint_dir`` if a previous run was killed (a checkpoint
    of other inputs is discarded). Writes ``output`` (layout in
    docs/architecture.md) from MPI rank 0 and removes the checkpoints
    afterwards unless ``run.keep_checkpoints``.
    """
    cfg = config_slice(cfg, READS, T=T)
    par = parallel_settings(run)
    T, c = float(T), int(c)
    stages = equilibration_stages(cfg, T)
    ck = Checkpoint(checkpoint_dir or default_checkpoint_dir(output, "equilibrate"),
                    fingerprint({"step": "equilibrate", "config": cfg, "T": cfgmod.temperature_key(T), "c": c}))
    eng = Engine(cfg, comm=par.world, omp_threads=par.omp_threads)
    label = f"equilibrate T={cfgmod.temperature_key(T)} c={c}"
    try:
        state = on_root(par.world, ck.load, stages[-1].stop if stages else 0)
        if state is None:
            if par.rank == 0:
                log.info("%s: N=%d, stages %s, segments of %d steps", label, eng.n,
                         [(s.name, s.stop - s.start) for s in stages], run.segment_steps)
            state = _start(cfg, T, c, eng, ck, par.rank)
        elif par.rank == 0:
            log.info("%s: resuming from %s at step %d", label, state.restart, state.step)
        state = _run_stages(cfg, stages, state, eng, ck, par.rank, run.segment_steps, Progress(label, par.rank == 0))
        ck.verify_restart_step(state, eng.load(state.restart))
        frame = {"x": eng.positions(), "v": eng.velocities(), "image": eng.images(), "lammps_version": eng.version}
    finally:
        eng.close()
    if par.rank == 0:
        _write(cfg, T, c, stages, state, frame, par, output)
        if not run.keep_checkpoints:
            ck.remove()
    par.barrier()
    return Path(output)


def _start(cfg: dict, T: float, c: int, eng: Engine, ck: Checkpoint, rank: int) -> CheckpointState:
    """Random placement, minimisation, velocities at T_high: the state at step 0 (checkpointed)."""
    prot = cfg["protocol"]
    eng.create(random_positions(cfg, T, c), particle_types(cfg))
    eng.minimize(prot["minimize"])
    eng.set_velocities(maxwell_boltzmann_velocities(eng.n, float(prot["T_high"]), float(cfg["system"]["mass"]),
                                                    equilibration_velocity_seed(T, c)))
    eng.run(0, pre=True)
    return ck.save(eng, rank, CheckpointState(0, "minimize", Path(), [(0, *eng.thermo())]))


def _run_stages(cfg: dict, stages: list, state: CheckpointState, eng: Engine, ck: Checkpoint, rank: int,
                seg: int, progress: Progress) -> CheckpointState:
    """Every stage from ``state`` on, segment by segment, each segment starting from its checkpoint."""
    prot = cfg["protocol"]
    last = stages[-1].stop if stages else 0
    for stage in stages:
        if state.step >= stage.stop:
            continue
        record = thermo_steps(stage.start, stage.stop, int(prot["thermo_every"]), [stage.stop])
        for end in segment_ends(stage.start, stage.stop, seg):
            if end <= state.step:
                continue
            t0, begin = time.perf_counter(), state.step
            ck.verify_restart_step(state, eng.load(state.restart))
            eng.command(thermostat_command(stage, float(prot["thermostat_damping"])))
            ramp = (stage.start, stage.stop) if stage.T_start != stage.T_stop else None
            run_chunks(eng, begin, end, record, ramp, state.thermo)
            state = ck.save(eng, rank, CheckpointState(end, stage.name, state.restart, state.thermo))
            progress.segment(stage.name, end, end - begin, time.perf_counter() - t0, last - end)
    return state


def _write(cfg: dict, T: float, c: int, stages: list, state: CheckpointState, frame: dict, par, output) -> None:
    box = box_vector(cfg)
    x, img = wrap_positions(frame["x"], frame["image"], box)
    th = np.asarray(state.thermo, dtype=float)
    steps_json = {"minimize": "energy minimisation (steps not counted)"}
    steps_json.update({s.name: {"start": s.start, "stop": s.stop, "steps": s.stop - s.start,
                                "T_start": s.T_start, "T_stop": s.T_stop} for s in stages})
    storage.write_h5(output, {
        "positions": x, "velocities": frame["v"], "types": particle_types(cfg), "box": box, "image": img,
        "thermo/step": th[:, 0].astype(np.int64), "thermo/etotal": th[:, 1], "thermo/pe": th[:, 2],
        "thermo/ke": th[:, 3], "thermo/temp": th[:, 4],
    }, {
        "T": T, "c": c, "seed": cfgmod.derive_seed(cfgmod.temperature_key(T), c, "placement"),
        "velocity_seed": equilibration_velocity_seed(T, c), "lammps_version": int(frame["lammps_version"]),
        "protocol": cfg["protocol"], "potential": potential_description(cfg), "steps": steps_json,
        "timestep": float(cfg["system"]["timestep"]), "thermo_units": "energies per particle",
        "mpi_ranks": par.size, "omp_threads": par.omp_threads,
        "provenance": provenance(cfg, T=T, c=c),
    })
    log.info("equilibrate T=%s c=%d: wrote %s (final T_kin = %.4f)", cfgmod.temperature_key(T), c, output, th[-1, 4])
