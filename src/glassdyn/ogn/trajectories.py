"""OGN training data: LAMMPS NVE trajectories of the KA mixture, every step recorded.

Two kinds of source (SCIENCE.md §6, Liu et al. §4.1):

* **states** of the paper's small box (N = 265, L = 6.038, Δt = 0.005): a
  random placement, minimised, brought to T by rescaling the velocities to T
  every step, relaxed in NVE; the *glass* is that liquid quenched by a
  Nosé–Hoover ramp to T_glass and relaxed in NVE. Train and test data come
  from two independent preparations (different seeds), so no test frame is
  correlated with a training frame.
* **campaign** temperatures: NVE continuations of the campaign's own
  equilibrated configurations (``results/md/T{T}/c{c}/equilibrated.h5``,
  their stored positions and velocities), one trajectory per configuration;
  training configurations give the train split, test configurations the test
  split, exactly as for the other models.

Each trajectory records S + 1 frames (steps 0..S) of unwrapped positions and
velocities, with LAMMPS' per-particle energies. The interaction is the
campaign's ``system`` (ε, σ, cutoffs, mass) set up by
:class:`glassdyn.Engine`; only N, the box and Δt differ for the states.

File layout (``results/ogn/data/{source}/{split}.h5``): ``types`` (N,) i1,
``box`` (3,), ``positions`` (n_traj, S+1, N, 3) f8 unwrapped, ``velocities``
(n_traj, S+1, N, 3) f8, ``steps`` (S+1,) i8, ``thermo/{etotal,pe,ke,temp}``
(n_traj, S+1) per particle; attrs ``source``, ``split``, ``timestep``,
``T_target``, ``T_measured``, ``seeds``, ``max_energy_deviation`` (n_traj,),
``lammps_version``, ``potential``, ``protocol``.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from glassdyn import config as cfgmod
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.md.engine import Engine, potential_description
from glassdyn.md.replicas import read_equilibrated
from glassdyn.physics.protocol import box_vector, maxwell_boltzmann_velocities, particle_types
from glassdyn.physics.thermodynamics import max_energy_deviation

log = logging.getLogger("glassdyn.trajectories")

TRAJECTORY_DATASETS = ("types", "box", "positions", "velocities")


# ----------------------------------------------------------------------------- systems
def state_system(cfg: dict, timestep: float | None = None) -> dict:
    """A config dict for :class:`Engine` of the OGN box: the campaign interaction with
    N = ogn.system.n_particles in a cube of edge ogn.system.box_length (density N/L³)."""
    o = cfg["ogn"]["system"]
    system = dict(cfg["system"])
    system["n_particles"] = int(o["n_particles"])
    system["density"] = o["n_particles"] / o["box_length"] ** 3
    system["timestep"] = float(timestep if timestep is not None else o["timestep"])
    return {"system": system}


def campaign_system(cfg: dict, timestep: float | None = None) -> dict:
    """The campaign's own system with the OGN data time step."""
    system = dict(cfg["system"])
    system["timestep"] = float(timestep if timestep is not None else cfg["ogn"]["campaign"]["timestep"])
    return {"system": system}


def source_seed(source: str, split: str, stage: str) -> int:
    return cfgmod.derive_seed("ogn", source, split, stage)


# ----------------------------------------------------------------------------- recording
def record_nve(eng: Engine, steps: int) -> dict[str, np.ndarray]:
    """Run ``steps`` NVE steps (``fix nve`` must be active), recording every step.

    Returns ``positions`` (S+1, N, 3) unwrapped (x + image·L, continuous),
    ``velocities`` (S+1, N, 3) and ``thermo`` (S+1, 4) = (etotal, pe, ke, temp) per particle.
    Frame 0 is the state before the first step.
    """
    n = eng.n
    pos = np.empty((steps + 1, n, 3))
    vel = np.empty((steps + 1, n, 3))
    thermo = np.empty((steps + 1, 4))
    eng.run(0, pre=True)
    for s in range(steps + 1):
        if s:
            eng.run(1, pre=False)
        pos[s] = eng.unwrapped_positions()
        vel[s] = eng.velocities()
        thermo[s] = eng.thermo()
    return {"positions": pos, "velocities": vel, "thermo": thermo}


