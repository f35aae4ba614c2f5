"""The interaction network of NT-GNN/BOTAN: fast path = naive reference, symmetries, model files.

About rotations: the network reads the raw edge vectors r_i − r_j through a
linear encoder, so it is NOT rotation invariant by construction (SCIENCE.md
§5: invariance is learned from random rotations of the training graphs).
What is exact, and tested exactly here: permutation equivariance
(relabelling particles), translation invariance and periodic-image
invariance (the inputs are minimum-image relative vectors). That the
augmentation draws proper rotations uniformly and rotates only the edge
vectors is tested in test_training.py. The approximate invariance a trained
model acquires is measured on real data by validation/botan_sample.py
(correlation of predictions on rotated and unrotated inputs): on the tiny
synthetic sets a unit test can afford, training with and without
augmentation differed by less than the seed-to-seed spread (measured), so a
unit test of it could not fail reliably and is not written.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from gnn_helpers import structure

from glassdyn.gnn.trained import load_trained, predict_structure
from glassdyn.io.storage import StorageError
from glassdyn.models.interaction_network import GatherPair, InteractionNetwork, pair_index
from glassdyn.physics.graphs import build_graph, node_inputs


def small_graph(n=40, seed=0, cutoff=1.5):
    types, box, x = structure(n, seed)
    ei, ev = build_graph(x, box, cutoff)
    return types, box, x, ei, ev


def tensors(types, ei, ev):
    return (torch.as_tensor(node_inputs(types)), torch.as_tensor(ei), torch.as_tensor(ev))


def naive_forward(net: InteractionNetwork, x, edge_index, edge_attr):
    """The architecture written out plainly: concatenations, full first layers, a loop for the sums."""
    relu = torch.relu

    def mlp(lin1, lin2, z, final=True):
        y = lin2(relu(lin1(z)))
        return relu(y) if final else y

    def decoder(part, z):
        dec = net.decoder_of(part)
        for i in range(1, dec.layers + 1):
            z = getattr(dec, f"lin{i}")(relu(z) if i > 1 else z)
        return z.squeeze(-1)

    src, dst = edge_index[0].tolist(), edge_index[1].tolist()
    h0 = mlp(net.node_encoder.lin1, net.node_encoder.lin2, x)
    e0 = mlp(net.edge_encoder.lin1, net.edge_encoder.lin2, edge_attr)
    h, e = h0, e0
    eu, nu = net.edge_update, net.node_update
    for _ in range(net.steps):
        e = mlp(eu.lin1, eu.lin2, torch.cat([h[src], h[dst], e, e0], dim=1))
        incoming = [torch.zeros(net.hidden) for _ in range(h.shape[0])]
        for k, i in enumerate(dst):
            incoming[i] = incoming[i] + e[k]
        h = mlp(nu.lin1, nu.lin2, torch.cat([h, h0, torch.stack(incoming)], dim=1))
    return decoder("nodes", h), decoder("edges", e)


@pytest.fixture
def net():
    torch.manual_seed(3)
    return InteractionNetwork(hidden=8, steps=3)


@pytest.mark.parametrize("decoder, layers", [("separate", 2), ("shared", 3)])
def test_fast_path_equals_naive_reference_forward_and_gradients(decoder, layers):
    """Both decoder forms: glassdyn's two 2-layer decoders and the published BOTAN one shared 3-layer decoder."""
    torch.manual_seed(3)
    net = InteractionNetwork(hidden=8, steps=3, decoder=decoder, decoder_layers=layers)
    types, box, x, ei, ev = small_graph()
    xt, eit, evt = tensors(types, ei, ev)
    fast = net(xt, eit, evt)
    slow = naive_forward(net, xt, eit, evt)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # Same gradients for every parameter (custom GatherPair backward, split first layers).
    g_fast = torch.autograd.grad(fast[0].square().sum() + 0.3 * fast[1].square().sum(), list(net.parameters()))
    g_slow = torch.autograd.grad(slow[0].square().sum() + 0.3 * slow[1].square().sum(), list(net.parameters()))
    for (name, _), a, b in zip(net.named_parameters(), g_fast, g_slow):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_bf16_autocast_step_tracks_float32(net):
    """training.precision = bf16: the fast path runs under autocast (in-place products cast by hand) and gives
    the float32 outputs and gradients to bf16 accuracy (8-bit mantissa, float32 sums); weights stay float32."""
    types, box, x, ei, ev = small_graph(n=120, seed=5)
    xt, eit, evt = tensors(types, ei, ev)
    params = list(net.parameters())

    def run():
        nodes, edges = net(xt, eit, evt)
        loss = nodes.float().square().mean() + 0.3 * edges.float().square().mean()
        return nodes, edges, torch.autograd.grad(loss, params)

    n32, e32, g32 = run()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        n16, e16, g16 = run()
    assert n16.dtype == e16.dtype == torch.bfloat16
    assert all(g.dtype == torch.float32 for g in g16)
    for a, b in ((n16, n32), (e16, e32)):
        assert (a.float() - b).abs().max() < 0.03 * b.abs().max()
    flat16, flat32 = torch.cat([g.flatten() for g in g16]), torch.cat([g.flatten() for g in g32])
    assert torch.nn.functional.cosine_similarity(flat16, flat32, dim=0) > 0.995
    assert (flat16 - flat32).norm() < 0.1 * flat32.norm()


