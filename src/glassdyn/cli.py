"""The ``glassdyn`` command: one subcommand per workflow rule, plus user tools.

Rules call it with explicit inputs and outputs and the slice of the campaign
configuration they depend on (``--params`` JSON, so that Snakemake reruns a
job exactly when its own settings change). A person can call the same
subcommands with ``--config config.yaml [--config override.yaml]`` instead.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import config as cfgmod


def _load_cfg(args) -> dict:
    """The configuration of a subcommand: ``--params`` JSON or ``--config`` files."""
    if getattr(args, "params", None):
        return json.loads(args.params)
    files = args.config or [str(cfgmod.ROOT / "config.yaml")]
    return cfgmod.load(*files)


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--params", help="JSON slice of the campaign configuration (what rules pass)")
    g.add_argument("--config", action="append", help="config YAML file(s), later ones override (default: config.yaml)")


# ---------------------------------------------------------------- MD
def cmd_equilibrate(a):
    from . import md
    md.equilibrate(_load_cfg(a), a.T, a.c, a.output, checkpoint_dir=a.checkpoint_dir)


def cmd_replicas(a):
    from . import md
    md.run_replicas(_load_cfg(a), a.T, a.c, a.input, a.output, checkpoint_dir=a.checkpoint_dir)


# ---------------------------------------------------------------- labels
def cmd_labels(a):
    from . import labels
    labels.extract_labels(_load_cfg(a), a.input, a.output)


def cmd_dynamics(a):
    from . import dynamics
    dynamics.temperature_dynamics(_load_cfg(a), a.T, a.labels, a.replicas, a.output_csv, a.output_json, a.output_png)


# ---------------------------------------------------------------- learning
def cmd_train(a):
    from . import training
    training.train_cell(_load_cfg(a), a.model, a.T, a.time_index, a.labels, a.output_dir,
                        pretrained=a.pretrained, pretrain=a.pretrain)


def cmd_evaluate(a):
    from . import evaluation
    evaluation.evaluate_cell(_load_cfg(a), a.model_file, a.labels, a.output)


def cmd_report(a):
    from . import report
    report.make_report(_load_cfg(a), a.evaluations, a.dynamics, a.output_dir)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="glassdyn", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate-config", help="validate config files and print the merged result")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=lambda a: print(json.dumps(cfgmod.load(*a.files), indent=2)))

    p = sub.add_parser("check-install", help="check that LAMMPS, MPICH and torch load")
    p.set_defaults(func=lambda a: print(json.dumps(__import__("glassdyn.runtime").runtime.check_install(), indent=2)))

    p = sub.add_parser("equilibrate", help="random start -> T_high hold -> quench -> Nosé–Hoover hold (LAMMPS)")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int, help="configuration index")
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint-dir", help="restart segments (default: beside the output)")
    p.set_defaults(func=cmd_equilibrate)

    p = sub.add_parser("replicas", help="iso-configurational NVE replicas from an equilibrated frame")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int)
    p.add_argument("--input", required=True, help="equilibrated.h5")
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint-dir")
    p.set_defaults(func=cmd_replicas)

    p = sub.add_parser("labels", help="dynamical labels and the t = 0 graph of one configuration")
    _common(p)
    p.add_argument("--input", required=True, help="replicas.h5")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_labels)

    p = sub.add_parser("dynamics", help="F_s, tau_alpha, MSD, chi4 and MD checks of one temperature")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--replicas", nargs="+", required=True)
    p.add_argument("--output-csv", required=True)
    p.add_argument("--output-json", required=True)
    p.add_argument("--output-png", required=True)
    p.set_defaults(func=cmd_dynamics)

    p = sub.add_parser("train", help="train one (model, T, time) cell")
    _common(p)
    p.add_argument("--model", required=True)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--time-index", required=True, type=int)
    p.add_argument("--labels", nargs="+", required=True, help="labels.h5 of the training configurations")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--pretrained", help="model.pt to start from")
    p.add_argument("--pretrain", action="store_true", help="BOTAN pretraining: p = 0 on edges")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="Pearson correlations of one trained cell on test configurations")
    _common(p)
    p.add_argument("--model-file", required=True)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("report", help="campaign table and figures")
    _common(p)
    p.add_argument("--evaluations", nargs="*", default=[])
    p.add_argument("--dynamics", nargs="*", default=[])
    p.add_argument("--output-dir", required=True)
    p.set_defaults(func=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except (cfgmod.ConfigError, OSError, ValueError) as exc:
        logging.getLogger("glassdyn").error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
