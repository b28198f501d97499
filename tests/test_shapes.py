"""Shape arithmetic: output sizes, the teaching errors, rounding modes and receptive fields."""
import re

from cs231n_utils import shapes

import numpy as np
import pytest

from cs231n_utils.shapes import (ReceptiveField, conv_output_size, effective_filter_size,
                                 pool_output_size, receptive_field, suggest_fixes)


@pytest.mark.parametrize("args,expected", [
    ((32, 3, 1, 1), 32),            # "same" 3x3 conv
    ((32, 5, 1, 2), 32),
    ((227, 11, 4, 0), 55),          # AlexNet conv1
    ((7, 3, 2, 0), 3),
    ((5, 1, 1, 0), 5),              # 1x1 conv
    ((7, 3, 1, 0, 2), 3),           # dilation 2: the 3x3 filter spans 5 pixels
    ((9, 3, 2, 2, 2), 5),
    ((1, 1), 1),
    ((np.int64(8), np.int32(3), 1, 1), 8),
])
def test_conv_output_size_values(args, expected):
    assert conv_output_size(*args) == expected


def test_conv_output_size_error_shows_formula_and_fix():
    with pytest.raises(ValueError) as exc:
        conv_output_size(6, 3, stride=2)
    msg = str(exc.value)
    assert "(6 + 2*0 - 3)/2 + 1 = 2.5 is not an integer" in msg and "try stride=1" in msg
    with pytest.raises(ValueError, match=r"= 32/3 ~ 10.67 is not an integer; try pad=0 or pad=3 or stride=1"):
        conv_output_size(32, 5, stride=3, pad=1)
    with pytest.raises(ValueError, match=r"\(10 \+ 2\*0 - 2\*\(3-1\) - 1\)/2 \+ 1 = 3.5"):
        conv_output_size(10, 3, stride=2, dilation=2)


def test_conv_output_size_filter_too_large():
    with pytest.raises(ValueError, match=r"filter 5 does not fit in input 3 padded by 0 \(= 3\).*use pad>=1"):
        conv_output_size(3, 5)
    with pytest.raises(ValueError, match="with dilation 3 \\(spans 7\\)"):
        conv_output_size(5, 3, dilation=3)


def test_conv_output_size_rounding_modes():
    # ResNet's stem: 7x7 stride 2 pad 3 on 224 pixels does not fit exactly
    with pytest.raises(ValueError):
        conv_output_size(224, 7, 2, 3)
    assert conv_output_size(224, 7, 2, 3, rounding="floor") == 112
    assert conv_output_size(224, 7, 2, 3, rounding="ceil") == 113
    # ceil never starts a window in the right padding (PyTorch's rule)
    assert conv_output_size(5, 2, 2, 1, rounding="ceil") == 3
    assert conv_output_size(6, 3, 2, rounding="floor") == 2
    assert conv_output_size(6, 3, 2, rounding="ceil") == 3
    for r in ("exact", "floor", "ceil"):
        assert conv_output_size(7, 3, 2, rounding=r) == 3    # exact fits agree in every mode
    with pytest.raises(ValueError, match="rounding must be one of"):
        conv_output_size(7, 3, rounding="round")


@pytest.mark.parametrize("kwargs,exc,pattern", [
    ({"size": 0, "filter_size": 1}, ValueError, "size must be >= 1, got 0"),
    ({"size": 5, "filter_size": 0}, ValueError, "filter_size must be >= 1"),
    ({"size": 5, "filter_size": 3, "stride": 0}, ValueError, "stride must be >= 1"),
    ({"size": 5, "filter_size": 3, "pad": -1}, ValueError, "pad must be >= 0"),
    ({"size": 5, "filter_size": 3, "dilation": 0}, ValueError, "dilation must be >= 1"),
    ({"size": 5.0, "filter_size": 3}, TypeError, "size must be an integer, got 5.0"),
    ({"size": 5, "filter_size": 3, "stride": True}, TypeError, "stride must be an integer"),
    ({"size": "5", "filter_size": 3}, TypeError, "size must be an integer"),
])
def test_conv_output_size_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        conv_output_size(**kwargs)


def test_pool_output_size():
    assert pool_output_size(224, 2) == 112            # stride defaults to the window
    assert pool_output_size(55, 3, 2) == 27           # AlexNet's overlapping pool
    assert pool_output_size(5, 3, 1) == 3
    assert pool_output_size(7, 2, 2, rounding="floor") == 3
    assert pool_output_size(7, 2, 2, rounding="ceil") == 4
    assert pool_output_size(5, 3, 2, pad=1) == 3
    with pytest.raises(ValueError, match=r"stride 2 does not fit: \(5 - 2\)/2 \+ 1 = 2.5 is not an "
                                         r"integer; try stride=1"):
        pool_output_size(5, 2, 2)
    with pytest.raises(ValueError, match="pool window 6 does not fit in input 5"):
        pool_output_size(5, 6)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        pool_output_size(5, 2, 0)


