"""One figure style for the whole workbook (图的统一风格): size, fonts and colour maps.

Every plotting helper starts with one line, so every stored figure reads the same way:

    from . import style                      # inside cs231n_utils.plotting
    fig, ax = style.figure(figsize=(6, 3))   # = style.apply() + plt.subplots(..., dpi=style.DPI)

or, for a figure made some other way, `style.apply()` first (it only sets matplotlib's
rcParams, so calling it again is free). A notebook that draws with plain matplotlib calls
`style.apply()` once in its set-up cell. `with style.styled(): ...` applies the style only
inside the block, for code that must leave the global settings alone.

The conventions (STYLE.md, "Figures are read, not glanced at"):

- resolution: `DPI` = 100 dots per inch, so a figure 6 inches wide is stored 600 px wide;
  every stored figure is at least `MIN_WIDTH_PX` = 500 px wide;
- text: no font smaller than `MIN_FONT_SIZE` = 9 pt (titles, labels, ticks, legends, the
  numbers written in grid cells);
- grids of filters, activations or numbers: at least `MIN_CELL_PX` = 24 px per cell;
- colour maps: `IMAGE_CMAP` (grey) for images and image-like maps; `SIGNED_CMAP` (one
  diverging map, blue-white-red, centred on 0) with a colorbar for signed weights, responses
  and gradients; `COUNT_CMAP` (light blues) behind non-negative numbers written in cells.
  A grid that writes every value in its cell needs no colorbar; any other colour that
  encodes a value gets one (`show_signed` adds it).

`figure_problems(fig)` lists what breaks these rules in a drawn figure (stored width, small
fonts, overlapping text); the tests of every plotting module call it.
"""
from __future__ import annotations

import io
import struct
from contextlib import contextmanager
from typing import Iterator

import numpy as np

__all__ = ["DPI", "MIN_FONT_SIZE", "MIN_WIDTH_PX", "MIN_CELL_PX", "IMAGE_CMAP", "SIGNED_CMAP",
           "COUNT_CMAP", "RC", "apply", "styled", "figure", "keep_full_size", "signed_limits", "show_image",
           "show_signed", "png_bytes", "png_size", "cell_size_px", "figure_problems"]

DPI = 100
MIN_FONT_SIZE = 9
MIN_WIDTH_PX = 500
MIN_CELL_PX = 24
IMAGE_CMAP = "gray"
SIGNED_CMAP = "RdBu_r"
COUNT_CMAP = "Blues"

#: The matplotlib settings `apply()` installs.
RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
    "image.cmap": IMAGE_CMAP,
    "image.interpolation": "nearest",
    "axes.grid": False,
}


def apply() -> dict:
    """Install the workbook's figure style in matplotlib's rcParams; returns the settings."""
    import matplotlib

    matplotlib.rcParams.update(RC)
    return dict(RC)


@contextmanager
def styled() -> Iterator[dict]:
    """The style inside a `with` block only; the previous settings come back afterwards."""
    import matplotlib.pyplot as plt

    with plt.rc_context(RC):
        yield dict(RC)


def figure(nrows: int = 1, ncols: int = 1, figsize=(6.0, 3.0), **kwargs):
    """`apply()`, then `plt.subplots(nrows, ncols, figsize=..., dpi=DPI, **kwargs)`.

    A figure narrower than `MIN_WIDTH_PX` is widened to it (the content keeps its height).
    Returns (figure, axes) like `plt.subplots`.
    """
    import matplotlib.pyplot as plt

    apply()
    width, height = figsize
    width = max(float(width), MIN_WIDTH_PX / DPI)
    return plt.subplots(nrows, ncols, figsize=(width, height), dpi=DPI, **kwargs)


def keep_full_size(fig) -> None:
    """Make the stored picture the whole figure: notebooks save figures with a tight bounding
    box, which would crop the margins of a figure laid out in inches (grids with a fixed cell
    size) below its planned width. An invisible figure-sized frame keeps them."""
    from matplotlib.patches import Rectangle

    fig.add_artist(Rectangle((0, 0), 1, 1, transform=fig.transFigure, fill=False,
                             edgecolor="none", linewidth=0))
    fig._cs231n_full_size = True          # png_bytes can skip the (slow) tight-box pass


def signed_limits(a: np.ndarray, percentile: float | None = None) -> tuple[float, float]:
    """(-m, m) with m = max |a| (or its `percentile`-th percentile): colours centred on 0."""
    a = np.abs(np.asarray(a, dtype=np.float64))
    if a.size == 0:
        return (-1.0, 1.0)
    m = float(np.percentile(a, percentile)) if percentile is not None else float(a.max())
    m = m or float(a.max()) or 1.0
    return (-m, m)


