"""Reading the label reproducibility ceiling stored with the labels (``ceiling/*`` of labels.h5).

The ceiling itself is computed by :mod:`glassdyn.physics.ceiling` in the labels rule
(:mod:`glassdyn.labels.extract`); every evaluation reads it from here.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from glassdyn.io import storage
from glassdyn.physics.scoring import empty_moments


def read_ceiling(path: str | Path, time_index: int, nodes: str, edges: str | None = "pair_distance_change") -> dict:
    """The ceiling of one labels.h5 at ``time_index`` for the node label ``nodes`` and edge label ``edges``.

    Keys ``nodes``, ``nodes_moments``, ``edges``, ``edges_moments``; NaN (and
    empty moments) where the file has no ceiling (imported data without
    replicas, files written before the ceiling existed).
    """
    out = {"nodes": math.nan, "nodes_moments": empty_moments(),
           "edges": math.nan, "edges_moments": empty_moments()}
    with storage.open_h5(path) as f:
        for part, name in (("nodes", nodes), ("edges", edges)):
            if name is None or f"ceiling/{name}" not in f:
                continue
            try:
                out[part] = float(f[f"ceiling/{name}"][time_index])
                out[f"{part}_moments"] = np.asarray(f[f"ceiling/{name}_moments"][time_index], dtype=np.float64)
            except (OSError, RuntimeError, ValueError, IndexError) as exc:
                raise storage.StorageError(path, f"unreadable ceiling/{name} at time index {time_index} ({exc}); "
                                                 "delete the file and rerun its labels") from exc
    return out
