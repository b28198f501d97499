"""End-to-end tests of the workbook in JupyterLab, driven by Chromium through Playwright.

One JupyterLab server (started like `python3 workbook.py lab`: the repository with its
start page, notebooks/ read-only) and one headless Chromium serve the whole session; the
fresh-clone scenario starts its own server in a clone. See tests/browser/README.md.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
SCREENSHOT_DIR = Path(__file__).resolve().parent / "screenshots"

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
# Settings written into the server's private user-settings directory.
LAB_SETTINGS = {
    # never write a notebook behind our back
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # no "get Jupyter news?" toast, no update check (no network either)
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # keep every cell in the DOM so the tests can see every output
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
SERVER_START_TIMEOUT = 90      # s, JupyterLab start-up on a busy 2-core machine
KERNEL_START_TIMEOUT = 90      # s, a kernel start while other kernels run
RUN_ALL_TIMEOUT = 240          # s, one notebook's "Run All Cells" (notebooks take up to ~60 s)
MODULE_ORDER = {"test_browser_security": 0, "test_browser_notebooks": 1,
                "test_browser_explorers": 2, "test_browser_training_view": 3}
# Notebooks whose widgets scenarios 1-3 drive: kept open after scenario 4 ran them.
WIDGET_NOTEBOOKS = ("02_", "03_", "05_")
RUN_ALL_DONE_JS = """() => {
    const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (!nb) return false;
    const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .map(p => p.textContent);
    if (prompts.some(t => t.includes('*'))) return false;
    if (!prompts.some(t => /[0-9]/.test(t))) return false;
    const ind = nb.querySelector('.jp-Notebook-ExecutionIndicator');
    return Boolean(ind) && ind.getAttribute('data-status') === 'idle';
}"""
NO_COUNTS_JS = """() => {
    const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    return Boolean(nb) && ![...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .some(p => /[0-9*]/.test(p.textContent));
}"""
ERROR_TEXTS = ("Error displaying widget", "model not found", "Traceback (most recent call last)")


# ----------------------------------------------------------------------------- skipping
def _load_workbook():
    spec = importlib.util.spec_from_file_location("workbook", ROOT / "workbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


workbook = _load_workbook()


def _cannot_run(reason: str):
    """Skip with the reason, or fail when the browser tests are required (CI)."""
    if os.environ.get("WORKBOOK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} -- WORKBOOK_REQUIRE_BROWSER=1, so the browser tests must run, "
                    "not skip.", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    return workbook.chromium_path()


def playwright_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return ("Playwright for Python is not installed: `.venv/bin/pip install playwright` "
                "(or `pip install -e .[browser]`); no `playwright install` is needed")
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    mine = [item for item in items if here in Path(str(item.fspath)).resolve().parents]
    for item in mine:
        item.add_marker(pytest.mark.browser)
    # Scenario 4 runs every notebook first (02/03/05 stay open for the widget scenarios);
    # scenario 6 (no notebook modified) must see the whole run, so it goes last.
    def rank(item):
        if item.get_closest_marker("browser_last"):
            return len(MODULE_ORDER) + 1
        return MODULE_ORDER.get(Path(str(item.fspath)).stem, len(MODULE_ORDER))

    start = min((items.index(item) for item in mine), default=0)
    others = [item for item in items if item not in mine]
    items[:] = others[:start] + sorted(mine, key=rank) + others[start:]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser_last: run after every other browser test")


# ----------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_hashes(directory: Path = NOTEBOOK_DIR) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.glob("*.ipynb"))}


class LabServer:
    """JupyterLab as `workbook.py lab` starts it, plus test isolation (private dirs, port,
    token, settings). Stopped by its own PID: kernels via the API, then its process group.

    `root` is the repository whose lab command runs (this one, or a fresh clone)."""

    start_timeout = SERVER_START_TIMEOUT

    def __init__(self, workdir: Path, root: Path = ROOT):
        self.workdir = Path(workdir)
        self.root = Path(root)
        self.notebook_dir = self.root / "notebooks"
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None
        self.checkpoints_existed = (self.notebook_dir / ".ipynb_checkpoints").exists()

    # -- set-up
    def _write_settings(self, settings_dir: Path) -> None:
        for plugin, values in LAB_SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            path = settings_dir / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))

    def extra_options(self) -> list[str]:
        """What the tests add to the README command: a free port, a known token, no browser
        tab. (Options pass through `workbook.py lab`, which refuses unsafe ones.)"""
        return ["--port", str(self.port), "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", "--no-browser"]

    def command(self) -> list[str]:
        cmd = workbook.lab_command(self.extra_options(), root=self.root, cwd=self.root)
        if not Path(cmd[0]).exists():  # not inside the workbook's .venv: same interpreter
            cmd = [sys.executable, *cmd[1:]]
        return cmd

    def api_path(self, name: str) -> str:
        """API path of notebook `name` of notebooks/ (the server serves the repository)."""
        return f"notebooks/{name}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # tests/conftest.py sets MPLBACKEND=Agg; the kernel must use the notebook's inline backend
        env.pop("MPLBACKEND", None)
        for name in [n for n in env if n.startswith("PYTEST_")]:  # the kernels are no tests
            env.pop(name)
        for name in ("JUPYTER_TOKEN", "JUPYTER_PASSWORD"):
            env.pop(name, None)
        dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_RUNTIME_DIR": "runtime",
                "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces"}
        for var, sub in dirs.items():
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(self.workdir / sub)
        return env

    def start(self) -> "LabServer":
        env = self.env()
        self._write_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
        self.started_at = time.strftime("%H:%M:%S")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                if self.api("GET", "/api/status")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer /api/status within "
                           f"{self.start_timeout} s:\n" + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- talking to it
    def api(self, method: str, path: str, token: str | None = "default") -> tuple[int, bytes]:
        """(status, body) of one REST call; token=None sends no credentials at all."""
        headers = {}
        if token == "default":
            token = self.token
        if token is not None:
            headers["Authorization"] = f"token {token}"
        req = urllib.request.Request(self.url + path, method=method, headers=headers,
                                     data=b"" if method in ("POST", "PUT") else None)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def kernels(self) -> list[dict]:
        status, body = self.api("GET", "/api/kernels")
        return json.loads(body) if status == 200 else []

    def shutdown_kernels(self) -> None:
        for kernel in self.kernels():
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def session_kernel_state(self, path: str) -> str | None:
        """Execution state ("starting", "idle", "busy") of the kernel of notebook `path`."""
        status, body = self.api("GET", "/api/sessions")
        for session in json.loads(body) if status == 200 else []:
            if session.get("path") == path and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None

    def shutdown_session(self, path: str) -> None:
        """End the session (and kernel) of one open notebook."""
        status, body = self.api("GET", "/api/sessions")
        for session in json.loads(body) if status == 200 else []:
            if session.get("path") == path:
                self.api("DELETE", f"/api/sessions/{session['id']}")

    # -- tear-down
    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.shutdown_kernels()
                self.api("POST", "/api/shutdown")
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)  # its own group: start_new_session=True
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.log.close()
        checkpoints = self.notebook_dir / ".ipynb_checkpoints"
        if not self.checkpoints_existed and checkpoints.is_dir():
            shutil.rmtree(checkpoints)  # only the one this session created
        self.proc = None


# The clone's own workbook.py, run as `python3 workbook.py lab ...` would run it, except that
# it uses this environment (argv[2]) instead of creating and installing a .venv in the clone.
CLONE_LAB_SCRIPT = """
import importlib.util, sys
from pathlib import Path
root, venv = Path(sys.argv[1]), Path(sys.argv[2])
spec = importlib.util.spec_from_file_location("workbook", root / "workbook.py")
wb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wb)
wb.VENV, wb.STAMP = venv, venv / ".workbook-installed"
wb.ensure_env = lambda extras: wb.venv_python()
sys.exit(wb.main(["lab", *sys.argv[3:]]))
"""


class CloneLabServer(LabServer):
    """`python3 workbook.py lab` in a fresh `git clone` of this repository: the clone's own
    workbook.py, start page, tools/ and package (PYTHONPATH, so its kernels import the clone's
    cs231n_utils), with this environment's packages instead of a second install."""

    start_timeout = 180  # s: the first run also writes the learner edition

    def command(self) -> list[str]:
        return [sys.executable, "-c", CLONE_LAB_SCRIPT, str(self.root), sys.prefix,
                *self.extra_options()]

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PYTHONPATH"] = str(self.root)
        return env

    def jupyter_pid(self) -> int | None:
        """PID of the JupyterLab process (from its server file in the private runtime dir)."""
        for info in sorted((self.workdir / "runtime").glob("jpserver-*.json")):
            try:
                return int(json.loads(info.read_text())["pid"])
            except (OSError, ValueError, KeyError):
                continue
        return None

    def stop_with_sigterm(self, timeout: float = 90) -> int | None:
        """SIGTERM to the lab command, as a service manager or `kill` would send it; its exit
        code, or None if it did not exit within `timeout` s (then `stop()` cleans up)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        pid = self.jupyter_pid()
        super().stop()
        if pid is not None:  # JupyterLab runs in its own session: never leave it behind
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture(scope="session")
def notebook_hashes_before():
    return notebook_hashes()


@pytest.fixture(scope="session")
def current_notebook_hashes():
    """A function: {name: sha256} of notebooks/*.ipynb right now."""
    return notebook_hashes


def running(server: LabServer, failure: str):
    """Start `server` (or fail the test with `failure` and why), yield it, then stop it."""
    try:
        server.start()
    except (RuntimeError, OSError) as err:
        pytest.fail(f"{failure}: {err}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, notebook_hashes_before):
    yield from running(LabServer(tmp_path_factory.mktemp("jupyterlab")), "could not start JupyterLab")


# ----------------------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def chromium_browser():
    reason = playwright_missing()
    if reason:
        _cannot_run(reason)
    chromium = find_chromium()
    if chromium is None:
        wanted = os.environ.get("WORKBOOK_CHROMIUM")
        _cannot_run(f"WORKBOOK_CHROMIUM={wanted} does not exist" if wanted else
                    "no Chromium found (install it: apt-get install chromium; or set "
                    "WORKBOOK_CHROMIUM to its path)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lab_context(chromium_browser, lab_server):
    """A fresh browser profile logged in to the test server with its token."""
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    # Every request that could write a file (save, rename, new file, delete) is recorded;
    # scenario 6 asserts there were none.
    context.write_requests = []

    def record(request):
        if request.method in ("PUT", "PATCH", "POST", "DELETE") and "/api/contents" in request.url:
            path = request.url.split("/api/contents", 1)[1].split("?")[0]
            if request.method == "POST" and path.endswith("/checkpoints"):
                return  # the copy JupyterLab keeps on opening; it goes to the server's tmp dir
            context.write_requests.append(f"{request.method} {path}")

    context.on("request", record)
    page = context.new_page()
    page.goto(f"{lab_server.url}/lab?token={lab_server.token}")  # sets the login cookie
    page.wait_for_selector(".jp-LabShell", timeout=60_000)
    page.close()
    yield context
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture(scope="session")
def take_screenshot():
    return screenshot


# ----------------------------------------------------------------------------- notebooks
try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the fixtures skip (or fail) with the reason
    class PlaywrightTimeout(Exception):
        pass


class NotebookPage:
    """One notebook open in its own JupyterLab tab, with its own kernel."""

    def __init__(self, context, server: LabServer, name: str, path: str | None = None,
                 page=None):
        self.server = server
        self.name = name
        self.path = path or server.api_path(name)  # where the server has it
        self.page = page or context.new_page()  # `page`: one that already shows the notebook
        self.console: list[str] = []
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        self.page.on("pageerror", lambda err: self.console.append(f"pageerror: {err}"))

    # -- opening and running
    def open(self) -> "NotebookPage":
        workspace = re.sub(r"[^A-Za-z0-9]+", "-", self.path)
        self.page.goto(f"{self.server.url}/lab/workspaces/{workspace}/tree/"
                       f"{urllib.parse.quote(self.path)}?reset")
        return self.wait_ready()

    def wait_ready(self) -> "NotebookPage":
        """Wait until the notebook shows its cells and its kernel is started and idle."""
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        # The toolbar says "idle" before any kernel exists: first let the server report this
        # notebook's kernel started and idle, then the page show it connected and idle.
        deadline = time.monotonic() + KERNEL_START_TIMEOUT
        while self.server.session_kernel_state(self.path) != "idle":
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no idle kernel after {KERNEL_START_TIMEOUT} s "
                                     f"(server says {self.server.session_kernel_state(self.path)!r})")
            time.sleep(0.5)
        self.wait_kernel_idle(timeout=KERNEL_START_TIMEOUT)
        return self

    def kernel_status(self) -> str:
        return self.page.evaluate("""() => {
            const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
            return el ? (el.getAttribute('data-status') || '') : '';
        }""")

    def wait_kernel_idle(self, timeout: float = 60) -> None:
        self.page.wait_for_function("""() => {
            const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
            return el && el.getAttribute('data-status') === 'idle';
        }""", timeout=timeout * 1000)

    def menu(self, top: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()

    def run_all(self, timeout: float = RUN_ALL_TIMEOUT) -> float:
        """Clear every stored output, Run > Run All Cells, wait until done; seconds taken."""
        self.menu("Edit", "Clear Outputs of All Cells")
        # cleared outputs also clear the execution counts, so "[n]" below means "ran now"
        self.page.wait_for_function(NO_COUNTS_JS, timeout=10_000)
        start = time.monotonic()
        self.menu("Run", "Run All Cells")
        # Every cell is queued ([*]) at once; done = nothing queued and the kernel idle.
        try:
            self.page.wait_for_function(RUN_ALL_DONE_JS, timeout=timeout * 1000, polling=500)
        except PlaywrightTimeout:
            screenshot(self.page, f"timeout_{self.name.removesuffix('.ipynb')}")
            raise AssertionError(f"{self.name}: Run All did not finish within {timeout:.0f} s; "
                                 f"state: {self.state()}") from None
        self.page.wait_for_timeout(1000)  # let widget views and images finish rendering
        return time.monotonic() - start

    # -- what the page shows
    def state(self) -> dict:
        """Prompts and kernel status, for failure messages."""
        return self.page.evaluate("""() => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            if (!nb) return {panel: null};
            const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                .map(p => p.textContent.trim()).join(' ');
            const ind = nb.querySelector('.jp-Notebook-ExecutionIndicator');
            return {prompts, kernel: ind ? ind.getAttribute('data-status') : null};
        }""")

    def problems(self) -> list[str]:
        """Error outputs, tracebacks on stderr and widget errors visible in the notebook."""
        return self.page.evaluate("""(texts) => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const found = [];
            for (const el of nb.querySelectorAll('.jp-RenderedText[data-mime-type*="error"]'))
                found.push('error output: ' + el.innerText.slice(0, 400));
            for (const el of nb.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
                if (/Traceback|Error/.test(el.innerText)) found.push('stderr: ' + el.innerText.slice(0, 400));
            const shown = [...nb.querySelectorAll('.jp-OutputArea')].map(el => el.innerText).join('\\n');
            for (const t of texts) if (shown.includes(t)) found.push('output text: ' + t);
            return found;
        }""", list(ERROR_TEXTS))

    def stderr_texts(self) -> list[str]:
        return self.page.evaluate("""() => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(el => el.innerText.slice(0, 300))""")

    def code_cell_count(self) -> tuple[int, int]:
        """(code cells, code cells with an execution count)."""
        return tuple(self.page.evaluate("""() => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return [prompts.length, prompts.filter(p => /\\[\\d+\\]/.test(p.textContent)).length];
        }"""))

    def close(self) -> None:
        try:
            self.page.close()
        except Exception:  # the browser may already be gone at session end
            pass


class NotebookCache:
    """Opened-and-run notebooks, so scenario 4 and the widget scenarios share one run."""

    def __init__(self, context, server: LabServer):
        self.context, self.server = context, server
        self.pages: dict[str, NotebookPage] = {}
        self.run_seconds: dict[str, float] = {}

    def get(self, name: str) -> NotebookPage:
        if name not in self.pages:
            if not (self.server.notebook_dir / name).exists():
                pytest.skip(f"{name} does not exist yet")
            nb = self.pages[name] = NotebookPage(self.context, self.server, name)
            try:
                nb.open()
                self.run_seconds[name] = nb.run_all()
            except BaseException:
                self.release(name)  # no half-run notebook for the next test; its kernel ends
                raise
        return self.pages[name]

    def done(self, name: str) -> None:
        """Scenario 4 is finished with `name`: close it unless a widget scenario needs it."""
        if not name.startswith(WIDGET_NOTEBOOKS):
            self.release(name)

    def release(self, name: str) -> None:
        nb = self.pages.pop(name, None)
        if nb is not None:
            nb.close()
            self.server.shutdown_session(self.server.api_path(name))

    def close_all(self) -> None:
        for name in list(self.pages):
            self.release(name)
        self.server.shutdown_kernels()


@pytest.fixture(scope="session")
def notebooks(lab_context, lab_server):
    cache = NotebookCache(lab_context, lab_server)
    yield cache
    cache.close_all()


@pytest.fixture(scope="session")
def notebook_page():
    """The NotebookPage class: NotebookPage(context, server, name, path=..., page=...)."""
    return NotebookPage


# ----------------------------------------------------------------------------- a fresh clone
@pytest.fixture(scope="module")
def clone(tmp_path_factory, chromium_browser):
    """A `git clone` of this repository (its committed state) in a temporary folder."""
    if shutil.which("git") is None:
        pytest.fail("git is needed to clone the repository for this test", pytrace=False)
    where = tmp_path_factory.mktemp("fresh") / "cs231n-cnn-workbook"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(where)], check=True)
    assert not (where / "exercises").exists(), "a fresh clone has no learner edition yet"
    return where


@pytest.fixture(scope="module")
def clone_server(tmp_path_factory, clone):
    """The README's lab command running in the clone (see CloneLabServer)."""
    yield from running(CloneLabServer(tmp_path_factory.mktemp("clone-lab"), root=clone),
                       "the lab command did not start in the clone")


@pytest.fixture(scope="module")
def clone_context(chromium_browser, clone_server):
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    yield context
    context.close()
