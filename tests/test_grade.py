"""Progress and grading: the learner's table, and the instructors' grader on a small class.

One grading run (module fixture) covers: the complete notebooks/ (every exercise passing), a
fresh learner edition (none started), a learner edition with one planted bug (exactly that
exercise failing, with its verdict), notebooks that loop forever, kill their kernel or are
not notebooks at all (each gets its rows; the grader goes on).
"""
from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cs231n_utils import i18n
from cs231n_utils.exercises import progress
from cs231n_utils.exercises.notebook_file import exercise_calls, read_notebook
from cs231n_utils.exercises.workspace import FAILING, NOT_STARTED, PASSING, main as progress_main, notebook_progress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import grade  # noqa: E402
import learner_edition as le  # noqa: E402

WITH_EXERCISES = sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                        if exercise_calls(read_notebook(p)))
ALL_EXERCISES = [c[0] for p in WITH_EXERCISES for c in exercise_calls(read_notebook(p))]
PLANTED_FROM = "np.add.at(dx, (n_idx, c_idx, i * s + a, j * s + b), dout[:, :, i, j])"
PLANTED_TO = "dx[n_idx, c_idx, i * s + a, j * s + b] = dout[:, :, i, j]"  # = where += is needed


def _complete_learner_copy(path: Path):
    """The learner edition of `path` with the solutions written back in: a learner who did everything."""
    learner, regions = le.make_learner_notebook(nbformat.read(path, as_version=4), path.name)
    return le.restore_notebook(learner, regions)


