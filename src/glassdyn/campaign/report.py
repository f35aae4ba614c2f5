"""Campaign tables and figures from the evaluation and dynamics files.

Inputs are whatever exists: any set of ``eval/{model}/T{T}/t{k}.csv`` (one
row per test configuration, columns ``model, T, time_index, time,
tau_alpha, c, pearson_nodes, pearson_edges``; every model family writes this
layout, so a new family appears without changes here) and any set of
``physics/T{T}/dynamics.csv`` (with ``dynamics.json`` beside it). Outputs in
``output_dir``:

- ``cells.csv``: one row per (model, T, time_index): time, t/τα, n_test and
  mean / sample standard deviation over test configurations of the Pearson
  correlations on nodes (A particles) and edges (A–A pairs, r < 1.35), then
  the label judged, the pooled Pearson and the label ceiling
  (:mod:`glassdyn.campaign.references`); ``baseline-*`` and ``published-*`` rows are
  eval CSVs like any model's;
- ``pearson_vs_time.png``: Pearson vs t/τα (log x), one row of panels per
  label, one panel per T, one colour and marker per model, nodes solid and
  edges dashed (BOTAN Fig. 8), the ceiling as a band;
- ``fs.png``: F_s^A(k, t) vs t/τα, one colour per T;
- ``summary.md``: the cells table, τα per T and the MD checks.
"""
from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as cfgmod
from glassdyn.campaign import references
from glassdyn.campaign.status import overview_markdown
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.tables import CELL_COLUMNS, DYNAMICS_COLUMNS, EVAL_COLUMNS

log = logging.getLogger(__name__)

