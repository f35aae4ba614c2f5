"""Published BOTAN weights (pyg_botan state dicts) in glassdyn: import, predict, fine-tune, and the refusals.

The published network is written out here a second time, plainly, from its
description (botan_published/README.md: key names, shapes, edge src → dst
carrying r_dst − r_src, node update summing at dst, one decoder ReLU–ReLU–
linear for nodes and edges, raw outputs), on a graph built here by brute
force over all pairs. A small random state dict with the published key names
goes through ``glassdyn import-weights`` and ``glassdyn predict`` and must
give that reference's node and edge outputs (edges matched by (source,
destination)). The real model1.pth is checked the same way by the closing
note's command (outside the tests: users do not have the published files).
"""
from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict

import gnn_helpers as gh
import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from glassdyn import cli
from glassdyn import config as gcfg
from glassdyn.gnn import evaluate, train
from glassdyn.gnn.batches import random_signed_permutation
from glassdyn.gnn.trained import load_trained
from glassdyn.io import storage
from glassdyn.io import structures as F
from glassdyn.models import published

HIDDEN = 8


def published_state_dict(hidden: int = HIDDEN, seed: int = 0) -> OrderedDict:
    """Random weights under the published key names and shapes. Gaussian weights of std 1.5/√fan-in, small
    biases, and the node update's Σ-block divided by ~40 edges per node: outputs of order 1 that vary from
    particle to particle after 7 cycles (default-initialised layers wash out to a near constant)."""
    g = torch.Generator().manual_seed(seed)
    d = hidden
    layers = {"node_encoder": [(d, 1), (d, d)], "edge_encoder": [(d, 3), (d, d)],
              "network.edge_model.mlp": [(d, 4 * d), (d, d)], "network.node_model.mlp": [(d, 3 * d), (d, d)],
              "decoder": [(d, d), (d, d), (1, d)]}
    sd = OrderedDict()
    for prefix, shapes in layers.items():
        for i, (n_out, n_in) in enumerate(shapes, start=1):
            sd[f"{prefix}.fc{i}.weight"] = torch.randn(n_out, n_in, generator=g) * 1.5 / np.sqrt(n_in)
            sd[f"{prefix}.fc{i}.bias"] = (torch.rand(n_out, generator=g) * 2 - 1) * 0.1
    sd["network.node_model.mlp.fc1.weight"][:, 2 * d:] /= 40
    return sd


def brute_force_graph(x: np.ndarray, box: np.ndarray, cutoff: float):
    """Every ordered pair src ≠ dst with |r_dst − r_src| < cutoff (minimum image): (edge_index, r_dst − r_src)."""
    d = x[None, :, :] - x[:, None, :]          # d[src, dst] = r_dst − r_src
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    src, dst = np.nonzero((r < cutoff) & ~np.eye(len(x), dtype=bool))
    return np.stack([src, dst]), d[src, dst]


def reference_forward(sd: dict, types, edge_index, edge_vectors, steps: int = 7):
    """The published network, plainly: concatenations, a sum at dst, one decoder for both outputs."""
    relu = torch.relu

    def mlp(prefix, z, layers, final_relu):
        for i in range(1, layers + 1):
            z = z @ sd[f"{prefix}.fc{i}.weight"].T + sd[f"{prefix}.fc{i}.bias"]
            if i < layers or final_relu:
                z = relu(z)
        return z

    src, dst = torch.as_tensor(edge_index[0]), torch.as_tensor(edge_index[1])
    h0 = mlp("node_encoder", torch.as_tensor(types, dtype=torch.float64)[:, None], 2, True)
    e0 = mlp("edge_encoder", torch.as_tensor(edge_vectors, dtype=torch.float64), 2, True)
    h, e = h0, e0
    for _ in range(steps):
        e = mlp("network.edge_model.mlp", torch.cat([h[src], h[dst], e, e0], dim=1), 2, True)
        summed = torch.zeros_like(h).index_add_(0, dst, e)
        h = mlp("network.node_model.mlp", torch.cat([h, h0, summed], dim=1), 2, True)
    return mlp("decoder", h, 3, False)[:, 0].numpy(), mlp("decoder", e, 3, False)[:, 0].numpy()


@pytest.fixture(scope="module")
def pth(tmp_path_factory):
    path = tmp_path_factory.mktemp("published") / "model1.pth"
    torch.save(published_state_dict(), path)
    return path


