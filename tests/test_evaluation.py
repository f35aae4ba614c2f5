"""Pearson metrics of SCIENCE.md §7: hand-made inputs, the A / A–A masks, the eval CSV."""
from __future__ import annotations

import math
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from gnn_helpers import small_config, write_labels

from glassdyn.gnn.evaluate import evaluate_cell, read_test_configuration
from glassdyn.gnn.trained import load_trained, predict_graph
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS, SCORE_COLUMNS
from glassdyn.models.interaction_network import InteractionNetwork
from glassdyn.physics.correlation import configuration_scores, edge_mask, node_mask, pearson


def test_pearson_hand_made():
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [-1, -2, -3, -4]) == pytest.approx(-1.0)
    # cov = 1, var_x = 2, var_y = 2/3 (x = 0..2, y = 0, 1, 1 about their means): ρ = 1/sqrt(4/3)
    assert pearson([0, 1, 2], [0, 1, 1]) == pytest.approx(math.sqrt(3) / 2)
    # invariant under y -> a y + b with a > 0, large offsets included
    x = np.random.default_rng(0).random(50)
    y = x + 0.3 * np.random.default_rng(1).random(50)
    assert pearson(x, 1e6 + 3 * y) == pytest.approx(pearson(x, y), abs=1e-9)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(pearson([1], [2]))
    with pytest.raises(ValueError):
        pearson([1, 2], [1, 2, 3])


def test_edge_mask_is_a_a_pairs_below_cutoff():
    types = np.array([0, 0, 1, 0])
    edge_index = np.array([[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3]])
    vectors = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.2, 0], [0, -1.2, 0], [0, 0, 1.36], [0, 0, -1.36]])
    mask = edge_mask(types, edge_index, vectors, cutoff=1.35)
    np.testing.assert_array_equal(mask, [True, True, False, False, False, False])
    np.testing.assert_array_equal(node_mask(types), [True, True, False, True])


def test_scores_use_only_a_particles_and_a_a_pairs():
    types = np.array([0, 0, 0, 1, 1])
    edge_index = np.array([[1, 2, 0, 3, 4, 0], [0, 0, 1, 0, 0, 2]])
    vectors = np.full((6, 3), 0.5)
    s_true = np.array([1.0, 2.0, 3.0, 10.0, -10.0])
    s_pred = np.array([2.0, 4.0, 6.0, -50.0, 50.0])   # B particles anti-correlated: must not count
    e_true = np.array([1.0, 2.0, 3.0, 0.0, 0.0, 4.0])
    e_pred = np.array([1.5, 2.5, 3.5, 9.0, -9.0, 4.5])
    rn, re = configuration_scores(types, edge_index, vectors, s_true, s_pred, e_true, e_pred, 1.35)
    assert rn == pytest.approx(1.0) and re == pytest.approx(1.0)
    rn, re = configuration_scores(types, edge_index, vectors, s_true, s_pred, None,
                                             np.full(6, np.nan), 1.35)
    assert rn == pytest.approx(1.0) and math.isnan(re)


def test_evaluate_cell_writes_one_row_per_test_configuration(tmp_path):
    cfg = small_config()
    paths = write_labels(cfg, tmp_path, [4, 5])
    torch.manual_seed(0)
    net = InteractionNetwork(16, 2)
    model_file = tmp_path / "model.pt"
    torch.save({"model": "botan", "state_dict": net.state_dict(), "hyperparameters": net.hyperparameters(),
                "system": cfg["system"], "graph_cutoff": 2.0, "T": 0.64, "time_index": 1, "time": 1.0,
                "target_stats": {"nodes": {"mean": 0.0, "std": 1.0}, "edges": {"mean": 0.0, "std": 1.0}},
                "p": 0.4}, model_file)
    out = evaluate_cell(cfg, model_file, paths, tmp_path / "eval" / "t1.csv")
    frame = pd.read_csv(out)
    assert list(frame.columns) == EVAL_COLUMNS + SCORE_COLUMNS
    assert (frame["target"] == "propensity").all() and (frame["nodes_n"] == 103).all()   # 128 - 25 B particles
    # the ceiling of each configuration is the one stored with its labels
    stored = storage.read_h5(paths[1], ["ceiling/propensity", "ceiling/pair_distance_change"])[0]
    assert frame["ceiling_nodes"][1] == pytest.approx(stored["ceiling/propensity"][1])
    assert frame["ceiling_edges"][1] == pytest.approx(stored["ceiling/pair_distance_change"][1])
    assert frame["c"].tolist() == [4, 5]
    assert (frame["model"] == "botan").all() and (frame["time_index"] == 1).all()
    assert frame["time"].tolist() == [1.0, 1.0] and (frame["tau_alpha"] == 1.0).all()
    assert frame[["pearson_nodes", "pearson_edges"]].abs().le(1).all().all()
    # The numbers are those of the predictions against the stored labels.
    d = storage.read_h5(paths[0])[0]

    pred = predict_graph(load_trained(model_file, device="cpu"), d["types"], d["edge_index"],
                                d["edge_vectors"])
    a = d["types"] == 0
    assert frame["pearson_nodes"][0] == pytest.approx(pearson(pred["nodes"][a], d["propensity"][1][a]))


