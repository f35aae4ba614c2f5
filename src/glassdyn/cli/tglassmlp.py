"""Subcommands of the tGlassMLP rules: ``inherent``, ``tglassmlp-descriptors``, ``-states``, ``-distill``,
``-train``, ``-evaluate``, ``-large-system``, ``-analysis``, ``-transfer``."""
from __future__ import annotations

from glassdyn.cli.common import add_config, full_config, set_torch_threads, step_config
from glassdyn.md import inherent
from glassdyn.tglassmlp import analysis, descriptors, evaluate, large_system, states, train, transfer


def _chunk_pairs(a) -> int:
    return a.chunk_pairs or full_config(a)["tglassmlp"]["descriptors"]["chunk_pairs"]


def cmd_inherent(a):
    inherent.inherent_structure(step_config(a, inherent.READS), a.input, a.output)


def cmd_descriptors(a):
    descriptors.descriptors_file(step_config(a, descriptors.READS), a.input, a.output, chunk_pairs=_chunk_pairs(a))


def cmd_states(a):
    states.states_rule(step_config(a, states.READS), a.labels, a.output)


def cmd_distill(a):
    set_torch_threads(a.threads)
    transfer.distill_rule(step_config(a, transfer.DISTILL_READS), a.variant, a.descriptors, a.labels, a.states,
                          a.output)


def cmd_train(a):
    set_torch_threads(a.threads)
    train.train_member(step_config(a, train.READS), a.variant, a.member, a.descriptors, a.labels, a.states,
                       a.output_dir, distilled=a.distilled)


def cmd_evaluate(a):
    set_torch_threads(a.threads)
    evaluate.evaluate_rule(step_config(a, evaluate.READS, T=a.T), a.T, a.time_index, a.models, a.descriptors,
                           a.labels, a.output, a.predictions, a.states)


def cmd_large_system(a):
    large_system.large_system_rule(step_config(a, large_system.READS, T=a.T), a.T, a.input, a.output,
                                   chunk_pairs=_chunk_pairs(a))


def cmd_analysis(a):
    set_torch_threads(a.threads)
    analysis.analysis_rule(step_config(a, analysis.READS), a.predictions, a.models, a.descriptors, a.large or [],
                           a.states, a.output_dir)


def cmd_transfer(a):
    set_torch_threads(a.threads)
    transfer.transfer_rule(step_config(a, transfer.TRANSFER_READS), a.transfer_models, a.direct_models,
                           a.descriptors, a.labels, a.states, a.output_csv, a.output_png)


def _parser(sub, name: str, help_: str, func, **args) -> None:
    """One subcommand: --params/--config, then ``args`` (name -> add_argument keywords)."""
    p = sub.add_parser(name, help=help_)
    add_config(p)
    for arg, kw in args.items():
        p.add_argument("--" + arg.replace("_", "-"), **kw)
    p.set_defaults(func=func)


REQ, MANY, THREADS = {"required": True}, {"nargs": "+", "required": True}, {"type": int, "default": 1}
VARIANT = {"required": True, "choices": ["main", "transfer"]}
CHUNKS = {"type": int, "help": "pairs held in memory at once (default: tglassmlp.descriptors.chunk_pairs)"}


def register(sub) -> None:
    _parser(sub, "inherent", "inherent structure of a t = 0 frame: LAMMPS minimisation, E_i, Voronoi cells",
            cmd_inherent, input=REQ, output=REQ)
    _parser(sub, "tglassmlp-descriptors", "tGlassMLP structural descriptors of one inherent structure",
            cmd_descriptors, input=REQ, output=REQ, chunk_pairs=CHUNKS)
    _parser(sub, "tglassmlp-states", "the (T, t, c = <C_B>) table from training labels", cmd_states,
            labels=MANY, output=REQ)
    _parser(sub, "tglassmlp-distill", "equal-time networks and distilled labels at T < T_min", cmd_distill,
            variant=VARIANT, descriptors=MANY, labels=MANY, states=REQ, output=REQ, threads=THREADS)
    _parser(sub, "tglassmlp-train", "train one tGlassMLP ensemble member", cmd_train, variant=VARIANT,
            member={"required": True, "type": int}, descriptors=MANY, labels=MANY, states=REQ, distilled={},
            output_dir=REQ, threads=THREADS)
    _parser(sub, "tglassmlp-evaluate", "Pearson of the tGlassMLP ensemble at one (T, time) (eval CSV)", cmd_evaluate,
            T=REQ, time_index={"required": True, "type": int}, models=MANY, descriptors=MANY, labels=MANY,
            states=REQ, output=REQ, predictions=REQ, threads=THREADS)
    _parser(sub, "tglassmlp-large-system", "tiled, MD-decorrelated, minimised large system for S4 at small q",
            cmd_large_system, T=REQ, input=REQ, output=REQ, chunk_pairs=CHUNKS)
    _parser(sub, "tglassmlp-analysis", "chi4, S4/xi4, chord length, attention and bottleneck figures", cmd_analysis,
            predictions=MANY, models=MANY, descriptors=MANY, large={"nargs": "*", "default": []}, states=REQ,
            output_dir=REQ, threads=THREADS)
    _parser(sub, "tglassmlp-transfer", "held-out lowest T: transferred vs directly trained Pearson", cmd_transfer,
            transfer_models=MANY, direct_models=MANY, descriptors=MANY, labels=MANY, states=REQ, output_csv=REQ,
            output_png=REQ, threads=THREADS)
