"""`glassdyn plan`: job counts and costs against a hand count, the real DAG and measured figures."""
from __future__ import annotations

import copy
import json

import gnn_helpers as gh
import pytest
import yaml

from glassdyn import cli
from glassdyn import config as gcfg
from glassdyn.campaign import plan as P
from glassdyn.io import storage


@pytest.fixture
def small(laptop_config) -> dict:
    """Two temperatures, six configurations, N = 256, R = 4: small enough to count by hand."""
    cfg = copy.deepcopy(laptop_config)
    cfg["system"]["n_particles"] = 256
    cfg["protocol"].update(t_high=10.0, t_cool=20.0, hold_tau_alpha=3.0, replicas=4, thermo_every=200,
                           atom_steps_per_second=2.0e6)
    cfg["temperatures"] = [{"T": 0.64, "tau_alpha": 16.5, "times": [0.1, 1.65, 16.5]},
                           {"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 0.5, 2.0]}]
    cfg["configurations"] = {"n": 6, "n_train": 4}
    cfg["training"].update(validation_fraction=0.25, time_indices="all", device="auto", ranks=1)
    cfg["models"]["enabled"] = ["ntgnn", "botan"]
    cfg["models"]["ntgnn"]["epochs"] = 30
    cfg["models"]["botan"]["epochs"] = 30
    cfg["models"]["botan"]["pretrain"] = {"T": 0.64, "time_index": 1, "epochs": 20}
    return gcfg.validate(cfg)


def by_name(fams):
    return {f.name: f for f in fams}


def test_totals_match_a_hand_count(small):
    fams, fig = P.campaign_plan(small)
    f = by_name(fams)
    jobs = {k: v.jobs for k, v in f.items()}
    assert jobs == {"equilibrate": 12, "replicas": 12, "labels": 12, "dynamics": 2, "pretrain": 1, "train": 12,
                    "evaluate": 12, "baselines": 6, "report": 1}
    # baselines: one job per (T, time), 1.6 core-s per configuration at N = 4096, ∝ N
    assert f["baselines"].hours == pytest.approx(6 * 6 * 1.6 * 256 / 4096 / 3600)
    # MD: N · steps / rate. Equilibration steps (10 + 20 + 3 τα)/dt: 79,500 at T = 0.64, 33,000 at T = 1.
    assert f["equilibrate"].hours == pytest.approx(6 * 256 * (79_500 + 33_000) / 2e6 / 3600)
    assert f["equilibrate"].by_temperature["0.64"] == pytest.approx(6 * 256 * 79_500 / 2e6 / 3600)
    # replicas: R = 4 runs to the last sampling step, 16,500 and 2,000 steps
    assert f["replicas"].hours == pytest.approx(6 * 256 * 4 * (16_500 + 2_000) / 2e6 / 3600)
    # labels: 0.012 s per replica and time at N = 4096, ∝ N
    assert f["labels"].hours == pytest.approx(12 * 0.012 * 4 * 3 * (256 / 4096) / 3600)
    # training: 0.018 GPU-s per graph-epoch at N = 4096; 3 fit graphs + 1 validation graph at half cost
    per_cell = 0.018 * 256 / 4096 * 30 * (3 + 0.5 * 1)
    assert f["train"].resource == "gpu" and f["train"].hours == pytest.approx(12 * per_cell / 3600)
    assert f["pretrain"].hours == pytest.approx(0.018 * 256 / 4096 * 20 * 3.5 / 3600)
    assert f["evaluate"].hours == pytest.approx(12 * 2 * 0.5 * 0.018 * 256 / 4096 / 3600)
    # storage of replicas.h5: positions (R, n_t, N, 3) f8, initial velocities, final frame, thermo records
    # (step 0, multiples of 200 and the sampling steps: 86 at T = 0.64, 13 at T = 1)
    per_config = [4 * 3 * 256 * 24 + 4 * 256 * 24 + 256 * 25 + n_th * (8 + 4 * 8 * 4) for n_th in (86, 13)]
    assert f["replicas"].storage_gb == pytest.approx(6 * sum(per_config) / 1e9)
    text = P.format_plan(fams, fig, small)
    core = sum(v.hours for v in fams if v.resource == "core")
    assert f"**{P._h(core)} core-h, {P._h(f['train'].hours + f['pretrain'].hours + f['evaluate'].hours)} GPU-h**" in text


def test_counts_match_the_snakemake_dag(small):
    fams, _ = P.campaign_plan(small)
    counts = P.dag_job_counts(cfg=small)
    assert P.compare_with_dag(fams, counts) == []
    assert {k: v for k, v in counts.items() if k != "all"} == {f.name: f.jobs for f in fams}


def test_a_family_the_plan_does_not_price_is_listed(small):
    fams, _ = P.campaign_plan(small)
    counts = {f.name: f.jobs for f in fams} | {"tglassmlp_train": 3}
    counts["train"] += 1
    problems = P.compare_with_dag(fams, counts)
    assert problems == ["train: plan counts 12 jobs, the DAG 13"]
    assert by_name(fams)["tglassmlp_train"].hours is None
    assert "Not priced (no cost model yet): tglassmlp_train" in P.format_plan(fams, P.figures(small), small)


def test_paper_campaign_replicas_cost_what_science_md_says(paper_config):
    fams, _ = P.campaign_plan(paper_config)
    f = by_name(fams)
    # N = 4096, 32 replicas x 1.3e8 steps at 2e6 atom-steps/s: ≈ 2,400 core-hours per configuration at T = 0.44
    assert f["replicas"].by_temperature["0.44"] / 500 == pytest.approx(4096 * 32 * 130_000_000 / 2e6 / 3600)
    assert 1.0e6 < sum(x.hours for x in fams if x.resource == "core") < 1.5e6
    assert f["train"].hours / f["train"].jobs == pytest.approx(0.018 * 1000 * (360 + 0.5 * 40) / 3600)


def test_import_source_has_no_md(small, tmp_path):
    cfg = copy.deepcopy(small)
    cfg["source"] = {"kind": "botan", "path": str(tmp_path)}
    f = by_name(P.campaign_plan(gcfg.validate(cfg))[0])
    assert "equilibrate" not in f and f["import_labels"].jobs == 12
    cfg["source"]["kind"] = "glassbench"
    cfg["models"]["enabled"] = ["ntgnn"]
    f = by_name(P.campaign_plan(gcfg.validate(cfg))[0])
    assert f["import_labels"].storage_gb < P.labels_bytes(cfg, "0.64", 4) * 12 / 1e9


def test_labels_size_estimate_against_a_real_file(tmp_path):
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    (path,) = gh.write_labels(cfg, tmp_path, [0], replicas=3)
    est = P.labels_bytes(cfg, "0.64", 3)
    assert est == pytest.approx(path.stat().st_size, rel=0.15)


def test_benchmark_figures_replace_the_defaults(small, tmp_path):
    rows = [{"data": "x", "N": 4096, "R": 32, "n_t": 10, "seconds_per_time": 0.64, "peak_MiB": 120.0}]
    (tmp_path / "labels.json").write_text(json.dumps(rows))
    (tmp_path / "train.json").write_text(json.dumps({"plan": {"train_gpu_seconds_per_graph_epoch": 0.036},
                                                     "atom_steps_per_second": 1.0e6}))
    fams, fig = P.campaign_plan(small, [tmp_path / "labels.json", tmp_path / "train.json"])
    assert fig["labels_core_seconds_per_replica_time"] == pytest.approx(0.02)
    assert fig["sources"]["atom_steps_per_second"].startswith("measured")
    base = by_name(P.campaign_plan(small)[0])
    f = by_name(fams)
    assert f["replicas"].hours == pytest.approx(2 * base["replicas"].hours)
    assert f["train"].hours == pytest.approx(2 * base["train"].hours)
    md = {"n": 4096, "rows": [{"mode": "mpi2", "ranks": 2, "omp_threads": 1, "atom_steps_per_s": 3.0e6},
                              {"mode": "serial", "ranks": 1, "omp_threads": 1, "atom_steps_per_s": 1.6e6},
                              {"mode": "omp2", "ranks": 1, "omp_threads": 2, "atom_steps_per_s": 2.0e6}]}
    (tmp_path / "md.json").write_text(json.dumps(md))
    assert P.benchmark_figures(tmp_path / "md.json") == {"atom_steps_per_second": 1.6e6}
    (tmp_path / "bad.json").write_text(json.dumps({"something": 1}))
    with pytest.raises(ValueError, match="no throughput figure recognised"):
        P.campaign_plan(small, [tmp_path / "bad.json"])


def test_profile_warnings(small, tmp_path):
    prof = tmp_path / "prof"
    prof.mkdir()
    (prof / "config.yaml").write_text(yaml.safe_dump({
        "default-resources": ["slurm_partition=cpu", "mem_mb=100"],
        "set-resources": {"train": {"mem_mb": 100000, "gpu": 1, "runtime": 60}}}))
    fams, _ = P.campaign_plan(small)
    warnings = P.attach_profile(fams, P.profile_resources(prof))
    assert any(w.startswith("equilibrate: estimated") and "mem_mb=100" in w for w in warnings)
    assert any(w.startswith("pretrain: planned on a GPU") for w in warnings)
    assert not any(w.startswith("train:") for w in warnings)
    assert by_name(fams)["train"].profile == {"slurm_partition": "cpu", "mem_mb": 100000, "gpu": 1, "runtime": 60}


def test_cli(small, tmp_path, capsys):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump(small))
    rc = cli.main(["plan", "--config", str(cfg_file), "--json", str(tmp_path / "plan.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert out.startswith("| job family | jobs |") and "| equilibrate | 12 | core-h |" in out
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["totals"]["jobs"] == 70           # 64 + 6 baselines jobs
    storage.write_json(tmp_path / "x.json", {})
