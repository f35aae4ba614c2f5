"""The KA pair potential (lj/smooth/linear): pair functions, brute-force sums, LAMMPS agreement."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from glassdyn.md.engine import Engine
from glassdyn.physics import potential
from glassdyn.physics.protocol import box_vector, particle_types

SYSTEM = {"n_particles": 200, "fraction_a": 0.8, "density": 1.2, "mass": 1.0,
          "epsilon": {"AA": 1.0, "AB": 1.5, "BB": 0.5}, "sigma": {"AA": 1.0, "AB": 0.8, "BB": 0.88},
          "cutoff_factor": 2.5, "timestep": 0.005}


@pytest.fixture(scope="module")
def table():
    return potential.pair_table(SYSTEM)


def lammps_state(seed: int = 3, minimize: bool = True):
    """A KA configuration relaxed by LAMMPS, with LAMMPS' total energy and forces on it."""
    cfg = {"system": SYSTEM}
    box = box_vector(cfg)
    types = particle_types(cfg)
    rng = np.random.default_rng(seed)
    eng = Engine(cfg)
    try:
        eng.create(rng.uniform(0, box[0], (SYSTEM["n_particles"], 3)), types)
        if minimize:
            eng.minimize({"etol": 1e-4, "ftol": 1e-4, "maxiter": 200, "maxeval": 2000})
        eng.run(0, pre=True)
        x = eng.positions()
        pe = eng.thermo()[1] * SYSTEM["n_particles"]  # thermo is per particle
        f = np.array(eng.lmp.gather_atoms("f", 1, 3)).reshape(-1, 3)
    finally:
        eng.close()
    return x, types, box, pe, f


def brute_force_energy(x, types, box, table):
    n = len(x)
    u = 0.0
    for a in range(n):
        for b in range(a + 1, n):
            d = x[a] - x[b]
            d -= box * np.round(d / box)
            r = np.sqrt(d @ d)
            ta, tb = types[a], types[b]
            rc = table.cutoff[ta, tb]
            if r < rc:
                eps, sig = table.epsilon[ta, tb], table.sigma[ta, tb]
                phi = lambda s, eps=eps, sig=sig: 4 * eps * ((sig / s) ** 12 - (sig / s) ** 6)  # noqa: E731
                dphi = lambda s, eps=eps, sig=sig: 24 * eps / s * ((sig / s) ** 6 - 2 * (sig / s) ** 12)  # noqa: E731
                u += phi(r) - phi(rc) - (r - rc) * dphi(rc)
    return u


def test_table_has_ka_cutoffs(table):
    assert np.allclose(table.cutoff, [[2.5, 2.0], [2.0, 2.2]])
    assert np.allclose(table.epsilon, table.epsilon.T) and table.epsilon[0, 1] == 1.5


def test_energy_and_force_vanish_at_the_cutoff_and_force_is_minus_derivative(table):
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        eps, sig, rc = table.epsilon[a, b], table.sigma[a, b], table.cutoff[a, b]
        assert abs(potential.pair_energy(rc - 1e-12, eps, sig, rc)) < 1e-10
        assert abs(potential.pair_force(rc - 1e-12, eps, sig, rc)) < 1e-10
        assert potential.pair_energy(rc + 0.1, eps, sig, rc) == 0.0
        r = np.linspace(0.8 * sig, rc - 0.01, 50)
        h = 1e-6
        numeric = -(potential.pair_energy(r + h, eps, sig, rc) - potential.pair_energy(r - h, eps, sig, rc)) / (2 * h)
        assert np.allclose(potential.pair_force(r, eps, sig, rc), numeric, rtol=1e-6, atol=1e-6)
        # minimum of plain LJ at 2^(1/6) sigma: the shifted force there is +phi'(rc) > 0 (tiny)
        assert potential.pair_force(2 ** (1 / 6) * sig, eps, sig, rc) == pytest.approx(
            potential.lennard_jones_derivative(rc, eps, sig), abs=1e-12)


def test_torch_pair_energy_matches_numpy_and_autograd_gives_the_force(table):
    r = np.linspace(0.75, 2.6, 40)
    eps, sig, rc = table.epsilon[0, 1], table.sigma[0, 1], table.cutoff[0, 1]
    rt = torch.tensor(r, dtype=torch.float64, requires_grad=True)
    e = potential.pair_energy(rt, eps, sig, rc)
    assert np.allclose(e.detach().numpy(), potential.pair_energy(r, eps, sig, rc), rtol=1e-14, atol=1e-14)
    (g,) = torch.autograd.grad(e.sum(), rt)
    assert np.allclose(-g.numpy(), potential.pair_force(r, eps, sig, rc), rtol=1e-12, atol=1e-12)


def test_configuration_energy_matches_brute_force_and_particle_energies_sum(table):
    x, types, box, _, _ = lammps_state(seed=5)
    u = potential.potential_energy(x, types, box, table)
    assert u == pytest.approx(brute_force_energy(x, types, box, table), rel=1e-12)
    assert potential.particle_energies(x, types, box, table).sum() == pytest.approx(u, rel=1e-12)
    # unwrapped/shifted input: the same energy
    shifted = x + np.array([3.3, -7.1, 0.4]) + box * np.array([1, -2, 0])
    assert potential.potential_energy(shifted, types, box, table) == pytest.approx(u, rel=1e-12)


def test_forces_are_minus_the_gradient_and_sum_to_zero(table):
    x, types, box, _, _ = lammps_state(seed=7)
    f = potential.forces(x, types, box, table)
    assert np.abs(f.sum(axis=0)).max() < 1e-10
    h = 1e-6
    for a, c in [(0, 0), (17, 2), (190, 1)]:
        xp, xm = x.copy(), x.copy()
        xp[a, c] += h
        xm[a, c] -= h
        numeric = -(potential.potential_energy(xp, types, box, table)
                    - potential.potential_energy(xm, types, box, table)) / (2 * h)
        assert f[a, c] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_torch_configuration_energy(table):
    x, types, box, _, _ = lammps_state(seed=9)
    a, b, d, _ = potential.pair_list(x, types, box, table)
    dt = torch.tensor(d, requires_grad=True)
    u = potential.potential_energy_torch(dt, torch.as_tensor(types[a]).long(), torch.as_tensor(types[b]).long(), table)
    assert u.item() == pytest.approx(potential.potential_energy(x, types, box, table), rel=1e-12)
    (g,) = torch.autograd.grad(u, dt)
    f = np.zeros_like(x)
    np.add.at(f, a, -g.numpy())
    np.add.at(f, b, g.numpy())
    assert np.allclose(f, potential.forces(x, types, box, table), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("minimize", [True, False])
def test_energy_and_forces_match_lammps(table, minimize):
    """Same configuration in LAMMPS (pair_style lj/smooth/linear via Engine) and here."""
    x, types, box, pe_lammps, f_lammps = lammps_state(seed=11, minimize=minimize)
    u = potential.potential_energy(x, types, box, table)
    assert abs(u - pe_lammps) <= 1e-10 * abs(pe_lammps)
    f = potential.forces(x, types, box, table)
    assert np.abs(f - f_lammps).max() <= 1e-10 * max(1.0, np.abs(f_lammps).max())


def test_kinetic_energy_and_momentum():
    v = np.random.default_rng(0).normal(size=(10, 3))
    assert potential.kinetic_energy(v, 2.0) == pytest.approx(np.sum(v ** 2))
    assert np.allclose(potential.total_momentum(v, 2.0), 2 * v.sum(0))
    vt = torch.tensor(v)
    assert float(potential.kinetic_energy(vt, 2.0)) == pytest.approx(np.sum(v ** 2))
