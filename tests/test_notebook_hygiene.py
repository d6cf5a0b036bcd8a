"""Every notebook: no %pip / shell installs, seeded, no stored widget state, small, checked summary cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_quickstart", "02_euclidean_benchmarks", "03_residual_vecchia", "04_scope_and_runtime_tuning",
            "05_runtime_breakdown", "06_dynamic_updates", "07_gate_tuning"]


def test_the_seven_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_hygiene(path: Path):
    assert path.stat().st_size < 200_000, f"{path.name} is {path.stat().st_size:,} bytes"
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], f"{path.name} stores widget state"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    source = "\n".join("".join(c["source"]) for c in code)
    for banned in ("%pip", "!pip", "pip install", "%conda", "urlopen", "requests.get", "http://", "https://"):
        assert banned not in source, f"{path.name} contains {banned!r}"
    assert "default_rng(" in source, f"{path.name} has no seeded generator"
    assert "np.random.seed" not in source and "np.random.rand(" not in source, "use a seeded default_rng"
    assert 'os.environ.get("CT_NOTEBOOK_SIZE")' in source, f"{path.name} ignores the CI size switch"
    assert any("NBVAL_CHECK_OUTPUT" in "".join(c["source"]) for c in code), f"{path.name} checks no output"
    for cell in code:
        checked = "NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
        if cell["outputs"]:
            # stored outputs only where nbval compares them, and then with an execution count
            assert checked and cell["execution_count"] is not None, f"{path.name}: unchecked cell has outputs"
        if checked:
            assert cell["outputs"], f"{path.name}: a checked cell has no stored output"
    markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert markdown and "".join(markdown[0]["source"]).startswith("# "), f"{path.name} has no title"
