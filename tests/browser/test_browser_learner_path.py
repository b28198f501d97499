"""Scenario 7: the learner's path, on a fresh clone with the README's lab command.

`git clone` this repository into a temporary folder, run its `workbook.py lab` (first run:
it writes exercises/), open the start page, follow its link to exercises/02_convolution,
run it, fill in `conv_output_size` wrongly (a cross verdict naming the mistake) and then
correctly (a check-mark verdict), save, reopen with a new kernel: no widget error, the
explorers drawn from the saved widget state, and `git status` in the clone clean. Then the
complete notebooks are read-only, and SIGTERM stops JupyterLab with its kernels.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the fixtures skip (or fail) with the reason
    PlaywrightTimeout = TimeoutError

NOTEBOOK = "02_convolution.ipynb"
EXERCISE = "conv_output_size"
WRONG = '''def conv_output_size(size, filter_size, stride=1, pad=0, dilation=1):
    """Output width, forgetting the padding (on purpose)."""
    return (size - filter_size) // stride + 1'''
RIGHT = '''def conv_output_size(size, filter_size, stride=1, pad=0, dilation=1):
    """Output width W' = (W + 2P - (D*(F-1) + 1)) / S + 1."""
    span = dilation * (filter_size - 1) + 1
    room = size + 2 * pad - span
    if room < 0:
        raise ValueError(f"filter spans {span} > padded input {size + 2 * pad}")
    if room % stride:
        raise ValueError(f"({size} + 2*{pad} - {span})/{stride} + 1 is not an integer")
    return room // stride + 1'''
CHECK_MARK, CROSS = "\u2714", "\u2718"
CELL_TIMEOUT = 120  # s, one cell (the checker runs all its cases) on a busy machine


def git(clone: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=clone, check=True, capture_output=True,
                          text=True).stdout


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("*.ipynb"))}


# ----------------------------------------------------------------------------- helpers
def find_cell(page, starts_with: str) -> int:
    """DOM index (among all cells of the visible notebook) of the code cell whose source
    starts with `starts_with`."""
    index = page.evaluate("""(start) => {
        const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const cells = [...nb.querySelectorAll('.jp-Notebook .jp-Cell')];
        return cells.findIndex(c => c.classList.contains('jp-CodeCell') &&
            (c.querySelector('.cm-content')?.innerText || '').trimStart().startsWith(start));
    }""", starts_with)
    assert index >= 0, f"no code cell starting with {starts_with!r}"
    return index


def cell_state(page, index: int) -> dict:
    return page.evaluate("""(i) => {
        const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const c = [...nb.querySelectorAll('.jp-Notebook .jp-Cell')][i];
        const out = c.querySelector('.jp-OutputArea');
        const verdict = c.querySelector('.cs231n-verdict');
        return {source: c.querySelector('.cm-content')?.innerText || '',
                prompt: c.querySelector('.jp-InputArea-prompt')?.textContent || '',
                output: out ? out.innerText : '',
                verdict: verdict ? verdict.innerText : null};
    }""", index)


def replace_source(page, index: int, code: str) -> None:
    """Click into the cell's editor, select everything, type `code` in its place (as one
    text insertion, so the editor adds no indentation or brackets of its own)."""
    editor = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell") \
        .nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    got = cell_state(page, index)["source"].replace("\u00a0", " ").rstrip()
    assert got == code.rstrip(), f"the editor holds:\n{got}\nnot:\n{code}"


def run_exercise_and_check(page, exercise: int, check: int) -> dict:
    """Shift-Enter in the exercise cell, then Shift-Enter in its check cell (the next one);
    returns the check cell once its new output is there."""
    before = cell_state(page, check)["prompt"]
    page.keyboard.press("Shift+Enter")   # runs the exercise cell, selects the check cell
    page.keyboard.press("Shift+Enter")   # runs the check cell
    page.wait_for_function("""([i, before]) => {
        const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const c = [...nb.querySelectorAll('.jp-Notebook .jp-Cell')][i];
        const p = c.querySelector('.jp-InputArea-prompt')?.textContent || '';
        return /[0-9]/.test(p) && p !== before && !p.includes('*');
    }""", arg=[check, before], timeout=CELL_TIMEOUT * 1000, polling=500)
    page.wait_for_timeout(500)
    return cell_state(page, check)


