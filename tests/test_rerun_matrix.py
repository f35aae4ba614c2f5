"""The cache is the campaign: one edit reruns exactly the jobs whose step reads the edited value.

The laptop campaign's DAG is made complete without computing anything
(every output created empty, then ``snakemake --touch`` records each job's
params, code and inputs as a finished run would), then every edit of the
table below is dry-run on its own. The scheduled jobs per rule must equal
the table, which docs/architecture.md shows too. The edits cover every
section: each temperature's times and τα, equilibration vs replica keys,
check limits, execution settings, every model's hyperparameters,
``models.enabled``, training, labels, network, tGlassMLP, OGN, dynamics.
"""
from __future__ import annotations

import concurrent.futures as cf
import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

ALL_AT_T1 = {"replicas": 6, "labels": 6, "dynamics": 1, "tglassmlp_states": 1, "train": 6, "evaluate": 6,
             "tglassmlp_distill": 1, "tglassmlp_train": 4, "tglassmlp_evaluate": 6, "report": 1,
             "tglassmlp_analysis": 1, "tglassmlp_transfer": 1, "baselines": 3}
TGLASSMLP_TRAINING = {"tglassmlp_distill": 1, "tglassmlp_train": 4, "tglassmlp_evaluate": 6, "report": 1,
                      "tglassmlp_analysis": 1, "tglassmlp_transfer": 1}
LABELS_AND_AFTER = {"labels": 12, "dynamics": 2, "pretrain": 1, "tglassmlp_states": 1, "train": 12, "evaluate": 12,
                    "baselines": 6, **TGLASSMLP_TRAINING}
GNN_ALL = {"pretrain": 1, "train": 12, "evaluate": 12, "report": 1}

#: edit (dotted key -> new value) -> jobs scheduled per rule. T1 is T = 1.0 (6 configurations, 3 times);
#: the laptop campaign has 2 temperatures, NT-GNN and BOTAN (12 cells each side), tGlassMLP (2 members x 2
#: variants), OGN (2 variants on the liquid).
MATRIX = {
    "sampling times of T = 1.0": ({"temperatures.1.times": [0.1, 0.5, 1.5]}, ALL_AT_T1),
    "tau_alpha of T = 1.0": ({"temperatures.1.tau_alpha": 1.1},
                             {**ALL_AT_T1, "equilibrate": 6, "inherent": 6, "tglassmlp_descriptors": 6,
                              "tglassmlp_large_system": 1}),
    "protocol.replicas": ({"protocol.replicas": 6}, {"replicas": 12, **LABELS_AND_AFTER}),
    "protocol.t_high (equilibration)": ({"protocol.t_high": 11.0},
                                        {"equilibrate": 12, "inherent": 12, "tglassmlp_descriptors": 12,
                                         "tglassmlp_large_system": 2, "replicas": 12, **LABELS_AND_AFTER}),
    "protocol.checks (a gate)": ({"protocol.checks.max_energy_drift": 2e-4}, {"dynamics": 2, "report": 1}),
    "execution settings": ({"protocol.segment_walltime": 30.0, "protocol.atom_steps_per_second": 1e6,
                            "parallel.omp_threads": 2, "cluster.memory_margin": 3.0, "training.device": "cpu",
                            "tglassmlp.descriptors.chunk_pairs": 1000000, "ogn.training.threads": 2,
                            "ogn.training.checkpoint_every": 5, "plan.report_core_seconds": 10}, {}),
    "models.botan.lr": ({"models.botan.lr": 2e-3}, {"pretrain": 1, "train": 6, "evaluate": 6, "report": 1}),
    "models.ntgnn.epochs": ({"models.ntgnn.epochs": 31}, {"train": 6, "evaluate": 6, "report": 1}),
    "models.enabled without ogn": ({"models.enabled": ["ntgnn", "botan", "tglassmlp"]}, {"report": 1}),
    "network.hidden": ({"network.hidden": 32}, GNN_ALL),
    "training.seed": ({"training.seed": 1}, GNN_ALL),
    "training.time_indices": ({"training.time_indices": [0, 1]},
                              {"tglassmlp_states": 1, **TGLASSMLP_TRAINING, "tglassmlp_evaluate": 4}),
    "labels.bond_a_in": ({"labels.bond_a_in": 1.3}, LABELS_AND_AFTER),
    "labels.edge_eval_cutoff": ({"labels.edge_eval_cutoff": 1.3}, LABELS_AND_AFTER),   # the ceiling judges its pairs
    "tglassmlp.analysis": ({"tglassmlp.analysis.c_grid": 5}, {"tglassmlp_analysis": 1}),
    "tglassmlp.schedule": ({"tglassmlp.schedule.phase2": [[5, 4.0e-5]]}, TGLASSMLP_TRAINING),
    "ogn.training.lr": ({"ogn.training.lr": 2e-3}, {"ogn_train": 2, "ogn_rollout": 2, "ogn_summary": 1}),
    "dynamics.bootstrap": ({"dynamics.bootstrap": 500}, {"dynamics": 2, "report": 1}),
    "baselines.ridge_alphas": ({"baselines.ridge_alphas": [0.1, 1.0]}, {"baselines": 6, "report": 1}),
    "labels.ceiling_splits": ({"labels.ceiling_splits": 8}, LABELS_AND_AFTER),
}


