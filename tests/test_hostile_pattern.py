"""Hostile patterns and models (issue 13): runaway repeats, deep nesting, huge numbers, models
too big for memory. Every case runs in a child process with an address-space limit and an
alarm (tests/hostile_helpers.py) and must end in a clear error of the expected type naming the
limit or the layer, never a MemoryError, a RecursionError, a hang or a crash."""
import pytest

from hostile_helpers import assert_ok, assert_refused, run_table

SETUP = """
import numpy as np
from cs231n_utils import checks, layers as L
from cs231n_utils.layer_objects import Affine, Conv, ReLU
from cs231n_utils.models import Sequential
from cs231n_utils.pattern import build_from_pattern

def build(text, shape=(1, 8, 8), **kw):
    return build_from_pattern(text, shape, **kw)

def conv(conv_param, fast=True):
    x, w, b = np.zeros((1, 1, 8, 8)), np.zeros((2, 1, 3, 3)), np.zeros(2)
    return (L.conv_forward_fast if fast else L.conv_forward_naive)(x, w, b, conv_param)
"""

NESTED_1000 = "'[' * 1000 + 'RELU' + ']' * 1000"

# name -> (code, expected error class, fragments the message must hold)
REFUSED = {
    "huge repeat": ("build('INPUT -> [CONV3-16]*100000000 -> FC-10')", "LimitError",
                    ["MAX_LAYERS", "repeat count", "100,000,000", "checks.MAX_LAYERS ="]),
    "nested repeats of 999": ("build('INPUT -> [[[[CONV3-16]*999]*999]*999]*999 -> FC-10')", "LimitError",
                              ["MAX_LAYERS", "after expanding the repeats", "^"]),
    "nested repeats of 4, 10 deep": ("build('[' * 10 + 'RELU' + ']*4' * 10 + ' -> FC-10')", "LimitError",
                                     ["MAX_LAYERS", "after expanding"]),
    "empty group repeated 10**12 times": ("build('INPUT -> [[RELU]*0]*999999999999 -> FC-10')", "LimitError",
                                          ["MAX_LAYERS", "repeat count"]),
    "1000 nested brackets": (f"build({NESTED_1000})", "LimitError", ["MAX_NESTING_DEPTH", "nesting depth"]),
    "100000 nested brackets": ("build('[' * 100000 + 'RELU' + ']' * 100000)", "LimitError",
                               ["MAX_PATTERN_CHARS"]),
    "60000 RELU by repeat": ("build('INPUT -> [RELU]*60000 -> FC-10')", "LimitError", ["MAX_LAYERS", "60,000"]),
    "1001 layers written out": ("build('INPUT -> ' + 'RELU -> ' * 1001 + 'FC-10')", "LimitError",
                                ["MAX_LAYERS", "1,002"]),
    "30-digit repeat count": ("build('INPUT -> RELU*' + '9' * 30 + ' -> FC-10')", "LimitError",
                              ["MAX_LAYERS", "10^18"]),
    "5000-digit filter count": ("build('INPUT -> CONV3-' + '9' * 5000 + ' -> FC-10')", "ValueError",
                                ["more than 18 digits", "^"]),
    "pattern of 20000 characters": ("build('INPUT -> ' + 'RELU->' * 3000 + 'FC-10')", "LimitError",
                                    ["MAX_PATTERN_CHARS", "characters"]),
    "stride 999999999": ("build('INPUT -> CONV3-8-S999999999 -> FC-10')", "LimitError",
                         ["conv1", "stride 999,999,999", "padded input", "CONV3-8-S999999999"]),
    "pad 10**14 blamed on conv1": ("build('INPUT -> CONV3-8-P99999999999999 -> FC-10')", "LimitError",
                                   ["layer 1 'conv1'", "pad 99,999,999,999,999", "windows of zeros"]),
    "filter count 10**8": ("build('INPUT -> CONV3-99999999 -> FC-10')", "LimitError",
                           ["conv1", "MAX_PARAMETER_BYTES", "GiB"]),
    "FC of 10**9 outputs": ("build('INPUT -> CONV3-8 -> FC-999999999')", "LimitError",
                            ["layer 2 'fc1'", "MAX_PARAMETER_BYTES"]),
    "filter size 10**9": ("build('INPUT -> CONV999999999-8 -> FC-10')", "LimitError",
                          ["conv1", "MAX_PARAMETER_BYTES"]),
    "dilation 10**9 (its 'same' pad is padded in memory)": (
        "build('INPUT -> CONV3-8-D999999999 -> FC-10')", "LimitError", ["conv1", "MAX_ACTIVATION_BYTES"]),
    "dilation 10**9 without padding": ("build('INPUT -> CONV3-8-D999999999-P0 -> FC-10')", "ValueError",
                                       ["conv1", "does not fit"]),
    "groups 10**9": ("build('INPUT -> CONV3-8-G999999999 -> FC-10')", "ValueError", ["groups"]),
    "pool window 10**9": ("build('INPUT -> POOL999999999 -> FC-10')", "ValueError", ["pool1", "does not fit"]),
    "pool stride 10**9": ("build('INPUT -> POOL2-S999999999 -> FC-10')", "ValueError", ["pool1", "stride"]),
    "activations of a 4096x4096 input": ("build('INPUT -> CONV3-64 -> FC-10', (3, 4096, 4096))", "LimitError",
                                         ["conv1", "MAX_ACTIVATION_BYTES"]),
    "an input of 10**10 pixels": ("build('INPUT -> FC-10', (1, 100000, 100000))", "LimitError",
                                  ["MAX_ACTIVATION_BYTES", "one input example"]),
    "every group *0": ("build('INPUT -> [RELU]*0 -> [FC-10]*0')", "ValueError", ["no layers"]),
    "a NUL character": ("build('INPUT -> CONV3-8\\x00 -> FC-10')", "ValueError", ["unexpected character"]),
    "an emoji": ("build('INPUT -> CONV3-8 -> \\U0001F600 -> FC-10')", "ValueError", ["unexpected character"]),
    "bytes instead of text": ("build(b'INPUT -> FC-10')", "TypeError", ["must be a string"]),
    "input shape with a float": ("build('INPUT -> FC-10', (1, 8.5, 8))", "TypeError", ["input_shape", "integer"]),
    "input shape negative": ("build('INPUT -> FC-10', (1, -8, 8))", "ValueError", ["input_shape", ">= 1"]),
    "input shape as text": ("build('INPUT -> FC-10', 'abc')", "ValueError", ["input_shape"]),
    "reg NaN": ("build('INPUT -> FC-10', reg=float('nan'))", "ValueError", ["reg must be a finite number"]),
    "reg as text": ("build('INPUT -> FC-10', reg='0.1')", "ValueError", ["reg must be a finite number"]),
    "Sequential of 60000 ReLUs": ("Sequential([ReLU() for _ in range(60000)] + [Affine(10)], (1, 8, 8))",
                                  "LimitError", ["MAX_LAYERS", "60,001"]),
    "the same layer object twice": ("r = ReLU(); Sequential([r, r, Affine(10)], (1, 8, 8))", "ValueError",
                                    ["same layer object"]),
    # the fast conv refuses absurd settings itself (fast_layers.EXTENT_LIMIT), the naive one
    # through checks.conv_setup
    "conv call with stride 10**12": ("conv({'stride': 10 ** 12, 'pad': 1})", "ValueError",
                                     ["conv_forward_fast", "stride", "use a smaller stride"]),
    "naive conv call with stride 10**12": ("conv({'stride': 10 ** 12}, fast=False)", "LimitError",
                                           ["conv_forward_naive", "stride"]),
    "conv call with pad 10**12": ("conv({'pad': 10 ** 12})", "ValueError", ["conv_forward_fast", "pad"]),
    "naive conv call with pad 10**12": ("conv({'pad': 10 ** 12}, fast=False)", "LimitError",
                                        ["conv_forward_naive", "pad 1,000,000,000,000"]),
    "long line: caret message stays short": (
        "build('INPUT -> ' + 'RELU -> ' * 900 + 'CONV3', (1, 8, 8))", "ValueError", ["...", "CONV3"]),
}

