"""Training changes the network in the right direction, in the right units, scored on the right particles.

The labels here are noise-free and depend on the structure alone: every replica
moves particle i by the same distance m_i (in a random direction), with m_i a
decreasing function of the number of neighbours within 1.2 σ. So S_i = m_i
exactly, and a network that learns anything about its neighbourhood correlates
with it; an untrained one does not. Files are written by the real label code
and read by the real training and evaluation (issue 18).
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch
from gnn_helpers import small_config, structure
from scipy.spatial import cKDTree

from glassdyn import config as gcfg
from glassdyn.gnn import train as gtrain
from glassdyn.gnn.batches import validation_scores
from glassdyn.gnn.checkpoint import CHECKPOINT
from glassdyn.gnn.data import CellGraph, read_cell, standardise, target_stats, to_graph
from glassdyn.gnn.evaluate import evaluate_cell
from glassdyn.gnn.train import train_cell
from glassdyn.gnn.trained import build, load_trained, network_hyperparameters, predict_graph
from glassdyn.io import storage
from glassdyn.labels.extract import labels_from_positions
from glassdyn.physics.correlation import configuration_scores, pearson

N = 128
TIMES = [0.1, 1.0]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread per process (train_cell reads OMP_NUM_THREADS): the cores are shared."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        yield


def crowd_labels(cfg: dict, folder, c: int, replicas: int = 2):
    """labels.h5 of configuration c with S_i(t) = m_i √t, m_i = 0.3 exp(−n_i(1.2)/⟨n(1.2)⟩)."""
    types, box, x0 = structure(N, seed=1000 + c)
    tree = cKDTree(np.mod(x0, box), boxsize=box)
    crowd = np.array([len(v) - 1 for v in tree.query_ball_point(np.mod(x0, box), 1.2)], float)
    mobility = 0.3 * np.exp(-crowd / crowd.mean())
    rng = np.random.default_rng(2000 + c)
    u = rng.standard_normal((replicas, len(TIMES), N, 3))
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    pos = x0 + u * mobility[None, None, :, None] * np.sqrt(TIMES)[None, :, None, None]
    lab = labels_from_positions(types, box, x0, pos, np.asarray(TIMES), cfg)
    return storage.write_h5(folder / f"labels/T0.64/c{c:04d}.h5", lab, {"T": 0.64, "c": int(c)})


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """Configurations 0–3 fit, 4 validates, 5–6 test."""
    cfg = small_config(n=N, n_conf=7, n_train=5)
    folder = tmp_path_factory.mktemp("learn")
    paths = [crowd_labels(cfg, folder, c) for c in range(7)]
    return cfg, paths[:5], paths[5:], folder


def untrained(cfg: dict, model: str, k: int = 1) -> torch.nn.Module:
    """The network train_cell starts from (same seed, same hyperparameters), before any step."""
    seed = gcfg.derive_seed(int(cfg["training"]["seed"]), model, "0.64", k, "train")
    torch.manual_seed(seed)
    return build(model, network_hyperparameters(cfg)).eval()


def raw_scores(net, path, k=1, cutoff=1.35):
    """(ρ nodes over A, ρ edges over A–A pairs < cutoff) of the raw network outputs on one labels file."""
    d, _ = storage.read_h5(path)
    x = torch.as_tensor(d["types"], dtype=torch.float32).reshape(-1, 1)
    with torch.no_grad():
        nodes, edges = net(x, torch.as_tensor(d["edge_index"]), torch.as_tensor(d["edge_vectors"]))
    return configuration_scores(d["types"], d["edge_index"], d["edge_vectors"], d["propensity"][k],
                                nodes.numpy(), d["pair_distance_change"][k], edges.numpy(), cutoff)


@pytest.fixture(scope="module")
def trained_ntgnn(cell):
    cfg, train, test, folder = cell
    c = copy.deepcopy(cfg)
    c["models"]["ntgnn"].update(epochs=60, lr=3e-3)
    out = folder / "train/ntgnn/T0.64/t1"
    train_cell(c, "ntgnn", 0.64, 1, train, out)
    return c, out


# ----------------------------------------------------------------------------- training learns
def test_validation_loss_falls_and_pearson_beats_the_untrained_network(cell, trained_ntgnn):
    cfg, train, test, folder = cell
    c, out = trained_ntgnn
    loss = pd.read_csv(out / "loss.csv")
    m = json.loads((out / "metrics.json").read_text())
    assert m["best_val_loss"] < 0.7 * loss["val_loss"].iloc[0]
    assert loss["train_loss"].iloc[-5:].mean() < 0.8 * loss["train_loss"].iloc[0]
    before = raw_scores(untrained(c, "ntgnn"), train[4])[0]
    assert m["val_pearson_nodes"] > 0.6 and m["val_pearson_nodes"] > before + 0.4
    # test configurations, through the evaluate rule
    frame = pd.read_csv(evaluate_cell(c, out / "model.pt", test, folder / "eval/ntgnn/t1.csv"))
    after_test = frame["pearson_nodes"].to_numpy()
    before_test = np.array([raw_scores(untrained(c, "ntgnn"), p)[0] for p in test])
    assert np.all(after_test > 0.6) and np.all(after_test > before_test + 0.4)


def test_predictions_come_back_in_label_units(cell, trained_ntgnn):
    """model.pt's target statistics undo the standardisation: predictions have the labels' mean and scale."""
    cfg, train, test, folder = cell
    c, out = trained_ntgnn
    trained = load_trained(out / "model.pt", device="cpu")
    S = np.concatenate([storage.read_h5(p, ["propensity"])[0]["propensity"][1] for p in train[:4]])
    assert trained.target_stats["nodes"]["mean"] == pytest.approx(S.mean(), rel=1e-6)
    assert trained.target_stats["nodes"]["std"] == pytest.approx(S.std(), rel=1e-5)
    for p in test:
        d, _ = storage.read_h5(p)
        pred = predict_graph(trained, d["types"], d["edge_index"], d["edge_vectors"])["nodes"]
        s = d["propensity"][1]
        assert abs(pred.mean() - s.mean()) < 0.3 * s.std()
        assert 0.4 < pred.std() / s.std() < 1.5


# ----------------------------------------------------------------------------- standardisation
def _graph(nodes, edges, types=None):
    n = len(nodes)
    types = np.zeros(n, np.int8) if types is None else types
    return CellGraph(c=0, x=torch.zeros(n, 1), edge_index=torch.zeros(2, len(edges), dtype=torch.int64),
                     edge_vectors=torch.zeros(len(edges), 3), nodes=torch.tensor(nodes, dtype=torch.float32),
                     edges=torch.tensor(edges, dtype=torch.float32), node_mask=types == 0,
                     edge_mask=np.ones(len(edges), bool))


def test_target_statistics_and_standardisation_by_hand():
    """μ and σ (population) over all fit values; targets become (y − μ)/σ, validation ones with the fit's μ, σ."""
    fit = [_graph([1.0, 2.0], [0.5, -0.5, 1.5]), _graph([3.0, 6.0], [2.5])]
    val = [_graph([4.0], [0.5])]
    stats = target_stats(fit)
    assert stats["nodes"]["mean"] == pytest.approx(3.0) and stats["nodes"]["std"] == pytest.approx(np.sqrt(3.5))
    assert stats["edges"]["mean"] == pytest.approx(1.0) and stats["edges"]["std"] == pytest.approx(np.sqrt(1.25))
    standardise(fit + val, stats)
    np.testing.assert_allclose(fit[0].nodes.numpy(), (np.array([1.0, 2.0]) - 3.0) / np.sqrt(3.5), rtol=1e-6)
    np.testing.assert_allclose(fit[1].edges.numpy(), [(2.5 - 1.0) / np.sqrt(1.25)], rtol=1e-6)
    np.testing.assert_allclose(val[0].nodes.numpy(), [(4.0 - 3.0) / np.sqrt(3.5)], rtol=1e-6)
    allfit = torch.cat([g.nodes for g in fit]).double()
    assert float(allfit.mean()) == pytest.approx(0.0, abs=1e-7)
    assert float(allfit.std(unbiased=False)) == pytest.approx(1.0, rel=1e-6)
    # a constant target keeps σ = 1 rather than dividing by zero
    assert target_stats([_graph([2.0, 2.0], [1.0])])["nodes"] == {"mean": 2.0, "std": 1.0}


