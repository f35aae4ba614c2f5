"""Two-step training of tGlassMLP and the transferability test (Jung, Biroli, Berthier §II.5, App. B).

Step 1, "equal-time" networks. The levels are the state points of the
lowest trained temperature T_min: level ℓ has c_ℓ = ⟨C̄_B(t_k)⟩ at T_min for
each sampling time t_k. The network of level ℓ is trained on the training
configurations of every T ≥ T_min at the sampling time whose c is closest to
c_ℓ (within ``equal_time.c_tolerance``; its own c is the network input).
``equal_time.members`` differently seeded networks are trained per level.

Each one is then applied at every T < T_min (training configurations of T,
structures only — their MD labels are never read) at the input (T, c_ℓ) and
kept when the mean prediction over all their A particles satisfies
|X̄ − c_ℓ| < ``self_consistency.tolerance`` (10⁻⁴ in the paper). The mean of
the kept networks' predictions becomes the label of (T, c_ℓ) on those
configurations.

Step 2 (:func:`glassdyn.tglassmlp.train_member`): the final networks train on
the MD labels at T ≥ T_min plus these distilled labels.

The transferability test (:func:`transfer_rule`) holds the lowest campaign
temperature out (T_min = the second lowest) and compares, on the held-out
temperature's test configurations, that ensemble's Pearson correlation with
the one of the ensemble trained on all temperatures.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.models import tglassmlp as net
from glassdyn.physics.correlation import pearson
from glassdyn.tglassmlp.data import (
    DescriptorCache,
    by_key,
    fit_standardization,
    md_batches,
    read_bond_breaking,
    read_descriptors,
)
from glassdyn.tglassmlp.evaluate import ensemble_predict
from glassdyn.tglassmlp.fitting import build_model, fit, load_member, loss_weights
from glassdyn.tglassmlp.states import states_of, variant_T_min
from glassdyn.tglassmlp.train import READS as TRAIN_READS

log = logging.getLogger("glassdyn.transfer")

TRANSFER_COLUMNS = ["T", "time_index", "time", "c", "pearson_transfer", "pearson_transfer_std",
                    "pearson_direct", "pearson_direct_std", "n_test", "T_min_transfer"]


def equal_time_levels(states: pd.DataFrame, T_min: str, tolerance: float) -> list[dict]:
    """Levels {'level', 'c', 'cells': [(T key, time index, c)]} of the equal-time networks.

    One level per sampling time at T_min; for each T ≥ T_min the time index
    whose c is nearest to the level's, if within ``tolerance``.
    """
    T_min_f = float(T_min)
    temps = sorted({gcfg.temperature_key(float(T)) for T in states["T"] if float(T) >= T_min_f - 1e-9}, key=float)
    ref = states_of(states, T_min)
    levels = []
    for lvl, row in ref.iterrows():
        cells = []
        for T in temps:
            rows = states_of(states, T)
            d = np.abs(rows["c"].to_numpy() - row["c"])
            best = int(np.argmin(d))
            if d[best] <= tolerance:
                cells.append((T, int(rows["time_index"].iloc[best]), float(rows["c"].iloc[best])))
        levels.append({"level": int(lvl), "c": float(row["c"]), "cells": cells})
    return levels


#: What distillation reads: the same as a member (:data:`glassdyn.tglassmlp.train.READS`).
DISTILL_READS = TRAIN_READS


def distill_rule(cfg: dict, variant: str, descriptor_files: list[str], label_files: list[str], states_csv: str,
                 output: str | Path) -> Path:
    """Rule ``tglassmlp_distill``: equal-time networks, self-consistency filter, distilled labels at T < T_min.

    ``descriptor_files``: training configurations at every temperature;
    ``label_files``: training configurations at T ≥ T_min only.
    """
    cfg = config_slice(cfg, DISTILL_READS)
    cfgt = cfg["tglassmlp"]
    T_min = variant_T_min(cfg, variant)
    states = pd.read_csv(states_csv)
    fit_idx, val_idx = gcfg.split_train_validation(cfg)
    structures = {k: read_descriptors(p) for k, p in by_key(descriptor_files).items()}
    labels = by_key(label_files)
    high = {k: s for k, s in structures.items() if float(k[0]) >= float(T_min) - 1e-9}
    low = {k: s for k, s in structures.items() if float(k[0]) < float(T_min) - 1e-9}
    cb = {k: read_bond_breaking(labels[k], high[k])[1] for k in high}
    fit_s = {k: s for k, s in high.items() if k[1] in fit_idx}
    val_s = {k: s for k, s in high.items() if k[1] in val_idx}
    st = fit_standardization(list(fit_s.values()))
    cache = DescriptorCache(st, cfgt["loss"])
    et = cfgt["equal_time"]
    tol = float(cfgt["self_consistency"]["tolerance"])
    levels = equal_time_levels(states, T_min, float(et["c_tolerance"]))
    low_T = sorted({k[0] for k in low}, key=float)
    network_rows, entries = [], []
    for lvl in levels:
        if not lvl["cells"]:
            continue
        cell_states = pd.DataFrame([{"T": float(T), "time_index": k, "time": float("nan"), "c": c, "c_std": 0.0,
                                     "n_configurations": 0} for T, k, c in lvl["cells"]])
        train = md_batches(cache, fit_s, cb, cell_states)
        validation = md_batches(cache, val_s, cb, cell_states)
        kept_preds: dict[str, list[np.ndarray]] = {T: [] for T in low_T}
        for m in range(int(et["members"])):
            torch.manual_seed(gcfg.derive_seed("tglassmlp", variant, "equal_time", lvl["level"], m, "init"))
            model = build_model(st.mean.size, cfgt["network"])
            hist = fit(model, train, validation, cfgt["schedule"], loss_weights(cfgt),
                          gcfg.derive_seed("tglassmlp", variant, "equal_time", lvl["level"], m, "shuffle"))
            model.eval()
            for T in low_T:
                keys = sorted(k for k in low if k[0] == T)
                with torch.no_grad():
                    preds = np.stack([model(cache.x(low[k]), net.state_features(float(T), lvl["c"])).numpy()
                                      for k in keys])
                dev = abs(float(preds.mean()) - lvl["c"])
                kept = dev < tol
                network_rows.append({"level": lvl["level"], "c": lvl["c"], "member": m, "T": float(T),
                                     "mean_prediction": float(preds.mean()), "deviation": dev, "kept": bool(kept),
                                     "validation_pearson": hist[-1]["validation_pearson"],
                                     "cells": ";".join(f"{a}:{b}" for a, b, _ in lvl["cells"])})
                log.info("equal-time level %d (c=%.3f) member %d at T=%s: mean prediction %.5f, |dev| %.2e -> %s",
                         lvl["level"], lvl["c"], m, T, preds.mean(), dev, "kept" if kept else "dropped")
                if kept:
                    kept_preds[T].append(preds)
        for T in low_T:
            if kept_preds[T]:
                keys = sorted(k for k in low if k[0] == T)
                mean = np.mean(kept_preds[T], axis=0)
                for i, k in enumerate(keys):
                    entries.append((float(T), lvl["c"], lvl["level"], k[1], mean[i]))
    n_a = int(next(iter(structures.values())).a_mask.sum())
    data = {
        "T": np.array([e[0] for e in entries], dtype=np.float64),
        "c": np.array([e[1] for e in entries], dtype=np.float64),
        "level": np.array([e[2] for e in entries], dtype=np.int64),
        "configuration": np.array([e[3] for e in entries], dtype=np.int64),
        "prediction": (np.stack([e[4] for e in entries]) if entries else np.zeros((0, n_a))).astype(np.float32),
    }
    nets = pd.DataFrame(network_rows)
    storage.write_csv(Path(output).with_suffix(".csv"), nets)
    log.info("distilled %d (T, c, configuration) labels from %d of %d equal-time networks", len(entries),
             int(nets["kept"].sum()) if len(nets) else 0, len(nets))
    return storage.write_h5(output, data, attrs={"variant": variant, "T_min": float(T_min),
                                                 "networks": nets.to_dict(orient="list")})


def ensemble_pearson(members, structs, cbs, T: float, c: float, k: int, sc: dict) -> tuple[float, float]:
    """(mean over configurations of the ensemble-mean Pearson, std over members of their mean Pearson)."""
    pred, _ = ensemble_predict(members, structs, T, c, sc)
    truth = [cb[k][s.a_mask] for cb, s in zip(cbs, structs)]
    ens = np.mean([pearson(pred.mean(axis=0)[i], truth[i]) for i in range(len(structs))])
    per_member = [np.mean([pearson(pred[m, i], truth[i]) for i in range(len(structs))]) for m in range(len(pred))]
    return float(ens), float(np.std(per_member)) if len(per_member) > 1 else float("nan")


#: What the transferability test reads: the temperatures (which is held out), the test split and the
#: self-consistent prediction.
TRANSFER_READS = reads("temperatures[*].tau_alpha", "configurations", "tglassmlp.self_consistency",
                       "tglassmlp.T_min")


def transfer_rule(cfg: dict, transfer_models: list[str], direct_models: list[str], descriptor_files: list[str],
                  label_files: list[str], states_csv: str, output_csv: str | Path, output_png: str | Path) -> Path:
    """Rule ``tglassmlp_transfer``: held-out-temperature Pearson, transferred vs directly trained."""
    cfg = config_slice(cfg, TRANSFER_READS)
    temps = sorted(gcfg.temperature_keys(cfg), key=float)
    T_out = temps[0]
    T_min = variant_T_min(cfg, "transfer")
    states = states_of(pd.read_csv(states_csv), T_out)
    tm = [load_member(p) for p in transfer_models]
    dm = [load_member(p) for p in direct_models]
    test = set(gcfg.test_indices(cfg))
    structures = {k: read_descriptors(p) for k, p in by_key(descriptor_files).items()
                  if k[0] == T_out and k[1] in test}
    labels = by_key(label_files)
    keys = sorted(structures, key=lambda k: k[1])
    structs = [structures[k] for k in keys]
    cbs = [read_bond_breaking(labels[k], structures[k])[1] for k in keys]
    sc = cfg["tglassmlp"]["self_consistency"]
    rows = []
    for _, row in states.iterrows():
        k = int(row["time_index"])
        rt, rt_s = ensemble_pearson(tm, structs, cbs, float(T_out), float(row["c"]), k, sc)
        rd, rd_s = ensemble_pearson(dm, structs, cbs, float(T_out), float(row["c"]), k, sc)
        rows.append({"T": float(T_out), "time_index": k, "time": float(row["time"]), "c": float(row["c"]),
                     "pearson_transfer": rt, "pearson_transfer_std": rt_s, "pearson_direct": rd,
                     "pearson_direct_std": rd_s, "n_test": len(structs), "T_min_transfer": float(T_min)})
        log.info("T=%s t=%g: held-out Pearson %.3f (transferred from T >= %s) vs %.3f (trained on it)",
                 T_out, row["time"], rt, T_min, rd)
    frame = pd.DataFrame(rows, columns=TRANSFER_COLUMNS)
    storage.write_csv(output_csv, frame)
    _plot_transfer(frame, T_out, T_min, output_png)
    return Path(output_csv)


def _plot_transfer(frame: pd.DataFrame, T_out: str, T_min: str, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.errorbar(frame["time"], frame["pearson_direct"], yerr=frame["pearson_direct_std"].fillna(0), marker="o",
                label=f"trained with T = {T_out}")
    ax.errorbar(frame["time"], frame["pearson_transfer"], yerr=frame["pearson_transfer_std"].fillna(0), marker="s",
                ls="--", label=f"transferred from T ≥ {T_min}")
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("Pearson ρ (A particles)")
    ax.set_title(f"tGlassMLP at held-out T = {T_out}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with storage.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
