"""What a campaign will cost, before it runs: jobs, core-/GPU-hours, memory, storage.

:func:`campaign_plan` enumerates the jobs of every rule family exactly as the
Snakemake rules do (one equilibrate/replicas/labels job per (T, c), one train
and evaluate job per (model, T, time index), ...) and prices each job with a
cost model fed by measured throughput figures:

- MD: ``core-seconds = N · steps / protocol.atom_steps_per_second`` with the
  step counts of :func:`glassdyn.cluster.md_steps` (T_high hold, quench, hold
  of ``hold_tau_alpha`` τα; for the replicas R × the last sampling step, where
  each replica stops). Ideal parallel scaling is assumed, so core-hours do not
  depend on ``parallel.mpi_ranks``; the wall time of the longest job does.
- labels / import: measured seconds per (replica × sampling time) at N = 4096.
- training: seconds per graph per epoch at N = 4096 (GPU-hours unless
  ``training.device: cpu``), × epochs × (fit graphs + the validation graphs at
  the forward-only fraction); evaluation: forward passes over the test set.
- memory: what each job asks the scheduler for (:mod:`glassdyn.cluster`, the
  functions the rules' ``resources`` call); GPU memory from the measured
  activation floats per edge, hidden unit and message-passing step.
- storage: the byte sizes of the HDF5 layouts of docs/architecture.md, with
  ρ · 4/3 π r_e³ graph edges per particle (SCIENCE.md §5).

Costs scale ∝ N from the N = 4096 figures.
The default figures and their sources are the ``plan`` section of
``config.yaml``; ``--benchmark FILE.json`` replaces them with figures measured
on the target machine (the JSON of ``benchmarks/*.py --json``, or a dict of
``plan`` keys). :func:`dag_job_counts` dry-runs the real Snakemake DAG so the
counts can be checked against it (``glassdyn plan --check-dag``).
"""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable

import yaml

from glassdyn import baselines
from glassdyn import config as gcfg
from glassdyn.campaign import resources as cluster
from glassdyn.campaign import targets
from glassdyn.campaign.workflow import snakefile as workflow_snakefile
from glassdyn.config.families import enabled, family
from glassdyn.io import storage
from glassdyn.md.checkpoint import thermo_steps
from glassdyn.physics.protocol import sampling_plan

#: Bytes per particle of equilibrated.h5: positions + velocities (f8) + type (i1) + image (i4).
_EQUILIBRATED_BYTES_PER_PARTICLE = 3 * 8 + 3 * 8 + 1 + 3 * 4
#: Node label arrays of labels.h5, each (n_t, N) f4: propensity, bond_breaking, relative_motion, nonaffine.
_NODE_LABELS = 4
#: The system size the throughput figures refer to; costs scale ∝ N from it.
_N_REF = 4096
_GB_PER_MB = 1e-3


@dataclasses.dataclass
class Family:
    """One rule family: ``jobs`` jobs costing ``hours`` in all on ``resource`` ('core' or 'gpu')."""

    name: str
    jobs: int
    resource: str = "core"
    hours: float | None = 0.0
    max_job_hours: float = 0.0
    memory_gb: float = 0.0
    gpu_memory_gb: float = 0.0
    storage_gb: float = 0.0
    by_temperature: dict = dataclasses.field(default_factory=dict)
    note: str = ""
    profile: dict = dataclasses.field(default_factory=dict)

    @property
    def per_job_hours(self) -> float | None:
        return None if self.hours is None or not self.jobs else self.hours / self.jobs


# --------------------------------------------------------------------------- throughput figures
def figures(cfg: dict, benchmarks: Iterable[str | Path] = ()) -> dict:
    """The cost-model figures: ``plan`` section (defaults from config.yaml) + MD rate, then benchmark overrides.

    Returns a dict of figures and ``sources`` (figure -> where it came from).
    """
    base = cfg.get("plan")
    if base is None:
        base = gcfg.read_yaml(gcfg.DEFAULTS)["plan"]
    out = {k: v for k, v in base.items()}
    out["atom_steps_per_second"] = float(cfg["protocol"]["atom_steps_per_second"])
    sources = {k: "config plan section (see its comments)" for k in out}
    sources["atom_steps_per_second"] = "protocol.atom_steps_per_second (SCIENCE.md §8: ~2e6 per core at N = 4096)"
    for path in benchmarks:
        for k, v in benchmark_figures(path).items():
            out[k] = v
            sources[k] = f"measured: {path}"
    out["sources"] = sources
    return out


