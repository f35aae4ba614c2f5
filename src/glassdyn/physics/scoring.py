"""Both Pearson definitions of SCIENCE.md §7 from one set of per-configuration numbers.

Published tables use two definitions: the mean over test configurations of the
per-configuration Pearson ρ_c ("pcc_mean", ``pearson_nodes_mean``) and the
Pearson over all test particles pooled ("pcc_all", ``pooled_pearson_nodes``).
The second needs more than ρ_c, but not the predictions themselves: each eval
CSV row carries the *moments* of its (prediction x, label y) sample over the
judged particles (A particles; A–A pairs within ``labels.edge_eval_cutoff``
for edges),

    n, mean_x, mean_y, m2_x = Σ(x − x̄)², m2_y = Σ(y − ȳ)², c_xy = Σ(x − x̄)(y − ȳ),

from which the pooled Pearson follows exactly (Chan et al.'s pairwise update:
the pooled sums of squares add the within-configuration sums and
n_c (x̄_c − x̄)(ȳ_c − ȳ) between configurations). Central moments, not raw
sums Σx², keep the pooling free of cancellation when a label's mean is large
compared with its spread (C_B ≈ 0.95 at short times).

The label reproducibility ceiling (:mod:`glassdyn.physics.ceiling`) is pooled the same
way: its moments are those of the two half-ensemble labels (x = first half,
y = second half).
"""
from __future__ import annotations

import math

import numpy as np

from glassdyn.physics.correlation import configuration_scores, edge_mask, node_mask

#: Moments of one (x, y) sample, in order.
MOMENTS = ("n", "mean_x", "mean_y", "m2_x", "m2_y", "c_xy")


def moment_columns(part: str) -> list[str]:
    """Eval-CSV column names of the moments of ``part`` (nodes, edges, ceiling_nodes, ceiling_edges)."""
    return [f"{part}_{m}" for m in MOMENTS]


#: Columns every model family appends to the eval CSV (after ``glassdyn.io.tables.EVAL_COLUMNS``): the label judged
#: (``target``), the configuration's reproducibility ceiling, and the moments for pooling.
SCORE_COLUMNS = (["target", "ceiling_nodes", "ceiling_edges"] + moment_columns("nodes") + moment_columns("edges")
                 + moment_columns("ceiling_nodes") + moment_columns("ceiling_edges"))


def empty_moments() -> np.ndarray:
    """The moments of no sample: n = 0, the rest NaN."""
    return np.array([0.0] + [math.nan] * 5)


def moments(x, y) -> np.ndarray:
    """(n, mean_x, mean_y, m2_x, m2_y, c_xy) of two equally long samples (float64, about their means)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"moments need samples of equal length, got {x.shape} and {y.shape}")
    if x.size == 0:
        return empty_moments()
    dx, dy = x - x.mean(), y - y.mean()
    # einsum, not BLAS (`@`, np.dot): on a loaded machine OpenBLAS threads made each 40k-value product take ~10 ms
    return np.array([x.size, x.mean(), y.mean(), np.einsum("i,i->", dx, dx), np.einsum("i,i->", dy, dy),
                     np.einsum("i,i->", dx, dy)])


def pool(rows) -> np.ndarray:
    """Moments of the union of the samples whose moments are ``rows`` (k, 6); rows with n = 0 are skipped.

    Exact: x̄ = Σ n_c x̄_c / n, m2_x = Σ m2_x,c + Σ n_c (x̄_c − x̄)², c_xy likewise.
    """
    m = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    m = m[np.isfinite(m).all(axis=1) & (m[:, 0] > 0)] if m.size else m.reshape(0, 6)
    if len(m) == 0:
        return empty_moments()
    n = m[:, 0].sum()
    mx, my = (m[:, 0] @ m[:, 1]) / n, (m[:, 0] @ m[:, 2]) / n
    dx, dy = m[:, 1] - mx, m[:, 2] - my
    return np.array([n, mx, my, m[:, 3].sum() + m[:, 0] @ (dx * dx), m[:, 4].sum() + m[:, 0] @ (dy * dy),
                     m[:, 5].sum() + m[:, 0] @ (dx * dy)])


def average(rows) -> np.ndarray:
    """Moments whose raw sums (n, Σx, Σy, Σx², Σy², Σxy) are the averages of those of ``rows`` (k, 6).

    Used for the split-half ceiling: the samples of different splits share
    their particles, so they are averaged, not pooled.
    """
    m = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    if len(m) == 0 or m[0, 0] == 0:
        return empty_moments()
    n = m[:, 0]
    raw = np.stack([n, n * m[:, 1], n * m[:, 2], m[:, 3] + n * m[:, 1] ** 2, m[:, 4] + n * m[:, 2] ** 2,
                    m[:, 5] + n * m[:, 1] * m[:, 2]], axis=1).mean(axis=0)
    mx, my = raw[1] / raw[0], raw[2] / raw[0]
    return np.array([raw[0], mx, my, raw[3] - raw[0] * mx * mx, raw[4] - raw[0] * my * my,
                     raw[5] - raw[0] * mx * my])


def pearson_from_moments(m) -> float:
    """ρ = c_xy / √(m2_x m2_y); NaN for fewer than two values or a constant sample."""
    n, _, _, m2x, m2y, cxy = np.asarray(m, dtype=np.float64)
    if not (n >= 2 and m2x > 0 and m2y > 0):
        return math.nan
    return float(cxy / math.sqrt(m2x * m2y))


def spearman_brown(r: float | np.ndarray, factor: float = 2.0):
    """Reliability of ``factor`` times as many replicas: factor·r / (1 + (factor − 1)·r)."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = factor * r / (1.0 + (factor - 1.0) * r)
    return float(out) if out.ndim == 0 else out


def _usable(a) -> bool:
    return a is not None and not np.all(np.isnan(np.asarray(a, dtype=np.float64)))


def score_row(types, edge_index, edge_vectors, nodes_true, nodes_pred, edges_true, edges_pred, cutoff: float,
              target: str, ceiling: dict | None = None) -> dict:
    """Every score column of one configuration: ``pearson_nodes/edges`` (the same code as the models'
    evaluation, :func:`glassdyn.physics.correlation.configuration_scores`), the moments of the same masked samples,
    the label judged and the configuration's ceiling (``ceiling``: :func:`glassdyn.labels.ceiling.read_ceiling`)."""
    rn, re = configuration_scores(types, edge_index, edge_vectors, nodes_true, nodes_pred, edges_true, edges_pred,
                                  cutoff)
    row = {"pearson_nodes": rn, "pearson_edges": re, "target": target}
    nodes = empty_moments()
    if _usable(nodes_pred) and _usable(nodes_true):
        m = node_mask(types)
        nodes = moments(np.asarray(nodes_pred)[m], np.asarray(nodes_true)[m])
    edges = empty_moments()
    if _usable(edges_pred) and _usable(edges_true):
        me = edge_mask(types, edge_index, edge_vectors, cutoff)
        edges = moments(np.asarray(edges_pred)[me], np.asarray(edges_true)[me])
    ceiling = ceiling or {}
    parts = {"nodes": nodes, "edges": edges,
             "ceiling_nodes": ceiling.get("nodes_moments", empty_moments()),
             "ceiling_edges": ceiling.get("edges_moments", empty_moments()) if _usable(edges_pred) else empty_moments()}
    for part, values in parts.items():
        row.update(zip(moment_columns(part), (float(v) for v in values)))
    row["ceiling_nodes"] = float(ceiling.get("nodes", math.nan))
    row["ceiling_edges"] = float(ceiling.get("edges", math.nan)) if _usable(edges_pred) else math.nan
    return row
