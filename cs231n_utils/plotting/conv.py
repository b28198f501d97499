"""Figures for 02_convolution: volumes, connectivity, the conv explorer frame, activation maps.

Every function draws on a new figure in the workbook's style (`plotting.style`: 100 dpi, at
least 500 px wide, no text under 9 pt, grey for images, one diverging map with a colorbar for
signed values) or on given axes, and returns a dict with the data it drew plus the matplotlib
`figure`, so tests can check the picture's content:

- `plot_volumes`               3-D boxes for N x C x H x W volumes (深度 = depth), optional highlights
- `plot_connections_1d`        one row of neurons: local connectivity (稀疏连接), receptive field
                               (感受野), stride (步长), zero padding (零填充), parameter sharing (参数共享)
- `plot_conv_frame`            the conv explorer picture: padded input, window taps, output grid
- `plot_number_grids`          small arrays drawn as annotated grids (kernels, worked examples)
- `plot_activation_maps`       a photo and the activation maps (激活映射) of several filters
- `plot_receptive_field_growth` receptive field (and output size) vs depth for several stacks
- `plot_activation_memory`     memory of each layer's output along the depth of real nets
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon, Rectangle

from ..explorers import ConvFrame
from ..shapes import conv_output_size, receptive_field
from . import style

__all__ = ["plot_volumes", "plot_connections_1d", "plot_conv_frame", "plot_number_grids",
           "plot_activation_maps", "plot_receptive_field_growth", "plot_activation_memory",
           "grid_cell_inches"]

_FONT = style.MIN_FONT_SIZE
_INPUT, _PAD, _TAP, _COVER, _LEFT, _OUT, _CUR = ("#ffffff", "#d9d9d9", "#e4572e", "#fde2c8",
                                                 "#9ecae1", "#f0f0f0", "#e4572e")


def _new_axes(ncols: int, figsize, axes=None):
    style.apply()
    if axes is not None:
        axes = list(np.atleast_1d(axes))
        return axes[0].figure, axes
    fig, axes = style.figure(1, ncols, figsize=figsize, squeeze=False)
    return fig, list(axes[0])


def _box(ax, x0: float, y0: float, w: float, h: float, d: float, color: str, alpha: float = 1.0):
    """Oblique-projection box: front face w x h at (x0, y0), depth d going up-right. Returns polygons."""
    dx, dy = 0.5 * d, 0.5 * d
    front = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    top = [(x0, y0 + h), (x0 + w, y0 + h), (x0 + w + dx, y0 + h + dy), (x0 + dx, y0 + h + dy)]
    side = [(x0 + w, y0), (x0 + w + dx, y0 + dy), (x0 + w + dx, y0 + h + dy), (x0 + w, y0 + h)]
    for poly, shade in ((side, 0.75), (top, 0.9), (front, 1.0)):
        ax.add_patch(Polygon(poly, closed=True, facecolor=color, edgecolor="black", alpha=alpha * shade,
                             linewidth=0.8))
    return {"front": front, "top": top, "side": side}


def plot_volumes(volumes: Sequence[tuple[str, Sequence[int]]],
                 highlights: Mapping[str, tuple[int, int, int, int]] | None = None,
                 scale: str = "sqrt", figsize=(7, 2.6), ax=None) -> dict:
    """Draw volumes side by side as boxes: width = W, height = H, depth (receding) = C.

    volumes: (label, shape) pairs with shape (C, H, W) or (N, C, H, W); a batch is drawn as up
    to up to 3 copies behind each other. highlights: label -> (row, col, height, width) of a
    region drawn in red through the full depth, e.g. a receptive field (感受野) in the input
    and the depth column (深度列, height = width = 1) it feeds in the output. scale "sqrt"
    keeps a 3-channel 224-pixel image and a 512-channel 7-pixel map both visible; "linear"
    draws true proportions. Returns {"boxes": [{"label", "shape", "drawn": (w, h, d),
    "polygons", "highlight"}], "figure"}; ValueError for a highlight outside its volume.

    Shown in 02, sections 1, 2.
    """
    f = np.sqrt if scale == "sqrt" else (lambda v: float(v))
    if scale not in ("sqrt", "linear"):
        raise ValueError(f"scale must be 'sqrt' or 'linear', got {scale!r}")
    own = ax is None
    fig, (ax,) = _new_axes(1, figsize, ax)
    if own:                          # equal aspect leaves side margins: keep them, not a narrow crop
        style.keep_full_size(fig)
    x0, boxes, top = 0.0, [], 0.0
    palette = ["#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fc9272"]
    for k, (label, shape) in enumerate(volumes):
        shape = tuple(int(s) for s in shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"{label}: shape must be (C, H, W) or (N, C, H, W), got {shape}")
        n = shape[0] if len(shape) == 4 else 1
        c, h, w = shape[-3:]
        dw, dh, dd = float(f(w)), float(f(h)), float(f(c))
        color = palette[k % len(palette)]
        polys = []
        copies = min(n, 3)
        for m in reversed(range(copies)):
            off = 0.35 * m * max(dw, dh) / 2
            polys.append(_box(ax, x0 + off, off, dw, dh, dd, color, alpha=1.0 if m == 0 else 0.45))
        region = (highlights or {}).get(label)
        if region is not None:
            r, c, rh, rw = region
            if r < 0 or c < 0 or r + rh > h or c + rw > w:
                raise ValueError(f"{label}: highlight rows {r}..{r + rh - 1}, cols {c}..{c + rw - 1} "
                                 f"lie outside the {h}x{w} volume")
            _box(ax, x0 + c * dw / w, dh - (r + rh) * dh / h, rw * dw / w, rh * dh / h, dd, _TAP)
        text = " x ".join(str(s) for s in shape)
        ax.text(x0 + dw / 2, -0.12 * max(dh, 1), f"{label}\n{text}", ha="center", va="top", fontsize=_FONT + 1)
        boxes.append({"label": label, "shape": shape, "drawn": (dw, dh, dd), "polygons": polys[-1],
                      "highlight": region})
        extra = 0.35 * (copies - 1) * max(dw, dh) / 2
        top = max(top, dh + dd / 2 + extra)
        x0 += dw + dd / 2 + extra + 0.6 * max(dw, 2.0)
    ax.set_xlim(-0.5, x0)
    ax.set_ylim(-0.45 * top - 1, top * 1.05 + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return {"boxes": boxes, "figure": fig}


def plot_connections_1d(n_inputs: int, filter_size: int, stride: int = 1, pad: int = 0,
                        ax=None, figsize=(6.5, 2.4), title: str | None = None) -> dict:
    """One row of input neurons and the output neurons of a 1-D conv, with every connection drawn.

    Output k is connected only to inputs k*S .. k*S+F-1 of the zero-padded row (local, sparse
    connectivity; those F inputs are its receptive field). Edges are coloured by which filter
    weight they carry: the same F colours repeat for every output (parameter sharing). With
    `filter_size = n_inputs + 2*pad` this is a fully connected layer. Padding neurons are grey.
    Returns {"edges": [(out, padded_in, weight_index)], "padded": (n+2P,) 0/1 array,
    "n_outputs", "n_weights" (distinct weights: F, whatever the number of outputs), "figure"}.
    Raises ValueError (from `conv_output_size`) when the setting does not fit.

    Shown in 02, section 2.
    """
    n_out = conv_output_size(n_inputs, filter_size, stride, pad)
    padded = np.zeros(n_inputs + 2 * pad, dtype=np.int64)
    padded[pad:pad + n_inputs] = 1
    edges = [(k, k * stride + t, t) for k in range(n_out) for t in range(filter_size)]
    fig, (ax,) = _new_axes(1, figsize, ax)
    colors = plt.get_cmap("tab10")
    xin = np.arange(padded.size, dtype=float)
    # centre each output above the middle of its window
    xout = np.array([k * stride + (filter_size - 1) / 2 for k in range(n_out)])
    for k, i, t in edges:
        ax.plot([xin[i], xout[k]], [0, 1], color=colors(t % 10), linewidth=1.4, zorder=1)
    ax.scatter(xin, np.zeros_like(xin), s=160, c=[_PAD if p == 0 else "#ffffff" for p in padded],
               edgecolors="black", zorder=2)
    ax.scatter(xout, np.ones_like(xout), s=160, c="#fdae6b", edgecolors="black", zorder=2)
    for i in range(padded.size):
        ax.text(xin[i], -0.3, "0" if padded[i] == 0 else f"x{i - pad}", ha="center", va="top", fontsize=_FONT)
    ax.set_ylim(-0.65, 1.4)
    ax.set_xlim(-0.8, padded.size - 0.2)
    ax.axis("off")
    ax.set_title(title or f"W={n_inputs}, F={filter_size}, S={stride}, P={pad}: {n_out} outputs")
    for t in range(min(filter_size, 10)):
        ax.plot([], [], color=colors(t), label=f"w{t}")
    if filter_size <= 5:
        ax.legend(fontsize=_FONT, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return {"edges": edges, "padded": padded, "n_outputs": n_out, "n_weights": filter_size,
            "figure": fig}


def grid_cell_inches(n_cells: int, budget: float = 9.0, largest: float = 0.42) -> float:
    """Side of one grid cell, in inches, when `n_cells` cells share `budget` inches: at most
    `largest`, never under `style.MIN_CELL_PX` (plus a margin) so every cell stays readable."""
    smallest = (style.MIN_CELL_PX + 2) / style.DPI
    return float(min(largest, max(smallest, budget / max(n_cells, 1))))


def _grid_axes(widths: Sequence[int], height: int, cell: float, top: float = 0.55,
               bottom: float = 0.15, gap: float = 0.55, side: float = 0.2):
    """A figure with one axes per grid, placed in inches so every cell is `cell` inches wide."""
    style.apply()
    total = side * 2 + cell * sum(widths) + gap * (len(widths) - 1)
    width = max(total, (style.MIN_WIDTH_PX + 40) / style.DPI)
    fig_h = bottom + cell * height + top
    fig = plt.figure(figsize=(width, fig_h), dpi=style.DPI)
    style.keep_full_size(fig)
    x = side + (width - total) / 2
    axes = []
    for w in widths:
        axes.append(fig.add_axes([x / width, bottom / fig_h, cell * max(w, 1) / width,
                                  cell * height / fig_h]))
        x += cell * w + gap
    return fig, axes


def plot_conv_frame(frame: ConvFrame, axes=None, figsize=None) -> dict:
    """Draw one conv-explorer frame: the padded input grid and the output grid.

    Left: real input pixels white, zero padding grey, the taps read by the current output in
    red (dilated taps are spread out), cells that some window reads lightly shaded when the
    setting does not fit exactly, and the rows/cols no window reaches in blue. Right: the
    output grid with the current output in red; for a setting that does not fit exactly it
    is the rounded-down grid frameworks compute (hatched). Both grids use the same cell size
    (at least `style.MIN_CELL_PX` pixels). Returns {"grid", "taps", "output", "index",
    "leftover", "covered", "valid", "cell_inches", "figure"}.

    Shown in 02, sections 2, 4, 8.
    """
    g = frame.geometry
    n = g.padded_size
    m = frame.output.shape[0]
    cell = grid_cell_inches(n + max(m, 1))
    if axes is None:
        fig, (ax_in, ax_out) = _grid_axes([n, max(m, 1)], max(n, m, 1), cell, top=0.85, bottom=0.45)
    else:
        fig, (ax_in, ax_out) = _new_axes(2, figsize, axes)
    inexact = not g.valid
    for r in range(n):
        for c in range(n):
            color = _INPUT if frame.grid[r, c] else _PAD
            if inexact and frame.covered[r, c]:
                color = _COVER
            if r in frame.leftover or c in frame.leftover:
                color = _LEFT
            ax_in.add_patch(Rectangle((c, n - 1 - r), 1, 1, facecolor=color, edgecolor="#888888",
                                      linewidth=0.6))
    for r, c in frame.taps:
        ax_in.add_patch(Rectangle((c + 0.15, n - 1 - r + 0.15), 0.7, 0.7, facecolor=_TAP,
                                  edgecolor="none"))
    if g.pad:
        ax_in.add_patch(Rectangle((g.pad, g.pad), g.size, g.size, fill=False, edgecolor="black",
                                  linewidth=1.6))
    top = max(n, m, 1)
    for ax, w in ((ax_in, n), (ax_out, max(m, 1))):
        ax.set_xlim(-0.05, w + 0.05)                     # the same cell size in both grids
        ax.set_ylim(n - top - 0.05, n + 0.05)
        ax.set_aspect("equal")
        ax.axis("off")
    ax_in.set_title(f"input {g.size}x{g.size} + pad {g.pad}\n= {n}x{n}")
    for r in range(m):
        for c in range(m):
            ax_out.add_patch(Rectangle((c, n - 1 - r), 1, 1, edgecolor="#888888", linewidth=0.6,
                                       facecolor=_CUR if frame.output[r, c] else _OUT,
                                       hatch="//" if inexact and not frame.output[r, c] else None))
    if g.valid:
        ax_out.set_title(f"output {m}x{m}\nfits exactly")
    elif m:
        ax_out.set_title(f"floor: {m}x{m}\n(not exact)")
    else:
        ax_out.set_title("no output")
        ax_out.text(0.05, n / 2, "the window is\nlarger than the\npadded input", ha="left",
                    va="center", fontsize=_FONT)
    if axes is None:
        key = ["grey = zero padding"] if g.pad else []
        key += ["red = read by the current output"] if frame.index is not None else []
        key += ["blue = never read"] if frame.leftover else []
        fig.text(0.5, 0.04 / fig.get_figheight(), ", ".join(key), ha="center", va="bottom", fontsize=_FONT)
    return {"grid": frame.grid, "taps": frame.taps, "output": frame.output, "index": frame.index,
            "leftover": frame.leftover, "covered": frame.covered, "valid": g.valid,
            "cell_inches": cell, "figure": fig}


def plot_number_grids(arrays: Mapping[str, np.ndarray], fmt: str | Mapping[str, str] = "{:.0f}",
                      cmap: str | None = None, figsize=None, axes=None,
                      highlight: Mapping[str, np.ndarray] | None = None,
                      symmetric: bool = True, shade: Mapping[str, np.ndarray] | None = None) -> dict:
    """Draw small 2-D arrays side by side as coloured grids with each value written in its cell.

    arrays: title -> 2-D array; fmt: format for the numbers (one for all, or title -> format);
    highlight: title -> bool mask of cells to outline in black; shade: title -> bool mask of
    cells to grey out (e.g. rows a pool never reads). symmetric: signed data, colours
    `style.SIGNED_CMAP` with limits +-max|a|; else non-negative data in `style.COUNT_CMAP`
    from min to 2*max - min, light enough to read the numbers (`cmap` overrides either).
    Every value is written in its cell, so the grids need no colorbar. On a new figure every
    cell is at least `style.MIN_CELL_PX` px and wide enough for its longest number. Returns
    {"arrays": {title: array}, "texts": {title: [[str]]}, "cell_inches", "figure"}.

    Shown in 03, sections 1, 3 (through `plotting.pooling`).
    """
    items = [(k, np.asarray(v, dtype=np.float64)) for k, v in arrays.items()]
    for k, v in items:
        if v.ndim != 2:
            raise ValueError(f"{k}: expected a 2-D array, got shape {v.shape}")
    forms = {k: (fmt[k] if isinstance(fmt, Mapping) else fmt) for k, _ in items}
    texts = {}
    for k, a in items:
        rows = [[forms[k].format(v) for v in row] for row in a]
        texts[k] = [["0" if s in ("-0", "-0.0", "-0.00") else s for s in row] for row in rows]
    longest = max((len(s) for rows in texts.values() for row in rows for s in row), default=1)
    cell = max(grid_cell_inches(sum(a.shape[1] for _, a in items)), 0.09 * longest + 0.1)
    if axes is None and figsize is None:
        fig, axs = _grid_axes([a.shape[1] for _, a in items], max(a.shape[0] for _, a in items), cell,
                              top=0.45)
    else:
        fig, axs = _new_axes(len(items), figsize or (2.1 * len(items), 2.3), axes)
    cmap = cmap or (style.SIGNED_CMAP if symmetric else style.COUNT_CMAP)
    for ax, (title, a) in zip(axs, items):
        if symmetric:
            lo, hi = style.signed_limits(a)
        else:
            lo = float(a.min()) if a.size else 0.0
            hi = float(a.max()) if a.size else 1.0
            hi = hi + (hi - lo) if hi > lo else lo + 1.0
        ax.imshow(a, cmap=cmap, vmin=lo, vmax=hi)
        if shade and title in shade:
            ax.imshow(np.ma.masked_where(~np.asarray(shade[title], bool), np.ones_like(a)),
                      cmap="Greys", vmin=0, vmax=2.5, alpha=0.85)
        for r, row in enumerate(texts[title]):
            for c, s in enumerate(row):
                ax.text(c, r, s, ha="center", va="center", fontsize=_FONT)
        if highlight and title in highlight:
            for r, c in zip(*np.nonzero(highlight[title])):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="black",
                                       linewidth=2))
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    return {"arrays": dict(items), "texts": texts, "cell_inches": cell, "figure": fig}


def plot_activation_maps(image: np.ndarray, maps: Mapping[str, np.ndarray], figsize=None,
                         ncols: int = 4) -> dict:
    """A grey photo followed by one activation map (激活映射) per filter, each with a colorbar.

    maps: filter name -> 2-D response. A signed map (edges) is drawn with the diverging map
    `style.SIGNED_CMAP` centred on 0 (positive red, negative blue), clipped at the 99th
    percentile of |response| so that a few extreme pixels do not wash the rest out; an
    image-like map (mean above half the mean |response|: identity, blurs, sharpen) is drawn
    in grey between its 1st and 99th percentiles. Returns {"image", "maps", "ranges": {name:
    (min, max)}, "limits": {name: (vmin, vmax) used for the colours}, "figure"}.

    Shown in 02, section 6.
    """
    n = 1 + len(maps)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axs = style.figure(nrows, ncols, figsize=figsize or (2.6 * ncols, 2.1 * nrows), squeeze=False)
    axs = axs.ravel()
    style.show_image(axs[0], image, f"input {image.shape[0]}x{image.shape[1]}")
    ranges, limits = {}, {}
    for ax, (name, m) in zip(axs[1:], maps.items()):
        title = f"{name} {m.shape[0]}x{m.shape[1]}"
        if m.mean() > 0.5 * np.abs(m).mean():     # image-like (blur, sharpen): grey, clipped 1..99%
            limits[name] = (float(np.percentile(m, 1)), float(np.percentile(m, 99)))
            im = style.show_image(ax, m, title, vmin=limits[name][0], vmax=limits[name][1])
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=_FONT)
        else:
            _, limits[name] = style.show_signed(ax, m, title, percentile=99)
        ranges[name] = (float(m.min()), float(m.max()))
    for ax in axs:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for ax in axs[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return {"image": image, "maps": dict(maps), "ranges": ranges, "limits": limits, "figure": fig}


def plot_receptive_field_growth(stacks: Mapping[str, Sequence], input_size: int | None = None,
                                figsize=None, ax=None) -> dict:
    """Receptive field (感受野) size after each layer, one line per stack; with `input_size`,
    a second panel shows each stack's output size (strides shrink it, dilation keeps it).

    stacks: name -> layers in the format of `shapes.receptive_field` (dicts with filter_size,
    stride, pad, dilation, or tuples). Curves that coincide stay visible: each stack has its
    own colour and marker; a stack equal to an earlier one is drawn as a thin dashed line on
    top of a wide translucent one, and the legend says which stacks are equal. Returns {"sizes": {name: [rf after layer 1, 2, ...]}, "outputs":
    {name: [output size after each layer]} (empty without input_size), "same_as": {name:
    earlier stack with the same sizes}, "figure"}.

    Shown in 02, section 8.
    """
    panels = 2 if input_size else 1
    if ax is None:
        fig, axs = style.figure(1, panels, figsize=figsize or (5.2 * panels, 3.8), squeeze=False)
        axs = list(axs[0])
    else:
        axs = list(np.atleast_1d(ax))
        fig = axs[0].figure
    sizes, outputs, same_as = {}, {}, {}
    all_rf = {name: [r.size for r in receptive_field(layers)] for name, layers in stacks.items()}
    names = list(stacks)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    for k, (name, layers) in enumerate(stacks.items()):
        rf = all_rf[name]
        twin = next((other for other in names[:k] if all_rf[other] == rf), None)
        has_twin = any(all_rf[other] == rf for other in names[k + 1:])
        sizes[name] = rf
        if twin is not None:             # drawn on top of its twin: thin, dashed, dark
            same_as[name] = twin
            kw = dict(color="black", linestyle="--", marker="^", linewidth=1.8, markersize=6, zorder=5,
                      label=f"{name} (same as {twin})")
        elif has_twin:                   # drawn first and wide, so the twin on top stays visible
            kw = dict(color=colors[k % 5], linestyle="-", marker="s", linewidth=7, markersize=13,
                      alpha=0.45, label=name)
        else:
            kw = dict(color=colors[k % 5], linestyle="-", marker="os^dv"[k % 5], linewidth=2.5,
                      markersize=7, label=name)
        steps = range(1, len(rf) + 1)
        axs[0].plot(steps, rf, **kw)
        if input_size:
            out, size = [], int(input_size)
            for layer in layers:
                f, s, p, *rest = layer if not isinstance(layer, Mapping) else (
                    layer["filter_size"], layer.get("stride", 1), layer.get("pad", 0), layer.get("dilation", 1))
                size = conv_output_size(size, f, s, p, rest[0] if rest else 1, rounding="floor")
                out.append(size)
            outputs[name] = out
            axs[1].plot(steps, out, **kw)
    depth = max((len(v) for v in sizes.values()), default=0)
    for a in axs:
        a.set_xticks(range(1, depth + 1))
        a.set_xlabel("layer")
        a.grid(alpha=0.3)
    axs[0].set_yscale("log", base=2)
    axs[0].set_ylabel("receptive field (pixels)")
    handles, labels = axs[0].get_legend_handles_labels()
    if input_size:
        axs[1].set_yscale("log", base=2)
        axs[1].set_ylabel(f"output size (input {input_size})")
    for a in axs:
        a.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    # the legend below the panels, where it covers no curve
    rows = 1 if len(labels) <= 3 and sum(map(len, labels)) < 14 * fig.get_figwidth() else len(labels)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels) if rows == 1 else 1, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * rows + 0.05, 1, 1))
    return {"sizes": sizes, "outputs": outputs, "same_as": same_as, "figure": fig}


def plot_activation_memory(summaries: Mapping[str, object], figsize=(7.5, 3.4), ax=None) -> dict:
    """Memory of each layer's output (float32, one image) along the depth of several nets.

    summaries: name -> `architectures.NetSummary`; rows with a spatial output (C, H, W) are
    drawn, in order, against their position in the net (0 = the input, 1 = the last spatial
    layer), on a logarithmic axis: the first layers, where the maps are largest, dominate
    the memory, which is why the first layer is the place for a compromise (a large stride).
    Returns {"memory": {name: [(row name, MB)]}, "first_layer": {name: (row name, MB)},
    "figure"}.

    Shown in 02, section 9.
    """
    fig, (ax,) = _new_axes(1, figsize, ax)
    memory, first = {}, {}
    markers = "os^dv"
    for k, (name, summary) in enumerate(summaries.items()):
        rows = [(r.name, r.activation_bytes / 1e6) for r in summary.rows if len(r.output_shape) == 3]
        memory[name] = rows
        first[name] = rows[1] if len(rows) > 1 else rows[0]
        pos = np.linspace(0, 1, len(rows))
        ax.plot(pos, [mb for _, mb in rows], marker=markers[k % 5], markersize=5, linewidth=1.6,
                label=f"{name}: first layer {first[name][1]:.1f} MB")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("position in the net (0 = input image, 1 = last conv/pool layer)")
    ax.set_ylabel("output of the layer (MB)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return {"memory": memory, "first_layer": first, "figure": fig}
