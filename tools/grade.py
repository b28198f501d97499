#!/usr/bin/env python3
"""Grade a class's learner notebooks headless: a per-learner, per-exercise table (CSV and HTML).

    python3 workbook.py grade submissions/            # every .ipynb below, one learner per folder
    python3 workbook.py grade alice.ipynb bob/ --out report/ --timeout 60 --case-limit 5

Each notebook runs in a fresh Jupyter kernel (its working directory is the notebook's folder):
its exercise cells (tagged `exercise`, or any cell defining an exercise's function) run one
by one, then, in the same kernel, `check()` from the package runs on each exercise's
function. Stored outputs are never read, so an edited output proves nothing. The exercises
of a notebook are those its complete edition in notebooks/ checks (the same file name), or,
for other notebooks, those its own `check(...)` cells name.

Limits: `--timeout` seconds for the exercise cells of one notebook together (a cell still
running then is interrupted, and the notebook gets its rows); `--case-limit` seconds per
call of a learner's function inside `check()` (its own time limit). A notebook that cannot be
read, whose kernel dies, or that hangs gets rows saying so; the grader goes on.

Learner names: a notebook's folder relative to the PATH given (`submissions/alice/02_x.ipynb`
-> alice); a notebook given directly is named by its own folder.

The grader runs the learners' code with your rights: for submissions you do not trust, run
it in a container or a throw-away account.
"""
from __future__ import annotations

import argparse
import csv
import html
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from cs231n_utils.exercises.notebook_file import (NotebookError, errors_by_function, exercise_cells, exercises_of,
                                                  read_notebook)
from cs231n_utils.exercises.workspace import FAILING, NOT_STARTED, PASSING

MARKER = "@@CS231N-GRADE@@"
UNREADABLE, HANG, CRASH = "unreadable", "did not finish", "kernel died"


@dataclass
class Row:
    learner: str
    notebook: str
    exercise: str
    status: str
    verdict: str
    seconds: float


def collect(paths: Sequence[Path]) -> list[tuple[str, Path]]:
    """(learner, notebook) for every notebook named or found below the folders named."""
    found = []
    for given in paths:
        given = Path(given)
        if given.is_dir():
            for nb in sorted(given.rglob("*.ipynb")):
                if any(part.startswith(".") for part in nb.relative_to(given).parts):
                    continue  # .ipynb_checkpoints, .backup
                rel = nb.parent.relative_to(given)
                found.append((str(rel) if str(rel) != "." else given.resolve().name, nb))
        else:
            found.append((given.resolve().parent.name, given))
    return found


def _check_cell(calls, errors: dict, case_limit: float) -> str:
    return ("import json as _json\n"
            "from cs231n_utils.exercises.workspace import check_namespace as _check_namespace\n"
            f"print({MARKER!r} + _json.dumps(_check_namespace(globals(), {calls!r}, {errors!r}, "
            f"time_limit={case_limit!r})))\n")


def _cell_error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {str(out.get('evalue', ''))[:160]}".rstrip(": ")
    return None


