"""Rule ``tglassmlp_states``: the state points (T, t, c = ⟨C̄_B(t)⟩) tGlassMLP is conditioned on."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.tglassmlp.data import group_by_temperature, mean_bond_breaking, states_of

log = logging.getLogger(__name__)


STATE_COLUMNS = ["T", "time_index", "time", "c", "c_std", "n_configurations"]


def state_table(cfg: dict, labels: list[str | Path]) -> pd.DataFrame:
    """c = ⟨C̄_B(t)⟩ at every (T, time index) from the labels files given (the training configurations)."""
    rows = []
    for T, files in sorted(group_by_temperature(labels).items(), key=lambda kv: float(kv[0])):
        cbs, types, times = [], [], None
        for c in sorted(files):
            data, _ = storage.read_h5(files[c], ["bond_breaking", "types", "times"])
            cbs.append(data["bond_breaking"].astype(np.float64))
            types.append(data["types"])
            times = data["times"]
        mean, std = mean_bond_breaking(cbs, types)
        for k in gcfg.time_indices(cfg, T):
            rows.append({"T": float(T), "time_index": k, "time": float(times[k]), "c": float(mean[k]),
                         "c_std": float(std[k]), "n_configurations": len(cbs)})
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


def time_of_c(states: pd.DataFrame, T: str | float, c) -> np.ndarray:
    """Time(s) at which ⟨C̄_B⟩ = c at temperature T: linear interpolation of log t against c.

    NaN outside the sampled range of c (no extrapolation).
    """
    rows = states_of(states, T)
    cs, ts = rows["c"].to_numpy(), rows["time"].to_numpy()
    order = np.argsort(cs)
    cq = np.atleast_1d(np.asarray(c, dtype=np.float64))
    out = np.exp(np.interp(cq, cs[order], np.log(ts[order]), left=np.nan, right=np.nan))
    return out


#: What the state table reads: the sampling times of every temperature and which of them are learned.
READS = reads("temperatures[*].times", "training.time_indices")


def states_rule(cfg: dict, labels: list[str], output: str | Path) -> Path:
    """Rule ``tglassmlp_states``: the (T, time index, time, c) table of the campaign."""
    cfg = config_slice(cfg, READS)
    table = state_table(cfg, labels)
    log.info("state points:\n%s", table.to_string(index=False))
    return storage.write_csv(output, table)


def variant_T_min(cfg: dict, variant: str) -> str:
    """Lowest temperature whose MD labels train ``variant``: 'main' → tglassmlp.T_min (null: lowest);
    'transfer' → the second-lowest campaign temperature (the lowest is held out)."""
    temps = sorted(float(t) for t in gcfg.temperature_keys(cfg))
    if variant == "transfer":
        if len(temps) < 2:
            raise ValueError("the transfer test needs at least two temperatures")
        return gcfg.temperature_key(temps[1])
    t_min = cfg["tglassmlp"]["T_min"]
    if t_min is not None and not any(T >= float(t_min) - 1e-9 for T in temps):
        raise gcfg.ConfigError("tglassmlp.T_min", f"{t_min} is above every campaign temperature {temps}: "
                                                  "no MD labels would train the final networks")
    return gcfg.temperature_key(temps[0] if t_min is None else float(t_min))
