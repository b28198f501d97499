"""The `lab` command: its options (unsafe ones refused), the read-only reference, the first-run
learner edition, the start page, and stopping (a real JupyterLab, stopped with SIGTERM)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POSIX = os.name != "nt"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wb = _load("workbook", ROOT / "workbook.py")
opts = wb.lab_options()  # tools/lab_options.py, as workbook.py loads it


def settings_of(cmd: list[str]) -> dict[str, list[str]]:
    """{setting: [values]} of the `--Class.trait=value` words of a lab command."""
    found: dict[str, list[str]] = {}
    items, _ = opts.parse_lab_options(cmd[2:])
    for setting, value, _words in items:
        if setting:
            found.setdefault(setting, []).append(value)
    return found


# ----------------------------------------------------------------------------- the command
def test_default_command_serves_the_repository_locally_with_token_on():
    cmd = wb.lab_command([], root=ROOT, cwd=ROOT)
    assert cmd[:2] == [str(wb.venv_python()), str(ROOT / "tools" / "lab_server.py")]
    got = settings_of(cmd)
    assert got["ServerApp.root_dir"] == [str(ROOT)]
    assert got["ServerApp.ip"] == ["127.0.0.1"]
    assert got["ServerApp.contents_manager_class"] == ["lab_server.WorkbookContentsManager"]
    assert got["WorkbookContentsManager.read_only"] == [str(ROOT / "notebooks"),
                                                        str(ROOT / "START_HERE.md")]
    assert got["LabApp.default_url"] == ["/lab/tree/START_HERE.md"]
    assert got["LabApp.app_settings_dir"] == [str(ROOT / "tools" / "lab_settings")]
    assert not any("token" in s or "password" in s or "xsrf" in s for s in got)
    assert "--allow-remote" not in cmd


@pytest.mark.parametrize("extra, setting, value", [
    (["--port", "8899"], "ServerApp.port", "8899"),
    (["--port=8899"], "ServerApp.port", "8899"),
    (["--ServerApp.port=8899"], "ServerApp.port", "8899"),
    (["--ip=localhost"], "ServerApp.ip", "localhost"),
    (["--ip", "127.0.0.2"], "ServerApp.ip", "127.0.0.2"),
    (["--ServerApp.ip=::1"], "ServerApp.ip", "::1"),
    (["--no-browser"], "ServerApp.open_browser", "False"),
    (["--ServerApp.open_browser=False"], "ServerApp.open_browser", "False"),
    (["--IdentityProvider.token=my-own-long-token"], "IdentityProvider.token", "my-own-long-token"),
])
def test_an_option_replaces_the_lab_commands_own_choice(extra, setting, value):
    """Each setting appears once: JupyterLab refuses a setting given twice ("only accepts one
    value, got 2"), which is how `--notebook-dir=...` used to crash."""
    got = settings_of(wb.lab_command(extra, root=ROOT, cwd=ROOT))
    assert got[setting] == [value]
    assert all(len(values) == 1 for s, values in got.items()
               if s != "WorkbookContentsManager.read_only"), got


@pytest.mark.parametrize("spelling", ["--notebook-dir=exercises", "--notebook-dir exercises",
                                      "--ServerApp.root_dir=exercises",
                                      "--NotebookApp.notebook_dir=exercises"])
def test_notebook_dir_serves_that_folder(tmp_path, spelling):
    (tmp_path / "exercises").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "START_HERE.md").write_text("# start\n")
    cmd = wb.lab_command(spelling.split(" "), root=tmp_path, cwd=tmp_path)
    got = settings_of(cmd)
    assert got["ServerApp.root_dir"] == [str(tmp_path / "exercises")]
    # the start page and preferred folder are outside what is served: not asked for
    assert "LabApp.default_url" not in got and "ContentsManager.preferred_dir" not in got


def test_relative_notebook_dir_is_taken_from_where_the_command_runs(tmp_path):
    (tmp_path / "mine").mkdir()
    got = settings_of(wb.lab_command(["--notebook-dir=mine"], root=ROOT, cwd=tmp_path))
    assert got["ServerApp.root_dir"] == [str(tmp_path / "mine")]


