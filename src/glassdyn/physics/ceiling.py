"""Label reproducibility ceiling (SCIENCE.md §7): how well R replicas determine a label.

A label computed from R iso-configurational replicas is the R-replica average
of a per-replica quantity q_i^r (|Δr_i| for the propensity, n_i(t)/n_i(0) for
the bond breaking, |r_ij(t)| − |r_ij(0)| for the pair-distance change). Split
the replicas at random into two halves H₁, H₂ (⌊R/2⌋ and ⌈R/2⌉ replicas),
compute the label of each half, and take the Pearson r_s of the two half labels
over the judged particles (A particles; A–A pairs with r_ij(0) below
``labels.edge_eval_cutoff`` for edges). Averaged over S seeded splits and
corrected to R replicas by Spearman–Brown,

    ceiling = 2 r̄ / (1 + r̄),   r̄ = (1/S) Σ_s r_s,

is the reliability of the R-replica label: the Pearson two independent
R-replica labels of the same configuration have with each other. If
q = s + noise with an infinite-replica label s, the reliability is
Var s / (Var s + Var noise / R), and a predictor equal to s scores √ceiling
against the R-replica label (SCIENCE.md reports the ceiling itself).

For pooling over configurations (the "pcc_all" definition, :mod:`glassdyn.physics.scoring`)
the half-vs-half moments of each split are averaged over the splits
(:func:`glassdyn.physics.scoring.average`).
"""
from __future__ import annotations

import math

import numpy as np

from glassdyn.physics import scoring

#: Labels that get a ceiling, and the datasets of labels.h5 they are stored in.
LABELS = ("propensity", "bond_breaking", "pair_distance_change")


def half_splits(n_replicas: int, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` distinct random partitions of range(R) into halves (⌊R/2⌋, ⌈R/2⌉), seeded.

    All partitions when there are fewer (R = 8: 35); [] when R < 2. For even R
    a partition and its mirror are the same split (the first half holds replica 0).
    """
    if n_replicas < 2 or n_splits < 1:
        return []
    half = n_replicas // 2
    total = math.comb(n_replicas, half) // (2 if 2 * half == n_replicas else 1)
    rng = np.random.default_rng(seed)
    seen, out = set(), []
    while len(out) < min(int(n_splits), total):
        p = rng.permutation(n_replicas)
        h1, h2 = np.sort(p[:half]), np.sort(p[half:])
        if 2 * half == n_replicas and h1[0] != 0:
            h1, h2 = h2, h1
        if tuple(h1) not in seen:
            seen.add(tuple(h1))
            out.append((h1, h2))
    return out


def split_half(per_replica: np.ndarray, splits: list) -> dict:
    """Split-half reliability of the replica average of ``per_replica`` (R, M).

    Returns ``split_r`` (S,) the half-vs-half Pearson of each split,
    ``ceiling`` = Spearman–Brown 2r̄/(1 + r̄) of their mean r̄ (NaN without
    splits or with a constant label) and ``moments`` (6,) the split-averaged
    half-vs-half moments.
    """
    q = np.asarray(per_replica, dtype=np.float64)
    rs, ms = [], []
    for h1, h2 in splits:
        m = scoring.moments(q[h1].mean(axis=0), q[h2].mean(axis=0))
        ms.append(m)
        rs.append(scoring.pearson_from_moments(m))
    rs = np.asarray(rs, dtype=np.float64)
    r_mean = float(np.mean(rs)) if len(rs) and np.all(np.isfinite(rs)) else math.nan
    return {"split_r": rs, "ceiling": scoring.spearman_brown(r_mean) if math.isfinite(r_mean) else math.nan,
            "moments": scoring.average(ms) if ms else scoring.empty_moments()}


def time_point(per_replica: dict[str, np.ndarray], splits: list) -> dict[str, dict]:
    """:func:`split_half` of every label at one sampling time; ``per_replica`` maps a label name
    (:data:`LABELS`) to its (R, M) per-replica values over the judged particles or pairs."""
    return {name: split_half(per_replica[name], splits) for name in LABELS if name in per_replica}


def ceiling_datasets(per_time: list[dict[str, dict]], n_splits: int) -> dict[str, np.ndarray]:
    """The ``ceiling/*`` datasets of labels.h5 from :func:`time_point` of every sampling time.

    Per label: ``ceiling/<label>`` (n_t,), ``ceiling/<label>_moments`` (n_t, 6),
    ``ceiling/<label>_split_r`` (n_t, S). Nothing without splits (R < 2).
    """
    out: dict[str, np.ndarray] = {}
    n_t = len(per_time)
    for name in LABELS:
        if not per_time or name not in per_time[0]:
            continue
        res = [pt[name] for pt in per_time]
        out[f"ceiling/{name}"] = np.array([r["ceiling"] for r in res], dtype=np.float64)
        out[f"ceiling/{name}_moments"] = np.array([r["moments"] for r in res], dtype=np.float64).reshape(n_t, 6)
        out[f"ceiling/{name}_split_r"] = np.array([r["split_r"] for r in res], dtype=np.float64).reshape(n_t, n_splits)
    return out
