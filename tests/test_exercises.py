"""The exercise checkers: references pass, learner-style solutions pass, typical bugs are named."""
from __future__ import annotations

import numpy as np
import pytest

from cs231n_utils.exercises import conv, dense, pool
from cs231n_utils.exercises import EXERCISES, CheckResult, check, reference

from test_exercises_wrong import GOOD, WRONG

REQUIRED = {"conv_output_size", "conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward",
            "affine_forward", "affine_backward", "relu_backward", "spatial_batchnorm_forward",
            "spatial_batchnorm_backward", "softmax_loss", "conv_layer_cost"}


def _todo(*args, **kwargs):
    raise NotImplementedError("write your code here, then delete this line")


def test_exercise_list():
    assert set(EXERCISES) == REQUIRED
    assert len(EXERCISES) == len(set(EXERCISES))


@pytest.mark.parametrize("name", EXERCISES)
def test_reference_passes(name):
    result = check(name, reference(name))
    assert result, str(result)
    assert isinstance(result, CheckResult) and result.status == "pass"
    assert str(result) == f"{name}: all {result.cases} cases pass"
    assert result.cases >= 3


@pytest.mark.parametrize("name", EXERCISES)
def test_learner_style_solution_with_own_cache_passes(name):
    fn, forward = GOOD[name]
    result = check(name, fn, forward=forward)
    assert result, str(result)


@pytest.mark.parametrize("name", EXERCISES)
def test_every_exercise_has_at_least_three_named_bugs(name):
    assert sum(1 for n, *_ in WRONG if n == name) >= 3


@pytest.mark.parametrize("name, fn, forward, words", WRONG, ids=[f"{w[0]}-{w[1].__name__}" for w in WRONG])
def test_wrong_implementation_is_named(name, fn, forward, words):
    result = check(name, fn, forward=forward)
    text = str(result)
    assert not result, f"{fn.__name__} passed: {text}"
    assert result.status in ("fail", "error")
    for word in words:
        assert word in text.lower(), f"{word!r} not in verdict {text!r}"
    assert "\n" not in text and "Traceback" not in text, text
    assert text.startswith(f"{name}: ")
    assert result.hint() and "\n" not in result.hint()


@pytest.mark.parametrize("name", EXERCISES)
def test_not_implemented_yet(name):
    result = check(name, _todo)
    assert not result and result.status == "todo"
    assert str(result) == f"{name}: not implemented yet — fill in the cell marked YOUR CODE HERE"
    assert "YOUR CODE HERE" in result._repr_html_()


@pytest.mark.parametrize("name", ["conv_backward", "max_pool_backward", "affine_backward",
                                  "spatial_batchnorm_backward"])
def test_backward_falls_back_to_reference_forward_while_forward_is_a_stub(name):
    assert check(name, reference(name), forward=_todo)
    assert check(name, reference(name))  # no forward given: the reference's cache


def test_backward_with_unwritten_forward_says_whose_cache_was_used():
    fn, _ = GOOD["conv_backward"]

    def bad_backward(dout, cache):
        dx, dw, db = fn(dout, cache)
        return dx, dw, db * 2

    text = str(check("conv_backward", bad_backward, forward=_todo))
    assert "db" in text and "the cache came from the reference: (x, w, b, conv_param)" in text


@pytest.mark.parametrize("returned", [None, "out", 3.0, (1,), (np.zeros(3), None, None)])
def test_odd_return_values_give_a_verdict_not_an_exception(returned):
    result = check("conv_forward", lambda x, w, b, conv_param: returned)
    assert not result
    assert "conv_forward: " in str(result) and "\n" not in str(result)


def test_crash_names_exception_case_and_line():
    def conv_forward(x, w, b, conv_param):
        N = x.shape[0]
        return x[N + 5], None

    text = str(check("conv_forward", conv_forward))
    assert "raised IndexError" in text
    assert "in case '1 image, 1 channel, 4x4 input, 3x3 filter'" in text
    assert "at line" in text and "x[N + 5]" in text


def test_crash_message_is_one_short_line():
    def fn(*args):
        raise RuntimeError("boom " * 200 + "\nsecond line")

    text = str(check("affine_forward", fn))
    assert "\n" not in text and len(text) < 400 and "RuntimeError" in text


def test_hint_on_request():
    fn = next(f for n, f, *_ in WRONG if n == "max_pool_backward" and f.__name__.endswith("_assign"))
    forward = GOOD["max_pool_forward"][0]
    plain = check("max_pool_backward", fn, forward=forward)
    with_hint = check("max_pool_backward", fn, forward=forward, hint=True)
    assert "hint:" not in str(plain)
    assert str(with_hint).startswith(str(plain)) and "| hint: " in str(with_hint)
    assert "+=" in plain.hint()
    assert "nothing to fix" in check("relu_backward", reference("relu_backward")).hint()