def benchmark_figures(path: str | Path) -> dict:
    """Plan figures found in a benchmark JSON.

    Understood: a dict holding ``plan`` keys (directly or under ``"plan"``);
    the row list of ``benchmarks/bench_labels.py`` (``seconds_per_time``,
    ``R``, ``N``: → ``labels_core_seconds_per_replica_time`` at N = 4096);
    any dict or row carrying ``atom_steps_per_second``
    (MD throughput per core); the rows of ``benchmarks/bench_md.py``
    (``mode``, ``ranks``, ``omp_threads``, ``atom_steps_per_s``: the serial
    row's throughput is the per-core rate).
    """
    obj = json.loads(Path(path).read_text())
    if isinstance(obj, list):
        rows = obj
    else:
        rows = [obj] + [obj[k] for k in ("plan",) if isinstance(obj.get(k), dict)]
        rows += [r for k in ("rows", "results") if isinstance(obj.get(k), list) for r in obj[k]]
    found: dict = {}
    md_rows: list[dict] = []
    plan_keys = set(_default_plan_keys())
    for row in rows:
        if not isinstance(row, dict):
            continue
        for k, v in row.items():
            if k in plan_keys and isinstance(v, (int, float)):
                found[k] = float(v)
        if {"seconds_per_time", "R", "N"} <= set(row):
            found["labels_core_seconds_per_replica_time"] = row["seconds_per_time"] / row["R"] * _N_REF / row["N"]
        rate = row.get("atom_steps_per_second") or row.get("atom_steps_per_second_per_core")
        if isinstance(rate, (int, float)):
            found["atom_steps_per_second"] = float(rate)
        if "atom_steps_per_s" in row and "mode" in row:
            md_rows.append(row)
    if md_rows:
        # benchmarks/bench_md.py: throughput of a mode on ranks x threads cores; the serial row is per core
        row = next((r for r in md_rows if r["mode"] == "serial"), md_rows[0])
        cores = max(1, int(row.get("ranks", 1))) * max(1, int(row.get("omp_threads", 1)))
        found["atom_steps_per_second"] = float(row["atom_steps_per_s"]) / cores
    if not found:
        raise ValueError(f"{path}: no throughput figure recognised (expected plan keys, bench_labels rows "
                         "or atom_steps_per_second)")
    return found


def _default_plan_keys() -> list[str]:
    return list(gcfg.read_yaml(gcfg.DEFAULTS)["plan"]) + ["atom_steps_per_second"]


# --------------------------------------------------------------------------- sizes
def edges_per_particle(cfg: dict) -> float:
    """Directed graph edges per particle, ρ · 4/3 π r_e³ (40.2 for the paper; 40.6 measured on BOTAN files)."""

    return cluster.mean_neighbours(cfg, cfg["graph"]["cutoff"])


def labels_bytes(cfg: dict, T: str, replicas: int | None, edge_labels: bool = True) -> float:
    """Size of one labels.h5 (architecture.md layout); without the edge labels and ensemble for GlassBench."""
    n = cfg["system"]["n_particles"]
    n_t = len(gcfg.temperature(cfg, T)["times"])
    e = edges_per_particle(cfg) * n
    size = n * (1 + 3 * 8) + e * (2 * 8 + 3 * 4) + _NODE_LABELS * n_t * n * 4
    if edge_labels:
        size += e * n_t * 4 + 2 * (replicas or 0) * n_t * 8
    return size


def replicas_bytes(cfg: dict, T: str) -> float:
    """Size of one replicas.h5: unwrapped positions (R, n_t, N, 3) f8, initial velocities, thermo records."""

    n = cfg["system"]["n_particles"]
    p = cfg["protocol"]
    plan = sampling_plan(cfg, float(T))
    last = int(plan.steps[-1])
    n_thermo = len(thermo_steps(0, last, p["thermo_every"], plan.steps)) + 1
    r = p["replicas"]
    return r * len(plan.steps) * n * 3 * 8 + r * n * 3 * 8 + n * (3 * 8 + 1) + n_thermo * (8 + 4 * 8 * r)


