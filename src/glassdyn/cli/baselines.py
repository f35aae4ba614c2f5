"""Subcommands of the reference rules: ``baselines`` and ``published-scores`` (glassdyn.baselines)."""
from __future__ import annotations

from glassdyn import baselines
from glassdyn.cli.common import add_config, step_config


def cmd_baselines(a):
    baselines.baselines_rule(step_config(a, baselines.READS, T=a.T), a.T, a.time_index, a.labels, a.inherent,
                             a.descriptors, a.output_dir)


def cmd_published_scores(a):
    baselines.published.published_rule(step_config(a, baselines.published.READS, T=a.T), a.T, a.time_index,
                                       a.labels, a.output_dir)


def register(sub) -> None:
    p = sub.add_parser("baselines", help="linear baselines at one (T, time): fitted on the fit configurations, "
                                         "scored on the test ones (eval/baseline-<name>/T{T}/t{k}.csv)")
    add_config(p)
    p.add_argument("--T", required=True)
    p.add_argument("--time-index", required=True, type=int)
    p.add_argument("--labels", nargs="+", required=True, help="labels.h5 of the training and test configurations")
    p.add_argument("--inherent", nargs="*", default=[], help="inherent structures (baseline epot_is)")
    p.add_argument("--descriptors", nargs="*", default=[], help="tGlassMLP descriptors (baseline ridge)")
    p.add_argument("--output-dir", required=True, help="the eval folder: baseline-<name>/T{T}/t{k}.csv under it")
    p.set_defaults(func=cmd_baselines)

    p = sub.add_parser("published-scores", help="the published predictions of imported GlassBench test files, "
                                                "scored like the models (eval/published-<NAME>/T{T}/t{k}.csv)")
    add_config(p)
    p.add_argument("--T", required=True)
    p.add_argument("--time-index", required=True, type=int)
    p.add_argument("--labels", nargs="+", required=True, help="labels.h5 of the test configurations")
    p.add_argument("--output-dir", required=True, help="the eval folder: published-<NAME>/T{T}/t{k}.csv under it")
    p.set_defaults(func=cmd_published_scores)
