"""Dynamical observables of one configuration's iso-configurational ensemble (SCIENCE.md §4), as kernels.

Notation: R replicas share the t = 0 structure r_i(0); r_i(t) are unwrapped
positions of one replica, Δr_i(t) = r_i(t) − r_i(0), and ⟨·⟩ is the average
over the R replicas. Lengths are in σ_AA, times in τ = σ_AA √(m/ε_AA).
Pairs are ordered (target i, source j) with r_ij = r_i − r_j under the
minimum image (see :mod:`glassdyn.physics.neighbors`).

Every kernel is vectorised over particles, pairs and replicas; sums over
neighbours are sparse-matrix products, so memory stays O(R·E) at most and is
bounded by processing replicas in chunks.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Upper bound (bytes) of the temporary (chunk, pairs, 3) arrays of the pair kernels.
_CHUNK_BYTES = 32 * 2**20


# --------------------------------------------------------------------------- particles
def displacements(positions_t: np.ndarray, positions_0: np.ndarray) -> np.ndarray:
    """Δr_i(t) = r_i(t) − r_i(0) (σ_AA) from unwrapped positions; broadcasts over leading axes."""
    return np.asarray(positions_t, dtype=np.float64) - np.asarray(positions_0, dtype=np.float64)


def propensity(displacement: np.ndarray) -> np.ndarray:
    """Propensity S_i(t) = ⟨|Δr_i(t)|⟩ (σ_AA).

    ``displacement`` (R, N, 3) → (N,).
    """
    return np.sqrt(np.einsum("rnk,rnk->rn", displacement, displacement)).mean(axis=0)


def self_intermediate_scattering(displacement: np.ndarray, k: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Isotropic self-intermediate scattering function of each replica (dimensionless).

    F_s(k, t) = (1/N_sel) Σ_{i ∈ sel} sin(k|Δr_i|) / (k|Δr_i|), the angular
    average of exp(i k·Δr_i); ``k`` in 1/σ_AA, ``mask`` (N,) selects the
    particles (default all). ``displacement`` (R, N, 3) → (R,).
    """
    d = displacement if mask is None else displacement[:, mask]
    r = np.sqrt(np.einsum("rnk,rnk->rn", d, d))
    return np.sinc(k * r / np.pi).mean(axis=1)


