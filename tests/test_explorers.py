"""The arithmetic behind the conv and pooling explorers, checked against the real layers."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from cs231n_utils import explorers as E
from cs231n_utils import layers


# --------------------------------------------------------------------------- conv geometry

def test_conv_geometry_valid():
    g = E.conv_geometry(7, 3, 2, 0)
    assert g.valid and g.output_size == 3 and g.message == ""
    assert g.formula == "(7 + 2*0 - 3)/2 + 1 = 3"
    assert g.output_text == "output 3 x 3, fits exactly"
    assert g.floor_size == 3 and g.leftover == ()
    assert g.n_positions == 9 and g.padded_size == 7 and g.effective_filter == 3


def test_conv_geometry_not_exact_says_what_frameworks_do():
    g = E.conv_geometry(7, 3, 3, 0)
    assert not g.valid and g.output_size is None
    assert g.floor_size == 2 and g.n_positions == 4 and g.leftover == (6,)
    assert g.formula == "(7 + 2*0 - 3)/3 + 1 = 7/3 ~ 2.33"
    assert g.message == ("S=3 does not fit exactly: (7 + 2*0 - 3)/3 + 1 = 7/3 ~ 2.33 is not a whole "
                         "number. Frameworks round down (floor) to 2 x 2 and never read padded "
                         "row/column 6. Settings that fit: P=1 (output 3 x 3), S=2 (output 3 x 3), "
                         "W=6 (output 2 x 2).")
    assert g.output_text == "does not fit exactly; frameworks round down: output 2 x 2"


@pytest.mark.parametrize("w,f,s,p,d", [(224, 11, 4, 2, 1), (224, 7, 2, 3, 1), (112, 3, 2, 1, 1),
                                       (8, 3, 2, 0, 1), (9, 3, 4, 1, 2)])
def test_floor_size_is_the_frameworks_size(w, f, s, p, d):
    """floor((W - F_eff + 2P + S)/S): AlexNet conv1 (55), ResNet conv1 (112) and max pool (56)."""
    from cs231n_utils.shapes import conv_output_size
    g = E.conv_geometry(w, f, s, p, d)
    eff = d * (f - 1) + 1
    assert g.floor_size == (w - eff + 2 * p + s) // s == conv_output_size(w, f, s, p, d, rounding="floor")
    # the last window ends inside the padded input, and one more stride would leave it
    last_end = (g.floor_size - 1) * s + eff
    assert last_end <= w + 2 * p < last_end + s
    assert g.leftover == tuple(range(last_end, w + 2 * p))


def test_conv_geometry_filter_too_big():
    g = E.conv_geometry(3, 5, 1, 0)
    assert not g.valid and g.floor_size is None and g.n_positions == 0
    assert g.message.startswith("The filter spans 5 pixels but the padded input has only 3")
    assert "Settings that fit: P=1 (output 1 x 1), W=5 (output 1 x 1), F=3 (output 1 x 1)." in g.message


EVERY_SLIDER_SETTING = list(itertools.product(range(1, 13), range(1, 8), range(1, 5), range(0, 4), range(1, 4)))


def test_advice_only_names_settings_that_fit_and_that_the_sliders_reach():
    """The issue's example: "use pad>=4" where P stops at 3 (and pad 4 still did not fit with S=4)."""
    ranges = E.CONV_RANGES
    checked = 0
    for setting in EVERY_SLIDER_SETTING:
        w, f, s, p, d = setting
        if (w + 2 * p - d * (f - 1) - 1) % s == 0 and w + 2 * p >= d * (f - 1) + 1:
            continue
        options = E.fitting_settings(w, f, s, p, d)
        assert options, f"no advice for {setting}"
        current = dict(zip(("size", "filter_size", "stride", "pad", "dilation"), setting))
        for changes, out in options:
            new = dict(current, **dict(changes))
            assert all(ranges[n][0] <= v <= ranges[n][1] for n, v in changes), (setting, changes)
            g = E.conv_geometry(**new)
            assert g.valid and g.output_size == out, (setting, changes)
        assert "pad>=" not in E.conv_geometry(w, f, s, p, d).message
        checked += 1
    assert checked > 2000