def test_import_weights_then_predict_reproduces_the_published_network(pth, tmp_path, monkeypatch):
    types, box, x = gh.structure(300, seed=5)          # ρ = 1.2, 20 % B: the system of config.yaml
    structure = F.write_xyz(tmp_path / "s.xyz", F.Structure(types=types, positions=x, box=box))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["import-weights", str(pth), "--output", "m.pt"]) == 0
    assert cli.main(["predict", str(structure), "--model", "m.pt", "--output", "p.h5",
                     "--min-distance", "0.01"]) == 0   # random positions: overlaps allowed
    with h5py.File(tmp_path / "p.h5") as f:
        nodes, ei, edges = f["per_atom/propensity"][()], f["edge_index"][()], f["pair_distance_change"][()]

    sd64 = {k: v.double() for k, v in published_state_dict().items()}
    ref_ei, ref_ev = brute_force_graph(x, box, 2.0)
    ref_nodes, ref_edges = reference_forward(sd64, types, ref_ei, ref_ev)
    np.testing.assert_allclose(nodes, ref_nodes, atol=1e-4)
    key, ref_key = ei[0] * len(x) + ei[1], ref_ei[0] * len(x) + ref_ei[1]
    np.testing.assert_array_equal(np.sort(key), np.sort(ref_key))
    np.testing.assert_allclose(edges[np.argsort(key)], ref_edges[np.argsort(ref_key)], atol=1e-4)
    assert min(np.std(ref_nodes), np.std(ref_edges)) > 100 * 1e-4    # outputs vary far beyond the tolerance

    rc = cli.main(["predict", str(structure), "--model", str(pth), "--output", "q.h5"])
    assert rc == 2 and not (tmp_path / "q.h5").exists()     # the .pth itself: "convert it first"
    trained = load_trained(tmp_path / "m.pt", device="cpu")
    assert trained.meta["hyperparameters"] == {"hidden": HIDDEN, "message_passing_steps": 7, "decoder": "shared",
                                               "decoder_layers": 3}
    assert trained.meta["targets"] == "raw" and trained.meta["source_sha256"] == published.sha256(pth)
    assert trained.predicts_nodes and trained.predicts_edges


@pytest.mark.parametrize("broken, message", [
    (lambda sd: [1, 2, 3], "not a state dict"),
    (lambda sd: {k: v for k, v in sd.items() if k != "decoder.fc3.weight"},
     r"missing key\(s\) \['decoder.fc3.weight'\]"),
    (lambda sd: {**sd, "decoder.fc4.weight": torch.zeros(1, 8)}, r"unexpected key\(s\) \['decoder.fc4.weight'\]"),
    (lambda sd: {**sd, "network.node_model.mlp.fc1.weight": torch.zeros(8, 16)},
     r"network.node_model.mlp.fc1.weight has shape \(8, 16\), expected \(8, 24\)"),
    (lambda sd: {**sd, "decoder.fc1.bias": 3.0}, "decoder.fc1.bias holds a float"),
])
def test_wrong_files_are_refused_naming_file_and_fault(tmp_path, caplog, broken, message):
    bad = tmp_path / "bad.pth"
    torch.save(broken(published_state_dict()), bad)
    with caplog.at_level(logging.ERROR):
        assert cli.main(["import-weights", str(bad), "--output", str(tmp_path / "m.pt")]) == 2
    assert "bad.pth" in caplog.text
    assert re.search(message, caplog.text), caplog.text
    assert not (tmp_path / "m.pt").exists()


def test_imported_network_is_evaluated_like_a_trained_cell(pth, tmp_path):
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    label = gh.write_labels(cfg, tmp_path, [4], replicas=3)
    model = published.import_weights(pth, tmp_path / "m.pt", cfg, T=0.64, time_index=1)
    ev = pd.read_csv(evaluate.evaluate_cell(cfg, model, label, tmp_path / "eval.csv"))
    assert list(ev["model"]) == ["botan"] and list(ev["time_index"]) == [1] and list(ev["time"]) == [1.0]
    assert np.isfinite(ev["pearson_nodes"]).all() and np.isfinite(ev["pearson_edges"]).all()


