"""Scenario 6: the browser run leaves every notebook file under notebooks/ byte-for-byte as it was."""
from __future__ import annotations

import time

import pytest


@pytest.mark.browser_last
def test_no_notebook_file_modified(notebooks, lab_context, lab_server, notebook_hashes_before,
                                   current_notebook_hashes, take_screenshot):
    notebooks.close_all()  # every tab closed without saving, every kernel shut down
    page = lab_context.new_page()
    try:
        page.goto(f"{lab_server.url}/lab/workspaces/unmodified?reset")
        page.wait_for_selector(".jp-DirListing-item", timeout=60_000)
        page.wait_for_timeout(500)
        take_screenshot(page, "6_notebooks_unmodified_file_browser")
    finally:
        page.close()
    assert not lab_context.write_requests, (
        "the browser asked the server to write files: " + "; ".join(lab_context.write_requests))
    if not lab_server.checkpoints_existed:
        assert not (lab_server.notebook_dir / ".ipynb_checkpoints").exists(), (
            "JupyterLab wrote checkpoints into notebooks/ (they belong in its tmp dir)")
    after = current_notebook_hashes()
    assert sorted(after) == sorted(notebook_hashes_before), (
        f"the set of notebooks changed: before {sorted(notebook_hashes_before)}, after {sorted(after)}")
    changed = [name for name in after if after[name] != notebook_hashes_before[name]]
    when = {name: time.strftime("%H:%M:%S", time.localtime(
        (lab_server.notebook_dir / name).stat().st_mtime)) for name in changed}
    assert not changed, (
        f"modified during the browser tests (server started {lab_server.started_at}, no write "
        f"request came from the browser; last modified: {when}): {changed}")
