"""Figures for 04_normalization: LRN along a depth column, per-channel statistics before and
after batch norm, training curves with and without BN, and activation statistics per layer.

Every plotting function draws with matplotlib (on `ax`/`axes` if given, else on a new small
figure) and returns a dict with the data it drew. `layer_statistics` computes the numbers that
`plot_layer_statistics` draws.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..checks import check_int

__all__ = ["plot_lrn_fibre", "channel_statistics", "plot_channel_statistics",
           "plot_training_comparison", "layer_statistics", "plot_layer_statistics"]


def _axes(ax, figsize, ncols=1):
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(1, ncols, figsize=figsize, dpi=80)
    return ax


def plot_lrn_fibre(before: np.ndarray, after: np.ndarray, ax=None, log: bool | None = None) -> dict:
    """Activations of one depth column (深度列: all channels at one pixel) before and after LRN.

    before, after: (C,) arrays, drawn as paired bars per channel. Returns {"channels",
    "before", "after", "ratio"} with ratio = after / before (nan where before is 0): the
    factor LRN multiplied each channel by. `log`: logarithmic y axis (default: when every
    value is positive, so small and large activations are both visible).

    Shown in 04, section 1.
    """
    before = np.asarray(before, dtype=np.float64).ravel()
    after = np.asarray(after, dtype=np.float64).ravel()
    if before.shape != after.shape:
        raise ValueError(f"before has {before.size} channels but after has {after.size}")
    ax = _axes(ax, (6, 2.8))
    channels = np.arange(before.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(before != 0, after / np.where(before != 0, before, 1.0), np.nan)
    ax.bar(channels - 0.2, before, width=0.4, label="before LRN", color="0.6")
    ax.bar(channels + 0.2, after, width=0.4, label="after LRN", color="C0")
    if log is None:
        log = bool(np.all(before > 0) and np.all(after > 0))
    if log:
        ax.set_yscale("log")
    ax.set_xticks(channels)
    ax.set_xlabel("channel")
    ax.set_ylabel("activation" + (" (log scale)" if log else ""))
    ax.set_title("LRN on one depth column: strong neighbours suppress each other")
    ax.legend(fontsize=8)
    return {"channels": channels, "before": before, "after": after, "ratio": ratio, "log": log}


def channel_statistics(x: np.ndarray) -> dict:
    """Per-channel mean and standard deviation of an (N, C, H, W) batch, over axes (0, 2, 3).

    Returns {"mean": (C,), "std": (C,)}: exactly what spatial batch norm normalises.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    return {"mean": x.mean(axis=(0, 2, 3)), "std": x.std(axis=(0, 2, 3))}


def plot_channel_statistics(before: np.ndarray, after: np.ndarray, axes=None) -> dict:
    """Per-channel mean (left) and std (right) of two (N, C, H, W) batches, e.g. before and
    after spatial batch norm. Returns {"before": channel_statistics(before),
    "after": channel_statistics(after)}.

    Shown in 04, section 2.
    """
    sb, sa = channel_statistics(before), channel_statistics(after)
    if sb["mean"].shape != sa["mean"].shape:
        raise ValueError(f"before has {sb['mean'].size} channels but after has {sa['mean'].size}")
    axes = _axes(axes, (7, 2.6), ncols=2)
    C = sb["mean"].size
    ch = np.arange(C)
    for ax, key in zip(np.ravel(axes), ("mean", "std")):
        ax.bar(ch - 0.2, sb[key], width=0.4, color="0.6", label="before")
        ax.bar(ch + 0.2, sa[key], width=0.4, color="C1", label="after")
        ax.set_xticks(ch)
        ax.set_xlabel("channel")
        ax.set_title(f"per-channel {key} over (N, H, W)")
    np.ravel(axes)[0].legend(fontsize=8)
    return {"before": sb, "after": sa}


