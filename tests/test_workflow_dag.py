"""The Snakemake DAG: the paper campaign builds, bad configs stop before any job, a stale lock names --unlock."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`snakemake -n` in ``cwd`` (the checkout's Snakefile unless ``-s`` is given)."""
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
    assert counts["baselines"] == 29          # one per (T, sampling time), every baseline at once
    assert elapsed < 120


def test_out_of_range_value_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("protocol:\n  replicas: 1\n")
    res = dry_run("--configfile", str(bad))
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "protocol.replicas" in text
    assert "equilibrate" not in job_counts(text)


def test_one_temperature_target_runs_that_temperature_alone(tmp_path):
    """From another directory, with the Snakefile by path: config.yaml is found beside the Snakefile and the
    override is merged over it; the target goes before --configfile (which takes the words up to the next option)."""
    res = subprocess.run(SNAKEMAKE + ["-s", str(ROOT / "Snakefile"), "results/summary/T0.64.csv", "-n", "--quiet",
                                      "rules", "--configfile", str(ROOT / "config" / "laptop.yaml")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr
    counts = job_counts(text)
    assert counts["equilibrate"] == 6
    assert "T1.00" not in text.replace("results/summary/T0.64.csv", "")


def test_misspelled_top_level_key_stops_the_run_with_the_nearest_key(tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("protcol: {replicas: 4}\n")
    res = dry_run("-s", str(ROOT / "Snakefile"), "--configfile", str(typo), cwd=tmp_path)
    text = res.stdout + res.stderr
    assert res.returncode != 0 and "Nothing to be done" not in text
    assert ("invalid configuration (override files are merged over config.yaml): "
            "config key 'protcol': unknown key (did you mean 'protocol'?)") in text


def test_malformed_yaml_is_located_by_snakemake_verbose(tmp_path):
    """Snakemake reads --configfile before the workflow runs, and its one-line error names no file
    (README: run `glassdyn validate-config FILE`, or add --verbose): pinned so the README stays true."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("protocol:\n  replicas: [4\n")
    res = dry_run("--verbose", "--configfile", str(bad))
    text = res.stdout + res.stderr
    assert res.returncode != 0 and "Config file is not valid JSON or YAML" in text
    assert f'in "{bad}", line 3, column 1' in text


def test_after_a_hard_kill_the_rerun_names_unlock(tmp_path):
    """A run killed with SIGKILL leaves Snakemake's lock: the rerun stops before any job and says to run
    `snakemake --unlock` (README, "Interrupted runs"), which clears it."""
    cmd = SNAKEMAKE + ["-s", str(ROOT / "Snakefile"), "results/md/T0.64/c0000/equilibrated.h5", "--cores", "1",
                       "--configfile", str(ROOT / "config" / "laptop.yaml")]
    locks = tmp_path / ".snakemake" / "locks"
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        t0 = time.time()
        while not (locks.is_dir() and any(locks.iterdir())):
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.time() - t0 < 240, "no lock appeared"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    text = rerun.stdout + rerun.stderr
    assert rerun.returncode != 0 and "Directory cannot be locked" in text and "--unlock" in text
    assert "rule equilibrate" not in text  # stopped before any job
    unlock = subprocess.run(cmd + ["--unlock"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert unlock.returncode == 0 and "Unlocked working directory" in unlock.stdout + unlock.stderr
    assert not locks.exists() or not any(locks.iterdir())


def test_pretrain_from_a_weights_file_replaces_the_pretrain_rule(tmp_path):
    """models.botan.pretrain: PATH (a published model1.pth or a glassdyn model.pt): no pretrain job; every BOTAN
    train job reads that file (its content is checked by the train job; a missing file: test_published)."""
    weights = tmp_path / "model1.pth"
    weights.write_bytes(b"weights")
    override = tmp_path / "published.yaml"
    override.write_text(f"models:\n  botan:\n    pretrain: {weights}\n")
    res = subprocess.run(SNAKEMAKE + ["results/train/botan/T0.64/t1/model.pt", "-n", "-p", "--configfile",
                                      "config/laptop.yaml", str(override)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr
    assert f"--pretrained {weights}" in text
    assert "rule pretrain" not in text and "--pretrain " not in text