@pytest.mark.parametrize("decoder, layers", [("separate", 2), ("shared", 3)])
def test_inference_path_equals_training_path(decoder, layers):
    """Without autograd the network runs chunked and in place; the numbers must not change."""
    torch.manual_seed(3)
    net = InteractionNetwork(hidden=8, steps=3, decoder=decoder, decoder_layers=layers)
    types, box, x, ei, ev = small_graph(seed=8)
    xt, eit, evt = tensors(types, ei, ev)
    net.inference_chunk = 97                         # several chunks, the last one partial
    assert ei.shape[1] > 3 * 97
    ref = net(xt, eit, evt)
    with torch.no_grad():
        out = net(xt, eit, evt)
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        _, e_only = net(xt, eit, evt, decode="edges")
    torch.testing.assert_close(e_only, ref[1].detach(), rtol=1e-5, atol=1e-6)


def test_gather_pair_matches_index_select_and_its_gradient():
    torch.manual_seed(0)
    ab = torch.randn(7, 6, dtype=torch.float64, requires_grad=True)
    ei = torch.tensor([[0, 3, 6, 6, 2], [1, 1, 0, 5, 2]])
    assert torch.autograd.gradcheck(lambda t: GatherPair.apply(t, pair_index(ei)), (ab,))
    expect = ab[:, :3][ei[0]] + ab[:, 3:][ei[1]]
    torch.testing.assert_close(GatherPair.apply(ab, pair_index(ei)), expect)


def test_decode_modes_skip_unused_decoders(net):
    types, box, x, ei, ev = small_graph()
    xt, eit, evt = tensors(types, ei, ev)
    both = net(xt, eit, evt)
    n_only = net(xt, eit, evt, decode="nodes")
    e_only = net(xt, eit, evt, decode="edges")
    assert n_only[1] is None and e_only[0] is None
    torch.testing.assert_close(n_only[0], both[0])
    torch.testing.assert_close(e_only[1], both[1])
    assert both[0].shape == (len(types),) and both[1].shape == (ei.shape[1],)


def _edge_map(ei, out, relabel=None):
    """{(source particle, target particle): value} in the original particle labels."""
    src, dst = ei
    if relabel is not None:
        src, dst = relabel[src], relabel[dst]
    return {(int(a), int(b)): float(v) for a, b, v in zip(src, dst, out)}


