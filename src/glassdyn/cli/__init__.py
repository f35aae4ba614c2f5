"""The ``glassdyn`` command: one subcommand per workflow rule (the rule's name, dashes for underscores), plus tools.

Rules call it with explicit inputs and outputs, the configuration slice the
step declares it reads (``--params`` JSON: its rerun trigger) and execution
settings as options. A person can call the same subcommands with
``--config override.yaml`` instead (merged over the defaults, cut to the same
slice). One module per family: :mod:`~glassdyn.cli.md`, :mod:`~glassdyn.cli.labels`,
:mod:`~glassdyn.cli.gnn`, :mod:`~glassdyn.cli.tglassmlp`, :mod:`~glassdyn.cli.ogn`, :mod:`~glassdyn.cli.baselines`,
:mod:`~glassdyn.cli.campaign`, :mod:`~glassdyn.cli.tools`.
"""
from __future__ import annotations

import argparse
import logging
import sys

from glassdyn.cli import baselines, campaign, gnn, labels, md, ogn, tglassmlp, tools
from glassdyn.config import ConfigError, ConfigFileError

#: Subcommand modules, in the order ``glassdyn --help`` lists them.
MODULES = (md, labels, gnn, tglassmlp, ogn, baselines, campaign, tools)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="glassdyn", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a bad configuration, file or value ends in one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except (ConfigError, ConfigFileError, OSError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        logging.getLogger("glassdyn").error("%s", message)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
