"""The learner's progress (学习进度): which exercises of a notebook are not started, failing or passing.

    from cs231n_utils.exercises import progress
    progress("02_convolution.ipynb")        # in a learner notebook: a table for this notebook

    python3 workbook.py progress            # every learner notebook in exercises/

The table is built from the SAVED notebook: its exercise cells (tagged `exercise`, which by
the workbook's convention run with only `numpy as np` defined) are run in a fresh namespace,
each within a time limit, and every exercise its check cells name is checked from the
package (`check`), never from stored outputs. `check_namespace` is the shared last step; the
instructors' grader (tools/grade.py) runs it inside each learner's kernel.
"""
from __future__ import annotations

import argparse
import contextlib
import html
import io
import linecache
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..i18n import say
from .checking import check
from .harness import TimeUp, get_time_limit, run_limited
from .notebook_file import NotebookError, errors_by_function, exercise_cells, exercises_of, read_notebook
from .registry import REGISTRY

NOT_STARTED, FAILING, PASSING = "not started", "failing", "passing"
_SHOWN = {NOT_STARTED: ("\u00b7", "#57606a", ("not started", "未开始")),
          FAILING: ("\u2718", "#cf222e", ("failing", "未通过")),
          PASSING: ("\u2714", "#1a7f37", ("passing", "通过"))}


def status_of(result) -> str:
    """not started / failing / passing, from a CheckResult's status."""
    return {"pass": PASSING, "todo": NOT_STARTED}.get(result.status, FAILING)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}" + (f": {text[0][:120]}" if text else "")


