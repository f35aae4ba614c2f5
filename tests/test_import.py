"""Published data sets as campaign input: BOTAN and GlassBench layouts written here, imported as labels."""
from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import gnn_helpers as gh
import numpy as np
import pandas as pd
import pytest
import yaml

from glassdyn import config as gcfg
from glassdyn.baselines import published as published_scores
from glassdyn.config.derived import GLASSBENCH_PUBLISHED
from glassdyn.io import published, storage
from glassdyn.labels import imported as D
from glassdyn.labels.extract import labels_from_positions
from glassdyn.md.inherent import inherent_structure
from glassdyn.physics.correlation import pearson
from glassdyn.physics.graphs import build_graph

ROOT = Path(__file__).resolve().parents[1]
N = 128
TIMES = [0.1, 1.0]
FILE_NUMBERS = [1, 2, 3, 4, 401]  # four "train" files and one "test" file, as the BOTAN numbering
TIME_FILES = [3, 7]               # campaign time 0 <- tc03, time 1 <- tc07


def write_botan(folder: Path, replicas: int = 3) -> dict:
    """BOTAN-layout files: one per (configuration, time index), replica positions unwrapped, no box."""
    truth = {}
    for c, i in enumerate(FILE_NUMBERS):
        types, box, x0 = gh.structure(N, seed=100 + c)
        pos = gh.replica_positions(types, box, x0, TIMES, replicas, seed=200 + c)  # (R, n_t, N, 3)
        sub = folder / ("train" if i < 401 else "test")
        sub.mkdir(parents=True, exist_ok=True)
        for t, k in enumerate(TIME_FILES):
            np.savez(sub / f"isoconfig_N{N}T0.64_{i}_tc{k:02d}.npz", types=types, initial_positions=x0,
                     positions=pos[:, t])
        truth[c] = (types, box, x0, pos)
    return truth


def write_glassbench(folder: Path, n_t_file: int = 4) -> dict:
    truth = {}
    rng = np.random.default_rng(9)
    for c, i in enumerate(FILE_NUMBERS):
        types, box, x0 = gh.structure(N, seed=300 + c)
        md_prop, bb_prop = rng.random((n_t_file, N)), rng.random((n_t_file, N))
        sub = folder / "T0.64" / ("train" if i < 401 else "test")
        sub.mkdir(parents=True, exist_ok=True)
        np.savez(sub / f"N{N}T0.64_{i}.npz", types=types, initial_positions=x0, md_prop=md_prop,
                 bb_prop=bb_prop.T, initial_positions_inherent=x0 + 0.01)  # bb_prop stored (N, n_t): transposed back
        truth[c] = (types, box, x0, md_prop, bb_prop)
    return truth


def campaign(kind: str, path: Path, results: Path | None = None, **source) -> dict:
    """A small campaign (N = 128, one temperature, two times) whose labels come from published files."""
    cfg = copy.deepcopy(gh.small_config(n=N, n_conf=len(FILE_NUMBERS), n_train=4))
    cfg["temperatures"] = [{"T": 0.64, "tau_alpha": 1.0, "times": TIMES}]
    cfg["source"] = {"kind": kind, "path": str(path), "file_indices": FILE_NUMBERS, **source}
    if kind == "glassbench":
        cfg["models"]["enabled"] = ["ntgnn"]
    if results is not None:
        cfg["results"] = str(results)
    return gcfg.validate(cfg)


