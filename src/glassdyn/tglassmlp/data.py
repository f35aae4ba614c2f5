"""tGlassMLP's data: descriptor files, bond-breaking labels, standardisation and training batches."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from glassdyn import config as gcfg
from glassdyn.io import storage
from glassdyn.models import tglassmlp as net
from glassdyn.physics import descriptors as desc


# =========================================================================== files and keys
def file_key(path: str | Path, attrs: dict | None = None) -> tuple[str, int]:
    """(temperature key, configuration index) of a per-configuration file.

    From the path convention ``.../T{T}/c{cccc}.h5`` or ``.../T{T}/c{cccc}/...``;
    the file attributes ``T``, ``c`` when the path does not follow it.
    """
    m = re.search(r"T(\d+(?:\.\d+)?)/c(\d{4})(?:\.h5|/)", str(path))
    if m:
        return gcfg.temperature_key(float(m.group(1))), int(m.group(2))
    if attrs and "T" in attrs and "c" in attrs and int(attrs["c"]) >= 0:
        return gcfg.temperature_key(float(attrs["T"])), int(attrs["c"])
    raise storage.StorageError(path, "cannot tell its temperature and configuration (expected .../T{T}/c{cccc}.h5)")


def group_by_temperature(paths) -> dict[str, dict[int, str]]:
    """{T key: {configuration: path}} of per-configuration files."""
    out: dict[str, dict[int, str]] = {}
    for p in paths:
        T, c = file_key(p)
        out.setdefault(T, {})[c] = str(p)
    return out


@dataclass
class Descriptors:
    """One configuration's descriptors (raw, not standardised) and IS geometry."""

    T: str
    c: int
    descriptors: np.ndarray   # (N, M)
    types: np.ndarray         # (N,)
    positions: np.ndarray     # (N, 3) inherent-structure positions
    box: np.ndarray           # (3,)
    column_lengths: np.ndarray | None = None   # (M,) coarse-graining length L of each descriptor
    names: list | None = None                  # (M,) descriptor names

    @property
    def a_mask(self) -> np.ndarray:
        return self.types == 0


def read_descriptors(path: str | Path) -> Descriptors:
    """A descriptors file (rule ``tglassmlp_descriptors``)."""
    data, attrs = storage.read_h5(path, ["descriptors", "types", "positions", "box", "lengths", "names"])
    T, c = file_key(path, attrs)
    return Descriptors(T, c, data["descriptors"].astype(np.float32), data["types"].astype(np.int64),
                     data["positions"], data["box"], data["lengths"],
                     [n.decode() if isinstance(n, bytes) else str(n) for n in data["names"]])


def read_bond_breaking(path: str | Path, structure: Descriptors | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times (n_t,), C_B (n_t, N)) of a labels file; checks it describes ``structure``'s particles."""
    data, _ = storage.read_h5(path, ["bond_breaking", "times", "types", "positions", "box"])
    if structure is not None:
        if not np.array_equal(data["types"].astype(np.int64), structure.types):
            raise storage.StorageError(path, f"particle types differ from the inherent structure of "
                                             f"T={structure.T} c={structure.c}")
        d = data["positions"] - structure.positions
        d -= structure.box * np.round(d / structure.box)
        if np.median(np.linalg.norm(d, axis=1)) > 0.5:
            raise storage.StorageError(path, "its t = 0 positions are not those the inherent structure came from "
                                             "(particle order or configuration mismatch)")
    return data["times"], data["bond_breaking"].astype(np.float64)


# =========================================================================== state points
def mean_bond_breaking(bond_breaking: list[np.ndarray], types: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(c, std over configurations) per sampling time: c = ⟨C̄_B(t)⟩, C̄_B = mean over A particles."""
    per_conf = np.array([cb[:, t == 0].mean(axis=1) for cb, t in zip(bond_breaking, types)])  # (n_conf, n_t)
    return per_conf.mean(axis=0), per_conf.std(axis=0)


# =========================================================================== batches
@dataclass
class Batch:
    """The A particles of one configuration at one state point."""

    x: torch.Tensor                     # (N_A, M) standardised descriptors
    y: torch.Tensor                     # (N_A,) target C_B
    T: float
    c: float                            # state-point c (network input)
    configuration: int
    time_index: int
    source: str                         # "md" or "distilled"
    pairs: list = field(default_factory=list)  # correlation-loss pairs [(i, j)] per radius

    @property
    def state(self) -> torch.Tensor:
        return net.state_features(self.T, self.c)


def correlation_pairs(positions: np.ndarray, box: np.ndarray, radii, max_pairs: int, seed: int) -> list:
    """For each R in ``radii``: pairs (i, j), i ≠ j, of the given particles with R_ij < R.

    All periodic images count (a pair can appear at several distances when R
    exceeds half the box). At most ``max_pairs`` per radius, drawn at random
    (seeded) without replacement.
    """
    radii = [float(r) for r in radii]
    if not radii:
        return []
    rng = np.random.default_rng(seed)
    ii, jj, rr = [], [], []
    for ch in desc.periodic_image_pairs(positions, box, max(radii)):
        ii.append(ch.i)
        jj.append(ch.j)
        rr.append(ch.r)
    i = np.concatenate(ii) if ii else np.zeros(0, np.int64)
    j = np.concatenate(jj) if jj else np.zeros(0, np.int64)
    r = np.concatenate(rr) if rr else np.zeros(0)
    out = []
    for R in radii:
        sel = np.flatnonzero(r < R)
        if len(sel) > max_pairs:
            sel = np.sort(rng.choice(sel, size=max_pairs, replace=False))
        out.append((torch.as_tensor(i[sel], dtype=torch.long), torch.as_tensor(j[sel], dtype=torch.long)))
    return out


@dataclass
class Standardization:
    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(desc.standardize(x, self.mean, self.std))


def fit_standardization(structures: list[Descriptors]) -> Standardization:
    """Per-descriptor mean and std over the A particles of ``structures`` (accumulated in float64
    structure by structure, about the first structure's mean for accuracy)."""
    if not structures:
        raise ValueError("no structures to standardise the descriptors on")
    shift = structures[0].descriptors[structures[0].a_mask].astype(np.float64).mean(axis=0)
    n, s1, s2 = 0, 0.0, 0.0
    for st in structures:
        d = st.descriptors[st.a_mask].astype(np.float64) - shift
        n += len(d)
        s1 = s1 + d.sum(axis=0)
        s2 = s2 + (d * d).sum(axis=0)
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))
    mean = mean + shift
    return Standardization(mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0))


