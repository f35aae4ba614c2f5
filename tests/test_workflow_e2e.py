"""One real end-to-end run of the campaign at a tiny scale: LAMMPS -> labels -> NT-GNN/BOTAN -> report.

Then the DAG caching: deleting one configuration's replica file redoes that
configuration alone (and what depends on it), nothing upstream.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from glassdyn.io import storage

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

TINY = {
    "results": "results",
    "system": {"n_particles": 120},
    "protocol": {"t_high": 1.0, "t_cool": 1.0, "hold_tau_alpha": 1.0, "replicas": 3, "thermo_every": 100,
                 "checks": {"max_energy_drift": 1.0e-3, "temperature_tolerance": 0.5}},
    "parallel": {"mpi_ranks": 1, "omp_threads": 1},
    "temperatures": [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 1.0]}],
    "configurations": {"n": 4, "n_train": 3},
    "models": {"enabled": ["ntgnn", "botan"],
               "ntgnn": {"p": 1.0, "epochs": 2, "graphs_per_step": 1, "lr": 1.0e-3},
               "botan": {"p": 0.4, "epochs": 2, "graphs_per_step": 1, "lr": 1.0e-3,
                         "pretrain": {"T": 1.0, "time_index": 1, "epochs": 1}}},
    "network": {"hidden": 16, "message_passing_steps": 2},
    "training": {"validation_fraction": 0.34},
}


def snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    # targets first: --configfile takes the words up to the next option
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2", "-s", str(ROOT / "Snakefile"),
           "--configfile", str(ROOT / "config.yaml"), "tiny.yaml"]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("campaign")
    (work / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    res = snakemake(work)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-6000:]
    return work


def test_campaign_reaches_its_report(campaign):
    res = campaign / "results"
    cells = pd.read_csv(res / "report" / "cells.csv")
    assert set(cells["model"]) >= {"ntgnn", "botan"}
    assert len(cells[cells["model"].isin(["ntgnn", "botan"])]) == 2 * 2  # 2 models x 2 sampling times
    assert (res / "report" / "pearson_vs_time.png").stat().st_size > 1000
    assert (res / "physics" / "T1.00" / "dynamics.json").exists()
    ev = pd.read_csv(res / "eval" / "botan" / "T1.00" / "t1.csv")
    assert list(ev["c"]) == [3]  # the test configuration, never trained on
    assert np.isfinite(ev["pearson_nodes"]).all() and np.isfinite(ev["pearson_edges"]).all()


def test_md_and_label_files_are_complete_and_physical(campaign):
    res = campaign / "results"
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
    (campaign / "results" / "md" / "T1.00" / "c0001" / "replicas.h5").unlink()
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
    res = snakemake(campaign, "--report", "report.html")
    assert res.returncode == 0, res.stderr[-3000:]
    assert (campaign / "report.html").stat().st_size > 10_000
