#!/usr/bin/env python3
"""One entry point for the workbook: set up, study, test.

    python3 workbook.py lab          # set up (once) and open the notebooks in JupyterLab
    python3 workbook.py test         # set up (once) and run every test, notebooks included
    python3 workbook.py notebooks    # re-execute every notebook in place (refresh stored outputs)
    python3 workbook.py exercises    # write the learner edition into exercises/ (never overwrites)
    python3 workbook.py bench        # run the speed benchmarks

Only Python 3.10+ is needed. The first run creates a virtual environment in `.venv/` and
installs the project into it; later runs reuse it and reinstall only when `pyproject.toml`
changed. Extra arguments after the command are passed on (to JupyterLab, pytest, ...).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".workbook-installed"
MIN_PYTHON = (3, 10)


def _say(msg: str) -> None:
    print(f"[workbook] {msg}", flush=True)


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def venv_bin(name: str) -> Path:
    return venv_python().parent / (name + (".exe" if os.name == "nt" else ""))


def chromium_path() -> str | None:
    """The Chromium the browser tests drive, or None when this machine has none."""
    env = os.environ.get("WORKBOOK_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def wanted_extras(command: str) -> list[str]:
    extras = ["dev"]
    if command == "test" and chromium_path():
        extras.append("browser")  # Playwright, only when there is a Chromium to drive
    return extras


def _install_key(extras: list[str]) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(",".join(extras).encode())
    return digest.hexdigest()


def ensure_env(extras: list[str]) -> Path:
    """Create `.venv` if missing and install the project, unless that was already done."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"[workbook] Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ is needed; this is "
                 f"{sys.version.split()[0]}. Run the command with a newer python3.")
    py = venv_python()
    if not py.exists():
        _say(f"creating a virtual environment in {VENV.relative_to(ROOT)}/ ...")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    key = _install_key(extras)
    if STAMP.exists() and STAMP.read_text().strip() == key:
        return py
    spec = f".[{','.join(extras)}]"
    _say(f"installing the workbook and its dependencies ({spec}); this happens once ...")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-e", spec], check=True, cwd=ROOT)
    STAMP.write_text(key + "\n")
    _say("environment ready")
    return py


def _run(cmd: list[str], env: dict | None = None) -> int:
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def warm_caches(py: Path) -> None:
    """Build matplotlib's font cache now, so its one-time notice never lands in a notebook's
    stderr (which nbval compares) on a fresh machine."""
    subprocess.run([str(py), "-c", "import matplotlib.font_manager"], cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def lab_command(extra: list[str]) -> list[str]:
    """JupyterLab on notebooks/, on 127.0.0.1 only, with token authentication left on."""
    cmd = [str(venv_bin("jupyter")), "lab",
           f"--notebook-dir={ROOT / 'notebooks'}",
           "--ServerApp.ip=127.0.0.1",
           "--ServerApp.open_browser=False" if os.environ.get("CI") else "--ServerApp.open_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd + extra


def cmd_lab(extra: list[str]) -> int:
    ensure_env(wanted_extras("lab"))
    _say("starting JupyterLab on http://127.0.0.1 (the URL with its token is printed below)")
    return _run(lab_command(extra))


def cmd_test(extra: list[str]) -> int:
    py = ensure_env(wanted_extras("test"))
    warm_caches(py)
    env = dict(os.environ)
    chrome = chromium_path()
    if chrome:
        env.setdefault("WORKBOOK_CHROMIUM", chrome)
        _say(f"browser tests will drive {chrome}")
    else:
        _say("no Chromium found: the browser tests (tests/browser) will be SKIPPED. "
             "Install Chromium (Debian: apt-get install chromium) to run them.")
    return _run([str(py), "-m", "pytest", *extra], env=env)


def cmd_notebooks(extra: list[str]) -> int:
    py = ensure_env(wanted_extras("notebooks"))
    warm_caches(py)
    return _run([str(py), str(ROOT / "tools" / "execute_notebooks.py"), *extra])


def cmd_exercises(extra: list[str]) -> int:
    py = ensure_env(wanted_extras("exercises"))
    return _run([str(py), "-m", "cs231n_utils.exercises", "learner-edition", *extra])


def cmd_bench(extra: list[str]) -> int:
    py = ensure_env(wanted_extras("bench"))
    env = dict(os.environ)
    # These two make OpenBLAS pick a slow kernel on this CPU; unset for the benchmark only.
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    rc = 0
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        rc |= _run([str(py), str(script), *extra], env=env)
    return rc


COMMANDS = {"lab": cmd_lab, "test": cmd_test, "notebooks": cmd_notebooks,
            "exercises": cmd_exercises, "bench": cmd_bench}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help") or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help", "help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
