"""Dynamic heterogeneity of a propensity field: χ4, S4(q) with ξ4, chord lengths, attention length.

Used for MD labels and tGlassMLP predictions alike (Jung, Biroli, Berthier;
SCIENCE.md §6). Notation: C_i is the propensity (bond-breaking C_B^i(t)) of
the N_A particles of type A of one configuration, C̄ its average over them,
⟨·⟩ the average over configurations.

* χ4 = N_A (⟨C̄²⟩ − ⟨C̄⟩²)                                   (dimensionless)
* S4(q) = ⟨|W(q)|²⟩ / N_A,  W(q) = Σ_i (C_i − ⟨C̄⟩) e^{i q·R_i}   (q in 1/σ_AA)
  averaged over wave vectors of the periodic box in shells of |q|; the
  Ornstein–Zernike form S4 ≈ χ̃4 / (1 + (q ξ4)²) fitted at small q gives ξ4.
* chord length: particles on a cubic lattice; a particle is active
  (a_i = 0) when C_i is below the median of its (T, t) and passive (a_i = 1)
  otherwise; a site is mobile when the mean a of its particles is below 0.5;
  chords are maximal runs of adjacent mobile sites along the lattice rows in
  x, y and z (periodic); ⟨ξ_chord⟩ is their mean length (σ_AA).
* ξ_int = Σ_L P_int(L) L with P_int(L) ∝ the mean attention weight of the
  descriptors coarse-grained over L (normalised over L).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import curve_fit

from glassdyn.physics.neighbors import wrap


def chi4(q_bar: np.ndarray, n_a: int) -> float | np.ndarray:
    """Four-point susceptibility χ4 = N_A (⟨Q̄²⟩ − ⟨Q̄⟩²) (dimensionless).

    ``q_bar`` (S, ...) holds one particle-averaged quantity Q̄ per sample
    (trajectory or configuration) along axis 0; the moments are over the
    samples. A float for 1-d input, an array over the trailing axes otherwise;
    NaN with fewer than two samples.
    """
    q = np.asarray(q_bar, dtype=np.float64)
    if q.shape[0] < 2:
        out = np.full(q.shape[1:], np.nan)
    else:
        out = n_a * (np.mean(q * q, axis=0) - np.mean(q, axis=0) ** 2)
    return float(out) if out.ndim == 0 else out


def wave_vectors(box: np.ndarray, q_max: float) -> np.ndarray:
    """Integer triples n ≠ 0 with |q| = |2π n / L| ≤ q_max, one of each ±n pair (S4 is even in q)."""
    box = np.asarray(box, dtype=np.float64)
    m = [int(math.floor(q_max * b / (2 * math.pi))) for b in box]
    n = np.array(np.meshgrid(*[np.arange(-k, k + 1) for k in m], indexing="ij")).reshape(3, -1).T
    q = 2 * math.pi * n / box
    keep = (np.einsum("ij,ij->i", q, q) <= q_max ** 2 + 1e-12)
    # one of ±n: first nonzero component positive
    first = np.where(n[:, 0] != 0, n[:, 0], np.where(n[:, 1] != 0, n[:, 1], n[:, 2]))
    return n[keep & (first > 0)]


def structure_factor_s4(positions: np.ndarray, values: np.ndarray, mean: float, box: np.ndarray,
                        q_max: float) -> tuple[np.ndarray, np.ndarray]:
    """(|q| (K,), |W(q)|²/n (K,)) of one configuration for every wave vector with 0 < |q| ≤ q_max.

    ``positions`` (n, 3) and ``values`` (n,) of the particles used (the A
    particles), ``mean`` = ⟨C̄⟩ of the ensemble. Uses separable plane waves,
    exp(i q·R) = Π_axes exp(i q_a R_a), so the cost is O(n · K).
    """
    box = np.asarray(box, dtype=np.float64)
    x = wrap(np.asarray(positions, dtype=np.float64), box)
    n_vec = wave_vectors(box, q_max)
    if len(n_vec) == 0:
        return np.zeros(0), np.zeros(0)
    dv = np.asarray(values, dtype=np.float64) - mean
    m = np.abs(n_vec).max(axis=0)
    waves = []
    for a in range(3):
        k = np.arange(-m[a], m[a] + 1)
        waves.append(np.exp(1j * np.outer(x[:, a], 2 * math.pi * k / box[a])))  # (n, 2m+1)
    w = np.empty(len(n_vec), dtype=np.complex128)
    chunk = max(1, 2_000_000 // max(1, len(x)))
    for s in range(0, len(n_vec), chunk):
        nv = n_vec[s:s + chunk]
        phase = (waves[0][:, nv[:, 0] + m[0]] * waves[1][:, nv[:, 1] + m[1]] * waves[2][:, nv[:, 2] + m[2]])
        w[s:s + chunk] = dv @ phase
    q = 2 * math.pi * np.linalg.norm(n_vec / box, axis=1)
    return q, np.abs(w) ** 2 / len(x)


def shell_average(q: np.ndarray, s: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average ``s`` in shells of |q| of the given width: (q_mean, s_mean, count) of non-empty shells."""
    q = np.asarray(q, dtype=np.float64)
    if q.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, int)
    b = np.floor(q / width + 1e-9).astype(int)
    uniq, inv = np.unique(b, return_inverse=True)
    cnt = np.bincount(inv)
    return np.bincount(inv, q) / cnt, np.bincount(inv, s) / cnt, cnt


