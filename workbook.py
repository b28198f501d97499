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


# ----------------------------------------------------------------------------- lab
START_PAGE = "START_HERE.md"      # opened first; lists the notebooks and the source notes
LEARNER_DIR = "exercises"          # the learner's own copies (the learner edition)
REFERENCE_DIR = "notebooks"        # the complete notebooks: a read-only reference in the lab

# JupyterLab's short options and the setting each one stands for.
LAB_ALIASES = {
    "ip": "ServerApp.ip", "port": "ServerApp.port", "port-retries": "ServerApp.port_retries",
    "notebook-dir": "ServerApp.root_dir", "preferred-dir": "ServerApp.preferred_dir",
    "keyfile": "ServerApp.keyfile", "certfile": "ServerApp.certfile",
    "client-ca": "ServerApp.client_ca", "browser": "ServerApp.browser",
    "pylab": "ServerApp.pylab", "sock": "ServerApp.sock", "sock-mode": "ServerApp.sock_mode",
    "config": "JupyterApp.config_file", "log-level": "Application.log_level",
    "app-dir": "LabApp.app_dir", "watch": "LabApp.watch",
}
LAB_FLAGS = {"no-browser": ("ServerApp.open_browser", "False"),
             "allow-root": ("ServerApp.allow_root", "True")}
# Older spellings of the settings the lab command chooses itself.
LAB_SYNONYMS = {
    "NotebookApp.ip": "ServerApp.ip", "NotebookApp.port": "ServerApp.port",
    "NotebookApp.notebook_dir": "ServerApp.root_dir", "ServerApp.notebook_dir": "ServerApp.root_dir",
    "NotebookApp.open_browser": "ServerApp.open_browser",
    "NotebookApp.allow_root": "ServerApp.allow_root",
    "NotebookApp.contents_manager_class": "ServerApp.contents_manager_class",
    "ServerApp.preferred_dir": "ContentsManager.preferred_dir",
    "FileContentsManager.preferred_dir": "ContentsManager.preferred_dir",
}
LAB_MESSAGES = {
    "token": ("{option} would turn token authentication off, and then anyone who can reach the "
              "server could run code as you. The lab command keeps a random token (printed in "
              "the URL); leave the option out, or give a token of your own "
              "(--IdentityProvider.token=<a long random string>)."),
    "password": ("{option} empties the password; the lab command keeps authentication on. "
                 "Leave the option out (the printed URL carries a random token)."),
    "auth_class": ("{option} replaces JupyterLab's login machinery; the lab command does not "
                   "allow that. Run `.venv/bin/jupyter lab` yourself if you really need it."),
    "xsrf": ("{option} turns off the protection against requests forged by other web pages "
             "(XSRF); the lab command keeps it on. Leave the option out."),
    "origin": ("{option} lets other web sites send requests to the server (CORS); the lab "
               "command does not allow that. Leave the option out."),
    "ip": ("{option} makes JupyterLab listen on a non-loopback address, reachable from other "
           "machines. The lab command listens on 127.0.0.1 only. If you really mean it (e.g. a "
           "container or a remote machine), add --allow-remote: token authentication stays on."),
    "remote_access": ("{option} lets requests with other host names in; the lab command allows "
                      "that only with --allow-remote (token authentication stays on)."),
}
AUTH_CLASS_TRAITS = {"identity_provider_class", "authorizer_class", "login_handler_class",
                     "logout_handler_class"}
TRUE_WORDS = {"true", "1", "yes", "on"}


class LabOptionError(ValueError):
    """An option the lab command refuses (it would weaken the server's security)."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: localhost, 127.x.x.x, ::1."""
    import ipaddress

    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "", "*", "0.0.0.0" parse or not, a host name: not loopback
        return False


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    return value


def parse_lab_options(extra: list[str]) -> tuple[list[tuple[str, str, list[str]]], bool]:
    """Split the user's lab options into [(setting, value, the original words)] and
    whether --allow-remote was given. Words that set no known setting (flags such as
    --debug, a file to open) come back with setting "" and are passed on unchanged."""
    items: list[tuple[str, str, list[str]]] = []
    allow_remote = False
    i = 0
    while i < len(extra):
        word = extra[i]
        i += 1
        if word == "--allow-remote":
            allow_remote = True
            continue
        if not word.startswith("--") or word == "--":
            items.append(("", "", [word]))
            continue
        name, has_value, value = word[2:].partition("=")
        if name in LAB_FLAGS and not has_value:
            setting, value = LAB_FLAGS[name]
            items.append((setting, value, [word]))
            continue
        if name in LAB_ALIASES or "." in name:
            words = [word]
            if not has_value:
                if i >= len(extra):
                    raise LabOptionError(f"{word} needs a value, e.g. {word}=<value>")
                value = extra[i]
                words.append(value)
                i += 1
            setting = LAB_ALIASES.get(name, name)
            items.append((LAB_SYNONYMS.get(setting, setting), value, words))
            continue
        items.append(("", "", [word]))
    return items, allow_remote


def lab_refusals(items: list[tuple[str, str, list[str]]], allow_remote: bool) -> list[str]:
    """A message for every option that would switch authentication off or open the server
    to other machines (without --allow-remote); [] when all are fine."""
    found = []
    for setting, value, words in items:
        if not setting:
            continue
        option = "`" + " ".join(w if w else "''" for w in words) + "`"
        trait = setting.rsplit(".", 1)[-1]
        plain = _unquote(value)
        if trait == "token" and not plain:
            found.append(LAB_MESSAGES["token"].format(option=option))
        elif trait in ("password", "hashed_password") and not plain:
            found.append(LAB_MESSAGES["password"].format(option=option))
        elif trait in AUTH_CLASS_TRAITS:
            found.append(LAB_MESSAGES["auth_class"].format(option=option))
        elif trait == "disable_check_xsrf" and plain.lower() in TRUE_WORDS:
            found.append(LAB_MESSAGES["xsrf"].format(option=option))
        elif trait == "tornado_settings" and "xsrf" in plain.lower():
            found.append(LAB_MESSAGES["xsrf"].format(option=option))
        elif trait in ("allow_origin", "allow_origin_pat") and plain:
            found.append(LAB_MESSAGES["origin"].format(option=option))
        elif trait == "ip" and not allow_remote and not is_loopback(plain):
            found.append(LAB_MESSAGES["ip"].format(option=option))
        elif trait == "allow_remote_access" and plain.lower() in TRUE_WORDS and not allow_remote:
            found.append(LAB_MESSAGES["remote_access"].format(option=option))
    return found


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
    root = Path(root or ROOT)
    cwd = Path(cwd or os.getcwd())
    items, allow_remote = parse_lab_options(extra)
    refused = lab_refusals(items, allow_remote)
    if refused:
        raise LabOptionError("\n".join(refused))
    given = {setting for setting, _, _ in items if setting}
    user_words: list[str] = []
    serve = root
    for setting, value, words in items:
        if setting == "ServerApp.root_dir":  # made absolute: the server runs in the repository
            serve = (cwd / os.path.expanduser(_unquote(value))).resolve()
            if not serve.is_dir():
                raise LabOptionError(f"{' '.join(words)}: there is no folder {serve}")
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
    except LabOptionError as err:
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
