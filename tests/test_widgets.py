"""The explorers' logic, driven from Python: set a control's value, check what the widget shows."""
from __future__ import annotations

import numpy as np
import pytest

from cs231n_utils.filters import HAND_FILTERS
from cs231n_utils.widgets import ConvExplorer, ConvNumbersExplorer, FilterPlayground, PoolExplorer


def _figures_shown(w):
    return [o for o in w.out.outputs if o["output_type"] == "display_data"]


# --------------------------------------------------------------------------- ConvExplorer

@pytest.fixture
def conv():
    return ConvExplorer(size=7, filter_size=3, stride=1, pad=0, dilation=1)


def test_conv_explorer_initial_state(conv):
    assert conv.current_output_size == (5, 5)
    assert "output 5 x 5" in conv.formula.value
    assert "(7 + 2*0 - 3)/1 + 1 = 5" in conv.formula.value
    assert conv.message.value == ""
    assert conv.position.max == 24 and conv.play.max == 24
    assert len(_figures_shown(conv)) == 1
    assert conv.last_drawing["index"] == (0, 0) and conv.last_drawing["valid"]


def test_conv_explorer_controls_and_css_classes(conv):
    assert [w.description for w in (conv.size, conv.filter_size, conv.stride, conv.pad, conv.dilation)] == \
        ["W", "F", "S", "P", "D"]
    assert "cs231n-conv-explorer" in conv._dom_classes
    assert "cs231n-conv-formula" in conv.formula._dom_classes
    assert "cs231n-conv-message" in conv.message._dom_classes
    assert conv.formula in conv.children and conv.message in conv.children and conv.out in conv.children
    assert repr(conv) == "ConvExplorer(W=7, F=3, S=1, P=0, D=1)"


def test_conv_explorer_stride_and_pad(conv):
    conv.stride.value = 2
    assert conv.current_output_size == (3, 3) and "output 3 x 3" in conv.formula.value
    assert conv.position.max == 8
    conv.pad.value = 1
    assert conv.current_output_size == (4, 4) and "(7 + 2*1 - 3)/2 + 1 = 4" in conv.formula.value
    assert conv.last_drawing["grid"].shape == (9, 9) and conv.last_drawing["grid"].sum() == 49


def test_conv_explorer_invalid_setting_shows_a_message_not_a_traceback(conv):
    conv.stride.value = 3                                # (7 - 3)/3 + 1 is not an integer
    assert conv.current_output_size is None and conv.floor_output_size == (2, 2)
    msg = conv.message.value
    assert "S=3 does not fit exactly" in msg and "7/3 ~ 2.33" in msg
    assert "round down (floor) to 2 x 2" in msg and "P=1 (output 3 x 3)" in msg
    assert "does not fit exactly; frameworks round down: output 2 x 2" in conv.formula.value
    # the picture steps through the 2 x 2 windows a framework keeps
    assert not conv.position.disabled and conv.position.max == 3
    assert conv.last_drawing["valid"] is False and conv.last_drawing["leftover"] == (6,)
    assert conv.last_drawing["output"].shape == (2, 2)
    assert len(_figures_shown(conv)) == 1              # the old picture was replaced
    conv.pad.value = 1                                   # (7 + 2 - 3)/3 + 1 = 3 fits again
    assert conv.message.value == "" and conv.current_output_size == (3, 3)
    assert "fits exactly" in conv.formula.value


def test_conv_explorer_advice_stays_inside_the_sliders():
    # W=1, F=7, S=4, D=2: the filter spans 13 pixels; shapes alone would say "use pad>=6",
    # which the P slider (0..3) cannot reach
    ex = ConvExplorer(size=1, filter_size=7, stride=4, pad=0, dilation=2, draw=False)
    msg = ex.message.value
    assert "no output" in ex.formula.value and "pad>=" not in msg
    assert "Settings that fit: F=1 (output 1 x 1)" in msg
    ex.size.value = 12               # spans 13 > 12, and no single slider change fits: two changes
    assert ex.current_output_size is None
    assert "Settings that fit: P=1 and W=11 (output 1 x 1)" in ex.message.value