def _set(cfg: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        cfg = cfg[int(k)] if k.isdigit() else cfg.setdefault(k, {})
    cfg[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value


def _snakemake(work: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *args]
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def scheduled(text: str) -> dict[str, int]:
    """Jobs per rule of a dry run's 'Job stats' table ({} when nothing is to be done)."""
    if "Nothing to be done" in text:
        return {}
    counts = {}
    for line in text.split("Job stats:")[1].splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) not in ("all", "total"):
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """The laptop campaign with every job recorded as finished (no computation)."""
    work = tmp_path_factory.mktemp("touched")
    (work / "base.yaml").write_text((ROOT / "config" / "laptop.yaml").read_text())
    # 1. --touch of the empty campaign records every job's params, code and inputs as if it had run;
    # 2. the outputs appear (empty); 3. --touch again orders their modification times as the DAG does.
    _snakemake(work, "--quiet", "--touch", "--cores", "1", "--configfile", "base.yaml")
    summary = _snakemake(work, "--quiet", "--summary", "--configfile", "base.yaml")
    for line in summary.splitlines()[1:]:
        path = work / line.split("\t")[0]
        if line.startswith("results/"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    _snakemake(work, "--quiet", "--touch", "--cores", "1", "--configfile", "base.yaml")
    assert scheduled(_snakemake(work, "-n", "--quiet", "rules", "--configfile", "base.yaml")) == {}
    return work


def _dry_run(work: Path, name: str, edit: dict) -> dict[str, int]:
    cfg = yaml.safe_load((work / "base.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    for key, value in edit.items():
        _set(cfg, key, value)
    f = work / (re.sub(r"\W+", "_", name) + ".yaml")
    f.write_text(yaml.safe_dump(cfg))
    return scheduled(_snakemake(work, "-n", "--quiet", "rules", "--configfile", str(f)))


def test_each_edit_reruns_exactly_what_reads_it(finished):
    with cf.ThreadPoolExecutor(2) as pool:
        got = dict(zip(MATRIX, pool.map(lambda n: _dry_run(finished, n, MATRIX[n][0]), MATRIX)))
    wrong = {name: (got[name], MATRIX[name][1]) for name in MATRIX if got[name] != MATRIX[name][1]}
    assert not wrong, "\n".join(f"{n}: scheduled {g}, expected {e}" for n, (g, e) in wrong.items())


def test_dry_run_says_which_key_changed(finished):
    """The dry run's reason for a rerun shows the step's slice before and now: the edited key stands out."""
    edit = finished / "lr.yaml"
    cfg = yaml.safe_load((finished / "base.yaml").read_text())
    cfg["models"]["ntgnn"]["lr"] = 5e-4
    edit.write_text(yaml.safe_dump(cfg))
    text = _snakemake(finished, "-n", "--configfile", str(edit))
    reasons = [line for line in text.splitlines() if "reason:" in line]
    train = [r for r in reasons if "Params have changed" in r]
    assert len(train) == 6 and all('"ntgnn": {"epochs": 30' in r for r in train)  # the 6 NT-GNN cells alone
    assert all('"lr": 0.001' in r.split(" now: ")[0] and '"lr": 0.0005' in r.split(" now: ")[1]
                         for r in train)
