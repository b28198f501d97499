"""Figures for 06_architectures: accuracy vs cost, per-layer cost profiles, loss curves.

Every function draws on the given axes (or a new small figure) and returns the data it drew,
so the tests can check the numbers without looking at pixels.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .. import architectures as arch

__all__ = ["accuracy_vs_cost", "layer_profile", "loss_curves"]


def _axes(ax, ncols=1, figsize=(6, 3)):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, axes = plt.subplots(1, ncols, figsize=figsize, dpi=80)
    return axes


# labels of points that sit close together go below their point
_LABEL_OFFSETS = {"resnet18": (3, -10), "shufflenet_v2_x1_0": (3, -10)}


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
    ax1, ax2 = _axes(axes, 2, (9, 3.4))
    for ax, key, xlabel in ((ax1, "gmacs", "multiply-adds (G, log scale)"),
                            (ax2, "mparams", "parameters (M, log scale)")):
        paper = np.array(["paper" in s for s in data["sources"]], dtype=bool)
        ax.scatter(data[key][~paper], data["top1"][~paper], c="C0", label="torchvision acc@1")
        ax.scatter(data[key][paper], data["top1"][paper], c="C1", marker="s", label="paper")
        for x, y, lab, name in zip(data[key], data["top1"], data["labels"], data["names"]):
            ax.annotate(lab, (x, y), fontsize=7, xytext=_LABEL_OFFSETS.get(name, (3, 3)),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.margins(x=0.15, y=0.1)                       # room for the labels at the edges
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ImageNet top-1 (%)")
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")
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
    ax1, ax2 = _axes(axes, 2, (9, 3))
    x = np.arange(len(rows))
    ax1.bar(x, data["memory_mb"], color="C0")
    ax1.set_ylabel("activations (MB)")
    ax2.bar(x, data["mparams"], color="C3")
    ax2.set_ylabel("parameters (M)")
    for ax in (ax1, ax2):
        ax.set_xticks(x)
        ax.set_xticklabels(data["names"], rotation=90, fontsize=6)
    ax1.set_title(f"{summary.name}: memory per layer", fontsize=9)
    ax2.set_title(f"{summary.name}: parameters per layer", fontsize=9)
    return data


def loss_curves(curves: Mapping[str, Sequence[float]], ax=None, ylabel: str = "training loss",
                title: str = "", xlabel: str = "epoch") -> dict:
    """One line per labelled curve (e.g. plain vs residual), x = 1, 2, ... Returns {label: np.array}.

    Shown in 06, section 6.
    """
    ax = _axes(ax)
    data = {label: np.asarray(values, dtype=float) for label, values in curves.items()}
    for label, values in data.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return data
