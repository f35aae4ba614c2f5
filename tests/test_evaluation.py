"""Pearson metrics of SCIENCE.md §7: hand-made inputs, the A / A–A masks, the eval CSV."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from gnn_helpers import small_config, write_labels

from glassdyn.gnn.evaluate import evaluate_cell
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
