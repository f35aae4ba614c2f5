"""Where a campaign stands: what exists under ``results/`` against what the configuration asks for.

:func:`campaign_status` looks at files only (every output is written
atomically, so a file that exists is complete) and at the restart segments of
running MD jobs, and reads the small progress files of training
(``loss.csv``, ``metrics.json``) and the evaluation CSVs:

- per temperature: configurations equilibrated, replicated (with the
  progress of running MD from its checkpoints) and labelled;
- per (model, T, time index) cell: pending, training (epochs done, last
  validation figures), trained (validation metrics) or evaluated (mean test
  Pearson on nodes and edges);
- per temperature: the dynamics summary (τα, MD checks) when it exists.

:func:`overview_markdown` is the one-page opening of the campaign report
(``report/summary.md``): the Pearson-vs-time figure, the physics checks and
what is missing.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.campaign import resources as cluster
from glassdyn.io import storage

log = logging.getLogger("glassdyn.status")

#: Published Pearson correlations at T = 0.44 (SCIENCE.md §7) shown beside the campaign's own.
ANCHORS_T044 = "BOTAN ≈ 0.95 at t = 0.13; at t = τα = 4120: BOTAN 0.75, GlassMLP 0.76, Bapst GNN ≈ 0.64"


def _conf(c: int) -> str:
    return f"c{int(c):04d}"


def _gnn_models(cfg: dict) -> list[str]:
    return [m for m in cfg["models"]["enabled"] if m in ("ntgnn", "botan")]


def expected_cells(cfg: dict) -> list[tuple[str, str, int]] | None:
    """(model, T, k) of every training cell the campaign makes (as workflow/rules/common.smk).

    None when ``cfg`` is a slice without ``models`` (the per-temperature report rule).
    """
    if "models" not in cfg:
        return None
    cfg = cfg if "training" in cfg else {**cfg, "training": {"time_indices": "all"}}
    return [(m, T, k) for T in gcfg.temperature_keys(cfg) for m in _gnn_models(cfg) for k in gcfg.time_indices(cfg, T)]


def _attrs(path: Path) -> dict:
    try:
        return storage.read_h5(path, [])[1]
    except (OSError, KeyError):
        return {}


def md_progress(cfg: dict, results: Path, T: str, c: int) -> dict:
    """Progress of the MD of one configuration: stage done or fraction of steps run (from checkpoints)."""

    folder = results / "md" / f"T{T}" / _conf(c)
    out = {"equilibrated": (folder / "equilibrated.h5").exists(), "replicated": (folder / "replicas.h5").exists()}
    ck = folder / "checkpoints"
    if not out["equilibrated"] and (ck / "equilibrate" / "state.h5").exists():
        step = _attrs(ck / "equilibrate" / "state.h5").get("step", 0)
        out["equilibrate_fraction"] = float(step) / max(1, cluster.md_steps(cfg, T, "equilibrate"))
    if out["equilibrated"] and not out["replicated"] and (ck / "replicas").exists():
        total = cluster.md_steps(cfg, T, "replicas")
        per = total / cfg["protocol"]["replicas"]
        done = len(list((ck / "replicas").glob("r*.h5"))) * per
        for st in (ck / "replicas").glob("r*/state.h5"):
            done += float(_attrs(st).get("step", 0))
        out["replicas_fraction"] = done / max(1, total)
    return out


def _read_eval(path: Path) -> dict:
    try:
        df = pd.read_csv(path)
        nodes = pd.to_numeric(df.get("pearson_nodes"), errors="coerce")
        edges = pd.to_numeric(df.get("pearson_edges"), errors="coerce")
        return {"pearson_nodes": float(nodes.mean()), "pearson_edges": float(edges.mean()) if edges.notna().any()
                else float("nan"), "n_test": int(len(df))}
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return {"error": f"{path}: unreadable ({exc})"}


def _pearson_items(d: dict) -> dict:
    """Entries of a metrics dict whose name mentions 'pearson' (numbers only, nested one level)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in _pearson_items(v).items()})
        elif "pearson" in str(k).lower() and isinstance(v, (int, float)):
            out[str(k)] = float(v)
    return out