def test_html_repr_is_one_coloured_escaped_line():
    ok = check("relu_backward", reference("relu_backward"))._repr_html_()
    bad = check("relu_backward", lambda dout, x: dout * (x >= 0))._repr_html_()
    assert "#1a7f37" in ok and "#cf222e" in bad
    assert "x &gt; 0" in bad and "\n" not in bad


def test_unknown_name_and_uncalled_function():
    with pytest.raises(ValueError, match="conv_forward"):
        check("conv_fwd", lambda: None)
    result = check("relu_backward", np.zeros(3))
    assert not result and "without calling it" in str(result)


def test_checker_does_not_depend_on_call_order():
    bug = next(f for n, f, *_ in WRONG if n == "conv_backward" and f.__name__.endswith("_assign"))
    first = str(check("conv_backward", bug, forward=GOOD["conv_forward"][0]))
    check("conv_forward", reference("conv_forward"))
    assert str(check("conv_backward", bug, forward=GOOD["conv_forward"][0])) == first


# ---------------------------------------------------------------- the traps are really in the cases

def test_pool_cases_contain_shared_maxima_and_negative_windows():
    cases = pool.pool_cases()
    shared = [c.label for c in cases if (pool.route_count(c.x, c.pool_param) > 1).any()]
    assert any("3x3 windows, stride 2" in s for s in shared)
    assert any("2x2 windows, stride 1" in s for s in shared)
    out = reference("max_pool_forward")(cases[0].x, cases[0].pool_param)[0]
    assert (out < 0).any(), "some window must be all negative, to catch a max that starts at 0"
    for c in cases:  # no ties: the switch is unambiguous
        assert len(np.unique(c.x)) == c.x.size


def test_conv_cases_cover_the_traps():
    cases = conv.conv_cases()
    params = [(c.conv_param["stride"], c.conv_param["pad"]) for c in cases]
    assert any(s > 1 for s, _ in params) and any(p > 0 for _, p in params)
    assert any(s > 1 and p > 0 for s, p in params)
    assert any(c.x.shape[2] != c.x.shape[3] for c in cases)
    assert any(c.w.shape[2] != c.w.shape[3] for c in cases)
    assert any(c.x.shape[0] > 1 and c.x.shape[1] > 1 and c.w.shape[0] > 1 for c in cases)


def test_relu_cases_contain_exact_zeros_and_affine_4d():
    assert any((c.x == 0).any() for c in dense.relu_cases())
    assert any(c.x.ndim == 4 for c in dense.affine_cases())


def test_writing_into_an_input_is_named():
    good = GOOD["conv_forward"][0]

    def conv_forward(x, w, b, conv_param):
        out, cache = good(x, w, b, conv_param)
        x[...] = 0  # correct output, but the caller's x is destroyed
        return out, cache

    text = str(check("conv_forward", conv_forward))
    assert "changes its input x in place" in text


def test_crash_with_reference_cache_says_which_cache_it_got():
    own_format_backward = GOOD["max_pool_backward"][0]  # expects (x, pool_param)
    text = str(check("max_pool_backward", own_format_backward, forward=_todo))
    assert "raised" in text and "the cache came from the reference" in text
    assert check("max_pool_backward", own_format_backward, forward=GOOD["max_pool_forward"][0])


# The notebooks store "<name>: all N cases pass" as nbval outputs: changing how many cases an
# exercise has means re-executing the notebooks that check it (python3 workbook.py notebooks).
STORED_CASE_COUNTS = {"conv_output_size": 13, "conv_forward": 10, "conv_backward": 10, "max_pool_forward": 7,
                      "max_pool_backward": 7, "affine_forward": 5, "affine_backward": 5, "relu_backward": 3,
                      "spatial_batchnorm_forward": 5, "spatial_batchnorm_backward": 4, "softmax_loss": 4,
                      "conv_layer_cost": 9}


@pytest.mark.parametrize("name", EXERCISES)
def test_case_counts_match_what_notebooks_store(name):
    assert check(name, reference(name)).cases == STORED_CASE_COUNTS[name], \
        "case count changed: re-execute the notebooks whose check cells print it"


# ---------------------------------------------------------------- the package's shape

def test_registry_rows_name_their_references_directly():
    from cs231n_utils import architectures, layers, shapes
    from cs231n_utils.exercises import REGISTRY

    assert REGISTRY["conv_forward"].reference is layers.conv_forward_naive
    assert REGISTRY["conv_layer_cost"].reference is architectures.conv_layer_cost
    assert REGISTRY["conv_output_size"].reference is shapes.conv_output_size
    for row in REGISTRY.values():
        assert row.reference is reference(row.name)
        if row.forward:  # a backward row names a forward exercise and the reference cache format
            assert row.forward in REGISTRY and row.cache
    with pytest.raises(ValueError, match="known: "):
        reference("relu_forward_typo")


def test_exercise_modules_stay_small():
    from pathlib import Path

    import cs231n_utils.exercises as package

    for path in Path(package.__file__).parent.glob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines < 800, f"{path.name} has {lines} lines: split it by topic"
