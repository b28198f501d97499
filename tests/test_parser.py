"""The pattern-text parser: valid texts build the right layers, malformed texts name the token."""
import numpy as np
import pytest

from cs231n_utils.layer_objects import (LRN, Affine, AvgPool, BatchNorm, Conv, Dropout, Flatten,
                                        GlobalAvgPool, MaxPool, ReLU)
from cs231n_utils.pattern import KEYWORDS, build_from_pattern, parse_pattern

LECTURE = "INPUT -> [[CONV3-16 -> RELU]*2 -> POOL2]*2 -> [FC-64 -> RELU]*1 -> FC-10"


def kinds(text):
    layers, _ = parse_pattern(text)
    return [l.describe() for l in layers]


def test_lecture_pattern_expands_nested_repeats():
    assert kinds(LECTURE) == ["CONV3-16", "RELU", "CONV3-16", "RELU", "POOL2",
                              "CONV3-16", "RELU", "CONV3-16", "RELU", "POOL2",
                              "FC-64", "RELU", "FC-10"]


def test_lecture_pattern_shapes_conv_keeps_pool_halves():
    m = build_from_pattern(LECTURE, input_shape=(1, 8, 8), seed=0)
    shapes = [l.out_shape for l in m.layers]
    assert shapes[:5] == [(16, 8, 8)] * 4 + [(16, 4, 4)]
    assert shapes[9] == (16, 2, 2)
    assert shapes[-1] == (10,)
    # conv1: 1*9*16+16, conv2..4: 16*9*16+16, fc1: 64*64+64, fc2: 64*10+10
    assert m.num_params() == 160 + 3 * 2320 + 4160 + 650


def test_repeat_zero_removes_group_and_repeat_one_keeps_it():
    assert kinds("INPUT -> [CONV3-8 -> RELU]*0 -> [FC-5 -> RELU]*1 -> FC-2") == ["FC-5", "RELU", "FC-2"]
    assert kinds("[[CONV3-4]*0 -> RELU]*3 -> FC-2") == ["RELU"] * 3 + ["FC-2"]


def test_repeat_after_single_layer_and_nesting_depth():
    assert kinds("CONV3-4*2 -> FC-2") == ["CONV3-4", "CONV3-4", "FC-2"]
    assert kinds("[[[RELU]*2]*2]*2 -> FC-2") == ["RELU"] * 8 + ["FC-2"]


def test_layer_options_and_all_layer_types():
    layers, loss = parse_pattern("input -> conv7-8-s2-p3 -> bn -> relu -> pool3-s2 -> lrn -> "
                                 "avgpool2 -> conv3-8-d2 -> conv3-8-G2 -> gap -> dropout-0.25 -> "
                                 "flatten -> fc10 -> svm")
    types = [type(l) for l in layers]
    assert types == [Conv, BatchNorm, ReLU, MaxPool, LRN, AvgPool, Conv, Conv, GlobalAvgPool,
                     Dropout, Flatten, Affine]
    c = layers[0]
    assert (c.filter_size, c.num_filters, c.stride, c.pad) == (7, 8, 2, 3)
    assert (layers[3].pool_size, layers[3].stride) == (3, 2)
    assert layers[6].dilation == 2 and layers[6].pad == 2       # same padding D*(k-1)//2
    assert layers[7].groups == 2
    assert layers[9].p == 0.25
    assert loss == "svm"


def test_pool_without_dash_and_unicode_arrow_and_no_spaces():
    assert kinds("CONV3-4→POOL3S2->FC-2") == ["CONV3-4", "POOL3-S2", "FC-2"]


def test_default_loss_is_softmax_and_trailing_softmax_accepted():
    assert parse_pattern("FC-3")[1] == "softmax"
    assert parse_pattern("FC-3 -> SOFTMAX")[1] == "softmax"
    m = build_from_pattern("FC-3 -> SVM", (4,))
    assert m.loss_name == "svm"


def test_same_text_same_seed_same_weights_different_seed_differs():
    a = build_from_pattern(LECTURE, (1, 8, 8), seed=3)
    b = build_from_pattern(LECTURE, (1, 8, 8), seed=3)
    c = build_from_pattern(LECTURE, (1, 8, 8), seed=4)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["conv1.W"], c.params["conv1.W"])


def _error(text, shape=(1, 8, 8)):
    with pytest.raises(ValueError) as info:
        build_from_pattern(text, shape)
    return str(info.value)


def _caret_column(msg):
    """Column of the first ^ relative to the echoed text (both lines are indented by 2)."""
    lines = msg.splitlines()
    caret = next(l for l in lines if l.strip() and set(l.strip()) == {"^"})
    return caret.index("^") - 2, len(caret.strip())


