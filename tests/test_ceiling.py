"""Label reproducibility ceiling: synthetic labels of known reliability, and a brute-force reference."""
from __future__ import annotations

import math

import gnn_helpers as gh
import numpy as np
import pytest

from glassdyn.config import derive_seed
from glassdyn.io import storage
from glassdyn.labels.ceiling import read_ceiling
from glassdyn.labels.extract import labels_from_positions, per_replica_labels
from glassdyn.physics import ceiling, scoring
from glassdyn.physics.correlation import edge_mask, pearson


@pytest.mark.parametrize("replicas, noise", [(8, 1.5), (32, 3.0), (7, 0.5)])
def test_synthetic_labels_recover_the_true_reliability(replicas, noise):
    """q_i^r = s_i + e_i^r, Var s = 1, Var e = noise²: the R-replica label has reliability 1 / (1 + noise²/R)."""
    rng = np.random.default_rng(replicas)
    n = 40000
    s = rng.standard_normal(n)
    q = s + noise * rng.standard_normal((replicas, n))
    splits = ceiling.half_splits(replicas, 16, seed=1)
    res = ceiling.split_half(q, splits)
    truth = 1.0 / (1.0 + noise ** 2 / replicas)
    assert res["ceiling"] == pytest.approx(truth, abs=0.015)
    # what the band means for a perfect predictor (the R -> infinity label s): its Pearson with the label is √ceiling
    assert pearson(s, q.mean(axis=0)) == pytest.approx(math.sqrt(truth), abs=0.01)
    # pooled over halves of the particles ("configurations") it is the same sample: the same ceiling
    halves = [ceiling.split_half(q[:, part], splits)["moments"] for part in (slice(0, n // 2), slice(n // 2, n))]
    r_pooled = scoring.pearson_from_moments(scoring.pool(halves))
    assert scoring.spearman_brown(r_pooled) == pytest.approx(truth, abs=0.015)


def test_noise_free_labels_have_ceiling_one_and_pure_noise_zero():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(5000)
    splits = ceiling.half_splits(6, 10, seed=0)
    assert ceiling.split_half(np.tile(s, (6, 1)), splits)["ceiling"] == pytest.approx(1.0)
    assert ceiling.split_half(rng.standard_normal((6, 5000)), splits)["ceiling"] == pytest.approx(0.0, abs=0.05)
    assert math.isnan(ceiling.split_half(np.ones((6, 50)), splits)["ceiling"])   # constant label: undefined
    assert ceiling.half_splits(1, 10, seed=0) == []


def test_half_splits_are_distinct_seeded_partitions():
    splits = ceiling.half_splits(8, 100, seed=3)
    assert len(splits) == 35                                        # C(8, 4) / 2: every split once
    keys = {tuple(h1) for h1, _ in splits}
    assert len(keys) == 35 and all(0 in h1 for h1, _ in splits)
    for h1, h2 in splits:
        assert sorted(np.concatenate([h1, h2]).tolist()) == list(range(8)) and len(h1) == len(h2) == 4
    odd = ceiling.half_splits(5, 100, seed=3)
    assert len(odd) == 10 and all(len(h1) == 2 and len(h2) == 3 for h1, h2 in odd)
    again = ceiling.half_splits(8, 5, seed=3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(again, ceiling.half_splits(8, 5, seed=3)))


def test_labels_ceiling_equals_labels_of_half_ensembles(tmp_path):
    """Brute force: the labels code run on each half of the replicas, Pearson over A (A–A pairs), SB-corrected."""
    cfg = gh.small_config()
    cfg["labels"]["ceiling_splits"] = 4
    times = np.array([0.1, 4.0])  # C_B is 1 everywhere at t = 0.1 here (ceiling NaN), not at t = 4
    types, box, x0 = gh.structure(128, seed=5)
    pos = gh.replica_positions(types, box, x0, times, 6, seed=6)
    full = labels_from_positions(types, box, x0, pos, times, cfg)
    splits = ceiling.half_splits(6, 4, seed=derive_seed("ceiling", 6))
    a = types == 0
    em = edge_mask(types, full["edge_index"], full["edge_vectors"], cfg["labels"]["edge_eval_cutoff"])
    for t in range(len(times)):
        for name, mask in (("propensity", a), ("bond_breaking", a), ("pair_distance_change", em)):
            rs = []
            for h1, h2 in splits:
                l1 = labels_from_positions(types, box, x0, pos[h1], times, cfg)[name][t]
                l2 = labels_from_positions(types, box, x0, pos[h2], times, cfg)[name][t]
                rs.append(pearson(l1[mask], l2[mask]))
            want = 2 * np.mean(rs) / (1 + np.mean(rs))
            assert full[f"ceiling/{name}"][t] == pytest.approx(want, abs=2e-5, nan_ok=True), (name, t)
            np.testing.assert_allclose(full[f"ceiling/{name}_split_r"][t], rs, atol=2e-5, equal_nan=True)
    assert all(np.isfinite(full[f"ceiling/{n}"][1]) for n in ceiling.LABELS)   # every label checked once
    # stored with the labels and read back by evaluation's reader
    path = storage.write_h5(tmp_path / "c0004.h5", full, {"T": 0.64, "c": 4})
    got = read_ceiling(path, 1, "bond_breaking")
    assert got["nodes"] == pytest.approx(full["ceiling/bond_breaking"][1])
    assert got["edges"] == pytest.approx(full["ceiling/pair_distance_change"][1])
    assert got["nodes_moments"][0] == a.sum() and got["edges_moments"][0] == em.sum()


def test_per_replica_labels_by_hand():
    """Each replica's |Δr_i|, n_i(t)/n_i(0) (1 for a particle without bonds) and pair-distance change, by hand."""
    dr = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0], [1.0, 2.0, 2.0]],
                   [[0.0, 0.0, 0.0], [6.0, 8.0, 0.0], [2.0, 3.0, 6.0]]])      # R = 2 replicas, N = 3
    bond_target = np.array([0, 0, 0, 1])      # particle 0 has three bonds, particle 1 one, particle 2 none
    kept = np.array([[True, False, True, True], [False, False, False, False]])   # (R, B)
    r0, r_t = np.array([1.0, 1.2]), np.array([[1.1, 1.2], [0.9, 1.5]])
    got = per_replica_labels(dr, r_t, r0, bond_target, kept, np.array([True, True, True]))
    np.testing.assert_allclose(got["propensity"], [[5.0, 1.0, 3.0], [0.0, 10.0, 7.0]])
    np.testing.assert_allclose(got["bond_breaking"], [[2 / 3, 1.0, 1.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(got["pair_distance_change"], [[0.1, 0.0], [-0.1, 0.3]], atol=1e-12)
    only_b = per_replica_labels(dr, r_t, r0, bond_target, kept, np.array([False, True, False]))
    np.testing.assert_allclose(only_b["bond_breaking"], [[1.0], [0.0]])
