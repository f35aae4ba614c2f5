"""Campaign configuration: loading, validation at the edge, derived quantities.

A configuration is the merge of ``config.yaml`` and any override files
(``config/laptop.yaml``...), validated once against the JSON schema in
``workflow/schemas/`` plus the cross-field rules below. Everything else in
glassdyn reads plain dictionaries that have passed :func:`validate`.
"""
from __future__ import annotations

import copy
import hashlib
import math
from pathlib import Path
from typing import Any, Iterable

import yaml

#: The repository root (where ``config.yaml`` and ``workflow/`` live).
ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "workflow" / "schemas"


class ConfigError(ValueError):
    """A configuration value is missing or out of range; ``key`` names it."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"config key '{key}': {message}")


# --------------------------------------------------------------------------- loading
def deep_merge(base: dict, override: dict) -> dict:
    """Recursive dict update, as Snakemake applies ``--configfile``/``--config``."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load(*paths: str | Path, overrides: dict | None = None, check: bool = True) -> dict:
    """Load and merge YAML files (later ones win), then validate."""
    cfg: dict = {}
    for p in paths:
        with open(p) as fh:
            cfg = deep_merge(cfg, yaml.safe_load(fh) or {})
    if overrides:
        cfg = deep_merge(cfg, overrides)
    if check:
        validate(cfg)
    return cfg


def schema() -> dict:
    """The main schema with the section schemas of later stages merged in."""
    with open(SCHEMA_DIR / "config.schema.yaml") as fh:
        main = yaml.safe_load(fh)
    for part in sorted((SCHEMA_DIR / "sections").glob("*.schema.yaml")):
        with open(part) as fh:
            frag = yaml.safe_load(fh)
        main["properties"].update(frag.get("properties", {}))
        main.setdefault("$defs", {}).update(frag.get("$defs", {}))
        main["required"] = list(dict.fromkeys(main.get("required", []) + frag.get("required", [])))
    return main