def test_conv_explorer_speaks_chinese_when_asked():
    from cs231n_utils import i18n
    before = i18n._current
    try:
        i18n.set_language("zh")
        ex = ConvExplorer(size=7, filter_size=3, stride=3, draw=False)
        assert "不能恰好整除" in ex.message.value and "能整除的设置：P=1（输出 3 x 3）" in ex.message.value
        assert "框架向下取整：输出 2 x 2" in ex.formula.value
        ex.stride.value = 2
        assert "输出 3 x 3，恰好整除" in ex.formula.value and ex.message.value == ""
    finally:
        i18n._current = before
    assert "fits exactly" in ConvExplorer(draw=False).formula.value


def test_conv_explorer_filter_larger_than_input(conv):
    conv.size.value = 2
    conv.filter_size.value = 5
    assert conv.current_output_size is None and conv.floor_output_size is None
    assert "The filter spans 5 pixels but the padded input has only 2" in conv.message.value
    assert conv.position.disabled and conv.last_drawing["output"].shape == (0, 0)


def test_conv_explorer_position_and_play_step_the_window(conv):
    conv.stride.value = 2
    conv.position.value = 5                              # row-major: output (1, 2)
    assert conv.frame.index == (1, 2)
    assert conv.last_drawing["taps"][0].tolist() == [2, 4]
    assert "output (1, 2) reads padded rows 2..4, cols 4..6" in conv.formula.value
    conv.play.value = 7                                  # the Play button drives the slider
    assert conv.position.value == 7 and conv.frame.index == (2, 1)
    conv.stride.value = 4                                # (7 - 3)/4 + 1 = 2 fits exactly
    conv.size.value = 8                                  # (8 - 3)/4 + 1 = 2.25: frameworks keep 2
    conv.position.value = 3
    assert conv.frame.index == (1, 1) and conv.last_drawing["taps"].max() == 6


def test_conv_explorer_position_is_clamped_when_the_output_shrinks(conv):
    conv.position.value = 24
    conv.stride.value = 2
    assert conv.position.value == 8 and conv.frame.index == (2, 2)


def test_conv_explorer_dilation_spreads_the_taps(conv):
    conv.dilation.value = 2
    assert conv.current_output_size == (3, 3)
    rows = sorted(set(conv.last_drawing["taps"][:, 0].tolist()))
    assert rows == [0, 2, 4]
    assert "2*(3-1)" in conv.formula.value


def test_conv_explorer_without_drawing():
    ex = ConvExplorer(size=5, filter_size=3, draw=False)
    ex.pad.value = 1
    assert ex.current_output_size == (5, 5) and ex.last_drawing is None and ex.out.outputs == ()


# --------------------------------------------------------------------------- PoolExplorer

@pytest.fixture
def pool():
    return PoolExplorer(kind="max", size=2, stride=2, input_size=6, seed=0)


def test_pool_explorer_initial_state(pool):
    assert pool.current_output_size == (3, 3) and "output 3 x 3" in pool.formula.value
    assert pool.message.value == ""
    assert len(pool.switches) == 9
    x = pool.frame.x
    for (r, c), v in zip(pool.switches, pool.frame.out.ravel()):
        assert x[r, c] == v
    assert "cs231n-pool-explorer" in pool._dom_classes
    assert "cs231n-pool-formula" in pool.formula._dom_classes
    assert "cs231n-pool-message" in pool.message._dom_classes
    assert pool.kind.description == "type" and pool.size.description == "size"
    assert pool.stride.description == "stride" and pool.mode.description == "mode"
    assert repr(pool).startswith("PoolExplorer(type=max, size=2")


def test_pool_explorer_backward_mode_shows_the_routing(pool):
    pool.mode.value = "backward"
    d = pool.last_drawing
    assert set(d["arrays"]) == {"x", "max pool", "dout", "dx"}
    dx = d["arrays"]["dx"]
    assert dx.sum() == 9 and set(zip(*map(list, np.nonzero(dx)))) == set(pool.switches)
    assert "dx sums to 9.00" in pool.formula.value