def training_progress(folder: Path) -> dict:
    """What a training folder shows: epochs logged in loss.csv, its last row, metrics.json's Pearson values."""
    out: dict = {}
    loss = folder / "loss.csv"
    if loss.exists():
        try:
            df = pd.read_csv(loss)
            out["epochs_done"] = int(len(df))
            if len(df):
                last = df.iloc[-1].to_dict()
                out["last"] = {k: float(v) for k, v in last.items() if isinstance(v, (int, float, np.number))}
        except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
            out["loss_unreadable"] = True
    metrics = folder / "metrics.json"
    if metrics.exists():
        try:
            out["metrics"] = _pearson_items(json.loads(metrics.read_text()))
        except (OSError, ValueError):
            out["metrics_unreadable"] = True
    ck = folder / "checkpoint.pt"
    out["checkpoint"] = ck.exists()
    if ck.exists() and "epochs_done" not in out:
        out.update(_checkpoint_progress(ck))
    return out


def _checkpoint_progress(path: Path) -> dict:
    """Epochs done and the last validation figures of a running training, from its resume file.

    loss.csv and metrics.json are written when training ends; until then the
    per-epoch history lives in checkpoint.pt (glassdyn.training).
    """
    import torch

    try:
        # the campaign's own resume file (history holds numpy scalars, so not weights_only)
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a checkpoint being rewritten or truncated: report, do not fail
        return {"checkpoint_unreadable": str(exc)[:200]}
    history = ck.get("history") or []
    out = {"epochs_done": int(ck.get("epoch", len(history)))}
    if history:
        out["last"] = {k: float(v) for k, v in history[-1].items() if isinstance(v, (int, float, np.number))}
    best = ck.get("best") or {}
    out["metrics"] = {k: float(v) for k, v in best.items() if "pearson" in k and isinstance(v, (int, float, np.number))}
    total = (ck.get("settings") or {}).get("epochs")
    if total:
        out["epochs_total"] = int(total)
    return out


def cell_status(cfg: dict, results: Path, model: str, T: str, k: int) -> dict:
    """State of one cell: evaluated / trained / training / pending, with its Pearson figures."""
    folder = results / "train" / model / f"T{T}" / f"t{k}"
    ev = results / "eval" / model / f"T{T}" / f"t{k}.csv"
    row = {"model": model, "T": T, "time_index": k, "time": float(gcfg.temperature(cfg, T)["times"][k])}
    row.update(training_progress(folder) if folder.exists() else {})
    if ev.exists():
        row.update(state="evaluated", **_read_eval(ev))
    elif (folder / "model.pt").exists():
        row["state"] = "trained"
    elif folder.exists() and ("epochs_done" in row or row.get("checkpoint")):
        row["state"] = "training" + (f" ({row['epochs_done']}/{row['epochs_total']} epochs)"
                                     if "epochs_total" in row else "")
    else:
        row["state"] = "pending"
    return row


