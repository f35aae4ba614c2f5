"""The benchmarks run, CI-sized, and print and write what they promise (timings are not asserted).

Each benchmark is run as a user runs it (``python benchmarks/<name>.py``)
at a small N; the test checks the exit status, that every row of the table
was measured (no error rows), and the JSON fields the closing notes and
``glassdyn plan`` read. The full-size runs are by hand (docs in each file).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glassdyn.io import storage

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(name: str, *args: str, timeout: int = 600) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=timeout)
    assert res.returncode == 0, f"{name} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def test_bench_labels_smoke(tmp_path):
    out = run_benchmark("bench_labels.py", "--n", "300", "--replicas", "4", "--times", "3", "--repeat", "1",
                        "--json", str(tmp_path / "labels.json"))
    assert "labels_from_positions (whole configuration)" in out and "labels rule" in out
    (row,) = json.loads((tmp_path / "labels.json").read_text())
    assert (row["N"], row["R"], row["n_t"]) == (300, 4, 3) and row["E"] > 300
    assert row["wall_seconds"] > 0 and row["rule_wall_seconds"] > 0 and row["peak_MiB"] > 0
    assert {"propensity S", "non-affine D2min", "relative motion R"} <= set(row["kernels"])
    # what was timed is the campaign's workload: ~40.6 graph edges per particle at ρ = 1.2, r_e = 2.0
    assert 36 < row["E"] / row["N"] < 45
    assert row["wall_seconds_per_time"] == pytest.approx(row["wall_seconds"] / row["n_t"])


def test_bench_training_smoke(tmp_path):
    out = run_benchmark("bench_training.py", "--n", "512", "--max-n", "512", "--repeat", "1", "--threads", "1",
                        "--ntgnn-graphs", "2", "--data-graphs", "2", "--json", str(tmp_path / "train.json"))
    res = json.loads((tmp_path / "train.json").read_text())
    rows = res["rows"]
    assert [r for r in rows if "error" in r] == []
    assert {r["case"] for r in rows} == {"step_botan", "step_plain", "step_ntgnn", "inference", "load", "epoch_data"}
    assert all(r["wall_min_s"] > 0 and r["peak_MiB"] > 0 for r in rows)
    assert {"botan_step_s", "speedup_vs_plain_cpu", "inference_s"} <= set(res["summary"])
    assert "BOTAN step at N=512" in out
    # the summary is made of the rows it names, and the rows are graphs of the campaign's kind
    by = {r["case"]: r for r in rows}
    s = res["summary"]
    assert s["botan_step_s"] == by["step_botan"]["wall_min_s"] and s["inference_s"] == by["inference"]["wall_min_s"]
    assert s["speedup_vs_plain_cpu"] == pytest.approx(by["step_plain"]["cpu_s"] / by["step_botan"]["cpu_s"])
    assert by["step_ntgnn"]["graphs"] == 2 and by["step_ntgnn"]["N"] == 2 * 512
    assert all(36 < r["E"] / r["N"] < 45 for r in rows if "E" in r)


def test_bench_training_bf16_smoke(tmp_path):
    run_benchmark("bench_training.py", "--n", "512", "--max-n", "512", "--repeat", "1", "--threads", "1",
                  "--precision", "bf16", "--no-baseline", "--ntgnn-graphs", "1", "--data-graphs", "1",
                  "--json", str(tmp_path / "train.json"))
    rows = json.loads((tmp_path / "train.json").read_text())["rows"]
    assert [r for r in rows if "error" in r] == []
    assert {r["precision"] for r in rows if r["case"].startswith("step")} == {"bf16"}


@pytest.mark.slow
def test_bench_md_smoke(tmp_path):
    out = run_benchmark("bench_md.py", "--n", "256", "--steps", "200", "--modes", "serial",
                        "--json", str(tmp_path / "md.json"), "--workdir", str(tmp_path / "work"))
    assert "serial" in out
    res = json.loads((tmp_path / "md.json").read_text())
    by = {r["mode"]: r for r in res["rows"]}
    # the timed run is the one reported: 2 replicas of 200 NVE steps at N = 256, rates from its wall time
    rep, _ = storage.read_h5(tmp_path / "work" / "serial" / "replicas.h5", ["steps", "positions"])
    assert rep["positions"].shape[:1] + rep["positions"].shape[2:3] == (res["replicas"], 256)
    assert rep["steps"][-1] == 200
    assert by["serial"]["atom_steps_per_s"] == pytest.approx(res["replicas"] * 200 * 256 / by["serial"]["wall_s"])
    lmp = by["plain lmp (1 replica)"]
    assert lmp["atom_steps_per_s"] == pytest.approx(200 * 256 / lmp["wall_s"])
    assert res["overhead"]["cpu"] == pytest.approx(by["serial"]["cpu_s"] / res["replicas"] / lmp["cpu_s"] - 1)


def test_bench_ogn_smoke(tmp_path):
    out = run_benchmark("bench_ogn.py", "--max-n", "265", "--steps", "5", "--json", str(tmp_path / "ogn.json"))
    res = json.loads((tmp_path / "ogn.json").read_text())
    assert res["rows"] and "265" in out
    # every engine advanced the same 5 MD steps of 265 particles; rates and speed-ups follow from the times
    lammps = next(r for r in res["rows"] if r["engine"] == "lammps")
    for r in res["rows"]:
        assert r["N"] == 265 and r["atom_steps_per_s"] == pytest.approx(265 * 5 / r["wall_s"])
        assert r["speedup_vs_lammps"] == pytest.approx(lammps["wall_s"] / r["wall_s"])
        assert r["s_per_tau"] == pytest.approx(r["wall_s"] / (5 * res["timestep"]))
