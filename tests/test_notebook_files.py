"""Static health of the committed notebooks: executed, deterministic-friendly, small, clean."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no NN_topic.ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_executed_in_order(path):
    cells = _code_cells(_load(path))
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{path.name}: a code cell was never executed; run `python3 workbook.py notebooks`"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: cells not executed top to bottom in one run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_stores_no_errors_or_warnings(path):
    for i, cell in enumerate(_code_cells(_load(path))):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} cell {i}: stored error {out.get('ename')}"
            if out["output_type"] == "stream" and out["name"] == "stderr":
                text = "".join(out["text"])
                assert "Warning" not in text and "Traceback" not in text, \
                    f"{path.name} cell {i}: stderr output {text[:200]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_small(path):
    size = path.stat().st_size
    assert size < 2_000_000, f"{path.name} is {size / 1e6:.1f} MB; keep figures small (dpi ~72-100)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_structure(path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    first = "".join(nb["cells"][0]["source"])
    assert first.lstrip().startswith("# "), f"{path.name}: must open with a title"
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"[\u4e00-\u9fff]", text), f"{path.name}: introduce key terms with their Chinese names"
    assert re.search(r"check your understanding", text, re.I), f"{path.name}: end with check-your-understanding questions"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercise_cells_are_well_formed(path):
    cells = _load(path)["cells"]
    for i, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        src = "".join(cell["source"])
        if "exercise" in tags:
            assert src.count("### BEGIN SOLUTION") == src.count("### END SOLUTION") >= 1, \
                f"{path.name} cell {i}: unbalanced solution markers"
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            assert nxt is not None and "exercise-check" in nxt.get("metadata", {}).get("tags", []), \
                f"{path.name} cell {i}: an exercise cell must be followed by its check cell"
        elif "### BEGIN SOLUTION" in src:
            pytest.fail(f"{path.name} cell {i}: solution markers in a cell not tagged 'exercise'")
