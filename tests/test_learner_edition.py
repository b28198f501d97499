"""The learner edition: solutions out, stubs in, outputs cleared, a learner's file never overwritten.

Runs on a small synthetic notebook built here and on every real notebooks/NN_*.ipynb.
"""
from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cs231n_utils.exercises import EXERCISES, check

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from learner_edition import (BEGIN_SOLUTION, END_SOLUTION, STUB_COMMENT, STUB_RAISE,  # noqa: E402
                             learner_edition, main, make_learner_notebook, restore_notebook, restore_solutions,
                             strip_solutions)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WITH_EXERCISES = [p for p in NOTEBOOKS if BEGIN_SOLUTION in p.read_text(encoding="utf-8")]

EXERCISE_SRC = '''import numpy as np


def conv_output_size(size, filter_size, stride=1, pad=0, dilation=1):
    """Output size along one axis: (W + 2P - D*(F-1) - 1)/S + 1, ValueError if not an integer."""
    ### BEGIN SOLUTION
    eff = dilation * (filter_size - 1) + 1
    span = size + 2 * pad - eff
    if span < 0 or span % stride:
        raise ValueError(f"({size} + 2*{pad} - {eff})/{stride} + 1 is not a positive integer")
    return span // stride + 1
    ### END SOLUTION


def relu_backward(dout, cache):
    x = cache
    ### BEGIN SOLUTION
    dx = dout * (x > 0)
    ### END SOLUTION
    return dx'''

CHECK_SRC = '''from cs231n_utils.exercises import check
print(check("conv_output_size", conv_output_size))
check("relu_backward", relu_backward)'''  # printed, or shown as the cell's last expression

TOP_LEVEL_SRC = '''### BEGIN SOLUTION
answer = 42
### END SOLUTION
print(answer)'''


def _synthetic() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {}}}}
    cells = [
        nbformat.v4.new_markdown_cell("# 99 Synthetic\n\nA notebook made by the tests. 感受野"),
        nbformat.v4.new_code_cell("import numpy as np\nprint(np.arange(3))", execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="[0 1 2]\n")]),
        nbformat.v4.new_code_cell(EXERCISE_SRC, execution_count=2, metadata={"tags": ["exercise"]}),
        nbformat.v4.new_code_cell(CHECK_SRC, execution_count=3, metadata={"tags": ["exercise-check"]},
                                  outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                  text="conv_output_size: all 13 cases pass\n")]),
        nbformat.v4.new_code_cell(TOP_LEVEL_SRC, execution_count=4, metadata={"tags": ["exercise"]}),
        nbformat.v4.new_code_cell("x = 1", execution_count=5,
                                  outputs=[nbformat.v4.new_output("execute_result", data={"text/plain": "1"},
                                                                  execution_count=5)]),
    ]
    cells[2].metadata["execution"] = {"iopub.execute_input": "2026-11-29T20:00:00Z"}
    nb.cells = cells
    return nb


