"""Dynamical labels: every kernel against explicit loops, invariances, the labels.h5 file."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import reference_kernels as ref

from glassdyn.io import storage
from glassdyn.labels.extract import extract_labels, label_settings, labels_from_positions
from glassdyn.physics import ceiling
from glassdyn.physics.heterogeneity import chi4
from glassdyn.physics.neighbors import neighbor_pairs
from glassdyn.physics.observables import (
    bond_breaking,
    mean_squared_displacement,
    nonaffine,
    pair_distance_change,
    pair_distances,
    propensity,
    relative_motion,
    self_intermediate_scattering,
)

NODE_LABELS = ("propensity", "bond_breaking", "relative_motion", "nonaffine")
LABELS_H5 = {  # docs/architecture.md: name -> (dtype, shape given N, E, n_t, R)
    "types": ("int8", lambda N, E, T, R: (N,)),
    "box": ("float64", lambda N, E, T, R: (3,)),
    "positions": ("float64", lambda N, E, T, R: (N, 3)),
    "times": ("float64", lambda N, E, T, R: (T,)),
    "edge_index": ("int64", lambda N, E, T, R: (2, E)),
    "edge_vectors": ("float32", lambda N, E, T, R: (E, 3)),
    "propensity": ("float32", lambda N, E, T, R: (T, N)),
    "pair_distance_change": ("float32", lambda N, E, T, R: (T, E)),
    "bond_breaking": ("float32", lambda N, E, T, R: (T, N)),
    "relative_motion": ("float32", lambda N, E, T, R: (T, N)),
    "nonaffine": ("float32", lambda N, E, T, R: (T, N)),
    "fs_A": ("float64", lambda N, E, T, R: (R, T)),
    "msd_A": ("float64", lambda N, E, T, R: (R, T)),
    # the label reproducibility ceiling (glassdyn.physics.ceiling): per label, S = the distinct half-splits used
    **{f"ceiling/{name}{suffix}": ("float64", shape) for name in ("propensity", "bond_breaking", "pair_distance_change")
       for suffix, shape in (("", lambda N, E, T, R: (T,)), ("_moments", lambda N, E, T, R: (T, 6)),
                             ("_split_r", lambda N, E, T, R: (T, len(ceiling.half_splits(R, 16, 0)))))},
}


@pytest.fixture(scope="module")
def system():
    return ref.small_system(n=50, seed=0)


@pytest.fixture(scope="module")
def computed(system, paper_config):
    types, box, x0, x, times = system
    return labels_from_positions(types, box, x0, x, times, paper_config)


def test_system_exercises_the_edge_cases(system, paper_config):
    """The fixture is only useful if particles leave the box and pairs separate beyond L/2."""
    types, box, x0, x, times = system
    assert np.any(x < 0) and np.any(x >= box)
    p = neighbor_pairs(x0, box, 2.0)
    sep = x[:, -1, p.i] - x[:, -1, p.j]
    assert np.any(np.abs(sep) > 0.5 * box)                                   # minimum image needed at t
    assert np.any(np.bincount(p.i[p.distances < 1.6], minlength=len(types)) < 3)   # rank-deficient D2min fits


def test_all_labels_match_brute_force(system, computed, paper_config):
    types, box, x0, x, times = system
    want = ref.labels(types, box, x0, x, label_settings(paper_config))
    np.testing.assert_array_equal(computed["edge_index"], want["edge_index"])
    np.testing.assert_allclose(computed["edge_vectors"], want["edge_vectors"], atol=1e-6)
    np.testing.assert_allclose(computed["pair_distance_change"], want["pair_distance_change"], atol=2e-5)
    for name in NODE_LABELS:
        np.testing.assert_allclose(computed[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    for name in ("fs_A", "msd_A"):
        np.testing.assert_allclose(computed[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)
    # some particles have no bond at t = 0 and get C_B = 1 by definition
    assert np.any(computed["bond_breaking"] == 1.0) and np.any(computed["bond_breaking"] < 1.0)


def test_labels_h5_layout(tmp_path, system, paper_config):
    """extract_labels reads replicas.h5 and writes exactly the documented datasets, dtypes and shapes."""
    types, box, x0, x, times = system
    rep = tmp_path / "replicas.h5"
    storage.write_h5(rep, {"types": types, "box": box, "initial_positions": x0, "times": times,
                           "requested_times": times, "steps": np.round(times / 0.001).astype(np.int64),
                           "positions": x, "initial_velocities": np.zeros((x.shape[0], len(types), 3))},
                     {"T": 0.64, "c": 7, "replicas": x.shape[0], "timestep": 0.001})
    out = extract_labels(paper_config, rep, tmp_path / "labels" / "c0007.h5")
    data, attrs = storage.read_h5(out)
    n, n_rep, n_t = len(types), x.shape[0], x.shape[1]
    e = data["edge_index"].shape[1]
    assert set(data) == set(LABELS_H5)
    for name, (dtype, shape) in LABELS_H5.items():
        assert data[name].dtype == np.dtype(dtype), name
        assert data[name].shape == shape(n, e, n_t, n_rep), name
    assert attrs["T"] == 0.64 and attrs["c"] == 7 and attrs["n_replicas"] == n_rep
    for key in ("cutoff", "a_in", "a_out", "k", "relative_motion_cutoff"):
        assert key in attrs
    assert np.all((data["positions"] >= 0) & (data["positions"] < box))
    direct = labels_from_positions(types, box, x0, x, times, paper_config)
    for name in NODE_LABELS + ("pair_distance_change",):
        np.testing.assert_array_equal(data[name], direct[name])


def test_unwrapping_inconsistent_with_t0_is_an_error(tmp_path, system, paper_config):
    types, box, x0, x, times = system
    bad = x.copy()
    bad[:, :, 4] += box            # particle 4 stored one box away: its "displacement" would be L
    with pytest.raises(ValueError, match="unwrapped"):
        labels_from_positions(types, box, x0, bad, times, paper_config)
    rep = tmp_path / "replicas.h5"
    storage.write_h5(rep, {"types": types, "box": box, "initial_positions": x0, "times": times, "positions": bad})
    with pytest.raises(storage.StorageError, match="replicas.h5"):
        extract_labels(paper_config, rep, tmp_path / "labels.h5")
    assert not (tmp_path / "labels.h5").exists()


def _same_labels(a, b, names=NODE_LABELS + ("pair_distance_change", "fs_A", "msd_A")):
    for name in names:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=2e-5, err_msg=name)


def test_invariant_under_global_translation(system, computed, paper_config):
    types, box, x0, x, times = system
    shift = np.array([0.37, -1.3, 2.0]) * box      # includes whole and partial box lengths
    moved = labels_from_positions(types, box, x0 + shift, x + shift, times, paper_config)
    np.testing.assert_array_equal(moved["edge_index"], computed["edge_index"])
    np.testing.assert_allclose(moved["edge_vectors"], computed["edge_vectors"], atol=1e-5)
    _same_labels(moved, computed)


def test_invariant_under_per_particle_box_shifts(system, computed, paper_config):
    """Shifting one particle's whole trajectory (t = 0 included) by box vectors changes nothing."""
    types, box, x0, x, times = system
    k = np.random.default_rng(7).integers(-2, 3, size=x0.shape) * box
    moved = labels_from_positions(types, box, x0 + k, x + k, times, paper_config)
    _same_labels(moved, computed)


