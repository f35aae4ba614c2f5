"""The published BOTAN networks (pyg_botan state dicts) as glassdyn model files.

The BOTAN authors publish their pretrained networks (``model1.pth`` …
``model8.pth``, a ``torch.save`` of the network's ``state_dict``, Apache-2.0).
Their network is glassdyn's interaction network
(:class:`~glassdyn.models.interaction_network.InteractionNetwork`) with
``decoder="shared"`` and ``decoder_layers=3``, raw (not standardised)
outputs and 7 message-passing cycles (a constant of their code, not stored in
the file). Their edge (src → dst) carries r_dst − r_src and the node update
sums the edges at dst: glassdyn's convention (``edge_index[0]`` = source j,
``edge_index[1]`` = target i, ``edge_vectors`` = r_i − r_j), so the weights
are copied unchanged, key by key:

============================================  ===========================  ==========
published key                                 glassdyn key                 shape (d = 64)
============================================  ===========================  ==========
``node_encoder.fc1`` / ``fc2``                ``node_encoder.lin1/lin2``   1→d, d→d
``edge_encoder.fc1`` / ``fc2``                ``edge_encoder.lin1/lin2``   3→d, d→d
``network.edge_model.mlp.fc1`` / ``fc2``      ``edge_update.lin1/lin2``    4d→d, d→d
``network.node_model.mlp.fc1`` / ``fc2``      ``node_update.lin1/lin2``    3d→d, d→d
``decoder.fc1`` / ``fc2`` / ``fc3``           ``decoder.lin1/lin2/lin3``   d→d, d→d, d→1
============================================  ===========================  ==========

(each ``.weight`` (out, in) and ``.bias`` (out,)). The first layers' input
blocks are in the same order: edge update [h_src, h_dst, h_e, h_e⁰], node
update [h_v, h_v⁰, Σ_in h_e].

:func:`import_weights` (``glassdyn import-weights``) writes a model.pt that
``predict``, ``evaluate`` and training (``--pretrained``,
``models.botan.pretrain: PATH``) read; training also takes the ``.pth``
itself (:func:`convert_state_dict` in memory).
"""
from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path

import torch

from glassdyn.config.derived import temperature_key
from glassdyn.io.storage import StorageError
from glassdyn.models.files import save_model_file

#: Published module prefix -> (glassdyn module prefix, number of linear layers).
PUBLISHED_MODULES = {
    "node_encoder": ("node_encoder", 2),
    "edge_encoder": ("edge_encoder", 2),
    "network.edge_model.mlp": ("edge_update", 2),
    "network.node_model.mlp": ("node_update", 2),
    "decoder": ("decoder", 3),
}
#: Message-passing cycles of the published code (``num_layers``/steps argument; not in the state dict).
PUBLISHED_STEPS = 7


def published_key_map() -> dict[str, str]:
    """Every published key -> its glassdyn key (``fc<i>`` -> ``lin<i>``)."""
    out = {}
    for theirs, (ours, layers) in PUBLISHED_MODULES.items():
        for i in range(1, layers + 1):
            for kind in ("weight", "bias"):
                out[f"{theirs}.fc{i}.{kind}"] = f"{ours}.lin{i}.{kind}"
    return out


def expected_shapes(hidden: int) -> dict[str, tuple[int, ...]]:
    """The shape of every published key for hidden width ``hidden``."""
    d = hidden
    ins = {"node_encoder": (1, d), "edge_encoder": (3, d), "network.edge_model.mlp": (4 * d, d),
           "network.node_model.mlp": (3 * d, d), "decoder": (d, d, d)}
    outs = {"decoder": (d, d, 1)}
    shapes = {}
    for theirs, (_, layers) in PUBLISHED_MODULES.items():
        for i in range(layers):
            n_out = outs.get(theirs, (d,) * layers)[i]
            shapes[f"{theirs}.fc{i + 1}.weight"] = (n_out, ins[theirs][i])
            shapes[f"{theirs}.fc{i + 1}.bias"] = (n_out,)
    return shapes


def is_published_state_dict(obj) -> bool:
    """True for a bare state dict (tensors by name, no glassdyn ``state_dict`` key): what pyg_botan saves."""
    return isinstance(obj, dict) and "state_dict" not in obj and any(isinstance(v, torch.Tensor)
                                                                     for v in obj.values())


