"""A cell's graphs: labels.h5 files read into tensors, and the target standardisation.

One :class:`CellGraph` per configuration at time index k: node inputs (the
particle type), edges within ``graph.cutoff`` with their vectors r_dst − r_src
(σ_AA), the node target S_i (propensity) and edge target E_ij (pair-distance
change), and the masks the scores use (A particles; A–A pairs below
``labels.edge_eval_cutoff``). Targets are standardised, y → (y − μ)/σ with μ, σ
over the fit graphs (``network.targets: standardised``), or left raw.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from glassdyn import config as gcfg
from glassdyn.io import storage
from glassdyn.physics.correlation import edge_mask, node_mask
from glassdyn.physics.graphs import node_inputs


# ----------------------------------------------------------------------------- data
@dataclasses.dataclass
class CellGraph:
    """One configuration of a cell as tensors on the training device (targets standardised later)."""

    c: int
    x: torch.Tensor              # (N, 1) node inputs (type as a number)
    edge_index: torch.Tensor     # (2, E) int64, PyG convention
    edge_vectors: torch.Tensor   # (E, 3) r_i − r_j
    nodes: torch.Tensor | None   # (N,) S_i (standardised after `standardise`)
    edges: torch.Tensor | None   # (E,) E_ij
    node_mask: np.ndarray        # (N,) A particles (for validation Pearson)
    edge_mask: np.ndarray        # (E,) A–A pairs with r_ij(0) < edge_eval_cutoff

    @property
    def n_nodes(self) -> int:
        return self.x.shape[0]

    @property
    def n_edges(self) -> int:
        return self.edge_index.shape[1]


def read_cell(path: str | Path, time_index: int, need_nodes: bool, need_edges: bool,
              edge_eval_cutoff: float) -> tuple[dict, dict]:
    """Arrays of one labels.h5 at time index k: the graph, the targets needed, the eval masks; and its attrs."""
    required = ["types", "times", "edge_index", "edge_vectors"]
    required += ["propensity"] if need_nodes else []
    required += ["pair_distance_change"] if need_edges else []
    with storage.open_h5(path, required=required) as f:
        n_t = f["times"].shape[0]
        if not 0 <= time_index < n_t:
            raise storage.StorageError(path, f"time index {time_index} outside its {n_t} sampling times")
        try:
            d = {k: f[k][()] for k in ("types", "times", "edge_index", "edge_vectors")}
            d["propensity"] = f["propensity"][time_index] if "propensity" in f else None
            d["pair_distance_change"] = (f["pair_distance_change"][time_index]
                                         if "pair_distance_change" in f else None)
        except (OSError, RuntimeError, ValueError) as exc:
            raise storage.StorageError(path, f"unreadable dataset ({exc}); delete the file and rerun") from exc
        attrs = {"T": float(f.attrs.get("T", float("nan"))), "c": int(f.attrs.get("c", -1))}
    n, e = d["types"].shape[0], d["edge_index"].shape[1]
    if d["propensity"] is not None and d["propensity"].shape != (n,):
        raise storage.StorageError(path, f"propensity has {d['propensity'].shape} values per time, expected ({n},)")
    if d["pair_distance_change"] is not None and d["pair_distance_change"].shape != (e,):
        raise storage.StorageError(path, f"pair_distance_change has {d['pair_distance_change'].shape} values, "
                                         f"expected one per graph edge ({e},)")
    d["node_mask"] = node_mask(d["types"])
    d["edge_mask"] = edge_mask(d["types"], d["edge_index"], d["edge_vectors"], edge_eval_cutoff)
    return d, attrs


def to_graph(d: dict, c: int, device: torch.device) -> CellGraph:
    def t(a, dtype=torch.float32):
        return None if a is None else torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

    return CellGraph(c=c, x=t(node_inputs(d["types"])), edge_index=t(d["edge_index"], torch.int64),
                     edge_vectors=t(d["edge_vectors"]), nodes=t(d["propensity"]), edges=t(d["pair_distance_change"]),
                     node_mask=d["node_mask"], edge_mask=d["edge_mask"])


def target_stats(graphs: list[CellGraph], targets: str = "standardised") -> dict:
    """Mean and standard deviation of the node and edge targets over ``graphs`` (float64); mean 0 and
    std 1 (targets used as they are) for ``targets="raw"`` (``network.targets``, the published BOTAN code)."""
    if targets == "raw":
        return {key: {"mean": 0.0, "std": 1.0} for key in ("nodes", "edges")}
    out = {}
    for key in ("nodes", "edges"):
        vals = [getattr(g, key) for g in graphs if getattr(g, key) is not None]
        if not vals:
            out[key] = {"mean": 0.0, "std": 1.0}
            continue
        v = torch.cat(vals).double()
        std = float(v.std(unbiased=False))
        out[key] = {"mean": float(v.mean()), "std": std if std > 0 else 1.0}
    return out


def standardise(graphs: list[CellGraph], stats: dict) -> None:
    """Replace targets y by (y − mean) / std in place."""
    for g in graphs:
        for key in ("nodes", "edges"):
            y = getattr(g, key)
            if y is not None:
                setattr(g, key, (y - stats[key]["mean"]) / stats[key]["std"])


def load_cell_graphs(cfg, label_paths, T_key, k, p, device):
    fit_idx, val_idx = gcfg.split_train_validation(cfg)
    cutoff = float(cfg["labels"]["edge_eval_cutoff"])
    fit, val, time_value = [], [], None
    seen = set()
    for path in label_paths:
        arr, attrs = read_cell(path, k, need_nodes=p > 0, need_edges=p < 1, edge_eval_cutoff=cutoff)
        if gcfg.temperature_key(attrs["T"]) != T_key:
            raise storage.StorageError(path, f"labels at T = {attrs['T']}, but this cell is T = {T_key}")
        c = attrs["c"]
        if c in seen:
            raise storage.StorageError(path, f"configuration {c} given twice")
        seen.add(c)
        if c in fit_idx:
            fit.append(to_graph(arr, c, device))
        elif c in val_idx:
            val.append(to_graph(arr, c, device))
        else:
            raise storage.StorageError(path, f"configuration {c} is not a training configuration "
                                             f"(0 … {cfg['configurations']['n_train'] - 1}); the test set is never "
                                             "used in training")
        time_value = float(arr["times"][k])
    if not fit:
        raise ValueError(f"none of the {len(label_paths)} label files is a fit configuration {fit_idx}")
    fit.sort(key=lambda g: g.c)
    val.sort(key=lambda g: g.c)
    return fit, val, time_value
