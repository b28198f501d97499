"""Grids of values drawn the workbook's way (`plotting.style`), shared by plotting/history and
plotting/architectures: a panel of one grid at a given pixel size per cell, with the diverging map
and a colorbar for signed values (or grey for images), optionally with the numbers in the cells.
"""
from __future__ import annotations

import numpy as np

from . import style

DPI = style.DPI
MIN_FONT = style.MIN_FONT_SIZE
SIGNED_CMAP = style.SIGNED_CMAP
CELL_PX = style.MIN_CELL_PX


def figure(nrows: int = 1, ncols: int = 1, figsize=(7, 3.2), **kwargs):
    """`style.figure`: the workbook's style, DPI, at least 500 px wide. Returns (fig, axes)."""
    return style.figure(nrows, ncols, figsize=figsize, **kwargs)


def panel_inches(rows: int, cols: int, cell_px: int = CELL_PX) -> tuple:
    """Width and height in inches of a grid of rows x cols cells at cell_px pixels each."""
    return cols * cell_px / DPI, rows * cell_px / DPI


def matrix_panel(ax, values: np.ndarray, *, signed: bool = True, vmax: float | None = None,
                 title: str = "", numbers: bool = False, fmt: str = "{:.1f}", colorbar: bool = True):
    """Draw a 2-D grid of values: the diverging map centred on 0 (signed) or grey (images),
    no ticks, a colorbar beside it, and optionally the numbers in the cells (white on deep colours)."""
    values = np.asarray(values, dtype=np.float64)
    if signed:
        v = float(np.nanmax(np.abs(values))) if vmax is None else float(vmax)
        im, _ = style.show_signed(ax, values, title=title or None, colorbar=colorbar, limits=(-(v or 1.0), v or 1.0))
    else:
        lo, hi = (float(np.nanmin(values)), float(np.nanmax(values))) if vmax is None else (0.0, float(vmax))
        im = style.show_image(ax, values, title=title or None, vmin=lo, vmax=hi if hi > lo else lo + 1)
        if colorbar:
            ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=MIN_FONT)
    if numbers:
        norm = im.norm
        for (i, j), v in np.ndenumerate(values):
            text = "-inf" if np.isneginf(v) else fmt.format(v)
            dark = np.isfinite(v) and abs(norm(v) - 0.5) > 0.3
            ax.text(j, i, text, ha="center", va="center", fontsize=MIN_FONT, color="white" if dark else "black")
    return im
