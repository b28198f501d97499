#!/usr/bin/env python3
"""One entry point for the workbook: set up, study, test.

    python3 workbook.py lab          # set up (once), open the workbook in JupyterLab at START_HERE.md
    python3 workbook.py test         # set up (once) and run every test, notebooks included
    python3 workbook.py notebooks    # re-execute every notebook in place (refresh stored outputs)
    python3 workbook.py exercises    # write the learner edition into exercises/ (never overwrites)
    python3 workbook.py progress     # which of your exercises in exercises/ pass, fail, are not started
    python3 workbook.py grade PATH   # grade learner notebooks headless: CSV + HTML report
    python3 workbook.py bench        # run the speed benchmarks
    python3 workbook.py data cifar10 # download CIFAR-10 (163 MiB) into data/, checked and extracted

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


def _pyproject_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _installed_extras() -> set[str] | None:
    """The extras installed for the current pyproject.toml, or None if it changed since."""
    if not STAMP.exists():
        return None
    digest, _, extras = STAMP.read_text().strip().partition(" ")
    if digest != _pyproject_digest():
        return None
    return {e for e in extras.split(",") if e}


def ensure_env(extras: list[str]) -> Path:
    """Create `.venv` if missing and install the project, unless that was already done."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"[workbook] Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ is needed; this is "
                 f"{sys.version.split()[0]}. Run the command with a newer python3.")
    py = venv_python()
    if not py.exists():
        _say(f"creating a virtual environment in {VENV.relative_to(ROOT)}/ ...")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    installed = _installed_extras()
    if installed is not None and set(extras) <= installed:
        return py           # `lab` after `test` (or the other way) reuses what is there
    extras = sorted(set(extras) | (installed or set()))
    spec = f".[{','.join(extras)}]"
    _say(f"installing the workbook and its dependencies ({spec}); this happens once ...")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-e", spec], check=True, cwd=ROOT)
    STAMP.write_text(f"{_pyproject_digest()} {','.join(extras)}\n")
    _say("environment ready")
    return py


