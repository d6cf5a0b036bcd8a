"""The ``covertreex`` command line (Typer).  The CLI and ``Runtime.from_env`` alone read the environment."""

from __future__ import annotations

import typer

from covertreex.cli.bench import bench_app
from covertreex.cli.doctor import doctor
from covertreex.cli.gate_commands import gate_app
from covertreex.cli.reports import breakdown, scaling
from covertreex.cli.telemetry_commands import guardrail, telemetry_app
from covertreex.cli.tree_commands import build, query

app = typer.Typer(
    name="covertreex",
    help="Exact compressed cover tree k-NN: build, query, benchmarks, reports and telemetry tools.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench_app, name="bench")
app.add_typer(telemetry_app, name="telemetry")
app.add_typer(gate_app, name="gate")
for command in (build, query, breakdown, scaling, guardrail, doctor):
    app.command()(command)


@app.command()
def version() -> None:
    """Print the covertreex version."""
    import covertreex

    typer.echo(covertreex.__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
