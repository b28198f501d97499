"""Scenario 4: every notebook opens in JupyterLab and runs all its cells without errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))


def stored_cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))["cells"]


def code_cells_with_source(name: str) -> int:
    return sum(1 for c in stored_cells(name)
               if c["cell_type"] == "code" and "".join(c["source"]).strip())


def stores_stderr(name: str) -> bool:
    return any(o.get("output_type") == "stream" and o.get("name") == "stderr"
               for c in stored_cells(name) for o in c.get("outputs", []))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_all_cells_without_errors(notebooks, take_screenshot, name):
    nb = notebooks.get(name)
    try:
        take_screenshot(nb.page, f"4_run_all_{name.removesuffix('.ipynb')}")
        problems = nb.problems()
        assert not problems, f"{name} shows errors after Run All:\n" + "\n".join(problems)
        if not stores_stderr(name):  # warnings must not leak (CONTRIBUTING), in a browser neither
            stderr = nb.stderr_texts()
            assert not stderr, f"{name} writes to stderr in JupyterLab:\n" + "\n".join(stderr)
        total, executed = nb.code_cell_count()
        expected = code_cells_with_source(name)
        assert executed >= expected, (
            f"{name}: only {executed} of {expected} code cells ran "
            f"(Run All took {notebooks.run_seconds[name]:.0f} s)")
        assert nb.kernel_status() == "idle"
    finally:
        notebooks.done(name)  # closes it, except 02/03/05 which the widget scenarios reuse
