"""Figures for 06_architectures: accuracy vs cost, per-layer cost profiles, the degradation curves,
ResNet's padded max pool and training memory against the batch size.

Every function draws on the given axes (or a new small figure) and returns the data it drew,
so the tests can check the numbers without looking at pixels.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .. import architectures as arch
from . import _readable as R

__all__ = ["accuracy_vs_cost", "layer_profile", "degradation_curves",
           "padded_max_pool", "memory_vs_batch"]


def _axes(ax, ncols=1, figsize=(7, 3.2)):
    if ax is not None:
        return ax
    _, axes = R.figure(1, ncols, figsize=figsize)
    return axes


# where a label may go relative to its point (offset in points, horizontal alignment), in order
_CANDIDATES = (((6, 4), "left"), ((6, -13), "left"), ((0, 8), "center"), ((0, -18), "center"),
               ((-6, 4), "right"), ((-6, -13), "right"), ((6, 16), "left"), ((6, -25), "left"))


def _place_labels(ax, xs, ys, labels) -> list:
    """Annotate each point with the first candidate position whose box overlaps no label placed
    before it and no point marker; returns the annotations."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    points = [ax.transData.transform((x, y)) for x, y in zip(xs, ys)]
    placed, boxes = [], []
    for k, (x, y, lab) in enumerate(zip(xs, ys, labels)):
        for offset, ha in _CANDIDATES:
            a = ax.annotate(lab, (x, y), xytext=offset, textcoords="offset points", ha=ha,
                            fontsize=R.MIN_FONT)
            box = a.get_window_extent(renderer).padded(3)          # keep clear of markers (~6 px)
            hits_point = any(box.contains(px, py) for j, (px, py) in enumerate(points) if j != k)
            if not hits_point and not any(box.overlaps(b) for b in boxes):
                break
            a.remove()
        else:   # nowhere free: keep the first candidate
            a = ax.annotate(lab, (x, y), xytext=_CANDIDATES[0][0], textcoords="offset points",
                            fontsize=R.MIN_FONT)
            box = a.get_window_extent(renderer)
        placed.append(a)
        boxes.append(box)
    return placed


def accuracy_vs_cost(names: Sequence[str] | None = None, axes=None) -> dict:
    """ImageNet top-1 accuracy against multiply-adds (left) and parameters (right), log x axes.

    x values are our computed totals (`architectures.summarize`); accuracies come from
    `architectures.published_figures` (torchvision's acc@1 where it ships the model, else the paper).
    Returns {"names", "labels", "gmacs", "mparams", "top1", "sources"} (arrays in plot order).

    Shown in 06, section 8.
    """
    names = list(names or arch.available("ImageNet"))
    info = arch.published()
    rows = []
    for n in names:
        ref = arch.published_figures(n)
        if ref["top1"] is None:
            continue
        s = arch.summarize(n)
        rows.append((n, info[arch.spec(n).name]["display"], s.total_macs / 1e9,
                     s.total_params / 1e6, float(ref["top1"]), ref["source"]))
    data = {"names": [r[0] for r in rows], "labels": [r[1] for r in rows],
            "gmacs": np.array([r[2] for r in rows]), "mparams": np.array([r[3] for r in rows]),
            "top1": np.array([r[4] for r in rows]), "sources": [r[5] for r in rows]}
    ax1, ax2 = _axes(axes, 2, (11, 4.2))
    for ax, key, xlabel in ((ax1, "gmacs", "multiply-adds (G, log scale)"),
                            (ax2, "mparams", "parameters (M, log scale)")):
        paper = np.array(["paper" in s for s in data["sources"]], dtype=bool)
        ax.scatter(data[key][~paper], data["top1"][~paper], c="C0", label="torchvision acc@1")
        ax.scatter(data[key][paper], data["top1"][paper], c="C1", marker="s", label="paper")
        ax.set_xscale("log")
        ax.margins(x=0.25, y=0.12)                      # room for the labels at the edges
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ImageNet top-1 (%)")
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=R.MIN_FONT, loc="lower right")
    ax1.figure.tight_layout()
    for ax, key in ((ax1, "gmacs"), (ax2, "mparams")):
        _place_labels(ax, data[key], data["top1"], data["labels"])
    return data


