"""Every workflow rule's step: the configuration it reads (its rerun trigger), narrowed to the job's wildcards.

The declarations live beside each step's code (``READS`` in its module); this
table only names them per rule, so a rule's ``--params`` and the step's own
view of the configuration come from one declaration. ``glassdyn <rule>``
(dashes for underscores) runs the step; the table in docs/architecture.md
says which module holds it.
"""
from __future__ import annotations

from dataclasses import dataclass

from glassdyn import baselines
from glassdyn.campaign import report
from glassdyn.config.slices import Reads, slice_json
from glassdyn.gnn import evaluate as gnn_evaluate
from glassdyn.gnn import train as gnn_train
from glassdyn.labels import dynamics, extract, imported
from glassdyn.md import equilibrate, inherent, replicas
from glassdyn.ogn import rollout, summary, trajectories
from glassdyn.ogn import train as ogn_train
from glassdyn.tglassmlp import analysis, descriptors, large_system, states, transfer
from glassdyn.tglassmlp import evaluate as tglassmlp_evaluate
from glassdyn.tglassmlp import train as tglassmlp_train


@dataclass(frozen=True)
class Step:
    """A rule's step: the module that computes it and the configuration it reads."""

    module: str
    reads: Reads


def _step(module, reads: Reads) -> Step:
    return Step(module.__name__, reads)


STEPS: dict[str, Step] = {
    "equilibrate": _step(equilibrate, equilibrate.READS),
    "replicas": _step(replicas, replicas.READS),
    "labels": _step(extract, extract.READS),
    "import_labels": _step(imported, imported.READS),
    "dynamics": _step(dynamics, dynamics.READS),
    "pretrain": _step(gnn_train, gnn_train.PRETRAIN_READS),
    "train": _step(gnn_train, gnn_train.READS),
    "evaluate": _step(gnn_evaluate, gnn_evaluate.READS),
    "temperature": _step(report, report.READS),
    "report": _step(report, report.READS),
    "inherent": _step(inherent, inherent.READS),
    "tglassmlp_descriptors": _step(descriptors, descriptors.READS),
    "tglassmlp_states": _step(states, states.READS),
    "tglassmlp_distill": _step(transfer, transfer.DISTILL_READS),
    "tglassmlp_train": _step(tglassmlp_train, tglassmlp_train.READS),
    "tglassmlp_evaluate": _step(tglassmlp_evaluate, tglassmlp_evaluate.READS),
    "tglassmlp_large_system": _step(large_system, large_system.READS),
    "tglassmlp_analysis": _step(analysis, analysis.READS),
    "tglassmlp_transfer": _step(transfer, transfer.TRANSFER_READS),
    "ogn_trajectories": _step(trajectories, trajectories.STATE_READS),
    "ogn_campaign_trajectories": _step(trajectories, trajectories.CAMPAIGN_READS),
    "ogn_train": _step(ogn_train, ogn_train.READS),
    "ogn_rollout": _step(rollout, rollout.READS),
    "ogn_summary": _step(summary, summary.READS),
    "baselines": _step(baselines.rule, baselines.READS),
    "published_scores": _step(baselines.published, baselines.published.READS),
}


def params(config: dict, rule: str, wildcards) -> str:
    """The ``--params`` JSON of one job of ``rule``: its step's slice of ``config`` at the job's wildcards."""
    names = dict(wildcards.items()) if hasattr(wildcards, "items") else {}
    return slice_json(config, STEPS[rule].reads, **names)
