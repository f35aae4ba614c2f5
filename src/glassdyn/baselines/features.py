"""Per-particle structural features of the baselines, from the t = 0 frame and graph of a labels file."""
from __future__ import annotations

import numpy as np

from glassdyn.physics.observables import pair_cutoffs
from glassdyn.physics.potential import pair_table, particle_energies


def shell_counts(types: np.ndarray, edge_index: np.ndarray, r: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """(N, 2): per target particle i, the numbers of A and of B sources j of the edges with r < ``cut``."""
    src, dst = np.asarray(edge_index)
    sel = r < cut
    n = len(types)
    return np.stack([np.bincount(dst[sel & (types[src] == t)], minlength=n) for t in (0, 1)], axis=1).astype(float)


def structure_features(enabled: list[str], cfg: dict, d: dict, inherent: dict | None,
                       descriptors: np.ndarray | None) -> dict:
    """{feature: (N, F)} of one configuration from its labels file ``d`` (t = 0 frame and graph) for the
    features ``enabled``; ``cfg`` holds ``system`` (σ_αβ, the potential) and ``labels.bond_a_in``."""
    types = d["types"].astype(np.int64)
    r = np.linalg.norm(np.asarray(d["edge_vectors"], dtype=np.float64), axis=1)
    src, dst = d["edge_index"]
    out = {}
    if "neighbours" in enabled:
        cut = pair_cutoffs(types, dst, src, cfg["system"]["sigma"], float(cfg["labels"]["bond_a_in"]))
        out["neighbours"] = shell_counts(types, d["edge_index"], r, cut)
    if "density" in enabled:
        out["density"] = shell_counts(types, d["edge_index"], r, np.full(len(r), np.inf))
    if "epot" in enabled:
        out["epot"] = particle_energies(d["positions"], types, d["box"], pair_table(cfg["system"]))[:, None]
    if "epot_is" in enabled:
        out["epot_is"] = np.asarray(inherent["energy"], dtype=np.float64)[:, None]
    if "ridge" in enabled:
        out["ridge"] = np.asarray(descriptors, dtype=np.float64)
    return out