def test_missing_notebook_dir_is_a_clear_error(tmp_path):
    with pytest.raises(opts.LabOptionError, match="there is no folder .*nowhere"):
        wb.lab_command(["--notebook-dir=nowhere"], root=ROOT, cwd=tmp_path)


def test_learner_folder_is_where_the_file_browser_starts(tmp_path):
    (tmp_path / "exercises").mkdir()
    got = settings_of(wb.lab_command([], root=tmp_path, cwd=tmp_path))
    assert got["ContentsManager.preferred_dir"] == ["exercises"]


def test_option_without_its_value_is_a_clear_error():
    with pytest.raises(opts.LabOptionError, match="--port needs a value"):
        wb.lab_command(["--port"], root=ROOT, cwd=ROOT)


def test_other_words_pass_through_unchanged():
    cmd = wb.lab_command(["--debug", "--core-mode", "somefile.ipynb"], root=ROOT, cwd=ROOT)
    assert cmd[-3:] == ["--debug", "--core-mode", "somefile.ipynb"]


# ----------------------------------------------------------------------------- refused options
HOSTILE = [
    (["--IdentityProvider.token="], "token authentication off"),
    (["--IdentityProvider.token", ""], "token authentication off"),
    (["--IdentityProvider.token=''"], "token authentication off"),
    (['--ServerApp.token=""'], "token authentication off"),
    (["--NotebookApp.token="], "token authentication off"),
    (["--ServerApp.password="], "empties the password"),
    (["--PasswordIdentityProvider.hashed_password="], "empties the password"),
    (["--ServerApp.identity_provider_class=jupyter_server.auth.identity.IdentityProvider"],
     "login machinery"),
    (["--ServerApp.authorizer_class=x.AllowAll"], "login machinery"),
    (["--ServerApp.login_handler_class=x.Login"], "login machinery"),
    (["--ServerApp.disable_check_xsrf=True"], "XSRF"),
    (["--ServerApp.tornado_settings={'xsrf_cookies': False}"], "XSRF"),
    (["--ServerApp.allow_origin=*"], "other web sites"),
    (["--ServerApp.allow_origin_pat=.*"], "other web sites"),
    (["--ip=0.0.0.0"], "non-loopback"),
    (["--ip", "0.0.0.0"], "non-loopback"),
    (["--ip="], "non-loopback"),
    (["--ip=*"], "non-loopback"),
    (["--ip=::"], "non-loopback"),
    (["--ip=192.168.1.5"], "non-loopback"),
    (["--ip=myhost.example.org"], "non-loopback"),
    (["--ServerApp.ip=0.0.0.0"], "non-loopback"),
    (["--NotebookApp.ip=0.0.0.0"], "non-loopback"),
    (["--KernelManager.ip=0.0.0.0"], "non-loopback"),  # the kernels' own ports
    (["--ServerApp.allow_remote_access=True"], "--allow-remote"),
]


@pytest.mark.parametrize("extra, says", HOSTILE)
def test_unsafe_option_is_refused_with_a_reason(extra, says):
    with pytest.raises(opts.LabOptionError) as err:
        wb.lab_command(extra, root=ROOT, cwd=ROOT)
    message = str(err.value)
    assert says in message
    assert extra[0].split("=")[0] in message, "the message names the option"


def test_every_unsafe_option_is_named_at_once():
    with pytest.raises(opts.LabOptionError) as err:
        wb.lab_command(["--ip=0.0.0.0", "--IdentityProvider.token="], root=ROOT, cwd=ROOT)
    assert len(str(err.value).splitlines()) == 2


def test_allow_remote_allows_another_address_but_never_an_empty_token():
    cmd = wb.lab_command(["--allow-remote", "--ip=0.0.0.0"], root=ROOT, cwd=ROOT)
    assert cmd[2] == "--allow-remote"  # tools/lab_server.py checks the settings in force with it
    assert settings_of(cmd)["ServerApp.ip"] == ["0.0.0.0"]
    assert wb.lab_command(["--allow-remote", "--ServerApp.allow_remote_access=True"],
                          root=ROOT, cwd=ROOT)
    with pytest.raises(opts.LabOptionError, match="token authentication off"):
        wb.lab_command(["--allow-remote", "--ip=0.0.0.0", "--IdentityProvider.token="],
                       root=ROOT, cwd=ROOT)


