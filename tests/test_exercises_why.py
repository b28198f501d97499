"""The checker cases of issue 14: each learner mistake written out, and the verdict it must get.

Time limits, NaN/inf, float32, `+=` blamed only for overlaps, backward advice for backward
passes, the stride-ignoring max pool, batch norm from an empty bn_param and in test mode,
a conv_layer_cost setting that does not fit, sys.exit(), a forgotten raise line, hints that
add to the verdict, the verdict's HTML and its Chinese version.
"""
from __future__ import annotations

import configparser
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cs231n_utils import i18n
from cs231n_utils.exercises import check, harness, reference
from cs231n_utils.exercises import batchnorm, conv, dense, pool

from test_exercises_wrong import (GOOD, WRONG, _bn_back_variant, _conv_back_variant, conv_backward, conv_forward,
                                  max_pool_forward, spatial_batchnorm_forward)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def english():
    i18n.set_language("en")
    yield
    i18n.set_language("en")


# ---------------------------------------------------------------- time limit

def conv_forward_never_returns(x, w, b, conv_param):
    i = 0
    while i < 10:
        pass  # BUG: i never changes
    return conv_forward(x, w, b, conv_param)


def conv_forward_swallows_everything(x, w, b, conv_param):
    while True:
        try:
            time.sleep(0.01)
        except:  # noqa: E722  # BUG: a bare except swallows even the time limit's exception
            pass


def conv_forward_slow_only_with_padding(x, w, b, conv_param):
    while conv_param["pad"]:
        pass
    return conv_forward(x, w, b, conv_param)


@pytest.mark.parametrize("fn", [conv_forward_never_returns, conv_forward_swallows_everything])
def test_a_function_that_never_returns_gets_a_timeout_verdict(fn):
    start = time.perf_counter()
    result = check("conv_forward", fn, time_limit=0.5)
    assert time.perf_counter() - start < 5, "check() must give up on time"
    assert not result and result.status == "timeout"
    assert "did not finish within 0.5 s in case '1 image, 1 channel, 4x4 input, 3x3 filter'" in str(result)
    assert "loop" in str(result)


def test_the_timeout_verdict_names_the_case_that_took_too_long():
    result = check("conv_forward", conv_forward_slow_only_with_padding, time_limit=0.3)
    assert result.status == "timeout" and "in case 'padding 1' (the 5 simpler cases pass)" in str(result)
    assert result.case == "padding 1" and "conv_param={'stride': 1, 'pad': 1}" in result.hint()


def test_time_limit_outside_the_main_thread_abandons_the_call():
    box = {}
    worker = threading.Thread(target=lambda: box.update(r=check("conv_forward", conv_forward_never_returns,
                                                                  time_limit=0.3)))
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and box["r"].status == "timeout"


def test_an_outer_alarm_is_given_back_what_is_left_of_it():
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert check("conv_forward", conv_forward)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left <= 30.0 and signal.getsignal(signal.SIGALRM) is not None and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_time_limit_is_configurable_and_restored(monkeypatch):
    import signal

    assert harness.get_time_limit() == harness.DEFAULT_TIME_LIMIT
    monkeypatch.setenv("CS231N_CHECK_TIME_LIMIT", "0.25")
    assert harness.get_time_limit() == 0.25
    assert "within 0.25 s" in str(check("conv_forward", conv_forward_never_returns))
    monkeypatch.setattr(harness, "_session_limit", None)
    harness.set_time_limit(0.2)
    assert "within 0.2 s" in str(check("conv_forward", conv_forward_never_returns))
    with pytest.raises(ValueError, match="seconds > 0"):
        harness.set_time_limit(0)
    with pytest.raises(ValueError, match="time_limit"):
        check("conv_forward", conv_forward, time_limit=-1)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), "the alarm must be off after a check"
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None) or \
        signal.getsignal(signal.SIGALRM).__name__ != "on_alarm"


# ---------------------------------------------------------------- NaN, inf, float32

def conv_forward_nan_with_padding(x, w, b, conv_param):
    out, cache = conv_forward(x, w, b, conv_param)
    if conv_param["pad"]:
        out[1, 0, 2, 3] = np.nan
        out[1, 1, 0, 0] = np.nan
    return out, cache


