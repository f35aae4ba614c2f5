"""Training of a (model, T, time) cell: loss, augmentation, outputs, resume after a kill, DDP."""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from gnn_helpers import small_config, write_labels

from glassdyn import config as gcfg
from glassdyn.gnn import ddp
from glassdyn.gnn.batches import batch_loss, decode_mode, make_batch, random_rotation, rank_slots, rotation_for
from glassdyn.gnn.data import CellGraph, read_cell, standardise, target_stats, to_graph
from glassdyn.gnn.ddp import distributed_env
from glassdyn.gnn.train import LOSS_COLUMNS, cell_settings, train_cell
from glassdyn.gnn.trained import MODEL_FILE_KEYS, load_trained
from glassdyn.io import storage
from glassdyn.models.interaction_network import InteractionNetwork

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Tests share two cores with other jobs; one thread per process keeps them fast and reproducible."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Five training configurations (fit 0–3, validate 4) and two test ones, N = 128."""
    cfg = small_config(n=128, n_conf=7, n_train=5)
    folder = tmp_path_factory.mktemp("cell")
    paths = write_labels(cfg, folder, range(7))
    return cfg, paths[:5], paths[5:]


def test_split_matches_config(data):
    cfg, train, _ = data
    assert gcfg.split_train_validation(cfg) == ([0, 1, 2, 3], [4])


