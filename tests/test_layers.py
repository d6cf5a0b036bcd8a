"""The package's layers: an import never goes from a lower layer to a higher one (README, "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import covertreex

# lowest first; modules of one layer may import each other
LAYERS = (
    ("covertreex.validation", "covertreex.data", "covertreex.threads"),
    ("covertreex.kernels",),
    ("covertreex.metrics",),
    ("covertreex.core",),
    ("covertreex.runtime",),
    ("covertreex.algo",),
    ("covertreex.queries",),
    ("covertreex.gates",),
    ("covertreex.telemetry",),
    ("covertreex.api",),
    ("covertreex.reference", "covertreex.viz", "covertreex.io", "covertreex.sklearn", "covertreex.distributed"),
    ("covertreex.bench",),
    ("covertreex.cli", "covertreex.widgets"),
)
ROOT = Path(covertreex.__file__).parent
WIDGETS = ROOT.parent / "widgets"
DATA = ROOT.parent / "data"


def layer_of(module: str) -> int | None:
    for rank, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return rank
    return None


def package_modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        yield ".".join(p for p in parts if p != "__init__"), path
    for path in sorted(WIDGETS.glob("*.py")):
        yield "covertreex.widgets." + path.stem, path
    for path in sorted(DATA.glob("*.py")):
        yield "covertreex.data" + ("" if path.stem == "__init__" else "." + path.stem), path


def imported(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_every_module_has_a_layer():
    homeless = [m for m, _ in package_modules() if m != "covertreex" and layer_of(m) is None]
    assert not homeless, f"modules outside every layer: {homeless}"


def test_no_import_goes_up_a_layer():
    upward = []
    for module, path in package_modules():
        own = layer_of(module)
        if own is None:  # the package's face (covertreex/__init__.py) may import anything
            continue
        for target in imported(path):
            rank = layer_of(target)
            if rank is not None and rank > own:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The walk above would notice a core module importing the API (the test can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from covertreex.api.tree import CoverTree\n")
    assert layer_of("covertreex.core.tree") < max(layer_of(t) for t in imported(bad))
