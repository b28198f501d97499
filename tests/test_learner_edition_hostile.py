"""The learner-edition writer in odd situations: a clear message, never a traceback or a broken file.

Covers every odd state of the output folder, a full disk at each write (simulated by
replacing the one function that writes bytes), and notebooks that are not notebooks.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import learner_edition as le  # noqa: E402
from learner_edition import EditionError, learner_edition  # noqa: E402


def _notebook(tmp_path, name="02_small.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Small"),
                nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION",
                                          metadata={"tags": ["exercise"]})]
    folder = tmp_path / "notebooks"
    folder.mkdir(exist_ok=True)
    path = folder / name
    nbformat.write(nb, path)
    return path


def _quiet(_line):
    pass


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


def _full_disk_after(calls: int):
    """A `_write_all` that works `calls` times, then writes half its bytes and fails like a full disk."""
    count = {"n": 0}

    def write(fh, data):
        count["n"] += 1
        if count["n"] > calls:
            fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        fh.write(data)
    return write


# ---------------------------------------------------------------- the output folder

def test_a_file_where_the_folder_should_be(tmp_path):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    out.write_text("my notes")
    with pytest.raises(EditionError, match=r"is a file, not a folder: rename or move it.*--out"):
        learner_edition([src], out, log=_quiet)
    assert out.read_text() == "my notes"


def test_a_dangling_symlink_in_place_of_the_folder(tmp_path):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    out.symlink_to(tmp_path / "gone")
    with pytest.raises(EditionError, match=r"symbolic link to .*gone, which does not exist"):
        learner_edition([src], out, log=_quiet)
    assert out.is_symlink() and not (tmp_path / "gone").exists()


def test_a_read_only_folder(tmp_path, monkeypatch):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    out.mkdir()
    out.chmod(0o555)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root writes anyway, so refuse at the system call, as a read-only mount would
        real = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == out:
                raise PermissionError(errno.EACCES, "Permission denied")
            return real(*args, dir=dir, **kwargs)
        monkeypatch.setattr(le.tempfile, "mkstemp", mkstemp)
    try:
        with pytest.raises(EditionError, match=r"cannot write into .*exercises: Permission denied; make it writable"):
            learner_edition([src], out, log=_quiet)
    finally:
        out.chmod(0o755)
    assert list(out.iterdir()) == []


def test_a_folder_or_broken_link_where_a_notebook_should_be(tmp_path):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    (out / src.name).mkdir(parents=True)
    with pytest.raises(EditionError, match="is a folder, not a notebook file"):
        learner_edition([src], out, log=_quiet)
    (out / src.name).rmdir()
    (out / src.name).symlink_to(tmp_path / "nowhere.ipynb")
    with pytest.raises(EditionError, match="broken symbolic link"):
        learner_edition([src], out, force=True, log=_quiet)


def test_a_missing_parent_is_created(tmp_path):
    src = _notebook(tmp_path)
    out = tmp_path / "a" / "b" / "exercises"
    assert learner_edition([src], out, log=_quiet) == [(out / src.name, "wrote")]


# ---------------------------------------------------------------- a full disk

def test_full_disk_on_a_new_file_leaves_nothing_half_written(tmp_path, monkeypatch):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    monkeypatch.setattr(le, "_write_all", _full_disk_after(0))
    with pytest.raises(EditionError, match=r"could not write .*02_small.ipynb \(the disk is full\)"):
        learner_edition([src], out, log=_quiet)
    assert not (out / src.name).exists()
    assert _leftovers(out) == []


def test_full_disk_during_force_keeps_the_old_file_and_names_the_backup(tmp_path, monkeypatch):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    learner_edition([src], out, log=_quiet)
    target = out / src.name
    mine = target.read_text().replace("# YOUR CODE HERE", "# my work")
    target.write_text(mine)
    monkeypatch.setattr(le, "_write_all", _full_disk_after(1))  # the backup fits, the new file does not
    lines = []
    with pytest.raises(EditionError) as info:
        learner_edition([src], out, force=True, log=lines.append)
    message = str(info.value)
    assert "the disk is full" in message and "left as it was" in message and ".backup" in message
    assert target.read_text() == mine, "the learner's notebook must survive a failed write"
    (backup,) = (out / ".backup").iterdir()
    assert backup.read_text() == mine and backup.name in message
    assert any("backed up" in line and backup.name in line for line in lines), lines
    assert _leftovers(out) == []
    json.loads(target.read_text())  # still a whole notebook


def test_full_disk_during_the_backup_touches_nothing(tmp_path, monkeypatch):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    learner_edition([src], out, log=_quiet)
    target = out / src.name
    before = target.read_bytes()
    monkeypatch.setattr(le, "_write_all", _full_disk_after(0))
    with pytest.raises(EditionError, match=r"could not back up .* \(the disk is full\); .* was left as it was"):
        learner_edition([src], out, force=True, log=_quiet)
    assert target.read_bytes() == before
    assert _leftovers(out) == [] and list((out / ".backup").iterdir()) == []


def test_force_prints_where_the_backup_is(tmp_path, capsys):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    assert le.main(["--out", str(out), str(src)]) == 0
    assert le.main(["--out", str(out), "--force", str(src)]) == 0
    printed = capsys.readouterr().out
    (backup,) = (out / ".backup").iterdir()
    replaced = [line for line in printed.splitlines() if line.startswith("replaced")]
    assert len(replaced) == 1 and replaced[0].endswith(f"your old file is in {le._show(backup)}")
    assert (out / ".backup" / backup.name).read_text() == (out / src.name).read_text()


# ---------------------------------------------------------------- notebooks that are not notebooks

HOSTILE = {
    "not JSON": (b"this is not json {", "invalid JSON at line 1"),
    "not UTF-8": (b"\xff\xfe{\"cells\": []}", "not UTF-8"),
    "a JSON list": (b"[1, 2, 3]", "expected a JSON object with a list of 'cells'"),
    "cells not a list": (b'{"cells": {"a": 1}, "nbformat": 4}', "a list of 'cells'"),
    "format 3": (b'{"cells": [], "nbformat": 3, "nbformat_minor": 0, "metadata": {}}', "format 3"),
    "wrong cell": (json.dumps({"cells": [{"cell_type": "code", "source": 42, "metadata": {}, "outputs": [],
                                          "execution_count": None}],
                               "nbformat": 4, "nbformat_minor": 5, "metadata": {}}).encode(),
                   "does not follow the notebook format"),
    "deeply nested": (b'{"cells": [], "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "nested too deeply"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_notebook_is_refused_and_nothing_is_written(tmp_path, kind):
    data, words = HOSTILE[kind]
    good = _notebook(tmp_path, "01_good.ipynb")
    bad = tmp_path / "notebooks" / "03_bad.ipynb"
    bad.write_bytes(data)
    out = tmp_path / "exercises"
    with pytest.raises(EditionError) as info:
        learner_edition([good, bad], out, log=_quiet)
    assert words in str(info.value) and "03_bad.ipynb" in str(info.value)
    assert not out.exists(), "a bad input must stop the run before anything is written"


def test_huge_notebook_is_refused_unread(tmp_path, monkeypatch):
    from cs231n_utils.exercises import notebook_file

    monkeypatch.setattr(notebook_file, "MAX_NOTEBOOK_BYTES", 1000)
    bad = tmp_path / "04_huge.ipynb"
    bad.write_bytes(b" " * 5000)
    with pytest.raises(EditionError, match="larger than"):
        learner_edition([bad], tmp_path / "exercises", log=_quiet)


def test_missing_notebook_and_folder_given_as_notebook(tmp_path):
    with pytest.raises(EditionError, match="does not exist"):
        learner_edition([tmp_path / "nope.ipynb"], tmp_path / "exercises", log=_quiet)
    with pytest.raises(EditionError, match="is a folder"):
        learner_edition([tmp_path], tmp_path / "exercises", log=_quiet)


def test_command_line_prints_one_line_not_a_traceback(tmp_path):
    src = _notebook(tmp_path)
    out = tmp_path / "exercises"
    out.write_text("in the way")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "learner_edition.py"), "--out", str(out), str(src)],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and run.stderr.startswith("error: ") and "is a file" in run.stderr
