"""How accuracy is judged (SCIENCE.md §7): Pearson correlation of a prediction with its label.

Nodes are judged over the A particles, edges over the A–A pairs with
|r_ij(0)| < ``labels.edge_eval_cutoff``.
"""
from __future__ import annotations

import numpy as np


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation ρ = cov(x, y) / (σ_x σ_y) of two equally long samples.

    Computed in float64 about the means. NaN when fewer than two values are
    given or either sample is constant (ρ undefined).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"pearson needs samples of equal length, got {x.shape} and {y.shape}")
    if x.size < 2:
        return float("nan")
    dx = x - x.mean()
    dy = y - y.mean()
    den = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
    return float(np.dot(dx, dy) / den) if den > 0 else float("nan")


def node_mask(types: np.ndarray) -> np.ndarray:
    """The particles judged: type A (0)."""
    return np.asarray(types) == 0


def edge_mask(types: np.ndarray, edge_index: np.ndarray, edge_vectors: np.ndarray, cutoff: float) -> np.ndarray:
    """The pairs judged: both ends type A and |r_ij(0)| < ``cutoff`` (σ_AA)."""
    types = np.asarray(types)
    ei = np.asarray(edge_index)
    r = np.linalg.norm(np.asarray(edge_vectors, dtype=np.float64), axis=1)
    return (types[ei[0]] == 0) & (types[ei[1]] == 0) & (r < cutoff)


def configuration_scores(types, edge_index, edge_vectors, nodes_true, nodes_pred, edges_true, edges_pred,
                         cutoff: float) -> tuple[float, float]:
    """(ρ_nodes over A particles, ρ_edges over A–A pairs within ``cutoff``) of one configuration.

    A missing label or prediction (``None`` or all NaN) gives NaN for that part.
    """
    def usable(a):
        return a is not None and not np.all(np.isnan(a))

    m = node_mask(types)
    rn = pearson(np.asarray(nodes_pred)[m], np.asarray(nodes_true)[m]) \
        if usable(nodes_pred) and usable(nodes_true) else float("nan")
    if usable(edges_pred) and usable(edges_true):
        me = edge_mask(types, edge_index, edge_vectors, cutoff)
        re = pearson(np.asarray(edges_pred)[me], np.asarray(edges_true)[me])
    else:
        re = float("nan")
    return rn, re
