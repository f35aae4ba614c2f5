"""Baselines: a label that is an exact linear function of a baseline's features scores 1 (fit configurations only)."""
from __future__ import annotations

import copy

import gnn_helpers as gh
import numpy as np
import pandas as pd
import pytest

from glassdyn import baselines
from glassdyn.baselines.features import structure_features
from glassdyn.baselines.fit import fit_linear
from glassdyn.baselines.rule import SUFFIX
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS, SCORE_COLUMNS, moment_columns
from glassdyn.md.inherent import minimize_structure
from glassdyn.physics import scoring
from glassdyn.physics.potential import pair_table, particle_energies

N = 500   # the laptop size: the box (L = 7.47) holds the KA cutoff 2.5 under the minimum image


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Labels (4 train: fit 0-2, validation 3; test 4-5), inherent and descriptor files of N = 500 structures."""
    root = tmp_path_factory.mktemp("baselines")
    cfg = gh.small_config(n=N)
    cfg["models"]["enabled"] = ["ntgnn", "tglassmlp"]
    labels = gh.write_labels(cfg, root, range(6))
    rng = np.random.default_rng(0)
    inherent, descr = [], []
    for c, p in enumerate(labels):
        d = storage.read_h5(p, ["types", "positions", "box"])[0]
        inherent.append(storage.write_h5(root / f"inherent/T0.64/c{c:04d}.h5", {
            "energy": -7.0 + rng.standard_normal(N), "types": d["types"], "positions": d["positions"], "box": d["box"]},
            {"T": 0.64, "c": c}))
        descr.append(storage.write_h5(root / f"descriptors/T0.64/c{c:04d}.h5", {
            "descriptors": rng.standard_normal((N, 12)).astype(np.float32), "types": d["types"]}, {"T": 0.64, "c": c}))
    return cfg, root, labels, inherent, descr


def _features(cfg, label_file, inherent_file, descr_file):
    d = storage.read_h5(label_file)[0]
    inh = storage.read_h5(inherent_file)[0]
    return structure_features(baselines.settings(cfg)["enabled"], cfg, d, inh, storage.read_h5(descr_file)[0]["descriptors"]), d


def _relabel(cfg, root, campaign_files, feature, k, garbage_in=()):
    """Copies of the labels whose propensity and C_B at time k are exact linear functions of ``feature``."""
    _, _, labels, inherent, descr = campaign_files
    rng = np.random.default_rng(1)
    w = rng.standard_normal(12)
    out = []
    for c, (lp, ip, dp) in enumerate(zip(labels, inherent, descr)):
        feats, d = _features(cfg, lp, ip, dp)
        x = feats[feature]
        lin = x @ (w[: x.shape[1]] if x.shape[1] > 1 else np.ones(1))
        if c in garbage_in:
            lin = rng.standard_normal(N)
        d["propensity"] = d["propensity"].copy()
        d["bond_breaking"] = d["bond_breaking"].copy()
        d["propensity"][k] = 0.3 + 0.05 * lin
        d["bond_breaking"][k] = 0.9 - 0.01 * lin
        attrs = storage.read_h5(lp)[1]
        out.append(storage.write_h5(root / feature / f"labels/T0.64/c{c:04d}.h5", d, attrs))
    return out


@pytest.mark.parametrize("feature", baselines.FEATURES)
def test_exact_linear_label_scores_one(campaign, feature):
    cfg, root, labels, inherent, descr = campaign
    k = 1
    relabelled = _relabel(cfg, root, campaign, feature, k, garbage_in=(3,))   # the validation configuration
    outs = baselines.baselines_rule(cfg, "0.64", k, relabelled, inherent, descr, root / feature / "eval")
    assert [p.parent.parent.name for p in outs] == baselines.model_names(cfg)
    for target in ("propensity", "bond_breaking"):
        name = f"baseline-{feature}{SUFFIX[target]}"
        frame = pd.read_csv(root / feature / "eval" / name / "T0.64" / f"t{k}.csv")
        assert list(frame.columns) == EVAL_COLUMNS + SCORE_COLUMNS
        assert frame["c"].tolist() == [4, 5] and (frame["target"] == target).all()
        # fitted on configurations 0-2 only: the garbage of the validation configuration 3 does not matter
        # (ridge chooses its alpha there: the smallest still reproduces an exact linear label)
        np.testing.assert_allclose(frame["pearson_nodes"], 1.0, atol=1e-6)
        rows = frame[moment_columns("nodes")].to_numpy()
        assert scoring.pearson_from_moments(scoring.pool(rows)) == pytest.approx(1.0, abs=1e-6)
        assert frame["nodes_n"].eq((storage.read_h5(labels[4], ["types"])[0]["types"] == 0).sum()).all()


def test_names_and_what_needs_tglassmlp(campaign):
    cfg = copy.deepcopy(campaign[0])
    assert baselines.model_names(cfg)[:2] == ["baseline-neighbours", "baseline-density"]
    assert "baseline-ridge-cb" in baselines.model_names(cfg)
    cfg["models"]["enabled"] = ["ntgnn"]
    assert baselines.settings(cfg)["enabled"] == ["neighbours", "density", "epot"]
    cfg["baselines"] = {"enabled": ["epot"], "targets": ["propensity"], "ridge_alphas": [1.0], "alpha": 1e-8}
    assert baselines.model_names(cfg) == ["baseline-epot"]
    # the step computes what it is given files for: without inherent structures and descriptors, the rest
    outs = baselines.baselines_rule(campaign[0], "0.64", 0, campaign[2], [], [], campaign[1] / "few")
    assert [p.parent.parent.name for p in outs] == ["baseline-neighbours", "baseline-density", "baseline-epot",
                                                    "baseline-neighbours-cb", "baseline-density-cb",
                                                    "baseline-epot-cb"]


def test_features_against_brute_force(campaign):
    cfg, _, labels, inherent, descr = campaign
    feats, d = _features(cfg, labels[0], inherent[0], descr[0])
    types, x, box = d["types"], d["positions"], d["box"]
    sig = np.array([[1.0, 0.8], [0.8, 0.88]])
    dr = x[:, None] - x[None]
    r = np.linalg.norm(dr - box * np.round(dr / box), axis=-1)      # every pair, minimum image
    np.fill_diagonal(r, np.inf)
    nb = np.stack([((r < 1.4 * sig[types][:, types]) & (types[None] == t)).sum(axis=1) for t in (0, 1)], axis=1)
    dens = np.stack([((r <= 2.0) & (types[None] == t)).sum(axis=1) for t in (0, 1)], axis=1)
    np.testing.assert_array_equal(feats["neighbours"], nb)
    np.testing.assert_array_equal(feats["density"], dens)
    np.testing.assert_allclose(feats["epot"][:, 0], particle_energies(x, types, box, pair_table(cfg["system"])))
    assert feats["ridge"].shape == (N, 12) and feats["epot_is"].shape == (N, 1)


def test_particle_energies_match_lammps_in_a_small_box(laptop_config):
    """E_i over every periodic image equals LAMMPS' pe/atom, also where the box is smaller than twice the cutoff."""
    types, box, x0 = gh.structure(128, seed=3)          # L = 4.74 < 2 r_c = 5
    lmp = minimize_structure(laptop_config, x0, types, box, laptop_config["tglassmlp"]["inherent"], minimize=False)
    assert lmp["iterations"] == 0
    np.testing.assert_allclose(lmp["positions"], np.mod(x0, box), atol=1e-9)   # measured where it was given
    np.testing.assert_allclose(particle_energies(x0, types, box, pair_table(laptop_config["system"])), lmp["energy"],
                               rtol=1e-8, atol=1e-8)


def test_fit_accumulated_by_configuration_equals_the_direct_ridge_solution():
    rng = np.random.default_rng(7)
    parts = [(100.0 + rng.standard_normal((n, 5)) * [1, 2, 3, 0.1, 0.0], rng.standard_normal(n)) for n in (40, 70, 55)]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    for alpha in (1e-8, 0.3):
        model = fit_linear(parts, alpha)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[std < 1e-9] = 1.0                                   # the constant column
        z = (x - mean) / std
        w = np.linalg.solve(z.T @ z + alpha * len(y) * np.eye(5), z.T @ (y - y.mean()))
        np.testing.assert_allclose(model(x), y.mean() + z @ w, rtol=1e-8, atol=1e-8)
        assert model.w[4] == 0.0
