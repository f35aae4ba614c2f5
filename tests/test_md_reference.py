"""Reference numbers a glass physicist checks first, on small real LAMMPS runs, and the protocol pinned.

- The thermostat holds the configured temperature: the time average of the
  kinetic temperature over the hold is T within its statistical error, and its
  instantaneous spread is the canonical √(2/(3N)) T.
- NVE replicas conserve energy: drift and fluctuation of E per particle are
  bounded (velocity Verlet at Δt = 0.001 with a force smoothed to zero).
- An ideal gas (ε → 0) run through the replica pipeline and the labels gives
  F_s(k, t) = exp(−k² T t² / (2m)) and MSD = 3 T t²/m (ballistic motion,
  Maxwell–Boltzmann velocities; m = 2 so that T/m and T·m differ).
- Every replica has its own seed and its own trajectory; stage targets are
  pinned in the plain LAMMPS deck; checkpoints are bound to every input (test_md.py: one of another
  T_high is not resumed).
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from glassdyn.config.slices import config_slice
from glassdyn.io import storage
from glassdyn.labels.extract import extract_labels
from glassdyn.md import equilibrate as md_equilibrate
from glassdyn.md import replicas as md_replicas
from glassdyn.md.deck import input_script
from glassdyn.md.engine import thermostat_command
from glassdyn.md.equilibrate import equilibrate
from glassdyn.md.replicas import run_replicas
from glassdyn.physics.protocol import (
    box_vector,
    equilibration_stages,
    equilibration_velocity_seed,
    particle_types,
    replica_seed,
)

T = 0.64


def small_cfg(laptop_config, n=256, replicas=3, times=(0.5, 2.0), **protocol) -> dict:
    """A KA system of n particles with τα = 1 (so hold_tau_alpha is the hold in τ) and one segment per stage."""
    cfg = copy.deepcopy(laptop_config)
    cfg["system"]["n_particles"] = n
    p = cfg["protocol"]
    p.update({"t_high": 4.0, "t_cool": 1.0, "hold_tau_alpha": 8.0, "thermo_every": 20, "replicas": replicas,
              **protocol})
    p["segment_walltime"] = 1e9
    cfg["temperatures"] = [{"T": T, "tau_alpha": 1.0, "times": list(times)}]
    return cfg


@pytest.fixture(scope="module")
def runs(laptop_config, tmp_path_factory):
    """Equilibration (N = 256: 4 τ at T_high, 1 τ quench, 8 τ hold, thermo every 20 steps) and 3 replicas."""
    d = tmp_path_factory.mktemp("md_reference")
    cfg = small_cfg(laptop_config)
    eq = equilibrate(cfg, T, 0, d / "eq.h5")
    rep = run_replicas(cfg, T, 0, eq, d / "rep.h5", checks=cfg["protocol"]["checks"])
    return cfg, eq, rep


def _stage_average(thermo_step, temp, stage, skip=0.4, blocks=8):
    """Mean kinetic T over the last (1 − skip) of a stage, its block standard error and the raw spread."""
    m = (thermo_step > stage["start"] + skip * (stage["stop"] - stage["start"])) & (thermo_step <= stage["stop"])
    x = temp[m]
    block_means = np.array([b.mean() for b in np.array_split(x, blocks)])
    return x.mean(), block_means.std(ddof=1) / math.sqrt(blocks), x.std(), len(x)


def test_hold_time_average_is_T_within_its_fluctuation(runs):
    cfg, eq, rep = runs
    d, attrs = storage.read_h5(eq)
    n = cfg["system"]["n_particles"]
    steps = attrs["steps"]
    assert (steps["hold"]["T_start"], steps["hold"]["T_stop"]) == (T, T)
    mean, se, spread, count = _stage_average(d["thermo/step"], d["thermo/temp"], steps["hold"])
    assert count >= 200 and se < 0.01 * T                   # resolving power: a 5 % error is > 5 SE
    assert abs(mean - T) < 4 * se, (mean, se)
    canonical = T * math.sqrt(2 / (3 * n - 3))              # Nosé–Hoover samples the canonical spread
    assert 0.7 * canonical < spread < 1.3 * canonical, (spread, canonical)
    hot, se_hot, _, _ = _stage_average(d["thermo/step"], d["thermo/temp"], steps["high"])
    T_high = cfg["protocol"]["T_high"]
    assert abs(hot - T_high) < max(4 * se_hot, 0.03 * T_high), (hot, se_hot)


def test_nve_replicas_conserve_energy(runs):
    """|E(t) − E(0)| / |E(0)| / t < 1e-5 per τ and the RMS fluctuation of E < 1e-5 |E| (measured ~1e-6;
    Δt = 0.005 gives ~25× more, a thermostat far more)."""
    cfg, eq, rep = runs
    r, _ = storage.read_h5(rep)
    e = r["thermo/etotal"]
    assert e.shape[1] >= 100
    assert np.all(r["checks/energy_drift"] < 1e-5)
    assert np.all(e.std(axis=1) < 1e-5 * np.abs(e.mean(axis=1)))
    duration = (r["thermo/step"][-1] - r["thermo/step"][0]) * cfg["system"]["timestep"]
    np.testing.assert_allclose(r["checks/energy_drift"], np.abs(e[:, -1] - e[:, 0]) / np.abs(e[:, 0]) / duration)


def test_every_replica_has_its_own_seed_and_trajectory(runs):
    cfg, eq, rep = runs
    r, attrs = storage.read_h5(rep)
    R = cfg["protocol"]["replicas"]
    assert attrs["seeds"].tolist() == [replica_seed(T, 0, k) for k in range(R)]
    for a in range(R):
        for b in range(a + 1, R):
            assert not np.allclose(r["initial_velocities"][a], r["initial_velocities"][b]), (a, b)
            for t in range(r["positions"].shape[1]):
                assert np.abs(r["positions"][a, t] - r["positions"][b, t]).max() > 1e-3, (a, b, t)
    # the 32 replicas of every configuration of the paper campaign have distinct seeds, none of them the
    # configuration's own equilibration seed (31-bit seeds: across different configurations one pair in
    # 48 000 coincides, (T, c, r) = (0.50, 86, 20) and (0.64, 6, 7), harmless: different frames)
    for Tc in (0.44, 0.50, 0.64):
        for c in range(500):
            seeds = {replica_seed(Tc, c, k) for k in range(32)}
            assert len(seeds) == 32 and equilibration_velocity_seed(Tc, c) not in seeds, (Tc, c)


def test_ideal_gas_self_intermediate_scattering_is_gaussian(laptop_config, tmp_path):
    """ε = 1e-30 (forces vanish): F_s(k, t) = exp(−k² T t²/(2m)) and MSD = 3 T t²/m with m = 2, T = 1,
    through replicas.h5 (LAMMPS NVE, Maxwell–Boltzmann velocities) and labels.h5."""
    Tg, mass, n, R = 1.0, 2.0, 1000, 4
    times = [0.1, 0.2, 0.3, 0.45]
    cfg = small_cfg(laptop_config, n=n, replicas=R, times=times)
    cfg["system"].update(mass=mass, density=0.05, epsilon={"AA": 1e-30, "AB": 1e-30, "BB": 1e-30})
    cfg["temperatures"] = [{"T": Tg, "tau_alpha": 1.0, "times": times}]
    box = box_vector(cfg)
    rng = np.random.default_rng(5)
    frame = {"positions": rng.uniform(0, box[0], (n, 3)), "types": particle_types(cfg), "box": box}
    eq = storage.write_h5(tmp_path / "eq.h5", frame, {"T": Tg, "c": 0})
    rep = run_replicas(cfg, Tg, 0, eq, tmp_path / "rep.h5", checks=cfg["protocol"]["checks"])
    lab = extract_labels(cfg, rep, tmp_path / "labels.h5")
    d, _ = storage.read_h5(lab, ["fs_A", "msd_A", "times"])
    k = cfg["labels"]["k"]
    t = d["times"]
    np.testing.assert_allclose(d["fs_A"].mean(axis=0), np.exp(-k * k * Tg * t * t / (2 * mass)), atol=0.02)
    np.testing.assert_allclose(d["msd_A"].mean(axis=0), 3 * Tg * t * t / mass, rtol=0.06)
    # ballistic and unwrapped: each replica's MSD is its own ⟨|v(0)|²⟩_A t² (no statistics involved)
    r, _ = storage.read_h5(rep, ["checks/temperature0", "initial_velocities", "types"])
    v2 = np.einsum("rnk,rnk->rn", r["initial_velocities"], r["initial_velocities"])[:, r["types"] == 0].mean(axis=1)
    np.testing.assert_allclose(d["msd_A"], v2[:, None] * t[None, :] ** 2, rtol=1e-8)
    assert r["checks/temperature0"].mean() == pytest.approx(Tg, abs=4 * Tg * math.sqrt(2 / (3 * n * R)))


# ----------------------------------------------------------------------------- protocol pinned
def test_stage_targets_in_the_plan_and_the_deck(paper_config):
    """high: T_high → T_high, cool: T_high → T (linear ramp), hold: T → T, each with fix nvt at the damping."""
    stages = equilibration_stages(paper_config, 0.44)
    assert [(s.name, s.T_start, s.T_stop) for s in stages] == [("high", 5.0, 5.0), ("cool", 5.0, 0.44),
                                                               ("hold", 0.44, 0.44)]
    deck = input_script(paper_config, 0.44, 0)
    assert "fix thermostat_high all nvt temp 5.0 5.0 0.1\nrun 10000000 start 0 stop 10000000" in deck
    assert "fix thermostat_cool all nvt temp 5.0 0.44 0.1\nrun 20000 start 10000000 stop 10020000" in deck
    assert "fix thermostat_hold all nvt temp 0.44 0.44 0.1\nrun 164800000 start 10020000 stop 174820000" in deck
    assert [thermostat_command(s, 0.1) for s in stages] == [
        "fix thermostat_high all nvt temp 5.0 5.0 0.1", "fix thermostat_cool all nvt temp 5.0 0.44 0.1",
        "fix thermostat_hold all nvt temp 0.44 0.44 0.1"]


EQ_KEYS = {"T_high": 4.0, "t_high": 0.3, "t_cool": 0.3, "hold_tau_alpha": 0.3, "thermostat_damping": 0.2,
           "thermo_every": 30, "minimize": {"etol": 1e-5, "ftol": 1e-7, "maxiter": 100, "maxeval": 1000}}


def test_fingerprints_change_with_every_input_of_the_trajectory(laptop_config):
    """The equilibration checkpoint is bound to equilibrate's configuration slice: every protocol and system
    number of the trajectory is in it; a replica's fingerprint changes with every input of that replica."""
    cfg = small_cfg(laptop_config)
    base = config_slice(cfg, md_equilibrate.READS, T="0.64")
    for key, value in EQ_KEYS.items():
        c = copy.deepcopy(cfg)
        c["protocol"][key] = value
        assert config_slice(c, md_equilibrate.READS, T="0.64") != base, key
    for key, value in (("timestep", 0.002), ("mass", 2.0), ("density", 1.1), ("n_particles", 300)):
        c = copy.deepcopy(cfg)
        c["system"][key] = value
        assert config_slice(c, md_equilibrate.READS, T="0.64") != base, key
    c = copy.deepcopy(cfg)
    c["temperatures"][0]["tau_alpha"] = 2.0
    assert config_slice(c, md_equilibrate.READS, T="0.64") != base

    cfg["temperatures"].append({"T": 0.5, "tau_alpha": 1.0, "times": [0.5, 2.0]})
    rng = np.random.default_rng(0)
    frame = {"positions": rng.uniform(0, 5, (256, 3)), "types": particle_types(cfg), "box": box_vector(cfg)}

    def fp(c, T_, conf, r, fr):
        return md_replicas._replica_fingerprint(config_slice(c, md_replicas.READS, T=T_), float(T_), conf, r, fr)

    rbase = fp(cfg, "0.64", 0, 1, frame)
    moved = dict(frame, positions=frame["positions"] + 1e-12 * (np.arange(256) == 3)[:, None])
    c_times, c_thermo, c_sys = (copy.deepcopy(cfg) for _ in range(3))
    c_times["temperatures"][0]["times"] = [0.5, 2.5]
    c_thermo["protocol"]["thermo_every"] = 40
    c_sys["system"]["timestep"] = 0.002
    rothers = [fp(cfg, "0.64", 0, 2, frame), fp(cfg, "0.64", 1, 1, frame), fp(cfg, "0.50", 0, 1, frame),
               fp(cfg, "0.64", 0, 1, moved), fp(c_times, "0.64", 0, 1, frame), fp(c_thermo, "0.64", 0, 1, frame),
               fp(c_sys, "0.64", 0, 1, frame)]
    assert rbase not in rothers and len(set(rothers)) == len(rothers)
