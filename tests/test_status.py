"""`glassdyn status` and the report's one-page opening, on a results tree made by the real code paths."""
from __future__ import annotations

import shutil

import gnn_helpers as gh
import numpy as np
import pandas as pd
import pytest
import yaml

from glassdyn import cli
from glassdyn.campaign import report, status
from glassdyn.campaign.resources import md_steps
from glassdyn.gnn.evaluate import evaluate_cell
from glassdyn.gnn.train import train_cell
from glassdyn.io import storage
from glassdyn.labels.dynamics import temperature_dynamics


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    res = root / "results"
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    cfg["results"] = str(res)
    labels = gh.write_labels(cfg, res, range(5), replicas=3)
    md = res / "md" / "T0.64"
    frame = {"positions": np.zeros((128, 3)), "types": np.zeros(128, np.int8), "box": np.full(3, 4.74)}
    for c in range(3):
        storage.write_h5(md / f"c{c:04d}" / "equilibrated.h5", frame)
    for c in range(2):
        storage.write_h5(md / f"c{c:04d}" / "replicas.h5", {"initial_positions": frame["positions"]})
    # c0002: replica 0 done, replica 1 at a quarter of its steps; c0003: equilibration at 10 %
    ck = md / "c0002" / "checkpoints" / "replicas"
    last = round(cfg["temperatures"][0]["times"][-1] / cfg["system"]["timestep"])
    storage.write_h5(ck / "r0000.h5", {"frames": np.zeros((1, 3))}, {"step": last})
    storage.write_h5(ck / "r0001" / "state.h5", {"thermo": np.zeros((1, 5))}, {"step": last // 4})

    eq_steps = md_steps(cfg, "0.64", "equilibrate")
    storage.write_h5(md / "c0003" / "checkpoints" / "equilibrate" / "state.h5", {"thermo": np.zeros((1, 5))},
                     {"step": eq_steps // 10})
    train = res / "train"
    # botan t1: trained and evaluated; botan t0: trained, not evaluated; ntgnn t0: in progress; ntgnn t1: pending
    train_cell(cfg, "botan", "0.64", 1, labels[:4], train / "botan/T0.64/t1")
    evaluate_cell(cfg, train / "botan/T0.64/t1/model.pt", labels[4:], res / "eval/botan/T0.64/t1.csv")
    shutil.copytree(train / "botan/T0.64/t1", train / "botan/T0.64/t0")
    train_cell(cfg, "ntgnn", "0.64", 0, labels[:4], train / "ntgnn/T0.64/t0")
    for name in ("model.pt", "metrics.json", "loss.csv"):
        (train / "ntgnn/T0.64/t0" / name).unlink()
    phys = res / "physics" / "T0.64"
    temperature_dynamics(cfg, 0.64, labels, [], phys / "dynamics.csv", phys / "dynamics.json",
                                  phys / "dynamics.png")
    cfg_file = root / "campaign.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    return {"cfg": cfg, "results": res, "cfg_file": cfg_file}


def test_counts_progress_and_cells(campaign):
    st = status.campaign_status(campaign["cfg"])
    (t,) = st["temperatures"]
    assert (t["equilibrated"], t["replicated"], t["labelled"], t["configurations"]) == (3, 2, 5, 5)
    assert t["replicating"] == [pytest.approx((1 + 0.25) / campaign["cfg"]["protocol"]["replicas"], abs=1e-3)]
    assert t["equilibrating"] == [pytest.approx(0.1, abs=1e-3)]
    assert t["physics"]["md_checks"] is None  # no replicas: not available
    cells = {(c["model"], c["time_index"]): c for c in st["cells"]}
    assert set(cells) == {("ntgnn", 0), ("ntgnn", 1), ("botan", 0), ("botan", 1)}
    ev = pd.read_csv(campaign["results"] / "eval/botan/T0.64/t1.csv")
    assert cells[("botan", 1)]["state"] == "evaluated"
    assert cells[("botan", 1)]["pearson_nodes"] == pytest.approx(ev["pearson_nodes"].mean())
    assert cells[("botan", 1)]["pearson_edges"] == pytest.approx(ev["pearson_edges"].mean())
    assert cells[("botan", 0)]["state"] == "trained" and "val_pearson_nodes" in cells[("botan", 0)]["metrics"]
    assert cells[("ntgnn", 0)]["state"] == "training (2/2 epochs)"
    assert cells[("ntgnn", 0)]["epochs_done"] == 2 and np.isfinite(cells[("ntgnn", 0)]["last"]["val_pearson_nodes"])
    assert cells[("ntgnn", 1)]["state"] == "pending"
    assert st["pretrain"] == [{"model": "botan", "state": "pending"}]


def test_text_and_cli(campaign, capsys, tmp_path):
    rc = cli.main(["status", "--config", str(campaign["cfg_file"]), "--json", str(tmp_path / "st.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| 0.64 | 5 | 3 | 2 | 5 |" in out
    assert "T = 0.64: 1 configuration(s) replicating" in out
    assert "| botan | 0.64 | 1 | 1 | evaluated | 2 |" in out
    assert "cells: 1 evaluated, 1 pending, 1 trained, 1 training (2/2 epochs)" in out
    assert (tmp_path / "st.json").exists()


def test_report_opens_with_the_overview(campaign, tmp_path):
    res = campaign["results"]
    cfg = {k: campaign["cfg"][k] for k in ("temperatures", "models", "training")}  # the report rule's slice
    paths = report.make_report(cfg, [res / "eval/botan/T0.64/t1.csv"], [res / "physics/T0.64/dynamics.csv"], tmp_path)
    text = paths["summary"].read_text()
    lines = text.splitlines()
    assert lines[0] == "# glassdyn campaign summary" and lines[2] == "## At a glance"
    assert "![Pearson correlation vs t/τα](pearson_vs_time.png)" in text
    assert "- botan at T = 0.64, t = 1 (t/τα = 1): nodes" in text
    assert "MD checks: no replicas.h5 files" in text
    assert "τα(1/e) = — (F_s^A stays above 1/e at the last sampling time)" in text
    assert "- 3 of 4 cells not evaluated: ntgnn T0.64 t0, ntgnn T0.64 t1, botan T0.64 t0" in text
    assert text.index("## At a glance") < text.index("## Prediction accuracy")
    # the per-temperature rule passes only `temperatures`: no list of missing cells, no failure
    only_T = report.make_report(cfg, [res / "eval/botan/T0.64/t1.csv"], [],
                                tmp_path / "T")
    body = only_T["summary"].read_text()
    assert "not known to this report" in body and "dynamics of T = 0.64" in body
