"""Physics-inspired, coarse-grained structural descriptors of tGlassMLP (SCIENCE.md §6).

For a particle i of an inherent structure (positions R, per-particle
potential energies E_j, Voronoi cell surface areas p_j), a coarse-graining
length L and a group β ∈ {A, B, all}, with weights w_ij = exp(−R_ij / L):

    ρ̄_{L,β}^i  = Σ_{j∈β} w_ij                                  (density)
    Ē_{L,β}^i  = Σ_{j∈β} w_ij E_j / ρ̄_{L,β}^i                  (mean energy, ε_AA)
    p̄_{L,β}^i  = Σ_{j∈β} w_ij p_j / ρ̄_{L,β}^i                  (mean cell surface area, σ_AA²)
    ΔĒ_{L,β}^i = Σ_{j∈β} w_ij (E_j − Ē_{L,β}^i)² / ρ̄_{L,β}^i   (energy variance, ε_AA²)

The sums run over every particle j within R_ij < r_max (20 σ_AA by default),
**including j = i** (w_ii = 1) and **every periodic image** of every
particle. At N = 4096 the box (L_box = 15.06) is smaller than the 2 r_max
sphere, so one particle is met several times at different distances; summing
over all images is what an infinite periodic system (the system the MD
simulates) gives, and it makes the descriptors independent of how many
periodic copies of the box one looks at. The minimum image alone would cut
the sums off at a distance that depends on direction.

L = 0 means the particle itself (the L → 0 limit of w_ij = δ_ij):
ρ̄_{0,β} = 1[type_i ∈ β] (so the network is told the particle's type), and
Ē, p̄ are the particle's own E_i, p_i for every β, ΔĒ_{0,β} = 0. Where a group
has no particle within r_max (never at liquid density) the weighted means are
set to 0.

Pairs come from a scipy cKDTree over the image-tiled copy of the box
(positions shifted by n·L_box, kept only within r_max of the box), queried
chunk by chunk of centre particles so that memory stays bounded; the
weighted sums of each chunk are one sparse-matrix product per L.
"""
from __future__ import annotations

import math
from typing import Iterator, NamedTuple

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from glassdyn.physics.neighbors import wrap

#: Coarse-graining lengths of the paper (σ_AA).
LENGTHS = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0)
#: The four observables, in column order.
OBSERVABLES = ("density", "energy", "area", "energy_variance")
#: The particle groups β, in column order (types A → 0, B → 1).
GROUPS = ("A", "B", "all")


class ImagePairs(NamedTuple):
    """Pairs of one chunk of centres: centre index i (into the original particles), its position
    ``local`` in ``centers``, image index j (into the tiled copy), original index of j, and the
    distance R_ij (σ_AA); the particle itself at zero shift is excluded."""

    centers: np.ndarray
    local: np.ndarray
    i: np.ndarray
    j_image: np.ndarray
    j: np.ndarray
    r: np.ndarray


class ImageTiling(NamedTuple):
    """Periodic images of the particles that lie within ``cutoff`` of the box [0, L)^3."""

    positions: np.ndarray   # (M, 3) image positions
    origin: np.ndarray      # (M,) index of the original particle of each image
    cutoff: float


def image_tiling(positions: np.ndarray, box: np.ndarray, cutoff: float) -> ImageTiling:
    """Every periodic image r_j + n·L (n ∈ Z³) that can be within ``cutoff`` of a particle in the box."""
    box = np.asarray(box, dtype=np.float64)
    x = wrap(np.asarray(positions, dtype=np.float64), box)
    m = [int(math.ceil(cutoff / b)) for b in box]
    shifts = np.array(np.meshgrid(*[np.arange(-k, k + 1) for k in m], indexing="ij")).reshape(3, -1).T
    tiled = (x[None, :, :] + (shifts * box)[:, None, :]).reshape(-1, 3)
    origin = np.tile(np.arange(len(x)), len(shifts))
    keep = np.all((tiled >= -cutoff) & (tiled < box + cutoff), axis=1)
    return ImageTiling(tiled[keep], origin[keep], float(cutoff))


