"""Rule ``baselines``: every active baseline fitted at one (T, time) and scored on the test configurations."""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.baselines.features import structure_features
from glassdyn.baselines.fit import Configuration, Linear, fit_baseline
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS, SCORE_COLUMNS
from glassdyn.labels.ceiling import read_ceiling
from glassdyn.physics.scoring import score_row

log = logging.getLogger(__name__)

FEATURES = ("neighbours", "density", "epot", "epot_is", "ridge")
NEEDS_TGLASSMLP = ("epot_is", "ridge")
SUFFIX = {"propensity": "", "bond_breaking": "-cb"}

#: What the baselines read: the potential and σ_αβ (E_i, first shells), the split and validation share,
#: τα(T) (the CSV's t/τα) and the baselines section. Whether epot_is and ridge run is decided by the
#: campaign (tGlassMLP on: :func:`settings`) and reaches the step as the files it is given.
READS = reads("system.epsilon", "system.sigma", "system.cutoff_factor", "system.mass", "labels.bond_a_in",
              "configurations", "training.validation_fraction", "temperatures[T].tau_alpha", "baselines")


def settings(cfg: dict) -> dict:
    """The ``baselines`` section; ``enabled`` without what needs tGlassMLP's files when it is off (and empty
    for a configuration slice without the section)."""
    out = dict(cfg.get("baselines") or {"enabled": [], "targets": []})
    tg_on = "tglassmlp" in cfg["models"]["enabled"]
    out["enabled"] = [b for b in out["enabled"] if tg_on or b not in NEEDS_TGLASSMLP]
    return out


def model_names(cfg: dict) -> list[str]:
    """Eval names of every active baseline: ``baseline-<feature>[-cb]``."""
    st = settings(cfg)
    return [f"baseline-{b}{SUFFIX[t]}" for t in st["targets"] for b in st["enabled"]]


def needs(cfg: dict, feature: str) -> bool:
    return feature in settings(cfg)["enabled"]


def active_features(enabled: list[str], inherent_files, descriptor_files) -> list[str]:
    """The features of ``enabled`` the step can compute: epot_is with inherent structures, ridge with descriptors."""
    given = {"epot_is": bool(inherent_files), "ridge": bool(descriptor_files)}
    skipped = [f for f in enabled if not given.get(f, True)]
    if skipped:
        log.info("baselines %s skipped: no %s given", skipped,
                 " and ".join(w for f, w in (("epot_is", "inherent structures"), ("ridge", "descriptors"))
                              if f in skipped))
    return [f for f in enabled if given.get(f, True)]


def _index(path: str | Path, attrs: dict) -> int:
    """Configuration index of a per-configuration file: attribute ``c``, else ``.../c{cccc}.h5``."""
    if int(attrs.get("c", -1)) >= 0:
        return int(attrs["c"])
    m = re.search(r"c(\d{4})\.h5$", str(path))
    if not m:
        raise storage.StorageError(path, "cannot tell its configuration index (no attribute c, no c{cccc}.h5 name)")
    return int(m.group(1))


def read_configuration(path: str | Path, k: int, targets: list[str]) -> Configuration:
    """The t = 0 structure, graph and the labels ``targets`` at time index ``k`` of one labels.h5."""
    names = ("types", "box", "positions", "times", "edge_index", "edge_vectors")
    with storage.open_h5(path, required=names + tuple(targets)) as f:
        if not 0 <= k < f["times"].shape[0]:
            raise storage.StorageError(path, f"time index {k} outside its {f['times'].shape[0]} sampling times")
        data = {n: f[n][()] for n in names}
        labels = {t: np.asarray(f[t][k], dtype=np.float64) for t in targets}
        attrs = dict(f.attrs)
    data["T"] = float(attrs.get("T", math.nan))
    return Configuration(_index(path, attrs), data, labels)


def _by_index(paths) -> dict[int, str]:
    out = {}
    for p in paths or []:
        with storage.open_h5(p) as f:
            out[_index(p, dict(f.attrs))] = str(p)
    return out