def test_effective_filter_size_and_suggestions():
    assert effective_filter_size(3) == 3
    assert effective_filter_size(3, 2) == 5
    assert effective_filter_size(1, 5) == 1
    assert suggest_fixes(6, 3, 2) == ["stride=1"]
    fixes = suggest_fixes(32, 5, 3, pad=1)
    assert fixes == ["pad=0", "pad=3", "stride=1"]
    for fix in fixes[:2]:   # every suggested pad really fits
        assert conv_output_size(32, 5, 3, int(fix.split("=")[1]))


def test_receptive_field_of_stacked_3x3():
    # three 3x3 stride-1 convs see 7x7, like one 7x7 conv (VGG's argument)
    rfs = receptive_field([{"filter_size": 3, "pad": 1}] * 3)
    assert [r.size for r in rfs] == [3, 5, 7]
    assert all(r.jump == 1 for r in rfs)
    assert rfs[-1] == ReceptiveField(7, 1, 0.5)


def test_receptive_field_alexnet_start():
    rfs = receptive_field([(11, 4, 0), (3, 2, 0), {"kernel": 5, "stride": 1, "pad": 2}], size=227)
    assert [(r.size, r.jump) for r in rfs] == [(11, 4), (19, 8), (51, 8)]
    assert rfs[0].start == pytest.approx(5.5)        # centre of the first 11-pixel window
    assert rfs[2].start == rfs[1].start              # "same" padding keeps the first centre


def test_receptive_field_dilation_and_errors():
    rfs = receptive_field([(3, 1, 0, 2), (3, 1, 0, 4)])
    assert [r.size for r in rfs] == [5, 13]
    with pytest.raises(ValueError, match="layer 1: stride 2 does not fit"):
        receptive_field([(3, 1, 1), (3, 2, 0)], size=6)
    with pytest.raises(ValueError, match="layer 0: missing 'filter_size'"):
        receptive_field([{"stride": 1}])
    with pytest.raises(ValueError, match="layer 0 stride must be >= 1"):
        receptive_field([(3, 0, 0)])


def test_conv_size_formula_is_the_one_formula_text():
    from cs231n_utils.shapes import conv_size_formula
    assert conv_size_formula(7, 3, 2) == "(7 + 2*0 - 3)/2 + 1 = 3"
    assert conv_size_formula(6, 3, 2) == "(6 + 2*0 - 3)/2 + 1 = 2.5"
    assert conv_size_formula(7, 3, 3) == "(7 + 2*0 - 3)/3 + 1 = 7/3 ~ 2.33"
    assert conv_size_formula(7, 3, 1, 1, 2) == "(7 + 2*1 - 2*(3-1) - 1)/1 + 1 = 5"
    assert conv_size_formula(6, 2, 2, pool=True) == "(6 - 2)/2 + 1 = 3"
    assert conv_size_formula(1, 2, 2, pool=True) == "(1 - 2)/2 + 1 = 0.5"
    assert conv_size_formula(6, 2, 2, 1, pool=True) == "(6 + 2*1 - 2)/2 + 1 = 4"   # padded pool: full form
    # the errors quote exactly this text
    with pytest.raises(ValueError, match=re.escape(conv_size_formula(7, 3, 3))):
        conv_output_size(7, 3, 3)
    with pytest.raises(ValueError, match=re.escape(conv_size_formula(5, 2, 2, pool=True))):
        pool_output_size(5, 2, 2)


def _suggest_by_search(size, f, stride, pad=0, dil=1, max_pad=None):
    """The definition suggest_fixes must agree with: try every padding in turn."""
    eff = shapes.effective_filter_size(f, dil)
    out = []
    for p in range(0, (max_pad if max_pad is not None else max(eff, pad + stride)) + 1):
        if p != pad and size + 2 * p >= eff and (size + 2 * p - eff) % stride == 0:
            out.append(f"pad={p}")
            if len(out) == 2:
                break
    if stride != 1 and size + 2 * pad >= eff:
        out.append("stride=1")
    return out


def test_suggest_fixes_solves_for_the_padding_instead_of_searching():
    import itertools
    for size, f, stride, pad, dil, max_pad in itertools.product(
            range(1, 12), range(1, 7), range(1, 8), range(0, 5), (1, 2), (None, 2)):
        assert shapes.suggest_fixes(size, f, stride, pad, dil, max_pad) == \
            _suggest_by_search(size, f, stride, pad, dil, max_pad), (size, f, stride, pad, dil, max_pad)
    # absurd strides are answered from the formula (a search would take minutes):
    # 8 + 2p - 3 = 999999999 at p = 499999997; an even stride never divides the odd 5 + 2p
    assert shapes.suggest_fixes(8, 3, 999999999) == ["pad=499999997", "stride=1"]
    assert shapes.suggest_fixes(8, 3, 10 ** 12) == ["stride=1"]