@pytest.fixture
def synthetic(tmp_path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    path = folder / "99_synthetic.ipynb"
    nbformat.write(_synthetic(), path)
    return path


def _code(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


# ---------------------------------------------------------------- strip / restore

def test_strip_keeps_indentation_and_restore_inverts_it():
    learner, regions = strip_solutions(EXERCISE_SRC)
    assert len(regions) == 2
    assert BEGIN_SOLUTION not in learner and END_SOLUTION not in learner
    assert "span // stride" not in learner and "x > 0" not in learner
    assert f"    {STUB_COMMENT}\n    {STUB_RAISE}" in learner
    assert "    x = cache" in learner and "    return dx" in learner  # code outside the markers stays
    assert restore_solutions(learner, regions) == EXERCISE_SRC
    top, top_regions = strip_solutions(TOP_LEVEL_SRC)
    assert top.startswith(f"{STUB_COMMENT}\n{STUB_RAISE}\n")
    assert restore_solutions(top, top_regions) == TOP_LEVEL_SRC


@pytest.mark.parametrize("bad, words", [
    ("a\n### BEGIN SOLUTION\nb", "never closed"),
    ("### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_unbalanced_markers_are_refused_with_the_place(bad, words):
    with pytest.raises(ValueError, match=words) as info:
        strip_solutions(bad, "02_convolution.ipynb cell 7")
    assert "02_convolution.ipynb cell 7" in str(info.value)


def test_learner_notebook_is_clean_and_round_trips():
    nb = _synthetic()
    learner, regions = make_learner_notebook(nb)
    assert set(regions) == {2, 4}
    assert "widgets" not in learner.metadata
    for cell in learner.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert "execution" not in cell.metadata
            assert BEGIN_SOLUTION not in cell.source
    assert learner.cells[2].metadata["tags"] == ["exercise"]
    assert [c.source for c in learner.cells if c.cell_type == "markdown"] == \
           [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert _code(restore_notebook(learner, regions)) == _code(nb)
    nbformat.validate(learner)
    assert nb.cells[3].outputs, "the complete edition passed in is not modified"


def _run_exercises(nb, namespace=None) -> list[str]:
    """Execute exercise and check cells in order (one namespace); return what each check cell printed."""
    namespace = {} if namespace is None else namespace
    namespace.update(np=np, numpy=np)
    printed = []
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or not ({"exercise", "exercise-check"} & set(tags)):
            continue
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            if "exercise" in tags:
                try:
                    exec(compile(cell.source, f"<cell {index}>", "exec"), namespace)
                except NotImplementedError:
                    pass  # a top-level stub raises when run; a def does not
            else:  # must not raise; like IPython, the value of a last bare expression is shown
                tree = ast.parse(cell.source)
                last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                exec(compile(tree, f"<cell {index}>", "exec"), namespace)
                if last is not None:
                    value = eval(compile(ast.Expression(last.value), f"<cell {index}>", "eval"), namespace)
                    if value is not None:
                        print(value)
                printed.append(buffer.getvalue())
    return printed


def test_synthetic_learner_cells_raise_and_checks_say_not_implemented():
    learner, regions = make_learner_notebook(_synthetic())
    namespace = {"np": np}
    exec(learner.cells[2].source, namespace)
    with pytest.raises(NotImplementedError):
        namespace["conv_output_size"](7, 3)
    with pytest.raises(NotImplementedError):
        namespace["relu_backward"](np.ones(3), np.ones(3))
    with pytest.raises(NotImplementedError):
        exec(learner.cells[4].source, {})
    (out,) = _run_exercises(learner)
    assert out.splitlines() == ["conv_output_size: not implemented yet — fill in the cell marked YOUR CODE HERE",
                                "relu_backward: not implemented yet — fill in the cell marked YOUR CODE HERE"]
    (complete,) = _run_exercises(restore_notebook(learner, regions))
    assert complete.splitlines() == ["conv_output_size: all 13 cases pass", "relu_backward: all 3 cases pass"]


# ---------------------------------------------------------------- writing files

def test_writes_then_never_overwrites(synthetic, tmp_path):
    out = tmp_path / "exercises"
    lines = []
    assert learner_edition([synthetic], out, log=lines.append) == [(out / synthetic.name, "wrote")]
    assert "wrote" in lines[-1] and "2 exercise cells" in lines[-1]
    target = out / synthetic.name
    mine = target.read_text(encoding="utf-8").replace("# YOUR CODE HERE", "# my own work", 1)
    target.write_text(mine, encoding="utf-8")
    assert learner_edition([synthetic], out, log=lines.append) == [(target, "skipped")]
    assert "skipped" in lines[-1] and "already exists" in lines[-1] and "--force" in lines[-1]
    assert target.read_text(encoding="utf-8") == mine
    assert not (out / ".backup").exists()


def test_force_backs_up_first(synthetic, tmp_path):
    out = tmp_path / "exercises"
    learner_edition([synthetic], out, log=lambda s: None)
    target = out / synthetic.name
    target.write_text(target.read_text(encoding="utf-8").replace("# YOUR CODE HERE", "# mine", 1), encoding="utf-8")
    mine = target.read_text(encoding="utf-8")
    lines = []
    assert learner_edition([synthetic], out, force=True, log=lines.append) == [(target, "replaced")]
    assert learner_edition([synthetic], out, force=True, log=lines.append) == [(target, "replaced")]
    backups = sorted((out / ".backup").iterdir())
    assert len(backups) == 2, "two forced runs in the same second keep two backups"
    assert all(re.fullmatch(r"99_synthetic\.\d{8}-\d{6}(-\d+)?\.ipynb", b.name) for b in backups)
    assert mine in [b.read_text(encoding="utf-8") for b in backups]
    assert "# mine" not in target.read_text(encoding="utf-8")
    assert ".backup" in lines[0]


def test_notebook_without_exercises_is_copied_with_outputs_cleared(tmp_path):
    nb = _synthetic()
    nb.cells = [c for c in nb.cells if "tags" not in c.metadata]
    src = tmp_path / "01_plain.ipynb"
    nbformat.write(nb, src)
    lines = []
    learner_edition([src], tmp_path / "exercises", log=lines.append)
    copied = nbformat.read(tmp_path / "exercises" / src.name, as_version=4)
    assert _code(copied) == _code(nb)
    assert all(c.outputs == [] for c in copied.cells if c.cell_type == "code")
    assert "no exercises" in lines[0]


def test_command_line(synthetic, tmp_path, capsys):
    out = tmp_path / "ex"
    args = ["--out", str(out), str(synthetic)]
    # one real run of the script (the way workbook.py calls it), the others in-process
    first = subprocess.run([sys.executable, str(ROOT / "tools" / "learner_edition.py"), *args], capture_output=True,
                           text=True, cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stdout and "1 written" in first.stdout
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "skipped" in second and "1 kept" in second
    assert main(args + ["--force"]) == 0
    assert "1 replaced" in capsys.readouterr().out
    assert len(list((out / ".backup").iterdir())) == 1


def test_command_line_reports_bad_markers(tmp_path, capsys):
    nb = _synthetic()
    nb.cells[2].source = nb.cells[2].source.replace(END_SOLUTION, "", 1)
    bad = tmp_path / "03_bad.ipynb"
    nbformat.write(nb, bad)
    assert main(["--out", str(tmp_path / "ex"), str(bad)]) == 1
    assert "03_bad.ipynb cell 2" in capsys.readouterr().err
    assert not (tmp_path / "ex" / "03_bad.ipynb").exists()


def test_default_output_is_the_ignored_exercises_folder():
    assert "/exercises/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "exercises" in (ROOT / "pyproject.toml").read_text()  # pytest does not collect it


# ---------------------------------------------------------------- the real notebooks

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_real_notebook_round_trips(path):
    nb = nbformat.read(path, as_version=4)
    learner, regions = make_learner_notebook(nb, path.name)
    assert _code(restore_notebook(learner, regions)) == _code(nb)
    for cell in learner.cells:
        if cell.cell_type == "code":
            assert BEGIN_SOLUTION not in cell.source and not cell.outputs


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_real_notebook_follows_the_exercise_convention(path):
    nb = nbformat.read(path, as_version=4)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for k, (i, cell) in enumerate(code):
        tags = cell.metadata.get("tags", [])
        has_markers = BEGIN_SOLUTION in cell.source
        assert has_markers == ("exercise" in tags), \
            f"{path.name} cell {i}: solution markers and the `exercise` tag must go together"
        if "exercise" in tags:
            assert k + 1 < len(code) and "exercise-check" in code[k + 1][1].metadata.get("tags", []), \
                f"{path.name} cell {i}: an exercise cell must be followed by a cell tagged `exercise-check`"
        if "exercise-check" in tags:
            last = cell.source.strip().splitlines()[-1].strip()
            assert "check(" in cell.source and (last.startswith("check(") or last == "result"), \
                f"{path.name} cell {i}: a check cell ends with check(...) (or `result`) so the verdict displays"


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_real_learner_edition_checks_say_not_implemented(path):
    nb = nbformat.read(path, as_version=4)
    learner, regions = make_learner_notebook(nb, path.name)
    namespace = {}
    for text in _run_exercises(learner, namespace):
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines, f"{path.name}: a check cell printed nothing"
        assert "Traceback" not in text, text
        assert any("not implemented yet" in line for line in lines), text
    defined = [name for name in EXERCISES  # functions the cells define, not ones they import
               if getattr(getattr(namespace.get(name), "__code__", None), "co_filename", "").startswith("<cell")]
    assert defined, f"{path.name}: no exercise function defined by its exercise cells"
    for name in defined:  # each stubbed function raises NotImplementedError when called
        assert check(name, namespace[name]).status == "todo", name
    for text in _run_exercises(restore_notebook(learner, regions)):
        assert "not implemented yet" not in text and "cases pass" in text, f"{path.name}: {text}"