#: Upper bound of a fitted ξ4 (σ_AA); a fit that reaches it found no decay and is reported as NaN.
XI_MAX = 1e3


def ornstein_zernike(q, chi, xi):
    """S4(q) = χ̃4 / (1 + (q ξ4)²)."""
    return chi / (1.0 + (q * xi) ** 2)


def fit_ornstein_zernike(q: np.ndarray, s4: np.ndarray, q_fit_max: float,
                         xi_max: float = XI_MAX) -> tuple[float, float]:
    """(χ̃4, ξ4) of the Ornstein–Zernike form fitted to the points with q ≤ ``q_fit_max``.

    NaN when fewer than two points are available, the fit fails, or ξ4 runs
    into ``xi_max`` (within 1 %; pass the box length: a longer ξ4 is not
    resolved by the system's wave vectors); ξ4 ≥ 0.
    """
    q = np.asarray(q, dtype=np.float64)
    s4 = np.asarray(s4, dtype=np.float64)
    sel = (q > 0) & (q <= q_fit_max) & np.isfinite(s4)
    if sel.sum() < 2 or not np.any(s4[sel] > 0):
        return float("nan"), float("nan")
    try:
        p, _ = curve_fit(ornstein_zernike, q[sel], s4[sel],
                         p0=(float(s4[sel].max()), min(1.0, 0.5 * float(xi_max))),
                         bounds=([0.0, 0.0], [np.inf, float(xi_max)]), maxfev=10000)
    except (RuntimeError, ValueError):
        return float("nan"), float("nan")
    if p[1] >= 0.99 * float(xi_max):
        return float("nan"), float("nan")
    return float(p[0]), float(p[1])


def activity(values: np.ndarray, median: float) -> np.ndarray:
    """a_i = 0 (active) where C_i < median, 1 (passive) otherwise."""
    return (np.asarray(values) >= median).astype(np.float64)


def mobile_lattice(positions: np.ndarray, a: np.ndarray, box: np.ndarray, cell: float) -> np.ndarray:
    """Boolean lattice (nx, ny, nz): site mobile when the mean a of its particles is < 0.5.

    The box is divided into round(L / cell) sites per axis; an empty site is
    not mobile (it ends a chord).
    """
    box = np.asarray(box, dtype=np.float64)
    x = wrap(np.asarray(positions, dtype=np.float64), box)
    shape = tuple(max(1, int(round(b / cell))) for b in box)
    idx = np.minimum((x / box * np.array(shape)).astype(int), np.array(shape) - 1)
    flat = np.ravel_multi_index(idx.T, shape)
    size = int(np.prod(shape))
    count = np.bincount(flat, minlength=size)
    total = np.bincount(flat, weights=a, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 1.0)
    return (mean < 0.5).reshape(shape)


def chord_lengths(mobile: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Lengths (σ_AA) of all chords: maximal periodic runs of mobile sites along each lattice axis.

    ``spacing`` (3,) is the site size per axis. A row that is mobile
    throughout is one chord of the row's full length.
    """
    out = []
    for axis in range(3):
        rows = np.moveaxis(mobile, axis, -1).reshape(-1, mobile.shape[axis])
        n = rows.shape[1]
        full = rows.all(axis=1)
        out.append(np.full(int(full.sum()), n * spacing[axis]))
        rows = rows[~full & rows.any(axis=1)]
        if len(rows) == 0:
            continue
        # rotate each row so it starts on an immobile site: runs then never wrap
        start = np.argmin(rows, axis=1)
        rolled = rows[np.arange(len(rows))[:, None], (start[:, None] + np.arange(n)[None, :]) % n]
        padded = np.concatenate([np.zeros((len(rows), 1), bool), rolled, np.zeros((len(rows), 1), bool)], axis=1)
        d = np.diff(padded.astype(np.int8), axis=1)
        r_start = np.nonzero(d == 1)
        r_end = np.nonzero(d == -1)
        out.append((r_end[1] - r_start[1]) * spacing[axis])
    return np.concatenate(out) if out else np.zeros(0)


def mean_chord_length(positions: np.ndarray, values: np.ndarray, median: float, box: np.ndarray,
                      cell: float) -> float:
    """⟨ξ_chord⟩ (σ_AA) of one configuration; NaN when no site is mobile."""
    box = np.asarray(box, dtype=np.float64)
    mobile = mobile_lattice(positions, activity(values, median), box, cell)
    lengths = chord_lengths(mobile, box / np.array(mobile.shape))
    return float(lengths.mean()) if lengths.size else float("nan")


def attention_length_distribution(weights: np.ndarray, column_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L values, P_int(L)) from attention weights ``weights`` (n_particles, M) and each column's L.

    P_int(L) ∝ mean over particles and over the columns coarse-grained over L
    of w_k, normalised so Σ_L P_int(L) = 1.
    """
    w = np.asarray(weights, dtype=np.float64).mean(axis=0)
    lengths = np.asarray(column_lengths, dtype=np.float64)
    uniq = np.unique(lengths)
    p = np.array([w[lengths == L].mean() for L in uniq])
    return uniq, p / p.sum()


def intrinsic_length(lengths: np.ndarray, p: np.ndarray) -> float:
    """ξ_int = Σ_L P_int(L) L (σ_AA)."""
    return float(np.sum(np.asarray(lengths) * np.asarray(p)))
