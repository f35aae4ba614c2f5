"""Scheduler requests and rank launchers (glassdyn.cluster) and the profiles that use them."""
from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from glassdyn import config as gcfg
from glassdyn.campaign.failures import failed_jobs, failure_summary
from glassdyn.campaign.launchers import in_slurm, mpi_launcher, training_launcher
from glassdyn.campaign.resources import (
    PROCESS_BYTES,
    label_pairs,
    labels_memory_mb,
    md_attempts,
    md_ranks,
    md_retries,
    md_runtime,
    md_seconds,
    md_steps,
    training_memory_mb,
    training_resources,
)

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- launchers
def test_mpi_launcher_uses_srun_pmi2_under_slurm_and_mpiexec_elsewhere():
    assert mpi_launcher(1, 4, slurm=True) == ""
    assert mpi_launcher(1, 4, slurm=False) == ""
    on = mpi_launcher(4, 2, slurm=True)
    # the PyPI MPICH speaks PMI-2, not SLURM's default PMIx; counts are explicit (jobstep strips SLURM_*)
    assert "srun --mpi=pmi2" in on and re.search(r"-n 4 -c 2\b", on) and on.startswith("OMP_NUM_THREADS=2 ")
    off = mpi_launcher(4, 2, slurm=False, mpiexec="/env/bin/mpiexec")
    assert off == "OMP_NUM_THREADS=2 /env/bin/mpiexec -n 4"


def test_training_launcher_srun_only_for_several_ranks_under_slurm():
    assert training_launcher(2, 3, 0, slurm=False) == "OMP_NUM_THREADS=3"
    assert training_launcher(1, 3, 1, slurm=True) == "OMP_NUM_THREADS=3"
    cpu = training_launcher(4, 3, 0, slurm=True)
    assert re.search(r"srun .*-n 4 -c 3$", cpu) and "--gpus" not in cpu
    gpu = training_launcher(4, 3, 1, slurm=True)
    assert gpu.endswith("--gpus-per-task=1") and "-n 4" in gpu


def test_in_slurm_from_job_environment_or_executor():
    assert in_slurm({"SLURM_JOB_ID": "17"})
    assert in_slurm({}, executor="slurm")
    assert not in_slurm({}, executor="local")
    assert not in_slurm({"SLURM_JOB_ID": ""}, executor=None)


# --------------------------------------------------------------------------- sizes
def test_md_runtime_follows_the_atom_steps_and_ranks(cfg):
    cfg["cluster"]["max_runtime"] = 10**6
    one = md_seconds(cfg, "0.64", "equilibrate")
    steps = md_steps(cfg, "0.64", "equilibrate")
    assert one == pytest.approx(4096 * steps / cfg["protocol"]["atom_steps_per_second"])
    cfg["parallel"]["mpi_ranks"] = 4
    assert md_seconds(cfg, "0.64", "equilibrate") == pytest.approx(one / 4)
    # replica groups multiply the ranks of the replicas job only
    cfg["parallel"]["replica_groups"] = 2
    assert md_ranks(cfg, "replicas") == 8 and md_ranks(cfg, "equilibrate") == 4
    rt = md_runtime(cfg, "0.64", "equilibrate")
    assert rt == pytest.approx(cfg["cluster"]["runtime_margin"] * one / 4 / 60, abs=1)


def test_md_runtime_is_clamped_and_long_runs_get_continuation_retries(cfg):
    c = cfg["cluster"]
    c["max_runtime"], c["min_runtime"], c["retries"] = 600, 10, 2
    # T = 0.44 replicas on one rank: thousands of hours, far above 10 h per job
    assert md_runtime(cfg, "0.44", "replicas") == 600
    need = md_attempts(cfg, "0.44", "replicas")
    expect = c["runtime_margin"] * md_seconds(cfg, "0.44", "replicas") / (600 * 60 - cfg["protocol"]["segment_walltime"])
    assert need == pytest.approx(expect, abs=1) and need > 100
    assert md_retries(cfg) == need - 1 + 2
    small = gcfg.load(ROOT / "config.yaml", ROOT / "config" / "laptop.yaml")
    assert md_runtime(small, "1.00", "equilibrate") == small["cluster"]["min_runtime"]
    assert md_retries(small) == small["cluster"]["retries"]