def model_bytes(cfg: dict) -> float:
    """model.pt + checkpoint.pt of one cell: ~13 d² parameters (encoders, shared edge/node MLPs, decoders;
    54,274 at d = 64), f4, as weights, best weights and two Adam moments."""
    d = cfg["network"]["hidden"]
    return 13 * d * d * 4 * 4


# --------------------------------------------------------------------------- jobs and costs
def _train_graph_epochs(cfg: dict, fig: dict, epochs: int) -> float:
    """Graph-epochs of one training run: fit graphs + validation graphs at the forward-only fraction."""
    fit, val = gcfg.split_train_validation(cfg)
    return epochs * (len(fit) + fig["validation_forward_fraction"] * len(val))


def _add(f: Family, T: str, jobs: int, hours_per_job: float, wall_per_job: float) -> None:
    f.jobs += jobs
    f.hours += jobs * hours_per_job
    f.by_temperature[T] = f.by_temperature.get(T, 0.0) + jobs * hours_per_job
    f.max_job_hours = max(f.max_job_hours, wall_per_job)


def campaign_plan(cfg: dict, benchmarks: Iterable[str | Path] = ()) -> tuple[list[Family], dict]:
    """Every job family of the campaign ``cfg`` with its count and costs; and the figures used.

    Job counts come from the lists the rules wire (:mod:`glassdyn.campaign.targets`);
    memory is what each job asks the scheduler for (:mod:`glassdyn.campaign.resources`,
    the same functions the rules' ``resources`` call); wall times use the same throughput.
    """
    fig = figures(cfg, benchmarks)
    fams = _md_families(cfg, fig) if targets.source_kind(cfg) == "md" else [_import_family(cfg, fig)]
    fams += [_dynamics_family(cfg, fig), *_gnn_families(cfg, fig), *_reference_families(cfg, fig),
             _report_family(cfg, fig)]
    return [f for f in fams if f.jobs > 0], fig


def _md_families(cfg: dict, fig: dict) -> list[Family]:
    """equilibrate, replicas and labels: one job per (T, configuration)."""
    n, R, omp = cfg["system"]["n_particles"], cfg["protocol"]["replicas"], cfg["parallel"]["omp_threads"]
    eq = Family("equilibrate", 0, note=f"T_high hold, quench, {cfg['protocol']['hold_tau_alpha']:g} τα hold; "
                                       f"{cluster.md_ranks(cfg, 'equilibrate') * omp} core(s)/job")
    rep = Family("replicas", 0, note=f"{R} NVE replicas to the last sampling time; "
                                     f"{cluster.md_ranks(cfg, 'replicas') * omp} core(s)/job")
    lab = Family("labels", 0, note="S, E_ij, C_B, relative motion, D²min, F_s, MSD")
    attempts = {"equilibrate": 0, "replicas": 0}
    for T in gcfg.temperature_keys(cfg):
        jobs = len(targets.replicas_of(cfg, T))
        for f, stage in ((eq, "equilibrate"), (rep, "replicas")):
            core_h = n * cluster.md_steps(cfg, T, stage) / fig["atom_steps_per_second"] / 3600
            _add(f, T, jobs, core_h, core_h / (cluster.md_ranks(cfg, stage) * omp))
            f.memory_gb = max(f.memory_gb, cluster.md_memory_mb(cfg, T, stage) * _GB_PER_MB)
            attempts[stage] = max(attempts[stage], cluster.md_attempts(cfg, T, stage))
        h_lab = fig["labels_core_seconds_per_replica_time"] * R * len(gcfg.temperature(cfg, T)["times"]) \
            * n / _N_REF / 3600
        _add(lab, T, jobs, h_lab, h_lab)
        lab.memory_gb = max(lab.memory_gb, cluster.labels_memory_mb(cfg, T) * _GB_PER_MB)
        eq.storage_gb += jobs * n * _EQUILIBRATED_BYTES_PER_PARTICLE / 1e9
        rep.storage_gb += jobs * replicas_bytes(cfg, T) / 1e9
        lab.storage_gb += jobs * labels_bytes(cfg, T, R) / 1e9
    for f, stage in ((eq, "equilibrate"), (rep, "replicas")):
        if attempts[stage] > 1:
            f.note += (f"; the longest runs take {attempts[stage]} submissions of "
                       f"cluster.max_runtime = {cfg['cluster']['max_runtime']} min (restart segments)")
    return [eq, rep, lab]