def show_image(ax, image: np.ndarray, title: str | None = None, **kwargs):
    """A grey image without ticks (kwargs go to imshow, e.g. vmin/vmax). Returns the AxesImage."""
    im = ax.imshow(image, cmap=IMAGE_CMAP, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return im


def show_signed(ax, a: np.ndarray, title: str | None = None, colorbar: bool = True,
                limits: tuple[float, float] | None = None, percentile: float | None = None):
    """Signed values (weights, responses, gradients) in `SIGNED_CMAP`, centred on 0, with a
    colorbar. Returns (AxesImage, (vmin, vmax))."""
    lo, hi = limits if limits is not None else signed_limits(a, percentile)
    im = ax.imshow(a, cmap=SIGNED_CMAP, vmin=lo, vmax=hi)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    if colorbar:
        bar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        bar.ax.tick_params(labelsize=MIN_FONT_SIZE)
    return im, (lo, hi)


def png_bytes(fig) -> bytes:
    """The PNG a notebook stores for `fig` (the inline backend saves with a tight bounding box;
    a figure under `keep_full_size` is its whole self, so it is drawn once, without the box)."""
    buf = io.BytesIO()
    tight = {} if getattr(fig, "_cs231n_full_size", False) else {"bbox_inches": "tight"}
    fig.savefig(buf, format="png", dpi=fig.dpi, **tight)
    return buf.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of PNG bytes, read from the IHDR header; ValueError if not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image (the file does not start with a PNG signature and IHDR)")
    return struct.unpack(">II", data[16:24])


def cell_size_px(ax, nrows: int, ncols: int) -> float:
    """Smaller side, in stored pixels, of one cell of an (nrows, ncols) grid drawn filling `ax`."""
    fig = ax.figure
    _canvas(fig).draw()
    box = ax.get_window_extent()
    scale = DPI / fig.dpi             # window extents are in display pixels at the figure's dpi
    return min(box.width / ncols, box.height / nrows) * scale


def _canvas(fig):
    """The figure's Agg canvas (a figure closed by pyplot keeps only a base canvas)."""
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        FigureCanvasAgg(fig)
    return fig.canvas


def _tick_labels(ax) -> tuple[set, list]:
    """(ids of every tick label of `ax`, the ones a reader sees: drawn ticks inside the view)."""
    every, shown = set(), []
    for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        lo, hi = min(lim), max(lim)
        ticks = axis.get_major_ticks() + axis.get_minor_ticks()
        for tick in ticks:
            for label in (tick.label1, tick.label2):
                every.add(id(label))
                if (ax.axison and ax.get_visible() and axis.get_visible() and label.get_visible()
                        and label.get_text().strip() and lo - 1e-9 <= tick.get_loc() <= hi + 1e-9):
                    shown.append(label)
    return every, shown


def _texts(fig) -> list:
    """The text a reader sees: visible, not empty, on a visible axes (or on the figure);
    tick labels only where the axes shows its axis and the tick lies inside the view."""
    from matplotlib.text import Text

    _canvas(fig).draw()
    ticks, out = set(), []
    for ax in fig.axes:
        every, shown = _tick_labels(ax)
        ticks |= every
        out += shown
    for t in fig.findobj(Text):
        if id(t) in ticks or not (t.get_visible() and t.get_text().strip()):
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        out.append(t)
    return out


def figure_problems(fig, min_width_px: int = MIN_WIDTH_PX, min_font: float = MIN_FONT_SIZE,
                    overlaps: bool = True) -> list[str]:
    """What breaks the style rules in a drawn figure, as readable strings ([] when fine):
    stored PNG narrower than `min_width_px`, text smaller than `min_font` points, and (with
    `overlaps`) two pieces of text whose boxes overlap by more than a few pixels."""
    problems = []
    width, height = png_size(png_bytes(fig))
    if width < min_width_px:
        problems.append(f"stored figure is {width} px wide (< {min_width_px})")
    texts = _texts(fig)
    renderer = _canvas(fig).get_renderer()
    for t in texts:
        if t.get_fontsize() < min_font - 1e-9:
            problems.append(f"text {t.get_text()!r} is {t.get_fontsize():g} pt (< {min_font})")
    if overlaps:
        boxes = [(t, t.get_window_extent(renderer)) for t in texts]
        for i, (t1, b1) in enumerate(boxes):
            for t2, b2 in boxes[i + 1:]:
                w = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
                h = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
                if w > 2 and h > 2:
                    problems.append(f"texts {t1.get_text()!r} and {t2.get_text()!r} overlap")
    return problems
