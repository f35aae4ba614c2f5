"""Rule ``dynamics``: ensemble dynamics of one temperature: F_s^A(k, t), MSD_A, χ4(t), τα and the MD checks.

Inputs are the ``labels.h5`` files of every configuration at T (their
per-replica ``fs_A`` and ``msd_A``, averaged over the A particles) and the
``replicas.h5`` files (energy drift and initial temperature of every NVE
replica). Conventions (SCIENCE.md §3–4, BOTAN Fig. 2):

- Means are over all (configuration, replica) trajectories; the error bars
  are standard errors over configurations (the replicas of one configuration
  share its structure, so they are not independent samples).
- χ4(t) = N_A (⟨Q̄²⟩ − ⟨Q̄⟩²) with Q̄ = F_s^A of one trajectory and the
  moments over all (configuration, replica) trajectories pooled: it holds
  both the iso-configurational (dynamical) and the structural fluctuations.
- τα two ways: (a) where the mean F_s^A crosses 1/e, interpolated linearly
  in log t between the bracketing sampling times, with a bootstrap over
  configurations for its error; (b) the τα parameter of a fit of the double
  stretched exponential F = (1 − A) exp(−(t/τ_s)^β_s) + A exp(−(t/τα)^β)
  (BOTAN) with errors from the fit covariance. With too few sampling times
  (fewer than ``dynamics.fit_min_times``) or no crossing, the value is NaN
  and the JSON says why; nothing fails.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as cfgmod
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.provenance import provenance
from glassdyn.physics.heterogeneity import chi4
from glassdyn.physics.relaxation import (
    _FIT_NAMES,
    LEVEL,
    bootstrap_crossing,
    crossing_time,
    double_stretched_exponential,
    fit_relaxation,
)
from glassdyn.physics.thermodynamics import energy_drift, kinetic_temperature

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- MD checks
#: What the per-temperature dynamics read: τα(T) for t/τα and the fit's start, the check limits,
#: the fit and bootstrap settings, k (recorded), the particle mass (T(0) of the replicas).
READS = reads("system.mass", "protocol.checks", "labels.k", "dynamics", "temperatures[T].tau_alpha")


def _replica_checks(path: str | Path, mass: float) -> tuple[np.ndarray, np.ndarray, str]:
    """(energy drift per replica, T(0) per replica, where they came from) of one replicas.h5."""
    with storage.open_h5(path) as f:
        try:
            if "checks/energy_drift" in f and "checks/temperature0" in f:
                return f["checks/energy_drift"][()], f["checks/temperature0"][()], "checks"
            for name in ("thermo/etotal", "thermo/step", "initial_velocities"):
                if name not in f:
                    raise storage.StorageError(path, f"missing dataset '{name}' (and no checks/ group)")
            e = f["thermo/etotal"][()]
            steps = f["thermo/step"][()]
            v = f["initial_velocities"][()]
            dt = float(f.attrs.get("timestep", np.nan))
        except (OSError, KeyError, ValueError) as exc:
            raise storage.StorageError(path, f"unreadable MD checks ({exc})") from exc
    drift = energy_drift(e, float(steps[-1] - steps[0]) * dt)
    t0 = np.array([kinetic_temperature(vr, mass) for vr in v])
    return drift, t0, "computed from thermo/etotal and initial_velocities"


def md_checks(cfg: dict, T: float, replica_paths: list[str | Path]) -> dict:
    """Energy drift and initial temperature of every replica at T against ``protocol.checks``.

    Drift = |E(t_run) − E(0)| / |E(0)| / t_run per replica (as glassdyn.md);
    T(0) = Σ m v² / (3N − 3) of the fresh velocities.
    """
    if not replica_paths:
        return {"available": False, "reason": "no replicas.h5 files (labels imported from published data?)"}
    mass = float(cfg["system"]["mass"])
    drifts, temps, sources = [], [], set()
    for p in replica_paths:
        d, t0, src = _replica_checks(p, mass)
        drifts.append(np.ravel(d))
        temps.append(np.ravel(t0))
        sources.add(src)
    drift = np.concatenate(drifts)
    temp = np.concatenate(temps)
    chk = cfg["protocol"]["checks"]
    max_drift, tol = chk["max_energy_drift"], chk["temperature_tolerance"]
    rel_dev = abs(float(temp.mean()) - T) / T
    return {
        "available": True,
        "source": sorted(sources),
        "n_replicas": int(drift.size),
        "energy_drift": {"mean": float(drift.mean()), "median": float(np.median(drift)), "max": float(drift.max()),
                         "limit": max_drift, "n_over_limit": int(np.sum(~(drift < max_drift))),
                         "ok": bool(np.all(drift < max_drift))},
        "temperature0": {"mean": float(temp.mean()), "std": float(temp.std(ddof=1)) if temp.size > 1 else 0.0,
                         "min": float(temp.min()), "max": float(temp.max()), "target": T,
                         "relative_deviation": rel_dev, "tolerance": tol, "ok": bool(rel_dev <= tol)},
    }


# --------------------------------------------------------------------------- one temperature
def _read_ensemble(label_paths: list[str | Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, list[str]]:
    """(times, fs (C, R, n_t), msd (C, R, n_t), N_A, skipped files) from the labels of one temperature."""
    times, fs, msd, n_a, skipped = None, [], [], None, []
    for p in label_paths:
        with storage.open_h5(p, required=("times", "types")) as f:
            if "fs_A" not in f or "msd_A" not in f:
                skipped.append(str(p))
                continue
            try:
                t, q, m, ty = f["times"][()], f["fs_A"][()], f["msd_A"][()], f["types"][()]
            except (OSError, ValueError) as exc:
                raise storage.StorageError(p, f"unreadable ensemble datasets ({exc})") from exc
        if times is None:
            times, n_a = t, int(np.sum(ty == 0))
        elif len(t) != len(times) or not np.allclose(t, times, rtol=1e-9, atol=0):
            raise storage.StorageError(p, f"sampling times {t.tolist()} differ from {label_paths[0]}'s "
                                          f"{times.tolist()}")
        if q.shape != m.shape or q.ndim != 2 or q.shape[1] != len(times):
            raise storage.StorageError(p, f"fs_A {q.shape} / msd_A {m.shape} do not match {len(times)} times")
        fs.append(q)
        msd.append(m)
    if not fs:
        return None, None, None, 0, skipped
    n_rep = min(q.shape[0] for q in fs)
    if any(q.shape[0] != n_rep for q in fs):
        log.warning("configurations have different replica counts; using the first %d of each", n_rep)
    return times, np.stack([q[:n_rep] for q in fs]), np.stack([m[:n_rep] for m in msd]), n_a, skipped


def _mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over (C, R) and standard error over configurations of x (C, R, n_t)."""
    per_config = x.mean(axis=1)
    n_c = per_config.shape[0]
    se = per_config.std(axis=0, ddof=1) / math.sqrt(n_c) if n_c > 1 else np.full(x.shape[2], np.nan)
    return per_config.mean(axis=0), se


