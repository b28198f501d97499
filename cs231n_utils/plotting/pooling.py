"""Figures for 03_pooling: the pooling explorer frame and pooled photos.

Each function draws in the workbook's style (`plotting.style`) and returns a dict with the
data it drew plus the matplotlib `figure`:

- `plot_pool_frame`     input with the current window, the pooled output; in backward mode the
                        upstream gradient and where it lands (switches, 道岔, for max pooling)
- `plot_pooled_images`  a photo and its max / average / L2 pooled versions
- `plot_seed_comparison` results of several variants over several seeds: mean, spread, runs
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.patches import Rectangle

from ..explorers import PoolFrame
from . import style
from .conv import plot_number_grids

__all__ = ["plot_pool_frame", "plot_pooled_images", "plot_number_grids", "plot_seed_comparison"]


def _fmt(a: np.ndarray) -> str:
    return "{:.0f}" if np.allclose(a, np.round(a)) else "{:.2f}"


def plot_pool_frame(frame: PoolFrame, backward: bool = False, figsize=None) -> dict:
    """Draw one pooling-explorer frame as annotated number grids (every cell >= 24 px).

    Forward: x with the current window outlined and, for max pooling, every switch (argmax)
    marked; the pooled output with the current cell outlined. Backward: also dout and dx (the
    gradient routed back; with overlapping windows a pixel can collect several). For a
    setting that does not fit exactly the output is the rounded-down one frameworks compute
    and the rows/cols no window reads are greyed out. Returns {"arrays": {title: array},
    "texts", "window": (r0, r1, c0, c1) or None, "switches": (K, 2) array of marked x
    positions, "shaded": (H, W) bool, "figure"}; without any window only x is drawn.

    Shown in 03, section 5.
    """
    arrays = {"x": frame.x}
    highlight = {}
    has_output = frame.index is not None
    title = f"{frame.kind} pool" + ("" if frame.exact else " (floor)")
    if has_output:
        arrays[title] = frame.out
        cur = np.zeros(frame.out.shape, dtype=bool)
        cur[frame.index] = True
        highlight[title] = cur
        if backward:
            arrays["dout"] = frame.dout
            arrays["dx"] = frame.dx
    shaded = np.zeros(frame.x.shape, dtype=bool)
    for r in frame.geometry.leftover:
        shaded[r, :] = True
        shaded[:, r] = True
    switches = np.zeros((0, 2), dtype=np.int64)
    if has_output and frame.kind == "max":
        switches = np.unique(frame.switches.reshape(-1, 2), axis=0)
        mask = np.zeros(frame.x.shape, dtype=bool)
        mask[switches[:, 0], switches[:, 1]] = True
        highlight["x"] = mask
        if backward:
            highlight["dx"] = mask
    fmt = {k: _fmt(a) for k, a in arrays.items()}
    drawn = plot_number_grids(arrays, fmt=fmt, symmetric=False, highlight=highlight, figsize=figsize,
                              shade={"x": shaded, "dx": shaded})
    window = None
    if has_output:
        rs, cs = frame.window
        window = (rs.start, rs.stop, cs.start, cs.stop)
        drawn["figure"].axes[0].add_patch(Rectangle((cs.start - 0.5, rs.start - 0.5), cs.stop - cs.start,
                                                    rs.stop - rs.start, fill=False, edgecolor="#e4572e",
                                                    linewidth=3))
    return {"arrays": drawn["arrays"], "texts": drawn["texts"], "window": window,
            "switches": switches, "shaded": shaded, "figure": drawn["figure"]}


def plot_pooled_images(image: np.ndarray, pooled: Mapping[str, np.ndarray], figsize=None) -> dict:
    """A grey photo followed by its pooled versions (name -> 2-D array), each titled with its size.

    Returns {"image", "pooled", "shapes": {name: shape}, "figure"}.

    Shown in 03, section 2.
    """
    n = 1 + len(pooled)
    fig, axes = style.figure(1, n, figsize=figsize or (2.3 * n, 2.2), squeeze=False)
    axes = axes[0]
    style.show_image(axes[0], image, f"input {image.shape[0]}x{image.shape[1]}")
    shapes = {}
    for ax, (name, p) in zip(axes[1:], pooled.items()):
        style.show_image(ax, p, f"{name} {p.shape[0]}x{p.shape[1]}")
        shapes[name] = p.shape
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return {"image": image, "pooled": dict(pooled), "shapes": shapes, "figure": fig}


def plot_seed_comparison(results: Mapping[str, Sequence[float]], ylabel: str = "validation accuracy (%)",
                         figsize=(6.4, 3.0), ax=None) -> dict:
    """One row per variant: every seed's result as a dot, the mean as a black diamond with
    +-1 standard deviation as a line, so the spread between seeds is seen next to the difference in means.

    results: variant name -> one number per seed. Returns {"means", "stds" (population, ddof=0),
    "n_seeds", "figure"}.

    Shown in 03, section 8.
    """
    if not results or any(len(v) == 0 for v in results.values()):
        raise ValueError("results must map each variant to at least one number (one per seed)")
    if ax is None:
        fig, ax = style.figure(figsize=figsize)
    else:
        fig = ax.figure
    means, stds, n = {}, {}, {}
    for k, (name, values) in enumerate(results.items()):
        v = np.asarray(values, dtype=np.float64)
        means[name], stds[name], n[name] = float(v.mean()), float(v.std()), int(v.size)
        y = len(results) - 1 - k
        ax.scatter(v, np.full(v.size, y + 0.18), color="#e4572e", zorder=3, s=30)
        ax.errorbar(means[name], y - 0.12, xerr=stds[name], color="black", capsize=5, linewidth=1.5,
                    marker="D", markersize=7)
    lo = min(min(v) for v in results.values())
    hi = max(max(v) for v in results.values())
    span = max(hi - lo, 1e-9)
    ax.set_xlim(lo - 0.6 * span, hi + 0.4 * span)
    ax.set_ylim(-0.6, len(results) - 0.4)
    ax.set_yticks(range(len(results)))
    ax.set_yticklabels([f"{name}\n{means[name]:.1f} +- {stds[name]:.1f}" for name in reversed(list(results))])
    ax.set_xlabel(ylabel + f" ({max(n.values())} seeds; dots = single runs)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return {"means": means, "stds": stds, "n_seeds": n, "figure": fig}
