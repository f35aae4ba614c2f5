"""TODO docstring"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from torch import nn

from glassdyn.io import storage

log = logging.getLogger(__name__)


CHECKPOINT = "checkpoint.pt"


# ----------------------------------------------------------------------------- checkpoints and outputs
def torch_save(obj, path: Path) -> Path:
    with storage.atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def fingerprint(settings: dict) -> str:
    """SHA-256 of the settings that make a checkpoint resumable (JSON, sorted keys)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def load_checkpoint(path: Path, fp: str) -> dict | None:
    """The checkpoint at ``path`` if it exists, is readable and belongs to the same settings; else None."""
    if not path.exists():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated file: start afresh rather than fail
        log.warning("%s is unreadable (%s): starting from scratch", path, exc)
        return None
    if ck.get("fingerprint") != fp:
        log.warning("%s belongs to other settings: starting from scratch", path)
        return None
    return ck


def state_copy(net: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