def affine_forward_inf(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    out[0, 1] = np.inf
    return out, (x, w, b)


def conv_forward_float32_inside(x, w, b, conv_param):
    out, _ = conv_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), conv_param)
    return out.astype(np.float64), (x, w, b, conv_param)  # returns float64, but rounded to float32 on the way


def conv_backward_float32(dout, cache):
    x, w, b, conv_param = cache
    dx, dw, db = conv_backward(dout.astype(np.float32), (x.astype(np.float32), w.astype(np.float32), b, conv_param))
    return dx.astype(float), dw.astype(float), db.astype(float)


def test_nan_is_named_with_its_first_index():
    text = str(check("conv_forward", conv_forward_nan_with_padding))
    assert "out contains NaN at index (1, 0, 2, 3) in case 'padding 1'" in text
    assert "2 non-finite entries" in text and "values wrong" not in text


def test_inf_is_named_as_inf():
    text = str(check("affine_forward", affine_forward_inf))
    assert "out contains inf at index (0, 1)" in text


@pytest.mark.parametrize("name, fn, forward", [
    ("conv_forward", conv_forward_float32_inside, None),
    ("conv_backward", conv_backward_float32, conv_forward),
])
def test_float32_precision_is_named_not_blamed_on_a_formula(name, fn, forward):
    text = str(check(name, fn, forward=forward))
    assert "computed in float32: use float64 for the check" in text, text
    assert "only with" not in text and "only when" not in text


def test_float32_dtype_is_named_too():
    fn = next(f for n, f, *_ in WRONG if n == "conv_forward" and f.__name__.endswith("float32"))
    assert "computed in float32" in str(check("conv_forward", fn))


# ---------------------------------------------------------------- += only for overlaps; backward advice

def conv_backward_crop_shifted(dout, cache):
    dx, dw, db = conv_backward(dout, cache)
    pad = cache[3]["pad"]
    return (np.roll(dx, 1, axis=2) if pad else dx), dw, db  # BUG: the crop is off by one row


def test_a_padding_error_is_not_blamed_on_accumulation():
    text = str(check("conv_backward", conv_backward_crop_shifted, forward=conv_forward))
    assert "+=" not in text and "overlap" not in text
    assert "dx values wrong only with padding" in text and "crop" in text


def test_accumulation_is_still_blamed_when_exactly_the_overlaps_are_wrong():
    text = str(check("conv_backward", _conv_back_variant("assign"), forward=conv_forward))
    assert "dx wrong only where windows overlap" in text and "+=" in text


def test_overlap_only_needs_exactly_the_overlapped_entries_wrong():
    count = np.array([1, 2, 2, 1, 3])
    expected = np.arange(5.0)
    assert harness.overlap_only(expected + np.array([0, 1, 1, 0, 1]), expected, count)
    assert not harness.overlap_only(expected + np.array([0, 1, 0, 0, 1]), expected, count), "one overlap right"
    assert not harness.overlap_only(expected + np.array([1, 1, 1, 0, 1]), expected, count), "a single-window entry wrong"
    assert not harness.overlap_only(expected + 1, expected, np.full(5, 2)), "no single-window entry to compare with"


def _forward_hints():
    return {c.hint for c in conv.conv_cases() + pool.pool_cases() + batchnorm.bn_cases() + dense.affine_cases()
            if c.hint}


BACKWARD_WRONG = [w for w in WRONG if w[0].endswith("_backward") and w[2] is not None]


@pytest.mark.parametrize("name, fn, forward, words", BACKWARD_WRONG,
                         ids=[f"{w[0]}-{w[1].__name__}" for w in BACKWARD_WRONG])
def test_backward_verdicts_give_backward_advice(name, fn, forward, words):
    result = check(name, fn, forward=forward)
    if "your " in str(result) and "does not pass yet" in str(result):
        return  # the forward is at fault, and the verdict says so
    for hint in _forward_hints():
        assert hint not in str(result), f"forward advice {hint!r} in a backward verdict: {result}"


def test_every_backward_case_has_backward_advice():
    for case in conv.conv_cases() + pool.pool_cases():
        assert case.back and case.back != case.hint, case.label


# ---------------------------------------------------------------- max pool, batch norm, cost

def test_max_pool_first_case_tells_stride_ignoring_forwards_apart():
    first = pool.pool_cases()[0]
    pp = first.pool_param
    assert pp["stride"] not in (1, pp["pool_height"]) and first.index == 0
    for bug in ("step_by_window", "step_by_one"):
        fn = next(f for n, f, *_ in WRONG if n == "max_pool_forward" and f.__name__.endswith(bug))
        result = check("max_pool_forward", fn)
        assert result.case == first.label, str(result)


