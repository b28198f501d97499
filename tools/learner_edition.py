#!/usr/bin/env python3
"""Write the learner edition of the notebooks: solutions replaced by stubs, outputs cleared.

    python3 workbook.py exercises [--force] [--out DIR] [notebooks...]
    python tools/learner_edition.py [--force] [--out DIR] [notebooks...]

writes every `notebooks/NN_*.ipynb` (or the ones named) into `exercises/` with each region
between `### BEGIN SOLUTION` and `### END SOLUTION` replaced by `# YOUR CODE HERE` and
`raise NotImplementedError(...)`, all outputs and execution counts cleared and the stored
widget state removed. Notebooks without exercises are copied too (outputs cleared), so the
learner has the whole workbook in one folder; `exercises/` is a sibling of `notebooks/`, so
relative paths such as `../assets/...` keep working. An existing file is never
overwritten: it is skipped, and the command says so. `--force` first copies it to
`exercises/.backup/<name>.<YYYYmmdd-HHMMSS>.ipynb`, then writes the fresh edition.

An authoring tool: it lives beside `execute_notebooks.py`, outside the package learners import.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import errno
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import nbformat

from cs231n_utils.exercises.notebook_file import NotebookError, exercise_calls, read_notebook
from cs231n_utils.paths import atomic_write

ROOT = Path(__file__).resolve().parent.parent

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUB_COMMENT = "# YOUR CODE HERE"
STUB_RAISE = 'raise NotImplementedError("write your code here, then delete this line")'


def strip_solutions(source: str, where: str = "cell") -> tuple[str, list[str]]:
    """Replace each BEGIN/END SOLUTION region of `source` by the two-line stub.

    Returns (learner source, the removed regions including their marker lines). Raises
    ValueError naming `where` for unbalanced or nested markers.
    """
    lines = source.split("\n")
    out: list[str] = []
    regions: list[str] = []
    inside: list[str] | None = None
    indent = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith(BEGIN_SOLUTION):
            if inside is not None:
                raise ValueError(f"{where}, line {number}: '{BEGIN_SOLUTION}' inside another solution region; "
                                 f"close the first one with '{END_SOLUTION}'")
            indent = line[:len(line) - len(line.lstrip())]
            inside = [line]
        elif stripped.startswith(END_SOLUTION):
            if inside is None:
                raise ValueError(f"{where}, line {number}: '{END_SOLUTION}' without a '{BEGIN_SOLUTION}' before it")
            inside.append(line)
            regions.append("\n".join(inside))
            out += [indent + STUB_COMMENT, indent + STUB_RAISE]
            inside = None
        elif inside is not None:
            inside.append(line)
        else:
            out.append(line)
    if inside is not None:
        raise ValueError(f"{where}: '{BEGIN_SOLUTION}' is never closed by '{END_SOLUTION}'")
    return "\n".join(out), regions


def restore_solutions(source: str, regions: Sequence[str], where: str = "cell") -> str:
    """Put `regions` back in place of the stubs of `source` (the inverse of `strip_solutions`)."""
    lines = source.split("\n")
    out: list[str] = []
    todo = list(regions)
    k = 0
    while k < len(lines):
        if (lines[k].strip() == STUB_COMMENT and k + 1 < len(lines)
                and lines[k + 1].strip() == STUB_RAISE):
            if not todo:
                raise ValueError(f"{where}: more stubs than solution regions")
            out.append(todo.pop(0))
            k += 2
        else:
            out.append(lines[k])
            k += 1
    if todo:
        raise ValueError(f"{where}: {len(todo)} solution region(s) left over")
    return "\n".join(out)


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def make_learner_notebook(nb, where: str = "notebook"):
    """Learner edition of a notebook (nbformat node or dict): returns (new nb, regions per cell index).

    Solution regions (in any code cell) become stubs; outputs and execution counts are
    cleared; widget state and per-cell execution metadata are dropped.
    """
    new = nbformat.from_dict(copy.deepcopy(dict(nb)))
    regions: dict[int, list[str]] = {}
    new.metadata.pop("widgets", None)
    for index, cell in enumerate(new.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
        source, found = strip_solutions(cell.source, f"{where} cell {index}")
        if found:
            cell.source = source
            regions[index] = found
    return new, regions


def restore_notebook(learner_nb, regions: dict[int, list[str]]):
    """The learner edition with the solutions put back (code cells only, outputs stay cleared)."""
    new = nbformat.from_dict(copy.deepcopy(dict(learner_nb)))
    for index, found in regions.items():
        new.cells[index].source = restore_solutions(new.cells[index].source, found, f"cell {index}")
    return new


class EditionError(Exception):
    """Something about the input notebooks or the output folder that the learner must fix."""


def _prepare_folder(out: Path) -> None:
    """Make sure `out` is a folder we can write into, or say what is wrong with it."""
    if out.is_symlink() and not out.exists():
        raise EditionError(f"{out} is a symbolic link to {os.readlink(out)}, which does not exist: create that "
                           f"folder or remove the link, then run again")
    if out.exists() and not out.is_dir():
        raise EditionError(f"{out} is a file, not a folder: rename or move it, then run again "
                           f"(or write elsewhere with --out DIR)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise EditionError(f"cannot write into {out}: {_reason(exc)}; make it writable (chmod u+w {out}) "
                           f"or write elsewhere with --out DIR") from None


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or str(exc) or type(exc).__name__


def _write_all(fh, data: bytes) -> None:
    """The one place bytes reach the disk (tests replace it to simulate a full disk)."""
    fh.write(data)


def _write_new(target: Path, data: bytes) -> bool:
    """Write a file that must not exist yet, atomically; False if it appeared meanwhile."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_all(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, target)  # fails if target exists: never clobbers
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links
            if os.path.lexists(target):
                return False
            os.replace(tmp, target)
        return True
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