def test_fitting_settings_prefers_one_change_and_respects_missing_ranges():
    assert E.fitting_settings(7, 3, 3, 0, 1, limit=2) == [((("pad", 1),), 3), ((("stride", 2),), 3)]
    assert E.fitting_settings(7, 3, 3, 0, 1, ranges={"stride": (1, 4)}) == [((("stride", 2),), 3)]
    assert E.fitting_settings(7, 3, 3, 0, 1, ranges={"stride": (3, 3)}) == []
    two = E.fitting_settings(12, 7, 4, 0, 2)             # no single change fits
    assert all(len(changes) == 2 for changes, _ in two) and two[0] == ((("pad", 1), ("size", 11)), 1)


def test_messages_in_chinese():
    from cs231n_utils import i18n
    before = i18n._current
    try:
        i18n.set_language("zh")
        g = E.conv_geometry(7, 3, 3, 0)
        assert g.message.startswith("S=3 不能恰好整除：(7 + 2*0 - 3)/3 + 1 = 7/3 ~ 2.33 不是整数。")
        assert "框架向下取整（floor）得到 2 x 2" in g.message and "能整除的设置：P=1（输出 3 x 3）" in g.message
        assert g.output_text == "不能整除；框架向下取整：输出 2 x 2"
        assert "没有输出" in E.conv_geometry(3, 5).message
        p = E.pool_geometry(6, 3, 2)
        assert "ceil_mode=True 时向上取整（3 x 3" in p.message and "能整除的设置：步长=1" not in p.message
        assert "stride=1（输出 4 x 4）" in p.message
        assert "读取填充后的第 0..2 行" in E.conv_frame(7, 3, 2).text
        assert "的 max 池化" in E.pool_frame(E.demo_pool_input(4), 2).text
        assert "通道 0" in E.conv_numbers_frame(*E.conv_numbers_demo_data()).text
    finally:
        i18n._current = before
    assert E.conv_geometry(7, 3, 3, 0).message.startswith("S=3 does not fit exactly")


def test_conv_geometry_dilation_formula():
    g = E.conv_geometry(7, 3, 1, 0, 2)
    assert g.effective_filter == 5 and g.output_size == 3
    assert g.formula == "(7 + 2*0 - 2*(3-1) - 1)/1 + 1 = 3"


def test_conv_geometry_type_error_still_raises():
    with pytest.raises(TypeError):
        E.conv_geometry(7.5, 3)


def test_padded_grid():
    g = E.padded_grid(3, 1)
    assert g.shape == (5, 5) and g.sum() == 9
    assert g[0].sum() == 0 and g[1, 1] == 1 and g[3, 3] == 1 and g[4, 4] == 0
    with pytest.raises(ValueError):
        E.padded_grid(3, -1)


def test_window_taps_plain_and_dilated():
    taps = E.window_taps(1, 2, 3, stride=2)
    assert taps.shape == (9, 2)
    assert taps[0].tolist() == [2, 4] and taps[-1].tolist() == [4, 6]
    dil = E.window_taps(0, 0, 3, stride=1, dilation=2)
    assert sorted(set(dil[:, 0].tolist())) == [0, 2, 4]
    with pytest.raises(ValueError):
        E.window_taps(-1, 0, 3)


def test_window_mask_and_out_of_range():
    m = E.window_mask(5, 3, 1, 0, 1, 2, 2)
    assert m.sum() == 9 and m[2:5, 2:5].all()
    with pytest.raises(ValueError, match="outside the padded input"):
        E.window_mask(5, 3, 1, 0, 1, 3, 0)


def test_index_to_position():
    assert E.index_to_position(0, 3) == (0, 0)
    assert E.index_to_position(5, 3) == (1, 2)
    with pytest.raises(ValueError, match="0..8"):
        E.index_to_position(9, 3)


def test_conv_frame_valid():
    f = E.conv_frame(5, 3, 1, 1, 1, position=11)
    assert f.index == (2, 1)
    assert f.output.shape == (5, 5) and f.output.sum() == 1 and f.output[2, 1] == 1
    assert f.leftover == () and f.covered.all()
    assert "output 5 x 5" in f.text and "output (2, 1) reads padded rows 2..4, cols 1..3" in f.text


