"""Subcommands of the label rules: ``labels``, ``import-labels`` (published data sets), ``dynamics``."""
from __future__ import annotations

from glassdyn.cli.common import add_config, step_config
from glassdyn.labels import dynamics, extract, imported


def cmd_labels(a):
    extract.extract_labels(step_config(a, extract.READS), a.input, a.output)


def cmd_import_labels(a):
    imported.import_labels(step_config(a, imported.READS, T=a.T), a.T, a.c, a.input, a.output)


def cmd_dynamics(a):
    dynamics.temperature_dynamics(step_config(a, dynamics.READS, T=a.T), a.T, a.labels, a.replicas, a.output_csv,
                                  a.output_json, a.output_png)


def register(sub) -> None:
    p = sub.add_parser("labels", help="dynamical labels and the t = 0 graph of one configuration")
    add_config(p)
    p.add_argument("--input", required=True, help="replicas.h5")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_labels)

    p = sub.add_parser("import-labels", help="labels of one configuration from published files (BOTAN, GlassBench)")
    add_config(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int)
    p.add_argument("--input", nargs="+", required=True, help="the published file(s) of this configuration")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_import_labels)

    p = sub.add_parser("dynamics", help="F_s, tau_alpha, MSD, chi4 and MD checks of one temperature")
    add_config(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--replicas", nargs="*", default=[], help="replicas.h5 files (none for imported data: no MD checks)")
    p.add_argument("--output-csv", required=True)
    p.add_argument("--output-json", required=True)
    p.add_argument("--output-png", required=True)
    p.set_defaults(func=cmd_dynamics)