PROGRESS_TAG = "exercise-progress"


def add_progress_cell(nb, name: str):
    """Put a cell showing the learner's progress on this notebook's exercises at the top (after
    the title cell); a notebook without `check(...)` cells is returned unchanged."""
    if not exercise_calls(nb):
        return nb
    source = ("# Your progress on this notebook's exercises, read from the saved file:\n"
              "# save (Ctrl+S), then run this cell again to update it.\n"
              "from cs231n_utils.exercises import progress\n"
              f"progress({name!r})")
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [PROGRESS_TAG]})
    if nb.get("nbformat_minor", 0) < 5:
        cell.pop("id", None)  # cell ids came with format 4.5
    at = 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0
    new = nbformat.from_dict(copy.deepcopy(dict(nb)))
    new.cells.insert(at, cell)
    return new


def _backup_path(target: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = target.parent / ".backup"
    candidate = folder / f"{target.stem}.{stamp}{target.suffix}"
    k = 1
    while candidate.exists():
        candidate = folder / f"{target.stem}.{stamp}-{k}{target.suffix}"
        k += 1
    return candidate


def _replace(target: Path, data: bytes, log: Callable[[str], None]) -> Path:
    """Back `target` up, then replace it atomically; returns the backup's path."""
    backup = _backup_path(target)
    try:
        old = target.read_bytes()
        backup.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(backup) as fh:
            _write_all(fh, old)
    except OSError as exc:
        raise EditionError(f"could not back up {_show(target)} to {_show(backup)} ({_reason(exc)}); "
                           f"{_show(target)} was left as it was") from None
    log(f"backed up {_show(target)} to {_show(backup)}")
    try:
        with atomic_write(target) as fh:
            _write_all(fh, data)
    except OSError as exc:
        raise EditionError(f"could not write {_show(target)} ({_reason(exc)}); it was left as it was, "
                           f"and its backup is in {_show(backup)}") from None
    return backup


def _check_target(target: Path) -> None:
    if target.is_symlink() and not target.exists():
        raise EditionError(f"{target} is a broken symbolic link (to {os.readlink(target)}): remove it, then run again")
    if target.is_dir():
        raise EditionError(f"{target} is a folder, not a notebook file: move it away, then run again")


def learner_edition(notebooks: Sequence[Path | str] | None = None, out_dir: Path | str | None = None,
                    force: bool = False, log: Callable[[str], None] = print) -> list[tuple[Path, str]]:
    """Write the learner edition of `notebooks` (default: every notebooks/NN_*.ipynb) into `out_dir`.

    Returns [(target path, action)] with action "wrote", "skipped" (already there, kept) or
    "replaced" (with --force, after a backup). Never overwrites without `force`. Every input
    is read and converted before anything is written; each file is written atomically (a
    temporary file, then a rename), so a failed write leaves the old file whole. Raises
    EditionError (a message for the learner) for a bad notebook or an unusable folder.
    """
    out = Path(out_dir) if out_dir is not None else ROOT / "exercises"
    paths = [Path(p) for p in notebooks] if notebooks else sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        log(f"no notebooks found in {ROOT / 'notebooks'}")
        return []
    editions = []
    for path in paths:  # all inputs first: a bad one stops the run before anything is written
        try:
            source = read_notebook(path)
        except NotebookError as exc:
            raise EditionError(str(exc)) from None
        learner, regions = make_learner_notebook(source, path.name)
        learner = add_progress_cell(learner, path.name)
        n = len(regions)
        what = f"{n} exercise cell{'s' if n != 1 else ''}" if n else "no exercises, outputs cleared"
        editions.append((out / path.name, nbformat.writes(learner).encode("utf-8"), what))
    _prepare_folder(out)
    done: list[tuple[Path, str]] = []
    for target, data, what in editions:
        _check_target(target)
        shown = _show(target)
        if not os.path.lexists(target):
            try:
                wrote = _write_new(target, data)
            except OSError as exc:
                raise EditionError(f"could not write {shown} ({_reason(exc)}); nothing was left half-written") from None
            if wrote:
                log(f"wrote {shown} ({what})")
                done.append((target, "wrote"))
                continue
        if not force:
            log(f"skipped {shown}: it already exists (your work is kept); "
                f"use --force to back it up and write a fresh copy")
            done.append((target, "skipped"))
            continue
        backup = _replace(target, data, log)
        log(f"replaced {shown} ({what}); your old file is in {_show(backup)}")
        done.append((target, "replaced"))
    return done


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 workbook.py exercises",
        description="Write the learner edition (solutions replaced by stubs, outputs cleared) into "
                    "exercises/. Existing files are never overwritten unless --force, which backs "
                    "them up to <out>/.backup/ first.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to convert (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: exercises/ in the repository)")
    parser.add_argument("--force", action="store_true",
                        help="replace existing files, after copying each to <out>/.backup/<name>.<time>.ipynb")
    args = parser.parse_args(argv)
    try:
        done = learner_edition(args.notebooks, args.out, force=args.force)
    except (EditionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = {a: sum(1 for _, b in done if b == a) for a in ("wrote", "replaced", "skipped")}
    print(f"learner edition: {counts['wrote']} written, {counts['replaced']} replaced (backed up), "
          f"{counts['skipped']} kept as they were")
    return 0


if __name__ == "__main__":
    sys.exit(main())
