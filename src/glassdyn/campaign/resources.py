"""What each job asks a batch scheduler for, and how a job starts its ranks.

The rules (``workflow/rules/*.smk``) take their Snakemake ``resources`` from
here, so that SLURM requests follow the campaign configuration: MD jobs from
the number of atom-steps they run (``protocol.atom_steps_per_second`` per MPI
rank), label jobs from the arrays they hold, training jobs from
``training.ranks`` and the ``cluster`` section. ``profiles/slurm`` adds what
only a site knows (partition, account). The executor plugin maps
``runtime`` (minutes) → ``sbatch -t``, ``mem_mb`` → ``--mem``, ``tasks`` →
``--ntasks``, ``cpus_per_task``/``cpus_per_gpu``, ``gpu`` → ``--gpus``.

Multi-rank jobs start their ranks themselves (:mod:`glassdyn.campaign.launchers`;
the plugin runs the rule's shell inside the allocation when the rule has an
``mpi`` resource).
"""
from __future__ import annotations

import math

from glassdyn import config as cfgmod
from glassdyn.physics.protocol import equilibration_stages, sampling_plan
from glassdyn.tglassmlp.data import training_memory_bytes

MB = 1.0e6
#: Resident memory of one Python process with numpy/scipy/h5py/LAMMPS loaded (bytes).
PROCESS_BYTES = 400 * MB
#: Resident memory of one training process with torch and torch_geometric loaded (bytes).
TORCH_PROCESS_BYTES = 1000 * MB
#: Each DDP rank holds the training graphs plus about this many times their size
#: in activations, gradients and optimiser state (float32 throughout).
TRAINING_WORKSPACE_FACTOR = 4.0

MD_STAGES = ("equilibrate", "replicas")


# --------------------------------------------------------------------------- sizes
def mean_neighbours(cfg: dict, radius: float) -> float:
    """Mean number of neighbours within ``radius``: ρ · 4/3 π r³ (ρ = N / V, σ_AA⁻³)."""
    return cfg["system"]["density"] * 4.0 / 3.0 * math.pi * radius**3


def label_pairs(cfg: dict) -> int:
    """Ordered pairs E the label kernels hold: N × neighbours within the widest label/graph radius."""
    sig = max(cfg["system"]["sigma"].values())
    lab = cfg["labels"]
    radius = max(cfg["graph"]["cutoff"], lab["bond_a_out"] * sig, lab["relative_motion_cutoff"])
    return int(math.ceil(cfg["system"]["n_particles"] * mean_neighbours(cfg, radius)))


def md_ranks(cfg: dict, stage: str) -> int:
    """MPI ranks of one MD job: ``mpi_ranks`` (× ``replica_groups`` for the replicas)."""
    par = cfg["parallel"]
    groups = par.get("replica_groups", 1) if stage == "replicas" else 1
    return int(par["mpi_ranks"]) * int(groups)


def md_steps(cfg: dict, T: str | float, stage: str) -> int:
    """MD steps one job runs in total (all replicas for ``replicas``); minimisation not counted."""

    if stage not in MD_STAGES:
        raise ValueError(f"unknown MD stage {stage!r} (one of {MD_STAGES})")
    if stage == "equilibrate":
        return sum(s.stop - s.start for s in equilibration_stages(cfg, float(T)))
    return int(cfg["protocol"]["replicas"]) * int(sampling_plan(cfg, float(T)).steps[-1])


def md_seconds(cfg: dict, T: str | float, stage: str) -> float:
    """Estimated wall time (s) of one MD job: N · steps / (atom_steps_per_second · ranks)."""
    rate = cfg["protocol"]["atom_steps_per_second"] * md_ranks(cfg, stage)
    return cfg["system"]["n_particles"] * md_steps(cfg, T, stage) / rate


def runtime_minutes(cfg: dict, seconds: float) -> int:
    """SLURM time limit (min) for a job estimated at ``seconds``: margin × estimate within [min, max]."""
    c = cfg["cluster"]
    want = math.ceil(c["runtime_margin"] * seconds / 60.0)
    return int(min(c["max_runtime"], max(c["min_runtime"], want)))


def md_runtime(cfg: dict, T: str | float, stage: str) -> int:
    """Time limit (min) of one MD job; a job longer than ``cluster.max_runtime`` continues in retries."""
    return runtime_minutes(cfg, md_seconds(cfg, T, stage))


def md_attempts(cfg: dict, T: str | float, stage: str) -> int:
    """Jobs an MD run needs when each may last ``cluster.max_runtime``.

    A job killed at its time limit loses at most the segment in progress
    (``protocol.segment_walltime``); the next attempt resumes from the last
    checkpoint, so each job advances by max_runtime − segment_walltime.
    """
    c = cfg["cluster"]
    useful = c["max_runtime"] * 60.0 - cfg["protocol"]["segment_walltime"]
    need = c["runtime_margin"] * md_seconds(cfg, T, stage)
    return max(1, math.ceil(need / useful))


def md_retries(cfg: dict) -> int:
    """``retries`` of the MD rules: continuations of the longest run plus ``cluster.retries``."""
    longest = max(md_attempts(cfg, T, s) for T in cfgmod.temperature_keys(cfg) for s in MD_STAGES)
    return longest - 1 + int(cfg["cluster"]["retries"])