def mean_squared_displacement(displacement: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """MSD of each replica, (1/N_sel) Σ_{i ∈ sel} |Δr_i(t)|² (σ_AA²). (R, N, 3) → (R,)."""
    d = displacement if mask is None else displacement[:, mask]
    return np.einsum("rnk,rnk->rn", d, d).mean(axis=1)


# --------------------------------------------------------------------------- pairs
def _chunk(n_pairs: int) -> int:
    return max(1, _CHUNK_BYTES // max(1, 12 * n_pairs))


def pair_distances(displacement: np.ndarray, vectors0: np.ndarray, box: np.ndarray, i: np.ndarray,
                   j: np.ndarray) -> np.ndarray:
    """|r_ij(t)| (σ_AA) of each replica, r_ij(t) the minimum image of the unwrapped r_i(t) − r_j(t).

    Computed as minimum_image(r_ij(0) + Δr_i − Δr_j), identical because the
    minimum image ignores whole box vectors: ``vectors0`` (E, 3) = r_ij(0)
    (minimum image), ``displacement`` (R, N, 3), ``i``, ``j`` (E,) → (R, E)
    float32 (the stored labels are float32; the absolute error is ~1e-7 σ).
    """
    box32 = np.asarray(box, dtype=np.float32)
    n_rep = displacement.shape[0]
    # Pair-major layout: gathering rows of an (N, R, 3) array reads contiguous memory.
    x = np.ascontiguousarray(np.swapaxes(displacement, 0, 1), dtype=np.float32)
    v0 = np.asarray(vectors0, dtype=np.float32)
    # A component of r_ij(0) + Δr_i − Δr_j can pass L/2 only for pairs whose bound
    # |r_ij(0)| + max|Δr_i| + max|Δr_j| does; only those get the image search.
    reach = np.abs(x).max(axis=(1, 2)) if n_rep else np.zeros(len(x), np.float32)
    may_wrap = np.flatnonzero(np.abs(v0).max(axis=1, initial=0.0) + reach[i] + reach[j] >= 0.5 * box32.min())
    v0 = v0[:, None, :]
    out = np.empty((len(i), n_rep), np.float32)
    step = _chunk(len(i))
    for r0 in range(0, n_rep, step):
        xr = np.ascontiguousarray(x[:, r0:r0 + step])
        u = np.take(xr, i, axis=0)
        u -= np.take(xr, j, axis=0)
        u += v0
        if len(may_wrap):
            w = u[may_wrap]
            u[may_wrap] = w - box32 * np.round(w / box32)
        np.sqrt(np.einsum("erk,erk->er", u, u), out=out[:, r0:r0 + step])
    return out.T


def pair_distance_change(displacement: np.ndarray, vectors0: np.ndarray, box: np.ndarray, i: np.ndarray,
                         j: np.ndarray) -> np.ndarray:
    """BOTAN's pair-distance change E_ij(t) = ⟨|r_ij(t)|⟩ − |r_ij(0)| (σ_AA).

    r_ij(t) is the minimum image of the unwrapped difference r_i(t) − r_j(t)
    (see :func:`pair_distances`); ``vectors0`` (E, 3) = r_ij(0).
    ``displacement`` (R, N, 3) → (E,) float64.
    """
    r0 = np.sqrt(np.einsum("ek,ek->e", vectors0, vectors0))
    return pair_distances(displacement, vectors0, box, i, j).mean(axis=0, dtype=np.float64) - r0


def pair_cutoffs(types: np.ndarray, i: np.ndarray, j: np.ndarray, sigma: dict, factor: float) -> np.ndarray:
    """factor · σ_αβ of each pair (σ_AA), α = type of i, β = type of j; ``sigma`` has keys AA, AB, BB."""
    s = np.array([[sigma["AA"], sigma["AB"]], [sigma["AB"], sigma["BB"]]], dtype=np.float64)
    return factor * s[types[i], types[j]]


def bond_breaking(r0: np.ndarray, r_t: np.ndarray, target: np.ndarray, cut_in: np.ndarray,
                  cut_out: np.ndarray, n_particles: int) -> np.ndarray:
    """Bond-breaking propensity C_B^i(t) = ⟨n_i(t) / n_i(0)⟩ (dimensionless, in [0, 1]).

    Over candidate ordered pairs (target i, source j): n_i(0) counts the j with
    |r_ij(0)| < a_in σ_αβ (``cut_in``), n_i(t) those of them with
    |r_ij(t)| < a_out σ_αβ (``cut_out``). ``r0`` (E,), ``r_t`` (R, E),
    ``target`` (E,) → (N,). Since n_i(0) is the same in every replica,
    ⟨n_i(t)/n_i(0)⟩ = ⟨n_i(t)⟩ / n_i(0). A particle without bonds at t = 0
    (n_i(0) = 0) has nothing to break: C_B^i = 1 by definition.
    """
    bonded = r0 < cut_in
    n0 = np.bincount(target[bonded], minlength=n_particles).astype(np.float64)
    kept = (r_t[:, bonded] < cut_out[bonded]).mean(axis=0)
    nt = np.bincount(target[bonded], weights=kept, minlength=n_particles)
    return np.where(n0 > 0, nt / np.maximum(n0, 1.0), 1.0)


def _adjacency(i: np.ndarray, j: np.ndarray, n: int, values: np.ndarray | None = None) -> sp.csr_matrix:
    v = np.ones(len(i)) if values is None else values
    return sp.csr_matrix((v, (i, j)), shape=(n, n))


def relative_motion(displacement: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Neighbour-relative motion R_i(t) = ⟨|Δr_i − (1/n_i) Σ_{j ∈ nn(i)} Δr_j|⟩ (σ_AA).

    nn(i) are the sources j of the ordered pairs (i, j) given (neighbours at
    t = 0, BOTAN §V C: |r_ij(0)| ≤ 1.6). ``displacement`` (R, N, 3) → (N,).
    A particle without neighbours keeps its own displacement (neighbour mean
    taken as 0), so R_i = S_i there.
    """
    n_rep, n, _ = displacement.shape
    a = _adjacency(i, j, n)
    count = np.asarray(a.sum(axis=1)).ravel()
    du = np.ascontiguousarray(np.swapaxes(displacement, 0, 1)).reshape(n, 3 * n_rep)
    mean_nb = (a @ du) / np.maximum(count, 1.0)[:, None]
    rel = (du - mean_nb).reshape(n, n_rep, 3)
    return np.sqrt(np.einsum("nrk,nrk->nr", rel, rel)).mean(axis=1)


def nonaffine(displacement: np.ndarray, i: np.ndarray, j: np.ndarray, vectors0: np.ndarray) -> np.ndarray:
    """Non-affine displacement D_i(t) = ⟨D²_min,i(t) / n_i⟩ (σ_AA²), Falk–Langer.

    D²_min,i = min_F Σ_{j ∈ nn(i)} |r_ij(t) − F r_ij(0)|² over 3×3 matrices F,
    with r_ij(0) = ``vectors0`` (E,) of the ordered pairs (i, j) (neighbours at
    t = 0) and r_ij(t) = r_ij(0) + Δr_i − Δr_j. Writing F = 1 + G and
    u_ij = Δr_i − Δr_j, the least-squares minimum is
    D² = Σ_j |u_ij|² − tr(U Y⁺ Uᵀ) with U = Σ_j u_ij r_ij(0)ᵀ and
    Y = Σ_j r_ij(0) r_ij(0)ᵀ (Y⁺ its pseudo-inverse, so fewer than three
    independent neighbours give the minimum-norm fit). n_i = 0 gives D_i = 0.
    ``displacement`` (R, N, 3) → (N,).
    """
    n_rep, n, _ = displacement.shape
    b = np.asarray(vectors0, dtype=np.float64)
    count = np.bincount(i, minlength=n).astype(np.float64)
    # Y_i, s_i = Σ_j r_ij(0) and the neighbour-sum operators depend only on the t = 0 structure.
    y = np.einsum("ea,eb->eab", b, b).reshape(-1, 9)
    y = np.stack([np.bincount(i, weights=y[:, k], minlength=n) for k in range(9)], axis=1).reshape(n, 3, 3)
    y_pinv = np.linalg.pinv(y, hermitian=True)
    s = np.stack([np.bincount(i, weights=b[:, k], minlength=n) for k in range(3)], axis=1)
    # Rows [0, N): Σ_j x_j; rows [cN, (c+1)N): Σ_j r_ij(0)[c−1] x_j.
    ops = sp.csr_matrix((np.concatenate([np.ones(len(i)), b[:, 0], b[:, 1], b[:, 2]]),
                         (np.concatenate([i, i + n, i + 2 * n, i + 3 * n]), np.tile(j, 4))), shape=(4 * n, n))

    du = np.ascontiguousarray(np.swapaxes(displacement, 0, 1), dtype=np.float64)   # (N, R, 3)
    sq = np.einsum("nrk,nrk->nr", du, du)                                          # |Δr_i|²
    sums = (ops @ np.concatenate([du.reshape(n, 3 * n_rep), sq], axis=1)).reshape(4, n, 4 * n_rep)
    sum_dr = sums[0, :, :3 * n_rep].reshape(n, n_rep, 3)                          # Σ_j Δr_j
    sum_sq = sums[0, :, 3 * n_rep:]                                                # Σ_j |Δr_j|²
    u2 = count[:, None] * sq - 2.0 * np.einsum("nrk,nrk->nr", du, sum_dr) + sum_sq   # Σ_j |u_ij|²
    # U[a, c] = Δr_i[a] s_i[c] − Σ_j Δr_j[a] r_ij(0)[c]
    weighted = np.stack([sums[1 + c, :, :3 * n_rep].reshape(n, n_rep, 3) for c in range(3)], axis=-1)
    u = du[:, :, :, None] * s[:, None, None, :] - weighted                         # (N, R, 3, 3)
    proj = np.einsum("nrac,nrac->nr", u @ y_pinv[:, None], u)
    d2 = np.maximum(u2 - proj, 0.0)
    return (d2 / np.maximum(count, 1.0)[:, None]).mean(axis=1)