def _stack(records: list[dict]) -> dict[str, np.ndarray]:
    th = np.stack([r["thermo"] for r in records])
    return {"positions": np.stack([r["positions"] for r in records]),
            "velocities": np.stack([r["velocities"] for r in records]),
            "thermo/etotal": th[..., 0], "thermo/pe": th[..., 1], "thermo/ke": th[..., 2], "thermo/temp": th[..., 3]}


def _write(output, data: dict, types, box, attrs: dict, steps: int) -> Path:
    deviation = max_energy_deviation(data["thermo/etotal"])
    attrs = dict(attrs, max_energy_deviation=deviation.tolist(), T_measured=float(np.mean(data["thermo/temp"])))
    return storage.write_h5(output, {"types": np.asarray(types, np.int8), "box": np.asarray(box, float),
                                     "steps": np.arange(steps + 1, dtype=np.int64), **data}, attrs)


# ----------------------------------------------------------------------------- the small-box states
def prepare_state(eng: Engine, cfg: dict, state: str, split: str) -> np.ndarray:
    """Bring a fresh OGN box to the recorded state; returns the types (N,) (A → 0, B → 1).

    Random placement → minimisation (protocol.minimize) → Maxwell–Boltzmann
    velocities at T → ``rescale_steps`` with the velocities rescaled to T every
    step (``fix temp/rescale 1``, the paper's protocol) → for a glass a
    Nosé–Hoover ramp T → ``quench_to`` in ``quench_steps`` → ``relax_steps`` NVE.
    """
    o = cfg["ogn"]
    st = o["states"][state]
    sysc = state_system(cfg)
    types = particle_types(sysc)
    box = box_vector(sysc)
    rng = np.random.default_rng(source_seed(state, split, "placement"))
    eng.create(rng.uniform(0.0, box[0], size=(eng.n, 3)), types)
    eng.minimize(cfg["protocol"]["minimize"])
    T = float(st["T"])
    eng.set_velocities(maxwell_boltzmann_velocities(eng.n, T, float(cfg["system"]["mass"]),
                                                       source_seed(state, split, "velocities")))
    eng.command("fix integrate all nve")
    if st["rescale_steps"] > 0:
        eng.command(f"fix rescale all temp/rescale 1 {T!r} {T!r} 0.0 1.0")
        eng.run(int(st["rescale_steps"]), pre=True)
        eng.command("unfix rescale")
    if st.get("quench_to") is not None and st["quench_steps"] > 0:
        eng.command("unfix integrate")
        eng.command(f"fix thermostat all nvt temp {T!r} {float(st['quench_to'])!r} {float(o['thermostat_damping'])!r}")
        eng.run(int(st["quench_steps"]), pre=True)
        eng.command("unfix thermostat")
        eng.command("fix integrate all nve")
    if st["relax_steps"] > 0:
        eng.run(int(st["relax_steps"]), pre=True)
    return types


#: What a small-box state's trajectories read: the interaction, the start's minimisation, the OGN box and
#: thermostat, this state's preparation and this split's size.
STATE_READS = reads("system", "protocol.minimize", "ogn.system", "ogn.thermostat_damping", "ogn.states.{state}",
                    "ogn.data.{split}", "ogn.data.spacing")
#: What the campaign continuations read: the system, the OGN campaign settings and the split of configurations.
CAMPAIGN_READS = reads("system", "ogn.campaign", "configurations.n", "configurations.n_train")


