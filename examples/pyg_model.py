"""An example of your own network in glassdyn's cells, built from ``torch_geometric.nn`` layers.

Enable it in a campaign (see :mod:`glassdyn.models.user` for the interface)::

    models:
      enabled: [ntgnn, botan, mygnn]
      mygnn: {network: "examples.pyg_model:MyGNN", options: {hidden: 32}, p: 0.4, epochs: 100,
              graphs_per_step: 1, lr: 1.0e-3}

The network: the particle type embedded, the pair distance |r_i − r_j|
expanded on Gaussian radial functions, ``layers`` rounds of
:class:`torch_geometric.nn.GINEConv` (edge-conditioned messages, averaged over
the neighbours) with residual connections, then a node head (propensity S_i) and an edge head
(pair-distance change E_ij) on [h_i + h_j, h_i ⊙ h_j, rbf(r_ij)], symmetric
in i and j. It reads only distances, so it is invariant under rotations and
reflections by construction (glassdyn's augmentation then changes nothing).
"""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import MLP, GINEConv


class MyGNN(nn.Module):
    """forward(x (N, 1) type, edge_index (2, E), edge_attr (E, 3) = r_i − r_j) -> (nodes (N,), edges (E,))."""

    def __init__(self, hidden: int = 32, layers: int = 3, radial: int = 16, cutoff: float = 2.0):
        super().__init__()
        self.embed = nn.Embedding(2, hidden)
        self.register_buffer("centres", torch.linspace(0.0, cutoff, radial))
        self.width = cutoff / radial
        # mean over the ~40 neighbours (GINEConv's default sum would grow the states ~40× per layer)
        self.convs = nn.ModuleList(GINEConv(MLP([hidden, hidden, hidden], norm=None), edge_dim=radial, aggr="mean")
                                   for _ in range(layers))
        self.node_head = MLP([hidden, hidden, 1], norm=None)
        self.edge_head = MLP([2 * hidden + radial, hidden, 1], norm=None)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor):
        h = self.embed(x[:, 0].long())
        r = edge_attr.norm(dim=-1, keepdim=True)
        rbf = torch.exp(-((r - self.centres) / self.width) ** 2)
        for conv in self.convs:
            h = h + torch.relu(conv(h, edge_index, rbf))
        src, dst = edge_index
        nodes = self.node_head(h)[:, 0]
        edges = self.edge_head(torch.cat([h[src] + h[dst], h[src] * h[dst], rbf], dim=-1))[:, 0]
        return nodes, edges
