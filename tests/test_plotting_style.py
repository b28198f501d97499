"""The workbook's figure style (plotting.style), and every figure of 02 and 03 obeying it."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n_utils import explorers as E
from cs231n_utils.plotting import conv as P
from cs231n_utils.plotting import conv_demo, style
from cs231n_utils.plotting import pooling as PP


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_apply_sets_the_rc_params_and_styled_restores_them():
    before = matplotlib.rcParams["figure.dpi"]
    with style.styled():
        assert matplotlib.rcParams["figure.dpi"] == style.DPI
    assert matplotlib.rcParams["figure.dpi"] == before
    settings = style.apply()
    assert matplotlib.rcParams["figure.dpi"] == style.DPI == settings["savefig.dpi"]
    for key in ("font.size", "axes.titlesize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"):
        assert matplotlib.rcParams[key] >= style.MIN_FONT_SIZE, key
    assert matplotlib.rcParams["image.cmap"] == style.IMAGE_CMAP == "gray"


def test_figure_widens_narrow_figures():
    fig, ax = style.figure(figsize=(3, 2))
    assert fig.dpi == style.DPI and fig.get_figwidth() * style.DPI >= style.MIN_WIDTH_PX
    fig, axes = style.figure(1, 3, figsize=(9, 2))
    assert fig.get_figwidth() == 9 and len(axes) == 3


def test_signed_limits_and_show_signed_has_a_colorbar():
    assert style.signed_limits(np.array([-1.0, 3.0])) == (-3.0, 3.0)
    assert style.signed_limits(np.zeros(3)) == (-1.0, 1.0)
    assert style.signed_limits(np.array([])) == (-1.0, 1.0)
    lo, hi = style.signed_limits(np.arange(101.0), percentile=50)
    assert (lo, hi) == (-50.0, 50.0)
    fig, ax = style.figure()
    im, lims = style.show_signed(ax, np.array([[-2.0, 1.0]]), "w")
    assert lims == (-2.0, 2.0) and im.get_cmap().name == style.SIGNED_CMAP
    assert len(fig.axes) == 2                         # the colorbar's own axes
    fig, ax = style.figure()
    style.show_image(ax, np.eye(3), "img")
    assert ax.images[0].get_cmap().name == "gray" and ax.get_title() == "img"


def test_png_size_reads_the_header_and_refuses_other_bytes():
    fig, _ = style.figure(figsize=(6, 2))
    fig.axes[0].plot([0, 1])
    w, h = style.png_size(style.png_bytes(fig))
    assert 500 <= w <= 600 and 100 <= h <= 200
    with pytest.raises(ValueError, match="not a PNG"):
        style.png_size(b"GIF89a" + bytes(30))


def test_figure_problems_finds_narrow_figures_small_fonts_and_overlaps():
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([1, 2], [3, 4])
    ax.text(1.5, 3.5, "small", fontsize=7)
    ax.text(1.5, 3.5, "on top")
    problems = style.figure_problems(fig)
    assert any("px wide" in p for p in problems)
    assert any("'small' is 7 pt" in p for p in problems)
    assert any("overlap" in p for p in problems)
    fig, ax = style.figure(figsize=(6, 3))
    ax.plot([1, 2], [3, 4])
    ax.set_title("fine")
    assert style.figure_problems(fig) == []


def test_keep_full_size_stops_the_tight_crop():
    fig = plt.figure(figsize=(6, 2), dpi=style.DPI)
    fig.add_axes([0.45, 0.4, 0.1, 0.2]).plot([0, 1])
    cropped = style.png_size(style.png_bytes(fig))[0]
    style.keep_full_size(fig)
    assert cropped < 300 and 600 <= style.png_size(style.png_bytes(fig))[0] <= 625   # + the 0.1 in pad


# ------------------------------------------------------------------ every figure of 02 and 03

def _figures():
    x = E.demo_pool_input(6, seed=1)
    photo = np.random.default_rng(0).random((40, 60))
    yield "volumes", lambda: P.plot_volumes([("input", (2, 3, 32, 32)), ("filters", (6, 3, 5, 5)), ("out", (2, 6, 28, 28))])
    yield "depth column", lambda: P.plot_volumes([("x", (3, 32, 32)), ("o", (6, 28, 28))], scale="linear",
                                         highlights={"x": (3, 4, 5, 5), "o": (3, 4, 1, 1)})
    yield "connections", lambda: P.plot_connections_1d(7, 3)
    yield "conv frame", lambda: P.plot_conv_frame(E.conv_frame(5, 3, 2, 1, position=3))
    yield "conv frame, floor", lambda: P.plot_conv_frame(E.conv_frame(7, 3, 3, 0))
    yield "conv frame, largest", lambda: P.plot_conv_frame(E.conv_frame(12, 1, 1, 3))
    yield "conv frame, none", lambda: P.plot_conv_frame(E.conv_frame(2, 7, 1, 0))
    yield "numbers", lambda: P.plot_number_grids({"x": np.arange(16.0).reshape(4, 4), "w": -np.eye(3)})
    yield "activation maps", lambda: P.plot_activation_maps(photo, {"a": photo - 0.5, "b": photo})
    yield "receptive field", lambda: P.plot_receptive_field_growth(
        {"3x3": [(3, 1, 1)] * 6, "dilated": [(3, 1, 2 ** k, 2 ** k) for k in range(6)],
         "stride 2": [(3, 2, 1)] * 6}, input_size=64)
    yield "conv numbers", lambda: conv_demo.plot_conv_numbers(E.conv_numbers_frame(*E.conv_numbers_demo_data(), step=13))
    yield "pool frame", lambda: PP.plot_pool_frame(E.pool_frame(x, 2, 2, "max", position=2), backward=True)
    yield "pool frame, l2", lambda: PP.plot_pool_frame(E.pool_frame(E.demo_pool_input(8), 3, 2, "l2"), backward=True)
    yield "activation memory", lambda: P.plot_activation_memory(
        {n: __import__("cs231n_utils.architectures", fromlist=["x"]).summarize(n) for n in ("alexnet", "vgg16")})
    yield "seed comparison", lambda: PP.plot_seed_comparison({"pool": [93.0, 92.1, 94.0], "strided": [95.2, 96.0, 95.5]})
    yield "pooled photo", lambda: PP.plot_pooled_images(photo, {"max 2x2": photo[::2, ::2], "avg 2x2": photo[::2, ::2]})


FIGURES = dict(_figures())


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_is_wide_enough_with_readable_text_and_no_overlaps(name):
    assert style.figure_problems(FIGURES[name]()["figure"]) == [], name


@pytest.mark.parametrize("frame", [E.conv_frame(12, 1, 1, 3), E.conv_frame(7, 3, 1, 0), E.conv_frame(9, 7, 1, 3, 3)],
                         ids=["18 cells", "7 cells", "15 cells"])
def test_explorer_grid_cells_are_at_least_24_px(frame):
    d = P.plot_conv_frame(frame)
    n = frame.geometry.padded_size
    assert style.cell_size_px(d["figure"].axes[0], n, n) >= style.MIN_CELL_PX - 0.5


def test_number_grid_and_pool_frame_cells_are_at_least_24_px():
    d = P.plot_number_grids({"a": np.arange(64.0).reshape(8, 8), "b": np.ones((2, 2))})
    assert style.cell_size_px(d["figure"].axes[0], 8, 8) >= style.MIN_CELL_PX - 0.5
    d = PP.plot_pool_frame(E.pool_frame(E.demo_pool_input(8), 2, 2, "avg"), backward=True)
    for ax, a in zip(d["figure"].axes, d["arrays"].values()):
        assert style.cell_size_px(ax, *a.shape) >= style.MIN_CELL_PX - 0.5
    demo = conv_demo.plot_conv_numbers(E.conv_numbers_frame(*E.conv_numbers_demo_data()))
    assert demo["cell_px"] >= style.MIN_CELL_PX