# ----------------------------------------------------------------------------- augmentation
def test_random_rotations_are_proper_and_uniform():
    rng = np.random.default_rng(0)
    Rs = np.array([random_rotation(rng) for _ in range(4000)])
    np.testing.assert_allclose(Rs @ Rs.transpose(0, 2, 1), np.broadcast_to(np.eye(3), Rs.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(Rs), 1.0, atol=1e-12)
    # Haar measure: E[R] = 0 and a rotated axis is uniform on the sphere (E[z²] = 1/3, z uniform in [-1, 1]).
    assert np.abs(Rs.mean(axis=0)).max() < 0.05
    z = Rs[:, 2, 2]
    assert abs(np.mean(z ** 2) - 1 / 3) < 0.02
    assert np.histogram(z, bins=4, range=(-1, 1))[0].min() > 900


def test_augmentation_rotates_edge_vectors_only(data):
    cfg, train, _ = data
    arr, attrs = read_cell(train[0], 1, True, True, 1.35)
    g = to_graph(arr, attrs["c"], torch.device("cpu"))
    R = rotation_for(7, 0, 0)
    b = make_batch([g], [R])
    assert torch.equal(b.edge_index, g.edge_index) and torch.equal(b.x, g.x)
    torch.testing.assert_close(b.edge_vectors, g.edge_vectors @ torch.tensor(R.T, dtype=torch.float32))
    torch.testing.assert_close(b.edge_vectors.norm(dim=1), g.edge_vectors.norm(dim=1))
    # a pure function of (seed, epoch, slot): resumes reproduce it
    np.testing.assert_array_equal(R, rotation_for(7, 0, 0))
    assert not np.allclose(R, rotation_for(7, 0, 1))


def test_random_streams_are_the_documented_ones():
    """Epoch order: Generator([seed, 1, epoch]); the matrix of each slot: Generator([seed, 2, epoch, slot]).
    A changed stream changes every model trained with a given seed, so the streams are pinned."""
    from glassdyn.gnn.batches import augmentation_for, epoch_order, random_signed_permutation

    np.testing.assert_array_equal(epoch_order(9, 7, 3), np.random.default_rng([7, 1, 3]).permutation(9))
    want = random_rotation(np.random.default_rng([7, 2, 3, 2]))
    np.testing.assert_array_equal(rotation_for(7, 3, 2), want)
    np.testing.assert_array_equal(augmentation_for("so3", 7, 3, 2), want)
    np.testing.assert_array_equal(augmentation_for("signed_permutations", 7, 3, 2),
                                  random_signed_permutation(np.random.default_rng([7, 2, 3, 2])))


def test_augmentation_reaches_the_training(data, tmp_path):
    """The augmentation matrices are applied in training: with rotations, with signed permutations and
    without, the same seed trains three different networks (edge vectors enter BOTAN's edge encoder)."""
    cfg, train, _ = data
    states = []
    for name, on, group in (("so3", True, "so3"), ("cube", True, "signed_permutations"), ("off", False, "so3")):
        c = copy.deepcopy(cfg)
        c["training"].update(rotation_augmentation=on, augmentation_group=group)
        out = train_cell(c, "botan", 0.64, 1, train, tmp_path / name)
        states.append(torch.load(out, weights_only=True)["state_dict"])
        assert json.loads((tmp_path / name / "metrics.json").read_text())["augmentation_group"] == (group if on else None)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert any(not torch.equal(states[i][k], states[j][k]) for k in states[i]), (i, j)


# ----------------------------------------------------------------------------- loss
def _graphs(data):
    cfg, train, _ = data
    out = []
    for p in train[:2]:
        arr, attrs = read_cell(p, 1, True, True, 1.35)
        out.append(to_graph(arr, attrs["c"], torch.device("cpu")))
    return out


@pytest.mark.parametrize("p", [1.0, 0.0, 0.4])
def test_loss_is_p_weighted_mse_and_skips_unused_decoder(data, p):
    g = _graphs(data)[0]
    torch.manual_seed(0)
    net = InteractionNetwork(16, 2)
    loss = batch_loss(net, make_batch([g], [None]), p)
    with torch.no_grad():
        n, e = net(g.x, g.edge_index, g.edge_vectors)
    expect = p * torch.mean((n - g.nodes) ** 2) + (1 - p) * torch.mean((e - g.edges) ** 2)
    torch.testing.assert_close(loss, expect)
    loss.backward()
    node_grad = net.node_decoder.lin2.weight.grad
    edge_grad = net.edge_decoder.lin2.weight.grad
    assert (node_grad is None) == (p == 0.0)
    assert (edge_grad is None) == (p == 1.0)


def test_batch_of_graphs_is_the_mean_of_per_graph_losses(data):
    g1, g2 = _graphs(data)
    torch.manual_seed(0)
    net = InteractionNetwork(16, 2)
    rots = [rotation_for(1, 0, 0), rotation_for(1, 0, 1)]
    both = batch_loss(net, make_batch([g1, g2], rots), 0.4)
    single = [batch_loss(net, make_batch([g], [R]), 0.4) for g, R in zip((g1, g2), rots)]
    torch.testing.assert_close(both, (single[0] + single[1]) / 2, rtol=1e-5, atol=1e-7)


def test_rank_slots_cover_the_epoch_like_one_process():
    n = 7
    one = rank_slots(n, 1, 0, 4)
    assert sum(one, []) == list(range(7))
    two = [rank_slots(n, 2, r, 2) for r in range(2)]
    assert sorted(sum(two[0] + two[1], [])) == list(range(8))       # padded to a multiple of W (wraps)
    for s in range(2):                                               # step s: the same positions as W = 1, G = 4
        assert sorted(two[0][s] + two[1][s]) == list(range(4 * s, 4 * s + 4))


# ----------------------------------------------------------------------------- a whole cell
def test_train_cell_outputs_and_formats(data, tmp_path):
    cfg, train, _ = data
    out = tmp_path / "train/botan/T0.64/t1"
    path = train_cell(cfg, "botan", 0.64, 1, train, out)
    assert path == out / "model.pt"
    # a finished cell leaves nothing a later run could mistake for progress: no checkpoint.pt
    assert sorted(p.name for p in out.iterdir()) == ["loss.csv", "metrics.json", "model.pt"]
    obj = torch.load(out / "model.pt", weights_only=True)
    assert set(MODEL_FILE_KEYS) <= set(obj)
    assert obj["hyperparameters"] == {"hidden": 16, "message_passing_steps": 2, "decoder": "separate",
                                      "decoder_layers": 2}
    assert obj["graph_cutoff"] == 2.0 and obj["T"] == 0.64 and obj["time_index"] == 1 and obj["time"] == 1.0
    assert obj["p"] == 0.4
    # target statistics of the fit configurations (0–3) only
    S = np.concatenate([storage.read_h5(p, ["propensity"])[0]["propensity"][1] for p in train[:4]])
    assert obj["target_stats"]["nodes"]["mean"] == pytest.approx(S.mean(), rel=1e-5)
    assert obj["target_stats"]["nodes"]["std"] == pytest.approx(S.std(), rel=1e-4)
    loss = pd.read_csv(out / "loss.csv")
    assert list(loss.columns) == LOSS_COLUMNS and loss["epoch"].tolist() == [0, 1]
    assert np.isfinite(loss[["train_loss", "val_loss", "val_pearson_nodes", "val_pearson_edges"]].values).all()
    m = json.loads((out / "metrics.json").read_text())
    assert m["best_epoch"] == int(loss["val_loss"].idxmin())
    assert m["val_pearson_nodes"] == pytest.approx(loss["val_pearson_nodes"][m["best_epoch"]])
    assert m["fit_configurations"] == [0, 1, 2, 3] and m["validation_configurations"] == [4]
    assert m["steps"] == 2 * 4 and m["steps_per_s"] > 0 and m["wall_time_s"] > 0
    trained = load_trained(path, device="cpu")
    assert trained.predicts_nodes and trained.predicts_edges


def test_bf16_precision_trains_and_is_recorded(data, tmp_path):
    """training.precision = bf16: autocast step, float32 weights in model.pt, precision in metrics.json, and
    the validation loss within a few per cent of the float32 run's (same seed, same order)."""
    cfg, train, _ = data
    runs = {}
    for precision in ("fp32", "bf16"):
        c = copy.deepcopy(cfg)
        c["training"]["precision"] = precision
        out = tmp_path / precision
        path = train_cell(c, "botan", 0.64, 1, train, out)
        runs[precision] = json.loads((out / "metrics.json").read_text())
        obj = torch.load(path, weights_only=True)
        assert all(v.dtype == torch.float32 for v in obj["state_dict"].values())
    assert runs["bf16"]["precision"] == "bf16" and runs["fp32"]["precision"] == "fp32"
    assert runs["bf16"]["best_val_loss"] == pytest.approx(runs["fp32"]["best_val_loss"], rel=0.05)


def test_test_configurations_are_refused(data, tmp_path):
    cfg, train, test = data
    with pytest.raises(storage.StorageError, match="never used in training"):
        train_cell(cfg, "ntgnn", 0.64, 1, train + test[:1], tmp_path / "x")
    assert not (tmp_path / "x" / "model.pt").exists()


def test_pretraining_initialises_the_main_training(data, tmp_path):
    cfg, train, _ = data
    pre = train_cell(cfg, "botan", 0.64, 0, train, tmp_path / "pre", pretrain=True)
    meta = torch.load(pre, weights_only=True)
    assert meta["p"] == 0.0 and meta["stage"] == "pretrain"
    assert json.loads((tmp_path / "pre/metrics.json").read_text())["epochs"] == 1
    assert not load_trained(pre, device="cpu").predicts_nodes
    # The main run starts at the pretrained weights and moves away from them by Adam-sized steps only:
    # 0 < max|Δw| <= steps · lr · (1 − β1)/√(1 − β2) (Adam's bound on one step); a run from scratch ends far away.
    main = train_cell(cfg, "botan", 0.64, 1, train, tmp_path / "main", pretrained=pre)
    scratch = train_cell(cfg, "botan", 0.64, 1, train, tmp_path / "scratch")
    w_pre, w_main, w_scratch = (torch.load(p, weights_only=True)["state_dict"] for p in (pre, main, scratch))
    m = json.loads((tmp_path / "main/metrics.json").read_text())
    bound = m["steps"] * m["lr"] * 0.1 / np.sqrt(1 - 0.999) * 1.01
    assert 0 < max(float((w_main[k] - w_pre[k]).abs().max()) for k in w_pre) <= bound
    assert max(float((w_scratch[k] - w_pre[k]).abs().max()) for k in w_pre) > 10 * bound


@pytest.mark.parametrize("graphs_per_step", [2, 4])
def test_loss_csv_is_the_mean_step_loss_and_the_mean_validation_loss(data, tmp_path, graphs_per_step):
    """train_loss of an epoch = the mean of its optimiser steps' losses; val_loss = the mean loss over the
    validation graphs. With lr = 1e-30 the weights never move, so both are recomputed here from model.pt,
    the epoch order and the augmentation matrices of the run's seed; every epoch ties on val_loss and the
    first is kept (the lowest validation loss, first on ties)."""
    from glassdyn.gnn.batches import augmentation_for, epoch_order, validation_scores

    cfg, train, _ = data
    c = copy.deepcopy(cfg)
    c["models"]["botan"].update(lr=1e-30, epochs=2, graphs_per_step=graphs_per_step)
    out = train_cell(c, "botan", 0.64, 1, train, tmp_path / "cell")
    m = json.loads((out.parent / "metrics.json").read_text())
    net = load_trained(out, "cpu").network
    graphs = {}
    for path in train:
        arr, attrs = read_cell(path, 1, True, True, c["labels"]["edge_eval_cutoff"])
        g = to_graph(arr, attrs["c"], torch.device("cpu"))
        standardise([g], m["target_stats"])
        graphs[g.c] = g
    fit = [graphs[k] for k in m["fit_configurations"]]
    val = [graphs[k] for k in m["validation_configurations"]]
    loss = pd.read_csv(out.parent / "loss.csv")
    for epoch in range(2):
        order = epoch_order(len(fit), m["seed"], epoch)
        steps = []
        for slot in rank_slots(len(fit), 1, 0, graphs_per_step):
            rots = [torch.as_tensor(augmentation_for("so3", m["seed"], epoch, q), dtype=torch.float32) for q in slot]
            with torch.no_grad():
                steps.append(float(batch_loss(net, make_batch([fit[order[q % len(fit)]] for q in slot], rots), m["p"])))
        assert len(steps) == math.ceil(len(fit) / graphs_per_step)
        assert loss["train_loss"][epoch] == pytest.approx(np.mean(steps), rel=1e-5)
        with torch.no_grad():
            assert loss["val_loss"][epoch] == pytest.approx(validation_scores(net, val, m["p"])[:, 0].mean(), rel=1e-5)
    assert loss["val_loss"][0] == loss["val_loss"][1] and m["best_epoch"] == 0


def test_without_validation_the_last_epoch_is_kept(data, tmp_path):
    cfg, train, _ = data
    c = copy.deepcopy(cfg)
    c["training"]["validation_fraction"] = 0.0
    c["models"]["botan"]["epochs"] = 3
    out = train_cell(c, "botan", 0.64, 1, train, tmp_path / "cell")
    m = json.loads((out.parent / "metrics.json").read_text())
    assert m["validation_configurations"] == [] and m["best_epoch"] == 2 and m["epochs_run"] == 3
    assert m["selection"] == "last epoch (no validation set)"


# ----------------------------------------------------------------------------- interruption and resume
def _cli(cfg, labels, out, model="botan"):
    return [sys.executable, "-m", "glassdyn", "train", "--params", json.dumps(cfg), "--model", model, "--T", "0.64",
            "--time-index", "1", "--labels", *map(str, labels), "--output-dir", str(out)]


def _long(cfg):
    c = copy.deepcopy(cfg)
    c["models"]["botan"]["epochs"] = 30
    return c


@pytest.fixture(scope="module")
def reference_run(data, tmp_path_factory):
    """The uninterrupted 30-epoch run the interrupted ones must reproduce."""
    cfg, train, _ = data
    out = tmp_path_factory.mktemp("ref")
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        train_cell(_long(cfg), "botan", 0.64, 1, train, out)
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS")
        else:
            os.environ["OMP_NUM_THREADS"] = old
    return out


def _wait_for_checkpoint(proc, path: Path, timeout=120):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, "training finished before it could be interrupted"
        assert time.time() - t0 < timeout, "no checkpoint appeared"
        time.sleep(0.01)


def _same_weights(a: Path, b: Path):
    sa, sb = torch.load(a, weights_only=True)["state_dict"], torch.load(b, weights_only=True)["state_dict"]
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_resumes(data, tmp_path, reference_run):
    cfg, train, _ = data
    out = tmp_path / "cell"
    proc = subprocess.Popen(_cli(_long(cfg), train, out), env=_env(), stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(proc, out / "checkpoint.pt")
    proc.kill()
    proc.wait()
    assert not (out / "model.pt").exists()
    done = torch.load(out / "checkpoint.pt", weights_only=False)["epoch"]
    assert 1 <= done < 30
    res = subprocess.run(_cli(_long(cfg), train, out), env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert f"resuming train from epoch {done} step 0" in res.stderr
    loss = pd.read_csv(out / "loss.csv")
    assert loss["epoch"].tolist() == list(range(30))
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference_run.iterdir())
    _same_weights(out / "model.pt", reference_run / "model.pt")
    pd.testing.assert_frame_equal(loss, pd.read_csv(reference_run / "loss.csv"))


@pytest.mark.slow
def test_sigterm_writes_checkpoint_exits_nonzero_and_resumes_exactly(data, tmp_path, reference_run):
    cfg, train, _ = data
    out = tmp_path / "cell"
    proc = subprocess.Popen(_cli(_long(cfg), train, out), env=_env(), stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(proc, out / "checkpoint.pt")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by signal" in err
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    assert not (out / "model.pt").exists() and ck["epoch"] < 30
    res = subprocess.run(_cli(_long(cfg), train, out), env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert f"from epoch {ck['epoch']} step {ck['step']}" in res.stderr
    _same_weights(out / "model.pt", reference_run / "model.pt")
    pd.testing.assert_frame_equal(pd.read_csv(out / "loss.csv"), pd.read_csv(reference_run / "loss.csv"))


@pytest.mark.parametrize("stop_at", [6, 4], ids=["mid-epoch", "epoch-boundary"])
def test_stopped_and_resumed_in_process_equals_one_run(data, tmp_path, reference_run, caplog, monkeypatch, stop_at):
    """The fast, deterministic twin of the subprocess tests above: SIGUSR1 arrives during optimiser step
    ``stop_at`` (4 steps an epoch: step 2 of epoch 1, or the end of epoch 0), the run checkpoints at the next
    step boundary and exits; the rerun resumes (epoch, step, optimiser, RNG, best, history, the partial
    epoch's loss sum) and ends with the weights, loss.csv and selection of the uninterrupted run, bit for bit."""
    from glassdyn.gnn import train as gtrain
    from glassdyn.gnn.ddp import TrainingInterrupted

    cfg, train, _ = data
    out = tmp_path / "cell"
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) == stop_at:
            os.kill(os.getpid(), signal.SIGUSR1)
        return batch_loss(*args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(gtrain, "batch_loss", counted)
        with pytest.raises(TrainingInterrupted):
            train_cell(_long(cfg), "botan", 0.64, 1, train, out)
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    ref = json.loads((reference_run / "metrics.json").read_text())
    per_epoch = math.ceil(len(ref["fit_configurations"]) / ref["graphs_per_step"])
    assert per_epoch == 4
    assert (ck["epoch"], ck["step"]) == divmod(stop_at, per_epoch) and not (out / "model.pt").exists()
    with caplog.at_level(logging.INFO, logger="glassdyn.training"):
        train_cell(_long(cfg), "botan", 0.64, 1, train, out)
    assert f"resuming train from epoch {ck['epoch']} step {ck['step']}" in caplog.text
    assert not (out / "checkpoint.pt").exists()
    _same_weights(out / "model.pt", reference_run / "model.pt")
    pd.testing.assert_frame_equal(pd.read_csv(out / "loss.csv"), pd.read_csv(reference_run / "loss.csv"))
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("best_epoch", "best_val_loss", "val_pearson_nodes", "val_pearson_edges", "epochs_run", "steps"):
        assert metrics[key] == ref[key], key


# ----------------------------------------------------------------------------- distributed
def test_distributed_env_from_torchrun_and_srun(monkeypatch):
    assert distributed_env({}) is None
    assert distributed_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) is None
    env = distributed_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "h",
                                    "MASTER_PORT": "1234"})
    assert env == {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1234"}
    asked = []
    monkeypatch.setattr(ddp, "_first_slurm_host", lambda nodelist: asked.append(nodelist) or "node01")
    env = distributed_env({"SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_LOCALID": "1",
                                    "SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "node[01-02]"})
    assert asked == ["node[01-02]"]
    assert env["RANK"] == "3" and env["WORLD_SIZE"] == "4" and env["LOCAL_RANK"] == "1"
    assert env["MASTER_ADDR"] == "node01"
    assert env["MASTER_PORT"] == str(15000 + 4242 * 16 % 20000)
    # the same job id gives every rank the same port; another job another one
    other = distributed_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "4243"})
    assert other["MASTER_PORT"] != env["MASTER_PORT"] and other["RANK"] == "0"


def test_first_slurm_host_without_scontrol_is_localhost(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ddp._first_slurm_host("node[01-02]") == "127.0.0.1"
    assert ddp._first_slurm_host(None) == "127.0.0.1"


@pytest.mark.slow
def test_two_gloo_ranks_stay_in_sync_and_match_one_process(data, tmp_path):
    """W = 2 ranks × 1 graph per step = one process × 2 graphs per step, up to the reduction order."""
    cfg, train, _ = data
    c2 = copy.deepcopy(cfg)
    c2["training"]["ranks"] = 2
    c2["models"]["botan"].update(graphs_per_step=1, epochs=3)
    train_cell(c2, "botan", 0.64, 1, train, tmp_path / "w2")
    m = json.loads((tmp_path / "w2/metrics.json").read_text())
    assert m["ranks"] == 2 and m["ddp_max_weight_difference"] == 0.0
    c1 = copy.deepcopy(c2)
    c1["training"]["ranks"] = 1
    c1["models"]["botan"]["graphs_per_step"] = 2
    train_cell(c1, "botan", 0.64, 1, train, tmp_path / "w1")
    a = torch.load(tmp_path / "w2/model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "w1/model.pt", weights_only=True)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    l2, l1 = pd.read_csv(tmp_path / "w2/loss.csv"), pd.read_csv(tmp_path / "w1/loss.csv")
    np.testing.assert_allclose(l2["val_loss"], l1["val_loss"], rtol=1e-4)


# ----------------------------------------------------------------------------- edges found by mutation testing
@pytest.fixture(scope="module")
def edge_data(tmp_path_factory):
    cfg = small_config(n=96, n_conf=8, n_train=6)
    cfg["training"]["validation_fraction"] = 0.34       # fit 0–3, validate 4–5
    paths = write_labels(cfg, tmp_path_factory.mktemp("edges"), range(6), replicas=2)
    return cfg, paths


def test_cell_settings_and_the_keys_their_errors_name(paper_config):
    assert cell_settings(paper_config, "botan") == {"p": 0.4, "epochs": 1000, "graphs_per_step": 1, "lr": 1e-4}
    assert cell_settings(paper_config, "botan", pretrain=True)["p"] == 0.0
    assert cell_settings(paper_config, "botan", pretrain=True)["epochs"] == 2000
    with pytest.raises(gcfg.ConfigError, match=r"models\.gat.*no settings for this model"):
        cell_settings(paper_config, "gat")
    with pytest.raises(gcfg.ConfigError, match=r"models\.ntgnn\.pretrain.*pretraining asked for but not configured"):
        cell_settings(paper_config, "ntgnn", pretrain=True)


def test_decode_mode():
    assert [decode_mode(p) for p in (1.0, 0.0, 0.4, 0.999)] == ["nodes", "edges", "both", "both"]


def _t(a):
    return None if a is None else torch.tensor(a, dtype=torch.float32)


def _g(nodes, edges, n=3, e=2, seed=0):
    """A hand-made CellGraph (random edges among n nodes) with the given targets (None: absent)."""
    rng = np.random.default_rng(seed)
    return CellGraph(c=0, x=torch.zeros(n, 1), edge_index=torch.as_tensor(rng.integers(0, n, (2, e))),
                              edge_vectors=torch.as_tensor(rng.normal(size=(e, 3)), dtype=torch.float32),
                              nodes=_t(nodes), edges=_t(edges), node_mask=np.ones(n, bool), edge_mask=np.ones(e, bool))


def test_statistics_of_missing_targets_are_the_identity():
    """Node-only labels (no E_ij) and edge-only pretraining (no S_i): the absent target gets μ = 0, σ = 1 and
    the present one is still standardised."""
    node_only = [_g([1.0, 2.0, 3.0], None)]
    stats = target_stats(node_only)
    assert stats == {"nodes": {"mean": 2.0, "std": pytest.approx(np.sqrt(2 / 3))}, "edges": {"mean": 0.0, "std": 1.0}}
    standardise(node_only, stats)
    assert node_only[0].edges is None and float(node_only[0].nodes.sum()) == pytest.approx(0.0, abs=1e-6)
    edge_only = [_g(None, [1.0, 3.0])]
    stats = target_stats(edge_only)
    assert stats == {"nodes": {"mean": 0.0, "std": 1.0}, "edges": {"mean": 2.0, "std": 1.0}}
    standardise(edge_only, stats)
    assert edge_only[0].nodes is None and edge_only[0].edges.tolist() == [-1.0, 1.0]
    both = [_g([1.0, 2.0, 3.0], [1.0, 3.0])]                # network.targets = raw: the identity for both
    assert target_stats(both, "raw") == {"nodes": {"mean": 0.0, "std": 1.0}, "edges": {"mean": 0.0, "std": 1.0}}
    assert target_stats(both)["nodes"]["mean"] == 2.0      # the default standardises


def test_a_batch_of_three_graphs_and_a_batch_without_node_targets():
    torch.manual_seed(0)
    net = InteractionNetwork(8, 1)
    gs = [_g([0.1 * k, 0.2, 0.3 + k], [1.0 - k, 2.0, 0.5], n=3, e=3, seed=k) for k in range(3)]
    gs[1] = _g([0.5, 0.1, 0.2, 0.9], [0.3, 0.2, 0.1, 0.7, 0.4], n=4, e=5, seed=9)
    both = batch_loss(net, make_batch(gs, [None] * 3), 0.4)
    single = [batch_loss(net, make_batch([g], [None]), 0.4) for g in gs]
    torch.testing.assert_close(both, sum(single) / 3, rtol=1e-5, atol=1e-7)
    pre = [_g(None, [1.0, 2.0], seed=1), _g(None, [0.5, 0.25], seed=2)]
    batch = make_batch(pre, [None, None])
    assert batch.nodes is None and batch.edges.tolist() == [1.0, 2.0, 0.5, 0.25]
    assert batch_loss(net, batch, 0.0).item() > 0


def test_label_files_that_do_not_fit_the_cell_are_named(edge_data, tmp_path):
    cfg, paths = edge_data
    with pytest.raises(storage.StorageError, match=rf"{paths[0].name}.*configuration 0 given twice"):
        train_cell(cfg, "ntgnn", 0.64, 1, [paths[0], paths[1], paths[0]], tmp_path / "a")
    with pytest.raises(storage.StorageError, match=rf"{paths[0].name}.*labels at T = 0.64, but this cell is T = 1.00"):
        cfg1 = dict(cfg, temperatures=cfg["temperatures"] + [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 1.0]}])
        train_cell(cfg1, "ntgnn", 1.0, 1, paths[:2], tmp_path / "b")
    with pytest.raises(ValueError, match=r"none of the 2 label files is a fit configuration \[0, 1, 2, 3\]"):
        train_cell(cfg, "ntgnn", 0.64, 1, paths[4:6], tmp_path / "c")
    (test,) = write_labels(cfg, tmp_path / "test", [6])
    with pytest.raises(storage.StorageError, match=rf"{test.name}.*not a training configuration \(0 … 5\)"):
        train_cell(cfg, "ntgnn", 0.64, 1, paths + [test], tmp_path / "d")


def test_node_only_labels_train_ntgnn_and_the_order_of_the_files_does_not_matter(edge_data, tmp_path):
    """Labels without E_ij (imported GlassBench files) train NT-GNN (p = 1), not BOTAN; the fit and validation
    lists are sorted by configuration whatever order the files come in."""
    cfg, paths = edge_data
    node_only = []
    for p in reversed(paths):
        d, attrs = storage.read_h5(p)
        del d["pair_distance_change"]
        node_only.append(storage.write_h5(tmp_path / "labels" / p.name, d, attrs))
    c = copy.deepcopy(cfg)
    c["models"]["ntgnn"]["epochs"] = 1
    train_cell(c, "ntgnn", 0.64, 1, node_only, tmp_path / "out")
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["fit_configurations"] == [0, 1, 2, 3] and m["validation_configurations"] == [4, 5]
    assert np.isfinite(m["val_pearson_nodes"]) and m["val_pearson_edges"] is None
    # BOTAN (p = 0.4) needs E_ij: the first file without it is named before anything is trained
    with pytest.raises(storage.StorageError, match=r"c0005\.h5.*pair_distance_change"):
        train_cell(c, "botan", 0.64, 1, node_only, tmp_path / "botan")