def training_memory_bytes(cfg: dict, n_temperatures: int) -> float:
    """Estimated peak of a training job: torch plus raw (float32) and standardised A-particle
    descriptors of every training configuration, and the loss pairs."""
    tc = cfg["tglassmlp"]
    n = cfg["system"]["n_particles"]
    m = 4 * 3 * len(tc["descriptors"]["lengths"])
    configs = cfg["configurations"]["n_train"] * n_temperatures
    pairs = 16.0 * len(tc["loss"]["correlation_radii"]) * tc["loss"]["correlation_pairs"]
    return 1.0e9 + configs * (4.0 * n * m * 2 + pairs)


class DescriptorCache:
    """Standardised A-particle inputs and loss pairs of each structure, computed once."""

    def __init__(self, st: Standardization, loss_cfg: dict):
        self.st = st
        self.loss_cfg = loss_cfg
        self._x: dict = {}
        self._pairs: dict = {}

    def x(self, s: Descriptors) -> torch.Tensor:
        key = (s.T, s.c)
        if key not in self._x:
            self._x[key] = self.st.apply(s.descriptors[s.a_mask])
        return self._x[key]

    def pairs(self, s: Descriptors) -> list:
        key = (s.T, s.c)
        if key not in self._pairs:
            lc = self.loss_cfg
            self._pairs[key] = correlation_pairs(s.positions[s.a_mask], s.box, lc["correlation_radii"],
                                                 int(lc["correlation_pairs"]),
                                                 gcfg.derive_seed("tglassmlp", s.T, s.c, "pairs"))
        return self._pairs[key]


def md_batches(cache: DescriptorCache, structures: dict, bond_breaking: dict, states: pd.DataFrame,
               with_pairs: bool = True) -> list[Batch]:
    """Batches of MD labels: every structure × every state row of its temperature."""
    out = []
    for key, s in sorted(structures.items(), key=lambda kv: (float(kv[0][0]), kv[0][1])):
        cb = bond_breaking[key]
        for _, row in states_of(states, s.T).iterrows():
            k = int(row["time_index"])
            out.append(Batch(cache.x(s), torch.from_numpy(cb[k][s.a_mask].astype(np.float32)), float(s.T),
                             float(row["c"]), s.c, k, "md", cache.pairs(s) if with_pairs else []))
    return out


def by_key(paths) -> dict[tuple[str, int], str]:
    out = {}
    for p in paths:
        out[file_key(p)] = str(p)
    return out


def distilled_batches(path: str | Path, structures: dict, cache: DescriptorCache, fit_idx) -> list[Batch]:
    """Training batches from a distilled file, for the fit configurations whose structure is loaded."""
    data, _ = storage.read_h5(path, ["T", "c", "level", "configuration", "prediction"])
    out = []
    fit = set(fit_idx)
    for T, c, lvl, conf, y in zip(data["T"], data["c"], data["level"], data["configuration"], data["prediction"]):
        key = (gcfg.temperature_key(float(T)), int(conf))
        if int(conf) not in fit or key not in structures:
            continue
        s = structures[key]
        out.append(Batch(cache.x(s), torch.from_numpy(np.asarray(y, dtype=np.float32)), float(T), float(c),
                            int(conf), -1 - int(lvl), "distilled", cache.pairs(s)))
    return out


def states_of(states: pd.DataFrame, T: str | float) -> pd.DataFrame:
    """The rows of one temperature, by time index."""
    key = gcfg.temperature_key(float(T))
    sel = states[[gcfg.temperature_key(float(x)) == key for x in states["T"]]]
    return sel.sort_values("time_index").reset_index(drop=True)
