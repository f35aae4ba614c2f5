"""Published data sets as campaign input: BOTAN and GlassBench layouts written here, imported as labels."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import gnn_helpers as gh
import numpy as np
import pytest
import yaml

from glassdyn import config as gcfg
from glassdyn.io import published, storage
from glassdyn.labels import imported as D
from glassdyn.labels.extract import labels_from_positions
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
    assert len(cells) == 2 and cells[1].startswith("botan,0.64,1,")
    summary = (results / "report" / "summary.md").read_text()
    assert "## At a glance" in summary and "MD checks: no replicas.h5 files" in summary
