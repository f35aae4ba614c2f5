"""tGlassMLP: network, losses, state points, training, two-step procedure and heterogeneity measures."""
from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from glassdyn.io import storage
from glassdyn.io.tables import SCORE_COLUMNS
from glassdyn.models import tglassmlp as net
from glassdyn.physics import heterogeneity as het
from glassdyn.tglassmlp import transfer
from glassdyn.tglassmlp.analysis import analysis_rule
from glassdyn.tglassmlp.data import (
    DescriptorCache,
    Descriptors,
    correlation_pairs,
    fit_standardization,
    md_batches,
    mean_bond_breaking,
)
from glassdyn.tglassmlp.evaluate import evaluate_rule
from glassdyn.tglassmlp.fitting import MODEL_NAME, build_model, fit, load_member, predict, score
from glassdyn.tglassmlp.large_system import large_system_rule, tiled_configuration
from glassdyn.tglassmlp.states import state_table, states_rule, time_of_c
from glassdyn.tglassmlp.train import train_member

WEIGHTS = {"mae": 1.0, "variance": 1.0, "correlation": 1.0}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The networks are tiny: one thread avoids oversubscribing the shared cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- losses on hand-made inputs
def test_loss_terms_on_hand_made_values():
    y = torch.tensor([1.0, 1.0, 1.0, 3.0])
    x = torch.tensor([1.0, 2.0, 3.0, 3.0])
    assert float(net.mse_loss(x, y)) == pytest.approx((0 + 1 + 4 + 0) / 4)
    assert float(net.mae_loss(x, y)) == pytest.approx((0 + 1 + 2 + 0) / 4)
    var_y, var_x = np.var([1, 1, 1, 3]), np.var([1, 2, 3, 3])
    assert float(net.variance_loss(x, y)) == pytest.approx(abs(var_x - var_y) / var_y)
    # pairs (0,1) and (1,0): G = mean(dx_0 dx_1, dx_1 dx_0) / Var y
    i, j = torch.tensor([0, 1]), torch.tensor([1, 0])
    dx, dy = x.numpy() - x.numpy().mean(), y.numpy() - y.numpy().mean()
    g_x, g_y = dx[0] * dx[1] / var_y, dy[0] * dy[1] / var_y
    assert float(net.correlation_loss(x, y, [(i, j)])) == pytest.approx(abs(g_x - g_y), rel=1e-6)
    two = [(i, j), (torch.tensor([2, 3]), torch.tensor([3, 2]))]
    g2 = abs(dx[2] * dx[3] - dy[2] * dy[3]) / var_y
    assert float(net.correlation_loss(x, y, two)) == pytest.approx(abs(g_x - g_y) + g2, rel=1e-6)
    total = net.glassmlp_loss(x, y, two, {"mae": 2.0, "variance": 0.5, "correlation": 3.0})
    assert float(total) == pytest.approx(2.0 * 0.75 + 0.5 * abs(var_x - var_y) / var_y + 3.0 * (abs(g_x - g_y) + g2),
                                         rel=1e-6)


def test_each_loss_term_vanishes_for_a_perfect_prediction():
    y = torch.rand(50, generator=torch.Generator().manual_seed(0))
    pairs = [(torch.randint(0, 50, (200,)), torch.randint(0, 50, (200,))) for _ in range(3)]
    for term in (net.mse_loss(y, y), net.mae_loss(y, y), net.variance_loss(y, y), net.correlation_loss(y, y, pairs),
                 net.glassmlp_loss(y.clone(), y, pairs, WEIGHTS)):
        assert float(term) == 0.0
    # and a wrong variance or a wrong spatial pattern is penalised
    assert float(net.variance_loss(2 * y, y)) > 0
    assert float(net.correlation_loss(y.flip(0), y, pairs)) > 0


def test_correlation_pairs_match_brute_force_with_images():
    rng = np.random.default_rng(1)
    box = np.full(3, 4.0)
    x = rng.random((30, 3)) * 4.0
    pairs = correlation_pairs(x, box, [1.5, 3.0], max_pairs=10 ** 6, seed=0)
    shifts = np.array(list(np.ndindex(3, 3, 3))) - 1
    d = np.linalg.norm(x[None, :, None, :] + shifts[None, None] * 4.0 - x[:, None, None, :], axis=-1)
    for (i, j), R in zip(pairs, (1.5, 3.0)):
        got = np.zeros((30, 30), int)
        np.add.at(got, (i.numpy(), j.numpy()), 1)
        np.testing.assert_array_equal(got, ((d > 0) & (d < R)).sum(axis=2))
    sub = correlation_pairs(x, box, [3.0], max_pairs=50, seed=0)
    assert len(sub[0][0]) == 50


