"""How accuracy is judged (SCIENCE.md §7): Pearson correlations on the test configurations.

Per test configuration, ρ over the A particles (nodes, Ŝ_i against S_i) and
over the A–A pairs with |r_ij(0)| < ``labels.edge_eval_cutoff`` (edges, Ê_ij
against E_ij). The evaluation CSV has one row per test configuration with
columns ``model, T, time_index, time, tau_alpha, c, pearson_nodes,
pearson_edges`` (docs/architecture.md), then :data:`glassdyn.io.tables.SCORE_COLUMNS`
(label judged, its ceiling, the moments for the pooled Pearson); the log gives the averages.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.gnn.trained import load_trained, predict_graph
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS, SCORE_COLUMNS
from glassdyn.labels.ceiling import read_ceiling
from glassdyn.physics.scoring import score_row

log = logging.getLogger(__name__)


def read_test_configuration(path: str | Path, time_index: int) -> dict:
    """What evaluation needs from one labels.h5: structure, graph and the labels at ``time_index``."""
    with storage.open_h5(path, required=("types", "box", "positions", "times", "edge_index", "edge_vectors",
                                         "propensity")) as f:
        n_t = f["times"].shape[0]
        if not 0 <= time_index < n_t:
            raise storage.StorageError(path, f"time index {time_index} outside its {n_t} sampling times")
        try:
            out = {k: f[k][()] for k in ("types", "box", "positions", "times", "edge_index", "edge_vectors")}
            out["propensity"] = f["propensity"][time_index]
            out["pair_distance_change"] = f["pair_distance_change"][time_index] if "pair_distance_change" in f else None
        except (OSError, RuntimeError, ValueError) as exc:
            raise storage.StorageError(path, f"unreadable dataset ({exc}); delete the file and rerun") from exc
        out["T"] = float(f.attrs.get("T", float("nan")))
        out["c"] = int(f.attrs.get("c", -1))
    return out


#: What evaluation reads: the edge-judging cutoff, the test split, τα(T) (the CSV's t/τα).
READS = reads("labels.edge_eval_cutoff", "configurations", "temperatures[T].tau_alpha")


def evaluate_cell(cfg: dict, model_file: str | Path, label_paths: list[str | Path], output: str | Path) -> Path:
    """Rule ``evaluate``: Pearson of one trained cell on each test configuration → the eval CSV."""
    trained = load_trained(model_file)
    meta = trained.meta
    k = int(meta["time_index"])
    T_key = gcfg.temperature_key(float(meta["T"]))
    cfg = config_slice(cfg, READS, T=T_key)
    tau_alpha = float(gcfg.temperature(cfg, T_key)["tau_alpha"])
    cutoff = float(cfg["labels"]["edge_eval_cutoff"])
    test = set(gcfg.test_indices(cfg))
    rows = []
    for path in label_paths:
        d = read_test_configuration(path, k)
        if gcfg.temperature_key(d["T"]) != T_key:
            raise storage.StorageError(path, f"labels at T = {d['T']} but the model was trained at T = {T_key}")
        if d["c"] not in test:
            raise storage.StorageError(path, f"configuration {d['c']} is not a test configuration")
        pred = predict_graph(trained, d["types"], d["edge_index"], d["edge_vectors"])
        # the Pearson, plus the moments for pooling and the configuration's ceiling (glassdyn.physics.scoring)
        score = score_row(d["types"], d["edge_index"], d["edge_vectors"], d["propensity"], pred["nodes"],
                          d["pair_distance_change"], pred["edges"], cutoff, "propensity",
                          read_ceiling(path, k, "propensity"))
        rn, re = score["pearson_nodes"], score["pearson_edges"]
        rows.append({"model": meta["model"], "T": float(T_key), "time_index": k, "time": float(d["times"][k]),
                     "tau_alpha": tau_alpha, "c": d["c"], **score})
        log.info("%s c=%d: pearson nodes %.4f, edges %.4f", meta["model"], d["c"], rn, re)
    frame = pd.DataFrame(rows, columns=EVAL_COLUMNS + SCORE_COLUMNS)
    with np.errstate(all="ignore"):
        log.info("%s T=%s t=%s (index %d): mean over %d test configurations: nodes %.4f, edges %.4f",
                 meta["model"], T_key, frame["time"].iloc[0] if len(frame) else "?", k, len(frame),
                 np.nanmean(frame["pearson_nodes"]) if frame["pearson_nodes"].notna().any() else float("nan"),
                 np.nanmean(frame["pearson_edges"]) if frame["pearson_edges"].notna().any() else float("nan"))
    return storage.write_csv(output, frame)