def _read_csv(path: str | Path, columns: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise storage.StorageError(path, "file does not exist; rerun the rule that makes it")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise storage.StorageError(path, f"not a readable CSV ({exc})") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise storage.StorageError(path, f"missing column(s) {missing}")
    return df


def read_evaluations(paths) -> pd.DataFrame:
    """All evaluation rows, with ``T`` as the canonical temperature key text."""
    frames = []
    for p in paths:
        df = _read_csv(p, EVAL_COLUMNS)
        df["pearson_edges"] = pd.to_numeric(df["pearson_edges"], errors="coerce")
        frames.append(references.complete_score_columns(df))
    if not frames:
        return references.complete_score_columns(pd.DataFrame(columns=EVAL_COLUMNS))
    df = pd.concat(frames, ignore_index=True)
    df["T"] = [cfgmod.temperature_key(float(t)) for t in df["T"]]
    return df


def cell_table(evaluations: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, T, time_index): means and sample standard deviations over test configurations."""
    if evaluations.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    rows = []
    for (model, T, k), g in evaluations.groupby(["model", "T", "time_index"], sort=True):
        time, tau = float(g["time"].iloc[0]), float(g["tau_alpha"].iloc[0])
        nodes, edges = g["pearson_nodes"].astype(float), g["pearson_edges"].astype(float)
        rows.append({
            "model": model, "T": T, "time_index": int(k), "time": time,
            "t_over_tau": time / tau if tau > 0 else float("nan"), "n_test": int(len(g)),
            "pearson_nodes_mean": nodes.mean(), "pearson_nodes_std": nodes.std(ddof=1),
            "pearson_edges_mean": edges.mean(), "pearson_edges_std": edges.std(ddof=1),
            **references.pooled_and_ceiling(g),
        })
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


def read_dynamics(paths) -> list[dict]:
    """Each dynamics.csv with its dynamics.json (T, τα, MD checks) when present."""
    out = []
    for p in paths:
        p = Path(p)
        table = _read_csv(p, DYNAMICS_COLUMNS)
        js = p.with_suffix(".json")
        info: dict = {}
        if js.exists():
            try:
                info = json.loads(js.read_text())
            except ValueError as exc:
                raise storage.StorageError(js, f"not valid JSON ({exc})") from exc
        if "T" not in info:
            m = re.search(r"T(\d+(?:\.\d+)?)", p.parent.name)
            if not m:
                raise storage.StorageError(p, "no dynamics.json beside it and no T in its folder name")
            info["T"] = float(m.group(1))
        out.append({"path": str(p), "T": cfgmod.temperature_key(float(info["T"])), "table": table, "info": info})
    return sorted(out, key=lambda d: float(d["T"]))


def _models(cfg: dict, evaluations: pd.DataFrame) -> list[str]:
    enabled = list(cfg["models"]["enabled"])
    present = sorted(set(evaluations["model"])) if not evaluations.empty else []
    return [m for m in enabled if m in present] + [m for m in present if m not in enabled]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with storage.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def plot_pearson(cells: pd.DataFrame, models: list[str], path: Path) -> Path:
    """Pearson correlation vs t/τα (log x): one row of panels per label judged, one panel per T, nodes solid,
    edges dashed, the label ceiling as a band, baselines and published models as thin lines
    (:func:`glassdyn.campaign.references.plot_pearson`)."""
    return references.plot_pearson(_plt(), cells, models, path, _save)


def plot_fs(dynamics: list[dict], path: Path) -> Path:
    """F_s^A(k, t) vs t/τα (τα of the configuration), one colour per T."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    plotted = False
    for d in dynamics:
        tab = d["table"]
        if tab.empty:
            continue
        ax.errorbar(tab["t_over_tau"], tab["fs"], yerr=tab["fs_err"].fillna(0), marker="o", ms=4, capsize=2,
                    label=f"T = {d['T']}")
        plotted = True
    ax.axhline(1 / math.e, color="0.6", ls=":", lw=0.8)
    if plotted:
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no F_s data", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(r"$t/\tau_\alpha$")
    ax.set_ylabel(r"$F_s^A(k, t)$")
    _save(fig, path)
    plt.close(fig)
    return path


def _fmt(x, digits=4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{digits}g}"


def _md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) if not isinstance(v, str) else v for v in r) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(cells: pd.DataFrame, dynamics: list[dict]) -> str:
    """A short markdown page: the cells, τα per temperature and the MD checks."""
    parts = ["# glassdyn campaign summary", "", "## Prediction accuracy (Pearson, test configurations)", ""]
    if cells.empty:
        parts.append("No evaluations yet.")
    else:
        parts += ["Nodes: A particles; edges: A–A pairs. *mean* = mean over test configurations of the "
                  "per-configuration Pearson (pcc_mean), *pooled* = Pearson over all test particles (pcc_all). "
                  + references.SUMMARY_NOTE, ""]
        parts.append(_md_table(
            ["model", "label", "T", "k", "t", "t/τα", "n_test", "nodes mean", "± std", "pooled", "ceiling",
             "edges mean", "± std", "pooled", "ceiling"],
            [[r.model, r.target, r.T, int(r.time_index), r.time, r.t_over_tau, int(r.n_test), r.pearson_nodes_mean,
              r.pearson_nodes_std, r.pooled_pearson_nodes, r.ceiling_nodes, r.pearson_edges_mean,
              r.pearson_edges_std, r.pooled_pearson_edges, r.ceiling_edges] for r in cells.itertuples()]))
    parts += ["", "## Relaxation time τα (F_s^A at k = 2π)", ""]
    if not dynamics:
        parts.append("No dynamics yet.")
    else:
        rows = []
        for d in dynamics:
            i = d["info"]
            fit = i.get("fit") or {}
            note = "; ".join(x for x in (i.get("tau_alpha_1e_reason"), fit.get("reason")) if x)
            rows.append([d["T"], i.get("tau_alpha_config"), i.get("tau_alpha_1e"), i.get("tau_alpha_1e_err"),
                         i.get("tau_alpha_fit"), i.get("tau_alpha_fit_err"), fit.get("beta"),
                         i.get("n_configurations"), i.get("n_replicas"), note])
        parts.append(_md_table(["T", "τα config", "τα 1/e", "±", "τα fit", "±", "β", "configs", "replicas",
                                "notes"], rows))
        parts += ["", "## MD checks (NVE replicas)", ""]
        rows = []
        for d in dynamics:
            mc = d["info"].get("md_checks") or {}
            if not mc.get("available"):
                rows.append([d["T"], None, None, None, None, None, mc.get("reason", "not available")])
                continue
            ed, t0 = mc["energy_drift"], mc["temperature0"]
            ok = "pass" if ed.get("ok") is not False and t0.get("ok") is not False else "FAIL"
            rows.append([d["T"], mc["n_replicas"], ed["max"], ed.get("limit"), t0["mean"],
                         t0["relative_deviation"], ok])
        parts.append(_md_table(["T", "replicas", "max drift / t", "limit", "mean T(0)", "rel. dev.", "status"],
                               rows))
    return "\n".join(parts) + "\n"


#: What the report reads: the temperatures (τα, sampling times), which models are enabled and which
#: times they learn (the overview lists what is missing).
READS = reads("temperatures", "models.enabled", "training.time_indices")


def make_report(cfg: dict, evaluation_csvs, dynamics_csvs, output_dir) -> dict[str, Path]:
    """Rules ``report`` and ``temperature``: write cells.csv, the figures and summary.md."""
    cfg = config_slice(cfg, READS)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    evaluations = read_evaluations(list(evaluation_csvs or []))
    cells = cell_table(evaluations)
    dynamics = read_dynamics(list(dynamics_csvs or []))
    paths = {
        "cells": storage.write_csv(out / "cells.csv", cells),
        "pearson": plot_pearson(cells, _models(cfg, evaluations), out / "pearson_vs_time.png"),
        "fs": plot_fs(dynamics, out / "fs.png"),
    }
    with storage.atomic_path(out / "summary.md") as tmp:
        title, _, body = summary_markdown(cells, dynamics).partition("\n")
        tmp.write_text(f"{title}\n\n{overview_markdown(cfg, cells, dynamics, paths['pearson'].name)}{body.lstrip()}")
    paths["summary"] = out / "summary.md"
    log.info("report: %d cells from %d evaluation files, %d temperatures of dynamics -> %s",
             len(cells), len(list(evaluation_csvs or [])), len(dynamics), out)
    return paths
