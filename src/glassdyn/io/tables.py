"""Column layouts of the campaign's CSV tables, shared by every model family and the report."""
from __future__ import annotations

from glassdyn.physics.scoring import SCORE_COLUMNS, moment_columns

__all__ = ["CELL_COLUMNS", "CELL_EXTRA_COLUMNS", "DYNAMICS_COLUMNS", "EVAL_COLUMNS", "SCORE_COLUMNS", "moment_columns"]

#: Columns of the evaluation CSV, in order (shared by every model family).
#: Evaluation CSV (``eval/{model}/T{T}/t{k}.csv``): one row per test configuration.
EVAL_COLUMNS = ["model", "T", "time_index", "time", "tau_alpha", "c", "pearson_nodes", "pearson_edges"]
#: ... followed by :data:`SCORE_COLUMNS` (label judged, its ceiling, the moments for the pooled Pearson).


#: Cells table (``report/cells.csv``): per (model, T, time_index), the mean over test configurations, then
#: the label judged, the pooled Pearson and the label ceiling (glassdyn.campaign.references).
CELL_EXTRA_COLUMNS = ["target", "pooled_pearson_nodes", "pooled_pearson_edges", "ceiling_nodes", "ceiling_nodes_std",
                      "pooled_ceiling_nodes", "ceiling_edges", "ceiling_edges_std", "pooled_ceiling_edges"]
CELL_COLUMNS = ["model", "T", "time_index", "time", "t_over_tau", "n_test", "pearson_nodes_mean",
                "pearson_nodes_std", "pearson_edges_mean", "pearson_edges_std"] + CELL_EXTRA_COLUMNS


DYNAMICS_COLUMNS = ["t", "t_over_tau", "fs", "fs_err", "msd", "msd_err", "chi4"]
