"""Cross-field rules a JSON schema cannot say (run by :func:`glassdyn.config.validate`)."""
from __future__ import annotations

import difflib
from pathlib import Path

from glassdyn.config.derived import (
    box_length,
    n_a,
    sampling_steps,
    source_settings,
    temperature_key,
    validation_count,
)
from glassdyn.config.errors import ConfigError
from glassdyn.config.families import FAMILIES, user_families

#: Model families the campaign knows (``models.enabled`` items; each may have a ``models.<name>`` section).
MODEL_FAMILIES = tuple(FAMILIES)
#: Families trained per (T, t) cell by the interaction-network loop (need ``models.<name>``: p, epochs, lr, ...).
GNN_FAMILIES = tuple(n for n, f in FAMILIES.items() if f.kind == "gnn")


def cross_checks(cfg: dict) -> None:
    """Every cross-field rule, each raising :class:`ConfigError` with the key to change."""
    _check_splits(cfg)
    for i, t in enumerate(cfg["temperatures"]):
        _check_temperature(cfg, i, t)
    _check_unique_temperatures(cfg)
    _check_labels_and_graph(cfg)
    _check_models(cfg)
    _check_source(cfg)
    _check_ogn(cfg)
    _check_cluster(cfg)


def _check_splits(cfg: dict) -> None:
    c = cfg["configurations"]
    if c["n_train"] >= c["n"]:
        raise ConfigError("configurations.n_train", f"{c['n_train']} leaves no test configuration (n = {c['n']})")
    if c["n_train"] - validation_count(cfg) < 1:
        raise ConfigError("training.validation_fraction", "leaves no configuration to train on")
    if validation_count(cfg) == 0 and "tglassmlp" in cfg["models"]["enabled"]:
        raise ConfigError("training.validation_fraction", "0 (no validation set) is for the graph networks alone: "
                                                          "tglassmlp chooses its networks on validation configurations")
    if n_a(cfg) < 1 or cfg["system"]["n_particles"] - n_a(cfg) < 1:
        raise ConfigError("system.fraction_a", "leaves a species without particles")


def _check_unique_temperatures(cfg: dict) -> None:
    seen = set()
    for i, t in enumerate(cfg["temperatures"]):
        key = temperature_key(t["T"])
        if key in seen:
            raise ConfigError(f"temperatures.{i}.T", f"temperature {key} listed twice")
        seen.add(key)


def _check_temperature(cfg: dict, i: int, t: dict) -> None:
    """Sampling times: increasing, at least one step, distinct steps, inside the replica run."""
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
        raise ConfigError(f"temperatures.{i}.times", f"sampling time {times[-1]} is beyond the replica run "
                                                     f"(protocol.run_tau_alpha * tau_alpha = {run:g})")


def _check_labels_and_graph(cfg: dict) -> None:
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


def _check_models(cfg: dict) -> None:
    """Enabled models have settings; a section name that is no model is a typo; pretraining is in the campaign."""
    models = cfg["models"]
    users = user_families(cfg)
    for name in models:
        if name != "enabled" and name not in MODEL_FAMILIES and name not in models["enabled"] and name not in users:
            near = difflib.get_close_matches(name, MODEL_FAMILIES, n=1, cutoff=0.6)
            hint = f"did you mean '{near[0]}'?" if near else f"models are {', '.join(MODEL_FAMILIES)}"
            raise ConfigError(f"models.{name}", f"not a model of this campaign ({hint}; a network of your own "
                                                "needs `network: module:Class`)")
    for i, name in enumerate(models["enabled"]):
        if name not in MODEL_FAMILIES and name not in users:
            raise ConfigError(f"models.enabled.{i}", f"'{name}' is neither a built-in model "
                                                     f"({', '.join(MODEL_FAMILIES)}) nor a network of your own "
                                                     f"(a section models.{name} with `network: module:Class`)")
        if name in GNN_FAMILIES and name not in models:
            raise ConfigError(f"models.{name}", "enabled but has no settings section")
    for name in models:
        if name in MODEL_FAMILIES and isinstance(models[name], dict) and "network" in models[name]:
            raise ConfigError(f"models.{name}.network", "a network of your own needs a name of its own")
    pre = models.get("botan", {}).get("pretrain")
    if "botan" in models["enabled"] and isinstance(pre, str) and not Path(pre).is_file():
        raise ConfigError("models.botan.pretrain", f"weights file '{pre}' does not exist (relative paths are read "
                                                   "from the working directory)")
    if "botan" in models["enabled"] and isinstance(pre, dict) and pre["epochs"] > 0:
        keys = [temperature_key(t["T"]) for t in cfg["temperatures"]]
        if temperature_key(pre["T"]) not in keys:
            raise ConfigError("models.botan.pretrain.T", f"{pre['T']} is not one of the campaign temperatures {keys}")
        t = cfg["temperatures"][keys.index(temperature_key(pre["T"]))]
        if pre["time_index"] >= len(t["times"]):
            raise ConfigError("models.botan.pretrain.time_index", f"beyond the {len(t['times'])} sampling times")


def _check_source(cfg: dict) -> None:
    """The ``source`` section: published files need a folder, per-configuration and per-time tables fit."""
    src = source_settings(cfg)
    if src["kind"] == "md":
        return
    if not src["path"]:
        raise ConfigError("source.path", f"source.kind is {src['kind']}: say which folder holds the published files")
    n = cfg["configurations"]["n"]
    if src["file_indices"] is not None and len(src["file_indices"]) != n:
        raise ConfigError("source.file_indices", f"{len(src['file_indices'])} entries for configurations.n = {n}")
    if src["time_files"] is not None:
        for i, t in enumerate(cfg["temperatures"]):
            if len(src["time_files"]) != len(t["times"]):
                raise ConfigError("source.time_files", f"{len(src['time_files'])} entries but temperatures.{i} "
                                                       f"has {len(t['times'])} sampling times")
    if src["kind"] == "glassbench":
        edge_models = [m for m in cfg["models"]["enabled"]
                       if m in GNN_FAMILIES and cfg["models"].get(m, {}).get("p", 1.0) < 1.0]
        if edge_models:
            raise ConfigError("models.enabled", f"{edge_models} learn pair-distance changes, which GlassBench "
                                                "files do not provide; use node models only (ntgnn, p = 1) or "
                                                "source.kind botan")


def _check_ogn(cfg: dict) -> None:
    """The ``ogn`` section (learned simulator; SCIENCE.md §6), when OGN is enabled."""
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
        _check_ogn_campaign(cfg, o, steps)


def _check_ogn_campaign(cfg: dict, o: dict, steps: int) -> None:
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


def _check_cluster(cfg: dict) -> None:
    """Scheduler requests: a time limit that holds two MD restart segments."""
    c = cfg.get("cluster")
    if c is None:
        return
    if c["min_runtime"] > c["max_runtime"]:
        raise ConfigError("cluster.min_runtime", f"{c['min_runtime']} is above cluster.max_runtime")
    seg = cfg["protocol"]["segment_walltime"]
    if c["max_runtime"] * 60.0 < 2 * seg:
        raise ConfigError("cluster.max_runtime", f"{c['max_runtime']} min leaves no room for two MD restart "
                                                 f"segments of protocol.segment_walltime = {seg:g} s")
