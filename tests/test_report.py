"""The campaign report: cells table from evaluation CSVs, figures, summary, any subset of inputs."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from glassdyn.campaign import references, report
from glassdyn.cli import main as cli_main
from glassdyn.io import storage
from glassdyn.physics import scoring
from glassdyn.physics.correlation import pearson

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


def _scored_evaluations(root):
    """Eval CSVs with the score columns, from real samples: models, a baseline on C_B and a published row."""
    rng = np.random.default_rng(5)
    samples, paths = {}, []
    for model, target in (("botan", "propensity"), ("tglassmlp", "bond_breaking"), ("baseline-epot", "propensity"),
                          ("baseline-ridge-cb", "bond_breaking"), ("published-SE3", "propensity")):
        rows = []
        for c in range(400, 404):
            y = c - 400 + rng.standard_normal(60)              # configurations with different label means
            x = 0.5 * y + rng.standard_normal(60)
            h1, h2 = y + rng.standard_normal(60), y + rng.standard_normal(60)
            types = np.zeros(60, np.int8)
            ceiling = {"nodes": 0.8 + 0.01 * (c - 400), "nodes_moments": scoring.moments(h1, h2)}
            row = scoring.score_row(types, None, None, y, x, None, None, 1.35, target, ceiling)
            rows.append({"model": model, "T": 0.64, "time_index": 2, "time": 16.5, "tau_alpha": 16.5, "c": c, **row})
            samples.setdefault(model, []).append((x, y, h1, h2))
        p = root / "eval" / model / "T0.64" / "t2.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(p, index=False)
        paths.append(p)
    return paths, samples


def test_pooled_pearson_ceiling_and_reference_rows(tmp_path):
    evals, samples = _scored_evaluations(tmp_path)
    old = _evaluations(tmp_path / "old", models=("ntgnn",))   # eval CSVs without the score columns still read
    cfg = {"temperatures": CAMPAIGN, "models": {"enabled": ["ntgnn", "botan", "tglassmlp"]}}
    out = report.make_report(cfg, evals + old, _dynamics(tmp_path), tmp_path / "report")
    cells = pd.read_csv(out["cells"], dtype={"T": str})
    assert list(cells.columns) == report.CELL_COLUMNS
    for model, data in samples.items():
        r = cells[(cells.model == model) & (cells["T"] == "0.64")].iloc[0]
        x, y = np.concatenate([d[0] for d in data]), np.concatenate([d[1] for d in data])
        assert r.pooled_pearson_nodes == pytest.approx(pearson(x, y), abs=1e-9)
        assert r.pearson_nodes_mean == pytest.approx(np.mean([pearson(a, b) for a, b, *_ in data]))
        assert r.ceiling_nodes == pytest.approx(0.815)
        assert r.ceiling_nodes_std == pytest.approx(np.std([0.80, 0.81, 0.82, 0.83], ddof=1))
        h1, h2 = np.concatenate([d[2] for d in data]), np.concatenate([d[3] for d in data])
        assert r.pooled_ceiling_nodes == pytest.approx(scoring.spearman_brown(pearson(h1, h2)), abs=1e-9)
        assert r.target == ("bond_breaking" if model in ("tglassmlp", "baseline-ridge-cb") else "propensity")
    legacy = cells[cells.model == "ntgnn"]
    assert legacy["pooled_pearson_nodes"].isna().all() and (legacy["target"] == "propensity").all()
    md = out["summary"].read_text()
    assert "label ceiling" in md and "baseline-epot" in md and "published-SE3" in md and "pooled" in md
    glance = md.split("## Prediction accuracy")[0]        # the opening: one line per (T, label) for the references
    assert "- propensity at T = 0.64, t = 16.5: label ceiling 0.815; best baseline baseline-epot" in glance
    assert "best published published-SE3" in glance and "- baseline-epot at" not in glance
    assert out["pearson"].read_bytes()[:8] == PNG
    w, h = Image.open(out["pearson"]).size
    assert h > w / 2          # two rows of panels (propensity, C_B) for two temperatures
    assert references.default_target("baseline-epot-cb") == "bond_breaking"