def test_invariant_under_cubic_symmetry(system, computed, paper_config):
    """A permutation of the axes and a mirror of the cubic box: scalar labels unchanged."""
    types, box, x0, x, times = system
    perm = [2, 0, 1]
    y0 = x0[:, perm]
    y = x[..., perm]
    y0[:, 1] = box[1] - y0[:, 1]
    y[..., 1] = box[1] - y[..., 1]
    moved = labels_from_positions(types, box, y0, y, times, paper_config)
    np.testing.assert_array_equal(moved["edge_index"], computed["edge_index"])
    _same_labels(moved, computed)


def test_invariant_under_replica_order(system, computed, paper_config):
    types, box, x0, x, times = system
    order = [2, 0, 1]
    moved = labels_from_positions(types, box, x0, x[order], times, paper_config)
    _same_labels(moved, computed, NODE_LABELS + ("pair_distance_change",))
    np.testing.assert_allclose(moved["fs_A"], computed["fs_A"][order])


def test_rigid_translation_of_each_replica():
    """Every particle moving by the same vector: no relative motion, no strain, no broken bond."""
    types, box, x0, _, _ = ref.small_system(n=40, seed=9)
    c = np.array([[0.3, -0.2, 0.1], [5.0, 1.0, -7.0]])          # second one leaves the box
    dr = np.repeat(c[:, None, :], len(x0), axis=1)
    p = neighbor_pairs(x0, box, 2.0)
    np.testing.assert_allclose(propensity(dr), np.mean(np.linalg.norm(c, axis=1)))
    np.testing.assert_allclose(pair_distance_change(dr, p.vectors, box, p.i, p.j), 0, atol=1e-5)
    nn = p.distances <= 1.6
    has_nb = np.bincount(p.i[nn], minlength=len(x0)) > 0
    assert np.all(relative_motion(dr, p.i[nn], p.j[nn])[has_nb] < 1e-12)
    np.testing.assert_allclose(nonaffine(dr, p.i[nn], p.j[nn], p.vectors[nn]), 0, atol=1e-12)
    r_t = pair_distances(dr, p.vectors, box, p.i, p.j)
    cb = bond_breaking(p.distances, r_t, p.i, np.full(len(p.i), 1.4), np.full(len(p.i), 1.8), len(x0))
    np.testing.assert_array_equal(cb, 1.0)


