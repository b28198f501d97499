"""The numeric conv demo of 02 (CS231n's animation of a conv layer on a 3-channel input).

- `plot_conv_numbers(frame)` draws one `explorers.ConvNumbersFrame`, every number visible:

      row 1   the zero-padded input, one grid per channel, the current window in red
      row 2   under each input channel, that channel of every filter (w0[c], w1[c], ...);
              the filter being applied is framed in red
      row 3   under each channel, window * filter channel (element-wise), with its sum
      row 4   the output, one grid per filter, filled up to the number being computed
              (shaded), and the whole sum written out: channel sums + bias = output

It reads without a kernel (the notebook stores it as a picture) and is what the widget
`widgets.ConvNumbersExplorer` redraws at every step.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ..explorers import ConvNumbersFrame
from . import style

__all__ = ["plot_conv_numbers"]

_PAD_CELL, _WINDOW, _CURRENT, _PLAIN = "#e6e6e6", "#fde2c8", "#e4572e", "#ffffff"
_NOW = "#f4a582"           # the output number being computed (light enough to read)


def _num(v: float) -> str:
    v = float(v) + 0.0                                 # -0.0 -> 0.0: a product with a zero weight
    return f"{v:.0f}" if v == round(v) else f"{v:.1f}"


def _grid(ax, a: np.ndarray, colors: np.ndarray, title: str, frame_color: str | None = None) -> list:
    """Numbers of a 2-D array in cells coloured by `colors` (same shape, colour strings): one
    image for the colours and one line collection for the grid, then the numbers."""
    from matplotlib.colors import to_rgb

    h, w = a.shape
    rgb = np.array([[to_rgb(c) for c in row] for row in colors])
    ax.imshow(rgb, extent=(0, w, 0, h), interpolation="nearest")
    ax.hlines(np.arange(h + 1), 0, w, color="#999999", linewidth=0.6)
    ax.vlines(np.arange(w + 1), 0, h, color="#999999", linewidth=0.6)
    texts = []
    for r in range(h):
        row = []
        for c in range(w):
            s = "" if np.isnan(a[r, c]) else _num(a[r, c])
            if s:
                ax.text(c + 0.5, h - 0.5 - r, s, ha="center", va="center", fontsize=style.MIN_FONT_SIZE + 1)
            row.append(s)
        texts.append(row)
    if frame_color:
        ax.add_patch(Rectangle((0, 0), w, h, fill=False, edgecolor=frame_color, linewidth=3))
    ax.set_xlim(-0.1, w + 0.1)
    ax.set_ylim(-0.1, h + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=style.MIN_FONT_SIZE + 1)
    return texts


def plot_conv_numbers(frame: ConvNumbersFrame, cell: float = 0.3) -> dict:
    """Draw one step of the numeric conv demo (see the module docstring for the layout).

    cell: side of one number cell in inches (0.3 in = 30 px at `style.DPI`; at least
    `style.MIN_CELL_PX`). Returns {"texts": {grid title: [[str]]}, "window": (r0, r1, c0, c1)
    in padded coordinates, "filter_index", "index", "sum_text", "cell_px", "figure"}; output
    numbers not computed yet (later steps) are blank ("").

    Shown in 02, section 5.
    """
    style.apply()
    cell = max(float(cell), style.MIN_CELL_PX / style.DPI)
    C, hp, wp = frame.x_pad.shape
    K, _, F, _ = frame.w.shape
    _, oh, ow = frame.out.shape
    col_w = max(wp, K * F + (K - 1)) * cell             # one column per input channel
    gap, side, title_h = 0.45, 0.25, 0.42
    rows_h = [hp * cell, F * cell, F * cell, oh * cell]
    width = max(2 * side + C * col_w + (C - 1) * gap, (style.MIN_WIDTH_PX + 40) / style.DPI)
    text_h = 0.45
    height = sum(rows_h) + title_h * 4 + text_h + 0.15
    fig = plt.figure(figsize=(width, height), dpi=style.DPI)
    style.keep_full_size(fig)

    def axes_at(x_in, y_top_in, w_cells, h_cells):
        return fig.add_axes([x_in / width, (height - y_top_in - h_cells * cell) / height,
                             w_cells * cell / width, h_cells * cell / height])

    texts = {}
    k, (i, j) = frame.filter_index, frame.index
    rs, cs = frame.rows, frame.cols
    x0 = (width - (C * col_w + (C - 1) * gap)) / 2
    y = title_h
    for c in range(C):
        colors = np.full((hp, wp), _PLAIN, dtype=object)
        colors[:frame.pad, :] = colors[-frame.pad or hp:, :] = _PAD_CELL
        colors[:, :frame.pad] = colors[:, -frame.pad or wp:] = _PAD_CELL
        colors[rs, cs] = _WINDOW
        ax = axes_at(x0 + c * (col_w + gap) + (col_w - wp * cell) / 2, y, wp, hp)
        title = f"x channel {c} (pad {frame.pad})"
        texts[title] = _grid(ax, frame.x_pad[c], colors, title)
        ax.add_patch(Rectangle((cs.start, hp - rs.stop), F, F, fill=False, edgecolor=_CURRENT, linewidth=3))
    y += rows_h[0] + title_h
    for c in range(C):
        left = x0 + c * (col_w + gap) + (col_w - (K * F + K - 1) * cell) / 2
        for f in range(K):
            ax = axes_at(left + f * (F + 1) * cell, y, F, F)
            title = f"w{f} ch {c}"
            texts[title] = _grid(ax, frame.w[f, c], np.full((F, F), _PLAIN, dtype=object), title,
                                 _CURRENT if f == k else None)
    y += rows_h[1] + title_h
    for c in range(C):
        ax = axes_at(x0 + c * (col_w + gap) + (col_w - F * cell) / 2, y, F, F)
        title = f"x * w{k}: sum {_num(frame.channel_sums[c])}"
        texts[title] = _grid(ax, frame.products[c], np.full((F, F), _WINDOW, dtype=object), title)
    y += rows_h[2] + title_h
    out_total = K * ow + (K - 1) * 2
    left = (width - out_total * cell) / 2
    for f in range(K):
        colors = np.full((oh, ow), _PLAIN, dtype=object)
        if f == k:
            colors[i, j] = _NOW
        done = (np.arange(oh * ow).reshape(oh, ow) + f * oh * ow) <= frame.step
        ax = axes_at(left + f * (ow + 2) * cell, y, ow, oh)
        title = f"output {f} (b{f} = {_num(frame.b[f])})"
        texts[title] = _grid(ax, np.where(done, frame.out[f], np.nan), colors, title)
    sum_text = frame.text
    fig.text(0.5, 0.1 / height, sum_text, ha="center", va="bottom", fontsize=style.MIN_FONT_SIZE + 2,
             family="monospace")
    return {"texts": texts, "window": (rs.start, rs.stop, cs.start, cs.stop), "filter_index": k,
            "index": (i, j), "sum_text": sum_text, "cell_px": cell * style.DPI, "figure": fig}
