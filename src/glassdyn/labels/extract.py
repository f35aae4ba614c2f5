"""Rule ``labels``: the dynamical labels and the t = 0 graph of one configuration (SCIENCE.md §4–5).

Reads ``replicas.h5``, computes every label with the kernels of
:mod:`glassdyn.physics.observables` and writes ``labels/T{T}/c{c}.h5``
(layout in docs/architecture.md).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from glassdyn.config import derive_seed
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.provenance import provenance
from glassdyn.physics import ceiling
from glassdyn.physics.correlation import edge_mask
from glassdyn.physics.neighbors import neighbor_pairs, wrap
from glassdyn.physics.observables import (
    bond_breaking,
    displacements,
    mean_squared_displacement,
    nonaffine,
    pair_cutoffs,
    pair_distances,
    propensity,
    relative_motion,
    self_intermediate_scattering,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- one configuration
#: What the labels read: the graph cutoff, the bond and relative-motion radii, k of F_s, and σ_αβ (bonds);
#: the ceiling (glassdyn.physics.ceiling) judges the A–A pairs below edge_eval_cutoff over ceiling_splits splits.
READS = reads("system.sigma", "graph.cutoff", "labels.bond_a_in", "labels.bond_a_out",
              "labels.relative_motion_cutoff", "labels.k", "labels.edge_eval_cutoff", "labels.ceiling_splits")


def label_settings(cfg: dict) -> dict:
    """The numbers the labels depend on, from a (sliced) campaign configuration."""
    lab = cfg["labels"]
    return {
        "cutoff": float(cfg["graph"]["cutoff"]),
        "a_in": float(lab["bond_a_in"]),
        "a_out": float(lab["bond_a_out"]),
        "relative_motion_cutoff": float(lab["relative_motion_cutoff"]),
        "k": float(lab["k"]),
        "sigma": {k: float(v) for k, v in cfg["system"]["sigma"].items()},
        "edge_eval_cutoff": float(lab["edge_eval_cutoff"]),
        "ceiling_splits": int(lab["ceiling_splits"]),
    }


def per_replica_labels(dr: np.ndarray, r_t: np.ndarray, r0: np.ndarray, bond_target: np.ndarray,
                       kept: np.ndarray, a_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Each replica's own value of every label over the judged particles (the ceiling's input).

    ``dr`` (R, N, 3) displacements; ``r_t`` (R, E) and ``r0`` (E,) the
    distances at t and at t = 0 of the judged (A–A) pairs;
    ``bond_target`` (B,) the particle i of each t = 0 bond and ``kept`` (R, B)
    whether it is still within a_out σ_αβ. Returns (R, M) arrays:
    ``propensity`` |Δr_i|, ``bond_breaking`` n_i(t)/n_i(0) (1 without bonds),
    ``pair_distance_change`` |r_ij(t)| − |r_ij(0)|; their replica means are the labels.
    """
    n = len(a_mask)
    n0 = np.bincount(bond_target, minlength=n).astype(np.float64)
    count = sp.csr_matrix((np.ones(len(bond_target)), (np.arange(len(bond_target)), bond_target)),
                          shape=(len(bond_target), n))
    nt = np.asarray((count.T @ kept.T.astype(np.float64)).T)
    cb = np.where(n0 > 0, nt / np.maximum(n0, 1.0), 1.0)
    return {"propensity": np.sqrt(np.einsum("rnk,rnk->rn", dr[:, a_mask], dr[:, a_mask])),
            "bond_breaking": cb[:, a_mask],
            "pair_distance_change": r_t - r0}


def _check_inputs(types: np.ndarray, box: np.ndarray, x0: np.ndarray, positions: np.ndarray, times) -> None:
    """ValueError naming what is inconsistent in the inputs of :func:`labels_from_positions`."""
    n_rep, n_t, n, _ = positions.shape
    if x0.shape != (n, 3) or types.shape != (n,) or len(times) != n_t:
        raise ValueError(f"inconsistent shapes: types {types.shape}, positions0 {x0.shape}, "
                         f"positions {positions.shape}, times {np.shape(times)}")
    if n_t == 0 or n_rep == 0:
        raise ValueError("no sampling times or no replicas")
    first = displacements(positions[:, 0], x0)
    if np.any(np.abs(first) > 0.5 * box):
        raise ValueError("displacements at the first sampling time exceed half the box: the stored positions "
                         "are not unwrapped consistently with the t = 0 frame")


