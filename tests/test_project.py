"""The project's own plumbing: dependency lists agree, the commands are set up safely."""
from __future__ import annotations

import configparser
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def _load_workbook():
    spec = importlib.util.spec_from_file_location("workbook", ROOT / "workbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _split_req(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, f"unparsable requirement {req!r}"
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_yml_deps() -> dict[str, str]:
    deps = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps:
            m = re.match(r"^  - ([^:#]+?)\s*$", line)
            if m:
                name, spec = _split_req(m.group(1))
                deps[name] = spec
            elif line and not line.startswith(" "):
                in_deps = False
    return deps


def test_environment_yml_matches_pyproject():
    project = _pyproject()["project"]
    wanted = dict(_split_req(r) for r in project["dependencies"])
    wanted.update(_split_req(r) for r in project["optional-dependencies"]["dev"])
    conda = _environment_yml_deps()
    python_spec = conda.pop("python")
    conda.pop("pip", None)
    assert python_spec == project["requires-python"]
    assert conda == wanted, (
        "environment.yml and pyproject.toml disagree; "
        f"only in environment.yml: {sorted(set(conda.items()) - set(wanted.items()))}, "
        f"only in pyproject.toml: {sorted(set(wanted.items()) - set(conda.items()))}")


def test_dependencies_have_lower_bounds_only():
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    for req in reqs:
        name, spec = _split_req(req)
        assert spec.startswith(">="), f"{name}: use a lower bound (>=), not {spec!r}"
        assert "==" not in spec and "<" not in spec.replace("<=", "<"), f"{name} is pinned: {spec}"


def test_the_documented_dependencies_are_all_there():
    names = {_split_req(r)[0] for r in _pyproject()["project"]["dependencies"]}
    assert names == {"numpy", "matplotlib", "ipywidgets", "jupyterlab", "ipykernel", "nbval",
                     "pytest", "scikit-learn", "tqdm"}


def test_pytest_runs_strict_nbval_with_sanitizer_and_timeout():
    opts = _pyproject()["tool"]["pytest"]["ini_options"]
    addopts = " ".join(opts["addopts"])
    assert "--nbval " in addopts + " " and "--nbval-lax" not in addopts
    assert "--nbval-current-env" in addopts
    assert re.search(r"--nbval-cell-timeout=\d+", addopts)
    sanitize = re.search(r"--nbval-sanitize-with=(\S+)", addopts).group(1)
    assert (ROOT / sanitize).exists()
    assert "notebooks" in opts["testpaths"] and "tests" in opts["testpaths"]
    # learner copies and checkpoints must never be collected as tests
    assert "exercises" in opts["norecursedirs"] and ".ipynb_checkpoints" in opts["norecursedirs"]


def _sanitizers():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tools" / "nbval_sanitize.cfg", encoding="utf-8")
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def _sanitize(text: str) -> str:
    for regex, repl in _sanitizers():
        text = regex.sub(repl, text)
    return text


@pytest.mark.parametrize("a, b", [
    ("<Foo object at 0x7f3a2b1c9d00>", "<Foo object at 0x7f00deadbeef>"),
    ("naive 812.4 ms, fast 2.1 ms", "naive 790.0 ms, fast 1.9 ms"),
    ("training took 4.53 s", "training took 5.10 s"),
    ("speed-up 387x", "speed-up 402x"),
    ("the cached head trains 12.5x faster", "the cached head trains 9.8x faster"),
    ("100%|####| 30/30 [00:03<00:00,  9.87it/s]", "100%|####| 30/30 [00:04<00:00,  7.02it/s]"),
    ("features-8146a75da64abda6d35759e41faf6d4c.npz is corrupt",
     "features-35298902aaebcd271d4d4222627ea909.npz is corrupt"),
])
def test_sanitizer_masks_what_varies(a, b):
    assert a != b and _sanitize(a) == _sanitize(b)


@pytest.mark.parametrize("a, b", [
    ("test accuracy 99.2%", "test accuracy 98.9%"),
    ("output 3 x 3", "output 4 x 4"),
    ("loss 2.3026", "loss 2.3031"),
    ("weights file sha256 d091b6af7b7f90b1...", "weights file sha256 d091b6af7b7f90b2..."),
    ("params 138,357,544", "params 138,357,545"),
    ("stride 2 does not fit: (6 + 2*0 - 3)/2 + 1 = 2.5", "stride 2 does not fit: (6 + 2*0 - 3)/2 + 1 = 3.5"),
])
def test_sanitizer_keeps_what_matters(a, b):
    assert _sanitize(a) != _sanitize(b)


def test_environment_is_reused_when_unchanged(tmp_path, monkeypatch):
    """A second run with the same pyproject and extras must not reinstall anything."""
    wb = _load_workbook()
    fake_venv = tmp_path / ".venv"
    (fake_venv / "bin").mkdir(parents=True)
    (fake_venv / "bin" / "python").write_text("")
    monkeypatch.setattr(wb, "VENV", fake_venv)
    monkeypatch.setattr(wb, "STAMP", fake_venv / ".workbook-installed")
    calls = []
    monkeypatch.setattr(wb.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    wb.ensure_env(["dev"])
    assert any("install" in c for c in calls), "first run must install"
    calls.clear()
    wb.ensure_env(["dev"])
    assert calls == [], "second run reinstalled although nothing changed"
    wb.ensure_env(["dev", "browser"])
    assert any("-e" in c for c in calls), "a new extra must trigger an install"
    calls.clear()
    wb.ensure_env(["dev"])            # e.g. `lab` after `test`: a subset of what is installed
    assert calls == [], "switching between commands reinstalled"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'changed'\n")
    monkeypatch.setattr(wb, "ROOT", tmp_path)
    wb.ensure_env(["dev"])
    assert any("-e" in c for c in calls), "a changed pyproject.toml must trigger an install"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "python3 workbook.py test" in readme
    assert re.search(r"^exec python3 workbook\.py test\s*$", ci, re.M)


def test_every_notebook_listed_in_readme_exists_and_vice_versa():
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `(\d\d_[a-z_]+)` \|", readme, re.M))
    present = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert present == listed, (f"notebooks missing from README: {sorted(present - listed)}; "
                               f"listed but missing: {sorted(listed - present)}")
    assert len(listed) == 7


def test_atomic_write_replaces_only_on_success(tmp_path):
    from cs231n_utils.paths import atomic_write

    target = tmp_path / "weights.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.npz"], "temporary file left behind"
    with atomic_write(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_asset_lookup_names_the_missing_file():
    from cs231n_utils.paths import asset

    with pytest.raises(FileNotFoundError, match="no_such_file.csv.*assets"):
        asset("no_such_file.csv")