def test_nonaffine_vanishes_for_an_affine_deformation_and_not_otherwise():
    """A cluster far from the faces of a big box, deformed by one matrix F: D2min = 0; noise makes it > 0."""
    rng = np.random.default_rng(11)
    box = np.full(3, 40.0)
    x0 = 20.0 + rng.uniform(-3, 3, (80, 3))
    f = np.array([[1.05, 0.02, -0.03], [0.01, 0.97, 0.04], [-0.02, 0.03, 1.02]])
    dr = ((x0 - 20.0) @ f.T - (x0 - 20.0))[None]
    p = neighbor_pairs(x0, box, 1.6)
    d = nonaffine(dr, p.i, p.j, p.vectors)
    three = np.bincount(p.i, minlength=len(x0)) >= 3
    assert three.sum() > 40
    np.testing.assert_allclose(d[three], 0, atol=1e-12)
    noisy = dr + 0.05 * rng.normal(size=dr.shape)
    four = np.bincount(p.i, minlength=len(x0)) >= 4     # three neighbours are always fitted exactly
    assert np.all(nonaffine(noisy, p.i, p.j, p.vectors)[four] > 1e-6)


def test_pair_distance_change_uses_the_minimum_image_at_t():
    """Two particles that drift apart by more than L/2 are measured through the nearer image."""
    box = np.full(3, 6.0)
    x0 = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 1.0]])
    dr = np.array([[[0.0, 0, 0], [3.5, 0, 0]]])                  # separation 4.5 > 3 -> image at 1.5
    p = neighbor_pairs(x0, box, 2.0)
    e = pair_distance_change(dr, p.vectors, box, p.i, p.j)
    np.testing.assert_allclose(e, [0.5, 0.5], atol=1e-6)


