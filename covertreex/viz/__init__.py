"""Plotly views of covertreex runs: pure functions, data (telemetry frames, trees, results) in, figures out.

Import the view you need from its module, or all of them from here.
"""

from covertreex.viz.build_views import phase_breakdown, scope_sizes
from covertreex.viz.gate_views import gate_profile, recall_speed_pareto, recall_vs_budget
from covertreex.viz.query_views import distance_evaluations, recall_vs_speed
from covertreex.viz.reports import breakdown_figure, scaling_figure
from covertreex.viz.residual_views import residual_landscape
from covertreex.viz.tree_views import level_histogram, tree_picture

__all__ = ["breakdown_figure", "distance_evaluations", "gate_profile", "level_histogram", "phase_breakdown",
           "recall_speed_pareto", "recall_vs_budget", "recall_vs_speed", "residual_landscape", "scaling_figure",
           "scope_sizes", "tree_picture"]
