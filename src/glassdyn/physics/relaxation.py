"""Structural relaxation of F_s(k, t): the 1/e crossing with its bootstrap error, and the BOTAN fit.

τα two ways: (a) where F_s crosses 1/e, interpolated linearly in log t
between the bracketing sampling times, with a bootstrap over configurations
for its error; (b) the τα parameter of a fit of the double stretched
exponential F = (1 − A) exp(−(t/τ_s)^β_s) + A exp(−(t/τα)^β) (BOTAN) with
errors from the fit covariance.
"""
from __future__ import annotations

import math

import numpy as np

LEVEL = 1.0 / math.e


# --------------------------------------------------------------------------- relaxation functions
def double_stretched_exponential(t, A, tau_s, beta_s, tau_alpha, beta):
    """F(t) = (1 − A) exp(−(t/τ_s)^β_s) + A exp(−(t/τα)^β) (dimensionless; t, τ in LJ time)."""
    t = np.asarray(t, dtype=np.float64)
    return (1.0 - A) * np.exp(-(t / tau_s) ** beta_s) + A * np.exp(-(t / tau_alpha) ** beta)


def crossing_time(t: np.ndarray, f: np.ndarray, level: float = LEVEL) -> float:
    """First time where ``f`` falls below ``level``, interpolated linearly in (log t, f).

    NaN if ``f`` never goes below ``level`` or starts below it (no bracket).
    """
    t = np.asarray(t, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    ok = np.isfinite(f) & (t > 0)
    t, f = t[ok], f[ok]
    below = np.flatnonzero(f < level)
    if len(below) == 0 or below[0] == 0:
        return float("nan")
    k = below[0]
    lt0, lt1 = math.log(t[k - 1]), math.log(t[k])
    frac = (f[k - 1] - level) / (f[k - 1] - f[k])
    return float(math.exp(lt0 + frac * (lt1 - lt0)))


def bootstrap_crossing(t: np.ndarray, f_config: np.ndarray, n_boot: int, seed: int,
                       level: float = LEVEL) -> tuple[float, int]:
    """Standard deviation of :func:`crossing_time` of the mean curve over configurations resampled
    with replacement (``f_config`` (C, n_t)), and the number of resamples that crossed.

    NaN with fewer than two configurations or fewer than two finite resamples.
    """
    n_c = f_config.shape[0]
    if n_c < 2 or n_boot < 2:
        return float("nan"), 0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_c, size=(n_boot, n_c))
    means = f_config[idx].mean(axis=1)
    taus = np.array([crossing_time(t, m, level) for m in means])
    taus = taus[np.isfinite(taus)]
    if len(taus) < 2:
        return float("nan"), len(taus)
    return float(np.std(taus, ddof=1)), len(taus)


_FIT_NAMES = ("A", "tau_s", "beta_s", "tau_alpha", "beta")


def fit_relaxation(t: np.ndarray, f: np.ndarray, min_points: int = 6, tau_guess: float | None = None) -> dict:
    """Least-squares fit of :func:`double_stretched_exponential` to a mean F_s(t).

    Returns ``{"success", "reason", A, A_err, tau_s, tau_s_err, beta_s, ...,
    tau_alpha, tau_alpha_err, beta, beta_err, "tau_alpha_1e"}`` where
    ``tau_alpha_1e`` is where the fitted curve crosses 1/e. Times enter the fit
    through ln τ (positive, well scaled); errors are the square roots of the
    covariance diagonal (scaled by the residual variance), with
    σ_τ = τ σ_lnτ. Bounds: 0 ≤ A ≤ 1, 0.2 ≤ β_s ≤ 3, 0.1 ≤ β ≤ 2, both τ
    within e⁵ of the sampled window; the best of three starts (τ_s at the
    first time, at √(t_min τ_guess), at τ_guess/100) is kept. The slower
    component is called α (the bounds hold for the slots before that
    relabelling). Never raises: a failed or impossible fit gives NaN and
    ``reason``.
    """
    from scipy.optimize import curve_fit

    out = {"success": False, "reason": ""}
    for k in _FIT_NAMES:
        out[k] = out[k + "_err"] = float("nan")
    out["tau_alpha_1e"] = float("nan")
    t = np.asarray(t, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    ok = np.isfinite(f) & (t > 0)
    t, f = t[ok], f[ok]
    if len(t) < max(min_points, len(_FIT_NAMES) + 1):
        out["reason"] = (f"{len(t)} sampling times: a 5-parameter fit needs at least "
                         f"{max(min_points, len(_FIT_NAMES) + 1)} (dynamics.fit_min_times)")
        return out

    def model(tt, a, ln_ts, bs, ln_ta, b):
        return double_stretched_exponential(tt, a, np.exp(ln_ts), bs, np.exp(ln_ta), b)

    lo_t, hi_t = math.log(t.min()) - 5.0, math.log(t.max()) + 5.0
    lower = [0.0, lo_t, 0.2, lo_t, 0.1]
    upper = [1.0, hi_t, 3.0, hi_t, 2.0]
    ta0 = tau_guess if tau_guess and np.isfinite(tau_guess) else float(np.exp(np.mean(np.log(t))))
    best, reason = None, ""
    for ts0 in (t.min(), math.sqrt(t.min() * ta0), ta0 / 100.0):
        p0 = [0.8, math.log(max(ts0, 1e-12)), 1.5, math.log(ta0), 0.8]
        p0 = list(np.clip(p0, np.array(lower) + 1e-9, np.array(upper) - 1e-9))
        try:
            popt, pcov = curve_fit(model, t, f, p0=p0, bounds=(lower, upper), maxfev=20000)
        except (RuntimeError, ValueError) as exc:
            reason = f"curve_fit failed: {exc}"
            continue
        res = float(np.sum((model(t, *popt) - f) ** 2))
        if best is None or res < best[0]:
            best = (res, popt, pcov)
    if best is None:
        out["reason"] = reason
        return out
    _, popt, pcov = best
    err = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.full(5, np.nan)
    a, ln_ts, bs, ln_ta, b = popt
    ea, e_lts, ebs, e_lta, eb = err
    if ln_ts > ln_ta:  # relabel so that the α component is the slower one (same function)
        a, ln_ts, bs, ln_ta, b = 1.0 - a, ln_ta, b, ln_ts, bs
        ea, e_lts, ebs, e_lta, eb = ea, e_lta, eb, e_lts, ebs
    vals = {"A": a, "tau_s": math.exp(ln_ts), "beta_s": bs, "tau_alpha": math.exp(ln_ta), "beta": b}
    errs = {"A": ea, "tau_s": math.exp(ln_ts) * e_lts, "beta_s": ebs, "tau_alpha": math.exp(ln_ta) * e_lta,
            "beta": eb}
    for k in _FIT_NAMES:
        out[k], out[k + "_err"] = float(vals[k]), float(errs[k])
    dense = np.geomspace(t.min() / 100.0, t.max() * 100.0, 4000)
    out["tau_alpha_1e"] = crossing_time(dense, double_stretched_exponential(dense, *[vals[k] for k in _FIT_NAMES]))
    out["success"] = True
    out["reason"] = "" if np.all(np.isfinite(err)) else "fit converged but its covariance is undefined"
    out["residual_rms"] = float(math.sqrt(best[0] / len(t)))
    return out
