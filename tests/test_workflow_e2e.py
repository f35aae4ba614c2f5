"""One real end-to-end run of the campaign at a tiny scale: LAMMPS -> labels -> NT-GNN/BOTAN -> report.

The workflow runs from a checkout whose path holds a space, into a results
folder whose name holds one (every path in every shell command is quoted).
Then the DAG caching: deleting one configuration's replica file redoes that
configuration alone (and what depends on it), nothing upstream; and a
training checkpoint made from other labels is discarded, never resumed.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from glassdyn import config as gcfg
from glassdyn.campaign import steps, targets
from glassdyn.gnn import train as gnn_train
from glassdyn.io import storage

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

TINY = {
    "results": "my results",
    "system": {"n_particles": 120},
    "protocol": {"t_high": 1.0, "t_cool": 1.0, "hold_tau_alpha": 1.0, "replicas": 3, "thermo_every": 100,
                 "checks": {"max_energy_drift": 1.0e-3, "temperature_tolerance": 0.5}},
    "parallel": {"mpi_ranks": 1, "omp_threads": 1},
    "temperatures": [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 1.0]}],
    "configurations": {"n": 4, "n_train": 3},
    "models": {"enabled": ["ntgnn", "botan", "mygnn"],
               "ntgnn": {"p": 1.0, "epochs": 2, "graphs_per_step": 1, "lr": 1.0e-3},
               "botan": {"p": 0.4, "epochs": 2, "graphs_per_step": 1, "lr": 1.0e-3,
                         "pretrain": {"T": 1.0, "time_index": 1, "epochs": 1}},
               # a user's network (examples/pyg_model.py, glassdyn.models.user) in the same cells
               "mygnn": {"network": f"{ROOT / 'examples' / 'pyg_model.py'}:MyGNN",
                         "options": {"hidden": 8, "layers": 2}, "p": 0.4, "epochs": 2, "graphs_per_step": 1,
                         "lr": 1.0e-3}},
    "network": {"hidden": 16, "message_passing_steps": 2},
    "training": {"validation_fraction": 0.34},
}


WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "envs", "profiles")


def snakemake(work: Path, *args: str, config: str = "tiny.yaml") -> subprocess.CompletedProcess:
    # targets first: --configfile takes the words up to the next option
    snakefile = work.parent / "my checkout" / "Snakefile"
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2", "-s", str(snakefile), "--configfile", config]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    """The tiny campaign, run by the workflow of a checkout at '<tmp>/my checkout' in '<tmp>/campaign dir'."""
    root = tmp_path_factory.mktemp("spaces")
    for name in WORKFLOW_FILES:
        src, dst = ROOT / name, root / "my checkout" / name
        shutil.copytree(src, dst) if src.is_dir() else (dst.parent.mkdir(exist_ok=True), shutil.copy(src, dst))
    work = root / "campaign dir"
    work.mkdir()
    (work / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    res = snakemake(work)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-6000:]
    return work


def test_campaign_reaches_its_report(campaign):
    res = campaign / "my results"
    cells = pd.read_csv(res / "report" / "cells.csv")
    assert set(cells["model"]) >= {"ntgnn", "botan", "mygnn"}
    assert len(cells[cells["model"].isin(["ntgnn", "botan", "mygnn"])]) == 3 * 2  # 3 models x 2 sampling times
    mine = cells[cells["model"] == "mygnn"]
    assert np.isfinite(mine["pearson_nodes_mean"]).all() and np.isfinite(mine["pearson_edges_mean"]).all()
    assert "mygnn" in (res / "report" / "summary.md").read_text()
    assert (res / "report" / "pearson_vs_time.png").stat().st_size > 1000
    assert (res / "physics" / "T1.00" / "dynamics.json").exists()
    ev = pd.read_csv(res / "eval" / "botan" / "T1.00" / "t1.csv")
    assert list(ev["c"]) == [3]  # the test configuration, never trained on
    assert np.isfinite(ev["pearson_nodes"]).all() and np.isfinite(ev["pearson_edges"]).all()
    # issue 15: both Pearson definitions, the label ceiling and the baselines in every campaign
    assert {"baseline-neighbours", "baseline-density", "baseline-epot", "baseline-epot-cb"} <= set(cells["model"])
    botan = cells[cells["model"] == "botan"]
    for col in ("pooled_pearson_nodes", "pooled_pearson_edges", "ceiling_nodes", "ceiling_edges"):
        assert np.isfinite(botan[col]).all(), col


def test_md_and_label_files_are_complete_and_physical(campaign):
    res = campaign / "my results"
    rep, attrs = storage.read_h5(res / "md" / "T1.00" / "c0000" / "replicas.h5")
    assert rep["positions"].shape == (3, 2, 120, 3)
    assert list(rep["steps"]) == [100, 1000]
    lab, _ = storage.read_h5(res / "labels" / "T1.00" / "c0000.h5")
    assert lab["propensity"].shape == (2, 120)
    assert (lab["propensity"][1] > lab["propensity"][0]).mean() > 0.9  # particles move further at later times
    assert lab["edge_index"].shape[0] == 2 and lab["edge_index"].shape[1] == lab["pair_distance_change"].shape[1]
    with h5py.File(res / "labels" / "T1.00" / "c0000.h5") as f:
        assert f.attrs[storage.COMPLETE]


def test_deleting_one_replica_file_redoes_that_configuration_alone(campaign):
    (campaign / "my results" / "md" / "T1.00" / "c0001" / "replicas.h5").unlink()
    res = snakemake(campaign, "-n", "--quiet", "rules")
    assert res.returncode == 0, res.stderr
    counts = {}
    for line in (res.stdout + res.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts.get("replicas") == 1
    assert counts.get("labels") == 1
    assert "equilibrate" not in counts


def test_snakemake_html_report(campaign):
    """The self-contained report embeds the campaign's figures and tables, byte for byte, with captions."""
    res = snakemake(campaign, "--report", "report.html")
    assert res.returncode == 0, res.stderr[-3000:]
    html = (campaign / "report.html").read_text()
    text = html.split('<script id="results">', 1)[1].split("</script>", 1)[0].strip()
    results = json.loads(text.removeprefix("var results =").strip().removesuffix(";"))
    want = {f"my results/{p}" for p in ("report/cells.csv", "report/pearson_vs_time.png", "report/fs.png",
                                        "physics/T1.00/dynamics.png")}
    assert want <= set(results), sorted(results)
    for path in want:
        entry = results[path]
        payload = base64.b64decode(entry["data_uri"].split("base64,", 1)[1])
        assert payload == (campaign / path).read_bytes(), path
        assert entry["caption"].strip(), path
    assert "Pearson correlation on test configurations" in results["my results/report/pearson_vs_time.png"]["caption"]


