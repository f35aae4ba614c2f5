"""What a results tree holds, each output identified by what it records, never by its folder name.

``glassdyn status`` reads these rows; nothing here needs the configuration.
A trained cell is the (family, stage, T, time index, time) its ``model.pt``
records (else its ``checkpoint.pt``'s provenance, else its ``metrics.json``,
else its evaluation CSV's columns, and only as a last resort the folder
names). A file that cannot be read, or that records another cell than the
files beside it, never counts as done: it becomes a ``problems`` line naming
the file and what to do. Rows are plain JSON-able dicts.

States of a row: ``training`` (a readable checkpoint.pt, no model.pt),
``trained`` (a readable model.pt), ``evaluated`` (a readable model.pt and a
readable evaluation of that same cell: eval CSV, or an OGN rollout),
``unreadable`` (the model or checkpoint file cannot be read) and
``incomplete`` (files of the cell without a model or checkpoint, e.g. an
eval CSV or metrics.json left after model.pt was deleted).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from glassdyn import config as gcfg
from glassdyn.config.families import FAMILIES
from glassdyn.io import storage
from glassdyn.io.storage import StorageError
from glassdyn.models.files import load_torch_dict, read_model_file

GNN_FAMILIES = tuple(n for n, f in FAMILIES.items() if f.kind == "gnn")
_NUMBER = r"(\d+(?:\.\d+)?)"


def same_time(a, b) -> bool:
    """Two sampling times are one when they agree to 1e-9 relative (both from the same float config value)."""
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def _folder_number(name: str, prefix: str) -> str | None:
    m = re.fullmatch(prefix + _NUMBER, name)
    return m.group(1) if m else None


def _folder_T(name: str) -> str | None:
    value = _folder_number(name, "T")
    return gcfg.temperature_key(float(value)) if value is not None else None


def _rel(path: Path, results: Path) -> str:
    try:
        return str(path.relative_to(results))
    except ValueError:
        return str(path)


def _json(path: Path) -> tuple[dict | None, str | None]:
    try:
        return json.loads(path.read_text()), None
    except (OSError, ValueError) as exc:
        return None, f"{path}: unreadable JSON ({exc})"


def _csv(path: Path, columns: list[str]) -> tuple[pd.DataFrame | None, str | None]:
    """A CSV with at least ``columns`` and one row, or the reason it is not one."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return None, f"{path}: unreadable CSV ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    missing = [c for c in columns if c not in frame.columns]
    what = (f"lacks column(s) {missing}" if missing else "has no rows" if frame.empty
            else "ends inside a row" if not _ends_with_newline(path)
            else "has rows with empty columns" if frame[columns].isna().any().any() else None)
    if what:
        return None, f"{path}: {what} (truncated or not made by glassdyn); delete it and rerun its rule"
    return frame, None