def test_refused_option_stops_before_any_set_up(monkeypatch, capsys):
    called = []
    monkeypatch.setattr(wb, "ensure_env", lambda extras: called.append(extras))
    assert wb.cmd_lab(["--ip=0.0.0.0"]) == 2
    assert called == []
    assert "refused: `--ip=0.0.0.0`" in capsys.readouterr().err


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.5.0.1", True), ("localhost", True), ("LOCALHOST", True),
    ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("", False), ("*", False), ("::", False),
    ("10.0.0.1", False), ("example.org", False),
])
def test_is_loopback(host, loopback):
    assert opts.is_loopback(host) is loopback


# ----------------------------------------------------------------------------- what JupyterLab reads
def _jupyter_parse(cmd: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run the lab command with --show-config: JupyterLab parses every option, prints the
    configuration and exits without serving."""
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    cmd = [sys.executable, *cmd[1:], "--show-config"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_jupyterlab_accepts_the_command_with_pass_through_options(tmp_path):
    pytest.importorskip("jupyterlab")
    (tmp_path / "served").mkdir()
    cmd = wb.lab_command(["--notebook-dir", str(tmp_path / "served"), "--port", "8899",
                          "--no-browser"], root=ROOT, cwd=ROOT)
    done = _jupyter_parse(cmd, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shown = done.stdout + done.stderr
    assert "only accepts one value" not in shown
    assert re.search(r"root_dir\s*=\s*'?" + re.escape(str(tmp_path / "served")), shown), shown[-3000:]
    assert re.search(r"port\s*=\s*8899", shown), shown[-3000:]


# ----------------------------------------------------------------------------- settings in force
def _lab_server():
    pytest.importorskip("jupyter_server")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import lab_server
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return lab_server


class FakeServer:
    """The attributes of a configured ServerApp that tools/lab_server.py checks."""

    def __init__(self, **changes):
        provider = type("Provider", (), {})()
        provider.token, provider.auth_enabled = "abc", True
        self.identity_provider = provider
        self.disable_check_xsrf = False
        self.tornado_settings = {}
        self.allow_origin, self.allow_origin_pat = "", ""
        self.sock, self.ip, self.allow_remote_access = "", "127.0.0.1", False
        for key, value in changes.items():
            if key == "token":
                provider.token, provider.auth_enabled = value, bool(value)
            else:
                setattr(self, key, value)


@pytest.mark.parametrize("changes, says", [
    ({"token": ""}, "token authentication off"),
    ({"disable_check_xsrf": True}, "XSRF"),
    ({"tornado_settings": {"xsrf_cookies": False}}, "XSRF"),
    ({"allow_origin": "*"}, "other web sites"),
    ({"ip": "0.0.0.0"}, "non-loopback"),
    ({"ip": ""}, "non-loopback"),
    ({"allow_remote_access": True}, "--allow-remote"),
])
def test_unsafe_settings_in_force_are_found(changes, says):
    lab_server = _lab_server()
    assert lab_server.settings_problems(FakeServer(), allow_remote=False) == []
    problems = lab_server.settings_problems(FakeServer(**changes), allow_remote=False)
    assert len(problems) == 1 and says in problems[0]


def test_allow_remote_in_force_still_needs_the_token():
    lab_server = _lab_server()
    assert lab_server.settings_problems(FakeServer(ip="0.0.0.0"), True) == []
    assert lab_server.settings_problems(FakeServer(ip="0.0.0.0", token=""), True)


def test_a_config_file_that_empties_the_token_stops_the_launch(tmp_path):
    """Options are checked by workbook.py; a config file only once JupyterLab read it."""
    pytest.importorskip("jupyterlab")
    config = tmp_path / "unsafe_config.py"
    config.write_text("c.IdentityProvider.token = ''\n")
    cmd = wb.lab_command([f"--config={config}", "--port", str(_free_port()), "--no-browser"],
                         root=ROOT, cwd=ROOT)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "refused: the configuration in force would turn token authentication off" in done.stderr
    assert "is running at" not in done.stdout + done.stderr


# ----------------------------------------------------------------------------- read-only reference
@pytest.fixture
def manager(tmp_path):
    lab_server = _lab_server()
    import nbformat

    for folder in ("notebooks", "exercises"):
        (tmp_path / folder).mkdir()
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / folder / "02_convolution.ipynb")
    (tmp_path / "START_HERE.md").write_text("# start\n")
    return lab_server.WorkbookContentsManager(
        root_dir=str(tmp_path),
        read_only=[str(tmp_path / "notebooks"), str(tmp_path / "START_HERE.md")],
        learner_dir=str(tmp_path / "exercises"))


def _run(coroutine):
    """Run `coroutine` to completion on a fresh event loop in its own thread.

    A plain asyncio.run() fails when the calling thread already has a running loop, which is
    the case after the browser tests (Playwright's sync API keeps one alive in this thread).
    """
    return _LOOP_THREAD.submit(asyncio.run, coroutine).result()


# One worker thread for all of them: the checkpoint manager's SQLite connection may only be
# used by the thread that opened it.
_LOOP_THREAD = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-loop")


def _refused(call) -> str:
    from tornado import web

    with pytest.raises(web.HTTPError) as err:
        _run(call)
    assert err.value.status_code == 403
    return err.value.log_message


def test_reference_reads_as_not_writable(manager):
    assert _run(manager.get("notebooks/02_convolution.ipynb", content=False))["writable"] is False
    assert _run(manager.get("START_HERE.md", content=False))["writable"] is False
    assert _run(manager.get("exercises/02_convolution.ipynb", content=False))["writable"] is True
    listing = _run(manager.get("", content=True))
    writable = {c["name"]: c["writable"] for c in listing["content"]}
    assert writable["notebooks"] is False and writable["exercises"] is True
    assert writable["START_HERE.md"] is False
    inside = _run(manager.get("notebooks", content=True))["content"]
    assert [c["writable"] for c in inside] == [False]


def test_reference_cannot_be_changed(manager, tmp_path):
    import nbformat

    before = (tmp_path / "notebooks" / "02_convolution.ipynb").read_bytes()
    model = {"type": "notebook", "format": "json",
             "content": nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])}
    message = _refused(manager.save(model, "notebooks/02_convolution.ipynb"))
    assert "read-only reference" in message
    assert "exercises/02_convolution.ipynb" in message, "the message names the learner's copy"
    assert "Save As" in message
    _refused(manager.save({"type": "file", "format": "text", "content": "x"}, "notebooks/new.txt"))
    _refused(manager.save({"type": "file", "format": "text", "content": "x"}, "START_HERE.md"))
    _refused(manager.delete("notebooks/02_convolution.ipynb"))
    _refused(manager.rename("notebooks/02_convolution.ipynb", "exercises/taken.ipynb"))
    _refused(manager.rename("exercises/02_convolution.ipynb", "notebooks/02_convolution.ipynb"))
    _refused(manager.copy("exercises/02_convolution.ipynb", "notebooks"))
    _refused(manager.copy("notebooks/02_convolution.ipynb"))  # a copy next to it
    _refused(manager.new_untitled("notebooks", type="notebook"))
    _refused(manager.restore_checkpoint("checkpoint", "notebooks/02_convolution.ipynb"))
    assert (tmp_path / "notebooks" / "02_convolution.ipynb").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "notebooks").iterdir()) == ["02_convolution.ipynb"]


def test_checkpoints_of_the_reference_write_nothing(manager, tmp_path):
    made = _run(manager.create_checkpoint("notebooks/02_convolution.ipynb"))
    assert made["id"] == "checkpoint"
    assert _run(manager.list_checkpoints("notebooks/02_convolution.ipynb")) == [made]
    _run(manager.delete_checkpoint("checkpoint", "notebooks/02_convolution.ipynb"))
    assert not (tmp_path / "notebooks" / ".ipynb_checkpoints").exists()
    _run(manager.create_checkpoint("exercises/02_convolution.ipynb"))  # ordinary files: as usual
    assert (tmp_path / "exercises" / ".ipynb_checkpoints").is_dir()


def test_learner_files_work_as_usual(manager, tmp_path):
    import nbformat

    model = {"type": "notebook", "format": "json",
             "content": nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])}
    _run(manager.save(model, "exercises/02_convolution.ipynb"))
    assert "x = 1" in (tmp_path / "exercises" / "02_convolution.ipynb").read_text()
    copied = _run(manager.copy("notebooks/02_convolution.ipynb", "exercises"))
    assert copied["path"].startswith("exercises/02_convolution-Copy")
    _run(manager.rename(copied["path"], "exercises/mine.ipynb"))
    _run(manager.delete("exercises/mine.ipynb"))
    assert not (tmp_path / "exercises" / "mine.ipynb").exists()


def test_a_symlink_does_not_open_the_reference(manager, tmp_path):
    if not POSIX:
        pytest.skip("symlinks need privileges on Windows")
    (tmp_path / "exercises" / "link").symlink_to(tmp_path / "notebooks")
    _refused(manager.save({"type": "file", "format": "text", "content": "x"}, "exercises/link/x.txt"))


# ----------------------------------------------------------------------------- first run
def test_learner_edition_is_written_only_when_a_copy_is_missing(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (tmp_path / "notebooks" / name).write_text("{}")
    calls = []
    monkeypatch.setattr(wb, "cmd_exercises", lambda extra: calls.append(extra) or 0)
    wb.ensure_learner_edition(tmp_path)
    assert calls == [[]], "no exercises/: the writer must run (it never overwrites)"
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "01_a.ipynb").write_text("my work")
    wb.ensure_learner_edition(tmp_path)
    assert len(calls) == 2, "02_b has no copy yet: the writer must run"
    (tmp_path / "exercises" / "02_b.ipynb").write_text("my work")
    wb.ensure_learner_edition(tmp_path)
    assert len(calls) == 2, "every copy is there: nothing to write"
    assert (tmp_path / "exercises" / "01_a.ipynb").read_text() == "my work"


def test_a_failing_writer_does_not_stop_the_lab(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.ipynb").write_text("{}")
    monkeypatch.setattr(wb, "cmd_exercises", lambda extra: 1)
    wb.ensure_learner_edition(tmp_path)
    assert "could not write exercises/" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the start page
def test_start_page_lists_every_notebook_and_the_notes():
    text = (ROOT / wb.START_PAGE).read_text(encoding="utf-8")
    links = set(re.findall(r"\]\(([^)\s]+)\)", text))
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"exercises/{notebook.name}" in links, f"no link to your copy of {notebook.name}"
        assert f"notebooks/{notebook.name}" in links, f"no link to the reference {notebook.name}"
    for link in links:  # every local link leads to a file of the repository (or of exercises/)
        if "://" not in link and not link.startswith("exercises/"):
            assert (ROOT / link).exists(), f"the start page links to a missing {link}"
    assert "https://cs231n.github.io/convolutional-networks/" in text
    assert "(2023版)斯坦福CS231n学习笔记" in text, "the Chinese notes are named by their title"
    assert "Where to begin" in text and "exercises/01_history.ipynb" in text


def test_lab_settings_save_widget_state_and_show_markdown_as_a_page():
    overrides = json.loads((ROOT / "tools" / "lab_settings" / "overrides.json").read_text())
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Markdown Preview"


# ----------------------------------------------------------------------------- stopping
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STOPPER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("workbook", sys.argv[1])
wb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wb)
sys.exit(wb.run_until_stopped(sys.argv[3:], grace=float(sys.argv[2])))
"""
CHILD = """
import signal, sys, time, pathlib
mark = pathlib.Path(sys.argv[1]); ignore = sys.argv[2] == "ignore"
def got(signum, frame):
    mark.write_text(str(signum))
    if not ignore:
        sys.exit(0)
signal.signal(signal.SIGTERM, got)
signal.signal(signal.SIGINT, got)
mark.write_text("ready")
while True:
    time.sleep(0.1)
"""


def _start_stopper(tmp_path: Path, behaviour: str, grace: float = 30):
    mark = tmp_path / "mark"
    proc = subprocess.Popen([sys.executable, "-c", STOPPER, str(ROOT / "workbook.py"), str(grace),
                             sys.executable, "-c", CHILD, str(mark), behaviour],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not (mark.exists() and mark.read_text() == "ready"):
        assert time.monotonic() < deadline and proc.poll() is None, "the child did not start"
        time.sleep(0.1)
    return proc, mark


@pytest.mark.skipif(not POSIX, reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_becomes_one_sigterm_to_jupyterlab(tmp_path, sig):
    proc, mark = _start_stopper(tmp_path, "exit")
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert mark.read_text() == str(int(signal.SIGTERM)), "JupyterLab should get SIGTERM"
    assert "stopping JupyterLab" in out and "JupyterLab stopped" in out


@pytest.mark.skipif(not POSIX, reason="POSIX signals")
def test_a_second_signal_kills_a_jupyterlab_that_does_not_stop(tmp_path):
    proc, mark = _start_stopper(tmp_path, "ignore")
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 30
    while mark.read_text() == "ready":
        assert time.monotonic() < deadline, "the child never got the first signal"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert "stopping JupyterLab now" in out


@pytest.mark.skipif(not POSIX, reason="POSIX signals")
def test_a_jupyterlab_that_does_not_stop_is_killed_after_the_grace_time(tmp_path):
    proc, mark = _start_stopper(tmp_path, "ignore", grace=2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert mark.read_text() == str(int(signal.SIGTERM))
    assert "JupyterLab stopped" in out


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the processes")
def test_sigterm_stops_the_real_lab_and_its_kernels(tmp_path):
    """`python3 workbook.py lab` for real (this environment, private Jupyter folders): start
    a kernel, SIGTERM the command, and JupyterLab and the kernel are gone."""
    pytest.importorskip("jupyterlab")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR",
                "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        env[var] = str(tmp_path / var.lower())
    env.pop("MPLBACKEND", None)
    script = ("import importlib.util, sys\n"
              "spec = importlib.util.spec_from_file_location('workbook', sys.argv[1])\n"
              "wb = importlib.util.module_from_spec(spec); spec.loader.exec_module(wb)\n"
              "wb.VENV = __import__('pathlib').Path(sys.prefix)\n"
              "wb.ensure_env = lambda extras: wb.venv_python()\n"
              "wb.ensure_learner_edition = lambda root=None: None\n"
              "sys.exit(wb.main(['lab', *sys.argv[2:]]))\n")
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen([sys.executable, "-c", script, str(ROOT / "workbook.py"),
                             "--port", str(port), "--ServerApp.port_retries=0",
                             f"--IdentityProvider.token={token}", "--no-browser"],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def api(method: str, path: str):
        req = urllib.request.Request(url + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()

    jupyter = kernel = None
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, "the lab command exited:\n" + Path(log.name).read_text()[-3000:]
            try:
                if api("GET", "/api/status")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not start in 180 s"
            time.sleep(0.5)
        status, _ = api("POST", "/api/kernels")
        assert status == 201
        [jupyter] = _children(proc.pid)
        deadline = time.monotonic() + 120
        while not _children(jupyter):
            assert time.monotonic() < deadline, "the kernel process did not appear"
            time.sleep(0.5)
        kernel = _children(jupyter)[0]
        assert os.getsid(jupyter) != os.getsid(proc.pid), "JupyterLab runs in its own session"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
        output = Path(log.name).read_text()
        assert "stopping JupyterLab" in output and "Shutting down 1 kernel" in output, output[-3000:]
        assert not _alive(jupyter), "JupyterLab still runs after the lab command stopped"
        deadline = time.monotonic() + 30
        while _alive(kernel):
            assert time.monotonic() < deadline, "the kernel outlived JupyterLab"
            time.sleep(0.5)
        with pytest.raises(OSError):
            api("GET", "/api/status")
    finally:
        for pid in (kernel, jupyter):
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        log.close()
