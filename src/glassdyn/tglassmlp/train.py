"""tGlassMLP data, training, prediction and evaluation (Jung, Biroli, Berthier; SCIENCE.md §6).

One network predicts the bond-breaking propensity C_B^i(t) of every A
particle at every state point (T, c), where time enters through the mean
c = ⟨C̄_B(t)⟩ over A particles and configurations (:func:`state_table`), and
:func:`time_of_c` maps a c back to a time at one T (interpolation of log t
against c between the sampled times).

Training (:func:`train_member`) uses batches = the A particles of one
configuration at one state point; phase 1 minimises the MSE, phase 2 the
GlassMLP loss (:mod:`glassdyn.models.tglassmlp`), each with its own Adam and
the learning-rate schedule of ``tglassmlp.schedule``. The weights after the
last epoch are kept (no checkpoint is selected on any data); the validation
configurations are only scored. Members of an ensemble differ only in their
seed; their spread is the error bar.

Predictions at a state point use the self-consistent input of Appendix B:
starting from c_in = c, c_in ← c_in − damping · (X̄ − c) where X̄ is the mean
prediction over all A particles of the predicted set, so that the predicted
mean matches c (a few iterations; the configuration-to-configuration
fluctuations that χ4 measures are untouched).

Two-step training (equal-time networks, distillation to T < T_min) lives in
:mod:`glassdyn.transfer`; heterogeneity measures in :mod:`glassdyn.heterogeneity`.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.models import tglassmlp as net
from glassdyn.tglassmlp.data import (
    DescriptorCache,
    by_key,
    distilled_batches,
    fit_standardization,
    md_batches,
    read_bond_breaking,
    read_descriptors,
)
from glassdyn.tglassmlp.fitting import build_model, fit, loss_weights, save_member
from glassdyn.tglassmlp.states import variant_T_min

log = logging.getLogger("glassdyn.tglassmlp")


#: What one ensemble member reads: the network, losses and schedule, T_min and the self-consistency and
#: equal-time settings (distillation), the campaign's temperatures and the fit/validation split.
READS = reads("tglassmlp.network", "tglassmlp.loss", "tglassmlp.schedule", "tglassmlp.T_min",
              "tglassmlp.self_consistency", "tglassmlp.equal_time", "temperatures[*].T", "configurations.n_train",
              "training.validation_fraction")


def train_member(cfg: dict, variant: str, member: int, descriptor_files: list[str], label_files: list[str],
                 states_csv: str, output_dir: str | Path, distilled: str | None = None) -> Path:
    """Rule ``tglassmlp_train``: one ensemble member of ``variant`` on the training configurations.

    MD batches: training configurations at T ≥ T_min (fit part trains, the
    validation part is scored); distilled batches (``distilled``, from
    :mod:`glassdyn.transfer`) add predicted labels at T < T_min.
    """
    cfg = config_slice(cfg, READS)

    tg = cfg["tglassmlp"]
    torch.manual_seed(gcfg.derive_seed("tglassmlp", variant, member, "init"))
    T_min = float(variant_T_min(cfg, variant))
    states = pd.read_csv(states_csv)
    fit_idx, val_idx = gcfg.split_train_validation(cfg)
    desc_files = by_key(descriptor_files)
    structures = {k: read_descriptors(p) for k, p in desc_files.items()}
    md_keys = [k for k in structures if float(k[0]) >= T_min - 1e-9]
    labels = by_key(label_files)
    cb = {}
    for k in md_keys:
        if k not in labels:
            raise storage.StorageError(desc_files[k], f"no labels file given for T={k[0]} c={k[1]}")
        _, cb[k] = read_bond_breaking(labels[k], structures[k])
    fit_s = {k: structures[k] for k in md_keys if k[1] in fit_idx}
    val_s = {k: structures[k] for k in md_keys if k[1] in val_idx}
    st = fit_standardization(list(fit_s.values()))
    cache = DescriptorCache(st, tg["loss"])
    md_states = states[[float(T) >= T_min - 1e-9 for T in states["T"]]]
    train = md_batches(cache, fit_s, cb, md_states)
    validation = md_batches(cache, val_s, cb, md_states)
    n_distilled = 0
    if distilled:
        extra = distilled_batches(distilled, structures, cache, fit_idx)
        n_distilled = len(extra)
        train += extra
    model = build_model(st.mean.size, tg["network"])
    seed = gcfg.derive_seed("tglassmlp", variant, member, "shuffle")
    log.info("tglassmlp %s member %d: %d parameters, %d MD + %d distilled training batches, %d validation batches",
             variant, member, net.parameter_count(model), len(train) - n_distilled, n_distilled, len(validation))
    t0 = time.perf_counter()
    history = fit(model, train, validation, tg["schedule"], loss_weights(tg), seed)
    seconds = time.perf_counter() - t0
    meta = member_meta(cfg, variant, member, structures, st, states, T_min, seed)
    out = Path(output_dir)
    save_member(out / "model.pt", model, meta)
    storage.write_csv(out / "loss.csv", pd.DataFrame(history))
    last = history[-1]
    metrics = {"variant": variant, "member": member, "T_min": T_min, "parameters": net.parameter_count(model),
               "train_batches": len(train), "distilled_batches": n_distilled, "validation_batches": len(validation),
               "final_train_loss": last["train_loss"], "final_validation_loss": last["validation_loss"],
               "final_validation_pearson": last["validation_pearson"], "seconds": seconds,
               "epochs": len(history)}
    storage.write_json(out / "metrics.json", metrics)
    log.info("tglassmlp %s member %d: %d epochs in %.1f s, validation pearson %.3f", variant, member,
             len(history), seconds, last["validation_pearson"])
    return out / "model.pt"


def member_meta(cfg, variant, member, structures, st, states, T_min, seed) -> dict:
    any_file = next(iter(structures.values()))
    return {"variant": variant, "member": int(member), "n_descriptors": int(st.mean.size),
            "network": dict(cfg["tglassmlp"]["network"]), "descriptor_names": list(any_file.names),
            "column_lengths": np.asarray(any_file.column_lengths, dtype=np.float64).tolist(),
            "descriptor_mean": st.mean.tolist(), "descriptor_std": st.std.tolist(),
            "states": states.to_dict(orient="list"), "T_min": float(T_min), "seed": int(seed),
            "self_consistency": dict(cfg["tglassmlp"]["self_consistency"]),
            "n_particles": int(len(any_file.types))}


