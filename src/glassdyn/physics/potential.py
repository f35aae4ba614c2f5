"""The Kob–Andersen pair potential, ``lj/smooth/linear`` (shifted force), in numpy and torch.

For a pair of types (α, β) at distance r (LJ units: σ_AA, ε_AA):

    φ(r)  = 4 ε_αβ [(σ_αβ / r)^12 − (σ_αβ / r)^6]
    V(r)  = φ(r) − φ(r_c) − (r − r_c) φ'(r_c)        for r < r_c,   0 beyond
    F(r)  = −dV/dr = −φ'(r) + φ'(r_c)                  (> 0 repulsive)

with the per-pair cutoff r_c = cutoff_factor · σ_αβ. V and F both vanish at
r_c, exactly as LAMMPS' ``pair_style lj/smooth/linear`` computes them
(``pair_coeff α β ε σ r_c``). The pair functions accept numpy arrays or torch
tensors (autograd flows through the torch path); the configuration functions
use the periodic neighbour search of :mod:`glassdyn.neighbors`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glassdyn.physics.descriptors import periodic_image_pairs
from glassdyn.physics.neighbors import minimum_image, unordered_pairs

PAIR_KEYS = (("AA", "AB"), ("AB", "BB"))  # PAIR_KEYS[a][b]: the config key of types a, b (A = 0, B = 1)


@dataclass(frozen=True)
class PairTable:
    """ε, σ and r_c of every type pair as symmetric (2, 2) arrays, and the particle mass."""

    epsilon: np.ndarray
    sigma: np.ndarray
    cutoff: np.ndarray
    mass: float

    @property
    def max_cutoff(self) -> float:
        return float(self.cutoff.max())

    def as_dict(self) -> dict:
        """JSON-able form (stored in HDF5 attributes)."""
        return {"epsilon": self.epsilon.tolist(), "sigma": self.sigma.tolist(),
                "cutoff": self.cutoff.tolist(), "mass": self.mass, "style": "lj/smooth/linear"}


def pair_table(system: dict) -> PairTable:
    """The KA table from the ``system`` config section (epsilon, sigma, cutoff_factor, mass)."""
    eps = np.array([[system["epsilon"][k] for k in row] for row in PAIR_KEYS], dtype=np.float64)
    sig = np.array([[system["sigma"][k] for k in row] for row in PAIR_KEYS], dtype=np.float64)
    return PairTable(eps, sig, system["cutoff_factor"] * sig, float(system["mass"]))


def _where(x):
    """np.where or torch.where, matching the array type of ``x``."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch.where
    return np.where


def lennard_jones(r, epsilon, sigma):
    """φ(r) = 4ε[(σ/r)^12 − (σ/r)^6] (energy units ε_AA)."""
    s6 = (sigma / r) ** 6
    return 4.0 * epsilon * (s6 * s6 - s6)


def lennard_jones_derivative(r, epsilon, sigma):
    """φ'(r) = (24ε / r)[(σ/r)^6 − 2(σ/r)^12]."""
    s6 = (sigma / r) ** 6
    return 24.0 * epsilon / r * (s6 - 2.0 * s6 * s6)


def pair_energy(r, epsilon, sigma, cutoff):
    """Shifted-force pair energy V(r) = φ(r) − φ(r_c) − (r − r_c)φ'(r_c) for r < r_c, else 0.

    ``r``, ``epsilon``, ``sigma``, ``cutoff`` broadcast together (numpy or torch).
    """
    v = (lennard_jones(r, epsilon, sigma) - lennard_jones(cutoff, epsilon, sigma)
         - (r - cutoff) * lennard_jones_derivative(cutoff, epsilon, sigma))
    return _where(r)(r < cutoff, v, 0.0 * v)


def pair_force(r, epsilon, sigma, cutoff):
    """Pair force magnitude F(r) = −dV/dr = −φ'(r) + φ'(r_c) for r < r_c, else 0 (positive: repulsion)."""
    f = -lennard_jones_derivative(r, epsilon, sigma) + lennard_jones_derivative(cutoff, epsilon, sigma)
    return _where(r)(r < cutoff, f, 0.0 * f)