def _transform(source: str) -> str:
    """IPython's own rewrite of magics and `!` lines into Python, when IPython is there."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def run_cells(cells: Sequence[tuple[int, str]], label: str, time_limit: float | None = None):
    """Run (index, source) cells in one fresh namespace holding only `np`; returns
    (namespace, {cell index: one-line error}). Printed output is dropped; each cell gets
    `time_limit` seconds (default: the checks' limit times 4)."""
    limit = (time_limit or get_time_limit()) * 4
    namespace: dict = {"np": np, "numpy": np, "__name__": "__main__"}
    errors: dict[int, str] = {}
    for index, source in cells:
        filename = f"<{label} cell {index}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for verdict lines
        try:
            code = compile(_transform(source), filename, "exec")
        except SyntaxError as exc:
            errors[index] = say(f"cell {index} has a syntax error at line {exc.lineno}: {exc.msg}",
                                f"第 {index} 个单元格第 {exc.lineno} 行有语法错误：{exc.msg}")
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                run_limited(exec, (code, namespace), limit)
        except TimeUp:
            errors[index] = say(f"cell {index} did not finish within {limit:g} s",
                                f"第 {index} 个单元格在 {limit:g} 秒内没有结束")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the learner's cell: report, never stop the table
            errors[index] = say(f"cell {index} raised {_first_line(exc)}", f"第 {index} 个单元格抛出 {_first_line(exc)}")
    return namespace, errors


def check_namespace(namespace: dict, calls: Sequence[Sequence], cell_errors: dict | None = None,
                    time_limit: float | None = None) -> list[dict]:
    """Check each (exercise, function name, forward name) of `calls` on the functions found in
    `namespace`. `cell_errors` maps a function name to the error of the cell that defines it
    (that cell did not run through: the exercise fails even if the function passes). Returns
    one dict per exercise: exercise, status (not started / failing / passing), verdict (one
    line). A function that is missing, or is the package's own, fails."""
    cell_errors = cell_errors or {}
    rows = []
    for exercise, fn_name, forward_name in calls:
        if exercise not in REGISTRY:
            continue
        fn = namespace.get(fn_name)
        forward = namespace.get(forward_name) if forward_name else None
        if fn is None or not callable(fn):
            why = cell_errors.get(fn_name) or say(f"the notebook defines no function {fn_name}",
                                                  f"笔记本里没有定义函数 {fn_name}")
            rows.append({"exercise": exercise, "status": FAILING, "verdict": why})
            continue
        if str(getattr(fn, "__module__", "")).startswith("cs231n_utils"):
            rows.append({"exercise": exercise, "status": FAILING,
                         "verdict": say(f"{fn_name} is the package's own implementation, not one written in the notebook",
                                        f"{fn_name} 是工具包自带的实现，不是在笔记本里写的")})
            continue
        result = check(exercise, fn, forward=forward if callable(forward) else None, time_limit=time_limit)
        status = status_of(result)
        verdict = result.message if status == FAILING else ""
        if fn_name in cell_errors:
            status = FAILING
            verdict = cell_errors[fn_name] + say(" (fix that first", "（请先修好它") + (
                say("; the function itself passes)", "；函数本身是对的）") if result.passed else
                say(f"; the function: {result.message})", f"；函数本身：{result.message}）"))
        rows.append({"exercise": exercise, "status": status, "verdict": verdict})
    return rows


@dataclass
class Progress:
    """A progress table: `notebook` and one row dict per exercise (exercise, status, verdict)."""

    notebook: str
    rows: list
    note: str = ""
    has_exercises: bool = True

    def counts(self) -> dict:
        return {s: sum(1 for r in self.rows if r["status"] == s) for s in (NOT_STARTED, FAILING, PASSING)}

    def title(self) -> str:
        n = self.counts()
        return say(f"{self.notebook}: {n[PASSING]} of {len(self.rows)} exercises passing",
                   f"{self.notebook}：{len(self.rows)} 个练习中通过了 {n[PASSING]} 个")

    def __str__(self) -> str:
        if not self.rows:
            return f"{self.notebook}: {self.note}"
        width = max(len(r["exercise"]) for r in self.rows)
        lines = [self.title()]
        for r in self.rows:
            mark, _, words = _SHOWN[r["status"]]
            tail = f": {r['verdict']}" if r["verdict"] else ""
            lines.append(f"  {mark} {r['exercise']:<{width}}  {say(*words)}{tail}")
        if self.note:
            lines.append(f"  ({self.note})")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if not self.rows:
            return f'<div class="cs231n-progress">{html.escape(str(self))}</div>'
        body = []
        for r in self.rows:
            mark, colour, words = _SHOWN[r["status"]]
            body.append(f'<tr><td style="color:{colour};font-weight:bold">{mark}</td>'
                        f"<td><code>{html.escape(r['exercise'])}</code></td><td>{html.escape(say(*words))}</td>"
                        f'<td style="text-align:left;white-space:normal;word-break:normal">'
                        f"{html.escape(r['verdict'])}</td></tr>")
        note = f'<div style="color:#57606a">{html.escape(self.note)}</div>' if self.note else ""
        return (f'<div class="cs231n-progress"><b>{html.escape(self.title())}</b>'
                f'<table style="border-collapse:collapse">{"".join(body)}</table>{note}</div>')


def notebook_progress(path, time_limit: float | None = None) -> Progress:
    """The progress table of one saved notebook (its exercise cells run here, in this process)."""
    path = Path(path)
    try:
        nb = read_notebook(path)
    except NotebookError as exc:
        return Progress(path.name, [], str(exc))
    calls = exercises_of(path, nb)
    if not calls:
        return Progress(path.name, [], say("no exercises in this notebook", "这个笔记本里没有练习"), False)
    cells = exercise_cells(nb, [c[1] for c in calls])
    namespace, errors = run_cells(cells, path.stem, time_limit)
    return Progress(path.name, check_namespace(namespace, calls, errors_by_function(cells, errors), time_limit))


def progress(notebook: str | Path, time_limit: float | None = None) -> Progress:
    """The progress table of `notebook` (a path, e.g. "02_convolution.ipynb" from a learner
    notebook in exercises/), read from its saved file: save it first (Ctrl+S)."""
    path = Path(notebook)
    if not path.exists():
        return Progress(path.name, [], say(f"cannot find {path} from {Path.cwd()}: open the notebook from the "
                                           f"exercises/ folder, or pass the notebook's path",
                                           f"在 {Path.cwd()} 下找不到 {path}：请从 exercises/ 文件夹打开笔记本，或传入它的路径"))
    table = notebook_progress(path, time_limit)
    if table.rows:
        table.note = say("read from the saved notebook: save (Ctrl+S), then run this cell again to update",
                         "读取的是已保存的笔记本：先保存（Ctrl+S），再运行这个单元格即可更新")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """`python3 workbook.py progress [notebooks...]`: a table per learner notebook in exercises/."""
    from ..paths import REPO_ROOT

    parser = argparse.ArgumentParser(prog="python3 workbook.py progress",
                                     description="Show which exercises of your notebooks in exercises/ are not "
                                                 "started, failing or passing (read from the saved files).")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: exercises/NN_*.ipynb)")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per call of your function")
    args = parser.parse_args(argv)
    folder = REPO_ROOT / "exercises"
    paths = args.notebooks or sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(say(f"no learner notebooks in {folder}: write them first with `python3 workbook.py exercises`",
                  f"{folder} 里没有学习者笔记本：请先运行 `python3 workbook.py exercises`"))
        return 1
    totals = {NOT_STARTED: 0, FAILING: 0, PASSING: 0}
    for path in paths:
        table = notebook_progress(path, args.time_limit)
        if not table.has_exercises:
            continue
        print(table, end="\n\n")
        for key, value in table.counts().items():
            totals[key] += value
    print(say(f"in all: {totals[PASSING]} passing, {totals[FAILING]} failing, {totals[NOT_STARTED]} not started",
              f"合计：通过 {totals[PASSING]}，未通过 {totals[FAILING]}，未开始 {totals[NOT_STARTED]}"))
    return 0