def state_trajectories(cfg: dict, state: str, split: str, output: str | Path) -> Path:
    """Prepare ``state`` and record ``ogn.data.{split}.trajectories`` NVE trajectories of
    ``ogn.data.{split}.steps`` steps, consecutive but ``ogn.data.spacing`` NVE steps apart."""
    cfg = config_slice(cfg, STATE_READS, state=state, split=split)
    o = cfg["ogn"]
    plan = o["data"][split]
    sysc = state_system(cfg)
    t0 = time.perf_counter()
    eng = Engine(sysc)
    try:
        types = prepare_state(eng, cfg, state, split)
        records = []
        for r in range(int(plan["trajectories"])):
            if r and o["data"]["spacing"] > 0:
                eng.run(int(o["data"]["spacing"]), pre=True)
            records.append(record_nve(eng, int(plan["steps"])))
        version = eng.version
    finally:
        eng.close()
    st = o["states"][state]
    T_target = float(st["quench_to"]) if st.get("quench_to") is not None else float(st["T"])
    out = _write(output, _stack(records), types, box_vector(sysc), {
        "source": state, "split": split, "timestep": sysc["system"]["timestep"], "T_target": T_target,
        "seeds": [source_seed(state, split, "placement"), source_seed(state, split, "velocities")],
        "lammps_version": int(version), "potential": potential_description(sysc),
        "protocol": {"state": st, "data": o["data"], "thermostat_damping": o["thermostat_damping"],
                     "minimize": cfg["protocol"]["minimize"], "n_particles": sysc["system"]["n_particles"],
                     "box_length": o["system"]["box_length"]},
    }, int(plan["steps"]))
    log.info("OGN data %s/%s: %d trajectories x %d steps in %.1f s -> %s", state, split, len(records),
             plan["steps"], time.perf_counter() - t0, output)
    return out


# ----------------------------------------------------------------------------- campaign temperatures
def campaign_configurations(cfg: dict, split: str) -> list[int]:
    """Configuration indices whose equilibrated frames seed the OGN ``split`` trajectories."""
    camp = cfg["ogn"]["campaign"]
    if split == "train":
        return cfgmod.train_indices(cfg)[: int(camp["train_configurations"])]
    return cfgmod.test_indices(cfg)[: int(camp["test_configurations"])]


def campaign_trajectories(cfg: dict, T: float, split: str, inputs: list[str | Path], output: str | Path) -> Path:
    """One NVE trajectory of ``ogn.campaign.{split}_steps`` steps from each equilibrated frame in ``inputs``."""
    cfg = config_slice(cfg, CAMPAIGN_READS)
    camp = cfg["ogn"]["campaign"]
    steps = int(camp[f"{split}_steps"])
    sysc = campaign_system(cfg)
    eng = Engine(sysc)
    t0 = time.perf_counter()
    records, types = [], None
    try:
        for path in inputs:
            frame = read_equilibrated(path, cfg)
            v, _ = storage.read_h5(path, ["velocities"])
            types = frame["types"]
            eng.create(frame["positions"], types, v["velocities"])
            eng.command("fix integrate all nve")
            records.append(record_nve(eng, steps))
        version = eng.version
    finally:
        eng.close()
    out = _write(output, _stack(records), types, box_vector(cfg), {
        "source": f"T{cfgmod.temperature_key(T)}", "split": split, "timestep": sysc["system"]["timestep"],
        "T_target": float(T), "seeds": [], "configurations": [str(p) for p in inputs],
        "lammps_version": int(version), "potential": potential_description(sysc),
        "protocol": {"campaign": camp, "n_particles": cfg["system"]["n_particles"]},
    }, steps)
    log.info("OGN data T=%s/%s: %d trajectories x %d steps in %.1f s -> %s", cfgmod.temperature_key(T), split,
             len(records), steps, time.perf_counter() - t0, output)
    return out


# ----------------------------------------------------------------------------- reading
def read_trajectories(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Datasets and attributes of an OGN data file; a bad file raises StorageError naming it."""
    data, attrs = storage.read_h5(path)
    for k in TRAJECTORY_DATASETS:
        if k not in data:
            raise storage.StorageError(path, f"missing dataset '{k}'; rerun the OGN trajectory rule")
    if data["positions"].shape != data["velocities"].shape or data["positions"].ndim != 4:
        raise storage.StorageError(path, "positions/velocities are not (n_traj, S+1, N, 3)")
    return data, attrs