# --------------------------------------------------------------------------- network
def test_network_size_attention_and_per_particle_independence():
    torch.manual_seed(0)
    model = net.TGlassMLP(132)
    assert 1000 <= net.parameter_count(model) <= 1400
    S = torch.randn(40, 132)
    s = net.state_features(0.5, 0.8)
    np.testing.assert_allclose(s.numpy(), [2.0, 4.0, 8.0, 0.8, 0.64, 0.512], rtol=1e-6)
    w = model.attention_weights(S, s)
    np.testing.assert_allclose(w.sum(dim=1).detach().numpy(), 1.0, rtol=1e-5)
    out = model(S, s)
    assert out.shape == (40,)
    # a particle's prediction depends on its own descriptors only (per-particle network)
    np.testing.assert_allclose(model(S[:7], s).detach().numpy(), out[:7].detach().numpy(), rtol=1e-5, atol=1e-6)
    perm = torch.randperm(40)
    np.testing.assert_allclose(model(S[perm], s).detach().numpy(), out[perm].detach().numpy(), rtol=1e-5, atol=1e-6)
    # the state point changes the output and gradients reach the attention parameters
    assert not torch.allclose(model(S, net.state_features(0.9, 0.3)), out)
    net.mse_loss(out, torch.zeros(40)).backward()
    assert model.attention.grad.abs().sum() > 0


def test_state_standardisation_is_an_affine_reparametrisation(tmp_path):
    """Scaled state inputs give the function of an unscaled network whose first MLP1/MLP2 layers absorb the map;
    a member saved without the scaling buffers loads with the identity."""
    torch.manual_seed(1)
    model = net.TGlassMLP(12)
    states = torch.stack([net.state_features(T, c) for T in (0.64, 1.0) for c in (1.0, 0.994, 0.927)])
    model.set_state_scaling(states)
    assert torch.allclose(model.state_shift, states.mean(dim=0))
    assert torch.all(model.state_scale[3:] < 0.1)          # c, c², c³ span a few hundredths
    plain = net.TGlassMLP(12)
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("state_")}, strict=False)
    with torch.no_grad():
        for seq in (plain.mlp1, plain.mlp2):
            first = seq[0]
            b = first.bias - first.weight @ (model.state_shift / model.state_scale)
            first.weight.copy_(first.weight / model.state_scale)
            first.bias.copy_(b)
    S = torch.randn(30, 12)
    for s in states:
        np.testing.assert_allclose(plain(S, s).detach().numpy(), model(S, s).detach().numpy(), rtol=1e-4, atol=1e-5)
    # an old member file (no state_shift/state_scale) is read as it was trained: identity scaling
    old = {k: v for k, v in plain.state_dict().items() if not k.startswith("state_")}
    meta = {"n_descriptors": 12, "network": {"mlp1": [6, 6], "mlp2": [7, 7], "mlp2_out": 4, "bottleneck": 2,
                                             "hidden": [10, 10]}}
    torch.save({"model": MODEL_NAME, "state_dict": old, **meta}, tmp_path / "old.pt")
    loaded, _ = load_member(tmp_path / "old.pt")
    assert torch.equal(loaded.state_shift, torch.zeros(6)) and torch.equal(loaded.state_scale, torch.ones(6))
    np.testing.assert_allclose(loaded(S, states[0]).detach().numpy(), plain(S, states[0]).detach().numpy(), rtol=1e-6)