def campaign_status(cfg: dict, results: str | Path | None = None) -> dict:
    """Everything :mod:`glassdyn.status` reports, as a dict (JSON-able)."""
    results = Path(results or cfg["results"])
    source = (cfg.get("source") or {}).get("kind", "md")
    n = cfg["configurations"]["n"]
    temps = []
    for T in gcfg.temperature_keys(cfg):
        row = {"T": T, "configurations": n, "source": source,
               "labelled": sum((results / "labels" / f"T{T}" / f"{_conf(c)}.h5").exists() for c in range(n))}
        if source == "md":
            prog = [md_progress(cfg, results, T, c) for c in range(n)]
            row["equilibrated"] = sum(p["equilibrated"] for p in prog)
            row["replicated"] = sum(p["replicated"] for p in prog)
            row["equilibrating"] = [round(p["equilibrate_fraction"], 3) for p in prog if "equilibrate_fraction" in p]
            row["replicating"] = [round(p["replicas_fraction"], 3) for p in prog if "replicas_fraction" in p]
        dyn = results / "physics" / f"T{T}" / "dynamics.json"
        if dyn.exists():
            try:
                d = json.loads(dyn.read_text())
                mc = d.get("md_checks") or {}
                row["physics"] = {
                    "tau_alpha_config": d.get("tau_alpha_config"), "tau_alpha_1e": d.get("tau_alpha_1e"),
                    "tau_alpha_fit": d.get("tau_alpha_fit"),
                    "md_checks": None if not mc.get("available") else bool(
                        (mc.get("energy_drift") or {}).get("ok") is not False
                        and (mc.get("temperature0") or {}).get("ok") is not False)}
            except (OSError, ValueError):
                row["physics"] = {"error": f"{dyn}: unreadable"}
        temps.append(row)
    cells = [cell_status(cfg, results, *cell) for cell in expected_cells(cfg)]
    pre = []
    for m in _gnn_models(cfg):
        p = cfg["models"][m].get("pretrain")
        if p and p["epochs"] > 0:
            folder = results / "train" / m / "pretrain"
            st = training_progress(folder) if folder.exists() else {}
            st["state"] = "trained" if (folder / "model.pt").exists() else ("training" if st else "pending")
            pre.append({"model": m, **st})
    report = results / "report" / "summary.md"
    return {"results": str(results), "source": source, "temperatures": temps, "pretrain": pre, "cells": cells,
            "report": str(report) if report.exists() else None}


