"""The part of a configuration one step reads: its declaration, and the slice cut by it.

Every workflow step declares, beside its code, the configuration keys its
computation reads (:class:`Reads`). The rule passes exactly that slice, narrowed
to the job's wildcards, as ``--params`` JSON: Snakemake reruns a finished job
when its slice changes and for no other edit, and the step sees nothing it did
not declare (an undeclared read is a ``KeyError``, caught by the tests that run
every step through Snakemake).

Path grammar, one dotted path per entry:

* ``system`` — a whole section; ``protocol.T_high`` — one key, nested as in the
  configuration.
* ``models.{model}.lr`` — ``{name}`` is replaced by the job's wildcard.
* ``temperatures[T]`` — the entry of the job's temperature (wildcard ``T``);
  ``temperatures[T].tau_alpha`` — only that key of it (``T`` is always kept);
  ``temperatures[*].times`` — that key of every temperature; ``temperatures``
  — the whole list.

A path whose section is absent from the configuration (an optional section
such as ``source``) is left out of the slice.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from glassdyn.config.derived import temperature_key

_TEMPERATURES = re.compile(r"^temperatures\[(T|\*)\](?:\.(.+))?$")


@dataclass(frozen=True)
class Reads:
    """The configuration paths one step reads (see the module docstring for the grammar)."""

    paths: tuple[str, ...]

    def __add__(self, other: Reads) -> Reads:
        return Reads(tuple(dict.fromkeys(self.paths + other.paths)))


def reads(*paths: str) -> Reads:
    """A :class:`Reads` declaration from dotted paths."""
    return Reads(tuple(paths))


def _get(cfg: Any, keys: list[str]) -> tuple[bool, Any]:
    for k in keys:
        if not isinstance(cfg, dict) or k not in cfg:
            return False, None
        cfg = cfg[k]
    return True, cfg


def _put(out: dict, keys: list[str], value: Any) -> None:
    for k in keys[:-1]:
        out = out.setdefault(k, {})
    out[keys[-1]] = copy.deepcopy(value)


def _temperature_entries(cfg: dict, which: str, key: str | None, wildcards: dict) -> list[dict]:
    entries = cfg["temperatures"]
    if which == "T":
        if "T" not in wildcards:
            raise KeyError("a path 'temperatures[T]' needs the wildcard T")
        entries = [t for t in entries if temperature_key(t["T"]) == temperature_key(float(wildcards["T"]))]
    if key is None:
        return copy.deepcopy(entries)
    return [{"T": t["T"], **({key: copy.deepcopy(t[key])} if key in t else {})} for t in entries]


def _merge_temperatures(out: dict, entries: list[dict]) -> None:
    have = {temperature_key(t["T"]): t for t in out.setdefault("temperatures", [])}
    for e in entries:
        k = temperature_key(e["T"])
        if k in have:
            have[k].update(e)
        else:
            out["temperatures"].append(e)
            have[k] = e
    out["temperatures"].sort(key=lambda t: float(t["T"]))


def config_slice(cfg: dict, declared: Reads, **wildcards: Any) -> dict:
    """The part of ``cfg`` that ``declared`` names, narrowed to ``wildcards``; same nesting as ``cfg``."""
    out: dict = {}
    for path in declared.paths:
        path = path.format(**wildcards)
        m = _TEMPERATURES.match(path)
        if m:
            _merge_temperatures(out, _temperature_entries(cfg, m.group(1), m.group(2), wildcards))
            continue
        keys = path.split(".")
        if keys == ["temperatures"]:
            out["temperatures"] = copy.deepcopy(cfg["temperatures"])
            continue
        found, value = _get(cfg, keys)
        if found:
            _put(out, keys, value)
    return out


def slice_json(cfg: dict, declared: Reads, **wildcards: Any) -> str:
    """:func:`config_slice` as canonical JSON (sorted keys): the ``--params`` of a rule."""
    return json.dumps(config_slice(cfg, declared, **wildcards), sort_keys=True)