# --------------------------------------------------------------------------- state points
def test_mean_bond_breaking_and_state_table_against_loops(tmp_path, laptop_config):
    rng = np.random.default_rng(2)
    files, cbs, types = [], [], []
    for c in range(3):
        t = (rng.random(20) < 0.25).astype(np.int8)
        cb = rng.random((3, 20))
        cbs.append(cb)
        types.append(t)
        files.append(storage.write_h5(tmp_path / "T0.64" / f"c{c:04d}.h5",
                                      {"bond_breaking": cb.astype(np.float32), "types": t,
                                       "times": np.array([0.1, 1.65, 16.5])}, {"T": 0.64, "c": c}))
    mean, std = mean_bond_breaking(cbs, types)
    for k in range(3):
        per = [np.mean([cbs[c][k, i] for i in range(20) if types[c][i] == 0]) for c in range(3)]
        assert mean[k] == pytest.approx(np.mean(per))
        assert std[k] == pytest.approx(np.std(per))
    table = state_table(laptop_config, files)
    assert list(table["T"]) == [0.64] * 3 and list(table["time_index"]) == [0, 1, 2]
    np.testing.assert_allclose(table["c"], mean, rtol=1e-6)


def test_time_of_c_interpolates_log_time():
    times = np.array([0.1, 1.0, 10.0, 100.0])
    states = pd.DataFrame({"T": 0.5, "time_index": range(4), "time": times, "c": 0.9 - 0.1 * np.log10(times / 0.1)})
    np.testing.assert_allclose(time_of_c(states, 0.5, [0.9, 0.85, 0.65]), [0.1, 0.1 * 10 ** 0.5, 0.1 * 10 ** 2.5])
    assert np.isnan(time_of_c(states, 0.5, 0.95)[0])


# --------------------------------------------------------------------------- training and prediction
def synthetic_structures(n_conf=5, n=150, m=12, temps=("0.50", "1.00"), seed=3):
    """Structures with random descriptors and a label that is a known smooth function of them."""
    rng = np.random.default_rng(seed)
    out, cbs = {}, {}
    for T in temps:
        for c in range(n_conf):
            x = rng.normal(size=(n, m))
            t = np.zeros(n, np.int64)
            t[int(0.8 * n):] = 1
            pos = rng.random((n, 3)) * 5.0
            s = Descriptors(T, c, x, t, pos, np.full(3, 5.0))
            out[(T, c)] = s
            cbs[(T, c)] = np.stack([1 / (1 + np.exp(-(1.5 - k + (x[:, 0] - 0.5 * x[:, 1]) / float(T))))
                                    for k in range(3)])
    states = []
    for T in temps:
        cm = np.mean([cbs[(T, c)][:, out[(T, c)].a_mask].mean(axis=1) for c in range(n_conf)], axis=0)
        states += [{"T": float(T), "time_index": k, "time": 10.0 ** k, "c": cm[k], "c_std": 0.0,
                    "n_configurations": n_conf} for k in range(3)]
    return out, cbs, pd.DataFrame(states)


def test_training_learns_a_structure_function_and_predicts_self_consistently():
    torch.manual_seed(0)
    structures, cbs, states = synthetic_structures()
    st = fit_standardization([s for k, s in structures.items() if k[1] < 3])
    cache = DescriptorCache(st, {"correlation_radii": [1.0, 2.0], "correlation_pairs": 500})
    train = md_batches(cache, {k: s for k, s in structures.items() if k[1] < 3}, cbs, states)
    test = md_batches(cache, {k: s for k, s in structures.items() if k[1] >= 3}, cbs, states)
    model = build_model(12, {"mlp1": [6, 6], "mlp2": [7, 7], "mlp2_out": 4, "bottleneck": 2, "hidden": [10, 10]})
    schedule = {"phase1": [[50, 5e-3]], "phase2": [[4, 2e-4]]}
    hist = fit(model, train, test[:2], schedule, WEIGHTS, seed=1)
    assert len(hist) == 54 and hist[0]["phase"] == "mse" and hist[-1]["phase"] == "glassmlp"
    assert hist[49]["train_loss"] < 0.1 * hist[0]["train_loss"]
    model.eval()
    _, r = score(model, test, "mse", WEIGHTS)
    assert r > 0.9
    # self-consistent input: the mean prediction moves to c
    xs = [cache.x(structures[("0.50", c)]) for c in (3, 4)]
    c = float(states["c"].iloc[1])
    raw, _ = predict(model, xs, 0.5, c, {"iterations": 0, "damping": 0.75, "max_shift": 0.1})
    fixed, c_in = predict(model, xs, 0.5, c, {"iterations": 20, "damping": 0.75, "max_shift": 0.1})
    assert abs(np.mean(np.concatenate(fixed)) - c) <= abs(np.mean(np.concatenate(raw)) - c) + 1e-9
    assert abs(c_in - c) <= 0.1 + 1e-12


