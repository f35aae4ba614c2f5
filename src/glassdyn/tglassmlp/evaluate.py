"""Rule ``tglassmlp_evaluate``: the ensemble's Pearson over A particles at one (T, t), in the common eval layout."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS, SCORE_COLUMNS
from glassdyn.labels.ceiling import read_ceiling
from glassdyn.models import tglassmlp as net
from glassdyn.physics.correlation import pearson
from glassdyn.physics.scoring import score_row
from glassdyn.tglassmlp.data import Descriptors, by_key, read_bond_breaking, read_descriptors
from glassdyn.tglassmlp.fitting import MODEL_NAME, load_member, predict, standardization_of
from glassdyn.tglassmlp.states import states_of

log = logging.getLogger(__name__)


# =========================================================================== evaluation
def ensemble_predict(members: list[tuple[net.TGlassMLP, dict]], structures: list[Descriptors], T: float, c: float,
                     sc: dict) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (n_members, n_structures, N_A), c_in (n_members,)) at (T, c)."""
    preds, cins = [], []
    for model, meta in members:
        st = standardization_of(meta)
        xs = [st.apply(s.descriptors[s.a_mask]) for s in structures]
        p, c_in = predict(model, xs, T, c, sc)
        preds.append(np.stack(p))
        cins.append(c_in)
    return np.stack(preds), np.array(cins)


def _score(s: Descriptors, prediction: np.ndarray, truth: np.ndarray, label_file: str, k: int) -> dict:
    """The common score columns (:func:`glassdyn.physics.scoring.score_row`) of one configuration: the
    A-particle prediction and C_B scattered back to all N particles, the C_B ceiling of its labels file."""
    full_pred, full_true = np.full(len(s.types), np.nan), np.full(len(s.types), np.nan)
    full_pred[s.a_mask], full_true[s.a_mask] = prediction, truth
    return score_row(s.types, None, None, full_true, full_pred, None, None, 0.0, "bond_breaking",
                     read_ceiling(label_file, k, "bond_breaking", edges=None))


#: What the ensemble evaluation at (T, t) reads: τα(T) (the CSV's t/τα), the test split and the
#: self-consistent prediction.
READS = reads("temperatures[T].tau_alpha", "configurations", "tglassmlp.self_consistency")


def evaluate_rule(cfg: dict, T: str, k: int, model_files: list[str], descriptor_files: list[str],
                  label_files: list[str], output: str | Path, predictions: str | Path, states_csv: str) -> Path:
    """Rule ``tglassmlp_evaluate``: the eval CSV of (T, time index k) and the predictions file.

    Pearson over the A particles of each test configuration between the
    ensemble-mean prediction and C_B. The predictions file holds every
    member's prediction on every configuration given (test, plus training
    ones when ``analysis.chi4_set`` is 'all') for the analyses.
    """
    cfg = config_slice(cfg, READS, T=T)
    T_key = gcfg.temperature_key(float(T))
    k = int(k)
    tau_alpha = float(gcfg.temperature(cfg, T_key)["tau_alpha"])
    test = set(gcfg.test_indices(cfg))
    rows_k = states_of(pd.read_csv(states_csv), T_key)
    rows_k = rows_k[rows_k["time_index"] == k]
    if len(rows_k) != 1:
        raise ValueError(f"no state point (T={T_key}, time index {k}) in {states_csv}")
    row = rows_k.iloc[0]
    members = [load_member(p) for p in model_files]
    structures = {key: read_descriptors(p) for key, p in by_key(descriptor_files).items() if key[0] == T_key}
    labels = by_key(label_files)
    keys = sorted(structures, key=lambda key: key[1])
    structs = [structures[key] for key in keys]
    truth = np.stack([read_bond_breaking(labels[key], structures[key])[1][k][structures[key].a_mask] for key in keys])
    pred, c_in = ensemble_predict(members, structs, float(T_key), float(row["c"]), cfg["tglassmlp"]["self_consistency"])
    mean_pred = pred.mean(axis=0)
    member_r = np.array([[pearson(pred[m, i], truth[i]) for i in range(len(keys))] for m in range(len(members))])
    rows = [{"model": MODEL_NAME, "T": float(T_key), "time_index": k, "time": float(row["time"]),
             "tau_alpha": tau_alpha, "c": key[1], **_score(structures[key], mean_pred[i], truth[i], labels[key], k)}
            for i, key in enumerate(keys) if key[1] in test]
    frame = pd.DataFrame(rows, columns=EVAL_COLUMNS + SCORE_COLUMNS)
    log.info("tglassmlp T=%s t=%g (c=%.3f, c_in=%s): mean Pearson over %d test configurations %.4f", T_key,
             row["time"], row["c"], np.round(c_in, 4).tolist(), len(frame), frame["pearson_nodes"].mean())
    storage.write_h5(predictions, {
        "prediction": pred.astype(np.float32), "bond_breaking": truth.astype(np.float32), "c_input": c_in,
        "member_pearson": member_r, "configurations": np.array([key[1] for key in keys]),
        "test": np.array([key[1] in test for key in keys]),
    }, attrs={"T": float(T_key), "time_index": k, "time": float(row["time"]), "c": float(row["c"]),
              "tau_alpha": tau_alpha, "members": [str(p) for p in model_files]})
    return storage.write_csv(output, frame)
