"""The campaign's labels.h5 files as a PyTorch Geometric dataset (glassdyn.gnn.pyg_dataset): contents, splits,
batching, the module docstring's training loop, and a missing file named."""
from __future__ import annotations

import gnn_helpers as gh
import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from glassdyn import config as gcfg
from glassdyn.gnn.pyg_dataset import GlassDataset
from glassdyn.io import storage
from glassdyn.models.user import load_class
from glassdyn.physics.correlation import edge_mask


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A results folder with labels/T0.64/c0000..c0004.h5 and its configuration (4 train: 3 fit + 1 validation)."""
    root = tmp_path_factory.mktemp("pyg")
    cfg = gh.small_config(n=96, n_conf=5, n_train=4)
    cfg["results"] = str(root)
    paths = gh.write_labels(cfg, root, range(5), replicas=3)
    return cfg, paths


def test_items_hold_the_labels_file(campaign):
    cfg, paths = campaign
    ds = GlassDataset.from_campaign(cfg, T=0.64, split="all")
    assert len(ds) == 5
    d, attrs = storage.read_h5(paths[2])
    item = ds[2]
    n, e, n_t = len(d["types"]), d["edge_index"].shape[1], len(d["times"])
    assert item.num_nodes == n and item.num_edges == e and int(item.c) == attrs["c"] == 2
    np.testing.assert_array_equal(item.x[:, 0].numpy(), d["types"])
    np.testing.assert_array_equal(item.edge_index.numpy(), d["edge_index"])
    np.testing.assert_array_equal(item.edge_attr.numpy(), d["edge_vectors"])
    assert item.y.shape == (n, n_t) and item.y_edge.shape == (e, n_t) and item.bond_breaking.shape == (n, n_t)
    np.testing.assert_array_equal(item.y[:, 1].numpy(), d["propensity"][1])
    np.testing.assert_array_equal(item.y_edge[:, 1].numpy(), d["pair_distance_change"][1])
    np.testing.assert_array_equal(item.node_mask.numpy(), d["types"] == 0)
    cutoff = cfg["labels"]["edge_eval_cutoff"]
    np.testing.assert_array_equal(item.edge_mask.numpy(),
                                  edge_mask(d["types"], d["edge_index"], d["edge_vectors"], cutoff))
    assert 0 < int(item.edge_mask.sum()) < e
    np.testing.assert_array_equal(item.times[0].numpy(), d["times"])


def test_splits_are_the_campaigns(campaign):
    cfg, _ = campaign
    fit, val = gcfg.split_train_validation(cfg)
    for split, want in (("train", fit + val), ("fit", fit), ("validation", val), ("test", gcfg.test_indices(cfg))):
        ds = GlassDataset.from_campaign(cfg, T=0.64, split=split)
        assert [int(ds[i].c) for i in range(len(ds))] == want
    with pytest.raises(ValueError, match="split 'dev'"):
        GlassDataset.from_campaign(cfg, T=0.64, split="dev")
    with pytest.raises(gcfg.ConfigError, match="no temperature 0.44"):
        GlassDataset.from_campaign(cfg, T=0.44)


def test_batches_offset_edges_and_stack_per_graph_fields(campaign):
    cfg, _ = campaign
    ds = GlassDataset.from_campaign(cfg, T=0.64, split="train", cache=True)
    batch = next(iter(DataLoader(ds, batch_size=2, shuffle=False)))
    a, b = ds[0], ds[1]
    assert batch.num_graphs == 2 and batch.y.shape == (a.num_nodes + b.num_nodes, a.y.shape[1])
    torch.testing.assert_close(batch.edge_index[:, a.num_edges:], b.edge_index + a.num_nodes)
    assert batch.times.shape == (2, a.y.shape[1]) and batch.box.shape == (2, 3) and batch.c.tolist() == [0, 1]
    assert ds[0] is ds[0]                                           # cached


def test_the_docstring_training_loop_runs_and_learns(campaign):
    """The module docstring's example with the example user model (examples/pyg_model.py)."""
    cfg, _ = campaign
    torch.manual_seed(0)
    train = GlassDataset.from_campaign(cfg, T=0.64, split="train")
    model, k = load_class(f"{gh.ROOT / 'examples' / 'pyg_model.py'}:MyGNN")(hidden=8, layers=2), 1
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        for batch in DataLoader(train, batch_size=2, shuffle=True):
            nodes, _ = model(batch.x, batch.edge_index, batch.edge_attr)
            loss = (nodes - batch.y[:, k])[batch.node_mask].square().mean()
            opt.zero_grad(); loss.backward(); opt.step()     # noqa: E702  (as in the docstring)
            losses.append(loss.item())
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:2])


def test_missing_file_is_named_with_its_target(campaign, tmp_path):
    cfg, _ = campaign
    other = dict(cfg, results=str(tmp_path))
    with pytest.raises(storage.StorageError, match=r"c0000.h5.*5 of the 5 all files missing.*snakemake"):
        GlassDataset.from_campaign(other, T=0.64, split="all")
