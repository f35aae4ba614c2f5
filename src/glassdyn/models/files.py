"""The one model-file format of every family: writing it atomically, reading it back with a clear error.

A model file is a ``torch.save`` dict ``{"model": <family name>,
"glassdyn_model_format": 1, "state_dict": ..., <family metadata>}``. It is
read weights-only (no code runs on load). :func:`read_model_file` names the
file and says what it is when it is not what the caller takes: another
family's model, a training checkpoint, or no glassdyn model at all.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from glassdyn.config.families import FAMILIES, MODEL_FILES
from glassdyn.io import storage
from glassdyn.io.storage import StorageError

MODEL_FORMAT = 1
#: NumPy objects a weights-only load may meet in metadata (scalars, dtypes).
_SAFE_GLOBALS = [np._core.multiarray.scalar, np.dtype,
                 *(getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType"))]


def save_model_file(path: str | Path, family: str, state_dict: dict, **meta) -> Path:
    """Write a model file of ``family`` atomically (weights moved to the CPU)."""
    weights = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
    with storage.atomic_path(path) as tmp:
        torch.save({"model": family, "glassdyn_model_format": MODEL_FORMAT, "state_dict": weights, **meta}, tmp)
    return Path(path)


def load_torch_dict(path: str | Path) -> dict:
    """The dict in a torch file, loaded weights-only; StorageError naming the file otherwise."""
    path = Path(path)
    if not path.exists():
        raise StorageError(path, "file does not exist; rerun the rule that makes it")
    try:
        with torch.serialization.safe_globals(_SAFE_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated, corrupt or foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(path, f"not a readable glassdyn model file (truncated, corrupt or not torch: {first})") \
            from None
    if not isinstance(obj, dict):
        raise StorageError(path, f"not a glassdyn model file (a {type(obj).__name__}, not a dict)")
    return obj


def describe(obj: dict, path: Path) -> str:
    """What a torch dict is, in words (for errors): a family's model, a checkpoint, or unknown."""
    name = obj.get("model") if isinstance(obj.get("model"), str) else None
    if "optimizer" in obj:
        beside = path.parent / "model.pt"
        hint = f"use {beside}" if beside.exists() else "its rule writes model.pt beside it when it finishes"
        return f"a training checkpoint (resume state), not a trained model: {hint}"
    if name in FAMILIES:
        return f"a {name} model ({FAMILIES[name].description})"
    if is_user_network(obj):
        return f"a {name} model (user network {obj['hyperparameters']['network']})"
    if "decoder.fc1.weight" in obj and "state_dict" not in obj:
        return "a published BOTAN state dict (pyg_botan .pth): convert it with `glassdyn import-weights`"
    return f"not a glassdyn model file (keys {sorted(obj)[:6]})"


def is_user_network(obj: dict) -> bool:
    """True for the model file of a user's network (``hyperparameters`` name its ``network``, module:Class)."""
    return isinstance(obj.get("hyperparameters"), dict) and "network" in obj["hyperparameters"] \
        and obj.get("model") not in FAMILIES


def read_model_file(path: str | Path, families: Iterable[str], user_networks: bool = False) -> dict:
    """The model file at ``path`` if it is a model of one of ``families`` (or, with ``user_networks``, of a
    user's network); StorageError saying what it is otherwise."""
    path = Path(path)
    want = list(families)
    obj = load_torch_dict(path)
    name = obj.get("model") if isinstance(obj.get("model"), str) else None
    if (name not in want and not (user_networks and is_user_network(obj))) or "optimizer" in obj:
        kinds = sorted({FAMILIES[w].kind for w in want if w in FAMILIES})
        where = ", ".join(f"results/{MODEL_FILES[k]}" for k in kinds)
        raise StorageError(path, f"this is {describe(obj, path)}; a {' or '.join(want)} model is needed here "
                                 f"({where})")
    if "state_dict" not in obj:
        raise StorageError(path, "a model file without weights (missing key 'state_dict'); "
                                 "rerun the rule that makes it")
    return obj
