"""A trained cell of a graph-network family: its model file, its network, its predictions.

A trained cell is one ``model.pt`` (docs/architecture.md; the common format of
:mod:`glassdyn.models.files`) with ``hyperparameters``, ``system``,
``graph_cutoff``, ``T``, ``time_index``, ``time``, ``target_stats`` and ``p``.
:func:`load_trained` reads it back; :func:`predict_structure` applies it to
any structure (positions, types, box) and returns predictions in the units of
the labels (σ_AA).
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import numpy as np
import torch

from glassdyn.config.families import FAMILIES, family
from glassdyn.io.storage import StorageError
from glassdyn.models.files import read_model_file
from glassdyn.models.user import build_user_model, user_hyperparameters
from glassdyn.physics.graphs import build_graph, node_inputs

#: Keys every model.pt carries.
MODEL_FILE_KEYS = ("model", "state_dict", "hyperparameters", "system", "graph_cutoff", "T", "time_index",
                   "time", "target_stats", "p")


#: Architecture keys of the interaction network and their values when a model.pt (made before they existed)
#: does not give them: glassdyn's two separate two-layer decoders.
ARCHITECTURE_DEFAULTS = {"decoder": "separate", "decoder_layers": 2}


def architecture(hyperparameters: dict) -> dict:
    """``hyperparameters`` of the interaction network with every architecture key present (defaults filled in)."""
    return {"hidden": int(hyperparameters["hidden"]),
            "message_passing_steps": int(hyperparameters["message_passing_steps"]),
            "decoder": str(hyperparameters.get("decoder", ARCHITECTURE_DEFAULTS["decoder"])),
            "decoder_layers": int(hyperparameters.get("decoder_layers", ARCHITECTURE_DEFAULTS["decoder_layers"]))}


def build(name: str, hyperparameters: dict) -> torch.nn.Module:
    """A fresh network of graph-network family ``name`` (``hidden``, ``message_passing_steps``, ``decoder``,
    ``decoder_layers``; or ``network`` and ``options`` of a user's network, :mod:`glassdyn.models.user`)."""
    if "network" in hyperparameters:
        return build_user_model(hyperparameters)
    fam = family(name)
    if fam.kind != "gnn":
        raise ValueError(f"model '{name}' is a {fam.kind} family, not a per-cell graph network")
    module, cls = fam.network.split(":")
    network = getattr(importlib.import_module(module), cls)
    h = architecture(hyperparameters)
    return network(hidden=h["hidden"], steps=h["message_passing_steps"], decoder=h["decoder"],
                   decoder_layers=h["decoder_layers"])


def network_hyperparameters(cfg: dict, model: str | None = None) -> dict:
    """What a model.pt stores to rebuild the network of ``model``: the ``network`` section's architecture
    keys, or, for a user's network (``models.<model>.network``), its class and options."""
    settings = cfg.get("models", {}).get(model) if model else None
    if isinstance(settings, dict) and "network" in settings:
        return user_hyperparameters(settings)
    return architecture(cfg["network"])


@dataclasses.dataclass
class Trained:
    """A trained cell: the network (eval mode, on ``device``) and what model.pt says about it."""

    name: str
    network: torch.nn.Module
    meta: dict
    device: torch.device

    @property
    def target_stats(self) -> dict:
        return self.meta["target_stats"]

    @property
    def graph_cutoff(self) -> float:
        return float(self.meta["graph_cutoff"])

    @property
    def predicts_nodes(self) -> bool:
        """False for a p = 0 (edges only) model, whose node output was never trained; a model file may say
        otherwise with ``outputs`` (an imported published network gives both, as the published code does)."""
        if "outputs" in self.meta:
            return "nodes" in self.meta["outputs"]
        return float(self.meta["p"]) > 0.0

    @property
    def predicts_edges(self) -> bool:
        """False for a p = 1 (nodes only, NT-GNN) model, whose edge output was never trained, for a user's
        network without edge predictions (or as ``outputs`` says, see :attr:`predicts_nodes`)."""
        if getattr(self.network, "has_edge_output", True) is False:
            return False
        if "outputs" in self.meta:
            return "edges" in self.meta["outputs"]
        return float(self.meta["p"]) < 1.0


def gnn_families() -> list[str]:
    """Names of the per-cell graph-network families (the registry's ``gnn`` kind)."""
    return [n for n, f in FAMILIES.items() if f.kind == "gnn"]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_trained(path: str | Path, device: str | torch.device | None = None) -> Trained:
    """Read a model.pt written by :func:`glassdyn.gnn.train.train_cell`.

    Raises :class:`~glassdyn.storage.StorageError` naming the file when it is
    missing, unreadable or lacks a key.
    """
    path = Path(path)
    obj = read_model_file(path, gnn_families(), user_networks=True)
    missing = [k for k in MODEL_FILE_KEYS if k not in obj]
    if missing:
        raise StorageError(path, f"missing key(s) {missing}")
    dev = torch.device(device) if device is not None else default_device()
    net = build(obj["model"], obj["hyperparameters"])
    try:
        net.load_state_dict(obj["state_dict"])
    except RuntimeError as exc:
        raise StorageError(path, f"weights do not fit the stored hyperparameters ({exc})") from exc
    net.to(dev).eval()
    meta = {k: v for k, v in obj.items() if k != "state_dict"}
    return Trained(name=obj["model"], network=net, meta=meta, device=dev)


def destandardise(values: torch.Tensor, stats: dict) -> torch.Tensor:
    """Network output → label units: y = mean + std · ŷ."""
    return values * float(stats["std"]) + float(stats["mean"])


@torch.no_grad()
def predict_graph(trained: Trained, types: np.ndarray, edge_index: np.ndarray, edge_vectors: np.ndarray) -> dict:
    """Predictions on a given graph (PyG convention, ``edge_vectors`` = r_i − r_j).

    Returns ``nodes`` (N,) Ŝ_i and ``edges`` (E,) Ê_ij as float64 numpy
    arrays in label units; an output whose decoder the model did not train
    (edges of NT-GNN, nodes of a p = 0 pretraining) is all NaN.
    """
    dev = trained.device
    x = torch.as_tensor(node_inputs(types), device=dev)
    ei = torch.as_tensor(np.asarray(edge_index, dtype=np.int64), device=dev)
    ev = torch.as_tensor(np.asarray(edge_vectors, dtype=np.float32), device=dev)
    decode = "both" if trained.predicts_nodes and trained.predicts_edges else (
        "nodes" if trained.predicts_nodes else "edges")
    nodes, edges = trained.network(x, ei, ev, decode=decode)
    stats = trained.target_stats
    n, e = x.shape[0], ei.shape[1]
    out_n = destandardise(nodes, stats["nodes"]).double().cpu().numpy() if nodes is not None else np.full(n, np.nan)
    out_e = destandardise(edges, stats["edges"]).double().cpu().numpy() if edges is not None else np.full(e, np.nan)
    return {"nodes": out_n, "edges": out_e}


def predict_structure(trained: Trained, types: np.ndarray, positions: np.ndarray, box: np.ndarray) -> dict:
    """Predict S_i and E_ij for one structure with the model's own graph cutoff.

    ``types`` (N,) (A = 0, B = 1), ``positions`` (N, 3) in σ_AA (wrapped or
    unwrapped), ``box`` (3,) box lengths. Returns ``nodes`` (N,) Ŝ_i,
    ``edges`` (E,) Ê_ij (NaN where the model has no trained decoder) and
    ``edge_index`` (2, E) of the graph built by :func:`glassdyn.graphs.build_graph`.
    """
    edge_index, edge_vectors = build_graph(np.asarray(positions, dtype=np.float64), np.asarray(box, dtype=np.float64),
                                           trained.graph_cutoff)
    out = predict_graph(trained, types, edge_index, edge_vectors)
    out["edge_index"] = edge_index
    return out
