"""Label settings and cutoff inequalities, checked on hand-made configurations (SCIENCE.md §4, §5, §7).

The brute-force references of test_labels.py read the same settings as the
code, so a setting read into the wrong slot (a_in ↔ a_out) or an inequality
flipped at a cutoff passes them. Here every expected value is worked out by
hand, and pairs sit *exactly* at each cutoff:

- graph and E_ij: |r_ij(0)| ≤ r_e (§4, §5): a pair at r_e is an edge;
- C_B: bonds |r_ij(0)| < a_in σ_αβ, kept while |r_ij(t)| < a_out σ_αβ (§4): a pair at a_in σ is no bond,
  a bond stretched to a_out σ is broken;
- relative motion and D²min: neighbours |r_ij(0)| ≤ relative_motion_cutoff (BOTAN §V C, labels docstring);
- edge evaluation: A–A pairs with |r_ij(0)| < edge_eval_cutoff (§7): a pair at the cutoff is not judged.

Boundary values are chosen exactly representable in binary (1.5, 1.75, 1.625,
1.375, 2.0) so "exactly at" holds in float64 at t = 0 and in the float32 pair
distances at t.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

from glassdyn.io import storage
from glassdyn.labels.extract import extract_labels, labels_from_positions
from glassdyn.physics.correlation import configuration_scores, edge_mask
from glassdyn.physics.graphs import build_graph
from glassdyn.physics.neighbors import neighbor_pairs

BOX = np.full(3, 15.0)


def cfg_with(paper_config, **lab):
    cfg = copy.deepcopy(paper_config)
    graph_cutoff = lab.pop("cutoff", None)
    cfg["labels"].update(lab)
    if graph_cutoff is not None:
        cfg["graph"]["cutoff"] = graph_cutoff
    return cfg


def run(cfg, types, x0, dx):
    """Labels of one configuration with one replica and one sampling time: r(t) = r(0) + dx."""
    x0 = np.asarray(x0, float)
    pos = (x0 + np.asarray(dx, float))[None, None]
    return labels_from_positions(np.asarray(types, np.int8), BOX, x0, pos, np.array([1.0]), cfg)


def pairs_of(lab):
    return {(int(j), int(i)) for j, i in lab["edge_index"].T}


# ----------------------------------------------------------------------------- settings are read into their slots
def test_label_file_attributes_are_the_configured_values(tmp_path, paper_config):
    cfg = cfg_with(paper_config, bond_a_in=1.3, bond_a_out=1.7, relative_motion_cutoff=1.5, k=7.0, cutoff=1.9)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(0, 15.0, (40, 3))
    types = (np.arange(40) >= 32).astype(np.int8)
    pos = x0 + rng.normal(scale=0.1, size=(2, 1, 40, 3))
    rep = storage.write_h5(tmp_path / "replicas.h5", {"types": types, "box": BOX, "initial_positions": x0,
                                                      "times": np.array([1.0]), "positions": pos},
                           {"T": 0.64, "c": 3})
    _, attrs = storage.read_h5(extract_labels(cfg, rep, tmp_path / "c.h5"), ["types"])
    assert attrs["a_in"] == 1.3 and attrs["a_out"] == 1.7
    assert attrs["relative_motion_cutoff"] == 1.5 and attrs["k"] == 7.0 and attrs["cutoff"] == 1.9
    assert attrs["sigma"] == cfg["system"]["sigma"]
    assert attrs["T"] == 0.64 and attrs["c"] == 3 and attrs["n_replicas"] == 2


def test_a_in_and_a_out_by_hand(paper_config):
    """Particle 0 (A) has A neighbours at 1.2 (x), 1.3 (y) and 1.5 (z) at t = 0; the second moves to 1.9.

    a_in = 1.4, a_out = 1.8: bonds are the first two, the second breaks (1.9 > 1.8): C_B = 1/2.
    With a_in and a_out swapped all three would be bonds and only the first kept (1.2 < 1.4): C_B = 1/3.
    A B neighbour at 1.0 (a_in σ_AB = 1.12) is a bond too, kept: C_B = 2/3 — the σ_αβ scaling.
    """
    x0 = np.array([[5.0, 5.0, 5.0], [6.2, 5.0, 5.0], [5.0, 6.3, 5.0], [5.0, 5.0, 6.5]])
    dx = np.zeros_like(x0)
    dx[2, 1] = 0.6
    cfg = cfg_with(paper_config, bond_a_in=1.4, bond_a_out=1.8)
    assert run(cfg, [0, 0, 0, 0], x0, dx)["bond_breaking"][0, 0] == pytest.approx(1 / 2)
    swapped = cfg_with(paper_config, bond_a_in=1.8, bond_a_out=1.4)
    assert run(swapped, [0, 0, 0, 0], x0, dx)["bond_breaking"][0, 0] == pytest.approx(1 / 3)
    x1 = np.vstack([x0, [[4.0, 5.0, 5.0]]])
    assert run(cfg, [0, 0, 0, 0, 1], x1, np.vstack([dx, [[0, 0, 0]]]))["bond_breaking"][0, 0] == pytest.approx(2 / 3)
    # a_in σ_AB = 1.12 < 1.2: the same B neighbour at 1.2 is no bond
    x2 = np.vstack([x0, [[3.8, 5.0, 5.0]]])
    assert run(cfg, [0, 0, 0, 0, 1], x2, np.vstack([dx, [[0, 0, 0]]]))["bond_breaking"][0, 0] == pytest.approx(1 / 2)


# ----------------------------------------------------------------------------- pairs exactly at each cutoff
def probe(cell: int, d: float) -> np.ndarray:
    """An isolated probe pair: i at the corner of its own 5σ cell, j at +d along x (≥ 3σ from other probes)."""
    corner = np.array([0.5 + 5.0 * (cell % 3), 0.5 + 5.0 * (cell // 3 % 3), 0.5 + 5.0 * (cell // 9)])
    return np.array([corner, corner + [d, 0.0, 0.0]])


def test_probe_pairs_are_exactly_at_their_distances():
    for cell, d in enumerate((2.0, 1.625, 1.5, 1.25, 1.5 * 0.8, 1.375)):
        x = probe(cell, d)
        p = neighbor_pairs(x, BOX, 2.0)
        assert p.distances.tolist() == [d, d], d       # float64, no rounding


def test_graph_and_pair_labels_include_a_pair_at_the_graph_cutoff(paper_config):
    """|r_ij(0)| = r_e = 2.0 is an edge (both directions) in build_graph and in the labels, with its E_ij."""
    x0 = np.vstack([probe(0, 2.0), probe(1, 2.0 + 1e-9)])
    ei, ev = build_graph(x0, BOX, 2.0)
    assert {(int(j), int(i)) for j, i in ei.T} == {(0, 1), (1, 0)}
    dx = np.zeros_like(x0)
    dx[1, 0] = 0.25
    lab = run(paper_config, [0, 0, 0, 0], x0, dx)
    assert pairs_of(lab) == {(0, 1), (1, 0)}
    np.testing.assert_allclose(lab["pair_distance_change"][0], [0.25, 0.25], atol=1e-6)


def test_bonds_at_a_in_and_a_out(paper_config):
    """a_in = 1.5, a_out = 1.75 (σ_AA = 1, σ_AB = 0.8).

    cell 0: A–A at exactly 1.5, pulled apart to 2.0   → no bond at t = 0: C_B = 1 (a bond would give 0)
    cell 1: A–A at 1.25 stretched to exactly 1.75     → the bond breaks: C_B = 0
    cell 2: A–A at 1.25 stretched to 1.75 − 2⁻¹⁰      → kept: C_B = 1
    cell 3: A–B at exactly 1.5 · 0.8, pulled apart    → no bond: C_B = 1
    """
    cfg = cfg_with(paper_config, bond_a_in=1.5, bond_a_out=1.75)
    x0 = np.vstack([probe(0, 1.5), probe(1, 1.25), probe(2, 1.25), probe(3, 1.5 * 0.8)])
    dx = np.zeros_like(x0)
    dx[[1, 3, 7], 0] = 0.5
    dx[5, 0] = 0.5 - 2.0 ** -10
    lab = run(cfg, [0, 0, 0, 0, 0, 0, 0, 1], x0, dx)
    np.testing.assert_array_equal(lab["bond_breaking"][0], [1, 1, 0, 0, 1, 1, 1, 1])


def test_relative_motion_neighbours_include_the_cutoff(paper_config):
    """relative_motion_cutoff = 1.625: the pair at exactly 1.625 are neighbours, so R_i = |Δr_i − Δr_j|
    (not |Δr_i| as for a particle without neighbours) and D²min is defined from the one neighbour."""
    cfg = cfg_with(paper_config, relative_motion_cutoff=1.625)
    x0 = np.vstack([probe(0, 1.625), probe(1, 1.625 + 1e-9)])
    dx = np.array([[0.3, 0.0, 0.0], [0.0, 0.4, 0.0], [0.3, 0.0, 0.0], [0.0, 0.4, 0.0]])
    lab = run(cfg, [0, 0, 0, 0], x0, dx)
    np.testing.assert_allclose(lab["relative_motion"][0], [0.5, 0.5, 0.3, 0.4], rtol=1e-6)
    np.testing.assert_allclose(lab["propensity"][0], [0.3, 0.4, 0.3, 0.4], rtol=1e-6)
    # one neighbour: the best affine map fits it exactly (D²min = 0), nothing else is fitted either
    np.testing.assert_allclose(lab["nonaffine"][0], 0.0, atol=1e-12)


def test_edge_evaluation_excludes_the_cutoff():
    """edge_mask: A–A pairs with r < cutoff; a pair at exactly the cutoff (1.375, exact in float32) is not
    judged, one 2⁻²⁰ closer is; with one B end neither is."""
    ei = np.array([[1, 0, 3, 2, 5, 4], [0, 1, 2, 3, 4, 5]])
    r = [1.375, 1.375, 1.375 - 2.0 ** -20, 1.375 - 2.0 ** -20, 1.0, 1.0]
    vec = np.zeros((6, 3), np.float32)
    vec[:, 2] = r
    assert np.linalg.norm(vec.astype(np.float64), axis=1).tolist() == r
    mask = edge_mask(np.array([0, 0, 0, 0, 0, 1]), ei, vec, 1.375)
    np.testing.assert_array_equal(mask, [False, False, True, True, False, False])
    # Pearson over exactly those pairs
    true = np.array([9.0, -9.0, 1.0, 2.0, 9.0, -9.0])
    pred = np.array([-9.0, 9.0, 1.5, 2.5, -9.0, 9.0])
    types = np.array([0, 0, 0, 0, 0, 1])
    _, re = configuration_scores(types, ei, vec, np.arange(6.0), np.arange(6.0), true, pred, 1.375)
    assert re == pytest.approx(1.0)
