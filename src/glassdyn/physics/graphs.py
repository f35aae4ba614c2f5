"""The t = 0 particle graph of Bapst et al. and BOTAN (SCIENCE.md §5).

Nodes are particles with input = type (A → 0, B → 1). Edges are the ordered
pairs i ≠ j with |r_ij(0)| ≤ r_e (minimum image), in the PyG convention:
``edge_index[0]`` = source j, ``edge_index[1]`` = target i (messages
aggregate at the target), ``edge_vectors`` = r_i − r_j. Both directions of
every pair are present; edges are sorted by target, then source.
"""
from __future__ import annotations

import numpy as np

from glassdyn.physics.neighbors import neighbor_pairs


def build_graph(positions: np.ndarray, box: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """(edge_index (2, E) int64, edge_vectors (E, 3) float32) of the pairs within ``cutoff``.

    ``positions`` (N, 3) in σ_AA (wrapped or unwrapped), ``box`` (3,) box
    lengths, ``cutoff`` = r_e (σ_AA, below L/2).
    """
    p = neighbor_pairs(positions, box, cutoff)
    edge_index = np.stack([p.j, p.i]).astype(np.int64)
    return edge_index, p.vectors.astype(np.float32)


def node_inputs(types: np.ndarray) -> np.ndarray:
    """Node input features (N, 1) float32: the particle type as a number (A → 0.0, B → 1.0)."""
    return np.asarray(types, dtype=np.float32).reshape(-1, 1)
