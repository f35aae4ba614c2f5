"""Published models' predictions scored with glassdyn's own evaluation (GlassBench test files).

GlassBench's test files (configurations 401–500) carry the predictions of the
models compared in the Roadmap on machine learning glassy liquids (BOTAN,
CAGE, GlassMLP, SE3) and of structural baselines (SBO, SBO_CG, DEN, EPOT,
PSI6). :func:`glassdyn.labels.imported.import_glassbench` stores them in the labels
file as ``published/<NAME>`` (n_t, N); rule ``published_scores`` scores each
as written (no refit, no sign change) against the label of
``source.published`` (default: the propensity) on the campaign's test
configurations, with :func:`glassdyn.physics.scoring.score_row` — the models' Pearson
code and A mask — into ``eval/published-<NAME>/T{T}/t{k}.csv``, so the report
shows ``published-SE3`` … rows beside the campaign's models.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.config.derived import source_settings
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS, SCORE_COLUMNS
from glassdyn.labels.ceiling import read_ceiling
from glassdyn.physics.scoring import score_row

log = logging.getLogger(__name__)
PREFIX = "published-"

#: What scoring the published predictions reads: τα(T) (the CSV's t/τα), the test split, which
#: predictions against which label (``source.published``; its default depends on ``source.kind``).
READS = reads("temperatures[T].tau_alpha", "configurations", "source.kind", "source.published")


def model_names(cfg: dict) -> list[str]:
    """Eval names of the published predictions scored by the campaign (none unless imported from GlassBench)."""
    src = source_settings(cfg)
    return [PREFIX + name for name in src["published"]] if src["kind"] == "glassbench" else []


def published_row(path: str | Path, k: int, name: str, target: str) -> dict:
    """The score columns of one published prediction on one test configuration's labels file."""
    names = ("types", "times", "edge_index", "edge_vectors", target)
    with storage.open_h5(path, required=names) as f:
        if f"published/{name}" not in f:
            raise storage.StorageError(path, f"no published prediction '{name}' (the GlassBench test files hold it); "
                                             f"remove {name} from source.published or import the test files again")
        pred = np.asarray(f[f"published/{name}"][k], dtype=np.float64)
        d = {n: f[n][()] for n in ("types", "times", "edge_index", "edge_vectors")}
        label = np.asarray(f[target][k], dtype=np.float64)
        c = int(f.attrs.get("c", -1))
    row = score_row(d["types"], d["edge_index"], d["edge_vectors"], label, pred, None, None, 0.0, target,
                    read_ceiling(path, k, target, edges=None))
    return {"c": c, "time": float(d["times"][k]), **row}


def published_rule(cfg: dict, T: str | float, k: int, label_files: list[str], output_dir: str | Path) -> list[Path]:
    """Rule ``published_scores``: ``{output_dir}/published-<NAME>/T{T}/t{k}.csv`` for every name of
    ``source.published``."""
    T_key, k = gcfg.temperature_key(float(T)), int(k)
    cfg = config_slice(cfg, READS, T=T_key)
    tau_alpha = float(gcfg.temperature(cfg, T_key)["tau_alpha"])
    test = set(gcfg.test_indices(cfg))
    out = []
    for name, target in source_settings(cfg)["published"].items():
        rows = []
        for path in label_files:
            r = published_row(path, k, name, target)
            if r["c"] not in test:
                raise storage.StorageError(path, f"configuration {r['c']} is not a test configuration")
            rows.append({"model": PREFIX + name, "T": float(T_key), "time_index": k, "tau_alpha": tau_alpha, **r})
        frame = pd.DataFrame(rows, columns=EVAL_COLUMNS + SCORE_COLUMNS)
        mean = frame["pearson_nodes"].mean() if len(frame) else math.nan
        log.info("%s%s T=%s t%d: mean Pearson %.4f over %d test configurations", PREFIX, name, T_key, k, mean,
                 len(frame))
        out.append(storage.write_csv(Path(output_dir) / f"{PREFIX}{name}" / f"T{T_key}" / f"t{k}.csv", frame))
    return out