def test_equal_time_levels_follow_the_lowest_trained_temperature():
    states = pd.DataFrame({"T": [0.5] * 3 + [0.8] * 3 + [1.0] * 2, "time_index": [0, 1, 2, 0, 1, 2, 0, 1],
                           "time": 1.0, "c": [0.9, 0.7, 0.5, 0.88, 0.6, 0.45, 0.95, 0.2]})
    levels = transfer.equal_time_levels(states, "0.80", tolerance=0.08)
    assert [lv["c"] for lv in levels] == [0.88, 0.6, 0.45]
    assert levels[0]["cells"] == [("0.80", 0, 0.88), ("1.00", 0, 0.95)]
    assert levels[1]["cells"] == [("0.80", 1, 0.6)]  # 1.00 has nothing within 0.08 of 0.6


# --------------------------------------------------------------------------- heterogeneity
def test_chi4_is_n_times_the_variance_of_configuration_means():
    assert het.chi4([0.5, 0.7], 100) == pytest.approx(100 * 0.01)
    assert math.isnan(het.chi4([0.5], 100))


def test_s4_matches_a_direct_sum_over_wave_vectors():
    rng = np.random.default_rng(4)
    box = np.array([6.0, 6.0, 6.0])
    x = rng.random((50, 3)) * 6.0
    v = rng.random(50)
    q, s4 = het.structure_factor_s4(x, v, 0.4, box, q_max=2.5)
    n = het.wave_vectors(box, 2.5)
    assert len(n) == len(q) and not any((-k).tolist() in n.tolist() for k in n)  # one of each ±q
    for k in range(len(n)):
        qv = 2 * np.pi * n[k] / box
        w = np.sum((v - 0.4) * np.exp(1j * x @ qv))
        assert s4[k] == pytest.approx(abs(w) ** 2 / 50, rel=1e-9)
        assert q[k] == pytest.approx(np.linalg.norm(qv))
    qs, ss, cnt = het.shell_average(q, s4, 0.1)
    assert cnt.sum() == len(q) and np.all(np.diff(qs) > 0)


def test_ornstein_zernike_fit_recovers_its_parameters():
    q = np.linspace(0.2, 1.5, 15)
    chi, xi = het.fit_ornstein_zernike(q, het.ornstein_zernike(q, 3.0, 2.5), 1.0)
    assert chi == pytest.approx(3.0, rel=1e-4) and xi == pytest.approx(2.5, rel=1e-4)
    assert np.isnan(het.fit_ornstein_zernike(q[:1], q[:1], 1.0)[1])


def test_chord_lengths_on_a_hand_made_lattice():
    mobile = np.zeros((5, 1, 1), bool)
    mobile[[0, 1, 4], 0, 0] = True           # one chord of 3 across the periodic edge along x
    lengths = het.chord_lengths(mobile, np.array([1.0, 2.0, 3.0]))
    # along x: [4,0,1] -> 3 sites; along y and z each mobile site is a full row of length 1 site
    np.testing.assert_allclose(np.sort(lengths), np.sort([3.0] + [2.0] * 3 + [3.0] * 3))
    assert het.chord_lengths(np.ones((2, 2, 2), bool), np.ones(3)).tolist() == [2.0] * 12


def test_chord_length_of_a_mobile_slab():
    rng = np.random.default_rng(5)
    box = np.full(3, 6.0)
    x = rng.random((3000, 3)) * 6.0
    v = np.where(x[:, 0] < 2.0, 0.1, 0.9)          # mobile slab 2 wide along x
    chord = het.mean_chord_length(x, v, 0.5, box, cell=1.0)
    # chords along x are 2 long; along y and z the slab's rows are fully mobile (6 long)
    assert chord == pytest.approx((2 * 6 * 6 * 1 + 6 * 2 * 6 * 2) / (6 * 6 + 2 * 6 * 6 * 2 / 6 * 6 / 6 * 1), rel=0.3)
    assert 2.0 <= chord <= 6.0


def test_attention_length_distribution():
    w = np.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]])
    L, p = het.attention_length_distribution(w, np.array([0.0, 2.0, 2.0]))
    np.testing.assert_allclose(L, [0.0, 2.0])
    np.testing.assert_allclose(p, [2 / 3, 1 / 3])
    assert het.intrinsic_length(L, p) == pytest.approx(2 / 3)


