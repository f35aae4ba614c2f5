"""Rule ``equilibrate``: the t = 0 structure of one (T, configuration) (SCIENCE.md §2)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from glassdyn import config as cfgmod
from glassdyn.io import storage
from glassdyn.io.progress import Progress
from glassdyn.md.checkpoint import Checkpoint, CheckpointState, fingerprint, segment_ends, segment_steps, thermo_steps
from glassdyn.md.engine import Engine, potential_description, run_chunks, thermostat_command, wrap_positions
from glassdyn.md.parallel import on_root, parallel_settings
from glassdyn.physics.protocol import (
    box_vector,
    equilibration_stages,
    equilibration_velocity_seed,
    maxwell_boltzmann_velocities,
    particle_types,
    random_positions,
)

log = logging.getLogger(__name__)


# =========================================================================== equilibrate
def _equilibration_fingerprint(cfg: dict, T: float, c: int) -> str:
    p = cfg["protocol"]
    return fingerprint({"kind": "equilibrate", "system": cfg["system"], "T": cfgmod.temperature_key(T), "c": int(c),
                        "tau_alpha": cfgmod.temperature(cfg, T)["tau_alpha"],
                        "protocol": {k: p[k] for k in ("minimize", "T_high", "t_high", "t_cool", "hold_tau_alpha",
                                                       "thermostat_damping", "thermo_every")}})


def _default_checkpoint_dir(output: str | Path, name: str) -> Path:
    return Path(output).parent / "checkpoints" / name


def equilibrate(cfg: dict, T: float, c: int, output: str | Path, checkpoint_dir: str | Path | None = None,
                keep_checkpoints: bool = False) -> Path:
    """Produce the t = 0 structure of configuration ``c`` at temperature ``T`` (SCIENCE.md §2).

    Random placement → minimisation → Nosé–Hoover at T_high for t_high →
    linear ramp of the thermostat target to T in t_cool → Nosé–Hoover at T for
    hold_tau_alpha · τα(T). The thermostat is LAMMPS ``fix nvt`` (a Nosé–Hoover
    chain of 3) with T_damp = ``protocol.thermostat_damping`` = 0.1 τ = 100 Δt
    by default: the LAMMPS recommendation of ~100 steps couples the heat bath
    within a few vibrational periods (period ≈ 0.3 τ here), far faster than the
    structural relaxation (τα ≥ 16 τ) the hold equilibrates, yet slow enough not
    to perturb the microscopic dynamics; the papers do not state their value.

    Resumes from ``checkpoint_dir`` if a previous run was killed. Writes
    ``output`` (layout in docs/architecture.md) from MPI rank 0 and removes
    the checkpoints afterwards unless ``keep_checkpoints``.
    """
    par = parallel_settings(cfg)
    T, c = float(T), int(c)
    dt = float(cfg["system"]["timestep"])
    prot = cfg["protocol"]
    stages = equilibration_stages(cfg, T)
    last = stages[-1].stop if stages else 0
    seg = segment_steps(cfg)
    ck = Checkpoint(checkpoint_dir or _default_checkpoint_dir(output, "equilibrate"),
                    _equilibration_fingerprint(cfg, T, c))
    types = particle_types(cfg)
    eng = Engine(cfg, comm=par.world, omp_threads=par.omp_threads)
    damp = float(prot["thermostat_damping"])
    progress = Progress(f"equilibrate T={cfgmod.temperature_key(T)} c={c}", par.rank == 0)
    try:
        state = on_root(par.world, ck.load, last)
        if state is None:
            if par.rank == 0:
                log.info("equilibrate T=%s c=%d: N=%d, stages %s, segments of %d steps", cfgmod.temperature_key(T), c,
                         eng.n, [(s.name, s.stop - s.start) for s in stages], seg)
            eng.create(random_positions(cfg, T, c), types)
            eng.minimize(prot["minimize"])
            eng.set_velocities(maxwell_boltzmann_velocities(eng.n, float(prot["T_high"]), float(cfg["system"]["mass"]),
                                                            equilibration_velocity_seed(T, c)))
            eng.run(0, pre=True)
            state = ck.save(eng, par.rank, CheckpointState(0, "minimize", Path(), [(0, *eng.thermo())]))
        else:
            if par.rank == 0:
                log.info("equilibrate T=%s c=%d: resuming from %s at step %d", cfgmod.temperature_key(T), c,
                         state.restart, state.step)
        for stage in stages:
            if state.step >= stage.stop:
                continue
            record = thermo_steps(stage.start, stage.stop, int(prot["thermo_every"]), [stage.stop])
            for end in segment_ends(stage.start, stage.stop, seg):
                if end <= state.step:
                    continue
                t0, begin = time.perf_counter(), state.step
                ck.verify_restart_step(state, eng.load(state.restart))
                eng.command(thermostat_command(stage, damp))
                ramp = (stage.start, stage.stop) if stage.T_start != stage.T_stop else None
                run_chunks(eng, begin, end, record, ramp, state.thermo)
                state = ck.save(eng, par.rank, CheckpointState(end, stage.name, state.restart, state.thermo))
                progress.segment(stage.name, end, end - begin, time.perf_counter() - t0, last - end)
        ck.verify_restart_step(state, eng.load(state.restart))
        x, v, img = eng.positions(), eng.velocities(), eng.images()
        lammps_version = eng.version
    finally:
        eng.close()
    box = box_vector(cfg)
    x, img = wrap_positions(x, img, box)
    if par.rank == 0:
        th = np.asarray(state.thermo, dtype=float)
        steps_json = {"minimize": "energy minimisation (steps not counted)"}
        steps_json.update({s.name: {"start": s.start, "stop": s.stop, "steps": s.stop - s.start,
                                    "T_start": s.T_start, "T_stop": s.T_stop} for s in stages})
        storage.write_h5(output, {
            "positions": x, "velocities": v, "types": types, "box": box, "image": img,
            "thermo/step": th[:, 0].astype(np.int64), "thermo/etotal": th[:, 1], "thermo/pe": th[:, 2],
            "thermo/ke": th[:, 3], "thermo/temp": th[:, 4],
        }, {
            "T": T, "c": c, "seed": cfgmod.derive_seed(cfgmod.temperature_key(T), c, "placement"),
            "velocity_seed": equilibration_velocity_seed(T, c), "lammps_version": int(lammps_version),
            "protocol": prot, "potential": potential_description(cfg), "steps": steps_json, "timestep": dt,
            "thermo_units": "energies per particle",
            "mpi_ranks": par.size, "omp_threads": par.omp_threads,
        })
        log.info("equilibrate T=%s c=%d: wrote %s (final T_kin = %.4f)", cfgmod.temperature_key(T), c, output,
                 th[-1, 4])
        if not keep_checkpoints:
            ck.remove()
    par.barrier()
    return Path(output)
