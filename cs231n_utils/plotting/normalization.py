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
from . import _readable as R

__all__ = ["plot_lrn_fibre", "channel_statistics", "plot_channel_statistics",
           "plot_training_comparison", "layer_statistics", "plot_layer_statistics",
           "plot_batch_dependence", "norm_batch_table", "plot_norm_vs_batch", "norm_groups",
           "plot_norm_axes"]


def _axes(ax, figsize, ncols=1):
    if ax is None:
        _, ax = R.figure(1, ncols, figsize=figsize)
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
    ax = _axes(ax, (7, 3))
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
    ax.legend(fontsize=R.MIN_FONT)
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
    axes = _axes(axes, (8, 3), ncols=2)
    C = sb["mean"].size
    ch = np.arange(C)
    for ax, key in zip(np.ravel(axes), ("mean", "std")):
        ax.bar(ch - 0.2, sb[key], width=0.4, color="0.6", label="before")
        ax.bar(ch + 0.2, sa[key], width=0.4, color="C1", label="after")
        ax.set_xticks(ch)
        ax.set_xlabel("channel")
        ax.set_title(f"per-channel {key} over (N, H, W)")
    np.ravel(axes)[0].legend(fontsize=R.MIN_FONT)
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
    axes = _axes(axes, (9, 3.2), ncols=2)
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
    ax_acc.legend(fontsize=R.MIN_FONT, loc="lower right")
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
    ax = _axes(ax, (7, 3))
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
    ax.legend(fontsize=R.MIN_FONT, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return out


def plot_batch_dependence(dep: Mapping[str, np.ndarray], ax=None) -> dict:
    """How much one image's normalised output moves with its batchmates, against the batch size:
    batch norm (decreasing) and group norm (zero). `dep` is `groupnorm.batch_dependence(...)`.
    Returns {"batch_sizes", "bn_spread", "gn_spread"} as drawn.

    Shown in 04, section 4.
    """
    sizes = np.asarray(dep["batch_sizes"], dtype=np.float64)
    bn, gn = np.asarray(dep["bn_spread"], dtype=np.float64), np.asarray(dep["gn_spread"], dtype=np.float64)
    if not sizes.shape == bn.shape == gn.shape:
        raise ValueError(f"batch_sizes {sizes.shape}, bn_spread {bn.shape} and gn_spread {gn.shape} must match")
    ax = _axes(ax, (7, 3))
    ax.plot(sizes, bn, "-o", color="C0", label="batch norm (train mode)")
    ax.plot(sizes, gn, "-s", color="C1", label="group norm")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{int(b)}" for b in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("spread of one image's output")
    ax.set_title("does an image's output depend on the rest of its batch?")
    ax.legend(fontsize=R.MIN_FONT)
    ax.grid(alpha=0.3)
    return {"batch_sizes": sizes, "bn_spread": bn, "gn_spread": gn}


def norm_batch_table(results: Mapping) -> dict:
    """From `groupnorm.load_results()`: per normalisation, the batch sizes and the mean, std,
    min and max over seeds of the final validation error. Returns {"bn": {...}, "gn": {...}}
    with arrays "batch_sizes", "mean", "std", "min", "max" and "seeds" (runs per size)."""
    out: dict = {}
    for cfg in results["configs"]:
        finals = np.array([r["val_err"][-1] for r in results["runs"][cfg["label"]]])
        d = out.setdefault(cfg["norm"], {k: [] for k in ("batch_sizes", "mean", "std", "min", "max", "seeds")})
        for key, value in (("batch_sizes", cfg["batch_size"]), ("mean", finals.mean()), ("std", finals.std()),
                           ("min", finals.min()), ("max", finals.max()), ("seeds", finals.size)):
            d[key].append(value)
    return {norm: {k: np.asarray(v) for k, v in d.items()} for norm, d in out.items()}


def plot_norm_vs_batch(results: Mapping, axes=None) -> dict:
    """Left: our digits runs, final validation error (mean over seeds, bars = min..max) against
    the batch size for BN and GN. Right: the published ImageNet numbers stored with the results
    (Wu & He 2018). Returns {"ours": norm_batch_table(results), "published": {...}}.

    Shown in 04, section 4.
    """
    table = norm_batch_table(results)
    pub = results.get("published")
    axes = _axes(axes, (10, 3.4), ncols=2)
    ax1, ax2 = np.ravel(axes)[:2]
    names = {"bn": "batch norm", "gn": "group norm"}
    for i, (norm, d) in enumerate(table.items()):
        x = d["batch_sizes"] * (0.96 if norm == "bn" else 1.04)     # side by side, not on top
        ax1.errorbar(x, 100 * d["mean"], yerr=[100 * (d["mean"] - d["min"]), 100 * (d["max"] - d["mean"])],
                     fmt="-o" if norm == "bn" else "-s", color=f"C{i}", capsize=3,
                     label=f"{names[norm]} (mean of {int(d['seeds'][0])} seeds, bars min..max)")
    ax1.set_title("digits (our runs)")
    if pub:
        for i, (key, norm) in enumerate((("bn_err_pct", "bn"), ("gn_err_pct", "gn"))):
            ax2.plot(pub["batch_sizes"], pub[key], "-o" if norm == "bn" else "-s", color=f"C{i}", label=names[norm])
        ax2.set_title("ImageNet, ResNet-50 (Wu & He 2018)")
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ticks = sorted(set(int(b) for b in table[next(iter(table))]["batch_sizes"]))
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel("batch size (images per batch)")
        ax.set_ylabel("validation error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=R.MIN_FONT)
    return {"ours": table, "published": pub}


def norm_groups(kind: str, N: int, C: int, groups: int = 2) -> np.ndarray:
    """Which (image, channel) pairs share one mean and variance: an (N, C) array of group ids
    (all H x W positions of a pair always share them). kind: "batch" (one group per channel),
    "layer" (one per image), "instance" (one per image and channel), "group" (per image and
    group of C/groups channels)."""
    N, C = check_int(N, "N", 1), check_int(C, "C", 1)
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    if kind == "batch":
        return c
    if kind == "layer":
        return n
    if kind == "instance":
        return n * C + c
    if kind == "group":
        groups = check_int(groups, "groups", 1)
        if C % groups:
            raise ValueError(f"groups={groups} must divide C={C}")
        return n * groups + c // (C // groups)
    raise ValueError(f"kind must be 'batch', 'layer', 'instance' or 'group', got {kind!r}")


def plot_norm_axes(N: int = 4, C: int = 8, groups: int = 2, axes=None) -> dict:
    """Four grids of N images (rows) x C channels (columns): the cells shaded like (image 0,
    channel 0) share its mean and variance under batch, layer, instance and group norm.
    Returns {kind: (N, C) boolean mask of the shaded cells}.

    Shown in 04, section 4.
    """
    kinds = ("batch", "layer", "instance", "group")
    if axes is None:
        _, axes = R.figure(1, 4, figsize=(13, 3))
    out = {}
    for ax, kind in zip(np.ravel(axes), kinds):
        g = norm_groups(kind, N, C, groups)
        mask = g == g[0, 0]
        out[kind] = mask
        ax.imshow(np.where(mask, 1.0, 0.15), cmap="Blues", vmin=0, vmax=1.2, interpolation="nearest")
        ax.set_xticks(np.arange(-0.5, C), minor=True)
        ax.set_yticks(np.arange(-0.5, N), minor=True)
        ax.grid(which="minor", color="white", lw=1.5)
        ax.tick_params(which="minor", length=0)
        ax.set_xticks([0, C - 1])
        ax.set_xticklabels(["c=0", f"c={C - 1}"])
        ax.set_yticks([0, N - 1])
        ax.set_yticklabels(["n=0", f"n={N - 1}"])
        title = f"{kind} norm" + (f" (G={groups})" if kind == "group" else "")
        ax.set_title(f"{title}\n{int(mask.sum())} x H x W values share one mean")
    np.ravel(axes)[0].set_ylabel("image in the batch")
    for ax in np.ravel(axes):
        ax.set_xlabel("channel")
    return out