ACCEPTED = {
    # raising a limit is one assignment; 60000 layers then build (the name check is linear)
    "60000 RELU after raising MAX_LAYERS": (
        "checks.MAX_LAYERS = 70000; checks.MAX_PATTERN_CHARS = 10 ** 6\n"
        "m = build('INPUT -> [RELU]*60000 -> FC-10'); result = len(m)\n"
        "checks.MAX_LAYERS = 1000; checks.MAX_PATTERN_CHARS = 10000"),
    "1000 layers exactly": ("result = len(build('INPUT -> [RELU]*999 -> FC-10'))"),
    "32 nested brackets": ("result = len(build('[' * 32 + 'RELU' + ']' * 32 + ' -> FC-10'))"),
    "empty group repeated within the limit": ("result = len(build('INPUT -> [[RELU]*0]*1000 -> FC-10'))"),
    "stride 2 on a 1x1 map (floor rounding)": (
        "result = conv({'stride': 3, 'pad': 0, 'rounding': 'floor'})[0].shape"),
    "pad 2 around a 1x1 filter": ("result = L.conv_forward_fast(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), "
                                  "np.zeros(1), {'pad': 2})[0].shape"),
}


@pytest.fixture(scope="module")
def results():
    return run_table(SETUP, REFUSED, ACCEPTED)


@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_pattern_is_refused_clearly(results, name):
    _, error, fragments = REFUSED[name]
    assert_refused(results[name], error, *fragments)


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_large_but_allowed_patterns_build(results, name):
    assert_ok(results[name])


def test_long_line_message_is_cut_around_the_token(results):
    assert len(results["long line: caret message stays short"]["message"]) < 1500


def test_child_process_exited_normally(results):
    assert {r["returncode"] for r in results.values()} == {0}
