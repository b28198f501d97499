"""Figures about training a ConvNet: curves, filter grids, activation maps, errors, confusion.

Every function draws on a matplotlib Axes (a new small figure when `ax` is None) and returns
the numbers it drew, so tests can check a picture without looking at pixels. The pure
helpers (`make_grid`, `smooth`, `confusion_matrix`, `misclassified`) draw nothing.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["smooth", "make_grid", "vector_grid", "confusion_matrix", "misclassified", "plot_curves",
           "plot_filters", "plot_activations", "plot_confusion_matrix", "plot_misclassified"]


def _axes(ax, figsize=(6, 3), ncols=1):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(1, ncols, figsize=figsize, dpi=80)
    return ax


def smooth(values: Sequence[float], window: int = 10) -> np.ndarray:
    """Running mean over the last `window` values (shorter at the start); same length as values."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def make_grid(maps: np.ndarray, ncols: int | None = None, pad: int = 1, normalize: str = "each",
              pad_value: float = 1.0) -> np.ndarray:
    """Tile K 2-D maps (K, H, W) into one image with `pad` pixels between tiles.

    normalize: "each" scales every map to 0..1 on its own (a constant map becomes 0.5),
    "all" uses one scale for all maps, "none" keeps the values. Returns the (rows*(H+pad)-pad,
    ncols*(W+pad)-pad) array; gaps and unused tiles hold `pad_value`.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (K, H, W), got {maps.shape}")
    K, H, W = maps.shape
    if K == 0:
        raise ValueError("maps is empty (K = 0)")
    if normalize == "each":
        lo = maps.min(axis=(1, 2), keepdims=True)
        hi = maps.max(axis=(1, 2), keepdims=True)
        span = hi - lo
        maps = np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0.5)
    elif normalize == "all":
        lo, hi = maps.min(), maps.max()
        maps = (maps - lo) / (hi - lo) if hi > lo else np.full_like(maps, 0.5)
    elif normalize != "none":
        raise ValueError(f"normalize must be 'each', 'all' or 'none', got {normalize!r}")
    ncols = int(ncols) if ncols else int(np.ceil(np.sqrt(K)))
    nrows = int(np.ceil(K / ncols))
    grid = np.full((nrows * (H + pad) - pad, ncols * (W + pad) - pad), pad_value, dtype=np.float64)
    for k in range(K):
        r, c = divmod(k, ncols)
        grid[r * (H + pad):r * (H + pad) + H, c * (W + pad):c * (W + pad) + W] = maps[k]
    return grid


def vector_grid(v, width: int = 16) -> np.ndarray:
    """Lay a vector of D values out as rows of `width` (a 64-vector becomes 4 x 16) so it can be
    drawn like an activation map; the unused end of the last row is NaN (drawn blank)."""
    v = np.asarray(v, dtype=np.float64).ravel()
    width = min(width, max(1, v.size))
    rows = int(np.ceil(v.size / width))
    out = np.full(rows * width, np.nan)
    out[:v.size] = v
    return out.reshape(rows, width)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """C[i, j] = number of examples of true class i predicted as class j (int64)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape")
    k = int(num_classes) if num_classes else int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def misclassified(y_true, y_pred, scores=None, max_n: int | None = None) -> np.ndarray:
    """Indices where y_pred != y_true; most confident mistakes first when scores (N, C) are given."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    idx = np.nonzero(y_true != y_pred)[0]
    if scores is not None and idx.size:
        s = np.asarray(scores, dtype=np.float64)[idx]
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        idx = idx[np.argsort(-p.max(axis=1), kind="stable")]
    return idx[:max_n] if max_n is not None else idx


def plot_curves(history: Mapping, axes=None, window: int = 10, title: str | None = None) -> dict:
    """Loss per iteration (with a running mean) and train/val accuracy per epoch, side by side.

    `history`: a Solver's history (keys "loss", "train_acc", "val_acc"). Returns dict with
    iterations, loss, loss_smooth, epochs, train_acc, val_acc (numpy arrays).

    Shown in 05, section 7.
    """
    loss = np.asarray(history.get("loss", []), dtype=np.float64)
    train_acc = np.asarray(history.get("train_acc", []), dtype=np.float64)
    val_acc = np.asarray(history.get("val_acc", []), dtype=np.float64)
    data = {"iterations": np.arange(1, loss.size + 1), "loss": loss, "loss_smooth": smooth(loss, window),
            "epochs": np.arange(1, train_acc.size + 1), "train_acc": train_acc, "val_acc": val_acc}
    ax1, ax2 = _axes(axes, figsize=(7, 2.6), ncols=2)
    ax1.plot(data["iterations"], loss, color="0.75", lw=0.8, label="per batch")
    ax1.plot(data["iterations"], data["loss_smooth"], color="C0", lw=1.5, label=f"mean of {window}")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("loss")
    ax1.legend(fontsize=8)
    ax2.plot(data["epochs"], train_acc, "o-", ms=3, label="train")
    ax2.plot(data["epochs"], val_acc, "s-", ms=3, label="val")
    ax2.set_xlabel("epoch")
    from matplotlib.ticker import MaxNLocator
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_ylabel("accuracy")
    ax2.legend(fontsize=8)
    if title:
        ax1.figure.suptitle(title, fontsize=10)
    ax1.figure.tight_layout()
    return data


def plot_filters(W: np.ndarray, ax=None, ncols: int | None = None, title: str = "first-layer filters") -> dict:
    """Show conv filters W (F, C, k, k) as a grid of k x k tiles (channels averaged if C > 1).

    Returns dict with grid (the image drawn) and maps (F, k, k).

    Shown in 05, section 9; 07, section 5.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 4:
        raise ValueError(f"W must be conv weights (F, C, k, k), got shape {W.shape}")
    maps = W.mean(axis=1)
    grid = make_grid(maps, ncols=ncols, normalize="each")
    ax = _axes(ax, figsize=(3, 3))
    ax.imshow(grid, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return {"grid": grid, "maps": maps}


def plot_activations(activations: Mapping[str, np.ndarray], image: np.ndarray | None = None,
                     index: int = 0, max_maps: int = 16, layers: Sequence[str] | None = None,
                     figsize=None) -> dict:
    """Activation maps (激活映射) layer by layer for example `index` of a batch.

    `activations`: layer name -> array (N, C, H, W) (vectors (N, D) are shown as rows of 16
    values, see `vector_grid`), e.g. from `model.forward(X, return_activations=True)`. Shows at most `max_maps`
    channels per layer. Returns dict layer name -> the grid (2-D array) drawn for it.

    Shown in 05, section 9.
    """
    import matplotlib.pyplot as plt

    names = list(layers) if layers is not None else list(activations)
    missing = [n for n in names if n not in activations]
    if missing:
        raise KeyError(f"no activations for {missing}; available: {list(activations)}")
    grids = {}
    for n in names:
        a = np.asarray(activations[n])[index]
        if a.ndim == 3:
            grids[n] = make_grid(a[:max_maps], ncols=min(8, max(1, min(len(a), max_maps))),
                                 normalize="all", pad_value=np.nan)
        else:
            grids[n] = vector_grid(a)
    panels = len(names) + (image is not None)
    fig, axes = plt.subplots(1, panels, figsize=figsize or (min(1.6 * panels, 12), 2.2), dpi=80,
                             squeeze=False)
    axes = axes[0]
    k = 0
    if image is not None:
        axes[0].imshow(np.asarray(image).reshape(np.asarray(image).shape[-2:]), cmap="gray_r")
        axes[0].set_title("input", fontsize=8)
        axes[0].axis("off")
        k = 1
    for ax, n in zip(axes[k:], names):
        ax.imshow(grids[n], cmap="viridis", interpolation="nearest")
        ax.set_title(n, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return grids


def plot_confusion_matrix(y_true, y_pred, num_classes: int | None = None, ax=None,
                          labels: Sequence | None = None) -> np.ndarray:
    """Confusion matrix (混淆矩阵) with counts in the cells; returns the matrix.

    Shown in 05, section 9.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    ax = _axes(ax, figsize=(3.6, 3.2))
    ax.imshow(cm, cmap="Blues")
    k = cm.shape[0]
    ticks = list(labels) if labels is not None else list(range(k))
    ax.set_xticks(range(k), ticks, fontsize=7)
    ax.set_yticks(range(k), ticks, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    return cm


def plot_misclassified(X, y_true, y_pred, scores=None, max_n: int = 10, ncols: int = 10) -> dict:
    """Show up to `max_n` misclassified images titled "true->pred" (most confident first).

    Returns dict with indices, true, pred (numpy arrays).

    Shown in 05, section 9.
    """
    import matplotlib.pyplot as plt

    idx = misclassified(y_true, y_pred, scores, max_n)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    data = {"indices": idx, "true": y_true[idx], "pred": y_pred[idx]}
    n = max(1, idx.size)
    cols = min(ncols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols + 0.5, 1.2 * rows), dpi=80, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), idx):
        img = np.asarray(X[i])
        ax.imshow(img.reshape(img.shape[-2:]) if img.shape[0] == 1 else img.transpose(1, 2, 0), cmap="gray_r")
        ax.set_title(f"{y_true[i]}->{y_pred[i]}", fontsize=8)
    fig.tight_layout()
    return data
