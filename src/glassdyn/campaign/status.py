"""Where a campaign stands: what the files under ``results/`` record, against what the configuration asks for.

Every output is identified by what it records (:mod:`glassdyn.campaign.inventory`):
a trained cell by the T, time index and time of its ``model.pt`` (or of its
``checkpoint.pt`` while it trains), an evaluation by its CSV's columns, MD
and labels files by their ``T`` and ``c`` attributes. An unreadable or
truncated file is listed as a problem and never counted as done; a cell is
"evaluated" only when its model file and its evaluation both read and name
the same cell. Families: the graph networks (NT-GNN, BOTAN, with
pretraining), tGlassMLP (ensemble members and per-(T, t) evaluations) and
OGN (trainings, rollouts, summary).

With a configuration, what it still expects (:mod:`glassdyn.campaign.targets`)
is listed as pending and files it does not expect are marked; without one,
:func:`campaign_status` reports only what the files say.

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
from glassdyn.campaign import inventory, targets
from glassdyn.campaign import resources as cluster
from glassdyn.campaign.references import glance_lines, is_reference
from glassdyn.config.families import enabled
from glassdyn.io import storage

log = logging.getLogger("glassdyn.status")

#: Published Pearson correlations at T = 0.44 (SCIENCE.md §7) shown beside the campaign's own.
ANCHORS_T044 = "BOTAN ≈ 0.95 at t = 0.13; at t = τα = 4120: BOTAN 0.75, GlassMLP 0.76, Bapst GNN ≈ 0.64"


def _gnn_models(cfg: dict) -> list[str]:
    return enabled(cfg, "gnn")


def expected_cells(cfg: dict) -> list[tuple[str, str, int]] | None:
    """(model, T, k) of every graph-network training cell the campaign makes (the report's list of missing cells).

    None when ``cfg`` is a slice without ``models`` (the per-temperature report rule).
    """
    if "models" not in cfg:
        return None
    cfg = cfg if "training" in cfg else {**cfg, "training": {"time_indices": "all"}}
    return [(m, T, k) for T in gcfg.temperature_keys(cfg) for m in _gnn_models(cfg) for k in gcfg.time_indices(cfg, T)]


# =========================================================================== what the configuration expects
def _time(cfg: dict, T: str, k: int) -> float:
    return float(gcfg.temperature(cfg, T)["times"][k])


def _expected_gnn(cfg: dict) -> list[dict]:
    """Graph-network cells (and pretrainings) the configuration makes, as pending rows."""
    out = [{"model": m, "stage": "train", "T": T, "time_index": k, "time": _time(cfg, T, k),
            "path": f"train/{m}/T{T}/t{k}"}
           for T in gcfg.temperature_keys(cfg) for m, _, k in targets.gnn_cells(cfg, T)]
    for m in enabled(cfg, "gnn"):
        pre = targets.pretraining(cfg, m)
        if pre:
            T, k = gcfg.temperature_key(pre["T"]), int(pre["time_index"])
            out.append({"model": m, "stage": "pretrain", "T": T, "time_index": k, "time": _time(cfg, T, k),
                        "path": f"train/{m}/pretrain"})
    return out


def _expected_tglassmlp(cfg: dict) -> tuple[list[dict], list[dict]]:
    if not enabled(cfg, "tglassmlp"):
        return [], []
    members = [{"variant": v, "member": m, "path": f"train/tglassmlp/{v}/m{m}"}
               for v in targets.tglassmlp_variants(cfg) for m in range(int(cfg["tglassmlp"]["ensemble"]))]
    cells = [{"model": "tglassmlp", "stage": "train", "T": T, "time_index": k, "time": _time(cfg, T, k),
              "path": f"eval/tglassmlp/T{T}/t{k}.csv"} for T in gcfg.temperature_keys(cfg)
             for k in gcfg.time_indices(cfg, T)]
    return members, cells


def _expected_ogn(cfg: dict) -> list[dict]:
    if not enabled(cfg, "ogn"):
        return []
    return [{"variant": v, "source": s, "path": f"ogn/train/{v}/{s}"} for v, s in targets.ogn_runs(cfg)]


def _cell_key(row: dict) -> tuple:
    return row["model"], row["stage"], row["T"], row["time_index"]


def reconcile(found: list[dict], expected: list[dict] | None, key=_cell_key) -> list[dict]:
    """Found rows marked as configured or not; expected rows no file records appended as ``pending``.

    A cell matches when its key agrees and (for cells) its recorded sampling time is the configured one.
    """
    if expected is None:
        return found
    wanted = {key(e): e for e in expected}
    matched = set()
    for row in found:
        e = wanted.get(key(row))
        if e is None:
            note = "not in the configuration"
        elif "time" in e and row.get("time") is not None and not inventory.same_time(row["time"], e["time"]):
            note = f"the configuration's t at this index is {e['time']:g}"
        else:
            matched.add(key(row))
            row.setdefault("note", "")
            continue
        row["note"] = "; ".join(n for n in (row.get("note"), note) if n)
    return found + [{**e, "state": "pending", "problems": [], "note": ""} for k, e in wanted.items()
                    if k not in matched]


# =========================================================================== per temperature
def _physics(results: Path) -> dict[str, dict]:
    """Per recorded T: τα and the MD checks of dynamics.json (or the reason it cannot be read)."""
    out = {}
    for path in sorted(results.glob("physics/T*/dynamics.json")):
        T = path.parent.name[1:]
        try:
            d = json.loads(path.read_text())
            T = gcfg.temperature_key(float(d.get("T", T)))
            mc = d.get("md_checks") or {}
            out[T] = {"tau_alpha_config": d.get("tau_alpha_config"), "tau_alpha_1e": d.get("tau_alpha_1e"),
                      "tau_alpha_fit": d.get("tau_alpha_fit"),
                      "md_checks": None if not mc.get("available") else bool(
                          (mc.get("energy_drift") or {}).get("ok") is not False
                          and (mc.get("temperature0") or {}).get("ok") is not False)}
        except (OSError, ValueError) as exc:
            out[T] = {"error": f"{path}: unreadable ({exc})"}
    return out


def _running_fraction(cfg: dict | None, job: dict) -> float | None:
    """Fraction of an MD job's steps done (its configuration gives the total), None without one."""
    if cfg is None or job["T"] not in gcfg.temperature_keys(cfg):
        return None
    total = cluster.md_steps(cfg, job["T"], job["stage"])
    done = job["steps"]
    if job["stage"] == "replicas":
        done += job["replicas_done"] * total / int(cfg["protocol"]["replicas"])
    return round(float(done) / max(1, total), 3)


def temperature_rows(cfg: dict | None, results: Path) -> tuple[list[dict], list[str]]:
    """Per temperature (the configured ones, and any the files record): configurations done at each stage."""
    found, problems = inventory.data_files(results)
    physics = _physics(results)
    temps = gcfg.temperature_keys(cfg) if cfg else []
    temps += sorted((set(found) | set(physics)) - set(temps), key=float)
    running = inventory.md_running(results)
    rows = []
    for T in temps:
        have = found.get(T, {"equilibrated": set(), "replicated": set(), "labelled": set()})
        n = cfg["configurations"]["n"] if cfg and T in gcfg.temperature_keys(cfg) else len(set().union(*have.values()))
        row = {"T": T, "configurations": n, "configured": bool(cfg) and T in gcfg.temperature_keys(cfg),
               **{k: len(v) for k, v in have.items()}}
        for stage, name in (("equilibrate", "equilibrating"), ("replicas", "replicating")):
            jobs = [j for j in running if j["T"] == T and j["stage"] == stage]
            row[name] = [{"c": j["c"], "steps": j["steps"], "fraction": _running_fraction(cfg, j)} for j in jobs]
        if T in physics:
            row["physics"] = physics[T]
            problems += [physics[T]["error"]] if "error" in physics[T] else []
        rows.append(row)
    return rows, problems


# =========================================================================== the whole campaign
def campaign_status(cfg: dict | None, results: str | Path | None = None) -> dict:
    """Everything ``glassdyn status`` reports, as a JSON-able dict (``cfg`` None: only what the files say)."""
    results = Path(results or (cfg or {}).get("results") or "results")
    source = targets.source_kind(cfg) if cfg else ("md" if (results / "md").is_dir() else "imported")
    temps, problems = temperature_rows(cfg, results)
    gnn = inventory.gnn_cells(results)
    members = inventory.tglassmlp_members(results)
    tg_cells = inventory.tglassmlp_cells(results, members)
    ogn = inventory.ogn_runs(results)
    exp_members, exp_tg = _expected_tglassmlp(cfg) if cfg else (None, None)
    cells = reconcile(gnn, _expected_gnn(cfg) if cfg else None) + reconcile(tg_cells, exp_tg)
    members = reconcile(members, exp_members, key=lambda r: (r["variant"], r["member"]))
    ogn = reconcile(ogn, _expected_ogn(cfg) if cfg else None, key=lambda r: (r["variant"], r["source"]))
    summary = inventory.ogn_summary(results)
    problems += [p for rows in (cells, members, ogn) for r in rows for p in r["problems"]]
    problems += [summary["problem"]] if "problem" in summary else []
    report = results / "report" / "summary.md"
    return {"results": str(results), "configuration": cfg is not None, "source": source, "temperatures": temps,
            "cells": sorted(cells, key=_sort_key), "tglassmlp_members": members, "ogn": ogn, "ogn_summary": summary,
            "problems": problems, "report": str(report) if report.exists() else None}


def _sort_key(row: dict) -> tuple:
    T = row.get("T")
    return (row["model"], row["stage"] != "pretrain", float(T) if T is not None else math.inf,
            row.get("time_index") if row.get("time_index") is not None else -1)


# =========================================================================== text
def _f(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _table(head: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def _data_lines(st: dict) -> list[str]:
    md = st["source"] == "md"
    head = ["T", "configs"] + (["equilibrated", "replicated"] if md else []) + ["labelled", "τα (1/e)", "MD checks"]
    rows, running = [], []
    for t in st["temperatures"]:
        ph = t.get("physics") or {}
        checks = {True: "pass", False: "FAIL", None: "—"}[ph.get("md_checks")] if "md_checks" in ph else "—"
        cells = [t["T"] + ("" if t["configured"] or not st["configuration"] else " (not configured)"),
                 t["configurations"]]
        cells += [t["equilibrated"], t["replicated"]] if md else []
        rows.append(cells + [t["labelled"], _f(ph.get("tau_alpha_1e")), checks])
        for what in ("equilibrating", "replicating"):
            jobs = t.get(what) or []
            fr = [j["fraction"] for j in jobs if j["fraction"] is not None]
            if jobs:
                done = f", {100 * min(fr):.0f}–{100 * max(fr):.0f}% of their steps done" if fr else ""
                running.append(f"T = {t['T']}: {len(jobs)} configuration(s) {what}{done}")
    return _table(head, rows) + ([""] + [f"- {r}" for r in running] if running else [])


def _validation(c: dict) -> str:
    val = ", ".join(f"{k}={_f(v)}" for k, v in (c.get("metrics") or {}).items())
    if not val and c.get("last"):
        val = ", ".join(f"{k}={_f(v)}" for k, v in c["last"].items() if k != "epoch")
    return val


def _cell_lines(st: dict) -> list[str]:
    head = ["model", "stage", "T", "k", "t", "state", "epochs", "Pearson nodes", "Pearson edges", "validation", "note"]
    rows = [[c["model"], c["stage"], _f(c.get("T")), _f(c.get("time_index")), _f(c.get("time"), 4), c["state"],
             c.get("epochs_done", "—"), _f(c.get("pearson_nodes")), _f(c.get("pearson_edges")), _validation(c),
             c.get("note", "")] for c in st["cells"]]
    counts = pd.Series([c["state"] for c in st["cells"]]).value_counts().to_dict() if st["cells"] else {}
    summary = "cells: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if counts else "no cells"
    return _table(head, rows) + ["", summary]


def _family_lines(st: dict) -> list[str]:
    out = []
    if st["tglassmlp_members"]:
        out += ["", "tGlassMLP ensemble members:", ""]
        out += _table(["variant", "member", "state", "validation", "note"],
                      [[m["variant"], m["member"], m["state"], _validation(m), m.get("note", "")]
                       for m in st["tglassmlp_members"]])
    if st["ogn"]:
        out += ["", "OGN learned simulators:", ""]
        out += _table(["variant", "source", "k", "state", "rollout steps", "RMSE r", "RMSE v", "note"],
                      [[r["variant"], r["source"], _f(r.get("k")), r["state"], _f(r.get("rollout_steps")),
                        _f(r.get("rmse_position")), _f(r.get("rmse_velocity")), r.get("note", "")] for r in st["ogn"]])
        out.append(f"OGN summary: {st['ogn_summary']['state']}")
    return out


def format_status(st: dict) -> str:
    """The status as Markdown: data per temperature, cells of every family, then every problem found."""
    where = "against the configuration" if st["configuration"] else "from the files alone (no --config)"
    lines = [f"# campaign status: {st['results']} (labels from {st['source']}, {where})", "", "## Data", ""]
    lines += _data_lines(st) + ["", "## Trained cells", ""] + _cell_lines(st) + _family_lines(st)
    if st["problems"]:
        lines += ["", f"## Problems ({len(st['problems'])})", ""] + [f"- {p}" for p in st["problems"]]
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
            if is_reference(model):   # baselines and published predictions: one line per (T, label) below
                continue
            r = g.iloc[int(np.argmin(np.abs(np.log(g["t_over_tau"].astype(float).clip(lower=1e-12)))))]
            edges = f", edges {r.pearson_edges_mean:.3f}" if math.isfinite(float(r.pearson_edges_mean)) else ""
            out.append(f"- {model} at T = {T}, t = {r.time:g} (t/τα = {r.t_over_tau:.2g}): "
                       f"nodes {r.pearson_nodes_mean:.3f}{edges}")
        out += glance_lines(cells)   # label ceiling and best baseline per (T, label) (glassdyn.campaign.references)
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
                                        if not is_reference(r.model) and not math.isfinite(float(r.pearson_nodes_mean))
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


def status_cli(args, cfg: dict | None) -> None:
    st = campaign_status(cfg, args.results)
    print(format_status(st))
    if args.json:
        storage.write_json(args.json, storage.json_safe(st))