def _import_family(cfg: dict, fig: dict) -> Family:
    """import_labels: one job per (T, configuration) from the published files."""
    source, R, scale = targets.source_kind(cfg), cfg["protocol"]["replicas"], cfg["system"]["n_particles"] / _N_REF
    imp = Family("import_labels", 0, note=f"labels from published {source} files instead of MD")
    for T in gcfg.temperature_keys(cfg):
        n_t = len(gcfg.temperature(cfg, T)["times"])
        if source == "botan":
            h = (fig["labels_core_seconds_per_replica_time"] * R * n_t
                 + fig["import_core_seconds_per_file"] * n_t) * scale / 3600
            size, mem = labels_bytes(cfg, T, R), cluster.labels_memory_mb(cfg, T) * _GB_PER_MB
        else:
            h = fig["import_core_seconds_per_file"] * scale / 3600
            size = labels_bytes(cfg, T, None, edge_labels=False)
            mem = cluster.memory_mb(cfg, cluster.PROCESS_BYTES + 2 * size) * _GB_PER_MB
        jobs = len(targets.all_labels(cfg, T))
        _add(imp, T, jobs, h, h)
        imp.storage_gb += jobs * size / 1e9
        imp.memory_gb = max(imp.memory_gb, mem)
    if source == "botan":
        imp.note += f" (R = protocol.replicas = {R} replicas per file assumed)"
    return imp


def _dynamics_family(cfg: dict, fig: dict) -> Family:
    md = targets.source_kind(cfg) == "md"
    dyn = Family("dynamics", 0, note="F_s, τα fit, MSD, χ4" + (", MD checks" if md else ""))
    for T in gcfg.temperature_keys(cfg):
        h = fig["dynamics_core_seconds_per_configuration"] * cfg["configurations"]["n"] / 3600
        _add(dyn, T, len(targets.dynamics_of(cfg, T)), h, h)
    dyn.memory_gb = cluster.memory_mb(cfg, cluster.PROCESS_BYTES) * _GB_PER_MB
    dyn.storage_gb = len(cfg["temperatures"]) * 1e-3
    return dyn


def _training_figures(cfg: dict, fig: dict) -> dict:
    """Per-graph-epoch seconds (GPU or CPU), activation memory per graph and the training job's request."""
    gpu = cfg["training"]["device"] != "cpu"
    scale = cfg["system"]["n_particles"] / _N_REF
    e_graph = edges_per_particle(cfg) * cfg["system"]["n_particles"]
    return {"gpu": gpu, "resource": "gpu" if gpu else "core",
            "per_graph": fig["train_gpu_seconds_per_graph_epoch" if gpu else "train_core_seconds_per_graph_epoch"]
            * scale, "per_graph_cpu": fig["train_core_seconds_per_graph_epoch"] * scale,
            "act_gb": (fig["train_activation_floats_per_edge_per_hidden"] * e_graph * cfg["network"]["hidden"]
                       * cfg["network"]["message_passing_steps"] * 4 / 1e9),
            "memory_gb": cluster.training_memory_mb(cfg) * _GB_PER_MB, "ranks": cfg["training"]["ranks"]}


