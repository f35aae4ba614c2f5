"""The MD layer (glassdyn.md): potential, velocities, sampling plan, checkpoints,
kill-and-resume bit-identity, MPI modes and the physics checks — all with real
LAMMPS runs of small systems (N = 128–256, a few thousand steps)."""
from __future__ import annotations

import copy
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from scipy import stats

from glassdyn import cli as glassdyn_cli
from glassdyn.io import storage
from glassdyn.io.storage import StorageError
from glassdyn.md import native
from glassdyn.md.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointState,
    segment_ends,
    segment_steps,
    thermo_steps,
)
from glassdyn.md.deck import write_input_deck, write_replica_deck
from glassdyn.md.engine import Engine, pair_parameters, potential_commands, wrap_positions
from glassdyn.md.equilibrate import equilibrate
from glassdyn.md.parallel import Execution
from glassdyn.md.replicas import MDCheckError, run_replicas
from glassdyn.physics import potential
from glassdyn.physics.protocol import (
    box_vector,
    equilibration_stages,
    maxwell_boltzmann_velocities,
    particle_types,
    random_positions,
    replica_seed,
    sampling_plan,
)
from glassdyn.physics.thermodynamics import energy_drift, kinetic_temperature

ROOT = Path(__file__).resolve().parents[1]
T = 0.64
TIMES = [0.1, 0.165, 0.52, 1.5]


def md_run(cfg: dict, keep: bool = False) -> Execution:
    """How the tests run MD: the configuration's restart segments (short ones, so that checkpoints exist)."""
    return Execution(segment_steps=segment_steps(cfg), keep_checkpoints=keep)


def small_cfg(laptop_config, n=128, steps_per_segment=400, replicas=3, hold_tau_alpha=0.2, times=TIMES) -> dict:
    """A validated configuration that runs in about a second."""
    cfg = copy.deepcopy(laptop_config)
    cfg["system"]["n_particles"] = n
    p = cfg["protocol"]
    p.update(t_high=3.0, t_cool=2.0, hold_tau_alpha=hold_tau_alpha, thermo_every=250, replicas=replicas)
    p["segment_walltime"] = steps_per_segment * n / p["atom_steps_per_second"]
    cfg["temperatures"] = [{"T": T, "tau_alpha": 16.5, "times": list(times)}]
    # only the MD sections matter here (other sections' cross-checks may reject a tiny box)
    assert segment_steps(cfg) == steps_per_segment
    return cfg


def params(cfg) -> str:
    return json.dumps({k: cfg[k] for k in ("system", "protocol", "temperatures")})


def cli(cfg, *args, mpi: int = 0) -> list[str]:
    cmd = [sys.executable, "-m", "glassdyn", args[0], "--params", params(cfg), "--T", str(T), *args[1:]]
    return ([native.mpiexec(), "-n", str(mpi)] + cmd) if mpi else cmd


def same_arrays(a: Path, b: Path) -> None:
    da, _ = storage.read_h5(a)
    db, _ = storage.read_h5(b)
    assert sorted(da) == sorted(db)
    for k in da:
        assert da[k].dtype == db[k].dtype, k
        assert np.array_equal(da[k], db[k]), f"{k} differs between {a} and {b}"