# --------------------------------------------------------------------------- BOTAN
def test_botan_import_is_labels_from_positions(tmp_path):
    truth = write_botan(tmp_path / "botan")
    cfg = campaign("botan", tmp_path / "botan", time_files=TIME_FILES)
    for c in (0, 4):
        files = published.source_files(cfg, "0.64", c)
        assert [f.name for f in files] == [f"isoconfig_N{N}T0.64_{FILE_NUMBERS[c]}_tc{k:02d}.npz" for k in TIME_FILES]
        assert files[0].parent.name == ("test" if c == 4 else "train")
        out = D.import_labels(cfg, "0.64", c, files, tmp_path / f"labels/T0.64/c{c:04d}.h5")
        got, attrs = storage.read_h5(out)
        types, box, x0, pos = truth[c]
        want = labels_from_positions(types, np.full(3, gcfg.box_length(cfg)), x0, pos, np.array(TIMES), cfg)
        assert set(want) <= set(got)
        for k, v in want.items():
            np.testing.assert_allclose(got[k], v, rtol=1e-6, atol=1e-6, err_msg=k)
        assert attrs["source"] == "botan" and attrs["file_number"] == FILE_NUMBERS[c] and attrs["n_replicas"] == 3
        assert list(attrs["time_files"]) == TIME_FILES
    # a wrong time mapping reads other files: the labels change
    swapped = campaign("botan", tmp_path / "botan", time_files=TIME_FILES[::-1])
    out = D.import_labels(swapped, "0.64", 0, published.source_files(swapped, "0.64", 0), tmp_path / "swapped.h5")
    assert not np.allclose(storage.read_h5(out, ["propensity"])[0]["propensity"],
                           storage.read_h5(tmp_path / "labels/T0.64/c0000.h5", ["propensity"])[0]["propensity"])