@pytest.mark.parametrize("text, token, words", [
    ("INPUT -> CONV3 -> RELU -> FC-10", "CONV3", "CONV<k>-<filters>"),
    ("INPUT -> CONV -> FC-10", "CONV", "CONV<k>-<filters>"),
    ("INPUT -> CONV3-16 -> POOL -> FC-10", "POOL", "POOL<k>"),
    ("INPUT -> RELUU -> FC-10", "RELUU", "did you mean RELU"),
    ("INPUT -> FC -> FC-10", "FC", "FC-<outputs>"),
    ("INPUT -> CONV3-16 RELU -> FC-10", "RELU", "'->'"),
    ("INPUT -> [CONV3-16 -> RELU]*N -> FC-10", "N", "whole number"),
    ("INPUT -> CONV3-16 -> POOL? -> FC-10", "?", "optional"),
    ("INPUT -> (CONV3-16 -> RELU)*2 -> FC-10", "(", "square brackets"),
    ("FC-10 -> INPUT", "INPUT", "start"),
    ("SOFTMAX -> FC-10", "SOFTMAX", "end"),
    ("CONV3-16-S2-S2 -> FC-10", "CONV3-16-S2-S2", "twice"),
])
def test_malformed_text_names_the_token_with_a_caret(text, token, words):
    msg = _error(text)
    assert repr(token) in msg or f"{token} " in msg or token in msg.splitlines()[0]
    assert words in msg
    col, length = _caret_column(msg)
    assert text[col:col + length] == token


def test_unclosed_and_unmatched_brackets():
    msg = _error("INPUT -> [CONV3-16 -> RELU -> FC-10")
    assert "never closed" in msg and _caret_column(msg) == (9, 1)
    msg = _error("INPUT -> CONV3-16 -> RELU] -> FC-10")
    assert "no matching '['" in msg and _caret_column(msg)[0] == len("INPUT -> CONV3-16 -> RELU")


def test_missing_repeat_count_and_trailing_arrow_and_empty():
    assert "whole number" in _error("[RELU]* -> FC-10")
    assert "end of the text" in _error("FC-10 ->")
    assert "empty group" in _error("[] -> FC-10")
    with pytest.raises(ValueError, match="empty"):
        parse_pattern("   ")
    with pytest.raises(ValueError, match="no layers"):
        parse_pattern("INPUT -> [FC-10]*0")
    with pytest.raises(TypeError):
        parse_pattern(None)


def test_shape_errors_name_layer_token_and_formula():
    msg = _error("INPUT -> [CONV3-8 -> POOL2]*4 -> FC-10")
    assert "pool4" in msg and "(1 - 2)/2 + 1" in msg
    col, length = _caret_column(msg)
    assert length == len("POOL2")
    msg = _error("INPUT -> CONV3-8-S2 -> FC-10", shape=(1, 8, 8))
    assert "height 8: stride 2 does not fit: (8 + 2*1 - 3)/2 + 1 = 4.5" in msg and "conv1" in msg
    assert _caret_column(msg) == (9, len("CONV3-8-S2"))


def test_conv_after_fc_and_missing_classifier_head():
    msg = _error("INPUT -> FC-10 -> CONV3-4 -> FC-2")
    assert "(C, H, W)" in msg and "conv1" in msg
    msg = _error("INPUT -> CONV3-4 -> RELU")
    assert "FC-<classes>" in msg and "relu1" in msg


def test_every_keyword_row_reads_its_own_example():
    """A new layer keyword is one row of KEYWORDS: its example must parse, through that row."""
    import re
    for row in KEYWORDS:
        assert re.fullmatch(row.pattern, row.example), row
        layers, _ = parse_pattern(row.example)
        assert len(layers) == 1 and isinstance(layers[0], type(row.make(re.fullmatch(row.pattern, row.example))))
    assert len({row.example for row in KEYWORDS}) == len(KEYWORDS)


def test_bad_layer_settings_name_the_token_and_the_bound():
    msg = _error("INPUT -> CONV0-16 -> FC-10")
    assert "'CONV0-16'" in msg and "filter_size must be >= 1, got 0" in msg
    assert _caret_column(msg) == (9, len("CONV0-16"))
    assert "num_outputs must be >= 1, got 0" in _error("INPUT -> FC-0")
    assert "pool_size must be >= 1" in _error("INPUT -> POOL0 -> FC-2")
    assert "pooling is written" in _error("INPUT -> AVGPOOL -> FC-2")
    assert "known layers: CONV3-16" in _error("INPUT -> XYZ -> FC-2")


def test_group_norm_is_one_keyword_row():
    from cs231n_utils.gradient_check import rel_error
    from cs231n_utils.groupnorm import GroupNorm
    from cs231n_utils.pattern import build_from_pattern

    model = build_from_pattern("INPUT -> CONV3-8 -> GN4 -> RELU -> FC-3", input_shape=(2, 5, 5), seed=0)
    gn = [layer for layer in model if isinstance(layer, GroupNorm)]
    assert len(gn) == 1 and gn[0].groups == 4
    x = np.random.default_rng(0).standard_normal((4, 2, 5, 5))
    y = np.array([0, 1, 2, 1])
    loss, grads = model.loss(x, y)
    name = next(k for k in grads if k.startswith(gn[0].name))
    param = model.params[name]
    num = np.zeros_like(param)
    for i in np.ndindex(param.shape):
        old = param[i]
        param[i] = old + 1e-6; plus, _ = model.loss(x, y)
        param[i] = old - 1e-6; minus, _ = model.loss(x, y)
        param[i] = old
        num[i] = (plus - minus) / 2e-6
    assert rel_error(num, grads[name]) < 1e-6
