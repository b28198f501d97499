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


def _stored_pngs(nb):
    """(where, PNG bytes) of every stored picture: cell outputs and the widgets' saved outputs."""
    import base64
    found = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                found.append((f"cell {i}", base64.b64decode("".join(data["image/png"]))))
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for model_id, model in state.get("state", {}).items():
        for out in model.get("state", {}).get("outputs", []) or []:
            data = out.get("data", {})
            if "image/png" in data:
                found.append((f"widget {model_id[:8]}", base64.b64decode("".join(data["image/png"]))))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_stored_figure_is_at_least_500_px_wide(path):
    """STYLE.md: figures are read, not glanced at (plotting.style sets 100 dpi; >= 500 px wide)."""
    from cs231n_utils.plotting.style import MIN_WIDTH_PX, png_size
    pngs = _stored_pngs(_load(path))
    narrow = [f"{where}: {png_size(png)[0]} px" for where, png in pngs if png_size(png)[0] < MIN_WIDTH_PX]
    assert not narrow, f"{path.name}: figures narrower than {MIN_WIDTH_PX} px: {', '.join(narrow)}"


def test_the_png_check_reads_cell_and_widget_pictures():
    import base64
    from cs231n_utils.plotting.style import png_size
    fake = {"cells": [{"cell_type": "code", "outputs": [{"data": {"image/png": base64.b64encode(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x90\x00\x00\x00\x10").decode()}}]}],
            "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {
                "abc123456": {"state": {"outputs": [{"data": {"image/png": base64.b64encode(
                    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x58\x00\x00\x00\x10").decode()}}]}}}}}}}
    found = _stored_pngs(fake)
    assert [w for w, _ in found] == ["cell 0", "widget abc12345"]
    assert [png_size(p)[0] for _, p in found] == [400, 600]
