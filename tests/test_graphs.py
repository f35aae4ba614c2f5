"""The t = 0 graph: counts against brute force, PyG direction convention, dtypes."""
from __future__ import annotations

import numpy as np
import pytest
import reference_kernels as ref

from glassdyn.labels.extract import labels_from_positions
from glassdyn.physics.graphs import build_graph, node_inputs


@pytest.mark.parametrize("cutoff", [1.2, 2.0, 2.999])   # 2.999: next to L/2 = 3
def test_edges_match_brute_force(cutoff):
    types, box, x0, x, times = ref.small_system(n=55, seed=3)
    edge_index, edge_vectors = build_graph(x0, box, cutoff)
    want = ref.pairs(x0, box, cutoff)
    assert edge_index.dtype == np.int64 and edge_vectors.dtype == np.float32
    assert edge_index.shape == (2, len(want)) and edge_vectors.shape == (len(want), 3)
    # PyG: row 0 = source j, row 1 = target i; vector = r_i - r_j
    np.testing.assert_array_equal(edge_index[0], [w[1] for w in want])
    np.testing.assert_array_equal(edge_index[1], [w[0] for w in want])
    np.testing.assert_allclose(edge_vectors, np.array([w[2] for w in want]), atol=1e-6)


def test_message_aggregation_at_the_target_with_pyg():
    """Summing r_i - r_j at edge_index[1] with PyG's scatter gives Σ_j (r_i - r_j) for each target i."""
    torch = pytest.importorskip("torch")
    from torch_geometric.utils import scatter

    types, box, x0, _, _ = ref.small_system(n=40, seed=4)
    edge_index, edge_vectors = build_graph(x0, box, 2.0)
    got = scatter(torch.from_numpy(edge_vectors).double(), torch.from_numpy(edge_index[1]), dim=0,
                  dim_size=len(x0), reduce="sum").numpy()
    want = np.zeros((len(x0), 3))
    for i, _j, v, _ in ref.pairs(x0, box, 2.0):
        want[i] += v
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_labels_graph_is_build_graph():
    from pathlib import Path

    from glassdyn import config as gcfg

    cfg = gcfg.load(Path(__file__).resolve().parents[1] / "config.yaml")
    types, box, x0, x, times = ref.small_system(n=45, seed=5)
    lab = labels_from_positions(types, box, x0, x, times, cfg)
    edge_index, edge_vectors = build_graph(x0, box, cfg["graph"]["cutoff"])
    np.testing.assert_array_equal(lab["edge_index"], edge_index)
    np.testing.assert_array_equal(lab["edge_vectors"], edge_vectors)


def test_node_inputs_are_types():
    f = node_inputs(np.array([0, 1, 1, 0], dtype=np.int8))
    assert f.dtype == np.float32 and f.shape == (4, 1)
    np.testing.assert_array_equal(f[:, 0], [0.0, 1.0, 1.0, 0.0])
