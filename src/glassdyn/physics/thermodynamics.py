"""Thermodynamic checks of an MD trajectory: kinetic temperature, total-energy drift."""
from __future__ import annotations

import numpy as np


def kinetic_temperature(v: np.ndarray, mass: float) -> float:
    """T_kin = m Σ|v|² / (3N − 3), LAMMPS' compute temp (3 momentum degrees of freedom removed)."""
    n = v.shape[0]
    return float(mass * np.sum(v * v) / (3 * n - 3))


def energy_drift(etotal: np.ndarray, duration: float) -> np.ndarray:
    """Relative NVE energy drift per unit time, |E(t_run) − E(0)| / |E(0)| / t_run, per replica.

    ``etotal`` is (R, n_thermo) with the first column at t = 0 and the last at t_run.
    """
    e = np.asarray(etotal, dtype=float)
    return np.abs(e[:, -1] - e[:, 0]) / np.abs(e[:, 0]) / duration


def max_energy_deviation(etotal: np.ndarray) -> np.ndarray:
    """Largest relative deviation of the total energy from its start, max_t |E(t) − E(0)| / |E(0)|, per row."""
    e = np.asarray(etotal, dtype=float)
    return np.max(np.abs(e - e[:, :1]), axis=1) / np.abs(e[:, 0])


def relative_energy_change(e0: np.ndarray, e1: np.ndarray) -> np.ndarray:
    """|E_1 − E_0| / |E_0| elementwise: the relative change of the total energy between two times."""
    return np.abs(np.asarray(e1, float) - e0) / np.abs(np.asarray(e0, float))