def test_conv_frame_clamps_position():
    f = E.conv_frame(5, 3, 1, 0, 1, position=100)
    assert f.index == (2, 2)


def test_conv_frame_not_exact_steps_through_the_rounded_down_windows():
    f = E.conv_frame(7, 3, 3, 0, position=3)
    assert not f.exact and f.index == (1, 1) and f.output.shape == (2, 2)
    assert f.taps.min() == 3 and f.taps.max() == 5
    # windows at 0..2 and 3..5 fit, column 6 is never reached
    assert f.leftover == (6,)
    assert f.covered[:6, :6].all() and not f.covered[6].any()
    assert "frameworks round down: output 2 x 2" in f.text


def test_conv_frame_window_bigger_than_input():
    f = E.conv_frame(2, 5, 1, 0)
    assert f.index is None and not f.covered.any() and f.leftover == (0, 1)


SMALL = [(w, f, s, p, d) for w, f, s, p, d in itertools.product(range(3, 8), (1, 2, 3), (1, 2, 3), (0, 1), (1, 2))
         if E.conv_geometry(w, f, s, p, d).valid]


@pytest.mark.parametrize("w,f,s,p,d", SMALL[::3])
def test_taps_are_exactly_the_pixels_the_real_conv_reads(w, f, s, p, d):
    """For output (i, j), the input pixels with a non-zero gradient are the explorer's taps (minus padding)."""
    g = E.conv_geometry(w, f, s, p, d)
    x = np.ones((1, 1, w, w))
    wt = np.ones((1, 1, f, f))
    out, cache = layers.conv_forward_naive(x, wt, np.zeros(1), {"stride": s, "pad": p, "dilation": d})
    assert out.shape[-1] == g.output_size
    for k in (0, g.n_positions - 1, g.n_positions // 2):
        frame = E.conv_frame(w, f, s, p, d, k)
        i, j = frame.index
        dout = np.zeros_like(out)
        dout[0, 0, i, j] = 1.0
        dx = layers.conv_backward_naive(dout, cache)[0][0, 0]
        expected = {(r - p, c - p) for r, c in frame.taps.tolist() if frame.grid[r, c]}
        assert set(zip(*map(list, np.nonzero(dx)))) == expected


# --------------------------------------------------------------------------- filter_activation

def test_filter_activation_matches_a_loop(rng):
    img = rng.standard_normal((7, 9))
    k = rng.standard_normal((3, 3))
    act = E.filter_activation(img, k, stride=2)
    padded = np.pad(img, 1)
    expected = np.array([[np.sum(padded[2 * i:2 * i + 3, 2 * j:2 * j + 3] * k) for j in range(5)]
                         for i in range(4)])
    assert act.shape == (4, 5)
    np.testing.assert_allclose(act, expected, atol=1e-12)


def test_filter_activation_errors():
    with pytest.raises(ValueError, match="image height 8"):
        E.filter_activation(np.zeros((8, 7)), np.ones((3, 3)), stride=2)
    with pytest.raises(ValueError, match="must be"):
        E.filter_activation(np.zeros((3, 8, 7)), np.ones((3, 3)))


# --------------------------------------------------------------------------- pooling

def test_pool_geometry():
    g = E.pool_geometry(6, 2)
    assert g.valid and g.output_size == 3 and g.stride == 2 and not g.overlapping
    assert g.formula == "(6 - 2)/2 + 1 = 3"
    bad = E.pool_geometry(6, 3, 2)
    assert not bad.valid and bad.overlapping and "stride 2 does not fit exactly" in bad.message
    assert bad.formula == "(6 - 3)/2 + 1 = 2.5"
    assert bad.floor_size == 2 and bad.ceil_size == 3 and bad.leftover == (5,)
    assert bad.output_text == "does not fit exactly; frameworks round down: output 2 x 2 (ceil mode: 3 x 3)"
    assert "Settings that fit: stride=1 (output 4 x 4), input=5 (output 2 x 2), size=2 (output 3 x 3)." in bad.message
    fixed = E.pool_geometry(6, 3, 2, ranges={"size": (1, 4), "stride": (1, 4)})   # input not adjustable
    assert "input=" not in fixed.message
    big = E.pool_geometry(3, 4, 4)
    assert big.floor_size is None and big.ceil_size is None and big.leftover == (0, 1, 2)
    assert big.message.startswith("The window 4 is larger than the input 3")


@pytest.mark.parametrize("w,f,s", [(112, 3, 2), (6, 3, 2), (5, 2, 2), (13, 3, 2), (7, 4, 3)])
def test_pool_floor_and_ceil_sizes_match_the_shapes_module(w, f, s):
    from cs231n_utils.shapes import pool_output_size
    g = E.pool_geometry(w, f, s)
    assert g.floor_size == pool_output_size(w, f, s, rounding="floor")
    assert g.ceil_size == pool_output_size(w, f, s, rounding="ceil")


def test_pool_windows():
    wins = E.pool_windows(5, 5, 3, 2)
    assert len(wins) == 4
    i, j, rs, cs = wins[3]
    assert (i, j, rs.start, rs.stop, cs.start, cs.stop) == (1, 1, 2, 5, 2, 5)
    with pytest.raises(ValueError):
        E.pool_windows(6, 6, 3, 2)


def test_demo_pool_input_has_no_ties():
    x = E.demo_pool_input(6, seed=3)
    assert x.shape == (6, 6) and sorted(x.ravel().tolist()) == list(range(1, 37))
    assert np.array_equal(x, E.demo_pool_input(6, seed=3))


def test_max_pool_small_worked_example():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)
    out, sw = E.pool_forward_2d(x, 2)
    assert out.tolist() == [[6, 8], [3, 4]]
    assert sw.tolist() == [[[1, 1], [1, 3]], [[2, 0], [3, 3]]]
    avg, sw_avg = E.pool_forward_2d(x, 2, kind="avg")
    assert avg.tolist() == [[3.25, 5.25], [2.0, 2.0]] and (sw_avg == -1).all()


