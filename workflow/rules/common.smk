# What every rule shares: the validated configuration, the glassdyn command, the step
# params (glassdyn.campaign.steps), the target lists (glassdyn.campaign.targets) and the
# scheduler resources (glassdyn.campaign.resources). Rules only wire; the package computes.
import os
import shlex
import sys

from glassdyn import baselines
from glassdyn import config as gcfg
from glassdyn.campaign import launchers, resources, steps, targets
from glassdyn.campaign.failures import failure_summary
from glassdyn.md import native
from glassdyn.md.checkpoint import segment_steps

# Validate once, before any job is scheduled: a bad value stops the run here with its key named.
try:
    gcfg.validate(config)
except gcfg.ConfigError as _exc:
    raise WorkflowError(f"invalid configuration (override files are merged over config.yaml): {_exc}")

R = config["results"]
TEMPS = gcfg.temperature_keys(config)
SOURCE = targets.source_kind(config)


def _glassdyn_command():
    """`glassdyn` of the job's environment with --software-deployment-method conda, else this Python's."""
    methods = str(getattr(getattr(workflow, "deployment_settings", None), "deployment_method", ""))
    return "glassdyn" if "conda" in methods.lower() else f"{shlex.quote(sys.executable)} -m glassdyn"


GD = _glassdyn_command()
ENVS = os.path.join(workflow.basedir, "envs")


def step_params(rule):
    """The --params of a rule: the configuration its step reads, at the job's wildcards (its rerun trigger)."""
    return lambda wildcards: steps.params(config, rule, wildcards)


# ---------------------------------------------------------------- scheduler resources and launchers
# Sizes come from the configuration (glassdyn.campaign.resources); profiles/slurm adds the site's
# partition/account. Resources are no rerun trigger: execution settings (ranks, threads, segment
# length, device) travel through them, so switching machines reruns nothing.
def on_slurm():
    return launchers.in_slurm(executor=getattr(workflow.executor_plugin, "name", None))


def md_resources(stage):
    par = config["parallel"]
    ranks, omp = resources.md_ranks(config, stage), par["omp_threads"]
    res = dict(
        tasks=ranks,
        cpus_per_task=omp,
        mpi_ranks=par["mpi_ranks"],
        omp_threads=omp,
        replica_groups=par.get("replica_groups", 1),
        segment_steps=segment_steps(config),
        runtime=lambda w: resources.md_runtime(config, w.T, stage),
        mem_mb=lambda w: resources.md_memory_mb(config, w.T, stage),
        launcher=lambda w: launchers.mpi_launcher(ranks, omp, on_slurm(), native.mpiexec()),
    )
    if ranks > 1:
        res["mpi"] = "srun"  # the plugin then runs the shell in the allocation; it calls srun itself
    return res


def train_resources():
    c, ranks = config["cluster"], config["training"]["ranks"]
    return resources.training_resources(config) | dict(
        runtime=resources.training_runtime(config),
        mem_mb=lambda w, attempt: resources.training_memory_mb(config, attempt),
        device=config["training"]["device"],
        launcher=lambda w: launchers.training_launcher(ranks, c["train_cpus_per_rank"], c["train_gpus_per_rank"],
                                                       on_slurm()),
    )


MD_RETRIES = resources.md_retries(config)
MD_THREADS = config["parallel"]["omp_threads"] * config["parallel"]["mpi_ranks"]
TRAIN_THREADS = config["training"]["ranks"] * config["cluster"]["train_cpus_per_rank"]
CHECKS = config["protocol"]["checks"]


onerror:
    # End a failed run with what failed for good, its cause and its logs (rule log, SLURM log).
    for _path in [log] if isinstance(log, str) else (log or []):
        if os.path.exists(_path):
            print(failure_summary(open(_path).read()), file=sys.stderr)


wildcard_constraints:
    T=r"\d+(\.\d+)?",
    c=r"\d{4}",
    k=r"\d+",
    model="|".join(targets.gnn_models(config)),
