"""Brute-force references: explicit Python loops over particles and pairs, explicit minimum image.

Deliberately slow and obvious; the vectorised kernels in glassdyn are tested
against these on small periodic systems.
"""
from __future__ import annotations

import math

import numpy as np

SIGMA = {"AA": 1.0, "AB": 0.8, "BB": 0.88}


def mi(d, box):
    """Minimum image of one 3-vector, component by component."""
    return np.array([d[k] - box[k] * round(d[k] / box[k]) for k in range(3)])


def norm(v) -> float:
    return math.sqrt(sum(float(c) * float(c) for c in v))


def pairs(x, box, cutoff):
    """[(i, j, r_i − r_j, |r_ij|)] for all ordered i != j within cutoff, sorted by i then j."""
    out = []
    n = len(x)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            v = mi(x[i] - x[j], box)
            r = norm(v)
            if r <= cutoff:
                out.append((i, j, v, r))
    return out


def sigma_of(types, i, j, sigma=SIGMA):
    key = {(0, 0): "AA", (0, 1): "AB", (1, 0): "AB", (1, 1): "BB"}[(int(types[i]), int(types[j]))]
    return sigma[key]


def labels(types, box, x0, x, settings):
    """Every label of labels.h5 by loops; ``x`` (R, n_t, N, 3) unwrapped, ``settings`` as label_settings()."""
    n_rep, n_t, n, _ = x.shape
    graph = pairs(x0, box, settings["cutoff"])
    k = settings["k"]
    out = {name: np.zeros((n_t, n)) for name in ("propensity", "bond_breaking", "relative_motion", "nonaffine")}
    out["pair_distance_change"] = np.zeros((n_t, len(graph)))
    out["fs_A"] = np.zeros((n_rep, n_t))
    out["msd_A"] = np.zeros((n_rep, n_t))
    r0 = {}
    v0 = {}
    for i in range(n):
        for j in range(n):
            if i != j:
                v0[i, j] = mi(x0[i] - x0[j], box)
                r0[i, j] = norm(v0[i, j])
    for t in range(n_t):
        for i in range(n):
            out["propensity"][t, i] = np.mean([norm(x[r, t, i] - x0[i]) for r in range(n_rep)])
        for e, (i, j, _, rr) in enumerate(graph):
            out["pair_distance_change"][t, e] = np.mean(
                [norm(mi(x[r, t, i] - x[r, t, j], box)) for r in range(n_rep)]) - rr
        for i in range(n):
            bonds = [j for j in range(n) if j != i
                     and r0[i, j] < settings["a_in"] * sigma_of(types, i, j, settings["sigma"])]
            if not bonds:
                out["bond_breaking"][t, i] = 1.0
            else:
                ratios = []
                for r in range(n_rep):
                    kept = sum(1 for j in bonds if norm(mi(x[r, t, i] - x[r, t, j], box))
                               < settings["a_out"] * sigma_of(types, i, j, settings["sigma"]))
                    ratios.append(kept / len(bonds))
                out["bond_breaking"][t, i] = np.mean(ratios)
            nn = [j for j in range(n) if j != i and r0[i, j] <= settings["relative_motion_cutoff"]]
            rel, d2 = [], []
            for r in range(n_rep):
                dri = x[r, t, i] - x0[i]
                mean_nb = np.mean([x[r, t, j] - x0[j] for j in nn], axis=0) if nn else np.zeros(3)
                rel.append(norm(dri - mean_nb))
                if nn:
                    a = np.array([v0[i, j] for j in nn])
                    b = np.array([v0[i, j] + dri - (x[r, t, j] - x0[j]) for j in nn])
                    ft, *_ = np.linalg.lstsq(a, b, rcond=None)   # b ≈ a @ F^T
                    res = b - a @ ft
                    d2.append(float(np.sum(res * res)) / len(nn))
                else:
                    d2.append(0.0)
            out["relative_motion"][t, i] = np.mean(rel)
            out["nonaffine"][t, i] = np.mean(d2)
        for r in range(n_rep):
            vals, sq = [], []
            for i in range(n):
                if types[i] != 0:
                    continue
                d = norm(x[r, t, i] - x0[i])
                vals.append(1.0 if d == 0 else math.sin(k * d) / (k * d))
                sq.append(d * d)
            out["fs_A"][r, t] = np.mean(vals)
            out["msd_A"][r, t] = np.mean(sq)
    out["edge_index"] = np.array([[j for _, j, _, _ in graph], [i for i, _, _, _ in graph]], dtype=np.int64)
    out["edge_vectors"] = np.array([v for _, _, v, _ in graph])
    return out


def chi4(samples, n_a):
    """N_A (⟨Q²⟩ − ⟨Q⟩²) over a list of sample values, by loops."""
    m = sum(samples) / len(samples)
    m2 = sum(q * q for q in samples) / len(samples)
    return n_a * (m2 - m * m)


def small_system(n=50, box=(6.0, 6.0, 6.0), n_rep=3, widths=(0.05, 0.6, 2.5), seed=0):
    """A small periodic system: t = 0 frame inside the box, unwrapped replica frames leaving it.

    The largest displacements exceed L/2 for some pairs, so the minimum image
    of r_i(t) − r_j(t) matters; the t = 0 frame has particles within 0.1 of a face.
    """
    rng = np.random.default_rng(seed)
    box = np.asarray(box, dtype=np.float64)
    x0 = rng.uniform(0, 1, (n, 3)) * box
    x0[:3, 0] = [0.02, box[0] - 0.03, 0.05]   # particles straddling the x faces
    types = (np.arange(n) >= round(0.8 * n)).astype(np.int8)
    rng.shuffle(types)
    steps = rng.normal(size=(n_rep, len(widths), n, 3)) * np.asarray(widths)[None, :, None, None]
    x = x0 + steps
    return types, box, x0, x, np.array([0.1, 1.0, 10.0][:len(widths)])