def test_batch_norm_starts_from_an_empty_bn_param_and_checks_test_mode_backward():
    cases = batchnorm.bn_cases()
    assert cases[0].bn_param == {}
    back = batchnorm._backward_cases()
    assert back[-1].bn_param["mode"] == "test"
    result = check("spatial_batchnorm_backward", _bn_back_variant("test_as_train"), forward=spatial_batchnorm_forward)
    assert result.case == back[-1].label and "train-mode formula" in str(result)
    assert "dout * gamma / sqrt(running_var + eps)" in str(result)


def test_batch_norm_reference_cache_in_test_mode_works_with_reference_backward():
    assert check("spatial_batchnorm_backward", reference("spatial_batchnorm_backward"))


def test_conv_layer_cost_must_refuse_a_setting_that_does_not_fit():
    fn = next(f for n, f, *_ in WRONG if n == "conv_layer_cost" and f.__name__.endswith("floor_silently"))
    text = str(check("conv_layer_cost", fn))
    assert "does not fit" in text and "raise ValueError" in text and "(32 + 2*0 - 3)/2 + 1 = 15.5" in text


# ---------------------------------------------------------------- sys.exit, a forgotten raise line

def conv_forward_exits(x, w, b, conv_param):
    if x.shape[0] > 1:
        sys.exit("bad batch")  # BUG
    return conv_forward(x, w, b, conv_param)


def relu_backward_exit_builtin(dout, cache):
    raise SystemExit(0)


def test_sys_exit_does_not_escape_check():
    result = check("conv_forward", conv_forward_exits)  # must return, not stop pytest
    assert result.status == "error" and "called sys.exit()" in str(result)
    assert "in case 'batch of 2'" in str(result)
    assert "called sys.exit()" in str(check("relu_backward", relu_backward_exit_builtin))


def relu_backward_forgot_the_raise(dout, cache):
    x = cache
    dx = dout * (x > 0)
    raise NotImplementedError("write your code here, then delete this line")
    return dx


def relu_backward_untouched(dout, cache):
    x = cache
    # YOUR CODE HERE
    raise NotImplementedError("write your code here, then delete this line")
    return dx  # noqa: F821


def relu_backward_not_a_stub(dout, cache):
    import io
    io.RawIOBase().readinto(bytearray(1))  # BUG: raises NotImplementedError from the library


def test_a_forgotten_raise_line_is_named():
    result = check("relu_backward", relu_backward_forgot_the_raise)
    assert result.status == "fail"
    line = relu_backward_forgot_the_raise.__code__.co_firstlineno + 3
    assert f"still raises NotImplementedError at line {line}" in str(result)
    assert "remove the raise line" in str(result)


def test_an_untouched_stub_is_not_implemented_yet_and_a_library_error_is_a_crash():
    assert check("relu_backward", relu_backward_untouched).status == "todo"
    result = check("relu_backward", relu_backward_not_a_stub)
    assert result.status == "error" and "raised NotImplementedError" in str(result)


def test_a_stub_written_in_a_notebook_cell_is_read_from_its_source():
    import linecache

    source = ("import numpy as np\n\ndef relu_backward(dout, cache):\n    x = cache\n    dx = dout * (x > 0)\n"
              "    raise NotImplementedError('write your code here, then delete this line')\n    return dx\n")
    name = "<ipython-input-test-cell>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace = {}
    exec(compile(source, name, "exec"), namespace)
    assert "at line 6" in str(check("relu_backward", namespace["relu_backward"]))


# ---------------------------------------------------------------- hints, HTML, sanitizer

def test_hint_adds_formula_input_and_next_step_without_repeating_the_verdict():
    fn = next(f for n, f, *_ in WRONG if n == "conv_forward" and f.__name__.endswith("no_stride"))
    result = check("conv_forward", fn)
    hint = result.hint()
    assert "formula: out[n, f, i, j]" in hint
    assert "the failing case 'stride 2' gets x (2, 3, 7, 7), w (2, 3, 3, 3)" in hint and "next:" in hint
    for part in hint.split("; "):
        assert part not in str(result), f"the hint repeats the verdict: {part!r}"


