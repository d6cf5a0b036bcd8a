"""``covertreex gate calibrate|audit``: gate profiles of a residual workload, written and checked.

Both commands rebuild the residual tree of a benchmark workload (``bench residual``'s names and size
options), so a profile written by ``calibrate`` is audited on exactly the data and factors it was
calibrated for; anything else is refused by the profile's stamp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from covertreex.cli.tables import Sheet
from covertreex.api.tree import CoverTree
from covertreex.bench.residual import WORKLOADS, named_workload
from covertreex.cli.common import ThreadsOption, new_console
from covertreex.gates.policy import PROXIES, SEARCHES, Gate
from covertreex.gates.profile import GateAudit, GateProfile
from covertreex.gates.sweep import held_out_ids
from covertreex.runtime.config import Runtime
from covertreex.telemetry.writer import TelemetryWriter

gate_app = typer.Typer(help="Gated (approximate) residual search: calibrate a profile, audit its recall.",
                       no_args_is_help=True)

WorkloadOption = Annotated[str, typer.Option(help=f"Residual workload: {', '.join(WORKLOADS)}.")]
SizeOption = Annotated[int | None, typer.Option(min=2, help="Number of points (the workload's by default).")]
TelemetryOption = Annotated[Path | None, typer.Option(help="Append a covertreex.gate JSONL event to this file.")]


def _tree(workload: str, n: int | None, threads: int | None) -> tuple[CoverTree, int]:
    try:
        w = named_workload(workload, **({"n": n} if n is not None else {}))
        runtime = Runtime.from_env().with_updates(metric="residual", residual=w.residual(), precision="float64",
                                                  query_engine="dense", conflict_graph="auto",
                                                  **({"threads": threads} if threads is not None else {}))
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    return CoverTree(runtime).fit(w.data()), w.k


def _audit_table(title: str, profile: GateProfile, audit: GateAudit | None) -> Sheet:
    table = Sheet(title, ["field", "value"], key=2)
    gate = profile.gate
    table.add("k / mode", f"{profile.k} / {'predecessor' if profile.predecessor else 'k-NN'}")
    table.add("delta / proxy / bands", f"{gate.delta:g} / {gate.proxy} / {gate.bands}")
    table.add("search", gate.search if gate.search == "walk" else f"{gate.search} of {gate.cell} points")
    table.add("budgets (candidates per query)", ", ".join(map(str, profile.budgets)))
    table.add("calibration", f"{profile.calibration['ids'].size} queries, {profile.seconds:.2f} s")
    if audit is not None:
        table.add("audited queries", f"{audit.queries}")
        table.add("recall@k", f"{audit.recall:.5f}  [{audit.recall_low:.5f}, {audit.recall_high:.5f}]")
        table.add("served whole", f"{audit.served_fraction:.4f}  [{audit.served_low:.4f}, {audit.served_high:.4f}]")
        table.add("seconds gated / exact", f"{audit.seconds_gated:.3f} / {audit.seconds_exact:.3f}")
    return table


@gate_app.command("calibrate")
def calibrate(
    out: Annotated[Path, typer.Option(help="Where to write the profile (.json), e.g. artifacts/profiles/x.json.")],
    workload: WorkloadOption = "headline",
    n: SizeOption = None,
    k: Annotated[int | None, typer.Option(min=1, help="Neighbours per query (the workload's by default).")] = None,
    predecessor: Annotated[bool, typer.Option(help="Calibrate for Vecchia predecessor queries.")] = False,
    delta: Annotated[float, typer.Option(help="Target probability that a query misses a true neighbour.")] = 0.01,
    calibration: Annotated[int, typer.Option(min=1, help="Calibration queries (answered exactly).")] = 1024,
    audit: Annotated[int, typer.Option(min=0, help="Held-out queries audited against the exact engine.")] = 1024,
    proxy: Annotated[str, typer.Option(help=f"Candidate ranking: {', '.join(PROXIES)}.")] = "scaled",
    bands: Annotated[int, typer.Option(min=1, help="Budgets per band of the residual variance p.")] = 1,
    seed: Annotated[int, typer.Option(min=0, help="Draws the calibration and audit queries.")] = 0,
    search: Annotated[str, typer.Option(help=f"Candidate search: {', '.join(SEARCHES)}.")] = "walk",
    cell: Annotated[int, typer.Option(min=2, help="Points per proxy cell (search cells).")] = 512,
    threads: ThreadsOption = None,
    telemetry: TelemetryOption = None,
) -> None:
    """Calibrate a gate on a workload's residual tree and write its profile (with the held-out audit)."""
    if out.suffix != ".json":
        raise typer.BadParameter(f"must end in .json, got {str(out)!r}", param_hint="--out")
    try:
        gate = Gate(delta=delta, calibration=calibration, audit=audit, proxy=proxy, bands=bands, seed=seed,
                    search=search, cell=cell)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    tree, default_k = _tree(workload, n, threads)
    writer = None if telemetry is None else TelemetryWriter(telemetry, tree.runtime)
    try:
        profile = tree.calibrate_gate(gate, k or default_k, predecessor=predecessor, telemetry=writer)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        if writer is not None:
            writer.close()
    profile.save(out)
    console = new_console()
    console.print(_audit_table(f"gate profile: workload {workload}, n={tree.num_points}", profile, profile.audit))
    console.print(f"wrote {out}")


@gate_app.command("audit")
def audit_command(
    profile_path: Annotated[Path, typer.Argument(help="A profile written by 'covertreex gate calibrate'.")],
    workload: WorkloadOption = "headline",
    n: SizeOption = None,
    queries: Annotated[int, typer.Option(min=1, help="Tree points audited (drawn outside the calibration "
                                                     "points).")] = 1024,
    seed: Annotated[int, typer.Option(min=0, help="Draws the audited points.")] = 1,
    min_recall: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Exit 1 when the audited recall@k is "
                                                                           "below this.")] = None,
    threads: ThreadsOption = None,
    telemetry: TelemetryOption = None,
) -> None:
    """Audit a profile on fresh held-out points of its workload: recall@k with a Clopper–Pearson interval."""
    try:
        profile = GateProfile.load(profile_path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="PROFILE_PATH") from None
    tree, _ = _tree(workload, n, threads)
    try:
        ids = held_out_ids(tree, profile, queries, seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--queries") from None
    writer = None if telemetry is None else TelemetryWriter(telemetry, tree.runtime)
    try:
        result = tree.audit_gate(profile, ids, telemetry=writer)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="PROFILE_PATH") from None
    finally:
        if writer is not None:
            writer.close()
    console = new_console()
    console.print(_audit_table(f"gate audit: {profile_path.name} on workload {workload}", profile, result))
    if min_recall is not None and result.recall < min_recall:
        console.print(f"audit FAILED: recall {result.recall:.5f} < {min_recall}")
        raise typer.Exit(1)
