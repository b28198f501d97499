"""Scenario 3: the live training view in 05 trains on a click and redraws its curves and pictures."""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
TRAIN_TIMEOUT = 240  # s for one epoch of the notebook's small net on a busy 2-core machine


def notebook_named(prefix: str) -> str:
    found = sorted(p.name for p in NOTEBOOK_DIR.glob(f"{prefix}*.ipynb"))
    if not found:
        pytest.skip(f"no notebooks/{prefix}*.ipynb yet")
    return found[0]


def training_view(page):
    """The view's box: `.cs231n-training-view` if it has that class, else the innermost widget
    box holding a "Train" button and an "epochs" slider (cs231n_utils.training_view)."""
    marked = page.locator(".cs231n-training-view")
    if marked.count():
        return marked.last
    boxes = (page.locator(".jp-OutputArea .widget-vbox")
             .filter(has=page.locator("button", has_text=re.compile(r"^\s*Train\s*$")))
             .filter(has=page.locator(".widget-label", has_text=re.compile(r"^\s*epochs\s*$"))))
    assert boxes.count() >= 1, "no training view (Train button + epochs slider) after Run All"
    return boxes.last  # document order: the innermost box comes last


def picture(box) -> str | None:
    srcs = box.locator(".widget-output img").evaluate_all("els => els.map(e => e.src)")
    return hashlib.sha256("|".join(srcs).encode()).hexdigest() if srcs else None


def status_line(box) -> str:
    """The view's status HTML ("epoch 2 | iteration 40 | loss ... | prediction ...")."""
    texts = box.locator(".widget-html-content").all_inner_texts()
    for text in texts:
        if re.search(r"\bepoch \d+", text):
            return text.strip()
    raise AssertionError(f"no status line with 'epoch N' in the training view: {texts}")


def epoch_of(status: str) -> int:
    return int(re.search(r"\bepoch (\d+)", status).group(1))


def test_training_view_updates_live(notebooks, take_screenshot):
    from playwright.sync_api import expect

    name = notebook_named("05_")
    nb = notebooks.get(name)
    try:
        page = nb.page
        box = training_view(page)
        box.scroll_into_view_if_needed()
        button = box.locator("button", has_text=re.compile(r"^\s*Train\s*$"))
        epochs = box.locator(".widget-slider").filter(
            has=page.locator(".widget-label", has_text=re.compile(r"^\s*epochs\s*$")))
        before_status, before_picture = status_line(box), picture(box)
        assert before_picture is not None, "the training view shows no figure before training"
        take_screenshot(page, "3_training_view_before")

        # a short run: one epoch
        readout = epochs.locator(".widget-readout")
        if readout.inner_text().strip() != "1":
            readout.click()
            readout.press("Control+a")
            readout.type("1")
            readout.press("Enter")
            expect(readout).to_have_text("1")
        button.click()

        # while it trains the picture is redrawn from the solver's callback; collect what we see
        seen, deadline = {before_picture}, time.monotonic() + TRAIN_TIMEOUT
        while time.monotonic() < deadline:
            now = picture(box)
            if now is not None:
                seen.add(now)
            if (epoch_of(status_line(box)) == epoch_of(before_status) + 1
                    and button.is_enabled() and nb.kernel_status() == "idle"):
                break
            page.wait_for_timeout(300)
        else:
            raise AssertionError(f"training did not finish within {TRAIN_TIMEOUT} s; status: "
                                 f"{status_line(box)!r}, kernel {nb.kernel_status()}")
        box.locator(".widget-output img").first.wait_for(state="visible")
        after_status, after_picture = status_line(box), picture(box)
        seen.add(after_picture)

        assert after_status != before_status
        it_before = int(re.search(r"iteration (\d+)", before_status).group(1))
        it_after = int(re.search(r"iteration (\d+)", after_status).group(1))
        assert it_after > it_before, (before_status, after_status)
        assert "loss" in after_status
        assert after_picture != before_picture, "the figure was not redrawn after training"
        assert len(seen) >= 2
        assert "training stopped" not in box.inner_text()
        problems = nb.problems()
        assert not problems, "errors in the page:\n" + "\n".join(problems)
        box.scroll_into_view_if_needed()
        take_screenshot(page, "3_training_view_after")
    finally:
        notebooks.release(name)