def test_evaluate_cell_refuses_training_configurations_and_other_temperatures(tmp_path):
    cfg = small_config()
    paths = write_labels(cfg, tmp_path, [0])
    net = InteractionNetwork(16, 2)
    meta = {"model": "botan", "state_dict": net.state_dict(), "hyperparameters": net.hyperparameters(),
            "system": {}, "graph_cutoff": 2.0, "T": 0.64, "time_index": 0, "time": 0.1,
            "target_stats": {"nodes": {"mean": 0.0, "std": 1.0}, "edges": {"mean": 0.0, "std": 1.0}}, "p": 0.4}
    torch.save(meta, tmp_path / "model.pt")
    with pytest.raises(storage.StorageError, match="not a test configuration"):
        evaluate_cell(cfg, tmp_path / "model.pt", paths, tmp_path / "e.csv")
    cfg2 = dict(cfg, temperatures=cfg["temperatures"] + [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 1.0]}])
    torch.save(dict(meta, T=1.0), tmp_path / "model1.pt")
    test_paths = write_labels(cfg, tmp_path, [5])
    with pytest.raises(storage.StorageError, match="trained at T = 1.00"):
        evaluate_cell(cfg2, tmp_path / "model1.pt", test_paths, tmp_path / "e.csv")
    assert not (tmp_path / "e.csv").exists()


