"""Baselines fitted beside the models and scored exactly like them (SCIENCE.md §7).

A model that does not beat a linear function of a simple structural quantity
has not learned more structure than that quantity holds. Each baseline is a
linear model ŷ_i = b + Σ_f w_f x_if on per-particle features x_i of the t = 0
structure, fitted by least squares (ridge penalty α·n·|w|² on standardised
features) on the A particles of the *fit* configurations of one (T, time)
cell — the training configurations minus the validation ones, as for the
networks — and scored on the test configurations with
:func:`glassdyn.physics.scoring.score_row` (A particles, the same Pearson code and the
same eval-CSV layout, ``eval/baseline-<name>/T{T}/t{k}.csv``).

Features (``baselines.enabled``):

- ``neighbours``: the numbers of A and of B neighbours j with
  r_ij(0) < a_in σ_αβ (``labels.bond_a_in``: the first shell, the bonds of C_B);
- ``density``: the numbers of A and of B particles within the graph cutoff r_e;
- ``epot``: the potential energy per particle E_i = ½ Σ_j V(r_ij) of the t = 0 frame;
- ``epot_is``: E_i in the inherent structure (``inherent/T{T}/c{c}.h5``);
- ``ridge``: the tGlassMLP descriptors (``tglassmlp/descriptors``), with α
  chosen on the validation configurations from ``baselines.ridge_alphas``
  (largest mean per-configuration Pearson).

``epot_is`` and ``ridge`` use files the tGlassMLP part of the campaign makes,
so they run only when ``tglassmlp`` is enabled. Each baseline is fitted to
every label of ``baselines.targets``: ``baseline-<name>`` on the propensity,
``baseline-<name>-cb`` on the bond breaking C_B (tGlassMLP's label).
"""
from __future__ import annotations

from glassdyn.baselines import published
from glassdyn.baselines.rule import FEATURES, READS, baselines_rule, model_names, needs, settings

__all__ = ["FEATURES", "READS", "baselines_rule", "model_names", "needs", "published", "settings"]
