"""tGlassMLP structural input: inherent structures (LAMMPS) and coarse-grained descriptors."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from glassdyn.io import storage
from glassdyn.md import inherent
from glassdyn.physics import potential
from glassdyn.physics.descriptors import (
    brute_force_descriptors,
    coarse_grained_descriptors,
    descriptor_lengths,
    descriptor_names,
    periodic_image_pairs,
    standardization,
    standardize,
)
from glassdyn.tglassmlp.descriptors import descriptors_file


def random_system(n=40, box=3.5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3)) * box
    t = (rng.random(n) < 0.3).astype(np.int8)
    return x, t, np.full(3, box), rng.normal(-4.0, 0.5, n), rng.normal(6.0, 0.4, n)


# --------------------------------------------------------------------------- descriptors
def test_descriptors_match_brute_force_over_periodic_images():
    # cutoff 5 > box 3.5: every particle is met at several image distances; small chunks
    x, t, box, e, p = random_system()
    fast = coarse_grained_descriptors(x, t, box, e, p, cutoff=5.0, chunk_pairs=2000)
    slow = brute_force_descriptors(x, t, box, e, p, cutoff=5.0)
    assert fast.shape == (40, 4 * 11 * 3)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9)


def test_descriptor_columns_and_self_term():
    x, t, box, e, p = random_system(n=20, seed=1)
    names = descriptor_names()
    out = coarse_grained_descriptors(x, t, box, e, p, cutoff=4.0)
    col = {n: i for i, n in enumerate(names)}
    # L = 0: the particle itself
    np.testing.assert_array_equal(out[:, col["density_L0_A"]], (t == 0).astype(float))
    np.testing.assert_array_equal(out[:, col["density_L0_all"]], np.ones(20))
    np.testing.assert_allclose(out[:, col["energy_L0_B"]], e)
    np.testing.assert_allclose(out[:, col["area_L0_all"]], p)
    np.testing.assert_array_equal(out[:, col["energy_variance_L0_A"]], np.zeros(20))
    # groups add up: rho_A + rho_B = rho_all; weighted means combine
    for L in ("1", "4", "9"):
        ra, rb, r = (out[:, col[f"density_L{L}_{g}"]] for g in ("A", "B", "all"))
        np.testing.assert_allclose(ra + rb, r)
        ea, eb, ea_all = (out[:, col[f"energy_L{L}_{g}"]] for g in ("A", "B", "all"))
        np.testing.assert_allclose((ra * ea + rb * eb) / r, ea_all)
    assert np.all(out[:, col["density_L1_all"]] > 1.0)  # self term (1) plus neighbours
    np.testing.assert_array_equal(descriptor_lengths()[[col["area_L2.5_B"], col["density_L0_A"]]], [2.5, 0.0])


def test_descriptors_are_invariant_under_translation_and_follow_particle_order():
    x, t, box, e, p = random_system(n=30, seed=2)
    ref = coarse_grained_descriptors(x, t, box, e, p, cutoff=4.5)
    shifted = np.mod(x + np.array([1.3, -2.2, 0.7]), box)
    np.testing.assert_allclose(coarse_grained_descriptors(shifted, t, box, e, p, cutoff=4.5), ref, atol=1e-9)
    perm = np.random.default_rng(3).permutation(30)
    np.testing.assert_allclose(coarse_grained_descriptors(x[perm], t[perm], box, e[perm], p[perm], cutoff=4.5),
                               ref[perm], atol=1e-9)


def test_periodic_image_pairs_count_every_image():
    x, t, box, e, p = random_system(n=15, box=2.5, seed=4)
    cutoff = 3.1
    chunks = list(periodic_image_pairs(x, box, cutoff, chunk_pairs=100))
    i = np.concatenate([c.i for c in chunks])
    r = np.concatenate([c.r for c in chunks])
    # brute force: all image vectors r_j + n L - r_i with 0 < |.| < cutoff
    shifts = np.array(list(np.ndindex(5, 5, 5))) - 2
    d = np.linalg.norm(x[None, :, None, :] + shifts[None, None] * box - x[:, None, None, :], axis=-1)
    count = ((d > 0) & (d < cutoff)).sum(axis=(1, 2))
    np.testing.assert_array_equal(np.bincount(i, minlength=15), count)
    np.testing.assert_allclose(np.sort(r), np.sort(d[(d > 0) & (d < cutoff)]))
    assert len(chunks) > 1


def test_standardization_zero_mean_unit_variance_and_constant_columns():
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(3, 2, 500), np.full(500, 7.0)])
    m, s = standardization(x)
    z = standardize(x, m, s)
    np.testing.assert_allclose(z[:, 0].mean(), 0, atol=1e-6)
    np.testing.assert_allclose(z[:, 0].std(), 1, atol=1e-5)
    assert s[1] == 1.0 and np.all(z[:, 1] == 0)
    assert z.dtype == np.float32


def test_descriptors_file_keeps_geometry(tmp_path, laptop_config):
    x, t, box, e, p = random_system(n=25, seed=6)
    src = storage.write_h5(tmp_path / "T0.64" / "c0003.h5", {"positions": x, "types": t, "box": box, "energy": e,
                                                             "voronoi_area": p}, {"T": 0.64, "c": 3})
    cfg = copy.deepcopy(laptop_config)
    cfg["tglassmlp"]["descriptors"]["cutoff"] = 4.0
    descriptors_file(cfg, src, tmp_path / "d.h5")
    data, attrs = storage.read_h5(tmp_path / "d.h5")
    assert data["descriptors"].shape == (25, 132) and data["descriptors"].dtype == np.float32
    np.testing.assert_array_equal(data["positions"], x)
    assert [n.decode() for n in data["names"]] == descriptor_names()
    assert attrs["c"] == 3 and attrs["cutoff"] == 4.0


# --------------------------------------------------------------------------- inherent structures (LAMMPS)
def _ka_start(cfg, n, seed):
    rng = np.random.default_rng(seed)
    L = (n / cfg["system"]["density"]) ** (1 / 3)
    t = np.zeros(n, np.int8)
    t[int(0.8 * n):] = 1
    return rng.random((n, 3)) * L, t, np.full(3, L)


def test_inherent_structure_is_a_minimum_with_lammps_energies(paper_config):
    cfg = paper_config
    x, t, box = _ka_start(cfg, 250, 7)
    res = inherent.minimize_structure(cfg, x, t, box, cfg["tglassmlp"]["inherent"], prerelax=cfg["protocol"]["minimize"])
    table = potential.pair_table(cfg["system"])
    # E_i = 1/2 sum_j V(r_ij) from the independent numpy potential, at the minimum
    np.testing.assert_allclose(res["energy"], potential.particle_energies(res["positions"], t, box, table), atol=1e-9)
    assert np.abs(potential.forces(res["positions"], t, box, table)).max() < 1e-5
    assert res["fnorm"] <= cfg["tglassmlp"]["inherent"]["ftol"] * 1.0001
    assert res["energy"].mean() < -5.0  # a dense KA minimum, not the random start
    np.testing.assert_allclose(res["voronoi_volume"].sum(), np.prod(box), rtol=1e-9)
    # a convex cell of volume v has surface >= that of the sphere of volume v
    v = res["voronoi_volume"]
    assert np.all(res["voronoi_area"] >= (36 * np.pi * v ** 2) ** (1 / 3) * (1 - 1e-9))
    assert np.all(res["positions"] >= 0) and np.all(res["positions"] < box)


def test_voronoi_area_of_a_simple_cubic_lattice(paper_config):
    a, m = 1.12, 4
    x = (np.array(list(np.ndindex(m, m, m))) + 0.5) * a
    t = np.zeros(len(x), np.int8)
    box = np.full(3, m * a)
    res = inherent.minimize_structure(paper_config, x, t, box, paper_config["tglassmlp"]["inherent"])
    np.testing.assert_allclose(res["voronoi_volume"], a ** 3, rtol=1e-9)
    np.testing.assert_allclose(res["voronoi_area"], 6 * a ** 2, rtol=1e-9)
    np.testing.assert_allclose(res["positions"], x, atol=1e-9)  # forces vanish by symmetry


def test_inherent_rule_writes_the_documented_file(tmp_path, paper_config):
    cfg = paper_config
    x, t, box = _ka_start(cfg, 100, 8)
    res = inherent.minimize_structure(cfg, x, t, box, cfg["tglassmlp"]["inherent"], prerelax=cfg["protocol"]["minimize"])
    # a "t = 0 frame" slightly off its minimum
    x0 = np.mod(res["positions"] + np.random.default_rng(9).normal(0, 0.02, x.shape), box)
    frame = storage.write_h5(tmp_path / "eq.h5", {"positions": x0, "types": t, "box": box}, {"T": 0.5, "c": 2})
    out = inherent.inherent_structure(cfg, frame, tmp_path / "is.h5")
    data, attrs = storage.read_h5(out)
    assert set(data) >= {"positions", "types", "box", "energy", "voronoi_area", "voronoi_volume", "displacement"}
    assert data["displacement"].max() < 0.5
    assert attrs["c"] == 2 and attrs["minimizer"]["min_style"] == cfg["tglassmlp"]["inherent"]["min_style"]
    with pytest.raises(storage.StorageError):
        inherent.inherent_structure(cfg, tmp_path / "missing.h5", tmp_path / "x.h5")
