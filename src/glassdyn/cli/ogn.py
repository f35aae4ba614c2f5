"""Subcommands of the OGN rules: ``ogn-trajectories``, ``ogn-campaign-trajectories``, ``ogn-train``,
``ogn-rollout``, ``ogn-summary``."""
from __future__ import annotations

from glassdyn.cli.common import add_config, full_config, step_config
from glassdyn.ogn import rollout, summary, train, trajectories


def cmd_trajectories(a):
    cfg = step_config(a, trajectories.STATE_READS, state=a.state, split=a.split)
    trajectories.state_trajectories(cfg, a.state, a.split, a.output)


def cmd_campaign_trajectories(a):
    cfg = step_config(a, trajectories.CAMPAIGN_READS)
    trajectories.campaign_trajectories(cfg, a.T, a.split, a.inputs, a.output)


def cmd_train(a):
    full = full_config(a)
    train.train_ogn(step_config(a, train.READS, variant=a.variant), a.variant, a.source, a.input, a.output_dir,
                    threads=a.threads or full["ogn"]["training"]["threads"],
                    device=a.device or full["training"]["device"],
                    checkpoint_every=a.checkpoint_every or full["ogn"]["training"]["checkpoint_every"])


def cmd_rollout(a):
    rollout.evaluate_rollout(step_config(a, rollout.READS), a.model_file, a.input, a.output_csv, a.output_png,
                             threads=a.threads)


def cmd_summary(a):
    summary.summarize_rollouts(step_config(a, summary.READS), a.rollouts, a.metrics, a.output)


def register(sub) -> None:
    p = sub.add_parser("ogn-trajectories", help="OGN data: NVE trajectories of a small-box state, every step (LAMMPS)")
    add_config(p)
    p.add_argument("--state", required=True, help="a key of ogn.states (liquid, glass)")
    p.add_argument("--split", required=True, choices=["train", "test"])
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_trajectories)

    p = sub.add_parser("ogn-campaign-trajectories", help="OGN data: NVE continuations of campaign configurations")
    add_config(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--split", required=True, choices=["train", "test"])
    p.add_argument("--inputs", nargs="+", required=True, help="equilibrated.h5 files, one trajectory each")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_campaign_trajectories)

    p = sub.add_parser("ogn-train", help="train one OGN variant on one source's trajectories")
    add_config(p)
    p.add_argument("--variant", required=True, help="a key of ogn.variants (ogn, fast_ogn)")
    p.add_argument("--source", required=True, help="liquid, glass or T<temperature>")
    p.add_argument("--input", required=True, help="train.h5 of the source")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: ogn.training.threads)")
    p.add_argument("--device", help="auto | cpu | cuda (default: training.device)")
    p.add_argument("--checkpoint-every", type=int, help="steps between resume points (default: ogn.training)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ogn-rollout", help="roll a trained OGN out against MD at dt and k*dt")
    add_config(p)
    p.add_argument("--model-file", required=True)
    p.add_argument("--input", required=True, help="test.h5 of the source")
    p.add_argument("--output-csv", required=True)
    p.add_argument("--output-png", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_rollout)

    p = sub.add_parser("ogn-summary", help="one table of every OGN rollout, beside Liu et al.'s numbers")
    add_config(p)
    p.add_argument("--rollouts", nargs="+", required=True)
    p.add_argument("--metrics", nargs="*", default=[])
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_summary)