def assert_verdict(state: dict, passed: bool) -> None:
    """The verdict names the exercise; a pass says "all ... pass", a failure names the
    mistake. The checker draws its verdict as an HTML line (class cs231n-verdict) whose marker
    is the check mark on a pass and the cross on a failure."""
    text = state["output"]
    assert EXERCISE in text, f"no verdict for {EXERCISE} in the check cell: {text!r}"
    assert "Traceback" not in text and "Error" not in text.split(EXERCISE, 1)[0], text
    if passed:
        assert "all" in text and "pass" in text and "wrong" not in text, text
    else:
        assert "padding" in text and "wrong" in text, (
            f"the failing verdict should name the mistake (padding): {text!r}")
        assert "all" not in text.split("(")[0], text
    assert state["verdict"] is not None, "the verdict is not drawn as its coloured line (class cs231n-verdict)"
    wanted, other = (CHECK_MARK, CROSS) if passed else (CROSS, CHECK_MARK)
    assert wanted in text and other not in text, (
        f"expected the {'check mark' if passed else 'cross'} in the verdict: {text!r}")


def notebook_on_disk(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the scenario
def test_learner_path_on_a_fresh_clone(clone, clone_server, clone_context, notebook_page,
                                       take_screenshot):
    server, context = clone_server, clone_context
    NotebookPage, screenshot = notebook_page, take_screenshot
    reference_before = digests(clone / "notebooks")
    assert sorted(p.name for p in (clone / "exercises").glob("*.ipynb")) == sorted(reference_before), (
        "the first run of the lab command should write every notebook into exercises/")
    learner_file = clone / "exercises" / NOTEBOOK

    # 1. the start page: what the server opens at its address
    page = context.new_page()
    page.goto(f"{server.url}/?token={server.token}")
    page.wait_for_selector(".jp-LabShell", timeout=60_000)
    start = page.locator(".jp-RenderedMarkdown", has_text="Start here")
    start.wait_for(timeout=60_000)
    text = start.inner_text()
    for wanted in ("Where to begin", "exercises/01_history.ipynb", "read-only",
                   "卷积神经网络", "(2023版)斯坦福CS231n学习笔记"):
        assert wanted in text, f"the start page does not say {wanted!r}"
    for stem in (p.stem for p in (clone / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert stem in text, f"the start page does not list {stem}"
    assert start.locator('a[href="https://cs231n.github.io/convolutional-networks/"]').count() == 1
    screenshot(page, "7_learner_start_page")

    # 2. its link to the learner's copy of 02 opens that notebook, with a kernel
    link = start.locator("a", has_text=NOTEBOOK.removesuffix(".ipynb")).first
    link.click()
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=60_000)
    title = page.locator(".lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel").first.inner_text()
    assert title == NOTEBOOK, f"the start page's first {NOTEBOOK} link opened {title!r}"
    nb = NotebookPage(context, server, NOTEBOOK, path=f"exercises/{NOTEBOOK}", page=page)
    nb.wait_ready()
    nb.run_all()
    problems = nb.problems()
    assert not problems, "the learner edition of 02 shows errors after Run All:\n" + "\n".join(problems)

    # 3. a wrong answer, then the right one
    exercise = find_cell(page, f"def {EXERCISE}")
    check = exercise + 1
    stub = cell_state(page, check)["output"]
    assert "not implemented" in stub, f"before any code, the verdict should say so: {stub!r}"
    replace_source(page, exercise, WRONG)
    wrong = run_exercise_and_check(page, exercise, check)
    screenshot(page, "7_learner_wrong_answer")
    assert_verdict(wrong, passed=False)
    replace_source(page, exercise, RIGHT)
    right = run_exercise_and_check(page, exercise, check)
    screenshot(page, "7_learner_right_answer")
    assert_verdict(right, passed=True)

    # 4. save (Ctrl-S): the code and the widget state land in exercises/
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    while "room // stride + 1" not in learner_file.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, f"Ctrl-S did not save {learner_file}"
        time.sleep(0.5)
    page.wait_for_function("""() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')""",
                           timeout=30_000)
    saved = notebook_on_disk(learner_file)
    widget_state = saved["metadata"].get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    assert widget_state, "the saved notebook holds no widget state (saveState is not on)"
    nb.close()
    server.shutdown_session(f"exercises/{NOTEBOOK}")  # as after closing the lab: kernel gone

    # 5. reopen with a new kernel: the widgets come back from the saved state
    again = NotebookPage(context, server, NOTEBOOK, path=f"exercises/{NOTEBOOK}").open()
    try:
        # the explorers' views, drawn from the saved state, or the widget error
        try:
            again.page.wait_for_function("""() => {
                const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                return nb.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length > 0
                    || /Error displaying widget|model not found/.test(nb.innerText);
            }""", timeout=60_000, polling=500)
        except PlaywrightTimeout:
            pass  # neither: reported below
        again.page.wait_for_timeout(2000)
        views = again.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output "
                                   ".jupyter-widgets")
        if views.count():
            views.first.scroll_into_view_if_needed()
        screenshot(again.page, "7_learner_reopened")
        problems = again.problems()
        assert not problems, "the reopened notebook shows:\n" + "\n".join(problems)
        assert views.count() > 0, "the reopened notebook shows no widget (the explorers)"
        assert_verdict(cell_state(again.page, find_cell(again.page, f"def {EXERCISE}") + 1),
                       passed=True)
    finally:
        again.close()
        server.shutdown_session(f"exercises/{NOTEBOOK}")

    # 6. nothing tracked changed in the clone
    status = git(clone, "status", "--porcelain")
    assert status == "", f"`git status` in the clone is not clean:\n{status}"
    assert digests(clone / "notebooks") == reference_before


def test_complete_notebooks_are_read_only(clone, clone_server, clone_context, notebook_page,
                                          take_screenshot):
    server = clone_server
    NotebookPage, screenshot = notebook_page, take_screenshot
    before = digests(clone / "notebooks")
    nb = NotebookPage(clone_context, server, "01_history.ipynb").open()
    try:
        first = nb.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").first
        first.click()
        nb.page.keyboard.press("Escape")
        # JupyterLab knows: a "read-only" badge, and Ctrl-S answers with a notification
        nb.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").get_by_text(
            "is read-only").first.wait_for(timeout=30_000)
        nb.page.keyboard.press("Control+s")
        nb.page.get_by_text(re.compile(r"01_history\.ipynb is read-only\. Use .Save as")) \
            .first.wait_for(timeout=30_000)
        screenshot(nb.page, "7_reference_read_only")
    finally:
        nb.close()
        server.shutdown_session("notebooks/01_history.ipynb")
    # the files API refuses too, naming the learner's copy
    request = urllib.request.Request(
        f"{server.url}/api/contents/notebooks/01_history.ipynb", method="PUT",
        data=json.dumps({"type": "file", "format": "text", "content": "x"}).encode(),
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    body = json.loads(refused.value.read())
    assert refused.value.code == 403
    assert "read-only reference" in body["message"] and "exercises/01_history.ipynb" in body["message"]
    assert digests(clone / "notebooks") == before
    assert not (clone / "notebooks" / ".ipynb_checkpoints").exists()


def test_sigterm_stops_the_lab_and_its_kernels(clone, clone_server):
    server = clone_server
    status, body = server.api("POST", "/api/kernels")
    assert status == 201, body[:200]
    jupyter = server.jupyter_pid()
    assert jupyter is not None, "no server file in the private runtime directory"
    code = server.stop_with_sigterm(timeout=90)
    assert code == 0, f"the lab command did not exit cleanly on SIGTERM (exit code {code}):\n" \
                      + server.log_tail()
    log = server.log_path.read_text(errors="replace")
    assert "Shutting down 1 kernel" in log or "Kernel shutdown" in log, server.log_tail()
    assert not Path(f"/proc/{jupyter}").exists() or \
        Path(f"/proc/{jupyter}/stat").read_text().split()[2] == "Z", "JupyterLab still runs"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/api/status", timeout=5)
    assert git(clone, "status", "--porcelain") == ""