def kill_when(cmd: list[str], ready, log: Path, timeout: float = 60.0) -> None:
    """Start ``cmd``; SIGKILL it as soon as ``ready()`` is true (it must not finish first)."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    t0 = time.time()
    try:
        while not ready():
            assert proc.poll() is None, f"job ended before it could be killed: {log.read_text()[-2000:]}"
            assert time.time() - t0 < timeout, "no checkpoint appeared"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def checkpoint_step(state: Path) -> int:
    try:
        with h5py.File(state, "r") as f:
            return int(f.attrs["step"])
    except (OSError, KeyError):
        return -1


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cfg(laptop_config):
    return small_cfg(laptop_config)


@pytest.fixture(scope="module")
def reference(cfg, tmp_path_factory):
    """Uninterrupted equilibration and replicas of configuration 3 (through the CLI, as the rules run it)."""
    d = tmp_path_factory.mktemp("reference")
    subprocess.run(cli(cfg, "equilibrate", "--c", "3", "--output", str(d / "eq.h5")), check=True)
    subprocess.run(cli(cfg, "replicas", "--c", "3", "--input", str(d / "eq.h5"), "--output", str(d / "rep.h5")),
                   check=True)
    assert not (d / "checkpoints").exists(), "checkpoints are removed after a successful write"
    return d


# ----------------------------------------------------------------------------- potential
@pytest.mark.parametrize("pair,types", [("AA", (0, 0)), ("AB", (0, 1)), ("BB", (1, 1))])
def test_lammps_pair_energy_and_force_match_the_smoothed_lj_formula(laptop_config, pair, types):
    cfg = copy.deepcopy(laptop_config)
    cfg["system"].update(n_particles=2, density=2 / 10.0**3, fraction_a=0.5)
    p = pair_parameters(cfg)[pair]
    assert p.cutoff == pytest.approx(2.5 * p.sigma)
    eng = Engine(cfg)
    try:
        for r in (0.95 * p.sigma, 1.12 * p.sigma, 1.7 * p.sigma, 0.999 * p.cutoff, 1.001 * p.cutoff):
            x = np.array([[1.0, 5.0, 5.0], [1.0 + r, 5.0, 5.0]])
            eng.create(x, np.array(types))
            eng.run(0, pre=True)
            energy = eng.thermo()[1] * 2  # thermo pe is per particle
            assert energy == pytest.approx(float(potential.pair_energy(r, p.epsilon, p.sigma, p.cutoff)),
                                           rel=1e-10, abs=1e-12)
            f = np.array(eng.lmp.gather_atoms("f", 1, 3)).reshape(2, 3)
            want = float(potential.pair_force(r, p.epsilon, p.sigma, p.cutoff))  # > 0: repulsion
            assert f[1, 0] == pytest.approx(want, rel=1e-10, abs=1e-12)  # on the right particle, along +x
            assert f[0, 0] == pytest.approx(-want, rel=1e-10, abs=1e-12)
        assert abs(energy) == 0.0  # beyond the cutoff
    finally:
        eng.close()


def test_system_setup(paper_config):
    t = particle_types(paper_config)
    assert t.dtype == np.int8 and (t == 0).sum() == 3277 and (t == 1).sum() == 819
    assert box_vector(paper_config) == pytest.approx([15.05658] * 3, abs=1e-5)
    x = random_positions(paper_config, 0.44, 7)
    assert x.shape == (4096, 3) and x.min() >= 0 and x.max() < 15.05658
    assert np.array_equal(x, random_positions(paper_config, 0.44, 7))
    assert not np.array_equal(x, random_positions(paper_config, 0.44, 8))
    cmds = "\n".join(potential_commands(paper_config))
    assert "pair_style lj/smooth/linear 2.5" in cmds
    assert "pair_coeff 1 2 1.5 0.8 2.0" in cmds and "pair_coeff 2 2 0.5 0.88 2.2" in cmds
    assert "timestep 0.001" in cmds


# ----------------------------------------------------------------------------- plan
def test_sampling_times_are_rounded_to_steps_and_recorded(laptop_config):
    cfg = copy.deepcopy(laptop_config)
    cfg["system"]["timestep"] = 0.003
    cfg["temperatures"] = [{"T": T, "tau_alpha": 16.5, "times": [0.1, 0.5, 1.0]}]
    plan = sampling_plan(cfg, T)
    assert plan.steps.tolist() == [33, 167, 333]
    assert plan.times == pytest.approx([0.099, 0.501, 0.999])
    assert plan.requested_times.tolist() == [0.1, 0.5, 1.0]
    cfg["temperatures"] = [{"T": T, "tau_alpha": 16.5, "times": [1, 3]}]   # integers in the YAML
    plan = sampling_plan(cfg, T)
    assert plan.requested_times.dtype == np.float64 and plan.steps.dtype == np.int64
    assert plan.steps.tolist() == [333, 1000]


def test_segments_cut_at_sampling_steps():
    assert segment_ends(0, 1000, 400, [100, 165, 520]) == [100, 165, 400, 520, 800, 1000]
    assert segment_ends(3000, 5000, 1500) == [4500, 5000]
    assert thermo_steps(0, 1000, 250, [165]) == [165, 250, 500, 750, 1000]


def test_equilibration_stages(paper_config):
    st = equilibration_stages(paper_config, 0.44)
    assert [(s.name, s.stop - s.start) for s in st] == [("high", 10_000_000), ("cool", 20_000), ("hold", 164_800_000)]
    assert st[1].T_start == 5.0 and st[1].T_stop == 0.44 and st[2].start == st[1].stop


def test_empty_stages_are_dropped_and_one_step_stages_kept(paper_config):
    cfg = copy.deepcopy(paper_config)
    dt = cfg["system"]["timestep"]
    cfg["protocol"].update(t_high=dt, t_cool=0.0)
    st = equilibration_stages(cfg, 0.44)
    assert [(s.name, s.start, s.stop) for s in st] == [("high", 0, 1), ("hold", 1, 1 + 164_800_000)]


def test_replica_thermo_steps_include_step_zero_every_multiple_and_each_sample(laptop_config):
    from glassdyn.md.replicas import replica_thermo_steps
    from glassdyn.physics.protocol import SamplingPlan

    cfg = copy.deepcopy(laptop_config)
    cfg["protocol"]["thermo_every"] = 100
    steps = np.array([1, 5, 250])
    plan = SamplingPlan(steps * 0.005, steps, steps * 0.005)
    assert replica_thermo_steps(cfg, plan) == [0, 1, 5, 100, 200, 250]


def test_replica_fingerprint_is_the_recorded_identity(laptop_config):
    """The fingerprint of a replica is that of {step, config slice, T key, c, r, SHA-256 of the frame's
    positions, types, box}: renaming a field would discard every finished replica of a running campaign;
    dropping one would resume a replica made from other inputs."""
    import hashlib

    from glassdyn.io.provenance import fingerprint
    from glassdyn.md.replicas import _replica_fingerprint

    rng = np.random.default_rng(0)
    frame = {"positions": rng.uniform(0, 5, (6, 3)), "types": np.array([0, 0, 0, 0, 1, 1], np.int8),
             "box": np.full(3, 5.0)}
    h = hashlib.sha256()
    for k in ("positions", "types", "box"):
        h.update(np.ascontiguousarray(frame[k]).tobytes())
    cut = {"protocol": {"replicas": 4}}
    want = fingerprint({"step": "replicas", "config": cut, "T": "0.44", "c": 3, "r": 2, "frame": h.hexdigest()})
    assert _replica_fingerprint(cut, 0.44, 3, 2, frame) == want
    others = {_replica_fingerprint({"protocol": {"replicas": 5}}, 0.44, 3, 2, frame),
              _replica_fingerprint(cut, 0.45, 3, 2, frame), _replica_fingerprint(cut, 0.44, 4, 2, frame),
              _replica_fingerprint(cut, 0.44, 3, 1, frame)}
    for k in frame:
        changed = dict(frame, **{k: frame[k].copy()})
        changed[k].flat[0] += 1
        others.add(_replica_fingerprint(cut, 0.44, 3, 2, changed))
    assert len(others) == 7 and want not in others


def test_replica_checks_at_their_limits():
    """A drift equal to the limit fails (drift < limit passes); a mean T(0) exactly at the relative
    tolerance passes (|T̄ − T| ≤ tol·T)."""
    from glassdyn.md.replicas import check_replicas

    chk = {"max_energy_drift": 1e-4, "temperature_tolerance": 0.5}
    check_replicas(chk, 0.5, np.array([0.5e-4, 0.99e-4]), np.array([0.75, 0.75]))    # |0.75 − 0.5| = 0.5 · 0.5
    with pytest.raises(MDCheckError, match=r"replicas \[1\]"):
        check_replicas(chk, 0.5, np.array([0.5e-4, 1e-4]), np.array([0.5]))
    chk["temperature_tolerance"] = 0.04                                              # 0.02 at T = 0.5
    with pytest.raises(MDCheckError, match="temperature_tolerance"):
        check_replicas(chk, 0.5, np.array([1e-5]), np.array([0.53]))
    check_replicas(chk, 0.5, np.array([1e-5]), np.array([0.515]))


def test_energy_deviation_and_change_by_hand():
    from glassdyn.physics.thermodynamics import max_energy_deviation, relative_energy_change

    e = np.array([[-4.0, -4.1, -3.9, -4.02], [2.0, 2.0, 2.5, 1.0]])
    np.testing.assert_allclose(max_energy_deviation(e), [0.1 / 4.0, 1.0 / 2.0], rtol=1e-12)
    np.testing.assert_allclose(relative_energy_change(e[:, 0], e[:, -1]), [0.02 / 4.0, 1.0 / 2.0], rtol=1e-12)
    np.testing.assert_allclose(energy_drift(e, 4.0), [0.02 / 4.0 / 4.0, 0.5 / 4.0], rtol=1e-12)


# ----------------------------------------------------------------------------- velocities
def test_maxwell_boltzmann_velocities():
    n, temp = 60_000, 0.64
    for mass in (1.0, 2.0):
        v = maxwell_boltzmann_velocities(n, temp, mass, seed=11)
        assert np.abs(v.sum(axis=0)).max() < 1e-9 * n  # zero total momentum
        assert v.var(axis=0) == pytest.approx([temp / mass] * 3, rel=0.03)
        for k in range(3):  # each component Gaussian with variance T/m
            assert stats.kstest(v[:, k] / np.sqrt(temp / mass), "norm").pvalue > 1e-3
        # not rescaled: T_kin fluctuates around T with relative spread sqrt(2/(3N))
        tk = kinetic_temperature(v, mass)
        assert tk != temp and abs(tk - temp) < 5 * temp * np.sqrt(2 / (3 * n))
    small = np.array([kinetic_temperature(maxwell_boltzmann_velocities(256, temp, 1.0, s), 1.0)
                      for s in range(400)])
    assert small.mean() == pytest.approx(temp, rel=0.01)
    assert small.std() == pytest.approx(temp * np.sqrt(2 / (3 * 255)), rel=0.2)
    assert not np.array_equal(maxwell_boltzmann_velocities(10, temp, 1.0, 1),
                              maxwell_boltzmann_velocities(10, temp, 1.0, 2))


def test_wrap_positions_keeps_unwrapped_coordinates():
    box = np.full(3, 5.0)
    x = np.array([[-0.1, 5.0, 12.3], [-1e-17, 4.999, 0.0]])
    img = np.array([[1, 0, -2], [0, 0, 0]])
    xw, iw = wrap_positions(x, img, box)
    assert (xw >= 0).all() and (xw < 5.0).all()
    assert np.allclose(xw + iw * box, x + img * box, atol=1e-12)


# ----------------------------------------------------------------------------- outputs
def test_outputs_follow_the_architecture_layout(cfg, reference):
    d, a = storage.read_h5(reference / "eq.h5")
    n = cfg["system"]["n_particles"]
    assert d["positions"].shape == (n, 3) and d["velocities"].shape == (n, 3)
    assert d["types"].dtype == np.int8 and d["image"].dtype == np.int32 and d["box"].shape == (3,)
    assert (d["positions"] >= 0).all() and (d["positions"] < d["box"]).all()
    assert a["T"] == T and a["c"] == 3 and a["lammps_version"] > 2e7
    assert a["steps"]["hold"]["steps"] == round(0.2 * 16.5 / 0.001)
    assert a["potential"]["pairs"]["AB"]["cutoff"] == 2.0
    assert d["thermo/temp"][-1] == pytest.approx(T, rel=0.25)

    r, ra = storage.read_h5(reference / "rep.h5")
    R, nt = cfg["protocol"]["replicas"], len(TIMES)
    assert r["positions"].shape == (R, nt, n, 3) and r["positions"].dtype == np.float64
    assert r["initial_velocities"].shape == (R, n, 3)
    assert np.array_equal(r["initial_positions"], d["positions"])
    assert r["requested_times"].tolist() == TIMES
    assert r["steps"].tolist() == [100, 165, 520, 1500]
    assert np.array_equal(r["times"], r["steps"] * 0.001)
    assert r["thermo/step"][0] == 0 and r["thermo/step"][-1] == 1500
    assert set(r["steps"].tolist()) <= set(r["thermo/step"].tolist())
    assert set(range(0, 1501, 250)) <= set(r["thermo/step"].tolist())
    assert r["thermo/etotal"].shape == (R, len(r["thermo/step"]))
    assert np.allclose(r["thermo/etotal"], r["thermo/pe"] + r["thermo/ke"])
    assert ra["seeds"].tolist() == [replica_seed(T, 3, k) for k in range(R)]
    for k in range(R):  # stored velocities: the seeded draw, and LAMMPS measured the same T(0)
        v = maxwell_boltzmann_velocities(n, T, 1.0, ra["seeds"][k])
        assert np.array_equal(r["initial_velocities"][k], v)
        assert r["checks/temperature0"][k] == pytest.approx(kinetic_temperature(v, 1.0), rel=1e-9)
    assert (r["checks/energy_drift"] < cfg["protocol"]["checks"]["max_energy_drift"]).all()
    # unwrapped: displacements at t = 0.1 are ballistic (~0.15), never a jump of a box length
    disp = r["positions"] - r["initial_positions"][None, None]
    assert np.abs(disp[:, 0]).max() < 1.0 < 0.5 * r["box"][0]
    # replicas really differ (fresh velocities) but start from the same frame
    assert not np.allclose(r["positions"][0, -1], r["positions"][1, -1])


# ----------------------------------------------------------------------------- restartability
def test_equilibration_killed_and_resumed_is_bit_identical(cfg, reference, tmp_path):
    out, ck = tmp_path / "eq.h5", tmp_path / "ck"
    cmd = cli(cfg, "equilibrate", "--c", "3", "--output", str(out), "--checkpoint-dir", str(ck))
    kill_when(cmd, lambda: checkpoint_step(ck / "state.h5") >= 1200, tmp_path / "killed.log")
    assert not out.exists()
    killed_at = checkpoint_step(ck / "state.h5")
    # debris of a kill during a write: a half-written restart and a stray temporary file
    (ck / ".step-000000009999.restart.tmp").write_bytes(b"half")
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "resuming from" in res.stderr and f"at step {killed_at}" in res.stderr
    same_arrays(out, reference / "eq.h5")
    assert not ck.exists()


def test_replicas_killed_and_resumed_are_bit_identical(cfg, reference, tmp_path):
    out, ck = tmp_path / "rep.h5", tmp_path / "ck"
    cmd = cli(cfg, "replicas", "--c", "3", "--input", str(reference / "eq.h5"), "--output", str(out),
              "--checkpoint-dir", str(ck))
    kill_when(cmd, lambda: (ck / "r0000.h5").exists() and checkpoint_step(ck / "r0001" / "state.h5") >= 400,
              tmp_path / "killed.log")
    done_mtime = (ck / "r0000.h5").stat().st_mtime_ns
    killed_at = checkpoint_step(ck / "r0001" / "state.h5")
    with h5py.File(ck / "r0001" / "state.h5", "r") as f:
        n_frames = f["frames"].shape[0]
    assert n_frames == sum(1 for s in (100, 165, 520, 1500) if s <= killed_at) and n_frames >= 2
    res = subprocess.run(cmd + ["--keep-checkpoints"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "replica 0 already complete" in res.stderr
    assert "replica 1: resuming from" in res.stderr and f"at step {killed_at}" in res.stderr
    assert "stage replica 0 " not in res.stderr  # the finished replica was not run again
    assert (ck / "r0000.h5").stat().st_mtime_ns == done_mtime
    same_arrays(out, reference / "rep.h5")


def test_corrupt_checkpoints_are_refused(cfg, reference, tmp_path):
    ck = tmp_path / "ck"
    equilibrate(cfg, T, 3, tmp_path / "eq.h5", run=md_run(cfg, keep=True), checkpoint_dir=ck)
    state = ck / "state.h5"
    restart = next(ck.glob("step-*.restart"))
    last = checkpoint_step(state)

    with h5py.File(state, "r+") as f:  # a step count that disagrees with the run
        f.attrs["step"] = last - 100
    with pytest.raises(CheckpointError, match=r"(?s)inconsistent.*Delete the folder") as e:
        equilibrate(cfg, T, 3, tmp_path / "eq2.h5", run=md_run(cfg), checkpoint_dir=ck)
    assert str(state) in str(e.value) and not (tmp_path / "eq2.h5").exists()
    with h5py.File(state, "r+") as f:
        f.attrs["step"] = last

    blob = restart.read_bytes()  # a truncated restart file
    restart.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="truncated or altered"):
        equilibrate(cfg, T, 3, tmp_path / "eq2.h5", run=md_run(cfg), checkpoint_dir=ck)
    restart.write_bytes(blob)

    sidecar = state.read_bytes()  # a truncated sidecar
    state.write_bytes(sidecar[:1000])
    res = subprocess.run(cli(cfg, "equilibrate", "--c", "3", "--output", str(tmp_path / "eq2.h5"),
                             "--checkpoint-dir", str(ck)), capture_output=True, text=True)
    assert res.returncode == 2 and "unreadable" in res.stderr and str(ck) in res.stderr
    state.write_bytes(sidecar)

    # intact again: the saved state is used as is and gives the reference frame
    equilibrate(cfg, T, 3, tmp_path / "eq2.h5", run=md_run(cfg), checkpoint_dir=ck)
    same_arrays(tmp_path / "eq2.h5", reference / "eq.h5")


def test_checkpoint_of_other_inputs_is_discarded_not_resumed(cfg, reference, tmp_path, caplog):
    """Restart segments left by a run with another T_high (or equilibrated frame) are never resumed."""
    other = copy.deepcopy(cfg)
    other["protocol"]["T_high"] = 4.0
    ck = tmp_path / "ck"
    equilibrate(other, T, 3, tmp_path / "other.h5", run=md_run(other, keep=True), checkpoint_dir=ck)
    with caplog.at_level("WARNING"):
        equilibrate(cfg, T, 3, tmp_path / "eq.h5", run=md_run(cfg), checkpoint_dir=ck)
    assert "belongs to other inputs" in caplog.text or "other inputs" in caplog.text
    same_arrays(tmp_path / "eq.h5", reference / "eq.h5")  # as if the stale segments had never existed
    # replicas: finished replica files of another equilibrated frame are not kept
    rk = tmp_path / "rk"
    run_replicas(cfg, T, 3, tmp_path / "other.h5", tmp_path / "rep_other.h5", checks=cfg["protocol"]["checks"],
                 run=md_run(cfg, keep=True), checkpoint_dir=rk)
    run_replicas(cfg, T, 3, reference / "eq.h5", tmp_path / "rep.h5", checks=cfg["protocol"]["checks"],
                 run=md_run(cfg), checkpoint_dir=rk)
    same_arrays(tmp_path / "rep.h5", reference / "rep.h5")


def test_restart_at_wrong_step_is_refused(cfg, tmp_path):
    eng = Engine(cfg)
    try:
        eng.create(random_positions(cfg, T, 0), particle_types(cfg))
        eng.minimize(cfg["protocol"]["minimize"])
        eng.command("fix integrate all nve")
        eng.run(50, pre=True)
        ck = Checkpoint(tmp_path / "ck", "fp")
        ck.save(eng, 0, CheckpointState(50, "test", Path()))
        with h5py.File(ck.state_path, "r+") as f:
            f.attrs["step"] = 40
        state = ck.load(max_step=100)
        with pytest.raises(CheckpointError, match="at step 50 but the checkpoint records step 40"):
            ck.verify_restart_step(state, eng.load(state.restart))
        assert ck.load(max_step=100) is not None
        other = Checkpoint(tmp_path / "ck", "other inputs")  # stale: discarded, not refused
        assert other.load(max_step=100) is None and not (tmp_path / "ck").exists()
    finally:
        eng.close()


# ----------------------------------------------------------------------------- inputs and checks
def test_corrupt_equilibrated_input_is_named(cfg, tmp_path):
    bad = tmp_path / "equilibrated.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(300))
    with pytest.raises(StorageError, match="equilibrated.h5") as e:
        run_replicas(cfg, T, 3, bad, tmp_path / "rep.h5", checks=cfg["protocol"]["checks"], run=md_run(cfg),
                     checkpoint_dir=tmp_path / "ck")
    assert str(bad) in str(e.value) and not (tmp_path / "rep.h5").exists()
    res = subprocess.run(cli(cfg, "replicas", "--c", "3", "--input", str(bad), "--output", str(tmp_path / "r.h5")),
                         capture_output=True, text=True)
    assert res.returncode == 2 and str(bad) in res.stderr


def test_physics_checks_fail_without_output_then_reuse_finished_replicas(cfg, reference, tmp_path):
    strict = copy.deepcopy(cfg)
    strict["protocol"]["checks"]["max_energy_drift"] = 1e-12
    ck, out = tmp_path / "ck", tmp_path / "rep.h5"
    with pytest.raises(MDCheckError, match="energy drift too large"):
        run_replicas(strict, T, 3, reference / "eq.h5", out, checks=strict["protocol"]["checks"], run=md_run(strict),
                     checkpoint_dir=ck)
    assert not out.exists() and len(list(ck.glob("r*.h5"))) == 3
    strict = copy.deepcopy(cfg)
    strict["protocol"]["checks"]["temperature_tolerance"] = 1e-6
    with pytest.raises(MDCheckError, match="mean kinetic temperature"):
        run_replicas(strict, T, 3, reference / "eq.h5", out, checks=strict["protocol"]["checks"], run=md_run(strict),
                     checkpoint_dir=ck)
    t0 = time.time()
    run_replicas(cfg, T, 3, reference / "eq.h5", out, checks=cfg["protocol"]["checks"], run=md_run(cfg),
                 checkpoint_dir=ck)  # finished replicas are reused
    assert time.time() - t0 < 5
    same_arrays(out, reference / "rep.h5")
    d = np.array([[-5.0, -5.0001, -5.0002]])
    assert energy_drift(d, 2.0) == pytest.approx([0.0002 / 5 / 2])


# ----------------------------------------------------------------------------- parallel
@pytest.mark.slow
def test_mpi_modes(cfg, reference, tmp_path):
    # two replica groups of one rank each: every replica runs exactly as in serial
    rg = tmp_path / "rg.h5"
    subprocess.run(cli(cfg, "replicas", "--c", "3", "--input", str(reference / "eq.h5"), "--output", str(rg),
                       "--replica-groups", "2", "--checkpoint-dir", str(tmp_path / "ck1"), mpi=2),
                   check=True, capture_output=True)
    same_arrays(rg, reference / "rep.h5")
    # one LAMMPS run on two ranks: a different force summation order, the same physics
    rm = tmp_path / "rm.h5"
    subprocess.run(cli(cfg, "replicas", "--c", "3", "--input", str(reference / "eq.h5"), "--output", str(rm),
                       "--checkpoint-dir", str(tmp_path / "ck2"), mpi=2), check=True, capture_output=True)
    b, _ = storage.read_h5(reference / "rep.h5")
    a, _ = storage.read_h5(rm)
    assert np.abs(a["positions"][:, 0] - b["positions"][:, 0]).max() < 1e-9
    assert np.array_equal(a["initial_velocities"], b["initial_velocities"])
    # OpenMP threads (package omp + suffix omp): same physics again
    ro = tmp_path / "ro.h5"
    subprocess.run(cli(cfg, "replicas", "--c", "3", "--input", str(reference / "eq.h5"), "--output", str(ro),
                       "--checkpoint-dir", str(tmp_path / "ck3"), "--omp-threads", "2"), check=True, capture_output=True)
    a, _ = storage.read_h5(ro)
    assert np.abs(a["positions"][:, 0] - b["positions"][:, 0]).max() < 1e-9
    # equilibration on two ranks: only rank 0 writes, the file is complete and at T
    short = copy.deepcopy(cfg)
    short["protocol"].update(t_high=0.5, t_cool=0.5, hold_tau_alpha=0.05)
    eq = tmp_path / "eq.h5"
    res = subprocess.run(cli(short, "equilibrate", "--c", "3", "--output", str(eq), "--mpi-ranks", "2", mpi=2),
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "WARNING" not in res.stderr
    d, attrs = storage.read_h5(eq)
    assert attrs["mpi_ranks"] == 2 and d["positions"].shape == (128, 3)
    assert d["thermo/temp"][-1] == pytest.approx(T, rel=0.3)


# ----------------------------------------------------------------------------- plain LAMMPS decks
def test_replica_deck_reproduces_the_workflow_replica(cfg, reference, tmp_path):
    deck = write_replica_deck(cfg, T, 3, 1, reference / "eq.h5", tmp_path)
    lmp = native.lammps()
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        lmp.file(str(deck))
    finally:
        os.chdir(cwd)
        lmp.close()
    r, _ = storage.read_h5(reference / "rep.h5")
    for k in range(len(TIMES)):
        rows = np.loadtxt(tmp_path / f"frame{k:03d}.txt", skiprows=9)
        assert np.array_equal(rows[:, 0], np.arange(1, 129))
        assert np.array_equal(rows[:, 1] - 1, r["types"])
        assert np.abs(rows[:, 2:5] - r["positions"][1, k]).max() < 1e-8


def _deck_errors(caplog, args: list[str]) -> tuple[int, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = glassdyn_cli.main(["md-deck", *args])
    return rc, [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_md_deck_refuses_to_label_a_deck_as_what_it_is_not(cfg, reference, tmp_path, caplog):
    """Configuration index < n, replica < R, a campaign temperature, and an input frame whose recorded
    (T, c) are the deck's: otherwise exit 2 with one line naming the value, and nothing written."""
    override = {"system": {"n_particles": 128}, "protocol": {k: cfg["protocol"][k] for k in (
        "t_high", "t_cool", "hold_tau_alpha", "thermo_every", "replicas")},
                "temperatures": cfg["temperatures"] + [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 0.5]}]}
    conf = tmp_path / "deck.yaml"
    conf.write_text(yaml.safe_dump(override))
    eq, out = str(reference / "eq.h5"), tmp_path / "out"
    common = ["--config", str(ROOT / "config" / "laptop.yaml"), "--config", str(conf), "--output-dir", str(out)]
    cases = {
        ("--T", "0.64", "--c", "6"): "configuration index 6 is outside this campaign's 0..5 (configurations.n = 6)",
        ("--T", "0.64", "--c", "3", "--replica", "3", "--input", eq):
            "replica 3 is outside this campaign's 0..2 (protocol.replicas = 3)",
        ("--T", "0.5", "--c", "3"): "config key 'temperatures': no temperature 0.5 in this campaign",
        ("--T", "1.0", "--c", "3", "--input", eq): f"{eq}: is the frame of T = 0.64, c = 3, not of T = 1.00, c = 3: "
                                                   "pass the matching equilibrated.h5 (results/md/T<T>/c<cccc>/)",
        ("--T", "0.64", "--c", "2", "--input", eq): f"{eq}: is the frame of T = 0.64, c = 3, not of T = 0.64, c = 2: "
                                                    "pass the matching equilibrated.h5 (results/md/T<T>/c<cccc>/)",
    }
    for args, line in cases.items():
        assert _deck_errors(caplog, [*args, *common]) == (2, [line]), args
        assert not out.exists(), args
    assert _deck_errors(caplog, ["--T", "0.64", "--c", "3", "--replica", "2", "--input", eq, *common]) == (0, [])
    assert sorted(p.name for p in out.iterdir()) == ["in.replica", "replica.data"]