def _attach_features(cfg: dict, enabled: list[str], confs: list[Configuration], inherent_files,
                     descriptor_files) -> None:
    inherent, descr = _by_index(inherent_files), _by_index(descriptor_files)
    for cf in confs:
        inh = des = None
        if "epot_is" in enabled:
            if cf.c not in inherent:
                raise storage.StorageError(f"inherent/c{cf.c:04d}.h5", "no inherent structure given for epot_is")
            inh = storage.read_h5(inherent[cf.c], ["energy", "types"])[0]
            if not np.array_equal(inh["types"], cf.data["types"]):
                raise storage.StorageError(inherent[cf.c], f"particle types differ from configuration {cf.c}'s labels")
        if "ridge" in enabled:
            if cf.c not in descr:
                raise storage.StorageError(f"descriptors/c{cf.c:04d}.h5", "no descriptors given for the ridge baseline")
            des = storage.read_h5(descr[cf.c], ["descriptors"])[0]["descriptors"]
        cf.features = structure_features(enabled, cfg, cf.data, inh, des)
        if "ridge" in cf.features:
            cf.features["ridge"] = cf.features["ridge"].astype(np.float32)   # the largest array held per configuration
        for k in ("positions", "edge_index", "edge_vectors"):   # not needed once the features exist
            cf.data.pop(k, None)


def eval_rows(name: str, T_key: str, k: int, tau_alpha: float, model: Linear, feature: str, target: str,
              test: list[Configuration], label_files: dict[int, str]) -> pd.DataFrame:
    """The eval CSV of one baseline: one row per test configuration, scored like the models."""
    rows = []
    for cf in test:
        d = cf.data
        score = score_row(d["types"], None, None, cf.labels[target], model(cf.features[feature]), None, None,
                          0.0, target, read_ceiling(label_files[cf.c], k, target, edges=None))
        rows.append({"model": name, "T": float(T_key), "time_index": k, "time": float(d["times"][k]),
                     "tau_alpha": tau_alpha, "c": cf.c, **score})
    return pd.DataFrame(rows, columns=EVAL_COLUMNS + SCORE_COLUMNS)


def baselines_rule(cfg: dict, T: str | float, k: int, label_files: list[str], inherent_files: list[str],
                   descriptor_files: list[str], output_dir: str | Path) -> list[Path]:
    """Rule ``baselines``: fit every active baseline at (T, time index k) and write
    ``{output_dir}/baseline-<name>/T{T}/t{k}.csv`` for each (the common eval layout)."""
    T_key, k = gcfg.temperature_key(float(T)), int(k)
    cfg = config_slice(cfg, READS, T=T_key)
    st = cfg["baselines"]
    enabled = active_features(st["enabled"], inherent_files, descriptor_files)
    tau_alpha = float(gcfg.temperature(cfg, T_key)["tau_alpha"])
    fit_idx, val_idx = gcfg.split_train_validation(cfg)
    test_idx = set(gcfg.test_indices(cfg))
    files = _by_index(label_files)
    confs = [read_configuration(files[c], k, st["targets"]) for c in sorted(files)]
    for cf in confs:
        if gcfg.temperature_key(cf.data["T"]) != T_key:
            raise storage.StorageError(files[cf.c], f"labels at T = {cf.data['T']}, the cell is at T = {T_key}")
    _attach_features(cfg, enabled, confs, inherent_files, descriptor_files)
    fit = [cf for cf in confs if cf.c in fit_idx]
    validation = [cf for cf in confs if cf.c in val_idx]
    test = [cf for cf in confs if cf.c in test_idx]
    if not fit or not test:
        raise ValueError(f"baselines at T = {T_key}: {len(fit)} fit and {len(test)} test configurations among "
                         f"the labels given; both are needed")
    out = []
    for target in st["targets"]:
        for feature in enabled:
            name = f"baseline-{feature}{SUFFIX[target]}"
            model, _ = fit_baseline(feature, target, fit, validation, st["ridge_alphas"], float(st["alpha"]))
            frame = eval_rows(name, T_key, k, tau_alpha, model, feature, target, test, files)
            log.info("%s T=%s t%d: mean Pearson %.4f over %d test configurations", name, T_key, k,
                     frame["pearson_nodes"].mean(), len(frame))
            out.append(storage.write_csv(Path(output_dir) / name / f"T{T_key}" / f"t{k}.csv", frame))
    return out
