"""A tiny campaign through a live SLURM with ``snakemake --profile profiles/slurm``.

Needs a cluster that answers ``sinfo`` (CI brings one up with
``scripts/slurm-up.sh``: one node, two fake GPUs); skipped otherwise.

Phase 1 runs one temperature end to end (the ``results/summary/T{T}.csv``
target): MD with ``parallel.mpi_ranks: 2`` (LAMMPS on 2 MPI ranks through
``srun --mpi=pmi2``), labels, dynamics, DDP training on 2 ranks with a GPU
each (gloo on the CPU build of torch), evaluation and the summary. Phase 2
reruns configuration 0's equilibration while SLURM cancels its first job
mid-run — the retry must resume from the checkpoint and reproduce phase 1's
file bit for bit — and, in the same run, a label job that cannot succeed (its input was
truncated) must be retried per the profile and then reported with its logs.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from glassdyn import config as gcfg
from glassdyn.campaign.resources import labels_memory_mb, md_memory_mb, md_runtime, training_memory_mb
from glassdyn.io import storage

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm"
T = "1.00"
N_CONF = 3

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _slurm_unavailable() -> str | None:
    """Why no SLURM can be used here (None when a partition answers with a usable node)."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM is not installed (sinfo/sbatch not found); bring one up with `sudo scripts/slurm-up.sh`"
    try:
        res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 15 s (slurmctld not running?); see scripts/slurm-up.sh"
    states = res.stdout.split()
    if res.returncode != 0 or not any(s.rstrip("*~#") in ("idle", "mixed", "allocated") for s in states):
        return f"no usable SLURM node (sinfo: {res.stdout.strip() or res.stderr.strip()!r}); see scripts/slurm-up.sh"
    return None


_REASON = _slurm_unavailable()
if _REASON and os.environ.get("GLASSDYN_REQUIRE_SLURM") == "1":
    # CI brought SLURM up and exports this: a cluster that went missing is a failure, not a skip
    raise RuntimeError(f"GLASSDYN_REQUIRE_SLURM=1 but {_REASON}")
if _REASON:
    pytestmark.append(pytest.mark.skip(reason=_REASON))


def test_config() -> dict:
    """The override of config.yaml for the test campaign (tiny: N = 150, 3 configurations, 1 epoch)."""
    over = {
        "results": "results",
        "system": {"n_particles": 150},
        "protocol": {"t_high": 1.0, "t_cool": 1.0, "hold_tau_alpha": 1.0, "replicas": 2, "thermo_every": 100,
                     # 400-step restart segments: the 3000-step equilibration writes 7 checkpoints
                     "segment_walltime": 0.03,
                     "checks": {"max_energy_drift": 1.0e-3, "temperature_tolerance": 0.5}},
        "parallel": {"mpi_ranks": 2, "omp_threads": 1},
        "temperatures": [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 0.5]}],
        "configurations": {"n": N_CONF, "n_train": 2},
        "models": {"enabled": ["ntgnn"], "ntgnn": {"p": 1.0, "epochs": 1, "graphs_per_step": 1, "lr": 1.0e-3}},
        "training": {"ranks": 2, "validation_fraction": 0.5, "time_indices": [1]},
        "cluster": {"min_runtime": 5, "retries": 1, "memory_margin": 1.0, "min_memory_mb": 500,
                    "train_gpus_per_rank": 1, "train_cpus_per_rank": 1},
    }
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    if "ogn" in base:  # OGN (not enabled here) continues campaign configurations; its box checks need N >= 300
        over["ogn"] = {"sources": [s for s in base["ogn"]["sources"] if s != "campaign"]}
    return over


test_config.__test__ = False  # a helper, not a test


# --------------------------------------------------------------------------- running snakemake
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def _rule_of(slurm_log: str) -> tuple[str, str]:
    """(rule, wildcards) from the plugin's log path .snakemake/slurm_logs/rule_<rule>/<wildcards>/<id>.log."""
    m = re.search(r"slurm_logs/rule_(\w+?)/(?:(\S+)/)?\d+\.log$", slurm_log)
    return (m.group(1), m.group(2) or "") if m else ("?", "")


