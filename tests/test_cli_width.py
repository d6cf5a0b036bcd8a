"""At 80 columns every table the CLI prints is whole: no line wider than the console, no cell cut ("…")."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from covertreex.cli.main import app
from covertreex.cli.tables import Sheet

runner = CliRunner()


def _narrow(*args, width: int = 80):
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= width, "\n".join(lines)
    assert "…" not in result.output, result.output
    return result.output


def test_a_wide_sheet_splits_into_parts_that_fit_and_keep_every_cell():
    sheet = Sheet("wide", ["engine"] + [f"column {i}" for i in range(12)])
    sheet.add("sklearn-BallTree 1.9.1", *(f"{1234.5678 * i:,.4f}" for i in range(12)))
    sheet.add("covertreex 0.1.0", *(f"{i:.1f}x" for i in range(12)))
    console = Console(width=80, record=True)
    sheet.print(console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    assert text.count("sklearn-BallTree 1.9.1") == len(sheet.parts(80)) > 1  # the key column in every part
    for i in range(12):
        assert f"{1234.5678 * i:,.4f}" in text and f"column {i}" in text
    wide = Console(width=400, record=True)
    sheet.print(wide)
    assert len(sheet.parts(400)) == 1 and "(1/" not in wide.export_text()


def test_bench_and_breakdown_read_at_80_columns(tmp_path):
    pytest.importorskip("scipy")
    out = _narrow("bench", "euclidean", "--n", "500", "--dim", "2", "--k", "3", "--repeat", "1", "--peers",
                  "scipy-cKDTree,sklearn-BallTree", "--json", tmp_path / "b.json")
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    for r in rows:
        assert f"{r['query_s']:.3f}" in out and f"{r['queries_per_s']:,.0f}" in out
    out = _narrow("breakdown", "--sizes", "300,600", "--k", 3, "--repeat", 1, "--artifacts", tmp_path)
    assert "600" in out and "conflict graph" in out


def test_telemetry_summary_reads_at_80_columns(tmp_path):
    pytest.importorskip("pandas")
    X = np.random.default_rng(1).standard_normal((400, 3))
    np.save(tmp_path / "x.npy", X)
    log = tmp_path / "run.jsonl"
    assert runner.invoke(app, ["query", str(tmp_path / "x.npy"), "--k", "3", "--out", str(tmp_path / "n.npy"),
                               "--telemetry", str(log)]).exit_code == 0
    out = _narrow("telemetry", "summary", log)
    assert "covertreex.build.summary" in out and "covertreex.query" in out  # schema ids whole
