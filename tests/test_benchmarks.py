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
                        "--json", str(tmp_path / "md.json"))
    assert "serial" in out
    assert json.loads((tmp_path / "md.json").read_text())


def test_bench_ogn_smoke(tmp_path):
    out = run_benchmark("bench_ogn.py", "--max-n", "265", "--steps", "5", "--json", str(tmp_path / "ogn.json"))
    rows = json.loads((tmp_path / "ogn.json").read_text())
    assert rows and "265" in out
