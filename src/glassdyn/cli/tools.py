"""User tools that are no workflow rule: ``validate-config``, ``check-install``, ``predict``, ``plan``, ``status``."""
from __future__ import annotations

import json

from glassdyn import config as gcfg
from glassdyn.campaign import plan, status
from glassdyn.gnn import predict
from glassdyn.md import native


def cmd_validate_config(a):
    print(json.dumps(gcfg.load(*a.files), indent=2))


def cmd_check_install(a):
    print(json.dumps(native.check_install(), indent=2))


def cmd_plan(a):
    plan.plan_cli(a, gcfg.load(*(a.config or [])))


def cmd_status(a):
    status.status_cli(a, gcfg.load(*(a.config or [])) if a.config else None)


def _predict_parser(sub) -> None:
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
    p.set_defaults(func=predict.predict_cli)


def register(sub) -> None:
    p = sub.add_parser("validate-config", help="validate config files (merged over the defaults) and print the result")
    p.add_argument("files", nargs="*", help="override files, merged in order over config.yaml")
    p.set_defaults(func=cmd_validate_config)

    p = sub.add_parser("check-install", help="check that LAMMPS, MPICH and torch load")
    p.set_defaults(func=cmd_check_install)
    _predict_parser(sub)

    p = sub.add_parser("plan", help="jobs, core-/GPU-hours, memory and storage of a campaign before running it")
    p.add_argument("--config", action="append", help="config YAML file(s) merged over the defaults")
    p.add_argument("--profile", help="Snakemake profile folder whose set-resources to report (e.g. profiles/slurm)")
    p.add_argument("--benchmark", action="append", default=[], help="benchmark JSON with measured throughput")
    p.add_argument("--check-dag", action="store_true", help="also dry-run Snakemake and compare the job counts")
    p.add_argument("--json", help="also write the plan as JSON")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("status", help="progress of a campaign: MD, labels, trained cells and their Pearson")
    p.add_argument("--config", action="append", help="config YAML file(s) merged over the defaults")
    p.add_argument("--results", help="results folder (default: the config's `results`, else ./results)")
    p.add_argument("--json", help="also write the status as JSON")
    p.set_defaults(func=cmd_status)
