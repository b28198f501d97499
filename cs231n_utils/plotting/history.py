"""Figures for 01_history: the ConvNet timeline, the ImageNet error chart, Gabor filters and tuning.

Every function draws with matplotlib (on `ax` if given, else on a new small figure) and
returns a dict with the data it drew, so tests can check the picture's content.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import _readable as R

__all__ = ["plot_timeline", "plot_ilsvrc", "plot_kernels", "plot_tuning_curves",
           "plot_position_invariance"]


def _axes(ax, figsize):
    if ax is None:
        _, ax = R.figure(figsize=figsize)
    return ax


def plot_timeline(timeline: list[dict] | None = None, ax=None) -> dict:
    """Milestones as dots on a year axis, one row each (earliest at the top), labelled.

    Returns {"years": [...], "names": [...], "rows": [...]} (one entry per milestone, sorted
    by year; `rows` is the y position used, 0 = top row).

    Shown in 01, section 2.
    """
    from ..history import load_timeline
    timeline = load_timeline() if timeline is None else sorted(timeline, key=lambda r: r["year"])
    years = [r["year"] for r in timeline]
    names = [r["name"] for r in timeline]
    rows = list(range(len(years)))
    ax = _axes(ax, (8, 0.32 * len(years) + 1.0))
    mid = (min(years) + max(years)) / 2
    for year, name, row in zip(years, names, rows):
        ax.plot([min(years) - 2, year], [row, row], color="0.85", lw=0.8, zorder=1)
        ax.plot(year, row, "o", color="C1" if year >= 2012 else "C0", ms=5, zorder=2)
        right = year < mid  # early milestones labelled on the right, late ones on the left
        ax.text(year + (1.2 if right else -1.2), row, f"{name} ({year})", va="center",
                ha="left" if right else "right", fontsize=R.MIN_FONT)
    ax.set_ylim(len(years) - 0.5, -0.5)
    ax.set_yticks([])
    ax.set_xlim(min(years) - 2, max(years) + 3)
    ax.set_xlabel("year")
    ax.set_title("ConvNet milestones (orange: after AlexNet)")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return {"years": years, "names": names, "rows": rows}


def plot_ilsvrc(results: list[dict] | None = None, ax=None, show_runner_up: bool = True) -> dict:
    """Bar chart of the ILSVRC classification winners' top-5 error by year, with the human line.

    Bars of ConvNet entries are orange, the others grey. Each bar's label sits above the bar,
    or, for bars below the human reference, above the human line so that the line never runs
    through a label. Returns {"years", "errors", "labels", "convnet", "label_y"} for the
    winners (sorted by year; label_y = where each label starts), "human" (the human top-5
    error in percent) and "runner_up" (list of (year, error, label)).

    Shown in 01, section 3.
    """
    from ..history import human_reference, load_ilsvrc_results, winning_entries
    results = load_ilsvrc_results() if results is None else results
    winners = winning_entries(results)
    human = human_reference(results)["top5_error_pct"]
    ax = _axes(ax, (8, 3.8))
    years = [r["year"] for r in winners]
    errors = [r["top5_error_pct"] for r in winners]
    labels = [r["label"] for r in winners]
    convnet = [bool(r["convnet"]) for r in winners]
    ax.bar(years, errors, color=["C1" if c else "0.6" for c in convnet], width=0.7)
    label_y = []
    for i, (x, e, lab) in enumerate(zip(years, errors, labels)):
        # a label that would start under the human line (or within 1 point above it) goes
        # above the line, so the dashed line never crosses the text; neighbours below the line
        # alternate between two heights so that long names do not run into each other
        y = e + 0.5 if e + 0.5 > human + 1.0 else human + 1.0 + 4.5 * (i % 2)
        label_y.append(y)
        ax.text(x, y, f"{e:g}%\n{lab}", ha="center", va="bottom", fontsize=R.MIN_FONT, zorder=3)
    runner_up = []
    if show_runner_up:
        runner_up = [(r["year"], r["top5_error_pct"], r["label"])
                     for r in results if r["kind"] == "runner-up"]
        for i, (year, err, lab) in enumerate(runner_up):
            ax.plot(year + 0.42, err, "<", color=f"C{2 + i}", ms=7, zorder=4,
                    label=f"runner-up {year}: {lab} {err:g}%")
    ax.axhline(human, color="C3", ls="--", lw=1.2, label=f"human ~{human:g}%")
    ax.set_xticks(years)
    ax.set_ylim(0, max(errors) * 1.45)
    ax.set_ylabel("top-5 error (%)")
    ax.set_title("ILSVRC classification winners (orange = ConvNet)")
    ax.legend(loc="upper right", fontsize=R.MIN_FONT)
    return {"years": years, "errors": errors, "labels": labels, "convnet": convnet,
            "label_y": label_y, "human": human, "runner_up": runner_up}


def plot_kernels(kernels: Sequence[np.ndarray], titles: Sequence[str] | None = None,
                 axes=None, signed: bool = True, ncols: int = 3, cell_px: int = R.CELL_PX) -> dict:
    """Show square kernels (or small images) on one shared colour scale with a colorbar.

    signed=True: weights, drawn with the diverging map centred on 0 (blue < 0 < red);
    signed=False: images, in grey. Without `axes`, the figure is laid out in `ncols` columns
    and sized so that every cell is `cell_px` pixels wide (24 by default: readable cells).
    Returns {"kernels": array (K, S, S), "titles": [...], "vmax": shared colour limit}.

    Shown in 01, section 4.
    """
    kernels = np.stack([np.asarray(k, dtype=np.float64) for k in kernels])
    titles = list(titles) if titles is not None else [str(i) for i in range(len(kernels))]
    if len(titles) != len(kernels):
        raise ValueError(f"got {len(titles)} titles for {len(kernels)} kernels")
    if axes is None:
        ncols = min(ncols, len(kernels))
        nrows = -(-len(kernels) // ncols)
        w, h = R.panel_inches(kernels.shape[1], kernels.shape[2], cell_px)
        _, axes = R.figure(nrows, ncols, figsize=(ncols * w * 1.55 + 1.0, nrows * (h * 1.55 + 0.5)),
                           squeeze=False)
    axes = np.atleast_1d(axes).ravel()
    vmax = float(np.abs(kernels).max()) or 1.0
    im = None
    for ax, k, t in zip(axes, kernels, titles):
        im = R.matrix_panel(ax, k, signed=signed, vmax=vmax, title=t, colorbar=False)
    for ax in axes[len(kernels):]:
        ax.set_visible(False)
    cbar = axes[0].figure.colorbar(im, ax=list(axes[:len(kernels)]), fraction=0.03, pad=0.02)
    cbar.ax.tick_params(labelsize=R.MIN_FONT)
    cbar.set_label("weight" if signed else "pixel value", fontsize=R.MIN_FONT)
    return {"kernels": kernels, "titles": titles, "vmax": vmax}


def plot_tuning_curves(angles: Sequence[float], responses: np.ndarray,
                       filter_angles: Sequence[float], ax=None) -> dict:
    """Orientation tuning curves: response of each filter (row) to bars at each angle (column).

    Returns {"angles", "responses" (F, A), "preferred" (angle of each row's maximum),
    "filter_angles"}.

    Shown in 01, section 4.
    """
    angles = np.asarray(angles, dtype=np.float64)
    responses = np.asarray(responses, dtype=np.float64)
    filter_angles = list(filter_angles)
    if responses.shape != (len(filter_angles), len(angles)):
        raise ValueError(f"responses has shape {responses.shape}; expected (number of filters, "
                         f"number of angles) = ({len(filter_angles)}, {len(angles)})")
    ax = _axes(ax, (8, 3.4))
    for i, (row, fa) in enumerate(zip(responses, filter_angles)):
        ax.plot(angles, row, "-o", ms=3, color=f"C{i % 10}", label=f"filter {fa:g}°")
        ax.axvline(fa, color=f"C{i % 10}", ls=":", lw=0.8)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlabel("bar orientation (degrees)")
    ax.set_ylabel("response")
    ax.set_xticks(angles[::2] if len(angles) > 8 else angles)
    ax.set_title("orientation tuning of Gabor 'simple cells'")
    ax.legend(fontsize=R.MIN_FONT, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    preferred = angles[np.argmax(responses, axis=1)]
    return {"angles": angles, "responses": responses, "preferred": preferred,
            "filter_angles": filter_angles}


def plot_position_invariance(positions: Sequence[float], simple: np.ndarray, complex_: np.ndarray,
                             ax=None) -> dict:
    """Simple cell (one position) vs complex cell (max over positions) as a bar moves sideways.

    Returns {"positions", "simple", "complex"}.

    Shown in 01, section 4.
    """
    positions = np.asarray(positions, dtype=np.float64)
    simple = np.asarray(simple, dtype=np.float64)
    complex_ = np.asarray(complex_, dtype=np.float64)
    if simple.shape != positions.shape or complex_.shape != positions.shape:
        raise ValueError(f"positions {positions.shape}, simple {simple.shape} and complex "
                         f"{complex_.shape} must have the same shape")
    ax = _axes(ax, (7, 3))
    ax.plot(positions, simple, "-o", ms=3, label="simple cell (fixed position)")
    ax.plot(positions, complex_, "-s", ms=3, label="complex cell (max over positions)")
    ax.set_xlabel("bar position (column)")
    ax.set_ylabel("response")
    ax.set_title("complex cells are position invariant")
    ax.legend(fontsize=R.MIN_FONT)
    return {"positions": positions, "simple": simple, "complex": complex_}