# ----------------------------------------------------------------------------- the masks of every score
def test_validation_scores_use_a_particles_and_a_a_pairs_below_the_eval_cutoff(cell):
    """validation_scores' Pearsons are those over the A particles and the A–A pairs with r < 1.35 —
    different numbers from all particles or the graph's 2.0 pairs for the same network."""
    cfg, train, test, folder = cell
    arr, attrs = read_cell(train[4], 1, True, True, float(cfg["labels"]["edge_eval_cutoff"]))
    g = to_graph(arr, attrs["c"], torch.device("cpu"))
    types, r = arr["types"], np.linalg.norm(arr["edge_vectors"].astype(np.float64), axis=1)
    ends_a = (types[arr["edge_index"][0]] == 0) & (types[arr["edge_index"][1]] == 0)
    np.testing.assert_array_equal(g.node_mask, types == 0)
    np.testing.assert_array_equal(g.edge_mask, ends_a & (r < 1.35))
    torch.manual_seed(3)
    net = build("botan", network_hyperparameters(cfg)).eval()
    loss, rn, re = validation_scores(net, [g], 0.4)[0]
    with torch.no_grad():
        nodes, edges = net(g.x, g.edge_index, g.edge_vectors)
    nodes, edges, S, E = nodes.numpy(), edges.numpy(), g.nodes.numpy(), g.edges.numpy()
    a, aa = types == 0, ends_a & (r < 1.35)
    assert rn == pytest.approx(pearson(nodes[a], S[a]), abs=1e-6)
    assert re == pytest.approx(pearson(edges[aa], E[aa]), abs=1e-6)
    assert abs(pearson(nodes, S) - rn) > 1e-3
    assert abs(pearson(edges[ends_a], E[ends_a]) - re) > 1e-3
    assert abs(pearson(edges, E) - re) > 1e-3
    want_loss = 0.4 * np.mean((nodes - S) ** 2) + 0.6 * np.mean((edges - E) ** 2)
    assert loss == pytest.approx(want_loss, rel=1e-5)