def test_segmented_thermostat_run_follows_one_continuous_run(cfg, tmp_path):
    """Segments restore the Nosé–Hoover state: the segmented equilibration tracks the
    plain deck (one LAMMPS run per stage) to round-off, through a ramp cut mid-way."""
    short = copy.deepcopy(cfg)
    short["protocol"].update(t_high=0.3, t_cool=0.25, hold_tau_alpha=0.01)
    short["protocol"]["segment_walltime"] = 100 * 128 / short["protocol"]["atom_steps_per_second"]
    equilibrate(short, T, 5, tmp_path / "eq.h5", run=md_run(short), checkpoint_dir=tmp_path / "ck")
    deck = write_input_deck(short, T, 5, tmp_path / "deck")
    text = deck.read_text()
    assert "pair_style lj/smooth/linear 2.5" in text and "minimize 1e-06 1e-08 10000 100000" in text
    assert "unfix thermostat_high\nfix thermostat_cool all nvt temp 5.0 0.64 0.1\nrun 250 start 300 stop 550" in text
    lmp = native.lammps()
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path / "deck")
        lmp.file(str(deck))
    finally:
        os.chdir(cwd)
        lmp.close()
    text = (tmp_path / "deck" / "equilibrated.data").read_text().split("Atoms # atomic")[1].split("Velocities")[0]
    rows = np.array([r.split() for r in text.strip().splitlines()], dtype=float)
    rows = rows[np.argsort(rows[:, 0])]
    d, _ = storage.read_h5(tmp_path / "eq.h5")
    box = d["box"]
    lmp_unwrapped = rows[:, 2:5] + rows[:, 5:8] * box
    ours = d["positions"] + d["image"] * box
    assert np.abs(lmp_unwrapped - ours).max() < 1e-7
