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

from glassdyn import config as cfgmod
from glassdyn.gnn.train import train_cell
from glassdyn.md import runtime
from glassdyn.md.deck import write_input_deck, write_replica_deck
from glassdyn.md.equilibrate import equilibrate
from glassdyn.md.replicas import run_replicas


def _load_cfg(args) -> dict:
    """The configuration of a subcommand: ``--params`` JSON or ``--config`` files."""
    if getattr(args, "params", None):
        return json.loads(args.params)
    return cfgmod.load(*(args.config or []))


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--params", help="JSON slice of the campaign configuration (what rules pass)")
    g.add_argument("--config", action="append", help="config YAML file(s), later ones override (default: config.yaml)")


# ---------------------------------------------------------------- MD
def _md_parallel(p: argparse.ArgumentParser) -> None:
    """How an MD job uses its processes; not part of --params (changing it must not rerun jobs)."""
    p.add_argument("--mpi-ranks", type=int, help="MPI ranks per LAMMPS run (start with `mpiexec -n`)")
    p.add_argument("--omp-threads", type=int, help="OpenMP threads per MPI rank (LAMMPS `package omp`)")
    p.add_argument("--replica-groups", type=int, help="replica groups run side by side (replicas only)")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep the restart segments after success")


def _md_cfg(a) -> dict:
    cfg = _load_cfg(a)
    par = dict(cfg.get("parallel") or {})
    for key in ("mpi_ranks", "omp_threads", "replica_groups"):
        if getattr(a, key, None) is not None:
            par[key] = getattr(a, key)
    cfg["parallel"] = par
    return cfg


def cmd_equilibrate(a):
    from glassdyn.md import engine as md
    equilibrate(_md_cfg(a), a.T, a.c, a.output, checkpoint_dir=a.checkpoint_dir,
                   keep_checkpoints=a.keep_checkpoints)


def cmd_replicas(a):
    from glassdyn.md import engine as md
    run_replicas(_md_cfg(a), a.T, a.c, a.input, a.output, checkpoint_dir=a.checkpoint_dir,
                    keep_checkpoints=a.keep_checkpoints)


def cmd_md_deck(a):
    from glassdyn.md import engine as md
    cfg = _md_cfg(a)
    path = (write_replica_deck(cfg, a.T, a.c, a.replica, a.input, a.output_dir) if a.input
            else write_input_deck(cfg, a.T, a.c, a.output_dir))
    print(path)


# ---------------------------------------------------------------- labels
def cmd_labels(a):
    from glassdyn.labels import extract as labels
    labels.extract_labels(_load_cfg(a), a.input, a.output)


def cmd_dynamics(a):
    from glassdyn.labels import dynamics
    dynamics.temperature_dynamics(_load_cfg(a), a.T, a.labels, a.replicas, a.output_csv, a.output_json, a.output_png)


# ---------------------------------------------------------------- learning
def cmd_train(a):
    train_cell(_load_cfg(a), a.model, a.T, a.time_index, a.labels, a.output_dir,
                        pretrained=a.pretrained, pretrain=a.pretrain)


def cmd_evaluate(a):
    from glassdyn.gnn import evaluate as evaluation
    evaluation.evaluate_cell(_load_cfg(a), a.model_file, a.labels, a.output)


def cmd_report(a):
    from glassdyn.campaign import report
    report.make_report(_load_cfg(a), a.evaluations, a.dynamics, a.output_dir)


# ---------------------------------------------------------------- data sets and user tools
def cmd_import_labels(a):
    from glassdyn.labels import imported as datasets
    datasets.import_labels(_load_cfg(a), a.T, a.c, a.input, a.output)


def cmd_predict(a):
    from glassdyn.gnn import predict
    predict.predict_cli(a)


def cmd_plan(a):
    from glassdyn.campaign import plan
    plan.plan_cli(a, _load_cfg(a))


def cmd_status(a):
    from glassdyn.campaign import status
    status.status_cli(a, _load_cfg(a))


# ---------------------------------------------------------------- OGN learned simulator
def cmd_ogn_trajectories(a):
    from glassdyn.ogn import trajectories
    trajectories.state_trajectories(_load_cfg(a), a.state, a.split, a.output)


def cmd_ogn_campaign_trajectories(a):
    from glassdyn.ogn import trajectories
    trajectories.campaign_trajectories(_load_cfg(a), a.T, a.split, a.inputs, a.output)


