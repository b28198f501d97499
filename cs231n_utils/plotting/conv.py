"""Figures for 02_convolution: volumes, connectivity, the conv explorer frame, activation maps.

Every function draws on a new small figure (or on given axes) and returns a dict with the data
it drew plus the matplotlib `figure`, so tests can check the picture's content:

- `plot_volumes`               3-D boxes for N x C x H x W volumes (深度 = depth), optional highlights
- `plot_connections_1d`        one row of neurons: local connectivity (稀疏连接), receptive field
                               (感受野), stride (步长), zero padding (零填充), parameter sharing (参数共享)
- `plot_conv_frame`            the conv explorer picture: padded input, window taps, output grid
- `plot_number_grids`          small arrays drawn as annotated grids (kernels, worked examples)
- `plot_activation_maps`       a photo and the activation maps (激活映射) of several filters
- `plot_receptive_field_growth` receptive field vs depth for several stacks (e.g. dilated vs not)
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon, Rectangle

from ..explorers import ConvFrame
from ..shapes import receptive_field

__all__ = ["plot_volumes", "plot_connections_1d", "plot_conv_frame", "plot_number_grids",
           "plot_activation_maps", "plot_receptive_field_growth", "DPI"]

DPI = 72
_INPUT, _PAD, _TAP, _COVER, _LEFT, _OUT, _CUR = ("#ffffff", "#d9d9d9", "#e4572e", "#fde2c8",
                                                 "#9ecae1", "#f0f0f0", "#e4572e")


def _new_axes(ncols: int, figsize, axes=None):
    if axes is not None:
        axes = list(np.atleast_1d(axes))
        return axes[0].figure, axes
    fig, axes = plt.subplots(1, ncols, figsize=figsize, dpi=DPI, squeeze=False)
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
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, dpi=DPI)
    else:
        fig = ax.figure
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
        ax.text(x0 + dw / 2, -0.12 * max(dh, 1), f"{label}\n{text}", ha="center", va="top", fontsize=9)
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
                        ax=None, figsize=(6, 2.2), title: str | None = None) -> dict:
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
    from ..shapes import conv_output_size

    n_out = conv_output_size(n_inputs, filter_size, stride, pad)
    padded = np.zeros(n_inputs + 2 * pad, dtype=np.int64)
    padded[pad:pad + n_inputs] = 1
    edges = [(k, k * stride + t, t) for k in range(n_out) for t in range(filter_size)]
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, dpi=DPI)
    else:
        fig = ax.figure
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
        ax.text(xin[i], -0.28, "0" if padded[i] == 0 else f"x{i - pad}", ha="center", fontsize=8)
    ax.set_ylim(-0.5, 1.4)
    ax.set_xlim(-0.8, padded.size - 0.2)
    ax.axis("off")
    ax.set_title(title or f"W={n_inputs}, F={filter_size}, S={stride}, P={pad}: {n_out} outputs",
                 fontsize=9)
    for t in range(min(filter_size, 10)):
        ax.plot([], [], color=colors(t), label=f"w{t}")
    if filter_size <= 5:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return {"edges": edges, "padded": padded, "n_outputs": n_out, "n_weights": filter_size,
            "figure": fig}


def plot_conv_frame(frame: ConvFrame, axes=None, figsize=(6.4, 3.0)) -> dict:
    """Draw one conv-explorer frame: the padded input grid and the output grid.

    Left: real input pixels white, zero padding grey, the taps read by the current output in
    red (dilated taps are spread out), cells that some window reads lightly shaded; for an
    invalid setting the rows/cols no window reaches are blue. Right: the output grid with the
    current output in red. Returns {"grid", "taps", "output", "index", "leftover",
    "covered", "valid", "figure"}.

    Shown in 02, sections 2, 4, 8.
    """
    fig, (ax_in, ax_out) = _new_axes(2, figsize, axes)
    g = frame.geometry
    n = g.padded_size
    for r in range(n):
        for c in range(n):
            color = _INPUT if frame.grid[r, c] else _PAD
            if not g.valid and frame.covered[r, c]:
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
    ax_in.set_xlim(-0.05, n + 0.05)                      # a little room: outer grid lines stay visible
    ax_in.set_ylim(-0.05, n + 0.05)
    ax_in.set_aspect("equal")
    ax_in.axis("off")
    ax_in.set_title(f"input {g.size}x{g.size} + pad {g.pad} -> {n}x{n}", fontsize=9)
    m = frame.output.shape[0]
    for r in range(m):
        for c in range(m):
            ax_out.add_patch(Rectangle((c, n - 1 - r), 1, 1, edgecolor="#888888", linewidth=0.6,
                                       facecolor=_CUR if frame.output[r, c] else _OUT))
    ax_out.set_xlim(-0.05, max(n, m, 1) + 0.05)          # same cell size as the input grid
    ax_out.set_ylim(-0.05, max(n, m, 1) + 0.05)
    ax_out.set_aspect("equal")
    ax_out.axis("off")
    ax_out.set_title(g.output_text if g.valid else "does not fit", fontsize=9)
    if not g.valid:
        ax_out.text(n / 2, n / 2, "no valid output:\nthe blue cells are\nnot reached by any\nwhole window"
                    if frame.leftover and frame.covered.any() else "no valid output:\nthe window is larger\n"
                    "than the padded input", ha="center", va="center", fontsize=9)
    return {"grid": frame.grid, "taps": frame.taps, "output": frame.output, "index": frame.index,
            "leftover": frame.leftover, "covered": frame.covered, "valid": g.valid, "figure": fig}


def plot_number_grids(arrays: Mapping[str, np.ndarray], fmt: str | Mapping[str, str] = "{:.0f}", cmap: str = "coolwarm",
                      figsize=None, axes=None, highlight: Mapping[str, np.ndarray] | None = None,
                      symmetric: bool = True) -> dict:
    """Draw small 2-D arrays side by side as coloured grids with each value written in its cell.

    arrays: title -> 2-D array; fmt: format for the numbers (one for all, or title -> format); highlight: title -> bool mask of
    cells to outline in black; symmetric: colour limits +-max|a| (signed data, diverging cmap),
    else min..(2*max - min) so a sequential cmap stays light enough to read the numbers. Returns {"arrays": {title: array}, "texts": {title: [[str]]},
    "figure"}.

    Shown in 03, sections 1, 3 (through `plotting.pooling`).
    """
    items = [(k, np.asarray(v, dtype=np.float64)) for k, v in arrays.items()]
    for k, v in items:
        if v.ndim != 2:
            raise ValueError(f"{k}: expected a 2-D array, got shape {v.shape}")
    figsize = figsize or (2.1 * len(items), 2.3)
    fig, axs = _new_axes(len(items), figsize, axes)
    texts = {}
    for ax, (title, a) in zip(axs, items):
        form = fmt[title] if isinstance(fmt, Mapping) else fmt
        fontsize = 8 if max(a.shape) <= 8 else 6
        if symmetric:
            lim = float(np.abs(a).max()) if a.size else 1.0
            lo, hi = -(lim or 1.0), (lim or 1.0)
        else:
            lo = float(a.min()) if a.size else 0.0
            hi = float(a.max()) if a.size else 1.0
            hi = hi + (hi - lo) if hi > lo else lo + 1.0
        ax.imshow(a, cmap=cmap, vmin=lo, vmax=hi)
        rows = []
        for r in range(a.shape[0]):
            row = []
            for c in range(a.shape[1]):
                s = form.format(a[r, c])
                s = "0" if s in ("-0", "-0.0", "-0.00") else s
                row.append(s)
                ax.text(c, r, s, ha="center", va="center", fontsize=fontsize)
            rows.append(row)
        if highlight and title in highlight:
            for r, c in zip(*np.nonzero(highlight[title])):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="black",
                                       linewidth=2))
        texts[title] = rows
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return {"arrays": dict(items), "texts": texts, "figure": fig}


def plot_activation_maps(image: np.ndarray, maps: Mapping[str, np.ndarray], figsize=None,
                         ncols: int = 4) -> dict:
    """A grey photo followed by one activation map (激活映射) per filter.

    maps: filter name -> 2-D response. A signed map (edges) is drawn with a diverging colour
    map centred on 0 (positive red, negative blue), clipped at the 99th percentile of
    |response| so that a few extreme pixels do not wash the rest out; an image-like map (mean
    above half the mean |response|: identity, blurs, sharpen) is drawn in grey between its
    1st and 99th percentiles. Returns {"image", "maps", "ranges": {name: (min, max)},
    "limits": {name: (vmin, vmax) used for the colours}, "figure"}.

    Shown in 02, section 6.
    """
    n = 1 + len(maps)
    nrows = int(np.ceil(n / ncols))
    figsize = figsize or (2.2 * ncols, 1.9 * nrows)
    fig, axs = plt.subplots(nrows, ncols, figsize=figsize, dpi=DPI, squeeze=False)
    axs = axs.ravel()
    axs[0].imshow(image, cmap="gray")
    axs[0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=9)
    ranges, limits = {}, {}
    for ax, (name, m) in zip(axs[1:], maps.items()):
        if m.mean() > 0.5 * np.abs(m).mean():     # image-like (blur, sharpen): grey, clipped 1..99%
            limits[name] = (float(np.percentile(m, 1)), float(np.percentile(m, 99)))
            ax.imshow(m, cmap="gray", vmin=limits[name][0], vmax=limits[name][1])
        else:
            lim = float(np.percentile(np.abs(m), 99)) or float(np.abs(m).max()) or 1.0
            limits[name] = (-lim, lim)
            ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"{name} {m.shape[0]}x{m.shape[1]}", fontsize=9)
        ranges[name] = (float(m.min()), float(m.max()))
    for ax in axs:
        ax.axis("off")
    fig.tight_layout()
    return {"image": image, "maps": dict(maps), "ranges": ranges, "limits": limits, "figure": fig}


def plot_receptive_field_growth(stacks: Mapping[str, Sequence], figsize=(5, 3), ax=None) -> dict:
    """Receptive field (感受野) size after each layer, one line per stack.

    stacks: name -> layers in the format of `shapes.receptive_field` (dicts with filter_size,
    stride, pad, dilation, or tuples). Returns {"sizes": {name: [rf after layer 1, 2, ...]},
    "figure"}.

    Shown in 02, section 8.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, dpi=DPI)
    else:
        fig = ax.figure
    sizes = {}
    for name, layers in stacks.items():
        rf = [r.size for r in receptive_field(layers)]
        sizes[name] = rf
        k = len(sizes) - 1                        # styles differ so equal curves stay visible
        ax.plot(range(1, len(rf) + 1), rf, marker="os^dv"[k % 5], linestyle=["-", "--", ":"][k % 3],
                markersize=7 - k % 3 * 1.5, label=name)
    ax.set_xticks(range(1, max((len(v) for v in sizes.values()), default=0) + 1))
    ax.set_xlabel("layer")
    ax.set_ylabel("receptive field (pixels)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return {"sizes": sizes, "figure": fig}