def test_training_and_evaluation_score_edges_on_the_configured_pairs(cell, tmp_path):
    """metrics.json (validation) and the eval CSV (test) recomputed from model.pt and the labels,
    with labels.edge_eval_cutoff, not the graph cutoff; nodes over A particles only."""
    cfg, train, test, folder = cell
    c = copy.deepcopy(cfg)
    c["models"]["botan"]["epochs"] = 1
    out = tmp_path / "botan"
    train_cell(c, "botan", 0.64, 1, train, out)
    trained = load_trained(out / "model.pt", device="cpu")
    m = json.loads((out / "metrics.json").read_text())
    frame = pd.read_csv(evaluate_cell(c, out / "model.pt", test, tmp_path / "t1.csv"))
    cases = [(train[4], m["val_pearson_nodes"], m["val_pearson_edges"])]
    cases += [(p, frame["pearson_nodes"][i], frame["pearson_edges"][i]) for i, p in enumerate(test)]
    for path, got_nodes, got_edges in cases:
        d, _ = storage.read_h5(path)
        pred = predict_graph(trained, d["types"], d["edge_index"], d["edge_vectors"])
        types, ei = d["types"], d["edge_index"]
        r = np.linalg.norm(d["edge_vectors"].astype(np.float64), axis=1)
        aa = (types[ei[0]] == 0) & (types[ei[1]] == 0)
        S, E = d["propensity"][1], d["pair_distance_change"][1]
        want_edges = pearson(pred["edges"][aa & (r < 1.35)], E[aa & (r < 1.35)])
        assert got_edges == pytest.approx(want_edges, abs=2e-5), path.name
        assert abs(pearson(pred["edges"][aa & (r <= 2.0)], E[aa & (r <= 2.0)]) - want_edges) > 1e-3
        a = types == 0
        assert got_nodes == pytest.approx(pearson(pred["nodes"][a], S[a]), abs=2e-5), path.name
        assert abs(pearson(pred["nodes"], S) - got_nodes) > 1e-3


# ----------------------------------------------------------------------------- resume vs restart
def _crash_before_model_pt(monkeypatch):
    """The run dies after its last checkpoint, before model.pt (a full disk): checkpoint.pt stays behind."""
    def full_disk(path, *args, **kwargs):
        raise OSError(f"{path}: no space left on device")
    monkeypatch.setattr(gtrain, "save_model_file", full_disk)


def test_checkpoint_of_other_settings_restarts_from_scratch(cell, tmp_path, monkeypatch, caplog):
    """A leftover checkpoint (all epochs done) is resumed by the same settings — no step runs — and is not
    resumed after the learning rate changes: that run equals a fresh run with the new lr and makes its steps."""
    cfg, train, test, folder = cell
    out = tmp_path / "cell"
    with monkeypatch.context() as mp:
        _crash_before_model_pt(mp)
        with pytest.raises(OSError, match="no space left"):
            train_cell(cfg, "ntgnn", 0.64, 1, train, out)
    assert (out / CHECKPOINT).exists() and not (out / "model.pt").exists()
    leftover = (out / CHECKPOINT).read_bytes()
    # same settings: resumed after the last epoch, nothing more runs
    same = train_cell(cfg, "ntgnn", 0.64, 1, train, tmp_path / "fresh_same")
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / CHECKPOINT).write_bytes(leftover)
    caplog.clear()
    with caplog.at_level("INFO"):
        resumed = train_cell(cfg, "ntgnn", 0.64, 1, train, tmp_path / "again")
    epochs = cfg["models"]["ntgnn"]["epochs"]
    assert f"resuming train from epoch {epochs} step 0" in caplog.text
    a, b = (torch.load(p, weights_only=True)["state_dict"] for p in (resumed, same))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # another learning rate: the checkpoint is discarded, the run is a fresh one with the new lr
    c = copy.deepcopy(cfg)
    c["models"]["ntgnn"]["lr"] = 2e-3
    fresh = train_cell(c, "ntgnn", 0.64, 1, train, tmp_path / "fresh_lr")
    caplog.clear()
    again = train_cell(c, "ntgnn", 0.64, 1, train, out)      # checkpoint.pt of the crashed run lies there
    assert "made from other inputs (config.models.ntgnn.lr differ): discarded, starting from scratch" in caplog.text
    m_again, m_fresh = (json.loads((p.parent / "metrics.json").read_text()) for p in (again, fresh))
    assert m_again["steps"] == m_fresh["steps"] > 0
    a, b = (torch.load(p, weights_only=True)["state_dict"] for p in (again, fresh))
    assert all(torch.equal(a[k], b[k]) for k in a)
    old = torch.load(same, weights_only=True)["state_dict"]
    assert not all(torch.equal(a[k], old[k]) for k in a)