def convert_state_dict(sd: dict, path: str | Path = "<state dict>") -> tuple[dict, dict]:
    """(glassdyn state dict, hyperparameters) of a published state dict; :class:`StorageError` naming
    ``path`` and the first key or shape that is wrong."""
    if not isinstance(sd, dict):
        raise StorageError(path, f"not a state dict (a {type(sd).__name__}); expected the published BOTAN "
                                 "network's torch.save(model.state_dict())")
    if "state_dict" in sd and "hyperparameters" in sd:
        raise StorageError(path, "is a glassdyn model file already: use it as it is (predict --model, --pretrained)")
    key_map = published_key_map()
    missing = [k for k in key_map if k not in sd]
    extra = [k for k in sd if k not in key_map]
    if missing or extra:
        raise StorageError(path, f"not a published BOTAN state dict: missing key(s) {missing[:4]}"
                                 f"{' …' if len(missing) > 4 else ''}, unexpected key(s) {extra[:4]}"
                                 f"{' …' if len(extra) > 4 else ''}")
    bad = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise StorageError(path, f"key {bad[0]} holds a {type(sd[bad[0]]).__name__}, not a tensor")
    hidden = int(sd["node_encoder.fc1.weight"].shape[0])
    for key, shape in expected_shapes(hidden).items():
        if tuple(sd[key].shape) != shape:
            raise StorageError(path, f"key {key} has shape {tuple(sd[key].shape)}, expected {shape} for a "
                                     f"network of width {hidden} (from node_encoder.fc1.weight)")
    state = {key_map[k]: v.detach().to("cpu", torch.float32).clone() for k, v in sd.items()}
    hyper = {"hidden": hidden, "message_passing_steps": PUBLISHED_STEPS, "decoder": "shared", "decoder_layers": 3}
    return state, hyper


def read_published(path: str | Path) -> dict:
    """The state dict in a published ``.pth`` (tensors moved to the CPU; they were saved from CUDA)."""
    path = Path(path)
    if not path.exists():
        raise StorageError(path, "file does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if zipfile.is_zipfile(path):
            raise StorageError(path, "holds Python objects besides tensors (a whole pickled model?); import the "
                                     "file torch.save(model.state_dict()) writes") from exc
        raise StorageError(path, "not a torch file (expected what torch.save(model.state_dict()) writes)") from exc
    except Exception as exc:  # torch raises several types for truncated or corrupt files
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise StorageError(path, f"not a readable torch file ({type(exc).__name__}: {first})") from exc


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def model_file_meta(path: str | Path, cfg: dict, steps: int = PUBLISHED_STEPS, T: float | None = None,
                    time_index: int | None = None) -> tuple[dict, dict]:
    """(glassdyn state dict, model-file metadata) of the published network at ``path``.

    What the state dict does not say comes from the campaign configuration
    ``cfg``: ``system``, ``graph.cutoff`` (2.0: BOTAN's graph) and the cell
    the file is filed under, (``T``, ``time_index``), by default the
    pretraining cell ``models.botan.pretrain`` (the published networks are
    BOTAN's p = 0 pretraining on the pair-distance change; ``glassdyn
    evaluate`` reads the labels at that time index). Raw targets:
    ``target_stats`` mean 0, std 1; ``outputs`` nodes and edges, as the
    published code outputs both from its shared decoder.
    """
    state, hyper = convert_state_dict(read_published(path), path)
    hyper["message_passing_steps"] = int(steps)
    pre = cfg["models"].get("botan", {}).get("pretrain")
    pre = pre if isinstance(pre, dict) else {}
    T = float(T if T is not None else pre.get("T", cfg["temperatures"][0]["T"]))
    k = int(time_index if time_index is not None else pre.get("time_index", 0))
    times = [t["times"] for t in cfg["temperatures"] if temperature_key(t["T"]) == temperature_key(T)]
    time = float(times[0][k]) if times and k < len(times[0]) else float("nan")
    identity = {"mean": 0.0, "std": 1.0}
    meta = {"hyperparameters": hyper, "system": cfg["system"], "graph_cutoff": float(cfg["graph"]["cutoff"]),
            "T": T, "time_index": k, "time": time, "target_stats": {"nodes": dict(identity), "edges": dict(identity)},
            "p": 0.0, "stage": "pretrain", "outputs": ["nodes", "edges"], "targets": "raw", "best_epoch": None,
            "epochs": None, "seed": None, "source": "pyg_botan state dict (published BOTAN network)",
            "source_file": str(Path(path).resolve()), "source_sha256": sha256(path)}
    return state, meta


def import_weights(path: str | Path, output: str | Path, cfg: dict, steps: int = PUBLISHED_STEPS,
                   T: float | None = None, time_index: int | None = None) -> Path:
    """``glassdyn import-weights``: write the published network at ``path`` as a glassdyn BOTAN model.pt
    ``output`` (:func:`model_file_meta`); refuses to overwrite the input."""
    path, output = Path(path), Path(output)
    if output.exists() and output.resolve() == path.resolve():
        raise StorageError(output, "is the input file; choose another --output")
    state, meta = model_file_meta(path, cfg, steps, T, time_index)
    return save_model_file(output, "botan", state, **meta)