def dynamics_table(times, fs, msd, n_a, tau_alpha) -> pd.DataFrame:
    """The dynamics.csv table: t, t/τα (τα of the configuration), F_s^A ± SE, MSD_A ± SE, χ4."""
    f_mean, f_err = _mean_se(fs)
    m_mean, m_err = _mean_se(msd)
    q = fs.reshape(-1, fs.shape[2])  # every (configuration, replica) trajectory is one sample
    return pd.DataFrame({"t": times, "t_over_tau": np.asarray(times) / tau_alpha, "fs": f_mean, "fs_err": f_err,
                         "msd": m_mean, "msd_err": m_err, "chi4": chi4(q, n_a)})


def temperature_dynamics(cfg: dict, T, label_paths, replica_paths, out_csv, out_json, out_png) -> dict:
    """Rule ``dynamics``: write dynamics.{csv,json,png} of temperature T; returns the JSON dict."""
    cfg = config_slice(cfg, READS, T=T)
    key = cfgmod.temperature_key(float(T))
    tau_cfg = float(cfgmod.temperature(cfg, key)["tau_alpha"])
    n_boot, min_fit = int(cfg["dynamics"]["bootstrap"]), int(cfg["dynamics"]["fit_min_times"])
    times, fs, msd, n_a, skipped = _read_ensemble(list(label_paths))
    summary: dict = {"T": float(T), "tau_alpha_config": tau_cfg, "k": cfg["labels"]["k"],
                     "n_label_files": len(label_paths), "skipped_label_files": skipped}
    if times is None:
        reason = "no labels file holds fs_A/msd_A (imported node labels only?)"
        table = pd.DataFrame({c: [] for c in ("t", "t_over_tau", "fs", "fs_err", "msd", "msd_err", "chi4")})
        summary.update(n_configurations=0, n_replicas=0, tau_alpha_1e=float("nan"), tau_alpha_1e_err=float("nan"),
                       tau_alpha_1e_reason=reason, fit={"success": False, "reason": reason},
                       tau_alpha_fit=float("nan"), tau_alpha_fit_err=float("nan"))
    else:
        table = dynamics_table(times, fs, msd, n_a, tau_cfg)
        f_config = fs.mean(axis=1)
        tau_1e = crossing_time(times, table["fs"].to_numpy())
        seed = cfgmod.derive_seed(float(T), "dynamics", "bootstrap")
        err_1e, n_ok = bootstrap_crossing(times, f_config, n_boot, seed)
        reason_1e = ""
        if not np.isfinite(tau_1e):
            reason_1e = ("F_s^A stays above 1/e at the last sampling time" if table["fs"].iloc[-1] >= LEVEL
                         else "F_s^A is below 1/e already at the first sampling time")
        elif not np.isfinite(err_1e):
            reason_1e = ("one configuration: no bootstrap error" if fs.shape[0] < 2
                         else "too few bootstrap resamples crossed 1/e")
        fit = fit_relaxation(times, table["fs"].to_numpy(), min_points=min_fit,
                             tau_guess=tau_1e if np.isfinite(tau_1e) else tau_cfg)
        summary.update(n_configurations=int(fs.shape[0]), n_replicas=int(fs.shape[1]), n_a=n_a,
                       times=[float(x) for x in times], tau_alpha_1e=tau_1e, tau_alpha_1e_err=err_1e,
                       tau_alpha_1e_bootstrap={"resamples": n_boot, "crossed": n_ok},
                       tau_alpha_1e_reason=reason_1e, fit=fit, tau_alpha_fit=fit["tau_alpha"],
                       tau_alpha_fit_err=fit["tau_alpha_err"])
    summary["md_checks"] = md_checks(cfg, float(T), list(replica_paths))
    summary["provenance"] = provenance(cfg, [*label_paths, *replica_paths], T=float(T))
    storage.write_csv(out_csv, table)
    storage.write_json(out_json, storage.json_safe(summary))
    plot_dynamics(table, summary, out_png)
    log.info("T=%s: tau_alpha 1/e = %.4g ± %.2g, fit = %.4g (%s)", key, summary["tau_alpha_1e"],
             summary["tau_alpha_1e_err"], summary["tau_alpha_fit"], summary["fit"].get("reason") or "ok")
    return summary


