"""Small real inputs for the graph-network tests: KA-like structures and labels.h5 files.

Positions are random at ρ = 1.2 (80:20 types); the R "replica" positions
move each particle by a Gaussian step whose size grows with its local free
volume (fewer neighbours within 1.2 → larger step) and its type, so the
labels depend on the structure and a network has something to learn. Labels
come from :func:`glassdyn.labels.labels_from_positions`, files from
:func:`glassdyn.storage.write_h5`: the same code paths as the campaign.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from glassdyn import config as gcfg
from glassdyn.io import storage
from glassdyn.labels.extract import labels_from_positions

ROOT = Path(__file__).resolve().parents[1]


def structure(n: int, seed: int, density: float = 1.2):
    rng = np.random.default_rng(seed)
    L = (n / density) ** (1 / 3)
    box = np.full(3, L)
    types = np.zeros(n, np.int8)
    types[rng.permutation(n)[: n // 5]] = 1
    return types, box, rng.random((n, 3)) * L


def replica_positions(types, box, x0, times, replicas: int, seed: int) -> np.ndarray:
    """(R, n_t, N, 3) unwrapped positions with structure-dependent mobility."""
    rng = np.random.default_rng(seed)
    tree = cKDTree(np.mod(x0, box), boxsize=box)
    crowd = np.array([len(v) for v in tree.query_ball_point(np.mod(x0, box), 1.2)], float)
    mobility = (0.05 + 0.3 * np.exp(-crowd / crowd.mean())) * (1.0 + 0.5 * types)
    out = np.empty((replicas, len(times), len(types), 3))
    for t, time in enumerate(times):
        scale = mobility * np.sqrt(time)
        out[:, t] = x0 + rng.standard_normal((replicas, len(types), 3)) * scale[None, :, None]
    return out


def small_config(n: int = 128, n_conf: int = 6, n_train: int = 4) -> dict:
    cfg = gcfg.load(ROOT / "config" / "laptop.yaml", check=False)
    cfg = copy.deepcopy(cfg)
    cfg["system"]["n_particles"] = n
    cfg["configurations"] = {"n": n_conf, "n_train": n_train}
    cfg["temperatures"] = [{"T": 0.64, "tau_alpha": 1.0, "times": [0.1, 1.0]}]
    cfg["network"].update(hidden=16, message_passing_steps=2)
    cfg["models"]["ntgnn"].update(epochs=2, graphs_per_step=2, lr=1e-3)
    cfg["models"]["botan"].update(epochs=2, graphs_per_step=1, lr=1e-3)
    cfg["models"]["botan"]["pretrain"] = {"T": 0.64, "time_index": 0, "epochs": 1}
    cfg["training"]["validation_fraction"] = 0.25
    cfg["training"]["device"] = "cpu"
    return gcfg.validate(cfg)


def write_labels(cfg: dict, folder: Path, configurations, replicas: int = 4) -> list[Path]:
    """labels/T{T}/c{c}.h5 files of ``configurations`` at the first temperature of ``cfg``."""
    t = cfg["temperatures"][0]
    key = gcfg.temperature_key(t["T"])
    out = []
    for c in configurations:
        types, box, x0 = structure(cfg["system"]["n_particles"], seed=1000 + c)
        pos = replica_positions(types, box, x0, t["times"], replicas, seed=2000 + c)
        lab = labels_from_positions(types, box, x0, pos, np.asarray(t["times"]), cfg)
        path = folder / f"labels/T{key}/c{c:04d}.h5"
        storage.write_h5(path, lab, {"T": float(t["T"]), "c": int(c), "cutoff": cfg["graph"]["cutoff"]})
        out.append(path)
    return out