class Run:
    """One ``snakemake --profile profiles/slurm`` invocation and the SLURM jobs it submitted."""

    def __init__(self, workdir: Path, targets: list[str], extra: list[str] = (), on_submit=None,
                 timeout: float = 540):
        cmd = [sys.executable, "-m", "snakemake", "--profile", str(PROFILE), "-s", str(ROOT / "Snakefile"),
               "--configfile", str(ROOT / "config.yaml"), "test.yaml",
               "--slurm-init-seconds-before-status-checks", "2", *targets, *extra]  # --forcerun takes the rest
        self.cmd, self.jobs, self.lines = cmd, [], []
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGINT))  # snakemake scancels its jobs
        timer.start()
        try:
            for line in proc.stdout:
                self.lines.append(line)
                m = SUBMITTED.search(line)
                if m:
                    rule, wc = _rule_of(m.group(3))
                    job = {"rule": rule, "wildcards": wc, "jobid": m.group(2), "log": m.group(3)}
                    self.jobs.append(job)
                    if on_submit:
                        on_submit(job)
            self.returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        self.seconds = time.monotonic() - t0
        self.timed_out = self.seconds >= timeout

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def of(self, rule: str, wildcards: str | None = None) -> list[dict]:
        return [j for j in self.jobs if j["rule"] == rule and (wildcards is None or j["wildcards"] == wildcards)]