# --------------------------------------------------------------------------- text
def _f(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def format_status(st: dict) -> str:
    """The status as Markdown tables."""
    lines = [f"# campaign status: {st['results']} (labels from {st['source']})", "", "## Data", ""]
    md = st["source"] == "md"
    head = ["T", "configs"] + (["equilibrated", "replicated"] if md else []) + ["labelled", "τα (1/e)", "MD checks"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    running = []
    for t in st["temperatures"]:
        ph = t.get("physics") or {}
        checks = {True: "pass", False: "FAIL", None: "—"}[ph.get("md_checks")] if ph else "—"
        cells = [t["T"], str(t["configurations"])]
        if md:
            cells += [f"{t['equilibrated']}", f"{t['replicated']}"]
            for what in ("equilibrating", "replicating"):
                if t.get(what):
                    fr = t[what]
                    running.append(f"T = {t['T']}: {len(fr)} configuration(s) {what}, "
                                   f"{100 * min(fr):.0f}–{100 * max(fr):.0f}% of their steps done")
        cells += [str(t["labelled"]), _f(ph.get("tau_alpha_1e")), checks]
        lines.append("| " + " | ".join(cells) + " |")
    if running:
        lines += [""] + [f"- {r}" for r in running]
    lines += ["", "## Training cells", ""]
    for p in st["pretrain"]:
        lines.append(f"- pretrain {p['model']}: {p['state']}" + (f", {p['epochs_done']} epochs logged"
                                                                  if "epochs_done" in p else ""))
    lines += ["", "| model | T | k | t | state | epochs | Pearson nodes | Pearson edges | validation |",
              "|---|---|---|---|---|---|---|---|---|"]
    for c in st["cells"]:
        val = ", ".join(f"{k}={_f(v)}" for k, v in (c.get("metrics") or {}).items())
        if not val and c.get("last"):
            val = ", ".join(f"{k}={_f(v)}" for k, v in c["last"].items() if k != "epoch")
        lines.append(f"| {c['model']} | {c['T']} | {c['time_index']} | {c['time']:g} | {c['state']} | "
                     f"{c.get('epochs_done', '—')} | {_f(c.get('pearson_nodes'))} | {_f(c.get('pearson_edges'))} | "
                     f"{val} |")
    counts = pd.Series([c["state"] for c in st["cells"]]).value_counts().to_dict() if st["cells"] else {}
    lines += ["", "cells: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if counts else "no cells"]
    lines.append(f"report: {st['report'] or 'not yet written'}")
    return "\n".join(lines)


def overview_markdown(cfg: dict, cells: pd.DataFrame, dynamics: list[dict], figure: str = "pearson_vs_time.png") -> str:
    """One page opening the report: the figure, accuracy at τα, physics checks, what is missing.

    ``cells`` is :func:`glassdyn.report.cell_table`'s table, ``dynamics``
    :func:`glassdyn.report.read_dynamics`' list.
    """
    out = ["## At a glance", "", f"![Pearson correlation vs t/τα]({figure})", ""]
    if not cells.empty:
        out.append("Accuracy near τα (mean test Pearson on A particles, the cell closest to t = τα):")
        out.append("")
        for (model, T), g in cells.groupby(["model", "T"], sort=True):
            r = g.iloc[int(np.argmin(np.abs(np.log(g["t_over_tau"].astype(float).clip(lower=1e-12)))))]
            edges = f", edges {r.pearson_edges_mean:.3f}" if math.isfinite(float(r.pearson_edges_mean)) else ""
            out.append(f"- {model} at T = {T}, t = {r.time:g} (t/τα = {r.t_over_tau:.2g}): "
                       f"nodes {r.pearson_nodes_mean:.3f}{edges}")
        if "0.44" in set(cells["T"]):
            out.append(f"- published at T = 0.44: {ANCHORS_T044}")
        out.append("")
    out.append("Physics checks:")
    out.append("")
    for d in dynamics:
        i = d["info"]
        tau_c, tau = i.get("tau_alpha_config"), i.get("tau_alpha_1e")
        ratio = (f" ({tau / tau_c:.2f} × the configured {tau_c:g})"
                 if isinstance(tau, (int, float)) and isinstance(tau_c, (int, float)) and tau_c else "")
        mc = i.get("md_checks") or {}
        if mc.get("available"):
            ok = (mc["energy_drift"].get("ok") is not False) and (mc["temperature0"].get("ok") is not False)
            md = f"MD checks {'pass' if ok else 'FAIL'} (max drift {mc['energy_drift']['max']:.2g} per unit time)"
        else:
            md = f"MD checks: {mc.get('reason', 'not available')}"
        why = f" ({i['tau_alpha_1e_reason']})" if i.get("tau_alpha_1e_reason") and not ratio else ""
        out.append(f"- T = {d['T']}: τα(1/e) = {_f(tau)}{ratio}{why}; {md}")
    if not dynamics:
        out.append("- no dynamics yet")
    expected = expected_cells(cfg)
    have = {(r.model, r.T, int(r.time_index)) for r in cells.itertuples()} if not cells.empty else set()
    missing = [] if expected is None else [c for c in expected if c not in have]
    nan_cells = [] if cells.empty else [f"{r.model} T{r.T} t{r.time_index}" for r in cells.itertuples()
                                        if not math.isfinite(float(r.pearson_nodes_mean))
                                        and not math.isfinite(float(r.pearson_edges_mean))]
    missing_T = sorted(set(gcfg.temperature_keys(cfg)) - {d["T"] for d in dynamics}, key=float)
    out += ["", "Missing:", ""]
    if missing:
        shown = ", ".join(f"{m} T{T} t{k}" for m, T, k in missing[:12])
        out.append(f"- {len(missing)} of {len(expected)} cells not evaluated: {shown}"
                   + (" …" if len(missing) > 12 else ""))
    if nan_cells:
        out.append(f"- cells without a finite Pearson: {', '.join(nan_cells)}")
    if missing_T:
        out.append(f"- dynamics of T = {', '.join(missing_T)}")
    if expected is None:
        out.append("- (the models of the campaign are not known to this report: no list of missing cells)")
    elif not (missing or nan_cells or missing_T):
        out.append("- nothing: every cell and temperature of the configuration is in this report")
    return "\n".join(out) + "\n\n"


def status_cli(args, cfg: dict) -> None:
    st = campaign_status(cfg, args.results)
    print(format_status(st))
    if args.json:
        storage.write_json(args.json, st)
