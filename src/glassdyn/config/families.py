"""The one registry of model families: the names ``models.enabled`` may hold and what each one is.

Adding a family touches this table, its own subpackage (``glassdyn/<kind>/``)
and its own rule file (``workflow/rules/<kind>.smk``); the configuration
checks, the workflow's target lists, ``plan``, ``status`` and ``predict``
all read it. Networks are named as ``module:Class`` and imported only where
they are built (this module needs no torch).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A model family: its pipeline ``kind`` and its network class ``module:Class``."""

    name: str
    kind: str  # "gnn": one network per (T, t) cell; "tglassmlp": one for every (T, t); "ogn": learned simulator
    network: str
    description: str


_INTERACTION_NETWORK = "glassdyn.models.interaction_network:InteractionNetwork"

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("ntgnn", "gnn", _INTERACTION_NETWORK, "NT-GNN (Bapst et al.): interaction network on propensity, p = 1"),
    Family("botan", "gnn", _INTERACTION_NETWORK, "BOTAN: interaction network on propensity and pair-distance "
                                                 "change, p = 0.4, pretrained on edges"),
    Family("tglassmlp", "tglassmlp", "glassdyn.models.tglassmlp:TGlassMLP",
           "transferable GlassMLP: one network for every (T, t), on inherent-structure descriptors"),
    Family("ogn", "ogn", "glassdyn.models.ogn:OGN", "OGN learned simulator (Liu et al.)"),
)}

#: Where a trained model of each kind lives under ``results/`` (for messages that point to the right file).
MODEL_FILES = {"gnn": "train/{model}/T<T>/t<k>/model.pt", "tglassmlp": "train/tglassmlp/<variant>/m<m>/model.pt",
               "ogn": "ogn/train/<variant>/<source>/model.pt"}


def family(name: str) -> Family:
    """The family of model ``name``; KeyError names the known ones."""
    if name not in FAMILIES:
        raise KeyError(f"unknown model '{name}'; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def enabled(cfg: dict, kind: str | None = None) -> list[str]:
    """The families in ``models.enabled`` (of ``kind`` when given), in the configuration's order."""
    return [m for m in cfg["models"]["enabled"] if kind is None or FAMILIES[m].kind == kind]