def labels_from_positions(types: np.ndarray, box: np.ndarray, positions0: np.ndarray, positions: np.ndarray,
                          times: np.ndarray, cfg: dict) -> dict[str, np.ndarray]:
    """All datasets of ``labels/T{T}/c{c}.h5`` (docs/architecture.md) for one configuration.

    ``types`` (N,) (A = 0, B = 1), ``box`` (3,), ``positions0`` (N, 3) the
    t = 0 frame, ``positions`` (R, n_t, N, 3) unwrapped, ``times`` (n_t,).
    One sampling time is processed at a time; pair distances are evaluated
    once per unordered pair and shared by E_ij, E_ji and the bond count.
    The ceiling of S, C_B and E (``ceiling/*``, :mod:`glassdyn.physics.ceiling`) judges what evaluation
    judges (A particles, A–A edges below ``labels.edge_eval_cutoff``) over seeded half-splits of the replicas.
    """
    st = label_settings(cfg)
    types = np.asarray(types).astype(np.int8)
    box = np.asarray(box, dtype=np.float64)
    x0 = np.asarray(positions0, dtype=np.float64)
    n_rep, n_t, n, _ = positions.shape
    _check_inputs(types, box, x0, positions, times)

    sigma_max = max(st["sigma"].values())
    r_max = max(st["cutoff"], st["a_in"] * sigma_max, st["relative_motion_cutoff"])
    pairs = neighbor_pairs(x0, box, r_max)
    i, j, vec, dist = pairs

    # The graph is the subset within r_e: the same pairs, order and vectors as build_graph(x0, box, r_e).
    graph = dist <= st["cutoff"]
    edge_index = np.stack([j[graph], i[graph]]).astype(np.int64)
    edge_vectors = vec[graph].astype(np.float32)

    # Unordered pairs (i < j) carry the distance computations; `half_of` maps each ordered pair to its one.
    half = np.flatnonzero(i < j)
    key = np.minimum(i, j) * n + np.maximum(i, j)
    half_of = np.searchsorted(key[half], key)

    cut_in = pair_cutoffs(types, i, j, st["sigma"], st["a_in"])
    cut_out = pair_cutoffs(types, i, j, st["sigma"], st["a_out"])
    bond_candidates = np.flatnonzero(dist < cut_in)
    nn = np.flatnonzero(dist <= st["relative_motion_cutoff"])
    a_mask = types == 0
    judged = np.flatnonzero(graph)[edge_mask(types, edge_index, edge_vectors, st["edge_eval_cutoff"])]
    splits = ceiling.half_splits(n_rep, st["ceiling_splits"], derive_seed("ceiling", n_rep))
    per_time = []

    out = {
        "propensity": np.empty((n_t, n), np.float32),
        "pair_distance_change": np.empty((n_t, int(graph.sum())), np.float32),
        "bond_breaking": np.empty((n_t, n), np.float32),
        "relative_motion": np.empty((n_t, n), np.float32),
        "nonaffine": np.empty((n_t, n), np.float32),
        "fs_A": np.empty((n_rep, n_t)),
        "msd_A": np.empty((n_rep, n_t)),
    }
    for t in range(n_t):
        xt = np.asarray(positions[:, t], dtype=np.float64)
        dr = displacements(xt, x0)
        out["propensity"][t] = propensity(dr)
        r_t_half = pair_distances(dr, vec[half], box, i[half], j[half])      # (R, E/2)
        e_half = r_t_half.mean(axis=0, dtype=np.float64) - dist[half]
        out["pair_distance_change"][t] = e_half[half_of[graph]]
        bc = bond_candidates
        out["bond_breaking"][t] = bond_breaking(dist[bc], r_t_half[:, half_of[bc]], i[bc], cut_in[bc],
                                                cut_out[bc], n)
        out["relative_motion"][t] = relative_motion(dr, i[nn], j[nn])
        out["nonaffine"][t] = nonaffine(dr, i[nn], j[nn], vec[nn])
        out["fs_A"][:, t] = self_intermediate_scattering(dr, st["k"], a_mask)
        out["msd_A"][:, t] = mean_squared_displacement(dr, a_mask)
        if splits:
            kept = r_t_half[:, half_of[bc]] < cut_out[bc]
            per_time.append(ceiling.time_point(
                per_replica_labels(dr, r_t_half[:, half_of[judged]], dist[judged], i[bc], kept, a_mask), splits))

    return {
        "types": types,
        "box": box,
        "positions": wrap(x0, box),
        "times": np.asarray(times, dtype=np.float64),
        "edge_index": edge_index,
        "edge_vectors": edge_vectors,
        **out,
        **ceiling.ceiling_datasets(per_time, len(splits)),
    }


def extract_labels(cfg: dict, replicas_path: str | Path, output: str | Path) -> Path:
    """Read ``replicas.h5``, compute :func:`labels_from_positions`, write ``labels.h5`` atomically."""
    cfg = config_slice(cfg, READS)
    need = ["types", "box", "initial_positions", "times", "positions"]
    data, attrs = storage.read_h5(replicas_path, need)
    try:
        labels = labels_from_positions(data["types"], data["box"], data["initial_positions"], data["positions"],
                                       data["times"], cfg)
    except ValueError as exc:
        raise storage.StorageError(replicas_path, str(exc)) from exc
    st = label_settings(cfg)
    out_attrs = {
        "T": attrs.get("T", float("nan")),
        "c": attrs.get("c", -1),
        "cutoff": st["cutoff"],
        "a_in": st["a_in"],
        "a_out": st["a_out"],
        "relative_motion_cutoff": st["relative_motion_cutoff"],
        "k": st["k"],
        "sigma": st["sigma"],
        "n_replicas": int(data["positions"].shape[0]),
        "source": str(replicas_path),
        "provenance": provenance(cfg, [replicas_path]),
    }
    log.info("%s: N=%d, R=%d, n_t=%d, E=%d", output, len(labels["types"]), out_attrs["n_replicas"],
             len(labels["times"]), labels["edge_index"].shape[1])
    return storage.write_h5(output, labels, out_attrs)
