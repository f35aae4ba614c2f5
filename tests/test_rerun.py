"""Rerunning one temperature reproduces its files and leaves the other temperatures alone.

The documented command (README) is
``snakemake results/summary/T{T}.csv --forcerun results/md/T{T}/c*/equilibrated.h5``;
here it runs with ``--omit-from labels`` to stay tiny (MD only, 2 temperatures
x 3 configurations of 100 particles, one MPI rank).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _config() -> dict:
    over = {
        "results": "results",
        "system": {"n_particles": 100},
        "protocol": {"t_high": 0.5, "t_cool": 0.5, "hold_tau_alpha": 0.5, "replicas": 2, "thermo_every": 100,
                     "checks": {"max_energy_drift": 1.0e-3, "temperature_tolerance": 0.5}},
        "parallel": {"mpi_ranks": 1, "omp_threads": 1},
        "temperatures": [{"T": 1.0, "tau_alpha": 1.0, "times": [0.1, 0.5]},
                         {"T": 2.0, "tau_alpha": 0.5, "times": [0.1, 0.5]}],
        "configurations": {"n": 3, "n_train": 2},
        "models": {"enabled": ["ntgnn"]},
        "training": {"validation_fraction": 0.5},
    }
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    if "ogn" in base:  # OGN (not enabled here) continues campaign configurations; its box checks need N >= 300
        over["ogn"] = {"sources": [s for s in base["ogn"]["sources"] if s != "campaign"]}
    return over


def _snakemake(work: Path, *args: str) -> None:
    # targets first: --configfile, --omit-from and --forcerun take the words up to the next option
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2", "-s", str(ROOT / "Snakefile"),
           "--omit-from", "labels", "--configfile", str(ROOT / "config.yaml"), "test.yaml"]
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]


def _state(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*.h5"))}


def test_rerun_of_one_temperature_reproduces_its_files_and_touches_no_other(tmp_path):
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(_config()))
    _snakemake(tmp_path, "results/summary/T1.00.csv", "results/summary/T2.00.csv")
    md = tmp_path / "results" / "md"
    first = {T: _state(md / f"T{T}") for T in ("1.00", "2.00")}
    assert all(len(s) == 6 for s in first.values()), first  # equilibrated + replicas of 3 configurations

    forced = sorted(str(p.relative_to(tmp_path)) for p in md.glob("T1.00/c*/equilibrated.h5"))
    _snakemake(tmp_path, "results/summary/T1.00.csv", "--forcerun", *forced)
    again = {T: _state(md / f"T{T}") for T in ("1.00", "2.00")}

    assert again["2.00"] == first["2.00"]  # same bytes and the same modification times: not touched
    for name, (digest, mtime) in first["1.00"].items():
        new_digest, new_mtime = again["1.00"][name]
        assert new_mtime > mtime, f"T1.00/{name} was not rerun"
        assert new_digest == digest, f"T1.00/{name} differs after the rerun (seeds must fix every MD file)"
