"""Analyses of a trained tGlassMLP ensemble, as report figures and CSV tables (SCIENCE.md §6).

* χ4(t) from the MD labels and from the predictions (with the ensemble
  spread), at the sampled times and on a grid of c placed in time by
  :func:`glassdyn.tglassmlp.time_of_c`;
* S4(q, t) of MD and predicted propensities with Ornstein–Zernike fits for
  ξ4, on the campaign's configurations and, for predictions, on a larger
  system (:func:`large_system_rule`);
* the mean chord length of mobile regions, MD and predicted;
* the attention distribution P_int(L) and ξ_int(T) at a reference c;
* the bottleneck plane of one test configuration coloured by the MD C_B.

The large system: the network acts per particle, so it predicts on any
number of particles, and S4 at q < 2π/L needs a box larger than the
campaign's. A configuration tiled k × k × k is an exact equilibrium
configuration of the k L box, but its propensity field would only repeat the
small box's (S4 sampled at multiples of 2π/L); stacking different
configurations instead leaves seams whose density anomalies dominate the
long-L descriptors. :func:`large_system_rule` therefore tiles one
equilibrated configuration and runs Nosé–Hoover MD at T for
``s4.decorrelation_tau_alpha`` τα (fresh Maxwell–Boltzmann velocities), so
that the copies' structures, and hence their propensity fields, decorrelate
while the system stays at equilibrium, then takes the inherent structure and
its descriptors. Copies decorrelate only on scales the dynamics reaches in
that time: ξ4 measured there is meaningful when the decorrelation time is at
least of order τα. The run is one LAMMPS job without checkpoints.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.models import tglassmlp as net
from glassdyn.physics import heterogeneity as het
from glassdyn.tglassmlp.data import Descriptors, by_key, read_descriptors
from glassdyn.tglassmlp.evaluate import ensemble_predict
from glassdyn.tglassmlp.fitting import load_member, standardization_of
from glassdyn.tglassmlp.states import time_of_c

log = logging.getLogger("glassdyn.tglassmlp_analysis")


# =========================================================================== analyses
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    with storage.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    _plt().close(fig)


def s4_of(structures: list, values: list[np.ndarray], mean: float, q_max: float, q_bin: float):
    """Shell-averaged S4 (q, s4) of a field over the A particles of several structures (same box);
    shells of width ``q_bin``."""
    qs, ss = [], []
    for s, v in zip(structures, values):
        q, s4 = het.structure_factor_s4(s.positions[s.a_mask], v, mean, s.box, q_max)
        qs.append(q)
        ss.append(s4)
    if not qs:
        return np.zeros(0), np.zeros(0)
    q, s4, _ = het.shell_average(np.concatenate(qs), np.concatenate(ss), q_bin)
    return q, s4


def chord_of(structures: list, values: list[np.ndarray], median: float, cell: float) -> float:
    """Mean over configurations of ⟨ξ_chord⟩."""
    lengths = [het.mean_chord_length(s.positions[s.a_mask], v, median, s.box, cell) for s, v in zip(structures, values)]
    return float(np.nanmean(lengths)) if np.any(np.isfinite(lengths)) else float("nan")


def read_predictions(paths: list[str]) -> dict[str, list[dict]]:
    """{T key: [cell, ...] by time index}; a cell holds the arrays and attributes of one predictions file."""
    out: dict[str, list[dict]] = {}
    for p in paths:
        data, attrs = storage.read_h5(p, ["prediction", "bond_breaking", "c_input", "configurations"])
        T = gcfg.temperature_key(float(attrs["T"]))
        out.setdefault(T, []).append({
            "prediction": data["prediction"].astype(np.float64),
            "bond_breaking": data["bond_breaking"].astype(np.float64),
            "c_input": data["c_input"], "configurations": data["configurations"],
            "time_index": int(attrs["time_index"]), "time": float(attrs["time"]), "c": float(attrs["c"])})
    for cells in out.values():
        cells.sort(key=lambda cell: cell["time_index"])
    return out


#: What the analyses read: their own settings, the self-consistent prediction, and the temperatures.
READS = reads("tglassmlp.analysis", "tglassmlp.self_consistency", "temperatures[*].tau_alpha", "configurations")


def analysis_rule(cfg: dict, prediction_files: list[str], model_files: list[str], descriptor_files: list[str],
                  large_files: list[str], states_csv: str, output_dir: str | Path) -> dict:
    """Rule ``tglassmlp_analysis``: χ4, S4/ξ4, chord lengths, attention lengths, bottleneck plane."""
    cfg = config_slice(cfg, READS)
    an, sc = cfg["tglassmlp"]["analysis"], cfg["tglassmlp"]["self_consistency"]
    out = Path(output_dir)
    states = pd.read_csv(states_csv)
    members = [load_member(p) for p in model_files]
    structures = {k: read_descriptors(p) for k, p in by_key(descriptor_files).items()}
    large = _read_large(large_files)
    chi_rows, len_rows, s4_rows = [], [], []
    for T, cells in sorted(read_predictions(prediction_files).items(), key=lambda kv: float(kv[0])):
        structs = [structures[(T, int(c))] for c in cells[0]["configurations"]]
        for cell in cells:
            chi_rows.append(_chi4_sampled(T, cell, structs))
            row, rows = _lengths(T, cell, structs, an, large.get(T), members, sc)
            len_rows.append(row)
            s4_rows += rows
        chi_rows += _chi4_grid(T, cells, structs, members, sc, states, int(an["c_grid"]))
    chi = pd.DataFrame(chi_rows)
    lengths = pd.DataFrame(len_rows)
    s4 = pd.DataFrame(s4_rows, columns=["T", "time_index", "c", "source", "q", "s4"])
    att = attention_table(members, structures, float(an["reference_c"]))
    paths = {
        "chi4_csv": storage.write_csv(out / "chi4.csv", chi),
        "lengths_csv": storage.write_csv(out / "lengths.csv", lengths),
        "s4_csv": storage.write_csv(out / "s4.csv", s4),
        "attention_csv": storage.write_csv(out / "attention.csv", att),
    }
    plot_chi4(chi, out / "chi4.png")
    plot_lengths(lengths, s4, out / "lengths.png")
    plot_attention(att, out / "attention.png")
    plot_bottleneck(members[0], structures, read_predictions(prediction_files), out / "bottleneck.png")
    log.info("χ4 (sampled):\n%s", chi[chi["kind"] == "sampled"].to_string(index=False))
    log.info("lengths:\n%s", lengths.to_string(index=False))
    return paths


def _read_large(large_files: list[str]) -> dict[str, Descriptors]:
    """The large systems (rule tglassmlp_large_system) by temperature key."""
    large = {}
    for p in large_files:
        data, attrs = storage.read_h5(p, ["positions", "types", "box", "descriptors"])
        T = gcfg.temperature_key(float(attrs["T"]))
        large[T] = Descriptors(T, -1, data["descriptors"].astype(np.float64), data["types"].astype(np.int64),
                               data["positions"], data["box"])
    return large


def _member_spread(values: list[float]) -> float:
    return float(np.std(values)) if len(values) > 1 else float("nan")


def _chi4_sampled(T: str, cell: dict, structs: list[Descriptors]) -> dict:
    """χ4 of the MD labels and of the ensemble prediction at one sampled (T, t)."""
    n_a = int(structs[0].a_mask.sum())
    pred, truth = cell["prediction"], cell["bond_breaking"]
    member_chi = [het.chi4(pred[m].mean(axis=1), n_a) for m in range(len(pred))]
    return {"T": float(T), "kind": "sampled", "time_index": cell["time_index"], "time": cell["time"], "c": cell["c"],
            "chi4_md": het.chi4(truth.mean(axis=1), n_a), "chi4_pred": het.chi4(pred.mean(axis=0).mean(axis=1), n_a),
            "chi4_pred_std": _member_spread(member_chi), "n_configurations": len(structs)}


def _chi4_grid(T: str, cells: list[dict], structs: list[Descriptors], members, sc: dict, states: pd.DataFrame,
               n_grid: int) -> list[dict]:
    """Predicted χ4 on a grid of c between the sampled extremes, placed in time by ``time_of_c``."""
    n_a = int(structs[0].a_mask.sum())
    cs = np.array([cell["c"] for cell in cells])
    grid = np.linspace(cs.min(), cs.max(), n_grid) if len(cs) > 1 else cs
    rows = []
    for c in grid:
        pr, _ = ensemble_predict(members, structs, float(T), float(c), sc)
        member_chi = [het.chi4(pr[m].mean(axis=1), n_a) for m in range(len(pr))]
        rows.append({"T": float(T), "kind": "grid", "time_index": -1, "time": float(time_of_c(states, T, c)[0]),
                     "c": float(c), "chi4_md": float("nan"), "chi4_pred": het.chi4(pr.mean(axis=0).mean(axis=1), n_a),
                     "chi4_pred_std": _member_spread(member_chi), "n_configurations": len(structs)})
    return rows


def _lengths(T: str, cell: dict, structs: list[Descriptors], an: dict, big: Descriptors | None, members,
             sc: dict) -> tuple[dict, list[dict]]:
    """ξ4 from Ornstein–Zernike fits of S4 (MD, predicted, predicted on the large system) and chord lengths."""
    k, c = cell["time_index"], cell["c"]
    truth, ens = cell["bond_breaking"], cell["prediction"].mean(axis=0)
    q_max, q_bin, fit_max = float(an["s4"]["q_max"]), float(an["s4"]["q_bin"]), float(an["s4"]["fit_q_max"])
    q_md, s_md = s4_of(structs, list(truth), float(truth.mean()), q_max, q_bin)
    q_pr, s_pr = s4_of(structs, list(ens), float(ens.mean()), q_max, q_bin)
    row = {"T": float(T), "time_index": k, "time": cell["time"], "c": c}
    box_len = float(structs[0].box.min())
    row["chi4_oz_md"], row["xi4_md"] = het.fit_ornstein_zernike(q_md, s_md, fit_max, box_len)
    row["chi4_oz_pred"], row["xi4_pred"] = het.fit_ornstein_zernike(q_pr, s_pr, fit_max, box_len)
    s4_rows = [{"T": float(T), "time_index": k, "c": c, "source": source, "q": a, "s4": b}
               for source, q, s in (("md", q_md, s_md), ("pred", q_pr, s_pr)) for a, b in zip(q, s)]
    if big is not None:
        lp, _ = ensemble_predict(members, [big], float(T), c, sc)
        q_l, s_l = s4_of([big], [lp.mean(axis=0)[0]], float(lp.mean()), q_max, q_bin)
        row["chi4_oz_large"], row["xi4_large"] = het.fit_ornstein_zernike(q_l, s_l, fit_max, float(big.box.min()))
        row["n_large"] = int(big.a_mask.sum())
        s4_rows += [{"T": float(T), "time_index": k, "c": c, "source": "pred_large", "q": a, "s4": b}
                    for a, b in zip(q_l, s_l)]
    cell_size = float(an["chord_cell"])
    row["chord_md"] = chord_of(structs, list(truth), float(np.median(truth)), cell_size)
    row["chord_pred"] = chord_of(structs, list(ens), float(np.median(ens)), cell_size)
    return row, s4_rows


def attention_table(members, structures: dict, c_ref: float) -> pd.DataFrame:
    """P_int(L) per T (mean and std over members) and ξ_int at c = ``c_ref`` over each T's structures."""
    import torch

    rows = []
    for T in sorted({k[0] for k in structures}, key=float):
        structs = [structures[k] for k in sorted(structures) if k[0] == T]
        ps, xis = [], []
        for model, meta in members:
            st = standardization_of(meta)
            x = torch.cat([st.apply(s.descriptors[s.a_mask]) for s in structs])
            with torch.no_grad():
                w = model.attention_weights(x, net.state_features(float(T), c_ref)).numpy()
            L, p = het.attention_length_distribution(w, np.asarray(meta["column_lengths"]))
            ps.append(p)
            xis.append(het.intrinsic_length(L, p))
        ps = np.array(ps)
        for i, Lv in enumerate(L):
            rows.append({"T": float(T), "c": c_ref, "L": float(Lv), "P_int": float(ps[:, i].mean()),
                         "P_int_std": float(ps[:, i].std()), "xi_int": float(np.mean(xis)),
                         "xi_int_std": float(np.std(xis))})
    return pd.DataFrame(rows)


