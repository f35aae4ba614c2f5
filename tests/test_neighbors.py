"""Periodic neighbour search against explicit double loops with an explicit minimum image."""
from __future__ import annotations

import numpy as np
import pytest
import reference_kernels as ref

from glassdyn.physics.graphs import build_graph, node_inputs
from glassdyn.physics.neighbors import minimum_image, neighbor_pairs, unordered_pairs, wrap


def _system(n=60, box=(6.0, 6.5, 7.0), seed=1):
    rng = np.random.default_rng(seed)
    box = np.asarray(box)
    return rng.uniform(0, 1, (n, 3)) * box, box


@pytest.mark.parametrize("cutoff", [1.0, 2.0, 2.99])   # 2.99: just below L_min / 2 = 3.0
def test_pairs_match_brute_force(cutoff):
    x, box = _system()
    got = neighbor_pairs(x, box, cutoff)
    want = ref.pairs(x, box, cutoff)
    assert len(got.i) == len(want) > 0
    np.testing.assert_array_equal(got.i, [w[0] for w in want])
    np.testing.assert_array_equal(got.j, [w[1] for w in want])
    np.testing.assert_allclose(got.vectors, [w[2] for w in want], atol=1e-12)
    np.testing.assert_allclose(got.distances, [w[3] for w in want], atol=1e-12)


def test_order_both_directions_and_vectors():
    x, box = _system()
    p = neighbor_pairs(x, box, 2.5)
    assert np.all(p.i != p.j)
    # sorted by target, then source
    assert np.all(np.diff(p.i * len(x) + p.j) > 0)
    index = {(a, b): k for k, (a, b) in enumerate(zip(p.i, p.j))}
    for k, (a, b) in enumerate(zip(p.i, p.j)):
        back = index[(b, a)]
        np.testing.assert_allclose(p.vectors[back], -p.vectors[k], atol=1e-12)
    assert np.all(np.abs(p.vectors) <= 0.5 * box + 1e-12)


def test_unwrapped_input_gives_the_same_pairs():
    x, box = _system()
    shift = np.random.default_rng(2).integers(-3, 4, size=x.shape) * box
    a = neighbor_pairs(x, box, 2.0)
    b = neighbor_pairs(x + shift, box, 2.0)
    np.testing.assert_array_equal(a.i, b.i)
    np.testing.assert_array_equal(a.j, b.j)
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-9)


def test_unordered_pairs_are_half_of_the_ordered():
    x, box = _system()
    a, b = unordered_pairs(x, box, 2.0)
    p = neighbor_pairs(x, box, 2.0)
    assert np.all(a < b)
    assert 2 * len(a) == len(p.i)
    assert set(zip(a.tolist(), b.tolist())) == {(i, j) for i, j in zip(p.i.tolist(), p.j.tolist()) if i < j}


def test_cutoff_at_half_box_is_refused():
    x, box = _system()
    with pytest.raises(ValueError, match="half the box"):
        neighbor_pairs(x, box, 3.0)
    with pytest.raises(ValueError, match="positive"):
        neighbor_pairs(x, box, 0.0)


def test_wrap_edges_and_minimum_image():
    box = np.array([5.0, 5.0, 5.0])
    x = np.array([[-1e-17, 5.0, 12.5], [4.999999, -5.0, 0.0]])
    w = wrap(x, box)
    assert np.all((w >= 0) & (w < box))
    d = np.array([[2.6, -2.6, 7.4], [0.1, -4.9, 10.0]])
    m = minimum_image(d, box)
    assert np.all(np.abs(m) <= 2.5)
    np.testing.assert_allclose(m, [[-2.4, 2.4, -2.6 + 5.0], [0.1, 0.1, 0.0]], atol=1e-12)
    # particles on the faces are found as neighbours across the boundary
    p = neighbor_pairs(np.array([[0.0, 1.0, 1.0], [4.9, 1.0, 1.0], [2.5, 2.5, 2.5]]), box, 0.5)
    assert list(zip(p.i, p.j)) == [(0, 1), (1, 0)]
    np.testing.assert_allclose(p.vectors[0], [0.1, 0.0, 0.0], atol=1e-12)


# ----------------------------------------------------------------------------- edges found by mutation testing
def test_no_pair_within_the_cutoff_gives_empty_int64_arrays():
    x = np.array([[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]])
    box = np.full(3, 10.0)
    a, b = unordered_pairs(x, box, 2.0)
    assert a.shape == b.shape == (0,) and a.dtype == b.dtype == np.int64
    p = neighbor_pairs(x, box, 2.0)
    assert p.i.shape == p.j.shape == p.distances.shape == (0,) and p.vectors.shape == (0, 3)
    assert p.i.dtype == p.j.dtype == np.int64
    ei, ev = build_graph(x, box, 2.0)
    assert ei.shape == (2, 0) and ei.dtype == np.int64 and ev.shape == (0, 3) and ev.dtype == np.float32


def test_float32_and_integer_inputs_are_computed_in_float64():
    """Positions and box read as float32 (or given as integers) give the float64 pairs of the same values:
    the cutoff comparisons and distances are not done in single precision."""
    rng = np.random.default_rng(4)
    x32 = (rng.uniform(0, 7.3, (60, 3))).astype(np.float32)
    box32 = np.full(3, 7.3, dtype=np.float32)
    x64, box64 = x32.astype(np.float64), box32.astype(np.float64)
    ref = neighbor_pairs(x64, box64, 2.0)
    got = neighbor_pairs(x32, box32, 2.0)
    for a, b in zip(got, ref):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    d32 = x32[:5] - x32[5:10]
    np.testing.assert_array_equal(minimum_image(d32, box32), minimum_image(d32.astype(np.float64), box64))
    assert minimum_image(d32, box32).dtype == np.float64
    assert wrap(x32 - 7.3, box32).dtype == np.float64
    np.testing.assert_array_equal(wrap(x32 - box32, box32), wrap((x32 - box32).astype(np.float64), box64))
    lattice = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [4, 4, 4]])
    p = neighbor_pairs(lattice, np.array([9, 9, 9]), 1.5)
    assert p.distances.dtype == np.float64 and list(zip(p.i, p.j)) == [(0, 1), (1, 0)]
    f = node_inputs(np.array([0, 1, 1]))
    assert f.shape == (3, 1)