def test_checkpoint_of_old_labels_is_discarded_and_the_cell_retrained_fresh(campaign, monkeypatch):
    """A training stopped after its last epoch on the old labels leaves checkpoint.pt; the labels change
    (protocol.replicas 3 -> 2); Snakemake reruns the cell, which must start afresh and equal a from-scratch run."""
    cell = "my results/train/ntgnn/T1.00/t1"
    monkeypatch.chdir(campaign)
    cfg = gcfg.load(campaign / "tiny.yaml")
    labels = targets.train_labels(cfg, "1.00")
    params = json.loads(steps.params(cfg, "train", {"model": "ntgnn", "T": "1.00", "k": "1"}))
    monkeypatch.setattr(gnn_train, "_finish", lambda *a: None)  # "killed" right after the last checkpoint
    gnn_train.train_cell(params, "ntgnn", "1.00", 1, labels, cell, device="cpu")
    assert (campaign / cell / "checkpoint.pt").exists()

    changed = dict(TINY, protocol=dict(TINY["protocol"], replicas=2))
    (campaign / "changed.yaml").write_text(yaml.safe_dump(changed))
    res = snakemake(campaign, "my results/eval/ntgnn/T1.00/t1.csv", config="changed.yaml")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    log = (campaign / "my results/logs/train/ntgnn_T1.00_t1.log").read_text()
    assert "made from other inputs" in log and "inputs." in log and "resuming" not in log, log
    assert not (campaign / cell / "checkpoint.pt").exists()

    cfg2 = gcfg.load(campaign / "changed.yaml")
    fresh = campaign / "fresh"
    cmd = [sys.executable, "-m", "glassdyn", "train", "--params",
           steps.params(cfg2, "train", {"model": "ntgnn", "T": "1.00", "k": "1"}), "--model", "ntgnn", "--T", "1.00",
           "--time-index", "1", "--labels", *labels, "--device", "auto", "--output-dir", str(fresh)]
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
    a = torch.load(campaign / cell / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(fresh / "model.pt", weights_only=True)["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