def test_todo_hint_says_what_to_do():
    result = check("relu_backward", relu_backward_untouched)
    assert "replace the `raise NotImplementedError` line" in result.hint()


def test_html_verdict_is_one_element_with_a_fixed_class_and_no_mid_word_wrapping():
    ok = check("relu_backward", reference("relu_backward"))
    bad = check("relu_backward", lambda dout, x: dout * (x >= 0), hint=True)
    for result, status, mark in ((ok, "pass", "\u2714"), (bad, "fail", "\u2718")):
        html = result._repr_html_()
        assert html.startswith(f'<div class="cs231n-verdict cs231n-verdict-{status}"') and html.endswith("</div>")
        assert html.count("<div") == 1 and "\n" not in html
        assert "word-break:normal" in html and "overflow-wrap:normal" in html
        assert mark in html and repr(result).startswith(mark)
    assert "hint:" in bad._repr_html_() and str(bad).startswith("relu_backward: ")


def _sanitize(text: str) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tools" / "nbval_sanitize.cfg", encoding="utf-8")
    for section in parser.sections():
        text = re.sub(parser[section]["regex"], parser[section]["replace"], text)
    return text


def test_sanitizer_masks_the_html_verdict_so_nbval_compares_the_plain_text():
    ok = check("relu_backward", reference("relu_backward"))._repr_html_()
    bad = check("relu_backward", lambda dout, x: dout * (x >= 0))._repr_html_()
    assert _sanitize(ok) == _sanitize(bad) and "cs231n-verdict" not in _sanitize(ok)
    assert _sanitize("before " + ok + " after") == "before " + _sanitize(ok) + " after"


# ---------------------------------------------------------------- Chinese

def test_verdicts_and_hints_in_chinese():
    i18n.set_language("zh")
    assert str(check("conv_forward", conv_forward)) == "conv_forward: 全部 10 个用例都通过了"
    fn = next(f for n, f, *_ in WRONG if n == "conv_forward" and f.__name__.endswith("no_stride"))
    result = check("conv_forward", fn)
    assert "只在步长 > 1时不对" in str(result) and "用例 '步长 2'" in str(result)
    assert "公式：" in result.hint() and "下一步" in result.hint()
    assert "尚未实现" in str(check("relu_backward", relu_backward_untouched))
    assert "秒内没有结束" in str(check("conv_forward", conv_forward_never_returns, time_limit=0.2))
    i18n.set_language("en")
    assert "values wrong only when stride > 1" in str(check("conv_forward", fn))


@pytest.mark.parametrize("name, fn, forward, words", WRONG, ids=[f"{w[0]}-{w[1].__name__}" for w in WRONG])
def test_every_wrong_verdict_has_a_chinese_version(name, fn, forward, words):
    english = check(name, fn, forward=forward)
    i18n.set_language("zh")
    result = check(name, fn, forward=forward)
    text, hint = str(result), result.hint()
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert re.search(r"[\u4e00-\u9fff]", hint), hint
    assert "\n" not in text and text != str(english)
    assert result.status == english.status


def test_good_solutions_pass_in_chinese_too():
    i18n.set_language("zh")
    for name, (fn, forward) in GOOD.items():
        assert check(name, fn, forward=forward), name
    assert check("max_pool_backward", GOOD["max_pool_backward"][0], forward=max_pool_forward)


def test_check_as_a_cells_last_expression_displays_in_a_kernel(tmp_path):
    """What the notebooks store: a text/plain line (compared by nbval) and the HTML line (masked)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from cs231n_utils.exercises import check, reference\n"
        "check('relu_backward', reference('relu_backward'))"),
        nbformat.v4.new_code_cell("result = check('relu_backward', lambda dout, x: dout * (x >= 0))\n"
                                  "print(result)\nresult")]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    (shown,) = nb.cells[0].outputs
    assert shown.output_type == "execute_result"
    assert shown.data["text/plain"] == "\u2714 relu_backward: all 3 cases pass"
    assert shown.data["text/html"].startswith('<div class="cs231n-verdict cs231n-verdict-pass"')
    printed, failed = nb.cells[1].outputs
    assert printed.text.startswith("relu_backward: dx values wrong only where x == 0 exactly")
    assert failed.data["text/plain"].startswith("\u2718 relu_backward: ")
    assert _sanitize(failed.data["text/html"]) == _sanitize(shown.data["text/html"]) == "CS231N-VERDICT-HTML"