def test_permutation_equivariance(net):
    types, box, x, ei, ev = small_graph(seed=1)
    perm = np.random.default_rng(5).permutation(len(types))   # new particle k is old particle perm[k]
    ei_p, ev_p = build_graph(x[perm], box, 1.5)
    with torch.no_grad():
        n0, e0 = net(*tensors(types, ei, ev))
        n1, e1 = net(*tensors(types[perm], ei_p, ev_p))
    np.testing.assert_allclose(n1.numpy(), n0.numpy()[perm], rtol=1e-5, atol=1e-6)
    m0, m1 = _edge_map(ei, e0.numpy()), _edge_map(ei_p, e1.numpy(), relabel=perm)
    assert m0.keys() == m1.keys()
    np.testing.assert_allclose([m1[k] for k in m0], [m0[k] for k in m0], rtol=1e-5, atol=1e-6)


def test_translation_and_periodic_image_invariance(net):
    types, box, x, ei, ev = small_graph(seed=2)
    rng = np.random.default_rng(9)
    moved = x + rng.random(3) * box                                   # translated, partly outside the box
    imaged = x + box * rng.integers(-3, 4, size=x.shape)              # every particle in another image
    with torch.no_grad():
        ref = net(*tensors(types, ei, ev))
        for pos in (moved, imaged, np.mod(moved, box)):
            ei2, ev2 = build_graph(pos, box, 1.5)
            np.testing.assert_array_equal(ei2, ei)
            out = net(*tensors(types, ei2, ev2))
            for a, b in zip(out, ref):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_not_rotation_invariant_by_construction(net):
    """Documents the premise of the augmentation: an untrained network changes under a rotation."""
    types, box, x, ei, ev = small_graph(seed=4)
    R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    xt, eit, evt = tensors(types, ei, ev)
    with torch.no_grad():
        a = net(xt, eit, evt)[0]
        b = net(xt, eit, evt @ R.T)[0]
    assert not torch.allclose(a, b, atol=1e-4)


def _save_model(path, net, p=0.4, stats=None):
    stats = stats or {"nodes": {"mean": 0.5, "std": 2.0}, "edges": {"mean": -0.1, "std": 0.25}}
    torch.save({"model": "botan", "state_dict": net.state_dict(), "hyperparameters": net.hyperparameters(),
                "system": {}, "graph_cutoff": 1.5, "T": 0.64, "time_index": 1, "time": 1.0,
                "target_stats": stats, "p": p}, path)


def test_load_trained_and_predict_structure_destandardise(tmp_path, net):
    types, box, x, ei, ev = small_graph(seed=6)
    _save_model(tmp_path / "model.pt", net)
    trained = load_trained(tmp_path / "model.pt", device="cpu")
    out = predict_structure(trained, types, x + box, box)      # unwrapped input is fine
    with torch.no_grad():
        n, e = net(*tensors(types, ei, ev))
    np.testing.assert_array_equal(out["edge_index"], ei)
    np.testing.assert_allclose(out["nodes"], 0.5 + 2.0 * n.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["edges"], -0.1 + 0.25 * e.numpy(), rtol=1e-5, atol=1e-6)


def test_untrained_decoder_predicts_nan(tmp_path, net):
    types, box, x, *_ = small_graph(seed=7)
    _save_model(tmp_path / "ntgnn.pt", net, p=1.0)
    out = predict_structure(load_trained(tmp_path / "ntgnn.pt", device="cpu"), types, x, box)
    assert np.isfinite(out["nodes"]).all() and np.isnan(out["edges"]).all()


def test_bad_model_file_is_named(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(StorageError, match="model.pt"):
        load_trained(bad)
    torch.save({"model": "botan"}, bad)
    with pytest.raises(StorageError, match="missing key"):
        load_trained(bad)


def test_model_file_without_decoder_keys_loads_as_separate_two_layer_decoders(tmp_path, net):
    """model.pt files written before network.decoder/decoder_layers existed keep loading (their defaults)."""
    _save_model(tmp_path / "old.pt", net)
    obj = torch.load(tmp_path / "old.pt", weights_only=True)
    obj["hyperparameters"] = {"hidden": 8, "message_passing_steps": 3}
    torch.save(obj, tmp_path / "old.pt")
    trained = load_trained(tmp_path / "old.pt", device="cpu")
    assert trained.network.hyperparameters() == {"hidden": 8, "message_passing_steps": 3, "decoder": "separate",
                                                 "decoder_layers": 2}