def cmd_ogn_train(a):
    from glassdyn.ogn import train as simulator
    simulator.train_ogn(_load_cfg(a), a.variant, a.source, a.input, a.output_dir, threads=a.threads)


def cmd_ogn_rollout(a):
    from glassdyn.ogn import train as simulator
    simulator.evaluate_rollout(_load_cfg(a), a.model_file, a.input, a.output_csv, a.output_png, threads=a.threads)


def cmd_ogn_summary(a):
    from glassdyn.ogn import train as simulator
    simulator.summarize_rollouts(_load_cfg(a), a.rollouts, a.metrics, a.output)


def _ogn_tools(sub) -> None:
    p = sub.add_parser("ogn-trajectories", help="OGN data: NVE trajectories of a small-box state, every step (LAMMPS)")
    _common(p)
    p.add_argument("--state", required=True, help="a key of ogn.states (liquid, glass)")
    p.add_argument("--split", required=True, choices=["train", "test"])
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_ogn_trajectories)

    p = sub.add_parser("ogn-campaign-trajectories", help="OGN data: NVE continuations of campaign configurations")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--split", required=True, choices=["train", "test"])
    p.add_argument("--inputs", nargs="+", required=True, help="equilibrated.h5 files, one trajectory each")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_ogn_campaign_trajectories)

    p = sub.add_parser("ogn-train", help="train one OGN variant on one source's trajectories")
    _common(p)
    p.add_argument("--variant", required=True, help="a key of ogn.variants (ogn, fast_ogn)")
    p.add_argument("--source", required=True, help="liquid, glass or T<temperature>")
    p.add_argument("--input", required=True, help="train.h5 of the source")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_ogn_train)

    p = sub.add_parser("ogn-rollout", help="roll a trained OGN out against MD at dt and k*dt")
    _common(p)
    p.add_argument("--model-file", required=True)
    p.add_argument("--input", required=True, help="test.h5 of the source")
    p.add_argument("--output-csv", required=True)
    p.add_argument("--output-png", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_ogn_rollout)

    p = sub.add_parser("ogn-summary", help="one table of every OGN rollout, beside Liu et al.'s numbers")
    _common(p)
    p.add_argument("--rollouts", nargs="+", required=True)
    p.add_argument("--metrics", nargs="*", default=[])
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_ogn_summary)