def plot_dynamics(table: pd.DataFrame, summary: dict, out_png: str | Path) -> Path:
    """Three panels like BOTAN Fig. 2: F_s^A(k, t) (log t) with the fit, MSD_A (log–log), χ4(t)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    T = summary["T"]
    if len(table):
        t = table["t"].to_numpy()
        ax[0].errorbar(t, table["fs"], yerr=table["fs_err"].fillna(0), fmt="o", ms=4, capsize=2, label="MD")
        fit = summary.get("fit", {})
        if fit.get("success"):
            dense = np.geomspace(t.min() / 3, t.max() * 3, 300)
            ax[0].plot(dense, double_stretched_exponential(dense, *[fit[k] for k in _FIT_NAMES]), "-",
                       label=f"fit: τα = {fit['tau_alpha']:.3g}, β = {fit['beta']:.2f}")
        ax[0].axhline(LEVEL, color="0.6", lw=0.8, ls=":")
        for tau, style, lab in ((summary.get("tau_alpha_1e"), "--", "1/e crossing"),
                                (summary.get("tau_alpha_config"), ":", "τα (config)")):
            if tau is not None and np.isfinite(tau):
                ax[0].axvline(tau, color="k", ls=style, lw=0.8, label=f"{lab} {tau:.3g}")
        ax[1].errorbar(t, table["msd"], yerr=table["msd_err"].fillna(0), fmt="s", ms=4, capsize=2)
        ax[1].set_yscale("log")
        ax[2].plot(t, table["chi4"], "^-", ms=4)
    else:
        for a in ax:
            a.text(0.5, 0.5, "no F_s data", ha="center", va="center", transform=a.transAxes)
    for a in ax:
        if len(table):
            a.set_xscale("log")
        a.set_xlabel("t")
    ax[0].set_ylabel("$F_s^A(k, t)$")
    ax[0].set_title(f"T = {T:g}, k = {summary.get('k') or float('nan'):.3g}")
    if len(table):
        ax[0].legend(fontsize=7)
    ax[1].set_ylabel("MSD$_A$")
    ax[2].set_ylabel(r"$\chi_4(t)$")
    with storage.atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(out_png)
