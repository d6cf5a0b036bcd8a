"""``TelemetryBrowser``: pick JSONL runs under ``artifacts/logs`` and compare them side by side."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as W
import plotly.graph_objects as go

from covertreex.telemetry.load import load
from covertreex.algo.types import PHASES
from covertreex.widgets._figures import Displayed, error_html, figure_widget, show, table_html


def list_runs(root: str | Path) -> list[Path]:
    """JSONL files under ``root`` (newest name last)."""
    root = Path(root)
    return sorted(root.rglob("*.jsonl")) if root.is_dir() else []


def compare_runs(paths) -> list[dict]:
    """One row per run id in the given files: build seconds per phase, rounds, conflict edges, queries,
    distance evaluations per query and recall (where recorded)."""
    rows = []
    for path in paths:
        frame = load(path)
        for run_id, part in frame.groupby("run_id", sort=False):
            rounds = part[part["schema_id"] == "covertreex.build.round"]
            queries = part[part["schema_id"] == "covertreex.query"]
            row = {"file": Path(path).name, "run_id": run_id, "rounds": len(rounds)}
            for phase in PHASES:
                row[f"build {phase}"] = float(rounds[f"seconds_{phase}"].sum()) if len(rounds) else 0.0
            row["conflict edges"] = int(rounds["neighbour_edges"].sum()) if len(rounds) else 0
            row["queries"] = int(queries["queries"].sum()) if len(queries) else 0
            row["query s"] = float(queries["seconds"].sum()) if len(queries) else 0.0
            row["evals/query"] = (float((queries["evals_mean"] * queries["queries"]).sum() / row["queries"])
                                  if row["queries"] else None)
            recall = queries["recall"].dropna() if "recall" in queries else []
            row["recall min"] = float(recall.min()) if len(recall) else None
            rows.append(row)
    return rows


def comparison_figure(rows: list[dict]) -> go.Figure:
    """Build seconds per phase (stacked) and query seconds, one bar group per run."""
    if not rows:
        raise ValueError("no runs to compare")
    labels = [f"{r['file']}<br>{r['run_id'][-13:]}" for r in rows]
    fig = go.Figure()
    for phase in PHASES:
        fig.add_trace(go.Bar(x=labels, y=[r[f"build {phase}"] for r in rows], name=f"build {phase}",
                             offsetgroup="build"))
    fig.add_trace(go.Bar(x=labels, y=[r["query s"] for r in rows], name="queries", offsetgroup="query"))
    fig.update_layout(barmode="stack", height=450, yaxis_title="seconds", title="runs side by side")
    return fig


class TelemetryBrowser(Displayed):
    """A multi-select of the JSONL files under ``root``; the chosen runs as a table and a figure."""

    def __init__(self, root: str | Path = "artifacts/logs"):
        self.root = Path(root)
        self.files = W.SelectMultiple(options=[], rows=8, description="runs", layout={"width": "95%"})
        self.refresh_button = W.Button(description="Refresh")
        self.message = W.HTML()
        self.table = W.HTML()
        self.figure = figure_widget()
        self.rows: list[dict] = []
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.files.observe(lambda _c: self.compare(), names="value")
        self.widget = W.VBox([W.HBox([self.files, self.refresh_button]), self.message, self.table, self.figure])
        self.refresh()

    def refresh(self) -> None:
        runs = list_runs(self.root)
        self.files.options = [(str(p.relative_to(self.root)), str(p)) for p in runs]
        self.message.value = f"{len(runs)} JSONL files under {self.root}"

    def compare(self) -> list[dict]:
        if not self.files.value:
            self.rows = []
            self.table.value = ""
            return self.rows
        try:
            self.rows = compare_runs(self.files.value)
        except (ValueError, OSError) as exc:
            self.message.value = error_html(str(exc))
            return []
        self.table.value = table_html(self.rows)
        show(self.figure, comparison_figure(self.rows))
        return self.rows