def _path(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    if error.validator == "additionalProperties" and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return ".".join(parts) or "<root>"


def validate(cfg: dict) -> dict:
    """Check ``cfg`` against the schema and the cross-field rules.

    Raises :class:`ConfigError` naming the first offending key (dotted path,
    list items by index, e.g. ``temperatures.0.T``).
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        e = errors[0]
        raise ConfigError(_path(e), e.message)
    _cross_checks(cfg)
    return cfg


def _cross_checks(cfg: dict) -> None:
    c = cfg["configurations"]
    if c["n_train"] >= c["n"]:
        raise ConfigError("configurations.n_train", f"{c['n_train']} leaves no test configuration (n = {c['n']})")
    n_val = validation_count(cfg)
    if c["n_train"] - n_val < 1:
        raise ConfigError("training.validation_fraction", "leaves no configuration to train on")
    seen = set()
    for i, t in enumerate(cfg["temperatures"]):
        key = temperature_key(t["T"])
        if key in seen:
            raise ConfigError(f"temperatures.{i}.T", f"temperature {key} listed twice")
        seen.add(key)
        times = t["times"]
        if list(times) != sorted(times) or len(set(times)) != len(times):
            raise ConfigError(f"temperatures.{i}.times", "sampling times must be strictly increasing")
        steps = sampling_steps(times, cfg["system"]["timestep"])
        if steps[0] < 1:
            raise ConfigError(f"temperatures.{i}.times", f"time {times[0]} is shorter than one timestep")
        if len(set(steps)) != len(steps):
            raise ConfigError(f"temperatures.{i}.times", "two sampling times round to the same MD step")
        run = cfg["protocol"]["run_tau_alpha"] * t["tau_alpha"]
        if times[-1] > run * (1 + 1e-9):
            raise ConfigError(
                f"temperatures.{i}.times",
                f"sampling time {times[-1]} is beyond the replica run "
                f"(protocol.run_tau_alpha * tau_alpha = {run:g})",
            )
    ti = cfg["training"]["time_indices"]
    if ti != "all":
        nmin = min(len(t["times"]) for t in cfg["temperatures"])
        bad = [k for k in ti if k >= nmin]
        if bad:
            raise ConfigError("training.time_indices", f"index {bad[0]} beyond the {nmin} sampling times")
    lab = cfg["labels"]
    if lab["bond_a_out"] < lab["bond_a_in"]:
        raise ConfigError("labels.bond_a_out", "must be >= labels.bond_a_in")
    half_box = 0.5 * box_length(cfg)
    for key, r in (("graph.cutoff", cfg["graph"]["cutoff"]), ("labels.edge_eval_cutoff", lab["edge_eval_cutoff"])):
        if r >= half_box:
            raise ConfigError(key, f"{r} must be below half the box ({half_box:.3f}) for the minimum image")
    models = cfg["models"]
    for name in models["enabled"]:
        if name in ("ntgnn", "botan") and name not in models:
            raise ConfigError(f"models.{name}", "enabled but has no settings section")
    pre = models.get("botan", {}).get("pretrain")
    if "botan" in models["enabled"] and pre and pre["epochs"] > 0:
        keys = [temperature_key(t["T"]) for t in cfg["temperatures"]]
        if temperature_key(pre["T"]) not in keys:
            raise ConfigError("models.botan.pretrain.T", f"{pre['T']} is not one of the campaign temperatures {keys}")
        t = cfg["temperatures"][keys.index(temperature_key(pre["T"]))]
        if pre["time_index"] >= len(t["times"]):
            raise ConfigError("models.botan.pretrain.time_index", f"beyond the {len(t['times'])} sampling times")
    sys = cfg["system"]
    if n_a(cfg) < 1 or sys["n_particles"] - n_a(cfg) < 1:
        raise ConfigError("system.fraction_a", "leaves a species without particles")
    from .datasets import check_source  # the source section's own rules (published data sets)

    check_source(cfg)
    _ogn_checks(cfg)
    from .cluster import check_cluster  # scheduler requests (the cluster section)

    check_cluster(cfg)


def _ogn_checks(cfg: dict) -> None:
    """Cross-field rules of the ``ogn`` section (learned simulator; SCIENCE.md §6)."""
    if "ogn" in cfg["models"]["enabled"] and "ogn" not in cfg:
        raise ConfigError("ogn", "'ogn' is in models.enabled but the ogn section is missing")
    if "ogn" not in cfg or "ogn" not in cfg["models"]["enabled"]:
        return  # the section of a disabled model is not used, so not held to its cross-field rules
    o = cfg["ogn"]
    for i, s in enumerate(o["sources"]):
        if s != "campaign" and s not in o["states"]:
            raise ConfigError(f"ogn.sources.{i}", f"'{s}' is neither a state in ogn.states nor 'campaign'")
    if o["graph_cutoff"] >= 0.5 * o["system"]["box_length"]:
        raise ConfigError("ogn.graph_cutoff", f"{o['graph_cutoff']} must be below half the OGN box "
                                              f"({0.5 * o['system']['box_length']:.4f})")
    if o["data"]["train"]["trajectories"] <= o["training"]["validation_trajectories"]:
        raise ConfigError("ogn.training.validation_trajectories", "leaves no OGN training trajectory")
    steps = o["rollout"]["steps"]
    if steps > o["data"]["test"]["steps"]:
        raise ConfigError("ogn.rollout.steps", f"{steps} is longer than the test trajectories (ogn.data.test.steps)")
    for name, v in o["variants"].items():
        if steps % v["k"]:
            raise ConfigError("ogn.rollout.steps", f"{steps} is not a multiple of k = {v['k']} of variant {name}")
        if v["k"] >= o["data"]["train"]["steps"]:
            raise ConfigError(f"ogn.variants.{name}.k", "needs training trajectories longer than k steps")
    if "campaign" in o["sources"]:
        c = o["campaign"]
        if o["graph_cutoff"] >= 0.5 * box_length(cfg):
            raise ConfigError("ogn.graph_cutoff", f"must be below half the campaign box ({0.5 * box_length(cfg):.4f})")
        if c["train_configurations"] > cfg["configurations"]["n_train"]:
            raise ConfigError("ogn.campaign.train_configurations", "more than configurations.n_train")
        if c["test_configurations"] > cfg["configurations"]["n"] - cfg["configurations"]["n_train"]:
            raise ConfigError("ogn.campaign.test_configurations", "more than the test configurations")
        if c["train_configurations"] <= o["training"]["validation_trajectories"]:
            raise ConfigError("ogn.campaign.train_configurations", "leaves no OGN training trajectory after validation")
        if steps > c["test_steps"]:
            raise ConfigError("ogn.campaign.test_steps", f"shorter than the rollout (ogn.rollout.steps = {steps})")


# --------------------------------------------------------------------------- derived
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
    """Configurations carved from the training set for validation (at least one)."""
    return max(1, int(math.floor(cfg["training"]["validation_fraction"] * cfg["configurations"]["n_train"] + 0.5)))


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