def _with_cell_edit(nb, defines: str, edit):
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {defines}(" in cell.source:
            cell.source = edit(cell.source)
            return nb
    raise AssertionError(f"no cell defines {defines}")


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    room = tmp_path_factory.mktemp("class")
    le.learner_edition(None, room / "fresh", log=lambda s: None)
    (room / "planted").mkdir()
    for path in WITH_EXERCISES:
        nb = _complete_learner_copy(path)
        if path.name.startswith("03_"):
            def plant(src):
                assert PLANTED_FROM in src
                return src.replace(PLANTED_FROM, PLANTED_TO)
            _with_cell_edit(nb, "max_pool_backward", plant)
        nbformat.write(nb, room / "planted" / path.name)
    pooling = ROOT / "notebooks" / "03_pooling.ipynb"
    (room / "loops").mkdir()
    nb = _complete_learner_copy(pooling)
    _with_cell_edit(nb, "max_pool_forward", lambda s: s + "\n\nwhile True:  # a loop at the top of the cell\n    pass\n")
    _with_cell_edit(nb, "max_pool_backward",
                    lambda s: s.replace("dx = np.zeros_like(x)", "dx = np.zeros_like(x)\n    while True:\n        pass"))
    nbformat.write(nb, room / "loops" / pooling.name)
    (room / "dies").mkdir()
    nb = _with_cell_edit(_complete_learner_copy(pooling), "max_pool_forward", lambda s: "import os\nos._exit(3)\n" + s)
    nbformat.write(nb, room / "dies" / pooling.name)
    (room / "junk").mkdir()
    (room / "junk" / "02_convolution.ipynb").write_text("{ this is not a notebook")
    return room


@pytest.fixture(scope="module")
def graded(klass, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "grade.py"), str(ROOT / "notebooks"), str(klass),
                          "--out", str(out), "--timeout", "8", "--case-limit", "1"],
                         capture_output=True, text=True, timeout=600, cwd=klass,
                         env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert run.returncode == 0, run.stderr
    with open(out / "grades.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows, out, run.stdout


def _rows(rows, learner):
    return [r for r in rows if r["learner"] == learner]


def test_complete_notebooks_pass_every_exercise(graded):
    rows, _, _ = graded
    mine = _rows(rows, "notebooks")
    assert sorted(r["exercise"] for r in mine) == sorted(ALL_EXERCISES)
    assert all(r["status"] == PASSING and r["verdict"] == "" for r in mine), mine


def test_a_fresh_learner_edition_has_nothing_started(graded):
    rows, _, _ = graded
    mine = _rows(rows, "fresh")
    assert sorted(r["exercise"] for r in mine) == sorted(ALL_EXERCISES)
    assert all(r["status"] == NOT_STARTED for r in mine), mine


def test_one_planted_bug_fails_exactly_that_exercise_with_its_verdict(graded):
    rows, _, _ = graded
    mine = _rows(rows, "planted")
    failing = [r for r in mine if r["status"] != PASSING]
    assert [r["exercise"] for r in failing] == ["max_pool_backward"]
    assert failing[0]["status"] == FAILING
    assert "dx wrong only where pooling windows overlap" in failing[0]["verdict"]
    assert "+= instead of =" in failing[0]["verdict"]


def test_infinite_loops_are_graded_within_the_time_limit(graded):
    rows, _, _ = graded
    by_name = {r["exercise"]: r for r in _rows(rows, "loops")}
    assert sorted(by_name) == ["max_pool_backward", "max_pool_forward"]
    assert by_name["max_pool_forward"]["status"] == FAILING
    assert "did not finish within the notebook's 8 s" in by_name["max_pool_forward"]["verdict"]
    assert by_name["max_pool_backward"]["status"] == FAILING
    assert "did not finish within 1 s in case" in by_name["max_pool_backward"]["verdict"]
    # (the grading run itself is bounded by the fixture's subprocess timeout)


def test_a_dying_kernel_and_a_broken_file_get_their_rows(graded):
    rows, _, stdout = graded
    died = _rows(rows, "dies")
    assert len(died) == 2 and all(r["status"] == grade.CRASH for r in died)
    assert "kernel died" in died[0]["verdict"]
    (junk,) = _rows(rows, "junk")
    assert junk["status"] == grade.UNREADABLE and "invalid JSON" in junk["verdict"]
    assert "report:" in stdout


def test_html_report_is_a_readable_table(graded):
    rows, out, _ = graded
    page = (out / "grades.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<table>" in page
    for learner in ("notebooks", "fresh", "planted", "loops", "dies", "junk"):
        assert f">{learner}</th>" in page
    assert "+= instead of =" in page and "\u2714" in page and "\u2718" in page and "What went wrong" in page


def test_learner_names_come_from_folders(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob" / "week1").mkdir(parents=True)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    for p in ("alice/02_convolution.ipynb", "bob/week1/03_pooling.ipynb", ".ipynb_checkpoints/x.ipynb", "top.ipynb"):
        (tmp_path / p).write_text("{}")
    found = grade.collect([tmp_path])
    assert [(learner, p.name) for learner, p in found] == [
        ("alice", "02_convolution.ipynb"), ("bob/week1", "03_pooling.ipynb"), (tmp_path.name, "top.ipynb")]
    assert grade.collect([tmp_path / "alice" / "02_convolution.ipynb"])[0][0] == "alice"
    assert grade.main([str(tmp_path / "nobody")]) == 2


# ---------------------------------------------------------------- progress

def test_progress_of_a_fresh_and_a_complete_notebook(klass):
    fresh = notebook_progress(klass / "fresh" / "02_convolution.ipynb")
    assert [r["status"] for r in fresh.rows] == [NOT_STARTED] * 3
    assert "0 of 3 exercises passing" in str(fresh) and "\u00b7 conv_output_size" in str(fresh)
    planted = notebook_progress(klass / "planted" / "03_pooling.ipynb")
    assert [r["status"] for r in planted.rows] == [PASSING, FAILING]
    assert "+= instead of =" in str(planted) and '<div class="cs231n-progress">' in planted._repr_html_()


def test_progress_in_the_notebook_reads_the_saved_file(klass, monkeypatch):
    monkeypatch.chdir(klass / "planted")
    table = progress("03_pooling.ipynb")
    assert "1 of 2 exercises passing" in str(table) and "save (Ctrl+S)" in str(table)
    missing = progress("99_nothing.ipynb")
    assert missing.rows == [] and "cannot find" in str(missing)
    i18n.set_language("zh")
    try:
        assert "2 个练习中通过了 1 个" in str(progress("03_pooling.ipynb"))
    finally:
        i18n.set_language("en")


def test_progress_tolerates_broken_and_looping_cells(klass):
    looping = notebook_progress(klass / "loops" / "03_pooling.ipynb", time_limit=0.25)
    assert [r["status"] for r in looping.rows] == [FAILING, FAILING]
    assert "did not finish within 1 s" in looping.rows[0]["verdict"]  # the cell: 4 x the per-call limit
    assert "did not finish within 0.25 s" in looping.rows[1]["verdict"]
    broken = notebook_progress(klass / "junk" / "02_convolution.ipynb")
    assert broken.rows == [] and "invalid JSON" in str(broken)


def test_progress_command(klass, capsys):
    assert progress_main([str(klass / "fresh" / "03_pooling.ipynb"), str(klass / "fresh" / "01_history.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "03_pooling.ipynb: 0 of 2 exercises passing" in out and "01_history" not in out
    assert "in all: 0 passing, 0 failing, 2 not started" in out


def test_learner_edition_starts_with_a_progress_cell(klass):
    fresh = klass / "fresh"
    for path in WITH_EXERCISES:
        nb = nbformat.read(fresh / path.name, as_version=4)
        cell = nb.cells[1]
        assert cell.metadata["tags"] == [le.PROGRESS_TAG]
        assert f"progress({path.name!r})" in cell.source and not cell.outputs
        nbformat.validate(nb)
    history = nbformat.read(fresh / "01_history.ipynb", as_version=4)
    assert not any(le.PROGRESS_TAG in c.metadata.get("tags", []) for c in history.cells)


def test_progress_cell_runs_in_the_learner_folder(klass):
    nb = nbformat.read(klass / "planted" / "03_pooling.ipynb", as_version=4)
    source = le.add_progress_cell(nb, "03_pooling.ipynb").cells[1].source
    run = subprocess.run([sys.executable, "-c", source.replace("progress(", "print(progress(") + ")"],
                         capture_output=True, text=True, cwd=klass / "planted", timeout=120)
    assert run.returncode == 0, run.stderr
    assert "03_pooling.ipynb: 1 of 2 exercises passing" in run.stdout


def test_workbook_has_the_progress_and_grade_commands():
    spec = importlib.util.spec_from_file_location("workbook", ROOT / "workbook.py")
    workbook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(workbook)
    assert {"exercises", "progress", "grade"} <= set(workbook.COMMANDS)
    assert "workbook.py grade" in workbook.__doc__ and "workbook.py progress" in workbook.__doc__


def test_a_deleted_check_cell_hides_no_exercise(klass, tmp_path):
    nb = nbformat.read(klass / "fresh" / "03_pooling.ipynb", as_version=4)
    nb.cells = [c for c in nb.cells if "exercise-check" not in c.metadata.get("tags", [])]
    nbformat.write(nb, tmp_path / "03_pooling.ipynb")
    table = notebook_progress(tmp_path / "03_pooling.ipynb")
    assert [r["exercise"] for r in table.rows] == ["max_pool_forward", "max_pool_backward"]