def memory_mb(cfg: dict, peak_bytes: float, attempt: int = 1) -> int:
    """Memory request (MB): margin × estimated peak, × attempt after a failure, at least min_memory_mb."""
    c = cfg["cluster"]
    return int(max(c["min_memory_mb"], math.ceil(c["memory_margin"] * peak_bytes / MB)) * max(1, attempt))


def md_memory_mb(cfg: dict, T: str | float, stage: str) -> int:
    """Memory of one MD job: one process per rank plus the replica positions rank 0 gathers
    (R · n_t · N · 3 float64)."""
    peak = md_ranks(cfg, stage) * PROCESS_BYTES
    if stage == "replicas":
        n_t = len(cfgmod.temperature(cfg, T)["times"])
        peak += 8.0 * cfg["protocol"]["replicas"] * n_t * cfg["system"]["n_particles"] * 3
    return memory_mb(cfg, peak)


def labels_memory_mb(cfg: dict, T: str | float, attempt: int = 1) -> int:
    """Memory of one label job, growing with the retry attempt.

    Holds the replica positions (R · n_t · N · 3 float64), per-replica pair
    work arrays (≈ 4 · R · E float64) and the labels (n_t · (2E + 6N) float32).
    """
    n, R = cfg["system"]["n_particles"], cfg["protocol"]["replicas"]
    n_t = len(cfgmod.temperature(cfg, T)["times"])
    e = label_pairs(cfg)
    peak = PROCESS_BYTES + 8.0 * R * n_t * n * 3 + 8.0 * 4 * R * e + 4.0 * n_t * (2 * e + 6 * n)
    return memory_mb(cfg, peak, attempt)


def labels_runtime(cfg: dict, attempt: int = 1) -> int:
    """Time limit (min) of one label job: ``cluster.min_runtime`` × attempt, at most ``max_runtime``
    (a label job takes seconds: 3.8 s at N = 4096, R = 32, n_t = 10, benchmarks/bench_labels.py)."""
    c = cfg["cluster"]
    return int(min(c["max_runtime"], c["min_runtime"] * max(1, attempt)))


def training_memory_mb(cfg: dict, attempt: int = 1) -> int:
    """Memory of one training job: per rank torch plus the training graphs and their workspace.

    One graph: N nodes and E = N · ρ 4/3 π r_c³ edges (r_c = graph.cutoff),
    with edge vectors and labels per edge and node (float32).
    """
    n = cfg["system"]["n_particles"]
    e = n * mean_neighbours(cfg, cfg["graph"]["cutoff"])
    graph_bytes = 4.0 * (e * (3 + 2 + 2) + n * (1 + 8))
    data = cfg["configurations"]["n_train"] * graph_bytes
    ranks = int(cfg["training"]["ranks"])
    return memory_mb(cfg, ranks * (TORCH_PROCESS_BYTES + TRAINING_WORKSPACE_FACTOR * data), attempt)


def training_runtime(cfg: dict) -> int:
    """Time limit (min) of one training job: ``cluster.train_runtime`` within ``max_runtime``."""
    c = cfg["cluster"]
    return int(min(c["max_runtime"], c["train_runtime"]))


def training_resources(cfg: dict) -> dict:
    """Static resources of a training job: tasks, and GPUs / CPUs per rank.

    With GPUs: ``gpu`` = W · gpus_per_rank, one task per GPU, ``cpus_per_gpu``;
    without: ``cpus_per_task``. ``mpi`` marks multi-rank jobs so that the
    plugin runs the rule's shell (which calls srun) inside the allocation.
    """
    c = cfg["cluster"]
    ranks = int(cfg["training"]["ranks"])
    gpus = int(c["train_gpus_per_rank"])
    res: dict = {"tasks": ranks}
    if gpus > 0:
        res.update(gpu=ranks * gpus, tasks_per_gpu=1, cpus_per_gpu=int(c["train_cpus_per_rank"]))
    else:
        res.update(cpus_per_task=int(c["train_cpus_per_rank"]))
    if ranks > 1:
        res["mpi"] = "srun"
    return res




def tglassmlp_training_bytes(cfg: dict) -> float:
    """Peak memory of one tGlassMLP training job (every temperature's descriptors and pairs held)."""
    return training_memory_bytes(cfg, len(cfg["temperatures"]))


def descriptors_memory_mb(cfg: dict, attempt: int = 1) -> int:
    """Memory of one descriptors job: the process plus ``chunk_pairs`` pairs of ~100 B in flight."""
    return memory_mb(cfg, 1.0e9 + 100.0 * cfg["tglassmlp"]["descriptors"]["chunk_pairs"], attempt)


def baselines_memory_mb(cfg: dict, attempt: int = 1) -> int:
    """Rule ``baselines``: every configuration's features (the descriptors, float32) and labels held at once."""
    n_desc = 4 * 3 * len(cfg.get("tglassmlp", {}).get("descriptors", {}).get("lengths", [0] * 11))
    per_particle = 4.0 * n_desc + 200.0
    return memory_mb(cfg, 1.0e9 + cfg["configurations"]["n"] * cfg["system"]["n_particles"] * per_particle, attempt)