def _pool_layers(kind):
    return {"max": (layers.max_pool_forward_naive, layers.max_pool_backward_naive),
            "avg": (layers.avg_pool_forward, layers.avg_pool_backward),
            "l2": (layers.l2_pool_forward, layers.l2_pool_backward)}[kind]


@pytest.mark.parametrize("kind", E.POOL_KINDS)
@pytest.mark.parametrize("n,size,stride", [(6, 2, 2), (7, 3, 2), (5, 3, 1), (4, 4, 4)])
def test_pool_matches_the_layers(kind, n, size, stride, rng):
    x = rng.standard_normal((n, n))
    dout_shape = (E.pool_geometry(n, size, stride).output_size,) * 2
    dout = rng.standard_normal(dout_shape)
    fwd, bwd = _pool_layers(kind)
    param = {"pool_height": size, "pool_width": size, "stride": stride}
    ref, cache = fwd(x[None, None], param)
    out, _ = E.pool_forward_2d(x, size, stride, kind)
    np.testing.assert_allclose(out, ref[0, 0], rtol=1e-12, atol=1e-12)
    dx_ref = bwd(dout[None, None], cache)
    dx = E.pool_backward_2d(x, dout, size, stride, kind)
    np.testing.assert_allclose(dx, dx_ref[0, 0], rtol=1e-10, atol=1e-12)


def test_overlapping_windows_accumulate_and_the_assignment_bug_loses_gradient():
    x = E.demo_pool_input(5, seed=1)
    dout = np.ones((2, 2))
    good = E.pool_backward_2d(x, dout, 3, 2, "avg")
    bad = E.pool_backward_2d(x, dout, 3, 2, "avg", accumulate=False)
    assert good.sum() == pytest.approx(4.0)        # every output's gradient arrives
    assert bad.sum() < good.sum()                   # `=` overwrote the shared middle row/col
    assert good[2, 2] == pytest.approx(4 / 9) and bad[2, 2] == pytest.approx(1 / 9)
    # no overlap: both are the same
    np.testing.assert_allclose(E.pool_backward_2d(x[:4, :4], dout, 2, 2, "max"),
                               E.pool_backward_2d(x[:4, :4], dout, 2, 2, "max", accumulate=False))


