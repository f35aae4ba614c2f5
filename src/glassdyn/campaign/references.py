"""What a Pearson number is judged against, in the report: ceiling, baselines, published models.

:mod:`glassdyn.campaign.report` reads the eval CSVs of every model family; this module
adds to each (model, T, time) cell

- ``target``: the label its nodes are judged on (propensity, or bond_breaking
  for tGlassMLP and the ``-cb`` baselines);
- ``pooled_pearson_nodes/edges``: the Pearson over all test particles pooled
  (:func:`glassdyn.physics.scoring.pool` of the per-configuration moments), beside the
  mean over configurations ``pearson_nodes_mean``;
- ``ceiling_nodes/edges`` (± std over test configurations) and
  ``pooled_ceiling_nodes/edges``: the label reproducibility ceiling
  (:mod:`glassdyn.physics.ceiling`) of the same test configurations and label;

and draws the Pearson-vs-t/τα figure with one row of panels per label, the
ceiling as a band, ``baseline-*`` and ``published-*`` rows as thin lines.
Eval CSVs without the score columns (written before they existed) get NaN.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn.io.tables import SCORE_COLUMNS, moment_columns
from glassdyn.physics import scoring

#: Labels in the order of the figure's rows, with their axis names.
TARGETS = {"propensity": "propensity $S_i$ (edges: $E_{ij}$)", "bond_breaking": "bond breaking $C_B^i$"}
BASELINE, PUBLISHED = "baseline-", "published-"
#: Which label each part of a model is judged on, when the eval CSV does not say (older files).
DEFAULT_TARGETS = {"tglassmlp": "bond_breaking"}

SUMMARY_NOTE = (
    "The label ceiling is the Pearson two independent sets of the campaign's R replicas would have with each "
    "other (split-half correlation of the labels, Spearman–Brown corrected to R replicas): a model near it "
    "reproduces the labels as well as the MD itself does (a perfect predictor of the R → ∞ label would score "
    "√ceiling). Baselines (`baseline-*`: neighbour counts, local density, potential energy at t = 0 and in the "
    "inherent structure, ridge regression on the tGlassMLP descriptors; `-cb` on C_B) are fitted on the same "
    "training configurations and scored like the models, so a model that does not beat them has not learned "
    "more structure than they hold; `published-*` rows score the published models' predictions on the same "
    "test configurations.")


def is_reference(model: str) -> bool:
    """A baseline or published-prediction row (not one of the campaign's models)."""
    return str(model).startswith((BASELINE, PUBLISHED))


def glance_lines(cells: pd.DataFrame) -> list[str]:
    """One line per (T, label) for the report's opening: at the cell closest to τα, the label ceiling and the
    best baseline (and best published model) beside which the models' numbers above are to be read."""
    out = []
    for (T, target), g in cells.groupby(["T", "target"], sort=True):
        g = g[np.isfinite(g["t_over_tau"].astype(float))]
        if g.empty:
            continue
        near = g["t_over_tau"].astype(float).clip(lower=1e-12).map(math.log).abs()
        cell = g[near == near.min()]
        parts = []
        ceil = cell["ceiling_nodes"].astype(float)
        if ceil.notna().any():
            parts.append(f"label ceiling {ceil.dropna().iloc[0]:.3f}")
        for prefix, what in ((BASELINE, "best baseline"), (PUBLISHED, "best published")):
            ref = cell[cell["model"].str.startswith(prefix) & cell["pearson_nodes_mean"].notna()]
            if not ref.empty:
                r = ref.loc[ref["pearson_nodes_mean"].astype(float).idxmax()]
                parts.append(f"{what} {r['model']} {r['pearson_nodes_mean']:.3f}")
        if parts:
            out.append(f"- {target} at T = {T}, t = {cell['time'].iloc[0]:g}: " + "; ".join(parts))
    return out


def default_target(model: str) -> str:
    """The node label of ``model`` when its eval CSV does not say."""
    return DEFAULT_TARGETS.get(model, "bond_breaking" if model.endswith("-cb") else "propensity")


def complete_score_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every :data:`glassdyn.io.tables.SCORE_COLUMNS` column (NaN / default target when absent)."""
    df = df.copy()
    for col in SCORE_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    df["target"] = df["target"].astype(object)
    missing = df["target"].isna()
    if missing.any():
        df.loc[missing, "target"] = [default_target(str(m)) for m in df.loc[missing, "model"]]
    numeric = [c for c in SCORE_COLUMNS if c != "target"]
    df[numeric] = df[numeric].apply(pd.to_numeric, errors="coerce")
    return df


def pooled_and_ceiling(g: pd.DataFrame) -> dict:
    """The :data:`glassdyn.io.tables.CELL_EXTRA_COLUMNS` of one cell from its per-configuration eval rows ``g``."""
    out = {"target": str(g["target"].iloc[0])}
    for part in ("nodes", "edges"):
        out[f"pooled_pearson_{part}"] = scoring.pearson_from_moments(
            scoring.pool(g[moment_columns(part)].to_numpy(dtype=float)))
        ceil = g[f"ceiling_{part}"].astype(float)
        out[f"ceiling_{part}"] = float(ceil.mean()) if ceil.notna().any() else math.nan
        out[f"ceiling_{part}_std"] = float(ceil.std(ddof=1)) if ceil.notna().sum() > 1 else math.nan
        r = scoring.pearson_from_moments(scoring.pool(g[moment_columns(f"ceiling_{part}")].to_numpy(float)))
        out[f"pooled_ceiling_{part}"] = scoring.spearman_brown(r) if math.isfinite(r) else math.nan
    return out


def _colour_index(models: list[str]) -> dict[str, int]:
    """Colour of each row: the models first; a baseline keeps its colour on both labels (``-cb``); then published."""
    def feature(m: str) -> str:
        return m[len(BASELINE):].removesuffix("-cb")

    main = [m for m in models if not is_reference(m)]
    features = list(dict.fromkeys(feature(m) for m in models if m.startswith(BASELINE)))
    pub = [m for m in models if m.startswith(PUBLISHED)]
    out = {m: i for i, m in enumerate(main)}
    out |= {m: len(main) + features.index(feature(m)) for m in models if m.startswith(BASELINE)}
    out |= {m: len(main) + len(features) + i for i, m in enumerate(pub)}
    return out


def _style(model: str, index: int, colours: list, markers: str) -> dict:
    """Models: solid lines with markers; baselines: thin dotted; published models: thin dash-dot."""
    base = {"color": colours[index % len(colours)], "marker": markers[index % len(markers)]}
    if model.startswith(BASELINE):
        return base | {"ms": 3, "lw": 1.0, "ls": ":", "capsize": 0}
    if model.startswith(PUBLISHED):
        return base | {"ms": 3, "lw": 1.0, "ls": "-.", "capsize": 0}
    return base | {"ms": 5, "lw": 1.6, "ls": "-", "capsize": 2}


def _ceiling_band(ax, sub: pd.DataFrame, part: str, colour: str, label: str) -> None:
    """The ceiling of ``part`` (mean ± std over test configurations) as a band, √ceiling as a dotted line."""
    col = f"ceiling_{part}"
    c = sub[sub[col].notna()].sort_values("t_over_tau").groupby("t_over_tau", as_index=False).first()
    if c.empty:
        return
    x, y, e = c["t_over_tau"].to_numpy(float), c[col].to_numpy(float), c[f"{col}_std"].fillna(0).to_numpy(float)
    ax.fill_between(x, y - e, y + e, color=colour, alpha=0.18, lw=0, label=f"{label} ± std")
    ax.plot(x, y, color=colour, lw=1.2, alpha=0.8, marker="_", ms=12)
    ax.plot(x, np.sqrt(np.clip(y, 0, None)), color=colour, lw=0.8, ls=(0, (1, 2)),
            label=f"√{label} (perfect predictor)")


def plot_pearson(plt, cells: pd.DataFrame, models: list[str], path: Path, save) -> Path:
    """Pearson vs t/τα (log x): rows = labels judged, columns = temperatures; ceiling bands and baselines."""
    temps = sorted(set(cells["T"]), key=float) if not cells.empty else []
    targets = [t for t in TARGETS if not cells.empty and (cells["target"] == t).any()] or ["propensity"]
    n_cols = max(1, len(temps))
    fig, axes = plt.subplots(len(targets), n_cols, figsize=(4.8 * n_cols + 2.2, 4.0 * len(targets)),
                             squeeze=False, sharey=True, constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, target in enumerate(targets):
        for ax, T in zip(axes[row], temps):
            sub = cells[(cells["T"] == T) & (cells["target"] == target)]
            _ceiling_band(ax, sub, "nodes", "0.35", "label ceiling")
            _ceiling_band(ax, sub, "edges", "goldenrod", "edge ceiling")
            colour_of = _colour_index(models)
            for model in models:
                g = sub[sub["model"] == model].sort_values("t_over_tau")
                if g.empty:
                    continue
                style = _style(model, colour_of[model], colours, "osD^v<>pPX*h")
                ax.errorbar(g["t_over_tau"], g["pearson_nodes_mean"], yerr=g["pearson_nodes_std"].fillna(0),
                            label=model if g["pearson_edges_mean"].isna().all() else f"{model} nodes", **style)
                if g["pearson_edges_mean"].notna().any():
                    ax.errorbar(g["t_over_tau"], g["pearson_edges_mean"], yerr=g["pearson_edges_std"].fillna(0),
                                mfc="none", label=f"{model} edges", **(style | {"ls": "--"}))
            ax.set_xscale("log")
            ax.set_xlabel(r"$t/\tau_\alpha$")
            ax.set_title(f"T = {T}: {TARGETS[target]}", fontsize=9)
            ax.grid(alpha=0.3)
        legend = {lab: h for ax in axes[row] for h, lab in zip(*ax.get_legend_handles_labels())}
        handles, labels = list(legend.values()), list(legend)
        if handles:  # one legend per row, beside its last panel, so that no curve is hidden under it
            axes[row][-1].legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        axes[row][0].set_ylabel("Pearson (mean over test configurations)")
    if not temps:
        axes[0][0].text(0.5, 0.5, "no evaluations", ha="center", va="center", transform=axes[0][0].transAxes)
    save(fig, path)
    plt.close(fig)
    return path
