"""Both Pearson definitions: per-configuration moments pool exactly into the Pearson over all particles."""
from __future__ import annotations

import math

import numpy as np
import pytest

from glassdyn.physics import scoring
from glassdyn.physics.correlation import pearson


def test_pooled_moments_equal_the_concatenated_sample():
    rng = np.random.default_rng(4)
    xs, ys, rows = [], [], []
    for c in range(5):   # configurations with their own offsets: pooled and mean Pearson differ
        n = int(rng.integers(50, 300))
        y = 3.0 + c + rng.standard_normal(n)
        x = 0.5 * y + 2.0 * c + rng.standard_normal(n)
        xs.append(x)
        ys.append(y)
        rows.append(scoring.moments(x, y))
    rows.append(scoring.empty_moments())      # a configuration without a sample is skipped
    x, y = np.concatenate(xs), np.concatenate(ys)
    np.testing.assert_allclose(scoring.pool(rows), scoring.moments(x, y), rtol=1e-12)
    pooled = scoring.pearson_from_moments(scoring.pool(rows))
    assert pooled == pytest.approx(pearson(x, y), abs=1e-12)
    mean = np.mean([pearson(a, b) for a, b in zip(xs, ys)])
    assert abs(pooled - mean) > 0.05


def test_pooling_is_stable_for_labels_with_a_large_mean():
    """C_B ≈ 1 − 1e-4 with spread 1e-5: central moments keep full precision."""
    rng = np.random.default_rng(1)
    y = [1.0 - 1e-4 + 1e-5 * rng.standard_normal(1000) for _ in range(3)]
    x = [v + 1e-6 * rng.standard_normal(1000) for v in y]
    pooled = scoring.pearson_from_moments(scoring.pool([scoring.moments(a, b) for a, b in zip(x, y)]))
    assert pooled == pytest.approx(pearson(np.concatenate(x), np.concatenate(y)), abs=1e-9)


def test_average_is_the_mean_of_raw_sums():
    rng = np.random.default_rng(2)
    rows = [scoring.moments(rng.standard_normal(40) + k, rng.standard_normal(40)) for k in range(3)]
    got = scoring.average(rows)
    raw = np.mean([[m[0], m[0] * m[1], m[0] * m[2], m[3] + m[0] * m[1] ** 2, m[4] + m[0] * m[2] ** 2,
                    m[5] + m[0] * m[1] * m[2]] for m in rows], axis=0)
    assert got[0] == 40 and got[1] == pytest.approx(raw[1] / 40) and got[3] == pytest.approx(raw[3] - 40 * got[1] ** 2)


def test_edge_cases():
    assert math.isnan(scoring.pearson_from_moments(scoring.moments([1.0, 1.0], [1.0, 2.0])))
    assert math.isnan(scoring.pearson_from_moments(scoring.pool([])))
    assert scoring.spearman_brown(0.5) == pytest.approx(2 / 3)
    assert scoring.spearman_brown(1.0) == 1.0 and scoring.spearman_brown(0.0) == 0.0
    with pytest.raises(ValueError):
        scoring.moments([1, 2], [1, 2, 3])


def test_score_row_uses_the_evaluation_masks():
    types = np.array([0, 0, 0, 1, 1])
    edge_index = np.array([[1, 2, 0, 3, 4, 0], [0, 0, 1, 0, 0, 2]])
    vectors = np.full((6, 3), 0.5)
    s_true, s_pred = np.array([1.0, 2.0, 4.0, 10.0, -10.0]), np.array([2.0, 4.0, 7.0, -50.0, 50.0])
    e_true, e_pred = np.array([1.0, 2.0, 3.0, 0.0, 0.0, 4.0]), np.array([1.5, 2.5, 3.5, 9.0, -9.0, 4.5])
    row = scoring.score_row(types, edge_index, vectors, s_true, s_pred, e_true, e_pred, 1.35, "propensity",
                            {"nodes": 0.7, "nodes_moments": scoring.moments([1, 2], [2, 1])})
    assert set(row) == set(scoring.SCORE_COLUMNS) | {"pearson_nodes", "pearson_edges"}
    assert row["pearson_nodes"] == pytest.approx(pearson(s_pred[:3], s_true[:3]))
    assert row["nodes_n"] == 3 and row["edges_n"] == 4 and row["nodes_mean_y"] == pytest.approx(7 / 3)
    assert row["ceiling_nodes"] == 0.7 and math.isnan(row["ceiling_edges"]) and row["ceiling_nodes_n"] == 2
    node_only = scoring.score_row(types, edge_index, vectors, s_true, s_pred, None, None, 1.35, "propensity")
    assert node_only["edges_n"] == 0 and math.isnan(node_only["pearson_edges"])