def _ends_with_newline(path: Path) -> bool:
    """Every table glassdyn writes ends with a newline; one that does not was cut short."""
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def _pearson_items(d: dict) -> dict:
    """Entries of a metrics dict whose name mentions 'pearson' (finite numbers, nested one level)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in _pearson_items(v).items()})
        elif "pearson" in str(k).lower() and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[str(k)] = float(v)
    return out


# =========================================================================== HDF5 frames and labels
def h5_identity(path: Path) -> dict:
    """``T`` (key) and ``c`` an MD or labels file records, or ``error`` (truncated, corrupt, never completed)."""
    try:
        with storage.open_h5(path) as f:
            T, c = f.attrs.get("T"), f.attrs.get("c")
            return {"T": gcfg.temperature_key(float(T)) if T is not None else None,
                    "c": int(c) if c is not None else None}
    except (StorageError, OSError, ValueError) as exc:
        return {"error": str(exc)}


def data_files(results: Path) -> tuple[dict[str, dict], list[str]]:
    """Readable MD frames, replica files and labels per recorded temperature, and a problem line per bad file.

    Returns ``{T: {"equilibrated": {c...}, "replicated": {c...}, "labelled": {c...}}}`` (configuration
    indices as recorded; a file without ``c`` counts by its file name).
    """
    found: dict[str, dict] = {}
    problems: list[str] = []
    md = sorted(results.glob("md/T*/c*/equilibrated.h5")) + sorted(results.glob("md/T*/c*/replicas.h5"))
    for path in md + sorted(results.glob("labels/T*/c*.h5")):
        what = {"equilibrated.h5": "equilibrated", "replicas.h5": "replicated"}.get(path.name, "labelled")
        ident = h5_identity(path)
        if "error" in ident:
            problems.append(ident["error"])
            continue
        folder = path.parent.parent if what != "labelled" else path.parent
        T = ident["T"] or _folder_T(folder.name)
        c = ident["c"] if ident["c"] is not None else int(re.sub(r"\D", "", path.stem if what == "labelled"
                                                                   else path.parent.name) or -1)
        if T is None:
            problems.append(f"{path}: records no temperature")
            continue
        found.setdefault(T, {"equilibrated": set(), "replicated": set(), "labelled": set()})[what].add(c)
    return found, problems


def md_running(results: Path) -> list[dict]:
    """MD jobs with restart segments and no finished output: (T, c, stage, steps done) from their checkpoints."""
    out = []
    for folder in sorted(results.glob("md/T*/c*")):
        ck, T = folder / "checkpoints", _folder_T(folder.parent.name)
        if T is None or not ck.is_dir():
            continue
        c = int(_folder_number(folder.name, "c") or -1)
        if not (folder / "equilibrated.h5").exists() and (ck / "equilibrate" / "state.h5").exists():
            out.append({"T": T, "c": c, "stage": "equilibrate", "steps": _segment_step(ck / "equilibrate/state.h5")})
        elif not (folder / "replicas.h5").exists() and (ck / "replicas").is_dir():
            done = sorted((ck / "replicas").glob("r*.h5"))
            running = sum(_segment_step(s) for s in (ck / "replicas").glob("r*/state.h5"))
            out.append({"T": T, "c": c, "stage": "replicas", "replicas_done": len(done), "steps": running})
    return out


def _segment_step(path: Path) -> int:
    try:
        return int(storage.read_h5(path, [])[1].get("step", 0))
    except (StorageError, OSError, ValueError):
        return 0


# =========================================================================== graph-network cells
def _model_identity(obj: dict) -> dict:
    return {"model": obj["model"], "stage": obj.get("stage", "train"), "T": gcfg.temperature_key(float(obj["T"])),
            "time_index": int(obj["time_index"]), "time": float(obj["time"])}


def _checkpoint_row(path: Path, results: Path) -> dict:
    """Identity and progress of a training in progress, from its checkpoint.pt (provenance and history)."""
    try:
        ck = load_torch_dict(path)
    except StorageError as exc:
        return {"state": "unreadable", "problems": [f"{exc}: delete it (the training restarts from scratch)"]}
    rec = ck.get("provenance") if isinstance(ck.get("provenance"), dict) else {}
    row: dict = {"state": "training", "epochs_done": int(ck.get("epoch", 0))}
    if not {"model", "T", "time_index"} <= set(rec):
        row["note"] = "checkpoint records no cell: listed by its folder"
    else:
        row.update(model=rec["model"], stage=rec.get("stage", "train"), T=gcfg.temperature_key(float(rec["T"])),
                   time_index=int(rec["time_index"]))
        row["time"] = _time_from_labels(rec.get("inputs") or {}, results, row["time_index"])
    total = _epochs_total(ck, rec)
    if total:
        row["epochs_total"] = total
        row["state"] = f"training ({row['epochs_done']}/{total} epochs)"
    history = ck.get("history") or []
    if history:
        row["last"] = {k: float(v) for k, v in history[-1].items() if isinstance(v, (int, float)) or hasattr(v, "item")}
    row["metrics"] = {k: float(v) for k, v in (ck.get("best") or {}).items()
                      if "pearson" in k and (isinstance(v, (int, float)) or hasattr(v, "item"))}
    return row


def _epochs_total(ck: dict, rec: dict) -> int | None:
    settings = ck.get("settings") or {}
    if settings.get("epochs"):
        return int(settings["epochs"])
    section = ((rec.get("config") or {}).get("models") or {}).get(rec.get("model"), {})
    section = section.get("pretrain", {}) if rec.get("stage") == "pretrain" else section
    return int(section["epochs"]) if isinstance(section, dict) and section.get("epochs") else None


def _time_from_labels(inputs: dict, results: Path, k: int) -> float | None:
    """Sampling time k recorded in the first readable labels file a checkpoint was made from."""
    for name in inputs:
        p = Path(name)
        if p.parent.parent.name != "labels":
            continue
        try:
            times = storage.read_h5(results / "labels" / p.parent.name / p.name, ["times"])[0]["times"]
            return float(times[k])
        except (StorageError, OSError, ValueError, IndexError):
            continue
    return None


def _folder_identity(folder: Path, family: str) -> dict:
    if folder.name == "pretrain":
        return {"model": family, "stage": "pretrain", "T": None, "time_index": None, "time": None}
    return {"model": family, "stage": "train", "T": _folder_T(folder.parent.name),
            "time_index": int(_folder_number(folder.name, "t") or -1), "time": None}


def gnn_folder(folder: Path, family: str, results: Path) -> dict | None:
    """One training folder of a graph-network family: what its files say (None for an empty folder)."""
    row = {**_folder_identity(folder, family), "path": _rel(folder, results), "problems": []}
    model, ck, metrics = folder / "model.pt", folder / "checkpoint.pt", folder / "metrics.json"
    if model.exists():
        try:
            row.update(_model_identity(read_model_file(model, GNN_FAMILIES, user_networks=True)), state="trained")
        except (StorageError, KeyError, TypeError, ValueError) as exc:
            row.update(state="unreadable")
            row["problems"].append(f"{exc if isinstance(exc, StorageError) else f'{model}: lacks {exc}'}; "
                                   "delete it and rerun its training")
    elif ck.exists():
        got = _checkpoint_row(ck, results)
        row["problems"] += got.pop("problems", [])
        row.update(got)
    elif metrics.exists() or (folder / "loss.csv").exists():
        row["state"] = "incomplete"
        row["problems"].append(f"{model}: missing (only its logs are left); rerun its training")
    else:
        return None
    if metrics.exists() and row["state"] != "unreadable":
        _attach_metrics(row, metrics)
    _check_folder(row, folder)
    return row


def _attach_metrics(row: dict, path: Path) -> None:
    """Validation Pearson of metrics.json; its identity fills a row that has none (model.pt missing)."""
    data, error = _json(path)
    if error:
        row["problems"].append(error)
        return
    if row.get("time") is None and {"T", "time_index", "time"} <= set(data):
        row.update(T=gcfg.temperature_key(float(data["T"])), time_index=int(data["time_index"]),
                   time=float(data["time"]))
    if row["state"] == "trained" or "metrics" not in row:
        row["metrics"] = {k: v for k, v in _pearson_items(data).items() if math.isfinite(v)}


def _check_folder(row: dict, folder: Path) -> None:
    """A file recording another cell than its folder names is reported (it was moved or copied by hand)."""
    if row.get("T") is None or row.get("time_index") is None:
        return
    said = _folder_identity(folder, row["model"])
    wrong = [f"{k} = {row[k]}" for k in ("stage", "T", "time_index") if said[k] is not None and said[k] != row[k]]
    if wrong:
        row["problems"].append(f"{folder}: its files record {', '.join(wrong)}, not what the folder name says; "
                               "status lists it by what the files record")


def read_eval(path: Path) -> dict:
    """An evaluation CSV: the one cell its rows record, their mean Pearson, or ``error``."""
    frame, error = _csv(path, ["model", "T", "time_index", "time"])
    if not error and not {"pearson_nodes", "pearson_edges"} <= set(frame.columns):
        error = f"{path}: lacks its Pearson columns (not an evaluation CSV); delete it and rerun its rule"
    if error:
        return {"error": error}
    ident = frame[["model", "T", "time_index"]].drop_duplicates()
    if len(ident) != 1:
        return {"error": f"{path}: rows of several cells {ident.to_dict('records')}; delete it and rerun evaluate"}
    nodes = pd.to_numeric(frame["pearson_nodes"], errors="coerce")
    edges = pd.to_numeric(frame["pearson_edges"], errors="coerce")
    return {"model": str(frame["model"].iloc[0]), "T": gcfg.temperature_key(float(frame["T"].iloc[0])),
            "time_index": int(frame["time_index"].iloc[0]), "time": float(frame["time"].iloc[0]),
            "pearson_nodes": float(nodes.mean()) if nodes.notna().any() else float("nan"),
            "pearson_edges": float(edges.mean()) if edges.notna().any() else float("nan"), "n_test": int(len(frame))}


def attach_eval(row: dict, path: Path) -> None:
    """Join an eval CSV to its training row: 'evaluated' only if both files are readable and name one cell."""
    ev = read_eval(path)
    if "error" in ev:
        row["problems"].append(ev["error"])
        return
    if row["state"] != "trained":
        if row.get("time") is None:
            row.update({k: ev[k] for k in ("T", "time_index", "time")})
        row["problems"].append(f"{path}: an evaluation without a readable model.pt beside it "
                               f"({row['path']}); it is stale: rerun train and evaluate")
        return
    mine = (row["model"], row["T"], row["time_index"])
    if (ev["model"], ev["T"], ev["time_index"]) != mine or not same_time(ev["time"], row["time"]):
        row["problems"].append(f"{path}: evaluates {ev['model']} T = {ev['T']} k = {ev['time_index']} "
                               f"t = {ev['time']:g}, not the model beside it ({row['model']} T = {row['T']} "
                               f"k = {row['time_index']} t = {row['time']:g}); rerun evaluate")
        return
    row.update(state="evaluated", pearson_nodes=ev["pearson_nodes"], pearson_edges=ev["pearson_edges"],
               n_test=ev["n_test"])


def cell_families(results: Path) -> list[str]:
    """The per-cell graph-network families with files under ``results``: the built-in ones, and users'
    networks (any other ``train/<name>`` folder: glassdyn.config.families.user_families)."""
    others = sorted(p.name for p in (results / "train").glob("*") if p.is_dir() and p.name not in FAMILIES)
    return [*GNN_FAMILIES, *others]


def gnn_cells(results: Path) -> list[dict]:
    """Every training folder and eval CSV of the graph-network families, each as the cell its files record."""
    rows = []
    for family in cell_families(results):
        folders = sorted(results.glob(f"train/{family}/T*/t*")) + sorted(results.glob(f"train/{family}/pretrain"))
        evals = {p.relative_to(results / "eval"): p for p in sorted(results.glob(f"eval/{family}/T*/t*.csv"))}
        for folder in (f for f in folders if f.is_dir()):
            row = gnn_folder(folder, family, results)
            csv = Path(family, folder.parent.name, folder.name + ".csv")
            if csv in evals:
                path = evals.pop(csv)
                row = row or {**_folder_identity(folder, family), "path": _rel(folder, results), "problems": [],
                              "state": "incomplete"}
                attach_eval(row, path)
            if row is not None:
                rows.append(row)
        for path in evals.values():  # an eval CSV whose training folder is gone
            folder = results / "train" / family / path.parent.name / path.stem
            row = {**_folder_identity(folder, family), "path": _rel(folder, results), "problems": [],
                   "state": "incomplete"}
            attach_eval(row, path)
            rows.append(row)
    return rows


# =========================================================================== tGlassMLP
def tglassmlp_members(results: Path) -> list[dict]:
    """Ensemble members (``train/tglassmlp/<variant>/m<m>/``) as their model.pt records them."""
    rows = []
    for folder in sorted(p for p in results.glob("train/tglassmlp/*/m*") if p.is_dir()):
        model, metrics = folder / "model.pt", folder / "metrics.json"
        row = {"variant": folder.parent.name, "member": int(_folder_number(folder.name, "m") or -1),
               "path": _rel(folder, results), "problems": []}
        if model.exists():
            try:
                obj = read_model_file(model, ["tglassmlp"])
                row.update(variant=str(obj.get("variant", row["variant"])),
                           member=int(obj.get("member", row["member"])), state="trained")
            except StorageError as exc:
                row["state"] = "unreadable"
                row["problems"].append(f"{exc}; delete it and rerun tglassmlp_train")
        elif metrics.exists() or (folder / "loss.csv").exists():
            row["state"] = "incomplete"
            row["problems"].append(f"{model}: missing (only its logs are left); rerun tglassmlp_train")
        else:
            continue
        if metrics.exists() and row["state"] == "trained":
            data, error = _json(metrics)
            row["problems"] += [error] if error else []
            row["metrics"] = {k: v for k, v in _pearson_items(data or {}).items() if math.isfinite(v)}
        rows.append(row)
    return rows


def tglassmlp_cells(results: Path, members: list[dict]) -> list[dict]:
    """tGlassMLP eval CSVs: 'evaluated' only when the CSV and every ``main`` member it comes from are readable."""
    main = [m for m in members if m["variant"] == "main"]
    bad = [m["path"] for m in main if m["state"] != "trained"]
    rows = []
    for path in sorted(results.glob("eval/tglassmlp/T*/t*.csv")):
        row = {"model": "tglassmlp", "stage": "train", "T": _folder_T(path.parent.name),
               "time_index": int(_folder_number(path.stem, "t") or -1), "time": None,
               "path": _rel(path, results), "problems": [], "state": "incomplete"}
        ev = read_eval(path)
        if "error" in ev:
            row["problems"].append(ev["error"])
            rows.append(row)
            continue
        row.update({k: ev[k] for k in ("T", "time_index", "time")})
        if not main or bad:
            why = f"members {', '.join(bad)} are not readable" if bad else "no main ensemble member is left"
            row["problems"].append(f"{path}: made by a tGlassMLP ensemble that is gone ({why}); rerun "
                                   "tglassmlp_train and tglassmlp_evaluate")
        else:
            row.update(state="evaluated", pearson_nodes=ev["pearson_nodes"], pearson_edges=ev["pearson_edges"],
                       n_test=ev["n_test"])
        rows.append(row)
    return rows


# =========================================================================== OGN
def ogn_runs(results: Path) -> list[dict]:
    """OGN trainings (``ogn/train/<variant>/<source>/``) as their files record them, with their rollouts."""
    rows = []
    for folder in sorted(p for p in results.glob("ogn/train/*/*") if p.is_dir()):
        row = {"variant": folder.parent.name, "source": folder.name, "path": _rel(folder, results), "problems": []}
        if not _ogn_training(row, folder):
            continue
        rollout = results / "ogn" / "rollout" / row["variant"] / f"{row['source']}.csv"
        if rollout.exists():
            _attach_rollout(row, rollout)
        rows.append(row)
    return rows


def _ogn_training(row: dict, folder: Path) -> bool:
    """Fill the row from model.pt (else checkpoint.pt); False for a folder without either or its logs."""
    model, ck = folder / "model.pt", folder / "checkpoint.pt"
    if model.exists():
        try:
            obj = read_model_file(model, ["ogn"])
            row.update(variant=str(obj.get("variant", row["variant"])), source=str(obj.get("source", row["source"])),
                       k=int(obj.get("k", 0)), T=obj.get("T"), state="trained")
        except StorageError as exc:
            row["state"] = "unreadable"
            row["problems"].append(f"{exc}; delete it and rerun ogn_train")
    elif ck.exists():
        try:
            got = load_torch_dict(ck)
            row.update(state=f"training ({int(got.get('step', 0))} steps)", steps_done=int(got.get("step", 0)))
        except StorageError as exc:
            row["state"] = "unreadable"
            row["problems"].append(f"{exc}: delete it (the training restarts from scratch)")
    elif (folder / "metrics.json").exists():
        row["state"] = "incomplete"
        row["problems"].append(f"{model}: missing (only its logs are left); rerun ogn_train")
    else:
        return False
    return True


def _attach_rollout(row: dict, path: Path) -> None:
    """The learned engine's RMSE at the last rollout step; 'evaluated' only beside a readable model of that run."""
    frame, error = _csv(path, ["variant", "source", "k", "engine", "step"])
    if error:
        row["problems"].append(error)
        return
    ident = frame[["variant", "source", "k"]].drop_duplicates()
    if row["state"] != "trained" or len(ident) != 1 or (
            str(ident.iloc[0]["variant"]), str(ident.iloc[0]["source"]), int(ident.iloc[0]["k"])) != (
            row["variant"], row["source"], row.get("k")):
        row["problems"].append(f"{path}: a rollout of {ident.to_dict('records')} without its readable model "
                               f"({row['path']}/model.pt); rerun ogn_train and ogn_rollout")
        return
    learned = frame[frame["engine"] == "ogn"]
    last = learned[learned["step"] == learned["step"].max()] if not learned.empty else learned
    row.update(state="evaluated", rollout_steps=int(last["step"].max()) if not last.empty else 0,
               **{k: _mean(last, k) for k in ("rmse_position", "rmse_velocity")})


def _mean(frame: pd.DataFrame, column: str) -> float:
    values = pd.to_numeric(frame[column], errors="coerce") if column in frame.columns else pd.Series(dtype=float)
    return float(values.mean()) if values.notna().any() else float("nan")


def ogn_summary(results: Path) -> dict:
    """Whether ``ogn/summary.csv`` exists and reads."""
    path = results / "ogn" / "summary.csv"
    if not path.exists():
        return {"state": "missing"}
    frame, error = _csv(path, ["variant", "source", "engine"])
    return {"state": "unreadable", "problem": error} if error else {"state": "written", "rows": int(len(frame))}
