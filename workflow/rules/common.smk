# Shared helpers of the rules: config validation, paths, input functions.
import json
import os
import sys

from glassdyn.campaign import resources as gcluster
from glassdyn import config as gcfg
from glassdyn.md import runtime as gruntime

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
# Where labels come from: "md" (LAMMPS) or a published data set (workflow/rules/import.smk).
SOURCE = config.get("source", {}).get("kind", "md")


# ---------------------------------------------------------------- scheduler resources and launchers
# Sizes come from the configuration (glassdyn.cluster); profiles/slurm adds the
# site's partition/account. `{resources.launcher}` prefixes a multi-rank command:
# srun inside SLURM, the environment's mpiexec (MD) or nothing (training spawns
# its own ranks) elsewhere. Resources are no rerun trigger, so switching between
# a workstation and SLURM reruns nothing.
def on_slurm():
    return gcluster.in_slurm(executor=getattr(workflow.executor_plugin, "name", None))


def md_resources(stage):
    ranks, omp = gcluster.md_ranks(config, stage), config["parallel"]["omp_threads"]
    res = dict(
        tasks=ranks,
        cpus_per_task=omp,
        runtime=lambda w: gcluster.md_runtime(config, w.T, stage),
        mem_mb=lambda w: gcluster.md_memory_mb(config, w.T, stage),
        launcher=lambda w: gcluster.mpi_launcher(ranks, omp, on_slurm(), gruntime.mpiexec()),
    )
    if ranks > 1:
        res["mpi"] = "srun"  # the plugin then runs the shell in the allocation; it calls srun itself
    return res


def train_resources():
    c, ranks = config["cluster"], config["training"]["ranks"]
    return gcluster.training_resources(config) | dict(
        runtime=gcluster.training_runtime(config),
        mem_mb=lambda w, attempt: gcluster.training_memory_mb(config, attempt),
        launcher=lambda w: gcluster.training_launcher(ranks, c["train_cpus_per_rank"], c["train_gpus_per_rank"], on_slurm()),
    )


MD_RETRIES = gcluster.md_retries(config)
TRAIN_THREADS = config["training"]["ranks"] * config["cluster"]["train_cpus_per_rank"]


onerror:
    # End a failed run with what failed for good, its cause and its logs (rule log, SLURM log).
    for _path in [log] if isinstance(log, str) else (log or []):
        if os.path.exists(_path):
            print(gcluster.failure_summary(open(_path).read()), file=sys.stderr)


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


def evaluations_of(T, alone=False):
    """Eval CSVs at T. tGlassMLP (workflow/rules/tglassmlp.smk) learns from every temperature at
    once, so ``alone=True`` (one temperature run by itself) leaves it out."""
    out = [f"{R}/eval/{m}/T{T}/t{k}.csv" for m, _, k in gnn_cells(T)]
    if "tglassmlp" in config["models"]["enabled"] and not alone:
        out += [f"{R}/eval/tglassmlp/T{T}/t{k}.csv" for k in gcfg.time_indices(config, T)]
    return out


def dynamics_of(T):
    return [f"{R}/physics/T{T}/dynamics.csv"]


def temperature_targets(T):
    """Everything the campaign makes at one temperature."""
    return evaluations_of(T) + dynamics_of(T)


def md_targets():
    """Every configuration's MD files: a deleted one is remade on the next run (alone, with its dependants)."""
    if SOURCE != "md":
        return []
    return [f for T in TEMPS for f in replicas_of(T)]


def campaign_targets():
    out = [f"{R}/report/cells.csv"] + md_targets()
    if "ogn" in config["models"]["enabled"]:
        out += ogn_targets()  # workflow/rules/ogn.smk
    if "tglassmlp" in config["models"]["enabled"]:
        out += tglassmlp_targets()  # workflow/rules/tglassmlp.smk
    return out