def plot_chi4(chi: pd.DataFrame, path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, (T, g) in enumerate(chi.groupby("T")):
        col = f"C{i}"
        s = g[g["kind"] == "sampled"].sort_values("time")
        gr = g[g["kind"] == "grid"].sort_values("time")
        ax.plot(s["time"], s["chi4_md"], "o", color=col, label=f"MD T={T:g}")
        ax.errorbar(s["time"], s["chi4_pred"], yerr=s["chi4_pred_std"].fillna(0), fmt="s", mfc="none", color=col,
                    label=f"tGlassMLP T={T:g}")
        if len(gr):
            ax.plot(gr["time"], gr["chi4_pred"], "-", color=col, alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\chi_4(t)$ of $C_B$")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def plot_lengths(lengths: pd.DataFrame, s4: pd.DataFrame, path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for i, (T, g) in enumerate(lengths.groupby("T")):
        col = f"C{i}"
        g = g.sort_values("time")
        axes[1].plot(g["time"], g["xi4_md"], "o-", color=col, label=f"MD T={T:g}")
        axes[1].plot(g["time"], g["xi4_pred"], "s--", mfc="none", color=col, label=f"pred T={T:g}")
        if "xi4_large" in g:
            axes[1].plot(g["time"], g["xi4_large"], "^:", color=col, label=f"pred, large, T={T:g}")
        axes[2].plot(g["time"], g["chord_md"], "o-", color=col, label=f"MD T={T:g}")
        axes[2].plot(g["time"], g["chord_pred"], "s--", mfc="none", color=col, label=f"pred T={T:g}")
        # S4(q) at the sampled time closest to c = 0.5 (≈ τα of bond breaking)
        k = int(g.iloc[np.argmin(np.abs(g["c"].to_numpy() - 0.5))]["time_index"])
        sel = s4[(s4["T"] == T) & (s4["time_index"] == k)]
        for source, mk in (("md", "o"), ("pred", "s"), ("pred_large", "^")):
            ss = sel[sel["source"] == source]
            if len(ss):
                axes[0].plot(ss["q"], ss["s4"], mk, color=col, mfc="none" if source != "md" else col,
                             label=f"{source} T={T:g}")
    axes[0].set_xlabel("q")
    axes[0].set_ylabel(r"$S_4(q)$ at $\langle\bar C_B\rangle \approx 0.5$")
    axes[0].set_yscale("log")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("t")
    axes[1].set_ylabel(r"$\xi_4$ (Ornstein–Zernike)")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("t")
    axes[2].set_ylabel(r"$\langle\xi_{chord}\rangle$")
    for a in axes:
        a.legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)


def plot_attention(att: pd.DataFrame, path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, (T, g) in enumerate(att.groupby("T")):
        axes[0].errorbar(g["L"], g["P_int"], yerr=g["P_int_std"], marker="o", color=f"C{i}", label=f"T={T:g}")
    xi = att.groupby("T")[["xi_int", "xi_int_std"]].first().reset_index()
    axes[1].errorbar(xi["T"], xi["xi_int"], yerr=xi["xi_int_std"], marker="o")
    axes[0].set_xlabel("L")
    axes[0].set_ylabel(r"$P_{int}(L)$")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("T")
    axes[1].set_ylabel(r"$\xi_{int}$")
    if len(att):
        fig.suptitle(f"attention at c = {att['c'].iloc[0]:g}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_bottleneck(member, structures: dict, predictions: dict[str, list[dict]], path) -> None:
    """Bottleneck (b1, b2) of the A particles of the first configuration of each T, coloured by MD C_B."""
    import torch

    model, meta = member
    st = standardization_of(meta)
    temps = sorted(predictions, key=float)
    ncol = max(1, max(len(cells) for cells in predictions.values()))
    plt = _plt()
    fig, axes = plt.subplots(len(temps), ncol, figsize=(2.6 * ncol, 2.4 * len(temps)), squeeze=False)
    sc = None
    for r, T in enumerate(temps):
        cells = predictions[T]
        s = structures[(T, int(cells[0]["configurations"][0]))]
        x = st.apply(s.descriptors[s.a_mask])
        for cidx in range(ncol):
            ax = axes[r, cidx]
            if cidx >= len(cells):
                ax.axis("off")
                continue
            cell = cells[cidx]
            with torch.no_grad():
                b = model.encode(x, net.state_features(float(T), float(cell["c_input"][0]))).numpy()
            sc = ax.scatter(b[:, 0], b[:, 1], c=cell["bond_breaking"][0], s=3, cmap="coolwarm_r", vmin=0, vmax=1)
            ax.set_title(f"T={T} t={cell['time']:.3g} c={cell['c']:.2f}", fontsize=7)
            ax.tick_params(labelsize=6)
    if sc is not None:
        fig.colorbar(sc, ax=axes.ravel().tolist(), shrink=0.8, label=r"$C_B^i$ (MD)")
    _save(fig, path)