def pair_parameters(table: PairTable, type_i, type_j):
    """(ε, σ, r_c) of each pair given the two type arrays (numpy int arrays or torch long tensors)."""
    if type(type_i).__module__.startswith("torch"):
        import torch

        t = [torch.as_tensor(a, device=type_i.device) for a in (table.epsilon, table.sigma, table.cutoff)]
        return tuple(a[type_i, type_j] for a in t)
    return table.epsilon[type_i, type_j], table.sigma[type_i, type_j], table.cutoff[type_i, type_j]


def pair_list(positions: np.ndarray, types: np.ndarray, box: np.ndarray, table: PairTable):
    """Unordered pairs (a, b), a < b, within the largest cutoff: indices, r_a − r_b (minimum image), r."""
    a, b = unordered_pairs(positions, box, table.max_cutoff)
    d = minimum_image(np.asarray(positions, np.float64)[a] - np.asarray(positions, np.float64)[b], box)
    return a, b, d, np.sqrt(np.einsum("ij,ij->i", d, d))


def potential_energy(positions: np.ndarray, types: np.ndarray, box: np.ndarray, table: PairTable) -> float:
    """Total potential energy U = Σ_{a<b} V_{t_a t_b}(|r_ab|) of one configuration (ε_AA)."""
    a, b, _, r = pair_list(positions, types, box, table)
    eps, sig, rc = pair_parameters(table, types[a], types[b])
    return float(np.sum(pair_energy(r, eps, sig, rc)))


def particle_energies(positions: np.ndarray, types: np.ndarray, box: np.ndarray, table: PairTable) -> np.ndarray:
    """Per-particle potential energy E_i = ½ Σ_j V(r_ij) (N,), ε_AA; Σ_i E_i = U.

    Summed over every periodic image within the cutoff, so that boxes smaller
    than twice the cutoff (tests, tiny campaigns) count each image as LAMMPS
    does (``pe/atom``).
    """
    types = np.asarray(types, dtype=np.int64)
    e = np.zeros(len(types))
    for ch in periodic_image_pairs(positions, box, table.max_cutoff):
        eps, sig, rc = pair_parameters(table, types[ch.i], types[ch.j])
        e += 0.5 * np.bincount(ch.i, weights=pair_energy(ch.r, eps, sig, rc), minlength=len(types))
    return e


def forces(positions: np.ndarray, types: np.ndarray, box: np.ndarray, table: PairTable) -> np.ndarray:
    """Forces F_i = Σ_j F(r_ij) r̂_ij with r_ij = r_i − r_j (N, 3), ε_AA/σ_AA."""
    a, b, d, r = pair_list(positions, types, box, table)
    eps, sig, rc = pair_parameters(table, types[a], types[b])
    fv = (pair_force(r, eps, sig, rc) / r)[:, None] * d
    f = np.zeros((len(positions), 3))
    np.add.at(f, a, fv)
    np.add.at(f, b, -fv)
    return f


def kinetic_energy(velocities, mass: float = 1.0):
    """K = ½ m Σ_i |v_i|² (numpy or torch; sums over the last two axes)."""
    return 0.5 * mass * (velocities ** 2).sum(axis=(-2, -1)) if isinstance(velocities, np.ndarray) \
        else 0.5 * mass * (velocities ** 2).sum(dim=(-2, -1))


def total_momentum(velocities, mass: float = 1.0):
    """P = m Σ_i v_i (3,) (or (..., 3) for stacked frames)."""
    return mass * velocities.sum(axis=-2) if isinstance(velocities, np.ndarray) else mass * velocities.sum(dim=-2)


def potential_energy_torch(vectors, type_i, type_j, table: PairTable):
    """U from a pair list given as torch tensors: ``vectors`` (P, 3) of unordered pairs within the cutoff.

    Differentiable in ``vectors``: ``-autograd.grad(U, vectors)`` is the pair force on the first
    particle of each pair. Pass each unordered pair once (ordered lists count twice).
    """
    import torch

    r = torch.linalg.vector_norm(vectors, dim=-1)
    eps, sig, rc = pair_parameters(table, type_i, type_j)
    return pair_energy(r, eps.to(vectors.dtype), sig.to(vectors.dtype), rc.to(vectors.dtype)).sum()
