"""``covertreex telemetry summary|export`` and ``covertreex guardrail``: reading JSONL runs back."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from covertreex.cli.tables import Sheet
from covertreex.cli.common import new_console
from covertreex.telemetry.load import load, summarize

telemetry_app = typer.Typer(help="Read telemetry JSONL files: summaries on screen, export to CSV/parquet.",
                            no_args_is_help=True)
JsonlArgument = Annotated[Path, typer.Argument(help="A telemetry JSONL file (covertreex ... --telemetry).")]


def _frame(path: Path):
    if not path.is_file():
        raise typer.BadParameter(f"no such file {str(path)!r}", param_hint="PATH")
    try:
        return load(path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="PATH") from None


def _cell(value) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:,.4g}"
    return str(value)


def frame_table(frame, title: str) -> Sheet:
    """The frame's text columns first (what a row is about, repeated when the sheet is split), then the rest."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    frame = frame[text + [c for c in frame.columns if c not in text]]
    table = Sheet(title, [str(c) for c in frame.columns], key=len(text))
    for row in frame.itertuples(index=False):
        table.add(*(_cell(v) for v in row))
    return table


@telemetry_app.command("summary")
def summary(path: JsonlArgument) -> None:
    """One row per run and event type: counts, total seconds, headline figures."""
    frame = _frame(path)
    frame_table(summarize(frame), f"{path.name}: {len(frame)} events").print(new_console())


@telemetry_app.command("export")
def export(
    path: JsonlArgument,
    out: Annotated[Path, typer.Option(help="Output file: .csv or .parquet.")],
    summary_only: Annotated[bool, typer.Option("--summary", help="Export the per-run summary instead of every "
                                                                  "event.")] = False,
) -> None:
    """Every event (or the summary) as a flat table in CSV or parquet."""
    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(f"must end in .csv or .parquet, got {str(out)!r}", param_hint="--out")
    frame = _frame(path)
    table = summarize(frame) if summary_only else frame
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    new_console().print(f"wrote {len(table)} rows to {out}")


def _bound(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name.strip():
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise typer.BadParameter(f"expected FIELD=NUMBER, got {text!r}", param_hint="--max") from None


def guardrail(
    path: JsonlArgument,
    min_recall: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Fail when any query event's recall "
                                                                           "is below this (or none was recorded).")]
    = None,
    max_bound: Annotated[list[str] | None, typer.Option("--max", help="FIELD=NUMBER: fail when any event's FIELD "
                                                                        "exceeds NUMBER, e.g. seconds_traversal=2 "
                                                                        "or evals_mean=5000 (repeatable).")] = None,
    schema: Annotated[str | None, typer.Option(help="Only events of this schema_id.")] = None,
) -> None:
    """Check a run's JSONL against bounds; exit 1 on any violation (for CI), 2 on bad arguments."""
    bounds = [_bound(b) for b in (max_bound or [])]
    if min_recall is None and not bounds:
        raise typer.BadParameter("give --min-recall and/or at least one --max FIELD=NUMBER", param_hint="options")
    frame = _frame(path)
    if schema is not None:
        if schema not in set(frame["schema_id"]):
            raise typer.BadParameter(f"no {schema!r} events in {path.name}", param_hint="--schema")
        frame = frame[frame["schema_id"] == schema]
    unknown = [name for name, _ in bounds if name not in frame.columns]
    if unknown:
        raise typer.BadParameter(f"no field {', '.join(unknown)} in these events", param_hint="--max")
    failures: list[tuple[str, str, str]] = []
    if min_recall is not None:
        recalls = frame["recall"].dropna() if "recall" in frame else []
        if len(recalls) == 0:
            failures.append(("recall", "no recall recorded", f">= {min_recall}"))
        elif recalls.min() < min_recall:
            failures.append(("recall", f"{recalls.min():.6g}", f">= {min_recall}"))
    for name, limit in bounds:
        worst = frame[name].dropna().max()
        if worst > limit:
            failures.append((name, f"{worst:.6g}", f"<= {limit}"))
    console = new_console()
    checked = (["recall"] if min_recall is not None else []) + [n for n, _ in bounds]
    if failures:
        table = Sheet(f"guardrail FAILED: {path.name}", ["field", "worst", "bound"])
        for row in failures:
            table.add(*row)
        table.print(console)
        raise typer.Exit(1)
    console.print(f"guardrail passed: {', '.join(checked)} within bounds over {len(frame)} events")
