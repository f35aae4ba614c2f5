"""The MD protocol as numbers: particle types, random start, velocities, stages, sampling plan, seeds.

Pure functions of the configuration (SCIENCE.md §1–3); :mod:`glassdyn.md`
turns them into LAMMPS runs. Seeds derive from (T, configuration, replica,
stage) through :func:`glassdyn.config.derive_seed`, so any configuration can
be reproduced alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from glassdyn import config as cfgmod


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
