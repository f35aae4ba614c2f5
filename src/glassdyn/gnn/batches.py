"""Batches, augmentation and the loss of graph-network training.

Each epoch's order of the fit graphs is a seeded shuffle shared by all ranks;
each graph's edge vectors are rotated by a matrix drawn from SO(3) (Haar) or
from the 48 symmetries of the cube (``training.augmentation_group``), seeded by
(seed, epoch, slot) so a resumed run draws the same ones. A batch is the
disjoint union of G graphs; the loss is
L = p · mean-over-graphs MSE(nodes) + (1 − p) · mean-over-graphs MSE(edges)
(p = ``models.<name>.p``: 1 for NT-GNN, 0.4 for BOTAN).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn

from glassdyn.gnn.data import CellGraph
from glassdyn.physics.correlation import pearson


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation matrix drawn uniformly (Haar measure) from SO(3): a normalised Gaussian quaternion."""
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of the n fit graphs in ``epoch`` (same on every rank)."""
    return np.random.default_rng([seed, 1, epoch]).permutation(n)


def rotation_for(seed: int, epoch: int, slot: int) -> np.ndarray:
    """The rotation applied to the graph at position ``slot`` of ``epoch``'s order."""
    return random_rotation(np.random.default_rng([seed, 2, epoch, slot]))


def random_signed_permutation(rng: np.random.Generator) -> np.ndarray:
    """One of the 48 symmetries of the cube drawn uniformly: a permutation of the axes, then a sign per axis
    (the published BOTAN augmentation; half of them are reflections, det = −1)."""
    m = np.eye(3)[rng.permutation(3)]
    return m * rng.choice([-1.0, 1.0], size=3)[:, None]


#: ``training.augmentation_group`` -> the draw of one matrix.
AUGMENTATION_GROUPS = {"so3": random_rotation, "signed_permutations": random_signed_permutation}


def augmentation_for(group: str, seed: int, epoch: int, slot: int) -> np.ndarray:
    """The matrix applied to the edge vectors of the graph at position ``slot`` of ``epoch``'s order, drawn
    from ``group`` (``training.augmentation_group``); ``so3`` is :func:`rotation_for`."""
    return AUGMENTATION_GROUPS[group](np.random.default_rng([seed, 2, epoch, slot]))


def rank_slots(n: int, world: int, rank: int, graphs_per_step: int) -> list[list[int]]:
    """Positions in the epoch order that ``rank`` trains on, grouped into its optimiser steps.

    The order is padded by wrapping to a multiple of ``world`` (as
    DistributedSampler does) and dealt out interleaved: rank r gets positions
    r, r + W, r + 2W, …; consecutive ones form its steps of G graphs. Step s
    of all ranks together therefore covers the same positions as step s of one
    process with W·G graphs per step.
    """
    total = math.ceil(n / world) * world
    mine = list(range(rank, total, world))
    return [mine[i: i + graphs_per_step] for i in range(0, len(mine), graphs_per_step)]


@dataclasses.dataclass
class Batch:
    x: torch.Tensor
    edge_index: torch.Tensor
    edge_vectors: torch.Tensor
    nodes: torch.Tensor | None
    edges: torch.Tensor | None
    node_weight: torch.Tensor | float
    edge_weight: torch.Tensor | float


def make_batch(graphs: list[CellGraph], rotations: list[np.ndarray | torch.Tensor | None]) -> Batch:
    """Disjoint union of ``graphs`` (node indices offset), each graph's edge vectors rotated (r → R r).

    The per-element weights 1/(G·N_g) and 1/(G·E_g) make the weighted sums
    of squared errors the mean over graphs of each graph's MSE.
    """
    G = len(graphs)

    def rotated(g, R):
        if R is None:
            return g.edge_vectors
        R = torch.as_tensor(R, dtype=g.edge_vectors.dtype, device=g.edge_vectors.device)
        return g.edge_vectors @ R.T

    vecs = [rotated(g, R) for g, R in zip(graphs, rotations)]
    if G == 1:
        g = graphs[0]
        return Batch(g.x, g.edge_index, vecs[0], g.nodes, g.edges, 1.0 / g.n_nodes, 1.0 / g.n_edges)
    offsets = np.cumsum([0] + [g.n_nodes for g in graphs[:-1]])
    dev = graphs[0].x.device

    def weights(sizes):
        return torch.cat([torch.full((s,), 1.0 / (G * s), device=dev) for s in sizes])

    def cat_or_none(key):
        return None if getattr(graphs[0], key) is None else torch.cat([getattr(g, key) for g in graphs])

    return Batch(
        x=torch.cat([g.x for g in graphs]),
        edge_index=torch.cat([g.edge_index + int(o) for g, o in zip(graphs, offsets)], dim=1),
        edge_vectors=torch.cat(vecs),
        nodes=cat_or_none("nodes"), edges=cat_or_none("edges"),
        node_weight=weights([g.n_nodes for g in graphs]), edge_weight=weights([g.n_edges for g in graphs]),
    )


def decode_mode(p: float) -> str:
    """Which decoders a loss with weight p needs."""
    return "nodes" if p >= 1.0 else ("edges" if p <= 0.0 else "both")


def batch_loss(net: nn.Module, batch: Batch, p: float) -> torch.Tensor:
    """L = p Σ w_v (Ŝ_v − S_v)² + (1 − p) Σ w_e (Ê_e − E_e)² (weights: :func:`make_batch`)."""
    nodes, edges = net(batch.x, batch.edge_index, batch.edge_vectors, decode=decode_mode(p))
    loss = torch.zeros((), device=batch.x.device)
    if p > 0.0:
        loss = loss + p * (batch.node_weight * (nodes - batch.nodes).square()).sum()
    if p < 1.0:
        loss = loss + (1.0 - p) * (batch.edge_weight * (edges - batch.edges).square()).sum()
    return loss


@torch.no_grad()
def validation_scores(net: nn.Module, graphs: list[CellGraph], p: float) -> np.ndarray:
    """(n, 3) per graph: loss, Pearson over A particles, Pearson over A–A pairs within the eval cutoff."""
    out = np.full((len(graphs), 3), np.nan)
    for i, g in enumerate(graphs):
        batch = make_batch([g], [None])
        nodes, edges = net(batch.x, batch.edge_index, batch.edge_vectors, decode=decode_mode(p))
        loss = 0.0
        if p > 0.0:
            loss += p * float(torch.mean((nodes - g.nodes) ** 2))
            out[i, 1] = pearson(nodes.cpu().numpy()[g.node_mask], g.nodes.cpu().numpy()[g.node_mask])
        if p < 1.0:
            loss += (1.0 - p) * float(torch.mean((edges - g.edges) ** 2))
            out[i, 2] = pearson(edges.cpu().numpy()[g.edge_mask], g.edges.cpu().numpy()[g.edge_mask])
        out[i, 0] = loss
    return out
