"""Quantities derived from a validated configuration: keys, box, splits, seeds, data sources."""
from __future__ import annotations

import hashlib
import math
from typing import Any, Iterable

from glassdyn.config.errors import ConfigError


def temperature_key(T: float) -> str:
    """Canonical text of a temperature, used in paths and wildcards: 0.44, 0.5 -> '0.50'."""
    return f"{float(T):.2f}" if round(float(T), 2) == float(T) else f"{float(T):g}"


def temperature(cfg: dict, key: str | float) -> dict:
    """The temperature entry whose key matches ``key`` (a wildcard or a number)."""
    k = temperature_key(float(key))
    for t in cfg["temperatures"]:
        if temperature_key(t["T"]) == k:
            return t
    raise ConfigError("temperatures", f"no temperature {key} in this campaign")


def temperature_keys(cfg: dict) -> list[str]:
    return [temperature_key(t["T"]) for t in cfg["temperatures"]]


def n_a(cfg: dict) -> int:
    """Number of A particles, N_A = round(fraction_a * N)."""
    s = cfg["system"]
    return int(round(s["fraction_a"] * s["n_particles"]))


def box_length(cfg: dict) -> float:
    """Cubic box edge L = (N / rho)^(1/3)."""
    s = cfg["system"]
    return (s["n_particles"] / s["density"]) ** (1.0 / 3.0)


def sampling_steps(times: Iterable[float], dt: float) -> list[int]:
    """MD steps of the sampling times: round(t / dt). The rounding is recorded by the caller."""
    return [int(round(t / dt)) for t in times]


def time_indices(cfg: dict, key: str) -> list[int]:
    """Sampling-time indices trained and evaluated at temperature ``key``."""
    n = len(temperature(cfg, key)["times"])
    ti = cfg["training"]["time_indices"]
    return list(range(n)) if ti == "all" else [k for k in ti if k < n]


def train_indices(cfg: dict) -> list[int]:
    return list(range(cfg["configurations"]["n_train"]))


def test_indices(cfg: dict) -> list[int]:
    return list(range(cfg["configurations"]["n_train"], cfg["configurations"]["n"]))


def validation_count(cfg: dict) -> int:
    """Configurations carved from the training set for validation (at least one; none when
    ``training.validation_fraction`` is 0: the last epoch is kept, as the published BOTAN code does)."""
    fraction = cfg["training"]["validation_fraction"]
    if fraction == 0:
        return 0
    return max(1, int(math.floor(fraction * cfg["configurations"]["n_train"] + 0.5)))


def split_train_validation(cfg: dict) -> tuple[list[int], list[int]]:
    """(fit, validation) configuration indices; the last training indices validate."""
    tr = train_indices(cfg)
    nv = validation_count(cfg)
    return tr[: len(tr) - nv], tr[len(tr) - nv :]


def derive_seed(*parts: Any, bits: int = 31) -> int:
    """A reproducible seed in [1, 2**bits) from (T, configuration, replica, stage...).

    Uses SHA-256 of the parts' text so a seed depends on nothing but its inputs.
    """
    text = "/".join(temperature_key(p) if isinstance(p, float) else str(p) for p in parts)
    h = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return 1 + h % ((1 << bits) - 1)


# --------------------------------------------------------------------------- published data sources
#: File names of the published data sets: {N} particles, {T} temperature key,
#: {i} their configuration number (1..400 train, 401..500 test), {k} time index.
SOURCE_PATTERNS = {
    "botan": "isoconfig_N{N}T{T}_{i}_tc{k:02d}.npz",
    "glassbench": "N{N}T{T}_{i}.npz",
}
#: GlassBench array names of the per-time labels (each (n_t, N)) -> labels.h5 names.
GLASSBENCH_KEYS = {"propensity": "md_prop", "bond_breaking": "bb_prop"}

#: GlassBench test files' published predictions -> the label each is scored against (Roadmap, Jung et al. 2023:
#: every method predicts the propensity md_prop; SBO, SBO_CG, DEN, EPOT, PSI6 are structural baselines).
GLASSBENCH_PUBLISHED = {name: "propensity" for name in
                        ("BOTAN", "CAGE", "GlassMLP", "SE3", "SBO", "SBO_CG", "DEN", "EPOT", "PSI6")}

SOURCE_DEFAULTS = {"kind": "md", "path": None, "pattern": None, "first_index": 1, "file_indices": None,
                   "time_files": None, "box_length": None, "glassbench_keys": GLASSBENCH_KEYS, "published": None}


def source_settings(cfg: dict) -> dict:
    """The ``source`` section with its defaults filled in (kind md when absent)."""
    out = dict(SOURCE_DEFAULTS)
    out.update({k: v for k, v in (cfg.get("source") or {}).items() if v is not None})
    if out["kind"] != "md" and out["pattern"] is None:
        out["pattern"] = SOURCE_PATTERNS[out["kind"]]
    if out["published"] is None:
        out["published"] = dict(GLASSBENCH_PUBLISHED) if out["kind"] == "glassbench" else {}
    return out


def file_number(cfg: dict, c: int) -> int:
    """The published configuration number of campaign configuration ``c``.

    ``source.file_indices[c]`` when given (e.g. the BOTAN sample: 1..10 train,
    401, 402 test), else ``source.first_index + c``.
    """
    src = source_settings(cfg)
    if src["file_indices"] is not None:
        return int(src["file_indices"][int(c)])
    return int(src["first_index"]) + int(c)


def time_files(cfg: dict, T: str | float) -> list[int]:
    """Published time index k of each campaign sampling time at T (``source.time_files`` or 0..n_t-1)."""
    n_t = len(temperature(cfg, T)["times"])
    ks = source_settings(cfg)["time_files"]
    return list(range(n_t)) if ks is None else [int(k) for k in ks]


def source_box_length(cfg: dict) -> float:
    """Box edge of imported files: ``source.box_length`` or (N / ρ)^(1/3)."""
    return float(source_settings(cfg)["box_length"] or box_length(cfg))