def test_self_intermediate_scattering_is_the_angular_average():
    """sin(k r)/(k r) equals the average of cos(k n·Δr) over directions n (Fibonacci sphere)."""
    rng = np.random.default_rng(12)
    dr = rng.normal(scale=0.4, size=(2, 30, 3))
    k = 2 * math.pi
    m = 20000
    z = 1 - (2 * np.arange(m) + 1) / m
    phi = np.arange(m) * math.pi * (3 - math.sqrt(5))
    n = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], axis=1)
    want = np.cos(k * dr @ n.T).mean(axis=(1, 2))
    np.testing.assert_allclose(self_intermediate_scattering(dr, k), want, atol=1e-4)
    mask = np.arange(30) < 10
    np.testing.assert_allclose(mean_squared_displacement(dr, mask),
                               [np.mean(np.sum(dr[r, :10] ** 2, axis=1)) for r in range(2)])


def test_chi4_matches_loops():
    q = np.random.default_rng(13).uniform(size=(17, 4))
    got = chi4(q, 3277)
    for t in range(4):
        assert got[t] == pytest.approx(ref.chi4(list(q[:, t]), 3277), rel=1e-10)


# ----------------------------------------------------------------------------- edges found by mutation testing
@pytest.mark.parametrize("rm_cutoff", [1.6, 1.3], ids=["rm-1.6", "rm-1.3"])
def test_bonds_and_neighbours_do_not_depend_on_the_graph_cutoff(system, paper_config, rm_cutoff):
    """r_e = 1.2, below a_in σ_AA = 1.4 (and the relative-motion radius): C_B, R_i and D_i are those of
    r_e = 2.0 — the pair search reaches the largest radius, whichever it is — only the graph and E_ij
    shrink."""
    types, box, x0, x, times = system
    cfg = copy.deepcopy(paper_config)
    cfg["labels"]["relative_motion_cutoff"] = rm_cutoff
    wide = labels_from_positions(types, box, x0, x, times, cfg)
    cfg["graph"]["cutoff"] = 1.2
    narrow = labels_from_positions(types, box, x0, x, times, cfg)
    for name in NODE_LABELS:
        np.testing.assert_array_equal(narrow[name], wide[name], err_msg=name)
    r = np.linalg.norm(narrow["edge_vectors"].astype(np.float64), axis=1)
    assert 0 < narrow["edge_index"].shape[1] < wide["edge_index"].shape[1] and r.max() <= 1.2


def test_single_precision_inputs_give_the_double_precision_labels(system, paper_config):
    """Positions stored as float32 (published data sets): every label equals that of the same numbers in
    float64 — differences are taken in double precision."""
    types, box, x0, x, times = system
    x0_32, x_32, box32, t32 = (a.astype(np.float32) for a in (x0, x, box, times))
    a = labels_from_positions(types, box32, x0_32, x_32, t32, paper_config)
    b = labels_from_positions(types, *(a.astype(np.float64) for a in (box32, x0_32, x_32, t32)),
                                     paper_config)
    for name in b:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    q = np.random.default_rng(0).uniform(0.3, 0.4, (40, 3)).astype(np.float32)
    np.testing.assert_array_equal(chi4(q, 800), chi4(q.astype(np.float64), 800))
    dr = (x_32[:, 1] - x0_32).astype(np.float64)
    np.testing.assert_allclose(mean_squared_displacement(dr), np.mean(np.sum(dr ** 2, axis=-1), axis=1))


def test_inconsistent_inputs_are_refused(system, paper_config):
    types, box, x0, x, times = system
    with pytest.raises(ValueError, match=r"inconsistent shapes: types \(49,\)"):
        labels_from_positions(types[:-1], box, x0, x, times, paper_config)
    with pytest.raises(ValueError, match=r"inconsistent shapes: .*times \(2,\)"):
        labels_from_positions(types, box, x0, x, times[:2], paper_config)
    with pytest.raises(ValueError, match="no sampling times or no replicas"):
        labels_from_positions(types, box, x0, x[:0], times, paper_config)