def test_pool_explorer_kinds(pool):
    pool.kind.value = "avg"
    assert pool.switches == [] and "avg pool" in pool.formula.value
    np.testing.assert_allclose(pool.frame.out[0, 0], pool.frame.x[:2, :2].mean())
    pool.kind.value = "l2"
    np.testing.assert_allclose(pool.frame.out[0, 0], np.sqrt((pool.frame.x[:2, :2] ** 2).sum()))


def test_pool_explorer_invalid_then_overlapping(pool):
    pool.size.value = 3                                  # (6 - 3)/2 + 1 = 2.5
    assert pool.current_output_size is None and pool.floor_output_size == (2, 2)
    msg = pool.message.value
    assert "stride 2 does not fit exactly" in msg and "floor: 2 x 2" in msg and "ceil_mode=True, up (3 x 3" in msg
    assert "Settings that fit: stride=1 (output 4 x 4), input=5 (output 2 x 2)" in msg
    assert "frameworks round down: output 2 x 2 (ceil mode: 3 x 3)" in pool.formula.value
    assert pool.position.max == 3 and pool.last_drawing["shaded"][5].all()
    assert set(pool.last_drawing["arrays"]) == {"x", "max pool (floor)"}
    pool.input_size.value = 7                            # (7 - 3)/2 + 1 = 3, overlapping
    assert pool.current_output_size == (3, 3) and pool.message.value == ""
    assert "windows overlap" in pool.formula.value
    pool.mode.value = "backward"
    assert pool.frame.hits.max() == 4


def test_pool_explorer_position_moves_the_window(pool):
    pool.play.value = 4
    assert pool.position.value == 4 and pool.frame.index == (1, 1)
    assert pool.last_drawing["window"] == (2, 4, 2, 4)


def test_pool_explorer_with_given_array():
    x = np.arange(16, dtype=float).reshape(4, 4)
    ex = PoolExplorer(x=x, size=2, stride=2)
    assert ex.input_size.disabled and ex.current_output_size == (2, 2)
    assert ex.frame.out.tolist() == [[5, 7], [13, 15]]
    with pytest.raises(ValueError, match="square"):
        PoolExplorer(x=np.ones((3, 4)))


# --------------------------------------------------------------------------- FilterPlayground

@pytest.fixture
def image(rng):
    return rng.random((13, 25))          # 12 and 24 are divisible by 1, 2, 3, 4


def test_filter_playground_identity_returns_the_image(image):
    fp = FilterPlayground(image, filter_name="identity")
    np.testing.assert_allclose(fp.activation, image, atol=1e-12)
    assert fp.current_output_size == (13, 25) and "output 13 x 25" in fp.formula.value
    assert fp.filter.options == tuple(HAND_FILTERS)
    assert "cs231n-filter-playground" in fp._dom_classes
    assert fp.last_drawing["maps"]["identity"].shape == (13, 25)


def test_filter_playground_filter_and_stride(image):
    fp = FilterPlayground(image)
    fp.filter.value = "sobel_x"
    fp.stride.value = 2
    assert fp.current_output_size == (7, 13) and "output 7 x 13" in fp.formula.value
    expected = np.pad(image, 1)[0:3, 0:3] * HAND_FILTERS["sobel_x"]
    assert fp.activation[0, 0] == pytest.approx(expected.sum())


def test_filter_playground_invalid_stride_shows_a_message(rng):
    fp = FilterPlayground(rng.random((8, 9)), filter_name="box_blur")
    fp.stride.value = 2                                  # (8 + 2 - 3)/2 + 1 = 4.5
    assert fp.activation is None and fp.current_output_size is None
    assert "image height 8: S=2 does not fit exactly" in fp.message.value
    assert "Settings that fit: S=1 (output 8 x 8)" in fp.message.value
    assert "no exact output" in fp.formula.value
    fp.stride.value = 1
    assert fp.message.value == "" and fp.current_output_size == (8, 9)


def test_filter_playground_errors():
    with pytest.raises(ValueError, match="grey"):
        FilterPlayground(np.ones((4, 4, 3)))
    with pytest.raises(ValueError, match="empty"):
        FilterPlayground(np.ones((4, 4)), filters={})


