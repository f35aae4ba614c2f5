"""Plain LAMMPS input decks equivalent to an MD step (``glassdyn md-deck``), for people who run ``lmp`` by hand."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glassdyn import config as cfgmod
from glassdyn.io import storage
from glassdyn.io.storage import StorageError
from glassdyn.md.engine import header_commands, potential_commands, thermostat_command
from glassdyn.md.replicas import read_equilibrated
from glassdyn.physics.protocol import (
    box_vector,
    equilibration_stages,
    equilibration_velocity_seed,
    maxwell_boltzmann_velocities,
    particle_types,
    random_positions,
    replica_seed,
    sampling_plan,
)


# =========================================================================== plain LAMMPS decks
def write_data_file(path: str | Path, x: np.ndarray, types: np.ndarray, box: np.ndarray, mass: float,
                    v: np.ndarray | None = None) -> Path:
    """A LAMMPS data file (atomic style) with full-precision positions and optional velocities."""
    n = x.shape[0]
    lines = ["glassdyn initial state", "", f"{n} atoms", "2 atom types", "",
             f"0 {float(box[0])!r} xlo xhi", f"0 {float(box[1])!r} ylo yhi", f"0 {float(box[2])!r} zlo zhi", "",
             "Masses", "", f"1 {mass!r}", f"2 {mass!r}", "", "Atoms # atomic", ""]
    lines += [f"{i + 1} {int(t) + 1} {p[0]!r} {p[1]!r} {p[2]!r}" for i, (t, p) in enumerate(zip(types, x.tolist()))]
    if v is not None:
        lines += ["", "Velocities", ""]
        lines += [f"{i + 1} {q[0]!r} {q[1]!r} {q[2]!r}" for i, q in enumerate(v.tolist())]
    with storage.atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return Path(path)


def _deck_potential(cfg: dict) -> list[str]:
    return [c for c in potential_commands(cfg) if c != "thermo 0"]  # decks print thermo every thermo_every


def _velocity_set_commands(v: np.ndarray) -> list[str]:
    return [f"set atom {i + 1} vx {q[0]!r} vy {q[1]!r} vz {q[2]!r}" for i, q in enumerate(v.tolist())]


def check_identity(cfg: dict, T: float, c: int, r: int | None = None) -> None:
    """A deck is labelled by (T, c[, r]): each must exist in the campaign, or ValueError names it."""
    cfgmod.temperature(cfg, T)  # ConfigError: no such temperature
    n = int(cfg["configurations"]["n"])
    if not 0 <= int(c) < n:
        raise ValueError(f"configuration index {c} is outside this campaign's 0..{n - 1} (configurations.n = {n})")
    n_rep = int(cfg["protocol"]["replicas"])
    if r is not None and not 0 <= int(r) < n_rep:
        raise ValueError(f"replica {r} is outside this campaign's 0..{n_rep - 1} (protocol.replicas = {n_rep})")


def input_script(cfg: dict, T: float, c: int, data_file: str = "placement.data",
                 velocities_file: str = "velocities.lmp", output_data: str = "equilibrated.data",
                 omp_threads: int = 1) -> str:
    """A plain LAMMPS deck of :func:`equilibrate` (one ``run`` per stage, no segments).

    Reads the numpy placement from ``data_file`` and sets the T_high velocities
    from ``velocities_file`` after minimisation (both written by
    :func:`write_input_deck`), so it runs the same protocol with ``lmp -in``.
    """
    p = cfg["protocol"]
    damp = float(p["thermostat_damping"])
    mini = p["minimize"]
    lines = [f"# glassdyn equilibration of configuration {int(c)} at T = {cfgmod.temperature_key(T)} "
             "(SCIENCE.md §2)", *header_commands(omp_threads),
             f"read_data {data_file}", *_deck_potential(cfg),
             f"thermo {int(p['thermo_every'])}",
             f"minimize {mini['etol']!r} {mini['ftol']!r} {int(mini['maxiter'])} {int(mini['maxeval'])}",
             "reset_timestep 0", f"include {velocities_file}"]
    previous = None
    for s in equilibration_stages(cfg, T):
        lines += [f"# stage {s.name}: steps {s.start}..{s.stop}"]
        lines += [f"unfix thermostat_{previous}"] if previous else []
        lines += [thermostat_command(s, damp), f"run {s.stop - s.start} start {s.start} stop {s.stop}"]
        previous = s.name
    lines += [f"write_data {output_data}"]
    return "\n".join(lines) + "\n"


def write_input_deck(cfg: dict, T: float, c: int, folder: str | Path, omp_threads: int = 1) -> Path:
    """Write ``in.equilibrate``, ``placement.data`` and ``velocities.lmp`` into ``folder``."""
    check_identity(cfg, T, c)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_data_file(folder / "placement.data", random_positions(cfg, T, c), particle_types(cfg), box_vector(cfg),
                    float(cfg["system"]["mass"]))
    v = maxwell_boltzmann_velocities(int(cfg["system"]["n_particles"]), float(cfg["protocol"]["T_high"]),
                                     float(cfg["system"]["mass"]), equilibration_velocity_seed(T, c))
    with storage.atomic_path(folder / "velocities.lmp") as tmp:
        Path(tmp).write_text("\n".join(_velocity_set_commands(v)) + "\n")
    with storage.atomic_path(folder / "in.equilibrate") as tmp:
        Path(tmp).write_text(input_script(cfg, T, c, omp_threads=omp_threads))
    return folder / "in.equilibrate"


def replica_input_script(cfg: dict, T: float, c: int, r: int, data_file: str = "replica.data",
                         dump_prefix: str = "frame", omp_threads: int = 1) -> str:
    """A plain LAMMPS deck of one replica of :func:`run_replicas`: NVE from ``data_file``
    (equilibrated frame + replica velocities), thermo every thermo_every steps, an
    unwrapped dump at every sampling step."""
    plan = sampling_plan(cfg, T)
    lines = [f"# glassdyn replica {int(r)} of configuration {int(c)} at T = {cfgmod.temperature_key(T)} "
             "(SCIENCE.md §3)", *header_commands(omp_threads),
             f"read_data {data_file}", *_deck_potential(cfg),
             f"thermo {int(cfg['protocol']['thermo_every'])}", "fix integrate all nve", "run 0 post no"]
    prev = 0
    for k, s in enumerate(plan.steps.tolist()):
        lines += [f"run {s - prev} post no",
                  f"write_dump all custom {dump_prefix}{k:03d}.txt id type xu yu zu modify sort id format float %.17g"]
        prev = s
    return "\n".join(lines) + "\n"


def write_replica_deck(cfg: dict, T: float, c: int, r: int, equilibrated_path: str | Path,
                       folder: str | Path, omp_threads: int = 1) -> Path:
    """Write ``in.replica`` and ``replica.data`` (equilibrated frame + replica r's velocities) into ``folder``.

    The frame must be the one of (T, c): its recorded ``T`` and ``c`` are checked.
    """
    check_identity(cfg, T, c, r)
    frame = read_equilibrated(equilibrated_path, cfg)
    made = frame["attrs"]
    same_T = cfgmod.temperature_key(float(made.get("T", "nan"))) == cfgmod.temperature_key(T)
    if not same_T or int(made.get("c", -1)) != int(c):
        raise StorageError(equilibrated_path, f"is the frame of T = {made.get('T')}, c = {made.get('c')}, not of "
                                              f"T = {cfgmod.temperature_key(T)}, c = {int(c)}: pass the matching "
                                              "equilibrated.h5 (results/md/T<T>/c<cccc>/)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    v = maxwell_boltzmann_velocities(frame["positions"].shape[0], float(T), float(cfg["system"]["mass"]),
                                     replica_seed(T, c, r))
    write_data_file(folder / "replica.data", frame["positions"], frame["types"], frame["box"],
                    float(cfg["system"]["mass"]), v)
    with storage.atomic_path(folder / "in.replica") as tmp:
        Path(tmp).write_text(replica_input_script(cfg, T, c, r, omp_threads=omp_threads))
    return folder / "in.replica"
