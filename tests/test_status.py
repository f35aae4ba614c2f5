"""`glassdyn status` and the report's one-page opening, on a results tree made by the real code paths.

Status identifies every cell by what its files record (never by the configured index), never counts an
unreadable file as done, covers every family (graph networks with pretraining, tGlassMLP, OGN), and with a
configuration lists what is still expected as pending.
"""
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
from glassdyn.gnn import train as gnn_train
from glassdyn.gnn.evaluate import evaluate_cell
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS
from glassdyn.labels.dynamics import temperature_dynamics
from glassdyn.models.ogn import OGN
from glassdyn.models.tglassmlp import TGlassMLP
from glassdyn.ogn.rollout import ROLLOUT_COLUMNS
from glassdyn.ogn.train import save_model
from glassdyn.tglassmlp.fitting import save_member


def _md_files(cfg: dict, res) -> None:
    """c0..2 equilibrated, c0..1 replicated; c0002 halfway through its replicas, c0003 equilibrating."""
    md = res / "md" / "T0.64"
    frame = {"positions": np.zeros((128, 3)), "types": np.zeros(128, np.int8), "box": np.full(3, 4.74)}
    for c in range(3):
        storage.write_h5(md / f"c{c:04d}" / "equilibrated.h5", frame, {"T": 0.64, "c": c})
    for c in range(2):
        storage.write_h5(md / f"c{c:04d}" / "replicas.h5", {"initial_positions": frame["positions"]},
                         {"T": 0.64, "c": c})
    ck = md / "c0002" / "checkpoints" / "replicas"
    last = round(cfg["temperatures"][0]["times"][-1] / cfg["system"]["timestep"])
    storage.write_h5(ck / "r0000.h5", {"frames": np.zeros((1, 3))}, {"step": last})
    storage.write_h5(ck / "r0001" / "state.h5", {"thermo": np.zeros((1, 5))}, {"step": last // 4})
    storage.write_h5(md / "c0003" / "checkpoints" / "equilibrate" / "state.h5", {"thermo": np.zeros((1, 5))},
                     {"step": md_steps(cfg, "0.64", "equilibrate") // 10})


def _other_families(res) -> None:
    """tGlassMLP: main member 0 and the eval CSV of (0.64, k=1); OGN: the ogn/liquid model and its rollout."""
    save_member(res / "train/tglassmlp/main/m0/model.pt", TGlassMLP(3), {"variant": "main", "member": 0})
    rows = [{"model": "tglassmlp", "T": 0.64, "time_index": 1, "time": 1.0, "tau_alpha": 1.0, "c": 4,
             "pearson_nodes": 0.5, "pearson_edges": float("nan")}]
    storage.write_csv(res / "eval/tglassmlp/T0.64/t1.csv", pd.DataFrame(rows, columns=EVAL_COLUMNS))
    save_model(res / "ogn/train/ogn/liquid/model.pt", OGN(hidden=8, layers=1),
               {"variant": "ogn", "source": "liquid", "k": 1, "T": 3.0})
    roll = [{"variant": "ogn", "source": "liquid", "k": 1, "trajectory": 0, "engine": e, "step": s, "time": 0.005 * s,
             "rmse_position": 0.1 * s + (e == "ogn"), "rmse_velocity": 0.2 * s} for e in ("md", "ogn") for s in (0, 4)]
    storage.write_csv(res / "ogn/rollout/ogn/liquid.csv", pd.DataFrame(roll, columns=ROLLOUT_COLUMNS))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    res = root / "results"
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    cfg["results"] = str(res)
    labels = gh.write_labels(cfg, res, range(5), replicas=3)
    _md_files(cfg, res)
    train = res / "train"
    # botan t1: trained and evaluated; botan t0: trained; ntgnn t0: killed after its last checkpoint; ntgnn t1: none
    gnn_train.train_cell(cfg, "botan", "0.64", 1, labels[:4], train / "botan/T0.64/t1")
    evaluate_cell(cfg, train / "botan/T0.64/t1/model.pt", labels[4:], res / "eval/botan/T0.64/t1.csv")
    gnn_train.train_cell(cfg, "botan", "0.64", 0, labels[:4], train / "botan/T0.64/t0")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gnn_train, "_finish", lambda *a: None)
        gnn_train.train_cell(cfg, "ntgnn", "0.64", 0, labels[:4], train / "ntgnn/T0.64/t0")
    _other_families(res)
    phys = res / "physics" / "T0.64"
    temperature_dynamics(cfg, 0.64, labels, [], phys / "dynamics.csv", phys / "dynamics.json", phys / "dynamics.png")
    cfg_file = root / "campaign.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    return {"cfg": cfg, "results": res, "cfg_file": cfg_file}


def _cells(st: dict) -> dict:
    return {(c["model"], c["stage"], c["time_index"]): c for c in st["cells"]}


def test_counts_progress_and_cells_of_every_family(campaign):
    st = status.campaign_status(campaign["cfg"])
    (t,) = st["temperatures"]
    assert (t["equilibrated"], t["replicated"], t["labelled"], t["configurations"]) == (3, 2, 5, 5)
    assert [j["fraction"] for j in t["replicating"]] == [
        pytest.approx((1 + 0.25) / campaign["cfg"]["protocol"]["replicas"], abs=1e-3)]
    assert [j["fraction"] for j in t["equilibrating"]] == [pytest.approx(0.1, abs=1e-3)]
    assert t["physics"]["md_checks"] is None  # no replicas: not available
    cells = _cells(st)
    ev = pd.read_csv(campaign["results"] / "eval/botan/T0.64/t1.csv")
    botan1 = cells[("botan", "train", 1)]
    assert botan1["state"] == "evaluated" and botan1["time"] == pytest.approx(1.0)
    assert botan1["pearson_nodes"] == pytest.approx(ev["pearson_nodes"].mean())
    assert botan1["pearson_edges"] == pytest.approx(ev["pearson_edges"].mean())
    botan0 = cells[("botan", "train", 0)]
    assert botan0["state"] == "trained" and "val_pearson_nodes" in botan0["metrics"]
    assert botan0["time"] == pytest.approx(0.1)
    ntgnn0 = cells[("ntgnn", "train", 0)]  # identity and progress from its checkpoint.pt
    assert ntgnn0["state"] == "training (2/2 epochs)" and ntgnn0["time"] == pytest.approx(0.1)
    assert ntgnn0["epochs_done"] == 2 and np.isfinite(ntgnn0["last"]["val_pearson_nodes"])
    assert cells[("ntgnn", "train", 1)]["state"] == "pending"
    assert cells[("botan", "pretrain", 0)]["state"] == "pending"
    assert cells[("tglassmlp", "train", 1)]["state"] == "evaluated"
    assert cells[("tglassmlp", "train", 1)]["pearson_nodes"] == 0.5
    assert cells[("tglassmlp", "train", 0)]["state"] == "pending"
    assert [(m["member"], m["state"]) for m in st["tglassmlp_members"]] == [(0, "trained"), (1, "pending")]
    ogn = {r["variant"]: r for r in st["ogn"]}
    assert ogn["ogn"]["state"] == "evaluated" and ogn["ogn"]["rmse_position"] == pytest.approx(1.4)
    assert ogn["fast_ogn"]["state"] == "pending" and st["ogn_summary"] == {"state": "missing"}
    assert st["problems"] == []


def test_without_a_configuration_cells_are_what_their_files_record(campaign):
    st = status.campaign_status(None, campaign["results"])
    assert [(c["model"], c["stage"], c["T"], c["time_index"], c["time"], c["state"]) for c in st["cells"]] == [
        ("botan", "train", "0.64", 0, pytest.approx(0.1), "trained"),
        ("botan", "train", "0.64", 1, pytest.approx(1.0), "evaluated"),
        ("ntgnn", "train", "0.64", 0, pytest.approx(0.1), "training (2/2 epochs)"),
        ("tglassmlp", "train", "0.64", 1, pytest.approx(1.0), "evaluated")]
    assert [(m["variant"], m["member"]) for m in st["tglassmlp_members"]] == [("main", 0)]
    assert [(r["variant"], r["source"], r["k"]) for r in st["ogn"]] == [("ogn", "liquid", 1)]
    (t,) = st["temperatures"]
    assert (t["T"], t["configurations"], t["equilibrated"], t["labelled"]) == ("0.64", 5, 3, 5)


def test_an_added_sampling_time_shifts_no_cell(campaign):
    """times [0.1, 1.0] -> [0.1, 0.5, 1.0]: the model trained at t = 1.0 (index 1) stays t = 1.0; the
    configured (k=1, t=0.5) and (k=2, t=1.0) cells are pending."""
    cfg = {**campaign["cfg"], "temperatures": [{"T": 0.64, "tau_alpha": 1.0, "times": [0.1, 0.5, 1.0]}]}
    rows = [c for c in status.campaign_status(cfg)["cells"] if c["model"] == "botan" and c["stage"] == "train"]
    assert [(c["time_index"], c["time"], c["state"], c["note"]) for c in rows] == [
        (0, pytest.approx(0.1), "trained", ""),
        (1, pytest.approx(1.0), "evaluated", "the configuration's t at this index is 0.5"),
        (1, pytest.approx(0.5), "pending", ""),
        (2, pytest.approx(1.0), "pending", "")]


def _truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_unreadable_or_missing_files_are_problems_never_progress(campaign, tmp_path):
    res = tmp_path / "results"
    shutil.copytree(campaign["results"], res)
    (res / "train/botan/T0.64/t1/model.pt").unlink()  # its eval CSV stays behind
    _truncate(res / "train/botan/T0.64/t0/model.pt")
    _truncate(res / "train/ntgnn/T0.64/t0/checkpoint.pt")
    _truncate(res / "labels/T0.64/c0004.h5")
    _truncate(res / "eval/tglassmlp/T0.64/t1.csv")
    _truncate(res / "ogn/train/ogn/liquid/model.pt")
    st = status.campaign_status({**campaign["cfg"], "results": str(res)})
    cells = _cells(st)
    assert cells[("botan", "train", 1)]["state"] == "incomplete"  # was "evaluated"
    assert cells[("botan", "train", 1)]["time"] == pytest.approx(1.0)  # from its metrics.json
    assert cells[("botan", "train", 0)]["state"] == "unreadable"
    assert cells[("ntgnn", "train", 0)]["state"] == "unreadable"
    assert cells[("tglassmlp", "train", 1)]["state"] == "incomplete"
    assert {r["variant"]: r["state"] for r in st["ogn"]}["ogn"] == "unreadable"
    assert st["temperatures"][0]["labelled"] == 4
    text = "\n".join(st["problems"])
    for expected in ("t1/model.pt: missing", "eval/botan/T0.64/t1.csv: an evaluation without a readable model.pt",
                     "t0/model.pt: not a readable glassdyn model file", "checkpoint.pt: not a readable",
                     "c0004.h5: not a readable HDF5 file", "eval/tglassmlp/T0.64/t1.csv:",
                     "ogn/liquid/model.pt: not a readable", "ogn/rollout/ogn/liquid.csv: a rollout"):
        assert expected in text, (expected, text)
    assert "evaluated" not in {c["state"] for c in st["cells"]}


def test_a_moved_model_is_listed_by_what_it_records(campaign, tmp_path):
    res = tmp_path / "results"
    shutil.copytree(campaign["results"] / "train/botan/T0.64/t1", res / "train/botan/T0.64/t7")
    (row,) = status.campaign_status(None, res)["cells"]
    assert (row["time_index"], row["state"]) == (1, "trained")
    assert "record time_index = 1, not what the folder name says" in row["problems"][0]


def test_text_and_cli(campaign, capsys, tmp_path):
    rc = cli.main(["status", "--config", str(campaign["cfg_file"]), "--json", str(tmp_path / "st.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "against the configuration" in out
    assert "| 0.64 | 5 | 3 | 2 | 5 |" in out
    assert "T = 0.64: 1 configuration(s) replicating" in out
    assert "| botan | train | 0.64 | 1 | 1 | evaluated | — |" in out
    assert "| ntgnn | train | 0.64 | 0 | 0.1 | training (2/2 epochs) | 2 |" in out
    assert "| ogn | liquid | 1 | evaluated | 4 | 1.4 |" in out
    assert "cells: 2 evaluated, 3 pending, 1 trained, 1 training (2/2 epochs)" in out
    assert (tmp_path / "st.json").exists()
    assert cli.main(["status", "--results", str(campaign["results"])]) == 0
    out = capsys.readouterr().out
    assert "from the files alone (no --config)" in out and "pending" not in out


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
    # no dynamics given: the report says which temperature lacks them
    without = report.make_report(cfg, [res / "eval/botan/T0.64/t1.csv"], [], tmp_path / "T")
    assert "dynamics of T = 0.64" in without["summary"].read_text()