def test_label_memory_grows_with_system_replicas_and_attempt(cfg):
    base = labels_memory_mb(cfg, "0.44")
    assert labels_memory_mb(cfg, "0.44", attempt=2) == 2 * base
    more = copy.deepcopy(cfg)
    more["system"]["n_particles"] *= 4
    more["protocol"]["replicas"] *= 2
    # positions and pair work ∝ R·N grow 8x, the label arrays ∝ N 4x, on top of one process
    margin, proc = cfg["cluster"]["memory_margin"], PROCESS_BYTES / 1e6
    data, data4 = base / margin - proc, labels_memory_mb(more, "0.44") / margin - proc
    assert 4 * data < data4 <= 8 * data + 1
    # E = N ρ 4/3 π r³ ordered pairs within the widest radius (graph.cutoff = 2.0 here)
    assert label_pairs(cfg) == pytest.approx(4096 * 1.2 * 4 / 3 * 3.14159 * 2.0**3, rel=0.01)


def test_training_resources_cpu_and_gpu(cfg):
    cfg["training"]["ranks"] = 1
    assert training_resources(cfg) == {"tasks": 1, "cpus_per_task": cfg["cluster"]["train_cpus_per_rank"]}
    cfg["training"]["ranks"] = 4
    cfg["cluster"]["train_gpus_per_rank"] = 1
    res = training_resources(cfg)
    assert res["mpi"] == "srun" and res["tasks"] == 4 and res["gpu"] == 4 and res["tasks_per_gpu"] == 1
    assert "cpus_per_task" not in res and res["cpus_per_gpu"] == cfg["cluster"]["train_cpus_per_rank"]
    assert training_memory_mb(cfg, attempt=2) == 2 * training_memory_mb(cfg)


def test_cluster_section_cross_checks(cfg):
    bad = copy.deepcopy(cfg)
    bad["cluster"]["max_runtime"] = 1  # one minute cannot hold two 3600 s restart segments
    with pytest.raises(gcfg.ConfigError, match="cluster.max_runtime"):
        gcfg.validate(bad)
    bad = copy.deepcopy(cfg)
    bad["cluster"]["min_runtime"] = bad["cluster"]["max_runtime"] + 1
    with pytest.raises(gcfg.ConfigError, match="cluster.min_runtime"):
        gcfg.validate(bad)
    bad = copy.deepcopy(cfg)
    bad["cluster"]["train_gpus_per_rank"] = 2
    with pytest.raises(gcfg.ConfigError, match="cluster.train_gpus_per_rank"):
        gcfg.validate(bad)


# --------------------------------------------------------------------------- profiles and rules
def test_slurm_profile_settings_exist_in_the_installed_plugin():
    prof = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    from snakemake_executor_plugin_slurm import ExecutorSettings

    fields = set(ExecutorSettings.__dataclass_fields__)
    for key in prof:
        if key.startswith("slurm-"):
            assert key[len("slurm-"):].replace("-", "_") in fields, key
    assert prof["executor"] == "slurm" and prof["slurm-status-command"] == "squeue"
    assert {"slurm_partition", "slurm_account"} <= set(prof["default-resources"])
    # the workflow profile is loaded on top of --profile: it must not pick an executor or resources
    default = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert not {"executor", "default-resources", "set-resources", "jobs", "cores"} & set(default)


