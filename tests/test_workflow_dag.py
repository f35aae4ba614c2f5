"""The Snakemake DAG: the paper campaign builds, bad configs stop before any job."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(SNAKEMAKE + ["-n", "--quiet", "rules", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def job_counts(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def test_paper_campaign_dag_builds_in_seconds():
    t0 = time.perf_counter()
    res = dry_run()
    elapsed = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout + res.stderr)
    assert counts["equilibrate"] == 1500
    assert counts["replicas"] == 1500
    assert counts["labels"] == 1500
    # one train/evaluate job per model x T x sampling time (10 + 10 + 9 times)
    assert counts["train"] == 2 * 29
    assert counts["evaluate"] == counts["train"]
    assert counts["dynamics"] == 3
    assert elapsed < 120


def test_out_of_range_value_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("protocol:\n  replicas: 1\n")
    res = dry_run("--configfile", str(bad))
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "protocol.replicas" in text
    assert "equilibrate" not in job_counts(text)


def test_one_temperature_target_runs_that_temperature_alone():
    res = subprocess.run(SNAKEMAKE + ["results/summary/T0.64.csv", "-n", "--quiet", "rules", "--configfile", "config/laptop.yaml"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr
    counts = job_counts(text)
    assert counts["equilibrate"] == 6
    assert "T1.00" not in text.replace("results/summary/T0.64.csv", "")