def _gnn_families(cfg: dict, fig: dict) -> list[Family]:
    """pretrain, train and evaluate of the per-cell graph networks (cells from :func:`targets.gnn_cells`)."""
    tf = _training_figures(cfg, fig)
    pre = Family("pretrain", 0, resource=tf["resource"], note="BOTAN p = 0 on E_ij at one (T, t)")
    tr = Family("train", 0, resource=tf["resource"], note=f"{tf['ranks']} DDP rank(s)/job")
    ev = Family("evaluate", 0, resource=tf["resource"], note="forward passes over the test configurations")
    n_test, cpu_h = len(gcfg.test_indices(cfg)), 0.0
    for m in enabled(cfg, "gnn"):
        mc = cfg["models"][m]
        if targets.pretraining(cfg, m):
            ge = _train_graph_epochs(cfg, fig, mc["pretrain"]["epochs"])
            cpu_h += _train_job(pre, gcfg.temperature_key(mc["pretrain"]["T"]), 1, ge, tf, cfg, mc)
    for T in gcfg.temperature_keys(cfg):
        for m, _, _ in targets.gnn_cells(cfg, T):
            mc = cfg["models"][m]
            cpu_h += _train_job(tr, T, 1, _train_graph_epochs(cfg, fig, mc["epochs"]), tf, cfg, mc)
            he = n_test * fig["validation_forward_fraction"] * tf["per_graph"] / 3600
            _add(ev, T, 1, he, he)
            ev.storage_gb += n_test * 200 / 1e9
            ev.gpu_memory_gb = tf["act_gb"] / 3 if tf["gpu"] else 0.0
    test_gb = n_test * max((labels_bytes(cfg, T, cfg["protocol"]["replicas"], targets.source_kind(cfg) != "glassbench")
                            for T in gcfg.temperature_keys(cfg)), default=0.0) / 1e9
    ev.memory_gb = cluster.memory_mb(cfg, cluster.TORCH_PROCESS_BYTES + test_gb * 1e9) * _GB_PER_MB
    if tf["gpu"] and tr.jobs:
        tr.note += f"; on CPU cores instead: pretrain + train ≈ {_h(cpu_h)} core-h"
    return [pre, tr, ev]


def _train_job(f: Family, T: str, jobs: int, graph_epochs: float, tf: dict, cfg: dict, mc: dict) -> float:
    """Add ``jobs`` training jobs of ``graph_epochs`` to ``f``; return their CPU core-hours."""
    h = tf["per_graph"] * graph_epochs / 3600
    _add(f, T, jobs, h, h / tf["ranks"])
    f.storage_gb += jobs * model_bytes(cfg) / 1e9
    f.memory_gb = tf["memory_gb"]
    f.gpu_memory_gb = max(f.gpu_memory_gb, tf["act_gb"] * mc["graphs_per_step"] if tf["gpu"] else 0.0)
    return jobs * tf["per_graph_cpu"] * graph_epochs / 3600


def _reference_families(cfg: dict, fig: dict) -> list[Family]:
    """Rules ``baselines`` (every configuration read and fitted, per (T, time)) and ``published_scores``
    (test configurations, GlassBench only), priced per configuration read."""
    per_conf = fig["baselines_core_seconds_per_configuration"] * cfg["system"]["n_particles"] / _N_REF / 3600
    base = Family("baselines", 0, note=f"{len(baselines.model_names(cfg))} baseline rows fitted per (T, t)")
    pub = Family("published_scores", 0, note="published GlassBench predictions scored")
    n_conf, n_test = cfg["configurations"]["n"], len(gcfg.test_indices(cfg))
    for T in gcfg.temperature_keys(cfg):
        k = len(gcfg.time_indices(cfg, T))
        if baselines.model_names(cfg):
            _add(base, T, k, n_conf * per_conf, n_conf * per_conf)
        if baselines.published.model_names(cfg):
            _add(pub, T, k, 0.1 * n_test * per_conf, 0.1 * n_test * per_conf)
    base.memory_gb = cluster.baselines_memory_mb(cfg) * _GB_PER_MB
    pub.memory_gb = cluster.memory_mb(cfg, cluster.PROCESS_BYTES) * _GB_PER_MB
    return [base, pub]


def _report_family(cfg: dict, fig: dict) -> Family:
    rep = Family("report", 0, note="tables and figures")
    h = fig["report_core_seconds"] / 3600
    _add(rep, gcfg.temperature_keys(cfg)[0], 1, h, h)
    rep.by_temperature = {}
    rep.memory_gb = cluster.memory_mb(cfg, cluster.PROCESS_BYTES) * _GB_PER_MB
    rep.storage_gb = 0.01
    return rep


