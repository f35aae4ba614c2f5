"""physics.relaxation pinned by hand: the 1/e crossing's data filter, the bootstrap against a by-hand
resampling, and what fit_relaxation returns (keys, bounds, errors, residual, the fitted crossing, failure).

The fits of a known relaxation are in test_dynamics.py; these tests pin the parts those cannot see (issue 18:
mutants of these functions survived the suite).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import brentq, curve_fit

from glassdyn.physics.relaxation import (
    LEVEL,
    bootstrap_crossing,
    crossing_time,
    double_stretched_exponential,
    fit_relaxation,
)

T14 = np.geomspace(0.1, 1000, 14)
TRUE = (0.7, 0.4, 1.6, 50.0, 0.8)                       # A, τ_s, β_s, τα, β
NAMES = ("A", "tau_s", "beta_s", "tau_alpha", "beta")
FIT_KEYS = {"success", "reason", "tau_alpha_1e", *NAMES, *(n + "_err" for n in NAMES)}


def _f(t, params=TRUE):
    return double_stretched_exponential(t, *params)


def _log_crossing(t0, f0, t1, f1, level=LEVEL):
    return math.exp(math.log(t0) + (f0 - level) / (f0 - f1) * math.log(t1 / t0))


# --------------------------------------------------------------------------- crossing_time
def test_crossing_time_skips_nan_values_and_non_positive_times():
    """NaN values and t <= 0 are dropped before the bracket is found; times below 1 are kept."""
    t = np.array([0.0, 0.2, 0.4, 0.8, 1.6])
    f = np.array([1.0, 0.9, np.nan, 0.2, 0.1])
    assert crossing_time(t, f) == pytest.approx(_log_crossing(0.2, 0.9, 0.8, 0.2), rel=1e-12)
    # the crossing between t = 0 and the first positive time has no bracket: NaN, not log(0)
    assert math.isnan(crossing_time(np.array([0.0, 0.5, 1.0]), np.array([1.0, 0.2, 0.1])))


def test_crossing_time_at_another_level():
    t = np.array([1.0, 2.0, 4.0])
    f = np.array([0.9, 0.6, 0.3])
    assert crossing_time(t, f, level=0.5) == pytest.approx(_log_crossing(2.0, 0.6, 4.0, 0.3, 0.5), rel=1e-12)


# --------------------------------------------------------------------------- bootstrap_crossing
def _curves(n_c=5, seed=1):
    """n_c configurations, each a stretched exponential with its own τ (0.5..2 around 3)."""
    tau = 3.0 * np.random.default_rng(seed).uniform(0.5, 2.0, n_c)
    return np.exp(-(T14[None, :] / tau[:, None]) ** 0.8)


def _by_hand_bootstrap(f_config, n_boot, seed, level=LEVEL):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, f_config.shape[0], size=(n_boot, f_config.shape[0]))
    taus = [crossing_time(T14, f_config[i].mean(axis=0), level) for i in idx]
    taus = np.array([x for x in taus if np.isfinite(x)])
    return float(np.std(taus, ddof=1)), len(taus)


@pytest.mark.parametrize("level", [LEVEL, 0.5])
def test_bootstrap_equals_a_by_hand_resampling(level):
    """Resampling configurations with replacement (numpy Generator(seed).integers(0, C)), σ with ddof 1."""
    f_config = _curves()
    got = bootstrap_crossing(T14, f_config, 200, seed=17, level=level)
    want = _by_hand_bootstrap(f_config, 200, 17, level)
    assert got[1] == want[1] == 200
    assert got[0] == pytest.approx(want[0], rel=1e-12) and got[0] > 0
    assert bootstrap_crossing(T14, f_config, 200, seed=18, level=level)[0] != got[0]   # the seed is used


def test_bootstrap_edge_cases():
    f_config = _curves()
    assert np.isfinite(bootstrap_crossing(T14, f_config, 2, seed=3)[0])      # two resamples suffice
    value, n = bootstrap_crossing(T14, f_config[:1], 100, seed=3)           # one configuration
    assert math.isnan(value) and n == 0
    value, n = bootstrap_crossing(T14, f_config, 1, seed=3)                 # one resample
    assert math.isnan(value) and n == 0
    value, n = bootstrap_crossing(T14, np.full((4, len(T14)), 0.9), 50, seed=3)   # nothing crosses
    assert math.isnan(value) and n == 0


# --------------------------------------------------------------------------- fit_relaxation
def test_fit_result_keys_residual_and_fitted_crossing():
    """A good fit: reason "", the residual is that of the returned parameters, and τα(1/e) of the fit is the
    root of the fitted curve at 1/e, here below 100 × the first sampling time."""
    params = (0.2, 0.3, 1.0, 200.0, 0.8)                 # a large fast part: F crosses 1/e at t ≈ 0.47
    rng = np.random.default_rng(5)
    f = _f(T14, params) + rng.normal(0, 0.002, len(T14))
    fit = fit_relaxation(T14, f)
    assert set(fit) == FIT_KEYS | {"residual_rms"}
    assert fit["success"] is True and fit["reason"] == ""
    vals = [fit[n] for n in NAMES]
    rms = math.sqrt(np.mean((_f(T14, vals) - f) ** 2))
    assert fit["residual_rms"] == pytest.approx(rms, rel=1e-9)
    root = brentq(lambda x: _f(x, vals) - LEVEL, 0.01, 10.0)
    assert root < 10 * T14[0]
    assert fit["tau_alpha_1e"] == pytest.approx(root, rel=1e-4)


def test_fit_errors_are_the_scaled_covariance_in_log_times():
    """σ of A, β_s, β: √diag of curve_fit's covariance (scaled by the residual variance) at the optimum;
    σ_τ = τ σ_lnτ for both times."""
    f = _f(T14) + np.random.default_rng(3).normal(0, 0.004, len(T14))
    fit = fit_relaxation(T14, f)

    def model(t, a, ln_ts, bs, ln_ta, b):
        return double_stretched_exponential(t, a, np.exp(ln_ts), bs, np.exp(ln_ta), b)

    p = [fit["A"], math.log(fit["tau_s"]), fit["beta_s"], math.log(fit["tau_alpha"]), fit["beta"]]
    _, pcov = curve_fit(model, T14, f, p0=p)
    sd = np.sqrt(np.diag(pcov))
    want = {"A": sd[0], "tau_s": fit["tau_s"] * sd[1], "beta_s": sd[2], "tau_alpha": fit["tau_alpha"] * sd[3],
            "beta": sd[4]}
    for name, value in want.items():
        assert fit[name + "_err"] == pytest.approx(value, rel=2e-2), name


@pytest.mark.parametrize("f, name, bound", [
    (1.2 * np.exp(-(T14 / 50.0) ** 0.8) - 0.2 * np.exp(-(T14 / 0.4) ** 1.6), "A", 1.0),   # "A = 1.2"
    (_f(T14, (0.7, 0.4, 3.8, 50.0, 0.8)), "beta_s", 3.0),
    (_f(T14, (0.7, 0.4, 1.6, 50.0, 2.6)), "beta", 2.0),
], ids=["A<=1", "beta_s<=3", "beta<=2"])
def test_fit_parameters_stay_in_their_bounds(f, name, bound):
    """0 ≤ A ≤ 1 (a fraction), β_s ≤ 3, β ≤ 2: data that would want more get at most the bound."""
    fit = fit_relaxation(T14, f)
    assert fit["success"] and fit[name] <= bound + 1e-9
    if name != "A":
        assert fit[name] == pytest.approx(bound, abs=1e-6)


def test_fit_needs_six_times_whatever_min_points_says():
    f = _f(T14)
    six = np.geomspace(0.1, 1000, 6)
    assert fit_relaxation(six, _f(six))["success"]                 # the default minimum is six
    assert fit_relaxation(six, _f(six), min_points=1)["success"]
    assert fit_relaxation(six, _f(six), min_points=6)["success"]
    five = fit_relaxation(T14[::3], f[::3], min_points=1)
    assert set(five) == FIT_KEYS and five["success"] is False
    assert five["reason"] == "5 sampling times: a 5-parameter fit needs at least 6 (dynamics.fit_min_times)"
    assert all(math.isnan(five[k]) for k in FIT_KEYS - {"success", "reason"})
    assert "needs at least 15" in fit_relaxation(T14, f, min_points=15)["reason"]


def test_fit_drops_nan_values_and_non_positive_times():
    f = _f(T14)
    ref = fit_relaxation(T14, f)
    t = np.concatenate([[0.0], T14, [2000.0]])
    g = np.concatenate([[1.0], f, [np.nan]])
    fit = fit_relaxation(t, g)
    for name in NAMES:
        assert fit[name] == pytest.approx(ref[name], rel=1e-9), name


def test_fit_failure_is_reported_not_raised(monkeypatch):
    """Every start failing gives success False, NaN and curve_fit's message; one failing start is skipped."""
    def failing(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(scipy.optimize, "curve_fit", failing)
    fit = fit_relaxation(T14, _f(T14))
    assert set(fit) == FIT_KEYS
    assert fit["success"] is False and fit["reason"] == "curve_fit failed: Optimal parameters not found"
    assert all(math.isnan(fit[k]) for k in FIT_KEYS - {"success", "reason"})

    calls = []

    def first_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first start failed")
        return curve_fit(*args, **kwargs)

    monkeypatch.setattr(scipy.optimize, "curve_fit", first_fails)
    fit = fit_relaxation(T14, _f(T14))
    assert len(calls) == 3 and fit["success"] and fit["tau_alpha"] == pytest.approx(50.0, rel=1e-6)


def test_undefined_covariance_gives_nan_errors_and_says_so(monkeypatch):
    def no_covariance(*args, **kwargs):
        popt, pcov = curve_fit(*args, **kwargs)
        return popt, np.full_like(pcov, np.inf)

    monkeypatch.setattr(scipy.optimize, "curve_fit", no_covariance)
    fit = fit_relaxation(T14, _f(T14))
    assert fit["success"] and fit["reason"] == "fit converged but its covariance is undefined"
    assert fit["tau_alpha"] == pytest.approx(50.0, rel=1e-6)
    assert all(math.isnan(fit[n + "_err"]) for n in NAMES)