def test_tiled_configuration_is_an_exact_copy():
    x = np.random.default_rng(6).random((10, 3)) * 2.0
    t = np.arange(10) % 2
    big, tt, box = tiled_configuration(x, t, np.full(3, 2.0), 2)
    assert big.shape == (80, 3) and box.tolist() == [4.0] * 3 and np.all(big < 4.0)
    np.testing.assert_allclose(big[10:20] - x, [[0, 0, 2.0]] * 10)
    # its S4 lives only on the small box's reciprocal lattice
    q, s4 = het.structure_factor_s4(big, np.tile(np.random.default_rng(7).random(10), 8), 0.5, box, 4.0)
    n = het.wave_vectors(box, 4.0)
    off = np.any(n % 2 != 0, axis=1)
    assert np.all(s4[off] < 1e-20) and np.any(s4[~off] > 1e-6)


# --------------------------------------------------------------------------- the rule functions on files
def write_campaign(tmp_path, cfg, structures, cbs):
    """Descriptor and labels files of synthetic structures in the workflow layout."""
    desc_files, label_files = [], []
    for (T, c), s in structures.items():
        desc_files.append(storage.write_h5(tmp_path / f"d/T{T}/c{c:04d}.h5", {
            "descriptors": s.descriptors.astype(np.float32), "types": s.types.astype(np.int8),
            "positions": s.positions, "box": s.box, "lengths": np.repeat([0.0, 1.0, 2.0, 4.0], 3),
            "names": np.array([f"x{i}" for i in range(12)], dtype="S")}, {"T": float(T), "c": c}))
        label_files.append(storage.write_h5(tmp_path / f"l/T{T}/c{c:04d}.h5", {
            "bond_breaking": cbs[(T, c)].astype(np.float32), "types": s.types.astype(np.int8),
            "positions": s.positions, "box": s.box, "times": np.array([1.0, 10.0, 100.0])}, {"T": float(T), "c": c}))
    return [str(p) for p in desc_files], [str(p) for p in label_files]


