"""checkpoint.pt of a training cell: written atomically, resumed only when made from the same inputs."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from glassdyn.io import storage
from glassdyn.io.provenance import differences, fingerprint

log = logging.getLogger(__name__)


CHECKPOINT = "checkpoint.pt"


# ----------------------------------------------------------------------------- checkpoints and outputs
def torch_save(obj, path: Path) -> Path:
    with storage.atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_checkpoint(path: Path, record: dict) -> dict | None:
    """The checkpoint at ``path`` if it exists, is readable and was made from ``record``'s inputs; else None.

    ``record`` is the cell's provenance (configuration slice, content of every
    input file, identity). A checkpoint of anything else is removed with a log
    line naming what differs: it is never resumed.
    """
    if not path.exists():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated file: start afresh rather than fail
        log.warning("%s is unreadable (%s): starting from scratch", path, exc)
        path.unlink(missing_ok=True)
        return None
    if ck.get("fingerprint") != fingerprint(record):
        changed = differences(ck.get("provenance"), record)
        log.warning("%s was made from other inputs (%s differ): discarded, starting from scratch", path,
                    ", ".join(changed[:8]) + (" …" if len(changed) > 8 else ""))
        path.unlink(missing_ok=True)
        return None
    return ck


def state_copy(net: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