def test_max_pool_overlap_can_route_twice_to_one_pixel():
    x = np.zeros((5, 5))
    x[2, 2] = 9.0                                   # the centre is in all four 3x3 stride-2 windows
    x += np.arange(25).reshape(5, 5) * 1e-3
    dx = E.pool_backward_2d(x, np.ones((2, 2)), 3, 2, "max")
    assert dx[2, 2] == 4.0 and dx.sum() == 4.0
    bug = E.pool_backward_2d(x, np.ones((2, 2)), 3, 2, "max", accumulate=False)
    assert bug[2, 2] == 1.0


def test_pool_errors():
    with pytest.raises(ValueError, match="kind must be one of"):
        E.pool_forward_2d(np.ones((4, 4)), 2, kind="median")
    with pytest.raises(ValueError, match="kind must be one of"):
        E.pool_backward_2d(np.ones((4, 4)), np.ones((2, 2)), 2, kind="median")
    with pytest.raises(ValueError, match="2-D"):
        E.pool_forward_2d(np.ones((1, 4, 4)), 2)
    with pytest.raises(ValueError, match="dout has shape"):
        E.pool_backward_2d(np.ones((4, 4)), np.ones((3, 3)), 2)


def test_l2_pool_of_zero_window_has_zero_gradient():
    dx = E.pool_backward_2d(np.zeros((2, 2)), np.ones((1, 1)), 2, kind="l2")
    assert (dx == 0).all()


def test_pool_frame_valid():
    x = E.demo_pool_input(5, seed=0)
    f = E.pool_frame(x, 3, 2, "max", position=3)
    assert f.index == (1, 1) and (f.window[0].start, f.window[1].start) == (2, 2)
    assert f.hits[2, 2] == 4 and f.hits[0, 0] == 1 and f.hits.sum() == 4 * 9
    assert f.dx.sum() == 4 and f.out.shape == (2, 2)
    assert "output 2 x 2" in f.text and "at x[" in f.text


def test_pool_frame_not_exact_pools_what_frameworks_keep_and_errors():
    x = E.demo_pool_input(6)
    f = E.pool_frame(x, 3, 2, "avg", position=3)
    assert not f.exact and f.index == (1, 1) and f.out.shape == (2, 2)
    np.testing.assert_allclose(f.out[1, 1], x[2:5, 2:5].mean())
    assert not f.hits[5].any() and not f.hits[:, 5].any() and not f.dx[5].any()
    assert f.dx.sum() == pytest.approx(4.0)
    assert "frameworks round down: output 2 x 2" in f.text
    none = E.pool_frame(E.demo_pool_input(3), 4, 4)
    assert none.index is None and none.window is None and none.out.shape == (0, 0) and not none.dx.any()
    with pytest.raises(ValueError, match="square"):
        E.pool_frame(np.ones((4, 6)), 2)


ALL = list(itertools.product(range(1, 9), range(1, 6), range(1, 4), range(0, 3), range(1, 4)))


def test_every_frame_of_every_small_setting_stays_inside_the_padded_input():
    n_valid = 0
    for w, f, s, p, d in ALL:
        g = E.conv_geometry(w, f, s, p, d)
        if not g.valid:
            assert g.message
            frame = E.conv_frame(w, f, s, p, d, g.n_positions - 1)
            if g.floor_size is None:
                assert frame.index is None
            else:                    # the last rounded-down window still lies inside the padded input
                assert frame.taps.max() < g.padded_size and frame.taps.max() == g.leftover[0] - 1
            continue
        n_valid += 1
        seen = np.zeros((g.padded_size, g.padded_size), dtype=bool)
        for k in range(g.n_positions):
            frame = E.conv_frame(w, f, s, p, d, k)
            assert frame.taps.max() < g.padded_size and frame.output.sum() == 1
            seen[frame.taps[:, 0], frame.taps[:, 1]] = True
        # a setting that fits has its last window end exactly at the padded edge
        assert seen[-1].any() and seen[:, -1].any()
    assert n_valid > 200
