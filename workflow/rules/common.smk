# Shared helpers of the rules: config validation, paths, input functions.
import json
import sys

from glassdyn import config as gcfg

# Validate once, before any job is scheduled: a bad value stops the run here
# with the offending key named.
try:
    gcfg.validate(config)
except gcfg.ConfigError as _exc:
    raise WorkflowError(f"invalid configuration: {_exc}")

R = config["results"]
# The glassdyn command, bound to the Python that runs Snakemake (works in any venv).
GD = f"{sys.executable} -m glassdyn"
TEMPS = gcfg.temperature_keys(config)
GNN_MODELS = [m for m in config["models"]["enabled"] if m in ("ntgnn", "botan")]


wildcard_constraints:
    T=r"\d+(\.\d+)?",
    c=r"\d{4}",
    k=r"\d+",
    model=r"ntgnn|botan",


def conf(c):
    """Folder name of configuration index c."""
    return f"{int(c):04d}"


def params_json(wildcards, *sections):
    """The configuration slice a rule depends on, as JSON (rerun trigger = its value).

    The `temperatures` list is narrowed to the wildcard's temperature, so a
    change at one temperature does not rerun the others.
    """
    out = {s: config[s] for s in sections if s != "temperatures"}
    if "temperatures" in sections or hasattr(wildcards, "T"):
        out["temperatures"] = [gcfg.temperature(config, wildcards.T)]
    return json.dumps(out, sort_keys=True)


def replicas_of(T):
    return [f"{R}/md/T{T}/c{conf(c)}/replicas.h5" for c in range(config["configurations"]["n"])]


def labels_of(T, indices):
    return [f"{R}/labels/T{T}/c{conf(c)}.h5" for c in indices]


def train_labels(wildcards):
    return labels_of(wildcards.T, gcfg.train_indices(config))


def test_labels(wildcards):
    return labels_of(wildcards.T, gcfg.test_indices(config))


def gnn_cells(T):
    """(model, T, k) training cells of the graph networks at temperature T."""
    return [(m, T, k) for m in GNN_MODELS for k in gcfg.time_indices(config, T)]


def evaluations_of(T):
    return [f"{R}/eval/{m}/T{T}/t{k}.csv" for m, _, k in gnn_cells(T)]


def dynamics_of(T):
    return [f"{R}/physics/T{T}/dynamics.csv"]


def temperature_targets(T):
    """Everything the campaign makes at one temperature."""
    return evaluations_of(T) + dynamics_of(T)


def campaign_targets():
    return [f"{R}/report/cells.csv"]
