"""Figures for 07_transfer_learning: the two tasks, and the experiment tables as bar charts.

Each function returns a dict with the data it drew plus the matplotlib `figure`:

- `plot_tasks`            one row of source images (glyphs) and one of target images (digits)
- `plot_result_table`     grouped bars with +- std whiskers from a `transfer_fewshot.ResultTable`
- `plot_transfer_table`   grouped bars: test accuracy per strategy (bars) for each amount of
                          target data (groups), from a `transfer.TransferTable`
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_tasks", "plot_transfer_table", "plot_result_table"]

DPI = 80


def _first_per_class(X: np.ndarray, y: np.ndarray, per_class: int) -> np.ndarray:
    idx = [np.nonzero(y == c)[0][:per_class] for c in np.unique(y)]
    return np.concatenate(idx)


def plot_tasks(source_X, source_y, target_X, target_y, *, source_names=None, target_names=None,
               per_class: int = 1, figsize=(7, 2.2)) -> dict:
    """One row of source images and one of target images (the first `per_class` of each class).

    X: (N, 1, H, W); y: (N,) labels. `*_names` map a label to its printed name (e.g. label 0 of
    the target is digit 5). Returns {"source_index", "target_index": indices drawn,
    "source_titles", "target_titles", "figure"}.

    Shown in 07, section 1.
    """
    src_idx = _first_per_class(source_X, np.asarray(source_y), per_class)
    tgt_idx = _first_per_class(target_X, np.asarray(target_y), per_class)
    cols = max(len(src_idx), len(tgt_idx))
    fig, axes = plt.subplots(2, cols, figsize=figsize, dpi=DPI, squeeze=False)
    titles = {}
    for row, (name, X, y, idx, names) in enumerate(
            (("source", source_X, source_y, src_idx, source_names),
             ("target", target_X, target_y, tgt_idx, target_names))):
        titles[name] = []
        for j in range(cols):
            ax = axes[row, j]
            ax.axis("off")
            if j < len(idx):
                label = int(np.asarray(y)[idx[j]])
                title = str(names[label]) if names is not None else str(label)
                titles[name].append(title)
                ax.imshow(X[idx[j], 0], cmap="gray_r")
                ax.set_title(title, fontsize=9)
        axes[row, 0].text(-0.6, 0.5, name, transform=axes[row, 0].transAxes, ha="right",
                          va="center", fontsize=10)
    fig.tight_layout()
    return {"source_index": src_idx, "target_index": tgt_idx, "source_titles": titles["source"],
            "target_titles": titles["target"], "figure": fig}


def plot_transfer_table(table, *, title: str = "", figsize=(7, 3), ylim=None) -> dict:
    """Grouped bar chart of a TransferTable: one group per row (labels per class), one bar per
    column (strategy or layer), height = mean test accuracy in %, whiskers = min..max over seeds.

    Returns {"means": (rows, columns) array in %, "low", "high": the whisker ends in %,
    "groups": row labels, "columns": column names, "figure"}.

    (Used by notebook 07 before it moved to the glyph source.)
    """
    means = 100 * table.means()
    low = 100 * np.array([[min(table.acc[(k, s)]) for s in table.strategies] for k in table.shots])
    high = 100 * np.array([[max(table.acc[(k, s)]) for s in table.strategies] for k in table.shots])
    groups = [("all" if k is None else f"{k} per class") for k in table.shots]
    n_rows, n_cols = means.shape
    width = 0.8 / n_cols
    fig, ax = plt.subplots(figsize=figsize, dpi=DPI)
    x = np.arange(n_rows)
    for j, name in enumerate(table.strategies):
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, means[:, j], width, label=name)
        ax.errorbar(pos, means[:, j], yerr=[means[:, j] - low[:, j], high[:, j] - means[:, j]],
                    fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels(groups)
    ax.set_ylabel("test accuracy (%)")
    lo = ylim[0] if ylim else max(0.0, 5 * np.floor((low.min() - 5) / 5))
    ax.set_ylim(ylim if ylim else (lo, 100))
    ax.legend(fontsize=8, ncol=min(n_cols, 4), loc="upper center", bbox_to_anchor=(0.5, -0.14),
              frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return {"means": means, "low": low, "high": high, "groups": groups,
            "columns": list(table.strategies), "figure": fig}


def plot_result_table(table, *, title: str = "", figsize=(7.5, 3.2)) -> dict:
    """Grouped bars of a `transfer_fewshot.ResultTable`: one group per row (labels per class),
    one bar per column, height = mean test accuracy in %, whiskers = +- one std over seeds.

    Returns {"means", "stds": (rows, columns) arrays in %, "groups", "columns", "figure"}.

    Shown in 07, section 5.
    """
    means = np.array([[table.stats(k, c)[0] for c in table.columns] for k in table.shots])
    stds = np.array([[table.stats(k, c)[1] for c in table.columns] for k in table.shots])
    groups = [("all" if k is None else f"{k} per class") for k in table.shots]
    n_rows, n_cols = means.shape
    width = 0.8 / n_cols
    fig, ax = plt.subplots(figsize=figsize, dpi=DPI)
    x = np.arange(n_rows)
    for j, name in enumerate(table.columns):
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, means[:, j], width, label=name)
        ax.errorbar(pos, means[:, j], yerr=stds[:, j], fmt="none", ecolor="black", elinewidth=0.8,
                    capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, fontsize=9)
    ax.set_ylabel("test accuracy (%)", fontsize=9)
    ax.set_ylim(max(0.0, 10 * np.floor((np.min(means - stds) - 5) / 10)), 100)
    ax.legend(fontsize=9, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return {"means": means, "stds": stds, "groups": groups, "columns": list(table.columns), "figure": fig}
