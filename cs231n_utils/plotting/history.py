"""Figures for 01_history: the ConvNet timeline, the ImageNet error chart, Gabor filters and tuning.

Every function draws with matplotlib (on `ax` if given, else on a new small figure) and
returns a dict with the data it drew, so tests can check the picture's content.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["plot_timeline", "plot_ilsvrc", "plot_kernels", "plot_tuning_curves",
           "plot_position_invariance"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, dpi=80)
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
    ax = _axes(ax, (7, 0.28 * len(years) + 1.0))
    mid = (min(years) + max(years)) / 2
    for year, name, row in zip(years, names, rows):
        ax.plot([min(years) - 2, year], [row, row], color="0.85", lw=0.8, zorder=1)
        ax.plot(year, row, "o", color="C1" if year >= 2012 else "C0", ms=5, zorder=2)
        right = year < mid  # early milestones labelled on the right, late ones on the left
        ax.text(year + (1.2 if right else -1.2), row, f"{name} ({year})", va="center",
                ha="left" if right else "right", fontsize=7.5)
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

    Bars of ConvNet entries are orange, the others grey. Returns {"years", "errors", "labels",
    "convnet"} for the winners (sorted by year), "human" (the human top-5 error in percent)
    and "runner_up" (list of (year, error, label)).

    Shown in 01, section 3.
    """
    from ..history import human_reference, load_ilsvrc_results, winning_entries
    results = load_ilsvrc_results() if results is None else results
    winners = winning_entries(results)
    human = human_reference(results)["top5_error_pct"]
    ax = _axes(ax, (7, 3.4))
    years = [r["year"] for r in winners]
    errors = [r["top5_error_pct"] for r in winners]
    labels = [r["label"] for r in winners]
    convnet = [bool(r["convnet"]) for r in winners]
    ax.bar(years, errors, color=["C1" if c else "0.6" for c in convnet], width=0.7)
    for x, e, lab in zip(years, errors, labels):
        # white box: the label stays readable where it crosses the human-reference line
        ax.text(x, e + 0.5, f"{e:g}%\n{lab}", ha="center", va="bottom", fontsize=7, zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.5})
    runner_up = []
    if show_runner_up:
        runner_up = [(r["year"], r["top5_error_pct"], r["label"])
                     for r in results if r["kind"] == "runner-up"]
        for i, (year, err, lab) in enumerate(runner_up):
            ax.plot(year + 0.45, err, "<", color=f"C{2 + i}", ms=6,
                    label=f"runner-up {year}: {lab} {err:g}%")
    ax.axhline(human, color="C3", ls="--", lw=1.2, label=f"human ~{human:g}%")
    ax.set_xticks(years)
    ax.set_ylim(0, max(errors) * 1.3)
    ax.set_ylabel("top-5 error (%)")
    ax.set_title("ILSVRC classification winners (orange = ConvNet)")
    ax.legend(loc="upper right", fontsize=8)
    return {"years": years, "errors": errors, "labels": labels, "convnet": convnet,
            "human": human, "runner_up": runner_up}


def plot_kernels(kernels: Sequence[np.ndarray], titles: Sequence[str] | None = None,
                 axes=None, cmap: str = "gray") -> dict:
    """Show square kernels side by side, each with a symmetric colour scale (0 = mid-grey).

    Returns {"kernels": array (K, S, S), "titles": [...], "vmax": [...]}.

    Shown in 01, section 4.
    """
    import matplotlib.pyplot as plt
    kernels = np.stack([np.asarray(k, dtype=np.float64) for k in kernels])
    titles = list(titles) if titles is not None else [str(i) for i in range(len(kernels))]
    if len(titles) != len(kernels):
        raise ValueError(f"got {len(titles)} titles for {len(kernels)} kernels")
    if axes is None:
        _, axes = plt.subplots(1, len(kernels), figsize=(1.3 * len(kernels), 1.6), dpi=80)
    axes = np.atleast_1d(axes).ravel()
    vmax = []
    for ax, k, t in zip(axes, kernels, titles):
        v = float(np.abs(k).max()) or 1.0
        vmax.append(v)
        ax.imshow(k, cmap=cmap, vmin=-v, vmax=v)
        ax.set_title(t, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
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
    ax = _axes(ax, (7, 3))
    for i, (row, fa) in enumerate(zip(responses, filter_angles)):
        ax.plot(angles, row, "-o", ms=3, color=f"C{i % 10}", label=f"filter {fa:g}°")
        ax.axvline(fa, color=f"C{i % 10}", ls=":", lw=0.8)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlabel("bar orientation (degrees)")
    ax.set_ylabel("response")
    ax.set_xticks(angles[::2] if len(angles) > 8 else angles)
    ax.set_title("orientation tuning of Gabor 'simple cells'")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
    ax = _axes(ax, (6, 2.8))
    ax.plot(positions, simple, "-o", ms=3, label="simple cell (fixed position)")
    ax.plot(positions, complex_, "-s", ms=3, label="complex cell (max over positions)")
    ax.set_xlabel("bar position (column)")
    ax.set_ylabel("response")
    ax.set_title("complex cells are position invariant")
    ax.legend(fontsize=8)
    return {"positions": positions, "simple": simple, "complex": complex_}
