"""Subcommands of the campaign rules: ``report`` (and ``temperature``, which runs it for one T)."""
from __future__ import annotations

from glassdyn.campaign import report
from glassdyn.cli.common import add_config, step_config


def cmd_report(a):
    report.make_report(step_config(a, report.READS), a.evaluations, a.dynamics, a.output_dir)


def register(sub) -> None:
    p = sub.add_parser("report", help="campaign table and figures")
    add_config(p)
    p.add_argument("--evaluations", nargs="*", default=[])
    p.add_argument("--dynamics", nargs="*", default=[])
    p.add_argument("--output-dir", required=True)
    p.set_defaults(func=cmd_report)
