"""A user's network in the campaign's cells (glassdyn.models.user): the example trains, evaluates, predicts,
reloads from its model.pt; every way of getting the interface wrong is named. The example also runs in the
tiny Snakemake campaign (test_workflow_e2e.py), where it reaches cells.csv."""
from __future__ import annotations

import json
import textwrap

import gnn_helpers as gh
import numpy as np
import pandas as pd
import pytest
import torch

from glassdyn import config as gcfg
from glassdyn.config.families import enabled, family
from glassdyn.gnn import evaluate, train
from glassdyn.gnn.trained import load_trained, predict_graph
from glassdyn.models.user import UserModel, UserModelError

EXAMPLE = f"{gh.ROOT / 'examples' / 'pyg_model.py'}:MyGNN"


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def user_config(spec=EXAMPLE, p=0.4, options=None, **extra):
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    options = {"hidden": 8, "layers": 2} if options is None else options
    cfg["models"]["mine"] = {"network": spec, "options": options, "p": p, "epochs": 2, "graphs_per_step": 2,
                             "lr": 1e-3, **extra}
    cfg["models"]["enabled"] = ["ntgnn", "botan", "mine"]
    return gcfg.validate(cfg)


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    root = tmp_path_factory.mktemp("user")
    return gh.write_labels(user_config(), root, range(5), replicas=3)


def test_example_model_trains_evaluates_and_predicts_like_a_builtin(labels, tmp_path):
    cfg = user_config()
    assert enabled(cfg, "gnn") == ["ntgnn", "botan", "mine"] and family("mine", cfg).network == EXAMPLE
    model = train.train_cell(cfg, "mine", "0.64", 1, labels[:4], tmp_path / "t1")
    saved = torch.load(model, weights_only=True)
    assert saved["hyperparameters"] == {"network": EXAMPLE, "options": {"hidden": 8, "layers": 2}}
    assert all(k.startswith("net.") for k in saved["state_dict"])
    metrics = json.loads((tmp_path / "t1" / "metrics.json").read_text())
    assert metrics["fit_configurations"] == [0, 1, 2] and metrics["validation_configurations"] == [3]
    assert np.isfinite(metrics["val_pearson_nodes"]) and np.isfinite(metrics["val_pearson_edges"])

    csv = evaluate.evaluate_cell(cfg, model, labels[4:], tmp_path / "eval.csv")
    ev = pd.read_csv(csv)
    assert list(ev["model"]) == ["mine"] and list(ev["c"]) == [4]
    assert np.isfinite(ev["pearson_nodes"]).all() and np.isfinite(ev["pearson_edges"]).all()

    trained = load_trained(model, device="cpu")
    d = evaluate.read_test_configuration(labels[4], 1)
    out = predict_graph(trained, d["types"], d["edge_index"], d["edge_vectors"])
    with torch.no_grad():
        n, e = trained.network.net(torch.as_tensor(d["types"], dtype=torch.float32)[:, None],
                                   torch.as_tensor(d["edge_index"]), torch.as_tensor(d["edge_vectors"]))
    stats = saved["target_stats"]
    np.testing.assert_allclose(out["nodes"], stats["nodes"]["mean"] + stats["nodes"]["std"] * n.numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(out["edges"], stats["edges"]["mean"] + stats["edges"]["std"] * e.numpy(), rtol=1e-5,
                               atol=1e-6)


def _module(tmp_path, body: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text("import torch\nfrom torch import nn\n\n" + textwrap.dedent(body))
    return str(path)


NODES_ONLY = """
class Net(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.lin = nn.Linear(1, 1)
    def forward(self, x, edge_index, edge_attr):
        return self.lin(x)
"""


def test_node_only_model_trains_at_p1_and_is_refused_at_p04(labels, tmp_path):
    spec = _module(tmp_path, NODES_ONLY) + ":Net"
    model = train.train_cell(user_config(spec, p=1.0, options={}), "mine", "0.64", 1, labels[:4], tmp_path / "o")
    trained = load_trained(model, device="cpu")
    assert trained.predicts_nodes and not trained.predicts_edges
    with pytest.raises(gcfg.ConfigError, match=r"models.mine.p.*needs edge predictions.*Net"):
        train.train_cell(user_config(spec, p=0.4, options={}), "mine", "0.64", 1, labels[:4], tmp_path / "r")


@pytest.mark.parametrize("body, spec_tail, options, message", [
    (NODES_ONLY, ":Missing", {}, "the module has no 'Missing'"),
    ("Net = 3\n", ":Net", {}, "Net is not a torch.nn.Module subclass"),
    (NODES_ONLY, ":Net", {"depth": 2}, r"constructor does not take options \{'depth': 2\}"),
    ("raise RuntimeError('broken import')\n", ":Net", {}, "importing .*mine.py failed.*broken import"),
    (NODES_ONLY.replace("return self.lin(x)", "return self.lin(x)[:3]"), ":Net", {},
     r"node predictions have shape \(3, 1\), expected \(6,\) or \(6, 1\)"),
    (NODES_ONLY.replace("return self.lin(x)", "return self.lin(x), edge_attr"), ":Net", {},
     r"edge predictions have shape \(12, 3\), expected \(12,\)"),
    (NODES_ONLY.replace("return self.lin(x)", "return self.lin(edge_attr)"), ":Net", {},
     "failed on a 6-particle test graph"),
    (NODES_ONLY.replace("return self.lin(x)", "return x.long()"), ":Net", {}, "must be a float tensor"),
])
def test_interface_faults_are_named(tmp_path, body, spec_tail, options, message):
    spec = _module(tmp_path, body) + spec_tail
    with pytest.raises(UserModelError, match=message):
        UserModel(spec, options)


def test_unloadable_class_specs_are_named(tmp_path):
    with pytest.raises(UserModelError, match="write it as module:Class"):
        UserModel("just_a_name")
    cfg = user_config()
    cfg["models"]["enabled"].append("theirs")
    with pytest.raises(gcfg.ConfigError, match="models.enabled.3.*'theirs' is neither a built-in model"):
        gcfg.validate(cfg)
    with pytest.raises(UserModelError, match="no module 'no_such_module_xyz.sub'.*PYTHONPATH"):
        UserModel("no_such_module_xyz.sub:Net")
    with pytest.raises(UserModelError, match="absent.py does not exist"):
        UserModel(f"{tmp_path / 'absent.py'}:Net")
    cfg = user_config()
    cfg["models"]["ntgnn"]["network"] = EXAMPLE
    with pytest.raises(gcfg.ConfigError, match="models.ntgnn.network"):
        gcfg.validate(cfg)


@pytest.mark.slow
def test_two_gloo_ranks_train_a_user_model_in_sync(labels, tmp_path):
    cfg = user_config(p=1.0)          # the example's edge head is unused at p = 1: DDP must cope
    cfg["training"]["ranks"] = 2
    train.train_cell(cfg, "mine", "0.64", 1, labels[:4], tmp_path / "ddp")
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["ranks"] == 2 and metrics["ddp_max_weight_difference"] == 0.0


def test_a_slice_with_models_enabled_alone_still_knows_the_user_network():
    """The report's slice holds models.enabled but not models.mine: the name is a user's (gnn) network."""
    assert enabled({"models": {"enabled": ["ntgnn", "mine", "tglassmlp"]}}, "gnn") == ["ntgnn", "mine"]
