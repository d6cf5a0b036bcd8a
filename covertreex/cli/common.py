"""What the ``covertreex`` commands share: the console, common options, a progress line, saving JSON."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from covertreex.telemetry.artifacts import artifact_path, new_run_id

ThreadsOption = Annotated[int | None, typer.Option(min=1, help="Numba threads (default: Numba's).")]
JsonOption = Annotated[Path | None, typer.Option("--json", help="Write the JSON here (default: artifacts/).")]
ArtifactsOption = Annotated[Path, typer.Option(help="Artifacts root directory.")]


def new_console() -> Console:
    """A rich console: the terminal's width (or $COLUMNS), else 160 columns when output is captured.
    Tables are ``Sheet``s: at any width they print whole, split into parts rather than cut."""
    return Console(width=None if Console().is_terminal or os.environ.get("COLUMNS") else 160)


def save_result(console: Console, result: dict, kind: str, json_path: Path | None, artifacts: Path) -> None:
    """Give the result a run id and write it as JSON (``--json`` or artifacts/benchmarks/)."""
    run_id = new_run_id({"workload": result["workload"], "runtime": result["runtime"]})
    result["run_id"] = run_id
    path = json_path or artifact_path(artifacts, "benchmarks", kind, run_id, "json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {path}")


@contextmanager
def progress_points(console: Console, title: str):
    """A progress bar with its total (points placed of points, elapsed and remaining time) for a build;
    yields the ``progress(done, total)`` callback ``CoverTree.fit`` takes."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(title, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


@contextmanager
def progress_steps(console: Console, title: str):
    """A live progress line (spinner, bar, step i of n, elapsed time) for multi-step runs; yields
    ``step(message, done, total)``, the benchmarks' progress callback."""
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("step {task.fields[step]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(title, total=None, step="")

        def step(message: str, done: int, total: int) -> None:
            bar.update(task, description=f"{title}: {message}", completed=done - 1, total=total,
                       step=f"{done}/{total}")

        yield step