# --------------------------------------------------------------------------- the real DAG
def dag_job_counts(config_files: Iterable[str | Path] = (), cfg: dict | None = None,
                   timeout: float = 600) -> dict[str, int]:
    """Job counts per rule of the whole campaign from a Snakemake dry run (``-n --forceall``).

    ``cfg`` (a merged configuration) is written to a temporary file and passed
    as ``--configfile``; otherwise ``config_files`` are passed as they are.
    """
    files = [str(Path(p).resolve()) for p in config_files]
    with tempfile.TemporaryDirectory() as tmp:
        if cfg is not None:
            p = Path(tmp) / "config.yaml"
            p.write_text(yaml.safe_dump(cfg))
            files = [str(p)]
        cmd = [sys.executable, "-m", "snakemake", "-s", str(workflow_snakefile()), "-n", "--forceall", "--nolock",
               "--quiet", "rules", "--workflow-profile", "none"]
        if files:
            cmd += ["--configfile", *files]
        res = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
    text = res.stdout + res.stderr
    if res.returncode != 0:
        raise RuntimeError(f"snakemake dry run failed:\n{text[-3000:]}")
    counts: dict[str, int] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("job") and "count" in line:
            in_table = True
            continue
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if in_table and m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
        elif in_table and line.strip().startswith("total"):
            break
    return counts


def compare_with_dag(families: list[Family], counts: dict[str, int]) -> list[str]:
    """Differences between the plan and the DAG; families the plan does not price are added as rows."""
    problems = []
    known = {f.name: f for f in families}
    for name, c in counts.items():
        if name == "all":
            continue
        if name in known:
            if known[name].jobs != c:
                problems.append(f"{name}: plan counts {known[name].jobs} jobs, the DAG {c}")
        else:
            families.append(Family(name, c, hours=None, note="in the DAG; no cost model in glassdyn.plan yet"))
    for name, f in known.items():
        if name not in counts:
            problems.append(f"{name}: plan counts {f.jobs} jobs, the DAG none")
    return problems


# --------------------------------------------------------------------------- profile
def profile_resources(profile: str | Path) -> dict[str, dict]:
    """Per-rule resources a Snakemake profile requests: ``set-resources``, ``set-threads``, ``default-resources``."""
    path = Path(profile)
    path = path / "config.yaml" if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(f"{path}: no profile config.yaml there")
    prof = yaml.safe_load(path.read_text()) or {}

    def as_dict(v) -> dict:
        if isinstance(v, dict):
            return v
        out = {}
        for item in v or []:  # "rule:key=value" list form
            rule, _, kv = str(item).partition(":")
            k, _, val = kv.partition("=")
            out.setdefault(rule, {})[k] = val
        return out

    default = {}
    for item in prof.get("default-resources", []) or []:
        k, _, v = str(item).partition("=")
        default[k] = v
    out: dict[str, dict] = {"*": default}
    for rule, res in as_dict(prof.get("set-resources")).items():
        out.setdefault(rule, {}).update(res if isinstance(res, dict) else {})
    for rule, th in (prof.get("set-threads") or {}).items():
        out.setdefault(rule, {})["threads"] = th
    return out


def attach_profile(families: list[Family], resources: dict[str, dict]) -> list[str]:
    """Record each family's requested resources; return warnings where the estimate exceeds them."""
    warnings = []
    for f in families:
        req = dict(resources.get("*", {}))
        req.update(resources.get(f.name, {}))
        f.profile = req
        mem = req.get("mem_mb")
        try:
            if mem is not None and f.memory_gb * 1000 > float(mem):
                warnings.append(f"{f.name}: estimated {f.memory_gb:.1f} GB per job but the profile asks mem_mb={mem}")
        except ValueError:
            pass
        if f.resource == "gpu" and not any(k in req for k in ("gpu", "gres", "gpus")):
            warnings.append(f"{f.name}: planned on a GPU but the profile requests none (gpu=1 in set-resources)")
        runtime = req.get("runtime")
        try:
            if runtime is not None and f.max_job_hours * 60 > float(runtime) and f.name in ("equilibrate", "replicas"):
                warnings.append(f"{f.name}: the longest job needs {f.max_job_hours:.0f} h but runtime={runtime} min; "
                                "it resumes from its restart segments when resubmitted")
            elif runtime is not None and f.max_job_hours * 60 > float(runtime):
                warnings.append(f"{f.name}: the longest job needs {f.max_job_hours * 60:.0f} min but "
                                f"runtime={runtime} min")
        except ValueError:
            pass
    return warnings