def _user_tools(sub) -> None:
    p = sub.add_parser("import-labels", help="labels of one configuration from a published data set (BOTAN, GlassBench)")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int)
    p.add_argument("--input", nargs="+", required=True, help="the published file(s) of this configuration")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_import_labels)

    p = sub.add_parser("predict", help="per-particle predictions of a trained model on any structure file")
    p.add_argument("structure", help="LAMMPS data/dump, extended XYZ or anything ASE reads (POSCAR, CIF, ...), "
                                     "BOTAN/GlassBench .npz, glassdyn .h5")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="path of a trained BOTAN/NT-GNN model.pt")
    g.add_argument("--cell", help="MODEL,T,K: the model trained for that cell under --results (e.g. botan,0.44,7)")
    p.add_argument("--results", default="results", help="campaign results folder for --cell (default: results)")
    p.add_argument("--output", action="append",
                   help="output file (repeatable): .xyz (extended XYZ: OVITO, ASE), .dump (LAMMPS dump: OVITO), "
                        ".h5, .csv (default: <structure>.<model>_T<T>_t<k>.xyz and .h5 beside the structure)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs (never the input)")
    p.add_argument("--format", help="structure format: data, dump, xyz, h5, npz or an ASE format name "
                                    "(default: guessed)")
    p.add_argument("--frame", type=int, default=0, help="frame of a dump/XYZ trajectory (negative: from the end)")
    p.add_argument("--type-map", help="file type labels onto A/B, e.g. '1=A,2=B' or 'Ar=A,Ne=B'")
    p.add_argument("--species", help="chemical symbols written for A and B (and read as A/B), default 'A=Ni,B=P'")
    p.add_argument("--box", type=float, nargs="+", help="box length(s) where the file has none (XYZ without Lattice)")
    p.add_argument("--density-tolerance", type=float, default=0.02,
                   help="largest relative density difference from the model's training system (default 0.02)")
    p.add_argument("--composition-tolerance", type=float, default=0.1,
                   help="largest difference of the A fraction from the model's training system (default 0.1)")
    p.add_argument("--min-distance", type=float,
                   help="smallest allowed pair distance in σ_AA (default 0.5; KA liquids have none below ≈ 0.75)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("plan", help="jobs, core-/GPU-hours, memory and storage of a campaign before running it")
    _common(p)
    p.add_argument("--profile", help="Snakemake profile folder whose set-resources/set-threads to report (e.g. profiles/slurm)")
    p.add_argument("--benchmark", action="append", default=[], help="benchmark JSON with measured throughput (repeatable)")
    p.add_argument("--check-dag", action="store_true", help="also dry-run Snakemake and compare the job counts")
    p.add_argument("--json", help="also write the plan as JSON")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("status", help="progress of a campaign: MD, labels, trained cells and their Pearson")
    _common(p)
    p.add_argument("--results", help="results folder (default: the config's `results`)")
    p.add_argument("--json", help="also write the status as JSON")
    p.set_defaults(func=cmd_status)


# ---------------------------------------------------------------- tGlassMLP
def cmd_inherent(a):
    from glassdyn.md import inherent
    inherent.inherent_structure(_load_cfg(a), a.input, a.output)


def cmd_tglassmlp_descriptors(a):
    from glassdyn.physics import descriptors
    descriptors.descriptors_file(_load_cfg(a), a.input, a.output)


def cmd_tglassmlp_states(a):
    from glassdyn.tglassmlp import train as tglassmlp
    tglassmlp.states_rule(_load_cfg(a), a.labels, a.output)


def cmd_tglassmlp_distill(a):
    from glassdyn.tglassmlp import transfer
    _torch_threads(a.threads)
    transfer.distill_rule(_load_cfg(a), a.variant, a.descriptors, a.labels, a.states, a.output)


def cmd_tglassmlp_train(a):
    from glassdyn.tglassmlp import train as tglassmlp
    _torch_threads(a.threads)
    tglassmlp.train_member(_load_cfg(a), a.variant, a.member, a.descriptors, a.labels, a.states, a.output_dir,
                           distilled=a.distilled)


def cmd_tglassmlp_evaluate(a):
    from glassdyn.tglassmlp import train as tglassmlp
    _torch_threads(a.threads)
    tglassmlp.evaluate_rule(_load_cfg(a), a.T, a.time_index, a.models, a.descriptors, a.labels, a.output,
                            a.predictions, a.states)


def cmd_tglassmlp_large_system(a):
    from glassdyn.tglassmlp import analysis as tglassmlp_analysis
    tglassmlp_analysis.large_system_rule(_load_cfg(a), a.T, a.input, a.output)


def cmd_tglassmlp_analysis(a):
    from glassdyn.tglassmlp import analysis as tglassmlp_analysis
    _torch_threads(a.threads)
    tglassmlp_analysis.analysis_rule(_load_cfg(a), a.predictions, a.models, a.descriptors, a.large or [],
                                     a.states, a.output_dir)


def cmd_tglassmlp_transfer(a):
    from glassdyn.tglassmlp import transfer
    _torch_threads(a.threads)
    transfer.transfer_rule(_load_cfg(a), a.transfer_models, a.direct_models, a.descriptors, a.labels, a.states,
                           a.output_csv, a.output_png)


def _torch_threads(n: int) -> None:
    import torch
    torch.set_num_threads(max(1, int(n)))


def _tglassmlp_tools(sub) -> None:
    p = sub.add_parser("inherent", help="inherent structure of a t = 0 frame: LAMMPS minimisation, E_i, Voronoi cells")
    _common(p)
    p.add_argument("--input", required=True, help="equilibrated.h5 (or a labels file) holding the t = 0 frame")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_inherent)

    p = sub.add_parser("tglassmlp-descriptors", help="tGlassMLP structural descriptors of one inherent structure")
    _common(p)
    p.add_argument("--input", required=True, help="inherent structure (.h5)")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_tglassmlp_descriptors)

    p = sub.add_parser("tglassmlp-states", help="the (T, t, c = <C_B>) table from training labels")
    _common(p)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_tglassmlp_states)

    p = sub.add_parser("tglassmlp-distill", help="equal-time networks and distilled labels at T < T_min")
    _common(p)
    p.add_argument("--variant", required=True, choices=["main", "transfer"])
    p.add_argument("--descriptors", nargs="+", required=True, help="training configurations at every T")
    p.add_argument("--labels", nargs="+", required=True, help="training configurations at T >= T_min")
    p.add_argument("--states", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_tglassmlp_distill)

    p = sub.add_parser("tglassmlp-train", help="train one tGlassMLP ensemble member")
    _common(p)
    p.add_argument("--variant", required=True, choices=["main", "transfer"])
    p.add_argument("--member", required=True, type=int)
    p.add_argument("--descriptors", nargs="+", required=True)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--states", required=True)
    p.add_argument("--distilled", help="distilled labels at T < T_min (tglassmlp-distill)")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_tglassmlp_train)

    p = sub.add_parser("tglassmlp-evaluate", help="Pearson of the tGlassMLP ensemble at one (T, time) (eval CSV)")
    _common(p)
    p.add_argument("--T", required=True)
    p.add_argument("--time-index", required=True, type=int)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--descriptors", nargs="+", required=True)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--states", required=True)
    p.add_argument("--output", required=True, help="eval CSV of this (T, time index)")
    p.add_argument("--predictions", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_tglassmlp_evaluate)

    p = sub.add_parser("tglassmlp-large-system", help="tiled, MD-decorrelated, minimised large system for S4 at small q")
    _common(p)
    p.add_argument("--T", required=True)
    p.add_argument("--input", required=True, help="t = 0 frame (equilibrated.h5 or labels file) to tile")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_tglassmlp_large_system)

    p = sub.add_parser("tglassmlp-analysis", help="chi4, S4/xi4, chord length, attention and bottleneck figures")
    _common(p)
    p.add_argument("--predictions", nargs="+", required=True)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--descriptors", nargs="+", required=True)
    p.add_argument("--large", nargs="*", default=[])
    p.add_argument("--states", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_tglassmlp_analysis)

    p = sub.add_parser("tglassmlp-transfer", help="held-out lowest T: transferred vs directly trained Pearson")
    _common(p)
    p.add_argument("--transfer-models", nargs="+", required=True)
    p.add_argument("--direct-models", nargs="+", required=True)
    p.add_argument("--descriptors", nargs="+", required=True)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--states", required=True)
    p.add_argument("--output-csv", required=True)
    p.add_argument("--output-png", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_tglassmlp_transfer)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="glassdyn", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate-config", help="validate config files and print the merged result")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=lambda a: print(json.dumps(cfgmod.load(*a.files), indent=2)))

    p = sub.add_parser("check-install", help="check that LAMMPS, MPICH and torch load")
    p.set_defaults(func=lambda a: print(json.dumps(runtime.check_install(), indent=2)))

    p = sub.add_parser("equilibrate", help="random start -> T_high hold -> quench -> Nosé–Hoover hold (LAMMPS)")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int, help="configuration index")
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint-dir", help="restart segments (default: beside the output)")
    _md_parallel(p)
    p.set_defaults(func=cmd_equilibrate)

    p = sub.add_parser("replicas", help="iso-configurational NVE replicas from an equilibrated frame")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int)
    p.add_argument("--input", required=True, help="equilibrated.h5")
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint-dir")
    _md_parallel(p)
    p.set_defaults(func=cmd_replicas)

    p = sub.add_parser("md-deck", help="write a plain LAMMPS input deck (+ data files) equivalent to an MD step")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int)
    p.add_argument("--input", help="equilibrated.h5: write the deck of one replica instead of the equilibration")
    p.add_argument("--replica", type=int, default=0)
    p.add_argument("--output-dir", required=True)
    _md_parallel(p)
    p.set_defaults(func=cmd_md_deck)

    p = sub.add_parser("labels", help="dynamical labels and the t = 0 graph of one configuration")
    _common(p)
    p.add_argument("--input", required=True, help="replicas.h5")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_labels)

    p = sub.add_parser("dynamics", help="F_s, tau_alpha, MSD, chi4 and MD checks of one temperature")
    _common(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--replicas", nargs="*", default=[], help="replicas.h5 files (none for imported data: no MD checks)")
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
    _user_tools(sub)
    _ogn_tools(sub)
    _tglassmlp_tools(sub)
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