def test_botan_file_errors(tmp_path):
    write_botan(tmp_path / "botan")
    cfg = campaign("botan", tmp_path / "botan", time_files=TIME_FILES)
    files = published.source_files(cfg, "0.64", 1)
    # a time file of another configuration
    other = published.source_files(cfg, "0.64", 2)[1]
    with pytest.raises(storage.StorageError, match="t = 0 structure differs"):
        D.import_labels(cfg, "0.64", 1, [files[0], other], tmp_path / "x.h5")
    # a file that is not there is named where it was looked for
    cfg_missing = campaign("botan", tmp_path / "botan", time_files=[3, 5])
    missing = published.source_files(cfg_missing, "0.64", 0)[1]
    assert missing == tmp_path / "botan" / f"isoconfig_N{N}T0.64_1_tc05.npz" and not missing.exists()
    with pytest.raises(storage.StorageError, match="does not exist"):
        D.import_labels(cfg_missing, "0.64", 0, published.source_files(cfg_missing, "0.64", 0), tmp_path / "x.h5")
    # another system size
    big = copy.deepcopy(cfg)
    big["system"]["n_particles"] = 256
    np.savez(tmp_path / "n.npz", types=np.zeros(N, np.int8), initial_positions=np.ones((N, 3)),
             positions=np.ones((2, N, 3)))
    with pytest.raises(storage.StorageError, match="system.n_particles = 256; set it to 128"):
        D.import_botan(big, "0.64", 0, [tmp_path / "n.npz"] * 2, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("change, key", [
    ({"path": None}, "source.path"),
    ({"file_indices": [1, 2]}, "source.file_indices"),
    ({"time_files": [7]}, "source.time_files"),
])
def test_source_config_errors(tmp_path, change, key):
    cfg = campaign("botan", tmp_path)
    cfg["source"].update(change)
    with pytest.raises(gcfg.ConfigError, match=key.replace(".", r"\.")):
        gcfg.validate(cfg)


def test_glassbench_refuses_edge_models(tmp_path):
    cfg = campaign("glassbench", tmp_path)
    cfg["models"]["enabled"] = ["ntgnn", "botan"]
    with pytest.raises(gcfg.ConfigError, match=r"models\.enabled.*\['botan'\].*GlassBench"):
        gcfg.validate(cfg)


# --------------------------------------------------------------------------- GlassBench
def test_glassbench_import_writes_node_labels_only(tmp_path):
    truth = write_glassbench(tmp_path / "gb")
    cfg = campaign("glassbench", tmp_path / "gb", time_files=[1, 3])
    files = published.source_files(cfg, "0.64", 4)
    assert files == [tmp_path / "gb" / "T0.64" / "test" / f"N{N}T0.64_401.npz"]
    out = D.import_labels(cfg, "0.64", 4, files, tmp_path / "c0004.h5")
    got, attrs = storage.read_h5(out)
    types, box, x0, md_prop, bb_prop = truth[4]
    np.testing.assert_allclose(got["propensity"], md_prop[[1, 3]], rtol=1e-6)
    np.testing.assert_allclose(got["bond_breaking"], bb_prop[[1, 3]], rtol=1e-6)
    ei, ev = build_graph(x0, np.full(3, gcfg.box_length(cfg)), cfg["graph"]["cutoff"])
    np.testing.assert_array_equal(got["edge_index"], ei)
    np.testing.assert_allclose(got["edge_vectors"], ev)
    np.testing.assert_allclose(got["times"], TIMES)
    assert "inherent_positions" in got
    for absent in ("pair_distance_change", "relative_motion", "nonaffine", "fs_A", "msd_A"):
        assert absent not in got and absent in attrs["absent"]
    # node models read it; an edge model is told what is missing
    from glassdyn.gnn.data import read_cell

    d, _ = read_cell(out, 1, need_nodes=True, need_edges=False, edge_eval_cutoff=1.35)
    np.testing.assert_allclose(d["propensity"], md_prop[3], rtol=1e-6)
    with pytest.raises(storage.StorageError, match="pair_distance_change"):
        read_cell(out, 1, need_nodes=True, need_edges=True, edge_eval_cutoff=1.35)


def test_glassbench_time_index_beyond_file(tmp_path):
    write_glassbench(tmp_path / "gb", n_t_file=2)
    cfg = campaign("glassbench", tmp_path / "gb", time_files=[0, 5])
    with pytest.raises(storage.StorageError, match="has 2 times but the campaign needs time index 5"):
        D.import_labels(cfg, "0.64", 0, published.source_files(cfg, "0.64", 0), tmp_path / "x.h5")


# --------------------------------------------------------------------------- the workflow
def _configfile(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "campaign.yaml"
    p.write_text(yaml.safe_dump(cfg))  # the whole validated configuration: merged onto config.yaml it is itself
    return p


def _snakemake(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("kind", ["botan", "glassbench"])
def test_dag_starts_at_the_labels(tmp_path, kind):
    (write_botan if kind == "botan" else write_glassbench)(tmp_path / "data")
    cfg = campaign(kind, tmp_path / "data", results=tmp_path / "results",
                   **({"time_files": TIME_FILES} if kind == "botan" else {}))
    res = _snakemake("-n", "--quiet", "rules", "--configfile", str(_configfile(tmp_path, cfg)))
    assert res.returncode == 0, res.stdout + res.stderr
    from test_workflow_dag import job_counts

    counts = job_counts(res.stdout + res.stderr)
    assert counts["import_labels"] == len(FILE_NUMBERS)
    assert not {"equilibrate", "replicas", "labels"} & set(counts)
    cells = len([m for m in cfg["models"]["enabled"] if m in ("ntgnn", "botan")]) * len(TIMES)
    assert counts["dynamics"] == 1 and counts["train"] == cells and counts["evaluate"] == cells
    assert counts.get("pretrain", 0) == (1 if kind == "botan" else 0)
    assert counts["baselines"] == len(TIMES)                  # one per (T, time): every baseline
    assert counts.get("published_scores", 0) == (len(TIMES) if kind == "glassbench" else 0)


@pytest.mark.slow
def test_botan_campaign_trains_and_evaluates_without_md(tmp_path):
    """The whole DAG on imported BOTAN-layout files: import -> dynamics, pretrain -> train -> evaluate -> report."""
    write_botan(tmp_path / "data")
    cfg = campaign("botan", tmp_path / "data", results=tmp_path / "results", time_files=TIME_FILES)
    cfg["network"] = {"hidden": 8, "message_passing_steps": 1}
    cfg["models"]["botan"].update(epochs=1)
    cfg["models"]["enabled"] = ["botan"]
    cfg["training"]["time_indices"] = [1]
    res = _snakemake("--cores", "2", "--configfile", str(_configfile(tmp_path, cfg)), timeout=900)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    results = tmp_path / "results"
    assert not (results / "md").exists()
    cells = (results / "report" / "cells.csv").read_text().splitlines()
    models = [row for row in cells[1:] if not row.startswith("baseline-")]
    assert len(models) == 1 and models[0].startswith("botan,0.64,1,")
    assert len(cells) == 1 + 1 + 6            # + the baselines neighbours, density, epot on S and on C_B
    summary = (results / "report" / "summary.md").read_text()
    assert "## At a glance" in summary and "MD checks: no replicas.h5 files" in summary


# --------------------------------------------------------------------------- GlassBench as published
GB_TIMES = 10   # md_prop, bb_prop and the predictions: one row per time of the temperature's grid


def write_glassbench_published(folder: Path, encoding: tuple[int, int]) -> dict:
    """Files in the published layout: T{T}/{train,test}/N{N}T{T}_{i}.npz, types in ``encoding`` (A, B),
    positions wrapped to [−L/2, L/2), inherent and cage positions, predictions on the test file only."""
    truth = {}
    rng = np.random.default_rng(encoding[0])
    for c, i in enumerate(FILE_NUMBERS):
        types, box, x0 = gh.structure(N, seed=500 + c)
        L = box[0]
        centred = np.mod(x0, L) - L / 2                       # published coordinates in [−L/2, L/2)
        md, bb = rng.random((GB_TIMES, N)), rng.random((GB_TIMES, N))
        arrays = dict(types=np.where(types == 0, encoding[0], encoding[1]).astype(np.int64),
                      initial_positions=centred, md_prop=md, bb_prop=bb,
                      initial_positions_inherent=centred + 0.01 * rng.standard_normal((N, 3)),
                      initial_positions_cage=centred + 0.02)
        preds = {}
        if i >= 401:
            preds = {"BOTAN": md + 0.3 * rng.standard_normal(md.shape), "SE3": md + 0.1 * rng.standard_normal(md.shape),
                     "EPOT": -md + 0.5 * rng.standard_normal(md.shape),
                     "GlassMLP": (bb[:, types == 0] + 0.2 * rng.standard_normal(bb[:, types == 0].shape)).T}
            arrays.update(preds)
        sub = folder / "T0.64" / ("train" if i < 401 else "test")
        sub.mkdir(parents=True, exist_ok=True)
        np.savez(sub / f"N{N}T0.64_{i}.npz", **arrays)
        truth[c] = dict(types=types, x0=centred, md=md, bb=bb, preds=preds,
                        inherent=arrays["initial_positions_inherent"])
    return truth


@pytest.mark.parametrize("encoding", [(0, 1), (1, 2)])
def test_glassbench_published_layout_imports_with_either_type_encoding(tmp_path, encoding, caplog):
    truth = write_glassbench_published(tmp_path / "gb", encoding)
    cfg = campaign("glassbench", tmp_path / "gb", time_files=[3, 6],
                   published={"BOTAN": "propensity", "SE3": "propensity", "EPOT": "propensity",
                              "GlassMLP": "bond_breaking"})
    L = gcfg.box_length(cfg)
    for c in (0, 4):
        with caplog.at_level("INFO", logger="glassdyn.datasets"):
            out = D.import_labels(cfg, "0.64", c, published.source_files(cfg, "0.64", c),
                                  tmp_path / f"labels/T0.64/c{c:04d}.h5")
        got, attrs = storage.read_h5(out)
        t = truth[c]
        np.testing.assert_array_equal(got["types"], t["types"])              # A = the 80 % majority -> 0
        assert f"A = {encoding[0]}" in attrs["types_note"] and f"A = {encoding[0]}" in caplog.text
        np.testing.assert_allclose(got["positions"], np.mod(t["x0"], L), atol=1e-9)   # [−L/2, L/2) -> [0, L)
        assert got["positions"].min() >= 0 and got["positions"].max() < L
        np.testing.assert_allclose(got["inherent_positions"], np.mod(t["inherent"], L), atol=1e-9)
        assert "cage_positions" in got
        np.testing.assert_allclose(got["propensity"], t["md"][[3, 6]], rtol=1e-6)
        np.testing.assert_allclose(got["bond_breaking"], t["bb"][[3, 6]], rtol=1e-6)
        if c == 4:   # the test file carries the predictions; an (N_A, n_t) one is scattered onto the A particles
            np.testing.assert_allclose(got["published/SE3"], t["preds"]["SE3"][[3, 6]], rtol=1e-6)
            a = t["types"] == 0
            np.testing.assert_allclose(got["published/GlassMLP"][:, a], t["preds"]["GlassMLP"].T[[3, 6]], rtol=1e-6)
            assert np.isnan(got["published/GlassMLP"][:, ~a]).all()
            assert attrs["published"] == ["BOTAN", "EPOT", "GlassMLP", "SE3"]
        else:
            assert not any(k.startswith("published/") for k in got) and attrs["published"] == []


def test_glassbench_published_predictions_score_as_written(tmp_path):
    truth = write_glassbench_published(tmp_path / "gb", (1, 2))
    cfg = campaign("glassbench", tmp_path / "gb", time_files=[3, 6],
                   published={"SE3": "propensity", "EPOT": "propensity", "GlassMLP": "bond_breaking"})
    path = D.import_labels(cfg, "0.64", 4, published.source_files(cfg, "0.64", 4), tmp_path / "labels/T0.64/c0004.h5")
    assert published_scores.model_names(cfg) == ["published-SE3", "published-EPOT", "published-GlassMLP"]
    outs = published_scores.published_rule(cfg, "0.64", 1, [str(path)], tmp_path / "eval")
    assert [p.parent.parent.name for p in outs] == published_scores.model_names(cfg)
    t, a = truth[4], truth[4]["types"] == 0
    for name, want in (("SE3", pearson(t["preds"]["SE3"][6][a], t["md"][6][a])),
                       ("EPOT", pearson(t["preds"]["EPOT"][6][a], t["md"][6][a])),
                       ("GlassMLP", pearson(t["preds"]["GlassMLP"].T[6], t["bb"][6][a]))):
        row = pd.read_csv(tmp_path / "eval" / f"published-{name}" / "T0.64" / "t1.csv").iloc[0]
        assert row["pearson_nodes"] == pytest.approx(want, abs=1e-6) and row["c"] == 4 and row["nodes_n"] == a.sum()
        assert math.isnan(row["ceiling_nodes"])    # no replicas in GlassBench: no ceiling
    assert pd.read_csv(outs[1])["pearson_nodes"].iloc[0] < -0.5      # EPOT anticorrelated: kept as written
    # a prediction the file does not hold is named with what to do
    bad = copy.deepcopy(cfg)
    bad["source"]["published"] = {"CAGE": "propensity"}
    with pytest.raises(storage.StorageError, match="no published prediction 'CAGE'.*source.published"):
        published_scores.published_rule(bad, "0.64", 1, [str(path)], tmp_path / "eval2")


def test_inherent_rule_takes_the_published_inherent_structure(tmp_path, laptop_config):
    truth = write_glassbench_published(tmp_path / "gb", (0, 1))
    cfg = campaign("glassbench", tmp_path / "gb", time_files=[3, 6])
    path = D.import_labels(cfg, "0.64", 0, published.source_files(cfg, "0.64", 0), tmp_path / "labels/T0.64/c0000.h5")
    out = inherent_structure(cfg, path, tmp_path / "inherent.h5")
    got, attrs = storage.read_h5(out)
    L = gcfg.box_length(cfg)
    np.testing.assert_allclose(got["positions"], np.mod(truth[0]["inherent"], L), atol=1e-9)   # not minimised again
    assert attrs["iterations"] == 0 and "published" in attrs["minimizer"]["min_style"]


def test_glassbench_types_need_a_majority(tmp_path):
    with pytest.raises(storage.StorageError, match="3 distinct values"):
        published.glassbench_types(np.array([0, 1, 2, 0]), tmp_path / "x.npz")
    with pytest.raises(storage.StorageError, match="equally frequent"):
        published.glassbench_types(np.array([1, 2, 1, 2]), tmp_path / "x.npz")
    t, note = published.glassbench_types(np.array([2, 2, 2, 2, 1]), tmp_path / "x.npz")
    assert t.tolist() == [0, 0, 0, 0, 1] and "A = 2" in note


def test_glassbench_config_is_valid_with_the_published_time_grids():
    cfg = gcfg.load(ROOT / "config.yaml", ROOT / "config" / "glassbench.yaml")
    assert [t["T"] for t in cfg["temperatures"]] == [0.44, 0.50, 0.56, 0.64]
    assert all(len(t["times"]) == GB_TIMES and t["times"][6] == t["tau_alpha"] for t in cfg["temperatures"])
    assert gcfg.source_settings(cfg)["published"] == GLASSBENCH_PUBLISHED