def grade_notebook(learner: str, path: Path, timeout: float, case_limit: float) -> list[Row]:
    """One notebook's rows, never raising for anything the notebook does."""
    start = time.monotonic()

    def rows_for(calls, status, verdict):
        names = [c[0] for c in calls] or ["-"]
        return [Row(learner, path.name, name, status, verdict, round(time.monotonic() - start, 1)) for name in names]

    try:
        nb = read_notebook(path)
    except NotebookError as exc:
        return rows_for([], UNREADABLE, str(exc))
    calls = exercises_of(path, nb)
    if not calls:
        return []
    cells = exercise_cells(nb, [c[1] for c in calls])
    run = nbformat.v4.new_notebook()
    run.cells = [nbformat.v4.new_code_cell("import numpy as np")] + [nbformat.v4.new_code_cell(s) for _, s in cells]
    client = NotebookClient(run, timeout=int(timeout), kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, record_timing=False, iopub_timeout=4,
                            error_on_timeout={"ename": "TimeoutError", "evalue": "did not finish in time",
                                              "traceback": []},
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    errors: dict[int, str] = {}
    deadline = start + timeout
    try:
        with client.setup_kernel(stderr=subprocess.DEVNULL):  # the kernel's own start-up chatter
            for k, cell in enumerate(run.cells):
                client.timeout = max(1, int(deadline - time.monotonic()))
                began = time.monotonic()
                client.execute_cell(cell, k)
                error = _cell_error(cell)
                index = cells[k - 1][0] if k else 0
                if time.monotonic() - began >= client.timeout:
                    if error is None:  # the interrupt did not stop it: the kernel is stuck
                        return rows_for(calls, HANG, f"cell {index} did not finish within the notebook's {timeout:g} s "
                                                     f"and ignored the interrupt")
                    errors[index] = f"cell {index} did not finish within the notebook's {timeout:g} s"
                elif error and k:
                    errors[index] = f"cell {index} raised {error}"
            check = nbformat.v4.new_code_cell(_check_cell([list(c) for c in calls], errors_by_function(cells, errors),
                                                          case_limit))
            run.cells.append(check)
            client.timeout = int(len(calls) * 3 * case_limit + 60)  # the checks bound each call themselves
            client.execute_cell(check, len(run.cells) - 1)
    except DeadKernelError:
        return rows_for(calls, CRASH, "the kernel died while running the notebook (os._exit, a crash, or out "
                                      "of memory)" + (f"; {'; '.join(errors.values())}" if errors else ""))
    except Exception as exc:  # nbclient or kernel start-up trouble: this notebook's rows, not a crash
        return rows_for(calls, HANG if "imeout" in type(exc).__name__ else CRASH,
                        f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''}")
    text = "".join(o.get("text", "") for o in run.cells[-1].get("outputs", []) if o.get("output_type") == "stream")
    found = [line[len(MARKER):] for line in text.splitlines() if line.startswith(MARKER)]
    if not found:
        why = _cell_error(run.cells[-1])
        if why and not why.startswith("TimeoutError"):
            return rows_for(calls, CRASH, f"the checks could not run: {why}")
        return rows_for(calls, HANG, "the checks did not finish; " + ("; ".join(errors.values())
                                                                      or "the notebook may be stuck in a loop"))
    seconds = round(time.monotonic() - start, 1)
    return [Row(learner, path.name, r["exercise"], r["status"], r["verdict"], seconds) for r in json.loads(found[-1])]


def write_csv(rows: Sequence[Row], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["learner", "notebook", "exercise", "status", "verdict", "seconds"])
        for r in rows:
            writer.writerow([r.learner, r.notebook, r.exercise, r.status, r.verdict, r.seconds])


_STYLE = {PASSING: ("\u2714", "#dafbe1"), FAILING: ("\u2718", "#ffebe9"), NOT_STARTED: ("\u00b7", "#f6f8fa"),
          UNREADABLE: ("?", "#fff8c5"), HANG: ("\u221e", "#ffebe9"), CRASH: ("\u2620", "#ffebe9")}


def write_html(rows: Sequence[Row], path: Path, seconds: float) -> None:
    """A learner x exercise table of marks (the verdict on hover), then every non-passing verdict."""
    learners = list(dict.fromkeys(r.learner for r in rows))
    columns = list(dict.fromkeys((r.notebook, r.exercise) for r in rows))
    cell = {(r.learner, r.notebook, r.exercise): r for r in rows}
    head = "".join(f"<th title='{html.escape(nb)}'>{html.escape(ex)}</th>" for nb, ex in columns)
    body = []
    for learner in learners:
        tds = []
        for nb, ex in columns:
            r = cell.get((learner, nb, ex))
            if r is None:
                tds.append("<td></td>")
                continue
            mark, colour = _STYLE.get(r.status, ("?", "#fff"))
            tds.append(f"<td style='background:{colour};text-align:center' title='{html.escape(r.status)}: "
                       f"{html.escape(r.verdict)}'>{mark}</td>")
        passed = sum(1 for r in rows if r.learner == learner and r.status == PASSING)
        total = sum(1 for r in rows if r.learner == learner)
        body.append(f"<tr><th style='text-align:left'>{html.escape(learner)}</th>{''.join(tds)}"
                    f"<td>{passed} / {total}</td></tr>")
    details = "".join(f"<li><b>{html.escape(r.learner)}</b>, {html.escape(r.notebook)}, <code>{html.escape(r.exercise)}"
                      f"</code>: {html.escape(r.status)}{': ' + html.escape(r.verdict) if r.verdict else ''}</li>"
                      for r in rows if r.status not in (PASSING, NOT_STARTED))
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>Exercise grades</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #d0d7de;padding:4px 8px}li{margin:4px 0}</style></head><body>"
            f"<h1>Exercise grades</h1><p>{len(learners)} learner(s), {len(rows)} exercise row(s), graded in "
            f"{seconds:.0f} s. Marks: \u2714 passing, \u2718 failing, \u00b7 not started, \u221e did not finish, "
            f"\u2620 kernel died, ? unreadable (hover a mark for its verdict).</p>"
            f"<table><tr><th>learner</th>{head}<th>passing</th></tr>{''.join(body)}</table>"
            f"<h2>What went wrong</h2><ul>{details or '<li>nothing: every exercise started passes</li>'}</ul>"
            "</body></html>")
    path.write_text(page, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 workbook.py grade", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="learner notebooks, or folders holding them")
    parser.add_argument("--out", type=Path, default=Path("grade-report"),
                        help="folder for grades.csv and grades.html (default: ./grade-report)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for one notebook's exercise cells")
    parser.add_argument("--case-limit", type=float, default=5.0, help="seconds per call of a learner's function")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    start = time.monotonic()
    rows: list[Row] = []
    for learner, path in collect(args.paths):
        graded = grade_notebook(learner, path, args.timeout, args.case_limit)
        rows += graded
        if graded:
            counts = {s: sum(1 for r in graded if r.status == s) for s in (PASSING, FAILING, NOT_STARTED)}
            other = len(graded) - sum(counts.values())
            print(f"{learner}/{path.name}: {counts[PASSING]} passing, {counts[FAILING]} failing, "
                  f"{counts[NOT_STARTED]} not started" + (f", {other} not graded ({graded[0].status})" if other else "")
                  + f" [{graded[-1].seconds:.1f} s]", flush=True)
    seconds = time.monotonic() - start
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        write_csv(rows, args.out / "grades.csv")
        write_html(rows, args.out / "grades.html", seconds)
    except OSError as exc:
        print(f"error: cannot write the report into {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"graded {len({r.learner for r in rows})} learner(s), {len(rows)} exercise row(s) in {seconds:.1f} s; "
          f"report: {args.out / 'grades.csv'}, {args.out / 'grades.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