# --------------------------------------------------------------------------- output
def _h(x: float | None) -> str:
    if x is None:
        return "?"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.1f}"
    return f"{x:.3g}"


def format_plan(families: list[Family], fig: dict, cfg: dict, problems=(), warnings=()) -> str:
    """The plan as a Markdown table with totals, a per-temperature breakdown, and the figures used."""
    lines = ["| job family | jobs | resource | per job (h) | longest job wall (h) | total (h) "
             "| memory request/job (GB) | GPU mem (GB) | storage (GB) | notes |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for f in families:
        res = {"core": "core-h", "gpu": "GPU-h"}[f.resource]
        prof = ", ".join(f"{k}={v}" for k, v in f.profile.items()) if f.profile else ""
        note = f.note + (f" [profile: {prof}]" if prof else "")
        if f.hours is None:
            lines.append(f"| {f.name} | {f.jobs:,} | ? | ? | ? | ? | ? | ? | ? | {note} |")
            continue
        lines.append(f"| {f.name} | {f.jobs:,} | {res} | {_h(f.per_job_hours)} | {_h(f.max_job_hours)} "
                     f"| {_h(f.hours)} | {f.memory_gb:.2f} | {f.gpu_memory_gb:.1f} | {f.storage_gb:,.2f} | {note} |")
    core = sum(f.hours or 0 for f in families if f.resource == "core")
    gpu = sum(f.hours or 0 for f in families if f.resource == "gpu")
    store = sum(f.storage_gb for f in families)
    jobs = sum(f.jobs for f in families)
    priced = "" if all(f.hours is not None for f in families) else " (priced families)"
    lines.append(f"| **total** | {jobs:,} | | | | **{_h(core)} core-h, {_h(gpu)} GPU-h**{priced} | | | "
                 f"**{store:,.1f}** | |")
    temps = gcfg.temperature_keys(cfg)
    lines += ["", "Core-/GPU-hours by temperature:", "",
              "| family | " + " | ".join(f"T = {T}" for T in temps) + " |", "|---|" + "---:|" * len(temps)]
    for f in families:
        if f.by_temperature:
            lines.append(f"| {f.name} | " + " | ".join(_h(f.by_temperature.get(T, 0.0)) for T in temps) + " |")
    lines += ["", "Figures used:", ""]
    for k in sorted(fig):
        if k != "sources":
            lines.append(f"- `{k}` = {fig[k]:g} — {fig['sources'].get(k, '')}")
    unpriced = [f.name for f in families if f.hours is None]
    if unpriced:
        lines += ["", f"Not priced (no cost model yet): {', '.join(unpriced)}."]
    if problems:
        lines += ["", "Job counts that differ from the Snakemake DAG:", ""] + [f"- {p}" for p in problems]
    if warnings:
        lines += ["", "Profile warnings:", ""] + [f"- {w}" for w in warnings]
    return "\n".join(lines)


def plan_dict(families: list[Family], fig: dict) -> dict:
    return {"families": [dataclasses.asdict(f) | {"per_job_hours": f.per_job_hours} for f in families],
            "totals": {"core_hours": sum(f.hours or 0 for f in families if f.resource == "core"),
                       "gpu_hours": sum(f.hours or 0 for f in families if f.resource == "gpu"),
                       "storage_gb": sum(f.storage_gb for f in families),
                       "jobs": sum(f.jobs for f in families)},
            "figures": fig}


def plan_cli(args, cfg: dict) -> None:
    fams, fig = campaign_plan(cfg, args.benchmark)
    problems: list[str] = []
    unpriced_models = [m for m in cfg["models"]["enabled"] if family(m, cfg).kind != "gnn"]
    if args.check_dag or unpriced_models:  # their job families are counted from the DAG itself
        problems = compare_with_dag(fams, dag_job_counts(cfg=cfg))
    warnings = attach_profile(fams, profile_resources(args.profile)) if args.profile else []
    print(format_plan(fams, fig, cfg, problems, warnings))
    if args.json:
        storage.write_json(args.json, plan_dict(fams, fig) | {"dag_problems": problems, "profile_warnings": warnings})
    if problems:
        raise ValueError("the plan's job counts differ from the Snakemake DAG (see above)")