# ----------------------------------------------------------------------------- edges found by mutation testing
def test_pearson_of_two_points_and_of_constant_samples():
    """Two points define ρ = ±1; a constant sample gives NaN without a floating-point warning."""
    assert pearson([1.0, 2.0], [3.0, 5.0]) == pytest.approx(1.0)
    assert pearson([1.0, 2.0], [5.0, 3.0]) == pytest.approx(-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(pearson([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"equal length, got \(2,\) and \(3,\)"):
        pearson([1.0, 2.0], [1.0, 2.0, 3.0])


def test_pearson_is_computed_in_float64_whatever_the_input():
    """float32 labels far from zero (E_ij, S_i are stored as float32): the same ρ as their float64 values."""
    rng = np.random.default_rng(0)
    x = (3000.0 + rng.random(5000)).astype(np.float32)
    y = (x + 0.5 * rng.random(5000)).astype(np.float32)
    assert pearson(x, y) == pearson(x.astype(np.float64), y.astype(np.float64))


def test_edge_mask_compares_float64_lengths_of_float32_vectors():
    """A float32 vector whose float64 length is below 1.35 but whose float32 length rounds to 1.35 is judged."""
    rng = np.random.default_rng(1)
    u = rng.normal(size=(200000, 3))
    v = (1.35 * u / np.linalg.norm(u, axis=1, keepdims=True)).astype(np.float32)
    r64 = np.linalg.norm(v.astype(np.float64), axis=1)
    r32 = np.linalg.norm(v, axis=1)
    k = np.flatnonzero((r64 < 1.35) & ~(r32 < 1.35))[0]
    ei = np.array([[1], [0]])
    assert edge_mask(np.array([0, 0]), ei, v[k:k + 1], 1.35).tolist() == [True]


def test_scores_without_a_label_are_nan_even_with_a_prediction():
    """A BOTAN model (edge predictions) on node-only labels (GlassBench: no E_ij), or labels without S_i."""
    types = np.zeros(4, np.int8)
    ei = np.array([[1, 0, 3, 2], [0, 1, 2, 3]])
    vec = np.full((4, 3), 0.5)
    s, e = np.array([1.0, 2.0, 4.0, 3.0]), np.array([0.1, 0.2, 0.4, 0.3])
    rn, re = configuration_scores(types, ei, vec, s, s, None, e, 1.35)
    assert rn == pytest.approx(1.0) and math.isnan(re)
    rn, re = configuration_scores(types, ei, vec, None, s, e, e, 1.35)
    assert math.isnan(rn) and re == pytest.approx(1.0)


def _labels(tmp_path):
    cfg = small_config()
    (path,) = write_labels(cfg, tmp_path, [4])
    return cfg, path


def test_read_test_configuration_edges(tmp_path):
    cfg, path = _labels(tmp_path)
    d = read_test_configuration(path, 1)
    assert d["T"] == 0.64 and d["c"] == 4 and d["pair_distance_change"] is not None
    with pytest.raises(storage.StorageError, match=rf"{path.name}.*time index 2 outside its 2 sampling times"):
        read_test_configuration(path, 2)
    # node labels only, no attributes (an imported file): no E_ij, T unknown, c = -1
    data, _ = storage.read_h5(path)
    del data["pair_distance_change"]
    bare = storage.write_h5(tmp_path / "bare.h5", data)
    d = read_test_configuration(bare, 0)
    assert d["pair_distance_change"] is None and math.isnan(d["T"]) and d["c"] == -1
    del data["propensity"]
    no_s = storage.write_h5(tmp_path / "no_s.h5", data)
    with pytest.raises(storage.StorageError, match=r"no_s\.h5.*propensity"):
        read_test_configuration(no_s, 0)


def test_a_corrupt_dataset_is_named_with_its_file(tmp_path):
    """A labels file written by another tool (h5py, gzip-compressed S_i) whose compressed chunk is damaged."""
    cfg, path = _labels(tmp_path)
    data, _ = storage.read_h5(path)
    bad = tmp_path / "gz.h5"
    with h5py.File(bad, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v, **({"compression": "gzip", "chunks": v.shape} if k == "propensity" else {}))
        f.attrs[storage.COMPLETE] = True
        chunk = f["propensity"].id.get_chunk_info(0)
    raw = bytearray(bad.read_bytes())
    raw[chunk.byte_offset + 10: chunk.byte_offset + chunk.size - 10] = bytes(chunk.size - 20)
    bad.write_bytes(bytes(raw))
    with pytest.raises(storage.StorageError, match=r"gz\.h5: unreadable dataset .*delete the file and rerun"):
        read_test_configuration(bad, 1)


def _model(tmp_path, cfg, T=0.64):
    torch.manual_seed(0)
    net = InteractionNetwork(16, 2)
    torch.save({"model": "botan", "state_dict": net.state_dict(), "hyperparameters": net.hyperparameters(),
                "system": cfg["system"], "graph_cutoff": 2.0, "T": T, "time_index": 1, "time": 1.0,
                "target_stats": {"nodes": {"mean": 0.0, "std": 1.0}, "edges": {"mean": 0.0, "std": 1.0}},
                "p": 0.4}, tmp_path / "model.pt")
    return tmp_path / "model.pt"


def test_evaluate_cell_rows_and_refusals_name_the_file(tmp_path):
    cfg, path = _labels(tmp_path)
    model = _model(tmp_path, cfg)
    frame = pd.read_csv(evaluate_cell(cfg, model, [path], tmp_path / "e.csv"))
    assert frame["T"].tolist() == [0.64] and frame["time"].tolist() == [1.0] and frame["c"].tolist() == [4]
    # no test file: a header-only CSV with the eval columns (not an empty file pandas cannot read)
    empty = pd.read_csv(evaluate_cell(cfg, model, [], tmp_path / "none.csv"))
    assert list(empty.columns) == list(frame.columns) and list(empty.columns)[:len(EVAL_COLUMNS)] == EVAL_COLUMNS
    assert empty.empty
    (train,) = write_labels(cfg, tmp_path / "train", [0])
    with pytest.raises(storage.StorageError, match=rf"{train.name}.*not a test configuration"):
        evaluate_cell(cfg, model, [train], tmp_path / "e3.csv")
    (tmp_path / "hot").mkdir()
    hot = _model(tmp_path / "hot", cfg, T=1.0)
    cfg1 = dict(cfg, temperatures=cfg["temperatures"] + [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 1.0]}])
    with pytest.raises(storage.StorageError, match=rf"{path.name}.*trained at T = 1.00"):
        evaluate_cell(cfg1, hot, [path], tmp_path / "e4.csv")
