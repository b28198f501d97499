"""Scenarios 1 and 2: the conv explorer (02) and the pooling explorer (03) in a real browser.

Sliders are moved the way a learner can type a value: click the slider's readout, type the
number, press Enter. The kernel recomputes; the page must show the new output size, a
redrawn picture and a position slider with one step per output pixel, and for a setting that
does not fit exactly, the explorer's message (why, what frameworks compute, settings that fit)
instead of a traceback.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from cs231n_utils import explorers

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET_TIMEOUT = 30_000  # ms for the kernel to answer a slider move and redraw


def notebook_named(prefix: str) -> str:
    found = sorted(p.name for p in NOTEBOOK_DIR.glob(f"{prefix}*.ipynb"))
    if not found:
        pytest.skip(f"no notebooks/{prefix}*.ipynb yet")
    return found[0]


def expect():
    from playwright.sync_api import expect as _expect
    return _expect


# --------------------------------------------------------------------------- slider helpers
def slider(box, label: str):
    """The IntSlider in `box` whose description is exactly `label`."""
    page = box.page
    found = box.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))
    assert found.count() == 1, f"expected one slider labelled {label!r}, found {found.count()}"
    return found


def slider_range(s) -> tuple[int, int, int]:
    handle = s.locator(".noUi-handle").first
    return tuple(int(float(handle.get_attribute(a)))
                 for a in ("aria-valuemin", "aria-valuenow", "aria-valuemax"))


def set_slider(s, value: int) -> None:
    """Type `value` into the slider's readout and press Enter, as a learner can."""
    readout = s.locator(".widget-readout")
    readout.click()
    readout.press("Control+a")
    readout.type(str(value))
    readout.press("Enter")
    expect()(readout).to_have_text(str(value), timeout=WIDGET_TIMEOUT)
    expect()(s.locator(".noUi-handle").first).to_have_attribute(
        "aria-valuenow", re.compile(rf"^{value}(\.0+)?$"), timeout=WIDGET_TIMEOUT)


def picture(box) -> str | None:
    """A fingerprint of the picture(s) the explorer shows now (None: no picture)."""
    srcs = box.locator(".widget-output img").evaluate_all("els => els.map(e => e.src)")
    return hashlib.sha256("|".join(srcs).encode()).hexdigest() if srcs else None


def settle(nb, box, formula, expected_text: str) -> str:
    """Wait for the kernel's answer to the last change: the formula line, then the kernel idle
    again (it draws after writing the formula) and a picture; the picture's fingerprint."""
    expect()(formula).to_contain_text(expected_text, timeout=WIDGET_TIMEOUT)
    nb.wait_kernel_idle(timeout=WIDGET_TIMEOUT / 1000)
    box.locator(".widget-output img").first.wait_for(state="visible", timeout=WIDGET_TIMEOUT)
    shown = picture(box)
    assert shown is not None, "the explorer shows no picture"
    return shown


def expected_line(geometry) -> str:
    """The explorer's formula line starts like this (see explorers.ConvFrame.text)."""
    return f"W' = {geometry.formula} -> {geometry.output_text}"


def conv_out(W: int, F: int, S: int, P: int, D: int) -> int | None:
    span = W + 2 * P - D * (F - 1) - 1
    return span // S + 1 if span >= 0 and span % S == 0 else None


def assert_no_traceback(nb) -> None:
    problems = nb.problems()
    assert not problems, "errors in the page:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- scenario 1
def test_conv_explorer_reacts_to_sliders(notebooks, take_screenshot):
    name = notebook_named("02_")
    nb = notebooks.get(name)
    try:
        page = nb.page
        boxes = page.locator(".cs231n-conv-explorer")
        assert boxes.count() >= 1, f"{name} shows no conv explorer after Run All"
        box = boxes.first
        box.scroll_into_view_if_needed()
        formula = box.locator(".cs231n-conv-formula")
        message = box.locator(".cs231n-conv-message")
        position = slider(box, "position")
        s = {k: slider(box, k) for k in "WFSPD"}

        settings = {"W": 7, "F": 3, "S": 1, "P": 0, "D": 1}
        steps = [{}, {"S": 2}, {"P": 1}, {"F": 5}, {"D": 2, "F": 3, "P": 0, "S": 1}]
        pictures, sizes = [], []
        for step in steps:
            settings.update(step)
            for key in "WFSPD":  # set every control, so the start state does not matter
                lo, now, hi = slider_range(s[key])
                assert lo <= settings[key] <= hi, f"slider {key} ({lo}..{hi}) cannot reach {settings[key]}"
                if now != settings[key]:
                    set_slider(s[key], settings[key])
            out = conv_out(**settings)
            geometry = explorers.conv_geometry(settings["W"], settings["F"], settings["S"],
                                               settings["P"], settings["D"])
            assert out is not None and geometry.output_size == out
            pictures.append(settle(nb, box, formula, expected_line(geometry)))
            expect()(formula).to_contain_text(f"output {out} x {out}")
            expect()(message).to_have_text(re.compile(r"^\s*$"))
            # the output grid: the position slider steps through out * out output pixels
            assert slider_range(position)[2] == out * out - 1, (settings, slider_range(position))
            sizes.append(out)
        assert sizes == [5, 3, 4, 3, 3], sizes
        assert len(set(pictures)) == len(pictures), "a new setting did not redraw the picture"
        # stepping the window along the output grid redraws too
        set_slider(position, 4)
        after = settle(nb, box, formula, "output (1, 1) reads")
        assert after != pictures[-1]
        assert_no_traceback(nb)
        box.scroll_into_view_if_needed()
        take_screenshot(page, "1_conv_explorer_valid")

        # W=7, F=3, S=3, P=0, D=1 does not fit: (7 - 3)/3 + 1 = 7/3
        bad = {"D": 1, "S": 3, "P": 0, "F": 3, "W": 7}
        for key, value in bad.items():
            if slider_range(s[key])[1] != value:
                set_slider(s[key], value)
        geometry = explorers.conv_geometry(7, 3, 3, 0, 1)
        assert not geometry.valid and conv_out(**bad) is None
        settle(nb, box, formula, expected_line(geometry))
        expect()(formula).to_contain_text("does not fit exactly; frameworks round down: output 2 x 2")
        expect()(message).to_contain_text(geometry.message, timeout=WIDGET_TIMEOUT)
        expect()(message).to_be_visible()
        # the picture steps through the 2 x 2 windows a framework keeps when it rounds down
        assert slider_range(position)[2] == geometry.floor_size ** 2 - 1 == 3
        assert "Traceback" not in box.inner_text()
        assert_no_traceback(nb)
        box.scroll_into_view_if_needed()
        take_screenshot(page, "1_conv_explorer_invalid")
    finally:
        notebooks.release(name)


