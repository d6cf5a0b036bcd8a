"""The ``covertreex`` command line (Typer).  The CLI and ``Runtime.from_env`` alone read the environment."""

from __future__ import annotations

import typer

from covertreex.cli.bench import bench_app

app = typer.Typer(
    name="covertreex",
    help="Exact compressed cover tree k-NN: benchmarks and tools.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench_app, name="bench")


@app.command()
def version() -> None:
    """Print the covertreex version."""
    import covertreex

    typer.echo(covertreex.__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
