"""Per-particle structural features of the baselines, from the t = 0 frame and graph of a labels file."""
from __future__ import annotations

import numpy as np

from glassdyn.physics.descriptors import periodic_image_pairs
from glassdyn.physics.observables import pair_cutoffs
from glassdyn.physics.potential import pair_energy, pair_parameters, pair_table


def shell_counts(types: np.ndarray, edge_index: np.ndarray, r: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """(N, 2): per target particle i, the numbers of A and of B sources j of the edges with r < ``cut``."""
    src, dst = np.asarray(edge_index)
    sel = r < cut
    n = len(types)
    return np.stack([np.bincount(dst[sel & (types[src] == t)], minlength=n) for t in (0, 1)], axis=1).astype(float)


def particle_energies_all_images(positions: np.ndarray, types: np.ndarray, box: np.ndarray, system: dict) -> np.ndarray:
    """E_i = ½ Σ_j V(r_ij) (ε_AA) over every periodic image within the KA cutoff, so that boxes smaller
    than twice the cutoff (tests, tiny campaigns) count each image like LAMMPS does."""
    table = pair_table(system)
    types = np.asarray(types, dtype=np.int64)
    e = np.zeros(len(types))
    for ch in periodic_image_pairs(positions, box, table.max_cutoff):
        eps, sig, rc = pair_parameters(table, types[ch.i], types[ch.j])
        e += 0.5 * np.bincount(ch.i, weights=pair_energy(ch.r, eps, sig, rc), minlength=len(types))
    return e


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
        out["epot"] = particle_energies_all_images(d["positions"], types, d["box"], cfg["system"])[:, None]
    if "epot_is" in enabled:
        out["epot_is"] = np.asarray(inherent["energy"], dtype=np.float64)[:, None]
    if "ridge" in enabled:
        out["ridge"] = np.asarray(descriptors, dtype=np.float64)
    return out