def periodic_image_pairs(positions: np.ndarray, box: np.ndarray, cutoff: float,
                         centers: np.ndarray | None = None, chunk_pairs: int = 5_000_000,
                         tiling: ImageTiling | None = None) -> Iterator[ImagePairs]:
    """Chunks of all (i, image of j) with 0 < R_ij < ``cutoff`` over every periodic image.

    ``cutoff`` may exceed half the box (then one particle j appears at several
    distances). ``centers`` restricts i (default: all particles); each chunk
    holds about ``chunk_pairs`` pairs.
    """
    box = np.asarray(box, dtype=np.float64)
    x = wrap(np.asarray(positions, dtype=np.float64), box)
    n = len(x)
    centers = np.arange(n) if centers is None else np.asarray(centers, dtype=np.int64)
    tiling = tiling if tiling is not None else image_tiling(x, box, cutoff)
    tree = cKDTree(tiling.positions)
    per_center = n / float(np.prod(box)) * 4.0 / 3.0 * math.pi * cutoff ** 3
    size = max(1, int(chunk_pairs // max(per_center, 1.0)))
    for start in range(0, len(centers), size):
        idx = centers[start:start + size]
        sdm = cKDTree(x[idx]).sparse_distance_matrix(tree, cutoff, output_type="ndarray")
        r = sdm["v"]
        # drop the particle itself at zero shift (the only pair at R = 0) and pairs at exactly the cutoff
        keep = (r > 0.0) & (r < cutoff)
        local = sdm["i"][keep].astype(np.int64)
        jim = sdm["j"][keep].astype(np.int64)
        yield ImagePairs(idx, local, idx[local], jim, tiling.origin[jim], r[keep])


def descriptor_names(lengths=LENGTHS) -> list[str]:
    """Column names ``<observable>_L<L>_<group>``, observable-major, then L, then group."""
    return [f"{o}_L{L:g}_{g}" for o in OBSERVABLES for L in lengths for g in GROUPS]


def descriptor_lengths(lengths=LENGTHS) -> np.ndarray:
    """The coarse-graining length L of each column (for the attention length scale ξ_int)."""
    return np.array([L for _ in OBSERVABLES for L in lengths for _ in GROUPS], dtype=np.float64)


def _group_moments(s0, s1, s2, sp):
    """Density, weighted mean E, weighted mean p, weighted variance of E from raw sums (any shape)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_e = np.where(s0 > 0, s1 / s0, 0.0)
        mean_p = np.where(s0 > 0, sp / s0, 0.0)
        var_e = np.where(s0 > 0, s2 / s0 - mean_e ** 2, 0.0)
    return s0, mean_e, mean_p, np.maximum(var_e, 0.0)


def coarse_grained_descriptors(positions: np.ndarray, types: np.ndarray, box: np.ndarray,
                               energy: np.ndarray, area: np.ndarray, lengths=LENGTHS,
                               cutoff: float = 20.0, chunk_pairs: int = 5_000_000) -> np.ndarray:
    """The (N, 4 · len(lengths) · 3) descriptor matrix (float64), columns as :func:`descriptor_names`.

    ``positions`` (N, 3) inherent-structure positions (σ_AA), ``types`` (N,)
    with A → 0, B → 1, ``box`` (3,), ``energy`` E_j (N,) and ``area`` p_j (N,)
    per particle; ``cutoff`` = r_max (σ_AA, any size: all periodic images count).
    """
    types = np.asarray(types).astype(np.int64)
    energy = np.asarray(energy, dtype=np.float64)
    area = np.asarray(area, dtype=np.float64)
    n = len(types)
    lengths = [float(L) for L in lengths]
    finite = [L for L in lengths if L > 0]
    # per original particle: [1_A, 1_B, E 1_A, E 1_B, E² 1_A, E² 1_B, p 1_A, p 1_B]
    onehot = np.stack([types == 0, types == 1], axis=1).astype(np.float64)
    values = np.concatenate([onehot, energy[:, None] * onehot, (energy ** 2)[:, None] * onehot,
                             area[:, None] * onehot], axis=1)
    sums = np.zeros((len(finite), n, 8))
    sums[:] += values  # the particle itself, w_ii = 1, at every length
    box = np.asarray(box, dtype=np.float64)
    tiling = image_tiling(positions, box, cutoff)
    tiled_values = values[tiling.origin]
    for chunk in periodic_image_pairs(positions, box, cutoff, chunk_pairs=chunk_pairs, tiling=tiling):
        if len(chunk.i) == 0:
            continue
        rows = chunk.centers
        mat = sparse.csr_matrix((chunk.r, (chunk.local, chunk.j_image)), shape=(len(rows), len(tiling.origin)))
        r = mat.data.copy()
        for L_idx, L in enumerate(finite):
            mat.data = np.exp(-r / L)
            sums[L_idx, rows] += mat @ tiled_values
    out = np.zeros((n, len(OBSERVABLES), len(lengths), len(GROUPS)))
    k = 0
    for L_idx, L in enumerate(lengths):
        if L == 0:
            for g_idx, g in enumerate(GROUPS):
                member = onehot[:, g_idx] if g != "all" else np.ones(n)
                out[:, 0, L_idx, g_idx] = member
                out[:, 1, L_idx, g_idx] = energy
                out[:, 2, L_idx, g_idx] = area
                out[:, 3, L_idx, g_idx] = 0.0
            continue
        s = sums[k]
        k += 1
        for g_idx, cols in enumerate(((0,), (1,), (0, 1))):
            s0 = s[:, [c for c in cols]].sum(axis=1)
            s1 = s[:, [2 + c for c in cols]].sum(axis=1)
            s2 = s[:, [4 + c for c in cols]].sum(axis=1)
            sp = s[:, [6 + c for c in cols]].sum(axis=1)
            for o_idx, v in enumerate(_group_moments(s0, s1, s2, sp)):
                out[:, o_idx, L_idx, g_idx] = v
    return out.reshape(n, -1)


def brute_force_descriptors(positions: np.ndarray, types: np.ndarray, box: np.ndarray,
                            energy: np.ndarray, area: np.ndarray, lengths=LENGTHS,
                            cutoff: float = 20.0) -> np.ndarray:
    """Reference implementation by explicit loops over images (small systems only; for tests)."""
    box = np.asarray(box, dtype=np.float64)
    x = wrap(np.asarray(positions, dtype=np.float64), box)
    n = len(x)
    m = [int(math.ceil(cutoff / b)) + 1 for b in box]
    shifts = np.array(np.meshgrid(*[np.arange(-k, k + 1) for k in m], indexing="ij")).reshape(3, -1).T * box
    out = np.zeros((n, len(OBSERVABLES), len(lengths), len(GROUPS)))
    for i in range(n):
        d = np.linalg.norm(x[None, :, :] + shifts[:, None, :] - x[i], axis=2)  # (n_shift, n)
        for L_idx, L in enumerate(lengths):
            for g_idx, g in enumerate(GROUPS):
                member = np.ones(n, bool) if g == "all" else (np.asarray(types) == GROUPS.index(g))
                if L == 0:
                    out[i, :, L_idx, g_idx] = [float(member[i]), energy[i], area[i], 0.0]
                    continue
                mask = (d < cutoff) & member[None, :]
                w = np.where(mask, np.exp(-d / L), 0.0)
                rho = w.sum()
                e_mean = (w * energy[None, :]).sum() / rho
                p_mean = (w * area[None, :]).sum() / rho
                e_var = (w * (energy[None, :] - e_mean) ** 2).sum() / rho
                out[i, :, L_idx, g_idx] = [rho, e_mean, p_mean, e_var]
    return out.reshape(n, -1)


def standardization(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (mean, std) of ``x`` (rows = particles); a constant column gets std = 1."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x − mean) / std, column-wise, as float32 (the network's input)."""
    return ((np.asarray(x, dtype=np.float64) - mean) / std).astype(np.float32)


