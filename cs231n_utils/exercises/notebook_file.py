"""Reading a notebook file that may not be one (a learner's, a class's), and what its exercises are.

`read_notebook` parses with limits and says what is wrong in one line; `exercise_calls` finds
which exercises a notebook checks (from its `check(...)` cells) and `exercise_cells` the
cells that define them.
"""
from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path


class NotebookError(ValueError):
    """A file that cannot be read as a notebook; the message says why, in one line."""


#: Largest notebook read (bytes). The workbook's notebooks are under 1.5 MB; anything far
#: larger is not one of them, and is refused before it is parsed.
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


def read_notebook(path: Path):
    """Parse `path` as a version-4 notebook, with limits; NotebookError saying what is wrong.

    Nothing in the file is executed or unpickled: it is JSON, read up to MAX_NOTEBOOK_BYTES,
    then checked against the notebook format.
    """
    path = Path(path)
    if path.is_dir():
        raise NotebookError(f"{path} is a folder, not a notebook: name .ipynb files")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_NOTEBOOK_BYTES + 1)
    except FileNotFoundError:
        raise NotebookError(f"notebook {path} does not exist") from None
    except OSError as exc:
        raise NotebookError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB; the workbook's notebooks are "
                           f"under 2 MB, so this is not one of them (refused unread)")
    try:
        text = data.decode("utf-8")
        node = json.loads(text)
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path} is not a notebook: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path} is not a notebook: invalid JSON at line {exc.lineno}, column {exc.colno} "
                           f"({exc.msg})") from None
    except RecursionError:
        raise NotebookError(f"{path} is not a notebook: its JSON is nested too deeply") from None
    if not isinstance(node, dict) or not isinstance(node.get("cells"), list):
        raise NotebookError(f"{path} is not a notebook: expected a JSON object with a list of 'cells'")
    if node.get("nbformat") != 4:
        raise NotebookError(f"{path} has notebook format {node.get('nbformat')!r}; only format 4 is supported "
                           f"(open and save it in JupyterLab to convert it)")
    import nbformat  # here, not at the top: it takes seconds to import, and `check` does not need it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat warns, then we validate strictly below
            nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat's ValidationError or a type error on odd content
        first = str(getattr(exc, "message", exc)).strip().splitlines()
        raise NotebookError(f"{path} does not follow the notebook format: {first[0][:160] if first else exc!r}") from None
    return nb


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def exercise_calls(nb) -> list[tuple[str, str, str | None]]:
    """(exercise, function name, forward function name or None) for every `check("name", fn, ...)`
    call in the notebook's code cells, in order, each exercise once."""
    found: dict[str, tuple[str, str, str | None]] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or "check(" not in cell.source:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # a cell with magics or a typo: it names no exercise we can trust
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                continue
            name = node.args[0].value
            fn = node.args[1].id if len(node.args) > 1 and isinstance(node.args[1], ast.Name) else name
            forward = next((k.value.id for k in node.keywords if k.arg == "forward" and isinstance(k.value, ast.Name)),
                           None)
            found.setdefault(name, (name, fn, forward))
    return list(found.values())


def defined_names(source: str) -> set[str]:
    """Names of the functions a cell defines at its top level (none if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def exercise_cells(nb, names=()) -> list[tuple[int, str]]:
    """(cell index, source) of the cells tagged `exercise`, and of any other code cell that
    defines one of `names` at its top level (a learner may lose a tag)."""
    wanted = set(names)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if "exercise" in _tags(cell) or (wanted and wanted & defined_names(cell.source)):
            cells.append((index, cell.source))
    return cells


def errors_by_function(cells: list[tuple[int, str]], errors: dict) -> dict[str, str]:
    """{function name: the error of the cell that defines it} for the cells that failed to run."""
    sources = dict(cells)
    return {name: message for index, message in errors.items() for name in defined_names(sources.get(index, ""))}


def exercises_of(path, nb) -> list[tuple[str, str, str | None]]:
    """The exercises a learner's notebook is judged on: those its complete edition in the
    repository's notebooks/ checks (same file name), so a deleted check cell hides nothing;
    for any other notebook, those its own `check(...)` cells name."""
    from ..paths import REPO_ROOT

    complete = REPO_ROOT / "notebooks" / Path(path).name
    if complete.exists() and Path(path).resolve() != complete.resolve():
        try:
            return exercise_calls(read_notebook(complete))
        except NotebookError:
            pass
    return exercise_calls(nb)
