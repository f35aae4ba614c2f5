"""The baselines' linear fit: ridge least squares on standardised features, accumulated per configuration."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from glassdyn.physics.correlation import pearson

log = logging.getLogger(__name__)


@dataclass
class Linear:
    """ŷ = b + ((x − mean) / std) · w."""

    mean: np.ndarray
    std: np.ndarray
    w: np.ndarray
    b: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.b + ((np.asarray(x, dtype=np.float64) - self.mean) / self.std) @ self.w


def fit_linear(parts, alpha: float) -> Linear:
    """Ridge least squares on standardised features: (ZᵀZ + α n I) w = Zᵀ(y − ȳ), b = ȳ.

    ``parts``: (x (n_c, F), y (n_c,)) per configuration, accumulated one at a
    time (memory O(F²), not O(n F)); the feature mean and std are accumulated
    about the first part's mean. Constant features get std 1 (and weight 0).
    """
    parts = [(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)) for x, y in parts]
    shift = parts[0][0].mean(axis=0)
    n = sum(len(y) for _, y in parts)
    s1 = sum((x - shift).sum(axis=0) for x, _ in parts)
    s2 = sum(((x - shift) ** 2).sum(axis=0) for x, _ in parts)
    y_mean = sum(y.sum() for _, y in parts) / n
    mean = shift + s1 / n
    std = np.sqrt(np.maximum(s2 / n - (s1 / n) ** 2, 0.0))
    std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    f = len(mean)
    a, b = alpha * n * np.eye(f), np.zeros(f)
    for x, y in parts:
        z = (x - mean) / std
        a += np.einsum("ni,nj->ij", z, z)
        b += np.einsum("ni,n->i", z, y - y_mean)
    return Linear(mean, std, np.linalg.lstsq(a, b, rcond=None)[0], float(y_mean))


@dataclass
class Configuration:
    """What one labels file gives a baseline: structure, graph, the labels at one time, the features."""

    c: int
    data: dict
    labels: dict
    features: dict = field(default_factory=dict)

    @property
    def a(self) -> np.ndarray:
        return self.data["types"] == 0


def _parts(confs: list[Configuration], feature: str, target: str) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(cf.features[feature][cf.a], cf.labels[target][cf.a]) for cf in confs]


def fit_baseline(feature: str, target: str, fit: list[Configuration], validation: list[Configuration],
                 alphas: list[float], alpha: float) -> tuple[Linear, float]:
    """The fitted baseline and its α: for ``ridge`` the α of ``alphas`` with the largest mean validation
    Pearson (ties: the larger α), else the fixed small ``alpha``."""
    parts = _parts(fit, feature, target)
    if feature != "ridge" or not validation:
        return fit_linear(parts, alpha), alpha
    best = (-math.inf, alphas[0])
    for a in sorted(alphas):
        model = fit_linear(parts, a)
        rs = [pearson(model(cf.features[feature][cf.a]), cf.labels[target][cf.a]) for cf in validation]
        r = float(np.mean([v for v in rs if np.isfinite(v)])) if np.isfinite(rs).any() else math.nan
        if np.isfinite(r) and r >= best[0]:
            best = (r, a)
    log.info("ridge on %s: alpha %g (validation Pearson %.4f)", target, best[1], best[0])
    return fit_linear(parts, best[1]), best[1]