def _run(cmd: list[str], env: dict | None = None) -> int:
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def warm_caches(py: Path) -> None:
    """Build matplotlib's font cache now, so its one-time notice never lands in a notebook's
    stderr (which nbval compares) on a fresh machine."""
    subprocess.run([str(py), "-c", "import matplotlib.font_manager"], cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ----------------------------------------------------------------------------- lab
START_PAGE = "START_HERE.md"      # opened first; lists the notebooks and the source notes
LEARNER_DIR = "exercises"          # the learner's own copies (the learner edition)
REFERENCE_DIR = "notebooks"        # the complete notebooks: a read-only reference in the lab


def lab_options():
    """tools/lab_options.py (standard library only): the lab command's option rules."""
    if "lab_options" not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location("lab_options", ROOT / "tools" / "lab_options.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["lab_options"] = module
        spec.loader.exec_module(module)
    return sys.modules["lab_options"]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def lab_command(extra: list[str], root: Path | None = None, cwd: Path | None = None) -> list[str]:
    """The JupyterLab command of `workbook.py lab` (LabOptionError for a refused option).

    Serves the repository (the start page, exercises/ and notebooks/) on 127.0.0.1 with
    token authentication on; notebooks/ and the start page are read-only in the lab
    (tools/lab_server.py); tools/lab_settings/overrides.json changes JupyterLab's defaults
    (widget state saved with the notebook, Markdown opened as a page) for this server only.
    The user's options come last and replace the lab command's own choice of the same
    setting; a relative --notebook-dir is taken from `cwd` (default: the current folder).
    """
    opts = lab_options()
    root = Path(root or ROOT)
    cwd = Path(cwd or os.getcwd())
    items, allow_remote = opts.parse_lab_options(extra)
    refused = opts.lab_refusals(items, allow_remote)
    if refused:
        raise opts.LabOptionError("\n".join(refused))
    given = {setting for setting, _, _ in items if setting}
    user_words: list[str] = []
    serve = root
    for setting, value, words in items:
        if setting == "ServerApp.root_dir":  # made absolute: the server runs in the repository
            serve = (cwd / os.path.expanduser(opts.unquote(value))).resolve()
            if not serve.is_dir():
                raise opts.LabOptionError(f"{' '.join(words)}: there is no folder {serve}")
            user_words.append(f"--ServerApp.root_dir={serve}")
        else:
            user_words.extend(words)

    browser = "False" if os.environ.get("CI") else "True"
    ours = {
        "ServerApp.root_dir": str(serve),
        "ServerApp.ip": "127.0.0.1",
        "ServerApp.open_browser": browser,
        "ServerApp.contents_manager_class": "lab_server.WorkbookContentsManager",
        "LabApp.app_settings_dir": str(root / "tools" / "lab_settings"),
    }
    start_page = root / START_PAGE
    if _inside(start_page, serve) and start_page.exists():
        rel = start_page.resolve().relative_to(serve.resolve()).as_posix()
        ours["LabApp.default_url"] = f"/lab/tree/{rel}"
    learner = root / LEARNER_DIR
    if learner.is_dir() and _inside(learner, serve) and learner.resolve() != serve.resolve():
        ours["ContentsManager.preferred_dir"] = learner.resolve().relative_to(serve.resolve()).as_posix()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        ours["ServerApp.allow_root"] = "True"

    tools = root / "tools"
    cmd = [str(venv_python()), str(tools / "lab_server.py")]
    if allow_remote:
        cmd.append("--allow-remote")
    cmd += [f"--{setting}={value}" for setting, value in ours.items() if setting not in given]
    cmd += [f"--WorkbookContentsManager.read_only={root / REFERENCE_DIR}",
            f"--WorkbookContentsManager.read_only={start_page}",
            f"--WorkbookContentsManager.learner_dir={learner}"]
    return cmd + user_words


def ensure_learner_edition(root: Path | None = None) -> None:
    """Write the learner edition (exercises/) when a notebook has no copy there yet; the
    writer never overwrites a file that exists (the learner's work)."""
    root = Path(root or ROOT)
    names = [p.name for p in sorted((root / REFERENCE_DIR).glob("[0-9][0-9]_*.ipynb"))]
    missing = [n for n in names if not (root / LEARNER_DIR / n).exists()]
    if not missing:
        return
    _say(f"writing your copies of the notebooks into {LEARNER_DIR}/ "
         f"({len(missing)} missing; files already there are kept) ...")
    if cmd_exercises([]) != 0:
        _say(f"could not write {LEARNER_DIR}/ (see the message above); JupyterLab starts "
             f"anyway, with the notebooks in {REFERENCE_DIR}/ readable")


def run_until_stopped(cmd: list[str], env: dict | None = None, grace: float = 60.0) -> int:
    """Run `cmd` (JupyterLab) until it exits or this process is told to stop.

    Ctrl-C, SIGTERM or SIGHUP here become one SIGTERM to JupyterLab, which then shuts its
    kernels down and exits; a second signal, or `grace` seconds without exiting, kills it.
    JupyterLab runs in its own session, so a terminal's Ctrl-C reaches only this process
    (no "Shut down this Jupyter server (y/[n])?" question)."""
    import signal
    import threading

    posix = os.name != "nt"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=posix)
    stops: list[int] = []

    def kill() -> None:
        if proc.poll() is None:
            proc.kill()

    def on_signal(signum, _frame) -> None:
        stops.append(signum)
        if len(stops) == 1:
            _say("stopping JupyterLab (its kernels are shut down first) ...")
            if proc.poll() is None:
                proc.terminate()
            timer = threading.Timer(grace, kill)
            timer.daemon = True
            timer.start()
        else:
            _say("stopping JupyterLab now")
            kill()

    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, on_signal) for sig in wanted}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        kill()
    if stops:
        _say("JupyterLab stopped")
        return 0
    return code


def cmd_lab(extra: list[str]) -> int:
    try:
        lab_command(extra)  # refuse unsafe options before any set-up
    except lab_options().LabOptionError as err:
        for line in str(err).splitlines():
            print(f"[workbook] refused: {line}", file=sys.stderr)
        return 2
    ensure_env(wanted_extras("lab"))
    ensure_learner_edition()
    cmd = lab_command(extra)
    _say(f"starting JupyterLab (the URL with its token is printed below). "
         f"Work in {LEARNER_DIR}/; {REFERENCE_DIR}/ is the complete, read-only reference; "
         f"{START_PAGE} says where to begin. Stop with Ctrl-C.")
    return run_until_stopped(cmd)


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
    return _run([str(py), str(ROOT / "tools" / "learner_edition.py"), *extra])


def cmd_progress(extra: list[str]) -> int:
    py = ensure_env(wanted_extras("progress"))
    return _run([str(py), "-m", "cs231n_utils.exercises", "progress", *extra])


def cmd_grade(extra: list[str]) -> int:
    py = ensure_env(wanted_extras("grade"))
    return _run([str(py), str(ROOT / "tools" / "grade.py"), *extra])


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


def cmd_data(extra: list[str]) -> int:
    """`data cifar10 [--dir DIR]`: cs231n_utils/download.py does the work (see its --help).
    Runs in the caller's folder, so a relative --dir means what the learner typed."""
    py = ensure_env(wanted_extras("data"))
    return subprocess.run([str(py), "-m", "cs231n_utils.download", *extra], cwd=os.getcwd()).returncode


COMMANDS = {"lab": cmd_lab, "test": cmd_test, "notebooks": cmd_notebooks,
            "exercises": cmd_exercises, "progress": cmd_progress, "grade": cmd_grade, "bench": cmd_bench,
            "data": cmd_data}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help") or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help", "help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