def test_rules_request_ranks_gpus_and_launchers_from_the_config(tmp_path):
    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump({
        "parallel": {"mpi_ranks": 2, "omp_threads": 1},
        "training": {"ranks": 2},
        "cluster": {"train_gpus_per_rank": 1},
    }))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--profile", str(ROOT / "profiles" / "slurm"),
         "--configfile", str(ROOT / "config.yaml"), str(ROOT / "config" / "laptop.yaml"), str(over),
         "-d", str(tmp_path), "-s", str(ROOT / "Snakefile"), "results/summary/T1.00.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    out = res.stdout + res.stderr
    blocks = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if m:
            blocks.setdefault(m.group(1), block)
    eq = blocks["equilibrate"]
    assert "mpi=srun" in eq and "tasks=2" in eq and "cpus_per_task=1" in eq and "slurm_partition=debug" in eq
    assert re.search(r"runtime=\d+", eq)
    tr = blocks["train"]
    assert "gpu=2" in tr and "tasks_per_gpu=1" in tr and "tasks=2" in tr and "mpi=srun" in tr
    lab = blocks["labels"]
    assert "mpi=" not in lab and re.search(r"mem_mb=\d+", lab)


# --------------------------------------------------------------------------- failure summary
_RUN_LOG = """\
Job 7 has been submitted with SLURM jobid 45 (log: /w/.snakemake/slurm_logs/rule_labels/1.00_0001/45.log).
[Sat Nov 21 13:55:15 2026]
Error in rule equilibrate:
    message: SLURM-job '42' failed, SLURM status is: 'CANCELLED'. Detailed failure reason unavailable.
    jobid: 6
    output: results/md/T1.00/c0000/equilibrated.h5
    log: results/logs/equilibrate/T1.00_c0000.log, /w/.snakemake/slurm_logs/rule_equilibrate/1.00_0000/42.log (check log file(s) for error details)
    external_jobid: 42
Trying to restart job 6.
Error in rule labels:
    message: SLURM-job '45' failed, SLURM status is: 'FAILED'. Detailed failure reason unavailable.
    jobid: 7
    input: results/md/T1.00/c0001/replicas.h5
    output: results/labels/T1.00/c0001.h5
    log: {rule_log}, /w/.snakemake/slurm_logs/rule_labels/1.00_0001/45.log (check log file(s) for error details)
    shell:
        python -m glassdyn labels --input results/md/T1.00/c0001/replicas.h5
        (command exited with non-zero exit code)
    external_jobid: 45
Logfile /w/.snakemake/slurm_logs/rule_labels/1.00_0001/45.log:
================================================================================
Error in rule labels:
    message: None
    jobid: 0
    output: results/labels/T1.00/c0001.h5
    log: {rule_log} (check log file(s) for error details)
================================================================================
Trying to restart job 7.
[Sat Nov 21 13:55:48 2026]
Finished jobid: 6 (Rule: equilibrate)
Error in rule labels:
    message: SLURM-job '47' failed, SLURM status is: 'FAILED'. Detailed failure reason unavailable.
    jobid: 7
    output: results/labels/T1.00/c0001.h5
    log: {rule_log}, /w/.snakemake/slurm_logs/rule_labels/1.00_0001/47.log (check log file(s) for error details)
    external_jobid: 47
Exiting because a job execution failed. Look above for error messages
"""


def test_failure_summary_names_what_failed_for_good_its_cause_and_logs(tmp_path):
    rule_log = tmp_path / "labels.log"
    rule_log.write_text("2026-11-21 INFO glassdyn: start\n"
                        "2026-11-21 ERROR glassdyn: results/md/T1.00/c0001/replicas.h5: not a readable HDF5 file\n")
    text = _RUN_LOG.format(rule_log=rule_log)
    (job,) = failed_jobs(text)  # equilibrate failed once, then finished: not listed
    assert job["rule"] == "labels" and job["output"] == "results/labels/T1.00/c0001.h5"
    assert job["attempts"] == 2  # the echoed SLURM log's inner block is not an attempt
    assert job["logs"] == [str(rule_log), "/w/.snakemake/slurm_logs/rule_labels/1.00_0001/47.log"]
    summary = failure_summary(text)
    assert "1 job(s) failed" in summary and "SLURM status is: 'FAILED'" in summary
    assert "cause: 2026-11-21 ERROR glassdyn: results/md/T1.00/c0001/replicas.h5: not a readable HDF5 file" in summary
    assert failure_summary("Finished jobid: 1 (Rule: labels)\n") == ""