# --------------------------------------------------------------------------- scenario 2
def pool_out(n: int, size: int, stride: int) -> int | None:
    span = n - size
    return span // stride + 1 if span >= 0 and span % stride == 0 else None


def test_pool_explorer_reacts_to_controls(notebooks, take_screenshot):
    name = notebook_named("03_")
    nb = notebooks.get(name)
    try:
        page = nb.page
        boxes = page.locator(".cs231n-pool-explorer")
        assert boxes.count() >= 1, f"{name} shows no pooling explorer after Run All"
        box = boxes.first
        box.scroll_into_view_if_needed()
        formula = box.locator(".cs231n-pool-formula")
        message = box.locator(".cs231n-pool-message")
        position = slider(box, "position")
        s = {k: slider(box, k) for k in ("size", "stride", "input")}

        settings = {"input": 6, "size": 2, "stride": 2}
        pictures, sizes = [], []
        for step in [{}, {"size": 3, "stride": 3}, {"input": 8, "size": 2, "stride": 2},
                     {"size": 4, "stride": 2}]:
            settings.update(step)
            for key in ("input", "size", "stride"):
                lo, now, hi = slider_range(s[key])
                assert lo <= settings[key] <= hi, f"slider {key} ({lo}..{hi}) cannot reach {settings[key]}"
                if now != settings[key]:
                    set_slider(s[key], settings[key])
            out = pool_out(settings["input"], settings["size"], settings["stride"])
            geometry = explorers.pool_geometry(settings["input"], settings["size"], settings["stride"])
            assert out is not None and geometry.output_size == out
            pictures.append(settle(nb, box, formula, expected_line(geometry)))
            expect()(formula).to_contain_text(f"output {out} x {out}")
            expect()(message).to_have_text(re.compile(r"^\s*$"))
            assert slider_range(position)[2] == out * out - 1, (settings, slider_range(position))
            sizes.append(out)
        assert sizes == [3, 2, 4, 3], sizes
        assert len(set(pictures)) == len(pictures), "a new setting did not redraw the picture"

        # the pooling type and forward/backward are toggle buttons
        for label, text in (("avg", "avg pool of window"), ("max", "max pool of window"),
                            ("backward", "backward with dout = 1")):
            box.locator(".widget-toggle-buttons button",
                        has_text=re.compile(rf"^\s*{label}\s*$")).click()
            shown = settle(nb, box, formula, text)
            assert shown != pictures[-1], f"clicking {label!r} did not redraw the picture"
            pictures.append(shown)
        assert_no_traceback(nb)
        box.scroll_into_view_if_needed()
        take_screenshot(page, "2_pool_explorer_valid")

        # input 6, size 4, stride 3: (6 - 4)/3 + 1 = 5/3 does not fit
        for key, value in {"input": 6, "size": 4, "stride": 3}.items():
            if slider_range(s[key])[1] != value:
                set_slider(s[key], value)
        geometry = explorers.pool_geometry(6, 4, 3)
        assert not geometry.valid and pool_out(6, 4, 3) is None
        settle(nb, box, formula, expected_line(geometry))
        expect()(formula).to_contain_text("does not fit exactly; frameworks round down: output 1 x 1")
        expect()(message).to_contain_text(geometry.message, timeout=WIDGET_TIMEOUT)
        expect()(message).to_be_visible()
        assert slider_range(position)[2] == geometry.floor_size ** 2 - 1 == 0
        assert "Traceback" not in box.inner_text()
        assert_no_traceback(nb)
        box.scroll_into_view_if_needed()
        take_screenshot(page, "2_pool_explorer_invalid")
    finally:
        notebooks.release(name)
