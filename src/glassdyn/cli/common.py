"""What every subcommand shares: where its configuration comes from, and its execution settings' defaults."""
from __future__ import annotations

import argparse
import json

import torch

from glassdyn import config as gcfg
from glassdyn.config.slices import Reads, config_slice


def add_config(p: argparse.ArgumentParser) -> None:
    """``--params`` (the slice a rule passes) or ``--config`` files (merged over the defaults, validated)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--params", help="JSON slice of the campaign configuration (what rules pass)")
    g.add_argument("--config", action="append",
                   help="config YAML file(s) merged over the defaults (config.yaml), later ones win")


def step_config(args, declared: Reads, **wildcards) -> dict:
    """The configuration a step reads: the rule's ``--params`` as given, or ``--config`` cut to ``declared``."""
    if args.params:
        return json.loads(args.params)
    return config_slice(gcfg.load(*(args.config or [])), declared, **wildcards)


def full_config(args) -> dict:
    """The whole configuration behind a command: ``--config`` files, or ``--params`` over the defaults.

    Used only for execution settings a rule passes as options (threads, ranks,
    segment length, device, check limits) when a caller leaves them out.
    """
    if getattr(args, "params", None):
        return gcfg.deep_merge(gcfg.load(), json.loads(args.params))
    return gcfg.load(*(getattr(args, "config", None) or []))


def set_torch_threads(n: int) -> None:
    torch.set_num_threads(max(1, int(n)))