def layer_profile(summary: "arch.NetSummary", axes=None, skip_kinds: Sequence[str] = ("input",)) -> dict:
    """Per-layer bars: activation memory (MB) on top, parameters (M) below, one bar per row.

    For VGG16 this is the course's point in one picture: memory sits in the early conv layers,
    parameters in the first FC layer. Returns {"names", "memory_mb", "mparams", "gmacs"}.

    Shown in 06, section 4.
    """
    rows = [r for r in summary.rows if r.kind not in skip_kinds]
    data = {"names": [r.name for r in rows],
            "memory_mb": np.array([r.activation_bytes / 1e6 for r in rows]),
            "mparams": np.array([r.params / 1e6 for r in rows]),
            "gmacs": np.array([r.macs / 1e9 for r in rows])}
    ax1, ax2 = _axes(axes, 2, (11, 3.6))
    x = np.arange(len(rows))
    ax1.bar(x, data["memory_mb"], color="C0")
    ax1.set_ylabel("activations (MB)")
    ax2.bar(x, data["mparams"], color="C3")
    ax2.set_ylabel("parameters (M)")
    for ax in (ax1, ax2):
        ax.set_xticks(x)
        ax.set_xticklabels(data["names"], rotation=90, fontsize=R.MIN_FONT)
    ax1.set_title(f"{summary.name}: memory per layer")
    ax2.set_title(f"{summary.name}: parameters per layer")
    return data


