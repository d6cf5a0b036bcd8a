"""The explicit package list in pyproject.toml names every package folder (widgets/ and data/ map to
covertreex.widgets and covertreex.data)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_package_folder_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "covertreex").rglob("__init__.py")}
    folders |= {"covertreex.widgets", "covertreex.data"}
    assert set(config["packages"]) == folders
    assert config["package-dir"] == {"covertreex.widgets": "widgets", "covertreex.data": "data"}
    assert (ROOT / "widgets" / "__init__.py").is_file() and (ROOT / "data" / "__init__.py").is_file()


def test_widgets_import_as_covertreex_widgets():
    import covertreex.widgets as w

    assert Path(w.__file__).resolve().parent == (ROOT / "widgets").resolve()
    assert {"RuntimePanel", "BenchmarkRunner", "ScopeExplorer", "ResidualTuner", "TelemetryBrowser"} <= set(w.__all__)


def test_data_imports_as_covertreex_data():
    import covertreex.data as d

    assert Path(d.__file__).resolve().parent == (ROOT / "data").resolve()