# --------------------------------------------------------------------------- ConvNumbersExplorer

def test_numbers_explorer_steps_through_every_output_number():
    from cs231n_utils import layers
    ex = ConvNumbersExplorer()
    assert ex.position.max == 17 and ex.frame.out.shape == (2, 3, 3)
    expected, _ = layers.conv_forward_naive(ex.x[None], ex.w, ex.b, {"stride": 2, "pad": 1})
    np.testing.assert_array_equal(ex.frame.out, expected[0])
    ex.play.value = 13                                   # filter 1, output (1, 1)
    assert ex.frame.filter_index == 1 and ex.frame.index == (1, 1)
    assert "step 14 of 18: filter 1, output (1, 1)" in ex.formula.value
    assert f"= {ex.frame.value:.0f}" in ex.formula.value
    d = ex.last_drawing
    assert d["window"] == (2, 5, 2, 5) and d["filter_index"] == 1 and d["cell_px"] >= 24
    assert d["texts"]["output 1 (b1 = 0)"][2][2] == ""   # not computed yet at step 14
    assert "cs231n-numbers-explorer" in ex._dom_classes


def test_numbers_explorer_other_numbers_and_errors():
    x = np.ones((2, 4, 4))
    w = np.ones((1, 2, 3, 3))
    ex = ConvNumbersExplorer(x, w, np.zeros(1), stride=1, pad=0, draw=False)
    assert ex.position.max == 3 and ex.frame.value == 18
    with pytest.raises(ValueError, match="does not fit"):
        ConvNumbersExplorer(x, w, np.zeros(1), stride=2, pad=0)


# --------------------------------------------------------------------------- saved notebooks

@pytest.mark.parametrize("make", [
    lambda: ConvExplorer(size=7, filter_size=3, stride=2),
    lambda: PoolExplorer(kind="max", size=3, stride=2, input_size=7),
    lambda: FilterPlayground(np.random.default_rng(0).random((13, 25))),
    lambda: ConvNumbersExplorer(step=4),
], ids=["conv", "pool", "filter", "numbers"])
def test_displaying_an_explorer_also_stores_a_plain_picture(make, monkeypatch):
    """A fresh clone shows the stored image output: widget views need a running kernel."""
    import base64
    import IPython.display
    from cs231n_utils.plotting import style
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    ex = make()
    ex._ipython_display_()
    (picture, raw1), (bundle, raw2) = shown
    assert raw1 and raw2 and "application/vnd.jupyter.widget-view+json" in bundle
    assert picture["text/plain"] == f"[stored picture of {ex!r}]"
    png = base64.b64decode(picture["image/png"])
    assert png == ex.picture_png and style.png_size(png)[0] >= style.MIN_WIDTH_PX
    assert ex.out.outputs[0]["data"]["image/png"] == picture["image/png"]


def test_an_explorer_without_pictures_displays_only_the_widget(monkeypatch):
    import IPython.display
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    ConvExplorer(draw=False)._ipython_display_()
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0]


def test_pool_explorer_and_filter_playground_speak_chinese_when_asked(rng):
    from cs231n_utils import i18n
    before = i18n._current
    try:
        i18n.set_language("zh")
        pool = PoolExplorer(kind="max", size=3, stride=2, input_size=6, draw=False)
        assert "步长 2 不能恰好整除" in pool.message.value and "ceil_mode=True 时向上取整" in pool.message.value
        assert "能整除的设置：stride=1（输出 4 x 4）" in pool.message.value
        pool.mode.value = "backward"
        assert "反向传播（dout = 1）：dx 之和为 4.00" in pool.formula.value
        fp = FilterPlayground(rng.random((8, 9)), filter_name="box_blur", stride=2, draw=False)
        assert fp.message.value.startswith("<span style='color:#b30000'>图像高度 8：S=2 不能恰好整除")
        assert "不能整除，没有输出" in fp.formula.value
        numbers = ConvNumbersExplorer(step=2, draw=False)
        assert "第 3/18 步：滤波器 0，输出 (0, 2)" in numbers.formula.value and "(偏置) 1" in numbers.formula.value
    finally:
        i18n._current = before
