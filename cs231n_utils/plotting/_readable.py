"""Readable-figure settings shared by plotting/history, plotting/normalization and
plotting/architectures (STYLE.md: at least 500 px wide, fonts >= 9 pt, grids >= 24 px per cell,
a colorbar wherever colour encodes a value, grey for images, one diverging map for signed values).

`figure(...)` makes a figure at DPI with those fonts; `matrix_panel(...)` draws one grid of values
at a given pixel size per cell with its colorbar; `overlapping_texts(fig)` and `cell_pixels(...)`
measure a drawn figure, for the tests.
"""
from __future__ import annotations

import numpy as np

DPI = 100
MIN_FONT = 9
IMAGE_CMAP = "gray"
SIGNED_CMAP = "RdBu_r"       # diverging: negative blue, zero white, positive red
CELL_PX = 24

_RC = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9,
       "ytick.labelsize": 9, "legend.fontsize": 9, "figure.titlesize": 11}


def figure(nrows: int = 1, ncols: int = 1, figsize=(7, 3.2), **kwargs):
    """plt.subplots at DPI with fonts of at least MIN_FONT points. Returns (fig, axes)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(_RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, dpi=DPI, **kwargs)
    for ax in np.ravel(axes):
        _readable_axes(ax)
    return fig, axes


def _readable_axes(ax) -> None:
    ax.tick_params(labelsize=MIN_FONT)
    ax.title.set_fontsize(max(ax.title.get_fontsize(), 10))
    for label in (ax.xaxis.label, ax.yaxis.label):
        label.set_fontsize(max(label.get_fontsize(), 10))


def panel_inches(rows: int, cols: int, cell_px: int = CELL_PX) -> tuple:
    """Width and height in inches of a grid of rows x cols cells at cell_px pixels each."""
    return cols * cell_px / DPI, rows * cell_px / DPI


def matrix_panel(ax, values: np.ndarray, *, signed: bool = True, vmax: float | None = None,
                 title: str = "", numbers: bool = False, fmt: str = "{:.1f}", colorbar: bool = True):
    """Draw a 2-D grid of values: diverging map centred on 0 (signed) or grey (images), nearest
    cells, no ticks, a colorbar beside it, and optionally the numbers in the cells."""
    import matplotlib.pyplot as plt

    values = np.asarray(values, dtype=np.float64)
    if signed:
        v = float(np.nanmax(np.abs(values))) if vmax is None else float(vmax)
        v = v or 1.0
        im = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-v, vmax=v, interpolation="nearest")
    else:
        lo, hi = (float(np.nanmin(values)), float(np.nanmax(values))) if vmax is None else (0.0, float(vmax))
        im = ax.imshow(values, cmap=IMAGE_CMAP, vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if numbers:
        norm = im.norm
        for (i, j), v in np.ndenumerate(values):
            text = "-inf" if np.isneginf(v) else fmt.format(v)
            dark = np.isfinite(v) and abs(norm(v) - 0.5) > 0.3     # deep colour: white text
            ax.text(j, i, text, ha="center", va="center", fontsize=MIN_FONT,
                    color="white" if dark else "black")
    cbar = plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04) if colorbar else None
    if cbar is not None:
        cbar.ax.tick_params(labelsize=MIN_FONT)
    return im


def cell_pixels(ax, shape) -> float:
    """Smallest on-screen size, in pixels, of one cell of an image of `shape` drawn on `ax`."""
    fig = ax.figure
    fig.canvas.draw()
    box = ax.get_window_extent()
    return min(box.width / shape[1], box.height / shape[0])


def overlapping_texts(fig, extra_artists=()) -> list:
    """Pairs of visible, non-empty text labels (and `extra_artists`) of `fig` whose boxes overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    items = []
    for ax in fig.axes:
        for t in list(ax.texts) + [ax.title, ax.xaxis.label, ax.yaxis.label]:
            if t.get_visible() and t.get_text().strip():
                items.append((t.get_text(), t.get_window_extent(renderer)))
    for art in extra_artists:
        items.append((str(art), art.get_window_extent(renderer)))
    pairs = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if items[i][1].overlaps(items[j][1]):
                pairs.append((items[i][0], items[j][0]))
    return pairs