@pytest.mark.slow
def test_two_step_training_evaluation_analysis_and_transfer_on_files(tmp_path, laptop_config):
    cfg = copy.deepcopy(laptop_config)
    cfg["temperatures"] = [{"T": 0.5, "tau_alpha": 10.0, "times": [1.0, 10.0, 100.0]},
                           {"T": 1.0, "tau_alpha": 1.0, "times": [1.0, 10.0, 32.0]}]
    cfg["configurations"] = {"n": 5, "n_train": 3}
    cfg["training"]["validation_fraction"] = 0.34
    t = cfg["tglassmlp"]
    t["schedule"] = {"phase1": [[3, 5e-3]], "phase2": [[2, 1e-3]]}
    t["self_consistency"]["tolerance"] = 1.0          # keep every equal-time network: distillation is exercised
    t["equal_time"] = {"members": 1, "c_tolerance": 1.0}
    t["ensemble"] = 2
    t["loss"]["correlation_radii"] = [1.0, 2.0]
    structures, cbs, _ = synthetic_structures(n_conf=5, temps=("0.50", "1.00"))
    desc_files, label_files = write_campaign(tmp_path, cfg, structures, cbs)
    train_d = [p for p in desc_files if p.endswith(("c0000.h5", "c0001.h5", "c0002.h5"))]
    train_l = [p for p in label_files if p.endswith(("c0000.h5", "c0001.h5", "c0002.h5"))]
    states_csv = states_rule(cfg, train_l, tmp_path / "states.csv")
    # transfer variant: 0.50 held out, distilled from networks trained at 1.00 only
    high_l = [p for p in train_l if "/T1.00/" in p]
    distilled = transfer.distill_rule(cfg, "transfer", train_d, high_l, str(states_csv), tmp_path / "tr/distilled.h5")
    dd, _ = storage.read_h5(distilled)
    assert len(dd["T"]) == 3 * 3 and set(dd["T"].tolist()) == {0.5}  # 3 levels x 3 training configurations at T = 0.5
    for variant, labels_in, extra in (("main", train_l, None), ("transfer", high_l, str(distilled))):
        for m in range(2):
            train_member(cfg, variant, m, train_d, labels_in, str(states_csv), tmp_path / f"{variant}/m{m}", extra)
    _, meta = load_member(tmp_path / "transfer/m0/model.pt")
    assert meta["T_min"] == 1.0 and meta["variant"] == "transfer"
    import json
    m = json.loads((tmp_path / "transfer/m0/metrics.json").read_text())
    assert m["distilled_batches"] == 3 * 2  # 3 levels x the 2 fit configurations at T = 0.5
    main = [str(tmp_path / f"main/m{m}/model.pt") for m in range(2)]
    preds = []
    for T in ("0.50", "1.00"):
        for k in range(3):
            csv = evaluate_rule(cfg, T, k, main, desc_files, label_files, tmp_path / f"e/T{T}/t{k}.csv",
                                   tmp_path / f"p/T{T}/t{k}.h5", str(states_csv))
            frame = pd.read_csv(csv)
            assert list(frame.columns) == ["model", "T", "time_index", "time", "tau_alpha", "c", "pearson_nodes",
                                           "pearson_edges"] + SCORE_COLUMNS
            assert (frame["target"] == "bond_breaking").all() and frame["nodes_n"].gt(0).all()
            assert sorted(frame["c"]) == [3, 4] and frame["pearson_edges"].isna().all()
            assert frame["pearson_nodes"].between(-1, 1).all()
            preds.append(str(tmp_path / f"p/T{T}/t{k}.h5"))
    cfg["tglassmlp"]["analysis"]["chi4_set"] = "all"
    paths = analysis_rule(cfg, preds, main, desc_files, [], str(states_csv), tmp_path / "analysis")
    chi = pd.read_csv(paths["chi4_csv"])
    assert set(chi["kind"]) == {"sampled", "grid"} and chi[chi["kind"] == "sampled"]["chi4_md"].notna().all()
    att = pd.read_csv(paths["attention_csv"])
    assert np.allclose(att.groupby("T")["P_int"].sum(), 1.0)
    for f in ("chi4.png", "lengths.png", "attention.png", "bottleneck.png"):
        assert (tmp_path / "analysis" / f).stat().st_size > 1000
    out = transfer.transfer_rule(cfg, [str(tmp_path / f"transfer/m{m}/model.pt") for m in range(2)], main,
                                 desc_files, label_files, str(states_csv), tmp_path / "transfer.csv",
                                 tmp_path / "transfer.png")
    tr = pd.read_csv(out)
    assert len(tr) == 3 and tr["T"].eq(0.5).all() and tr["pearson_transfer"].notna().all()


def test_large_system_is_tiled_decorrelated_and_minimised(tmp_path, laptop_config):
    from glassdyn.md import inherent

    cfg = copy.deepcopy(laptop_config)
    cfg["temperatures"] = [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1]}]
    cfg["tglassmlp"]["descriptors"]["cutoff"] = 3.0
    cfg["tglassmlp"]["analysis"]["s4"].update(replicate=2, decorrelation_tau_alpha=0.05)
    rng = np.random.default_rng(8)
    n, L = 100, (100 / 1.2) ** (1 / 3)
    t = (np.arange(n) >= 80).astype(np.int8)
    start = inherent.minimize_structure(cfg, rng.random((n, 3)) * L, t, np.full(3, L), cfg["tglassmlp"]["inherent"],
                                        prerelax=cfg["protocol"]["minimize"])
    frame = storage.write_h5(tmp_path / "T1.00" / "c0000.h5", {"positions": start["positions"], "types": t,
                                                               "box": np.full(3, L)}, {"T": 1.0, "c": 0})
    out = large_system_rule(cfg, "1.00", frame, tmp_path / "large.h5")
    data, attrs = storage.read_h5(out)
    assert data["positions"].shape == (800, 3) and np.allclose(data["box"], 2 * L)
    assert data["descriptors"].shape == (800, 132) and attrs["decorrelation_time"] == pytest.approx(0.05)
    tiled, _, _ = tiled_configuration(start["positions"], t, np.full(3, L), 2)
    d = data["positions"] - tiled
    d -= 2 * L * np.round(d / (2 * L))
    moved = np.linalg.norm(d, axis=1)
    assert 0.01 < np.median(moved) < 1.0          # MD moved every copy, but only locally
    # the copies are no longer identical: their inherent structures differ
    copies = moved.reshape(8, n)
    assert np.abs(copies[0] - copies[7]).max() > 1e-3
