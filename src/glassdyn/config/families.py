"""The one registry of model families: the names ``models.enabled`` may hold and what each one is.

Adding a family touches this table, its own subpackage (``glassdyn/<kind>/``)
and its own rule file (``workflow/rules/<kind>.smk``); the configuration
checks, the workflow's target lists, ``plan``, ``status`` and ``predict``
all read it. Networks are named as ``module:Class`` and imported only where
they are built (this module needs no torch).

A user's own network joins the same table from the configuration: a
``models.<name>`` section with ``network: "module:Class"`` (or
``path/to/file.py:Class``) is a family of kind ``gnn`` (trained and evaluated
per (T, t) cell like NT-GNN and BOTAN; interface: :mod:`glassdyn.models.user`).
:func:`families` is the built-in table plus those.
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


#: The kind of every user's network (``models.<name>.network``): one network per (T, t) cell.
USER_KIND = "gnn"


def user_families(cfg: dict) -> dict[str, Family]:
    """The users' networks of ``cfg``: every ``models.<name>`` section with a ``network`` (``module:Class``)."""
    return {name: Family(name, USER_KIND, str(m["network"]), f"user network {m['network']}")
            for name, m in cfg.get("models", {}).items()
            if name not in FAMILIES and isinstance(m, dict) and "network" in m}


def families(cfg: dict | None = None) -> dict[str, Family]:
    """The built-in families and, with ``cfg``, its users' networks."""
    return {**FAMILIES, **(user_families(cfg) if cfg is not None else {})}


def family(name: str, cfg: dict | None = None) -> Family:
    """The family of model ``name`` (a user's network when ``cfg`` defines it); KeyError names the known ones."""
    known = families(cfg)
    if name not in known:
        raise KeyError(f"unknown model '{name}'; known: {', '.join(known)}")
    return known[name]


def enabled(cfg: dict, kind: str | None = None) -> list[str]:
    """The families in ``models.enabled`` (of ``kind`` when given), in the configuration's order.

    A name that is no built-in family is a user's network (kind :data:`USER_KIND`; the configuration checks
    made sure it has its section), also in a step's slice that holds ``models.enabled`` without that section.
    """
    known = families(cfg)
    return [m for m in cfg["models"]["enabled"]
            if kind is None or (known[m].kind if m in known else USER_KIND) == kind]
