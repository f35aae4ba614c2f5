"""The campaign report: cells table from evaluation CSVs, figures, summary, any subset of inputs."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from glassdyn.campaign import report
from glassdyn.cli import main as cli_main
from glassdyn.io import storage

PNG = b"\x89PNG\r\n\x1a\n"
TEMPS = {"0.44": (4120.0, [0.13, 130.0, 4120.0]), "0.64": (16.5, [0.1, 1.65, 16.5])}
# The configuration slices the rules pass: `report` gets temperatures + models, `temperature` one temperature.
CAMPAIGN = [{"T": float(T), "tau_alpha": tau, "times": times} for T, (tau, times) in TEMPS.items()]


def campaign_config(temperatures=CAMPAIGN, models=("ntgnn", "botan")) -> dict:
    """What the report reads (glassdyn.campaign.report.READS)."""
    return {"temperatures": temperatures, "models": {"enabled": list(models)}, "training": {"time_indices": "all"}}


def _evaluations(root, models=("ntgnn", "botan", "tglassmlp")):
    """eval/{model}/T{T}/t{k}.csv in the common layout; node-only models leave pearson_edges empty."""
    rng = np.random.default_rng(0)
    paths = []
    for model in models:
        for T, (tau, times) in TEMPS.items():
            for k, t in enumerate(times):
                n = 4
                edges = rng.uniform(0.5, 0.9, n) if model == "botan" else [np.nan] * n
                df = pd.DataFrame({"model": model, "T": float(T), "time_index": k, "time": t, "tau_alpha": tau,
                                   "c": np.arange(400, 400 + n), "pearson_nodes": rng.uniform(0.4, 0.95, n),
                                   "pearson_edges": edges})
                p = root / "eval" / model / f"T{T}" / f"t{k}.csv"
                p.parent.mkdir(parents=True, exist_ok=True)
                df.to_csv(p, index=False)
                paths.append(p)
    return paths


def _dynamics(root):
    paths = []
    for T, (tau, times) in TEMPS.items():
        t = np.array(times)
        fs = np.exp(-(t / tau) ** 0.8)
        p = root / "physics" / f"T{T}" / "dynamics.csv"
        storage.write_csv(p, pd.DataFrame({"t": t, "t_over_tau": t / tau, "fs": fs, "fs_err": 0.01 * fs,
                                           "msd": 0.1 * t, "msd_err": 0.01 * t, "chi4": fs * (1 - fs)}))
        storage.write_json(p.with_suffix(".json"), {
            "T": float(T), "tau_alpha_config": tau, "tau_alpha_1e": tau * 1.1, "tau_alpha_1e_err": 0.1 * tau,
            "tau_alpha_fit": None, "tau_alpha_fit_err": None, "n_configurations": 2, "n_replicas": 8,
            "tau_alpha_1e_reason": "", "fit": {"success": False, "reason": "3 sampling times"},
            "md_checks": {"available": True, "n_replicas": 16,
                          "energy_drift": {"max": 3e-5, "limit": 1e-4, "ok": True},
                          "temperature0": {"mean": float(T), "relative_deviation": 0.01, "ok": True}}})
        paths.append(p)
    return paths


def test_cells_table_and_figures(tmp_path):
    evals, dyn = _evaluations(tmp_path), _dynamics(tmp_path)
    cfg = campaign_config()
    out = report.make_report(cfg, evals, dyn, tmp_path / "report")
    cells = pd.read_csv(out["cells"], dtype={"T": str})
    assert list(cells.columns) == report.CELL_COLUMNS
    assert len(cells) == 3 * 2 * 3 and set(cells["model"]) == {"ntgnn", "botan", "tglassmlp"}
    raw = pd.concat([pd.read_csv(p) for p in evals])
    for r in cells.itertuples():
        g = raw[(raw.model == r.model) & np.isclose(raw["T"], float(r.T)) & (raw.time_index == r.time_index)]
        assert r.n_test == len(g) == 4
        assert r.pearson_nodes_mean == pytest.approx(g.pearson_nodes.mean())
        assert r.pearson_nodes_std == pytest.approx(g.pearson_nodes.std(ddof=1))
        assert r.t_over_tau == pytest.approx(g.time.iloc[0] / g.tau_alpha.iloc[0])
        if r.model == "botan":
            assert r.pearson_edges_mean == pytest.approx(g.pearson_edges.mean())
        else:
            assert math.isnan(r.pearson_edges_mean)
    for name in ("pearson", "fs"):
        assert out[name].read_bytes()[:8] == PNG
    md = out["summary"].read_text()
    assert "tglassmlp" in md and "4532" in md and "pass" in md   # τα 1/e = 1.1 × 4120


def test_one_temperature_subset_and_empty_inputs(tmp_path):
    """The `temperature` rule passes one T; a report with nothing yet still writes every file."""
    evals = [p for p in _evaluations(tmp_path, models=("botan",)) if "T0.64" in str(p)]
    dyn = [p for p in _dynamics(tmp_path) if "T0.64" in str(p)]
    out = report.make_report(campaign_config(CAMPAIGN[1:]), evals, dyn, tmp_path / "summary" / "T0.64")
    cells = pd.read_csv(out["cells"], dtype={"T": str})
    assert set(cells["T"]) == {"0.64"} and len(cells) == 3
    empty = report.make_report(campaign_config(), [], [], tmp_path / "empty")
    assert pd.read_csv(empty["cells"]).empty
    assert empty["pearson"].read_bytes()[:8] == PNG and empty["fs"].read_bytes()[:8] == PNG


def test_dynamics_without_json_takes_T_from_the_folder(tmp_path):
    p = _dynamics(tmp_path)[0]
    p.with_suffix(".json").unlink()
    d = report.read_dynamics([p])
    assert d[0]["T"] == "0.44" and d[0]["info"]["T"] == 0.44


def test_bad_evaluation_file_is_named(tmp_path):
    bad = tmp_path / "eval" / "x" / "T0.44" / "t0.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("model,T,c\nbotan,0.44,400\n")
    with pytest.raises(storage.StorageError, match="t0.csv.*missing column"):
        report.make_report(campaign_config(), [bad], [], tmp_path / "r")
    with pytest.raises(storage.StorageError, match="nothere.csv"):
        report.make_report(campaign_config(), [tmp_path / "nothere.csv"], [], tmp_path / "r")


def test_cli_report(tmp_path):
    evals, dyn = _evaluations(tmp_path, models=("ntgnn",)), _dynamics(tmp_path)
    params = json.dumps(campaign_config(models=["ntgnn"]))
    rc = cli_main(["report", "--params", params, "--evaluations", *map(str, evals), "--dynamics", *map(str, dyn),
                   "--output-dir", str(tmp_path / "report")])
    assert rc == 0
    assert len(pd.read_csv(tmp_path / "report" / "cells.csv")) == 6