def test_not_a_torch_file_a_pickled_module_a_glassdyn_file_and_a_missing_file(pth, tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(storage.StorageError, match="notes.pth.*not a torch file"):
        published.import_weights(text, tmp_path / "m.pt", gh.small_config())
    torch.save({"net": torch.nn.Linear(2, 2)}, tmp_path / "pickled.pth")          # a whole module, not a state dict
    with pytest.raises(storage.StorageError, match="pickled.pth.*besides tensors"):
        published.import_weights(tmp_path / "pickled.pth", tmp_path / "m.pt", gh.small_config())
    model = published.import_weights(pth, tmp_path / "m.pt", gh.small_config())
    with pytest.raises(storage.StorageError, match="m.pt.*is a glassdyn model file already"):
        published.import_weights(model, tmp_path / "again.pt", gh.small_config())
    with pytest.raises(storage.StorageError, match="absent.pth.*does not exist"):
        published.import_weights(tmp_path / "absent.pth", tmp_path / "m.pt", gh.small_config())


def _published_cfg(tmp_path, clip):
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    cfg["network"].update(hidden=HIDDEN, message_passing_steps=7, decoder="shared", decoder_layers=3, targets="raw")
    cfg["training"].update(augmentation_group="signed_permutations", gradient_clip_norm=clip,
                           validation_fraction=0.0)
    cfg["models"]["botan"].update(epochs=1, lr=1e-3)
    return cfg


def test_training_starts_from_published_weights_with_the_published_recipe(pth, tmp_path):
    """lr 1e-3, clipping at 1e-12: Adam then moves a weight by ~lr·1e-12/eps per step, so the result is the
    published network to 1e-5 (it was loaded, and clipping acted); without clipping the weights move by ~lr."""
    cfg = _published_cfg(tmp_path, clip=1e-12)
    labels = gh.write_labels(cfg, tmp_path, range(4), replicas=3)
    want, _ = published.convert_state_dict(published_state_dict())
    moved = {}
    for clip in (1e-12, None):
        cfg["training"]["gradient_clip_norm"] = clip
        out = train.train_cell(cfg, "botan", "0.64", 1, labels, tmp_path / f"clip{clip}", pretrained=pth)
        got = torch.load(out, weights_only=True)
        moved[clip] = max(float((got["state_dict"][k] - v).abs().max()) for k, v in want.items())
        assert got["targets"] == "raw" and got["target_stats"]["nodes"] == {"mean": 0.0, "std": 1.0}
    assert moved[1e-12] < 1e-5 < 1e-4 < moved[None]
    metrics = json.loads((tmp_path / "clipNone" / "metrics.json").read_text())
    assert metrics["validation_configurations"] == [] and metrics["augmentation_group"] == "signed_permutations"


def test_pretrained_network_of_another_architecture_is_refused(pth, tmp_path):
    cfg = _published_cfg(tmp_path, clip=1.0)
    cfg["network"]["decoder"] = "separate"
    labels = gh.write_labels(cfg, tmp_path, range(4), replicas=3)
    with pytest.raises(storage.StorageError, match="model1.pth.*decoder.*network"):
        train.train_cell(cfg, "botan", "0.64", 1, labels, tmp_path / "out", pretrained=pth)


def test_signed_permutations_are_the_48_cube_symmetries_drawn_uniformly():
    rng = np.random.default_rng(1)
    draws = [random_signed_permutation(rng) for _ in range(9600)]
    keys = [tuple(m.astype(int).ravel()) for m in draws]
    counts = np.array(list({k: keys.count(k) for k in set(keys)}.values()))
    assert len(counts) == 48 and counts.min() > 140 and counts.max() < 260      # 200 ± 4.3σ
    for m in draws[:50]:
        np.testing.assert_array_equal(np.abs(m).sum(axis=0), 1)
        np.testing.assert_allclose(m @ m.T, np.eye(3))
    assert abs(np.mean([np.linalg.det(m) for m in draws])) < 0.05             # half are reflections


def test_no_validation_set_is_for_the_graph_networks_alone(cfg):
    """training.validation_fraction: 0 (the published recipe trains on every training configuration)."""
    cfg["training"]["validation_fraction"] = 0.0
    with pytest.raises(gcfg.ConfigError, match="training.validation_fraction.*tglassmlp"):
        gcfg.validate(cfg)
    cfg["models"]["enabled"] = ["ntgnn", "botan"]
    gcfg.validate(cfg)
    assert gcfg.split_train_validation(cfg) == (list(range(400)), [])


def test_pretrain_weights_file_must_exist(cfg, tmp_path):
    cfg["models"]["botan"]["pretrain"] = str(tmp_path / "absent.pth")
    with pytest.raises(gcfg.ConfigError, match="models.botan.pretrain.*absent.pth.*does not exist"):
        gcfg.validate(cfg)
    (tmp_path / "absent.pth").write_bytes(b"x")
    gcfg.validate(cfg)