def degradation_curves(results: Mapping, key: str = "train_err", axes=None) -> dict:
    """Per configuration of `degradation.load_results()`: the mean over seeds of `key` ("train_err",
    "val_err" or "train_loss") after each epoch, with a band from the lowest to the highest seed.
    Left panel: the plain nets, right panel: the residual nets, on the same y axis.
    Returns label -> {"epochs", "mean", "min", "max"}.

    Shown in 06, section 6.
    """
    out = {}
    for cfg in results["configs"]:
        curves = np.array([r[key] for r in results["runs"][cfg["label"]]], dtype=np.float64)
        out[cfg["label"]] = {"epochs": np.arange(1, curves.shape[1] + 1), "mean": curves.mean(axis=0),
                             "min": curves.min(axis=0), "max": curves.max(axis=0), "seeds": len(curves)}
    ax1, ax2 = _axes(axes, 2, (11, 3.6))
    colours = {18: "C0", 34: "C3"}
    for cfg in results["configs"]:
        d = out[cfg["label"]]
        ax = ax2 if cfg["residual"] else ax1
        c = colours.get(cfg["depth"], "C2")
        ax.plot(d["epochs"], d["mean"], "-o", ms=3, color=c, label=f"{cfg['label']} (mean of {d['seeds']})")
        ax.fill_between(d["epochs"], d["min"], d["max"], color=c, alpha=0.2, lw=0)
    what = {"train_err": "training error", "val_err": "validation error", "train_loss": "training loss"}[key]
    for ax, title in ((ax1, "plain nets"), (ax2, "residual nets")):
        ax.set_title(f"{title}: {what} (band: lowest..highest seed)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=R.MIN_FONT)
    ax2.sharey(ax1)
    return out


def padded_max_pool(x: np.ndarray, size: int = 3, stride: int = 2, pad: int = 1, axes=None,
                    draw: bool = True) -> dict:
    """ResNet's max pool (3x3, stride 2, pad 1) on a small map x (H, W), drawn as numbers: the input
    padded with -inf (what frameworks do), the output, and the output with zero padding instead.

    Returns {"padded": (H+2p, W+2p) with -inf border, "out": pooled with -inf padding,
    "out_zero_pad": pooled with zero padding, "size_note": the output-size formula}. The
    output size is floor((W + 2P - F)/S) + 1, as in `shapes.conv_output_size(..., rounding="floor")`.
    draw=False only computes.

    Shown in 06, section 6.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    from ..netspec import rounding_note
    from ..shapes import conv_output_size, conv_size_formula

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D map (H, W), got shape {x.shape}")
    H = x.shape[0]
    padded = np.pad(x, pad, constant_values=-np.inf)

    def pool(a):   # every window that starts at a multiple of the stride and fits: floor rounding
        return sliding_window_view(a, (size, size))[::stride, ::stride].max(axis=(-2, -1))

    out, out_zero = pool(padded), pool(np.pad(x, pad))
    expected = conv_output_size(H, size, stride, pad, rounding="floor")
    if out.shape[0] != expected:
        raise AssertionError(f"pooled size {out.shape[0]} != formula {expected}")
    note = rounding_note(H, size, stride, pad, 1, "floor") or conv_size_formula(H, size, stride, pad)
    result = {"padded": padded, "out": out, "out_zero_pad": out_zero, "size_note": note}
    if not draw:
        return result
    if axes is None:
        _, axes = R.figure(1, 3, figsize=(12, 4.2), gridspec_kw={"width_ratios": [padded.shape[1], out.shape[1], out.shape[1]]})
    a0, a1, a2 = np.ravel(axes)[:3]
    vmax = float(np.abs(x).max())
    R.matrix_panel(a0, np.where(np.isinf(padded), np.nan, padded), vmax=vmax, colorbar=False,
                   title=f"input {x.shape[0]}x{x.shape[1]}, padded with -inf")
    for (i, j), v in np.ndenumerate(padded):
        a0.text(j, i, "-inf" if np.isinf(v) else f"{v:.0f}", ha="center", va="center", fontsize=R.MIN_FONT)
    R.matrix_panel(a1, out, vmax=vmax, numbers=True, fmt="{:.0f}", colorbar=False, title="max pool, -inf padding")
    R.matrix_panel(a2, out_zero, vmax=vmax, numbers=True, fmt="{:.0f}", title="max pool, zero padding")
    return result


def memory_vs_batch(names: Sequence[str] = ("alexnet", "vgg16", "resnet50", "mobilenet_v2"),
                    batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256),
                    optimizer: str = "adam", budgets_gib: Sequence[float] = (12, 24), ax=None) -> dict:
    """Training memory (GiB, `memory.training_memory`) against the batch size for several nets,
    with horizontal lines at GPU memory sizes. Returns {"batch_sizes", name: array of GiB, ...,
    "max_batch": {name: {budget: largest batch}}}.

    Shown in 06, section 10.
    """
    from ..memory import GiB, max_batch_size, training_memory

    ax = _axes(ax, 1, (8, 3.8))
    data: dict = {"batch_sizes": np.asarray(batch_sizes), "max_batch": {}}
    for i, name in enumerate(names):
        gib = np.array([training_memory(name, b, optimizer).total_bytes / GiB for b in batch_sizes])
        data[name] = gib
        data["max_batch"][name] = {g: max_batch_size(name, int(g * GiB), optimizer) for g in budgets_gib}
        ax.plot(batch_sizes, gib, "-o", ms=3, color=f"C{i}", label=arch.published()[name]["display"])
    for g in budgets_gib:
        ax.axhline(g, color="0.4", ls="--", lw=1)
        ax.text(batch_sizes[0], g * 1.08, f"{g:g} GiB GPU", fontsize=R.MIN_FONT, color="0.3")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(batch_sizes)
    ax.set_xticklabels([str(b) for b in batch_sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel(f"training memory, GiB ({optimizer})")
    ax.set_title("memory to train one mini-batch (float32)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=R.MIN_FONT, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return data