def plot_training_comparison(histories: Mapping[str, dict], axes=None, smooth: int = 10) -> dict:
    """Training loss (moving average over `smooth` iterations) and validation accuracy per
    epoch for several runs. `histories`: label -> a Solver history dict (keys "loss",
    "val_acc"). Returns label -> {"loss_smooth": array, "val_acc": array}.

    Shown in 04, section 3.
    """
    if not histories:
        raise ValueError("histories is empty; pass e.g. {'plain': solver.history}")
    smooth = check_int(smooth, "smooth (iterations averaged)", 1)
    axes = _axes(axes, (8, 2.8), ncols=2)
    ax_loss, ax_acc = np.ravel(axes)[:2]
    out = {}
    for i, (label, h) in enumerate(histories.items()):
        loss = np.asarray(h["loss"], dtype=np.float64)
        k = min(smooth, max(1, loss.size))
        sm = np.convolve(loss, np.ones(k) / k, mode="valid") if loss.size else loss
        acc = np.asarray(h["val_acc"], dtype=np.float64)
        ax_loss.plot(np.arange(sm.size) + k - 1, sm, color=f"C{i}", label=label)
        ax_acc.plot(np.arange(1, acc.size + 1), acc, "-o", ms=3, color=f"C{i}", label=label)
        out[label] = {"loss_smooth": sm, "val_acc": acc}
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel(f"training loss (mean of {smooth})")
    ax_loss.set_yscale("log")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.legend(fontsize=8, loc="lower right")
    return out


def layer_statistics(model, X: np.ndarray, mode: str = "test") -> list[dict]:
    """Mean and std of the input to every ReLU of a `Sequential` model (the pre-activations).

    For a CONV -> RELU net that is the conv output; for CONV -> BN -> RELU it is the BN output.
    Returns one dict per ReLU: {"layer": name of the layer feeding the ReLU, "relu": ReLU name,
    "mean": float, "std": float, "dead": fraction of values <= 0 (the ReLU outputs 0 there)}.
    `mode` "train" uses batch statistics in BN layers (and updates their running averages);
    "test" uses the running averages.

    Shown in 04, section 3.
    """
    _, acts = model.forward(X, mode, return_activations=True)
    names = list(acts)
    stats = []
    for i, name in enumerate(names):
        if model[name].kind == "RELU" and i > 0:
            pre = acts[names[i - 1]]
            stats.append({"layer": names[i - 1], "relu": name, "mean": float(pre.mean()),
                          "std": float(pre.std()), "dead": float(np.mean(pre <= 0))})
    if not stats:
        raise ValueError("the model has no ReLU after another layer; nothing to measure")
    return stats


def plot_layer_statistics(stats: Mapping[str, Sequence[dict]], ax=None) -> dict:
    """Std of the pre-activations at each depth for several models (label -> layer_statistics).

    Returns label -> {"depth": 1..L, "mean": array, "std": array}.

    Shown in 04, section 3.
    """
    if not stats:
        raise ValueError("stats is empty; pass e.g. {'plain': layer_statistics(model, X)}")
    ax = _axes(ax, (6, 2.8))
    out = {}
    for i, (label, rows) in enumerate(stats.items()):
        depth = np.arange(1, len(rows) + 1)
        mean = np.array([r["mean"] for r in rows])
        std = np.array([r["std"] for r in rows])
        ax.plot(depth, std, "-o", ms=4, color=f"C{i}", label=f"{label}: std")
        ax.plot(depth, mean, "--s", ms=3, color=f"C{i}", alpha=0.6, label=f"{label}: mean")
        out[label] = {"depth": depth, "mean": mean, "std": std}
    ax.axhline(0, color="0.6", lw=0.6)
    ax.axhline(1, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel("ReLU number (depth)")
    ax.set_ylabel("pre-activation statistic")
    ax.set_xticks(out[next(iter(out))]["depth"])
    ax.set_title("what each ReLU receives")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return out
