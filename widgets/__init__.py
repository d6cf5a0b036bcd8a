"""ipywidgets panels for covertreex in JupyterLab (installed as ``covertreex.widgets``; extra ``notebook``).

Every panel keeps its work in plain functions of the widget values (``runtime_from_values``,
``run_benchmark``, ``explore_scopes``, ``tune_residual``, ``tune_gate``, ``compare_runs``) so that it can be tested
and scripted without a browser; the classes only wire controls to those functions and to figures.
"""

from covertreex.widgets.benchmark_runner import BenchmarkRunner, BenchmarkSettings, run_benchmark
from covertreex.widgets.gate_tuner import GateTuner, tune_gate
from covertreex.widgets.residual_tuner import ResidualTuner, tune_residual
from covertreex.widgets.runtime_panel import RuntimePanel, runtime_from_values
from covertreex.widgets.scope_explorer import ScopeExplorer, explore_scopes
from covertreex.widgets.telemetry_browser import TelemetryBrowser, compare_runs

__all__ = ["BenchmarkRunner", "BenchmarkSettings", "GateTuner", "ResidualTuner", "RuntimePanel", "ScopeExplorer",
           "TelemetryBrowser", "compare_runs", "explore_scopes", "run_benchmark", "runtime_from_values",
           "tune_gate", "tune_residual"]