def scontrol(jobid: str) -> dict:
    """``scontrol show job`` as a dict (finished jobs stay visible for MinJobAge = 600 s)."""
    res = subprocess.run(["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, f"scontrol show job {jobid}: {res.stderr}"
    return dict(kv.split("=", 1) for kv in res.stdout.split() if "=" in kv)


def _job_table(run: Run) -> list[dict]:
    rows = []
    for j in run.jobs:
        info = scontrol(j["jobid"])
        rows.append({**j, "state": info.get("JobState"), "tasks": info.get("NumTasks"), "cpus": info.get("NumCPUs"),
                     "tres": info.get("TRES"), "gres": info.get("TresPerJob", ""), "time_limit": info.get("TimeLimit"),
                     "run_time": info.get("RunTime"), "partition": info.get("Partition"),
                     "mem": info.get("MinMemoryNode")})
    return rows


def _print_table(title: str, run: Run, rows: list[dict]) -> None:
    print(f"\n{title}: {len(rows)} SLURM jobs, {run.seconds:.0f} s, exit {run.returncode}")
    for r in rows:
        print(f"  {r['jobid']:>6} {r['rule']:<12} {r['wildcards']:<14} {r['state']:<10} tasks={r['tasks']} "
              f"cpus={r['cpus']} mem={r['mem']} limit={r['time_limit']} ran={r['run_time']} {r['gres']}")


def _hms(minutes: int) -> str:
    """SLURM's TimeLimit text of a limit under one day."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cancel_leftovers(run: Run) -> None:
    """scancel jobs of ``run`` that are still queued or running (by id; only after a failed test)."""
    for j in run.jobs:
        res = subprocess.run(["squeue", "-h", "-j", j["jobid"], "-o", "%T"], capture_output=True, text=True)
        if res.stdout.strip() in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
            subprocess.run(["scancel", j["jobid"]], capture_output=True)


# --------------------------------------------------------------------------- phase 1: the campaign
@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm_campaign")
    (work / "test.yaml").write_text(yaml.safe_dump(test_config(), sort_keys=False))
    cfg = gcfg.load(ROOT / "config.yaml", work / "test.yaml")
    run = Run(work, [f"results/summary/T{T}.csv"])
    try:
        assert run.returncode == 0 and not run.timed_out, (
            f"the SLURM campaign failed (exit {run.returncode}, {run.seconds:.0f} s):\n" + run.output[-6000:])
        rows = _job_table(run)
    finally:
        _cancel_leftovers(run)
    _print_table("phase 1 (campaign)", run, rows)
    (work / "jobs-phase1.json").write_text(json.dumps({"seconds": run.seconds, "jobs": rows}, indent=1))
    return {"work": work, "cfg": cfg, "run": run, "rows": {r["jobid"]: r for r in rows}}


def test_every_rule_ran_as_a_completed_slurm_job(campaign):
    run, rows, work = campaign["run"], campaign["rows"], campaign["work"]
    counts = {}
    for j in run.jobs:
        counts[j["rule"]] = counts.get(j["rule"], 0) + 1
    assert counts == {"equilibrate": N_CONF, "replicas": N_CONF, "labels": N_CONF, "dynamics": 1, "train": 1,
                      "evaluate": 1, "baselines": 1, "temperature": 1}, counts
    for j in run.jobs:
        info = rows[j["jobid"]]
        assert info["state"] == "COMPLETED" and info["partition"] == "debug", info
        log = Path(j["log"])
        assert log.exists(), f"no SLURM log {log}"  # slurm-keep-successful-logs
        assert f"rule {j['rule']}:" in log.read_text(), log
    assert (work / "results" / "summary" / f"T{T}.csv").exists()


def test_md_jobs_ran_lammps_on_two_mpi_ranks_through_srun(campaign):
    run, rows, work, cfg = campaign["run"], campaign["rows"], campaign["work"], campaign["cfg"]
    for j in run.of("equilibrate") + run.of("replicas"):
        info = rows[j["jobid"]]
        assert info["tasks"] == "2", info
        # the time limit and memory follow the configuration (glassdyn.cluster)
        assert info["time_limit"] == _hms(md_runtime(cfg, T, j["rule"])), info
        assert info["mem"] == f"{md_memory_mb(cfg, T, j['rule'])}M", info
        assert "srun --mpi=pmi2" in Path(j["log"]).read_text()
    for c in range(N_CONF):
        _, attrs = storage.read_h5(work / "results" / "md" / f"T{T}" / f"c{c:04d}" / "equilibrated.h5", [])
        assert attrs["mpi_ranks"] == 2, attrs  # the size of LAMMPS' MPI_COMM_WORLD
        rep_log = (work / "results" / "logs" / "replicas" / f"T{T}_c{c:04d}.log").read_text()
        assert "1 group(s) of 2 rank(s)" in rep_log, rep_log[-2000:]


def test_training_ran_two_ddp_ranks_each_with_a_gpu(campaign):
    run, rows, work, cfg = campaign["run"], campaign["rows"], campaign["work"], campaign["cfg"]
    (job,) = run.of("train")
    info = rows[job["jobid"]]
    assert info["tasks"] == "2" and info["gres"] == "gres:gpu:2", info  # the two fake GPUs of the test node
    assert info["mem"] == f"{training_memory_mb(cfg)}M", info
    assert "--gpus-per-task=1" in Path(job["log"]).read_text()
    cell = work / "results" / "train" / "ntgnn" / f"T{T}" / "t1"
    assert json.loads((cell / "metrics.json").read_text())["ranks"] == 2
    log = (work / "results" / "logs" / "train" / f"ntgnn_T{T}_t1.log").read_text()
    assert re.search(r"^0: .*x 2 rank\(s\)", log, re.M), log[-2000:]  # srun --label: rank 0's line
    assert "on this machine" not in log  # joined srun's ranks instead of spawning its own


def test_label_jobs_ask_for_their_estimated_memory(campaign):
    run, rows, cfg = campaign["run"], campaign["rows"], campaign["cfg"]
    for j in run.of("labels"):
        info = rows[j["jobid"]]
        assert info["mem"] == f"{labels_memory_mb(cfg, T, 1)}M" and info["tasks"] == "1", info


# --------------------------------------------------------------------------- phase 2: kill, retry, failure
@pytest.fixture(scope="module")
def rerun(campaign):
    work = campaign["work"]
    md0 = work / "results" / "md" / f"T{T}" / "c0000"
    before = {"equilibrated.h5": _sha256(md0 / "equilibrated.h5")}
    # a label job that cannot succeed: its input is truncated
    rep1 = work / "results" / "md" / f"T{T}" / "c0001" / "replicas.h5"
    rep1.write_bytes(rep1.read_bytes()[: rep1.stat().st_size // 2])
    ckdir = md0 / "checkpoints" / "equilibrate"
    cancelled = {}

    def cancel_mid_run(job):
        if job["rule"] != "equilibrate" or cancelled:
            return

        def watch():
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                steps = [int(m.group(1)) for p in ckdir.glob("step-*.restart")
                         if (m := re.match(r"step-(\d+)\.restart$", p.name))]
                if any(s > 0 for s in steps):
                    subprocess.run(["scancel", job["jobid"]], check=True)
                    cancelled.update(job, step=max(steps))
                    return
                time.sleep(0.02)

        threading.Thread(target=watch, daemon=True).start()

    run = Run(work, [str(md0.relative_to(work) / "equilibrated.h5"), f"results/labels/T{T}/c0001.h5"],
              extra=["--forcerun", str(md0.relative_to(work) / "equilibrated.h5"), f"results/labels/T{T}/c0001.h5"],
              on_submit=cancel_mid_run)
    try:
        rows = _job_table(run)
    finally:
        _cancel_leftovers(run)
    _print_table("phase 2 (cancel + retry, failing job)", run, rows)
    (work / "jobs-phase2.json").write_text(json.dumps({"seconds": run.seconds, "jobs": rows}, indent=1))
    after = {name: _sha256(md0 / name) for name in before if (md0 / name).exists()}
    return {"run": run, "rows": {r["jobid"]: r for r in rows}, "before": before, "after": after,
            "cancelled": cancelled, "work": work}


def test_cancelled_md_job_is_retried_and_resumes_from_its_checkpoint(rerun):
    run, rows = rerun["run"], rerun["rows"]
    assert rerun["cancelled"], "the equilibrate job finished before a checkpoint appeared; nothing was cancelled"
    jobs = run.of("equilibrate", f"{T}_0000")
    assert len(jobs) == 2, run.output[-4000:]
    assert rows[jobs[0]["jobid"]]["state"] == "CANCELLED" and rows[jobs[1]["jobid"]]["state"] == "COMPLETED"
    log = (rerun["work"] / "results" / "logs" / "equilibrate" / f"T{T}_c0000.log").read_text()
    assert re.search(r"resuming from \S+step-\d+\.restart at step [1-9]\d*", log), log[-3000:]


def test_rerun_reproduces_the_md_file_bit_for_bit(rerun):
    assert rerun["after"] == rerun["before"]


def test_failing_job_is_retried_then_reported_with_its_logs(rerun):
    run, rows = rerun["run"], rerun["rows"]
    assert run.returncode != 0
    attempts = run.of("labels", f"{T}_0001")
    retries = yaml.safe_load((PROFILE / "config.yaml").read_text())["retries"]
    assert len(attempts) == 1 + retries and all(rows[j["jobid"]]["state"] == "FAILED" for j in attempts)
    # the run ends with a summary (onerror in common.smk): the job, its cause, its rule and SLURM logs
    summary = run.output[run.output.index("glassdyn: 1 job(s) failed"):]
    assert f"rule labels -> results/labels/T{T}/c0001.h5 ({1 + retries} failed attempt(s))" in summary
    assert re.search(r"cause: .*replicas\.h5: not a readable HDF5 file", summary), summary
    assert f"log: results/logs/labels/T{T}_c0001.log" in summary
    assert f"log: {attempts[-1]['log']}" in summary
    assert "equilibrate" not in summary  # cancelled, retried and finished: not a failure
