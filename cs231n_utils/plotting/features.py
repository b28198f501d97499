"""Figures for 05's "features you can see": filters beside their initialisation, maximally
activating patches, occlusion and saliency maps, and the t-SNE map of the last features.

Each function draws in the workbook style (`plotting.style`: 100 dpi, at least 500 px wide,
fonts >= 9 pt, >= 24 px per filter or patch, a colorbar where colour encodes a value) and
returns a dict with the data it drew plus the matplotlib `figure`:

- `plot_filter_comparison`  learned first-layer filters beside their random initialisation,
                            each filter labelled with its orientation index
- `plot_top_patches`        one row per unit: its top-k patches (from `visualize.top_patches`)
- `plot_occlusion`          image | occlusion-sensitivity map with colorbar | overlay
- `plot_saliency`           one row per image: image | saliency map with colorbar
- `plot_tsne`               the 2-D t-SNE points coloured by class, with a legend
- `widen`                   bring a figure made elsewhere to the style's dpi and minimum width
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from . import style

__all__ = ["widen", "to_display", "plot_filter_comparison", "plot_top_patches", "plot_occlusion",
           "plot_saliency", "plot_tsne"]

_GAP_VALUE = 1.0          # white between tiles
_OUTSIDE = 0.82           # light grey where a patch lies outside the image


def widen(fig, min_width_px: int = style.MIN_WIDTH_PX) -> tuple:
    """Set `fig` to the style's dpi, make it at least `min_width_px` wide (keeping its height)
    and its text at least `style.MIN_FONT_SIZE`, then redo its layout: for figures drawn by
    helpers with a smaller default size. Returns the new (width, height) in pixels.

    Shown in 05, section 9.
    """
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        if t.get_fontsize() < style.MIN_FONT_SIZE:
            t.set_fontsize(style.MIN_FONT_SIZE)
    fig.set_dpi(style.DPI)
    w, h = fig.get_size_inches()
    fig.set_size_inches(max(w, min_width_px / style.DPI + 0.2), h)
    style.keep_full_size(fig)
    fig.tight_layout()
    return tuple(int(round(v * style.DPI)) for v in fig.get_size_inches())


def to_display(images, per_image: bool = True) -> np.ndarray:
    """(..., C, H, W) with C = 1 or 3 -> (..., H, W, 3) in [0, 1] for imshow.

    Each image is stretched to its own min..max (or all of them to one range with
    per_image=False); NaN pixels (outside the image) become light grey. Grey images are
    repeated into three channels.
    """
    a = np.asarray(images, dtype=np.float64)
    if a.ndim < 3 or a.shape[-3] not in (1, 3):
        raise ValueError(f"images must have shape (..., C, H, W) with C = 1 or 3, got {a.shape}")
    a = np.moveaxis(a, -3, -1)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    axes = tuple(range(a.ndim - 3, a.ndim)) if per_image else tuple(range(a.ndim))
    finite = np.where(np.isfinite(a), a, np.nan)
    with warnings.catch_warnings():                       # an all-NaN patch: no range, grey
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(finite, axis=axes, keepdims=True)
        hi = np.nanmax(finite, axis=axes, keepdims=True)
    lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
    span = np.where(hi > lo, hi - lo, 1.0)
    out = np.clip((a - lo) / span, 0.0, 1.0)
    return np.where(np.isfinite(out), out, _OUTSIDE)


def _signed_rgb(W: np.ndarray) -> np.ndarray:
    """Filters (F, C, k, k) -> (F, k, k, 3) RGB with mid-grey = 0, each filter scaled by its own
    max |w| (C = 1: grey levels; C = 3: the filter's colour)."""
    W = np.asarray(W, dtype=np.float64)
    m = np.abs(W).max(axis=(1, 2, 3), keepdims=True)
    rgb = 0.5 + 0.5 * W / np.where(m > 0, m, 1.0)
    rgb = np.moveaxis(rgb, 1, -1)
    return np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb[..., :3]


def _tile(tiles: np.ndarray, rows: int, cols: int, gap: int, label_rows: int = 0) -> np.ndarray:
    """(n, h, w, 3) tiles -> one (rows*(h+gap+label_rows), cols*(w+gap), 3) RGB grid, white gaps."""
    n, h, w, _ = tiles.shape
    th, tw = h + gap + label_rows, w + gap
    grid = np.full((rows * th, cols * tw, 3), _GAP_VALUE)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * th:r * th + h, c * tw:c * tw + w] = tiles[i]
    return grid


def _image_axes(fig, left_px, bottom_px, width_px, height_px):
    W, H = fig.get_size_inches() * style.DPI
    ax = fig.add_axes([left_px / W, bottom_px / H, width_px / W, height_px / H])
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    return ax


def plot_filter_comparison(trained, initial, index_trained=None, index_initial=None, *,
                           ncols: int = 8, cell_px: int = 48, threshold: float = 0.3) -> dict:
    """Two grids side by side: the learned filters and the same filters at initialisation.

    trained, initial: (F, C, k, k) with C = 1 or 3. Each filter is drawn `cell_px` pixels wide
    (>= 24), mid-grey = 0, scaled by its own largest |weight| (colour filters in their colour).
    index_*: (F,) orientation indices (`visualize.orientation_index`), written under each
    filter; filters with index >= `threshold` are framed. Returns {"trained", "initial": the RGB
    tiles drawn (F, k, k, 3), "rows", "cols", "cell_px", "figure"}.

    Shown in 05, section 11.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    trained, initial = np.asarray(trained), np.asarray(initial)
    if trained.ndim != 4 or trained.shape != initial.shape or trained.shape[1] not in (1, 3):
        raise ValueError(f"trained and initial must both be (F, C, k, k) with C = 1 or 3, got "
                         f"{trained.shape} and {initial.shape}")
    if cell_px < style.MIN_CELL_PX:
        raise ValueError(f"cell_px must be >= {style.MIN_CELL_PX} (a readable filter), got {cell_px}")
    F, _, k, _ = trained.shape
    cols = min(ncols, F)
    rows = int(np.ceil(F / cols))
    label_px = 16 if index_trained is not None else 0
    gap_px = 6
    panel_w, panel_h = cols * (cell_px + gap_px), rows * (cell_px + gap_px + label_px)
    margin, title_px, between = 10, 26, 40
    width = max(style.MIN_WIDTH_PX, 2 * panel_w + between + 2 * margin)
    height = panel_h + title_px + 2 * margin
    style.apply()
    fig = plt.figure(figsize=(width / style.DPI, height / style.DPI), dpi=style.DPI)
    style.keep_full_size(fig)
    out = {"rows": rows, "cols": cols, "cell_px": cell_px, "figure": fig}
    left0 = (width - 2 * panel_w - between) / 2
    for p, (name, W, idx, title) in enumerate((("trained", trained, index_trained, "trained"),
                                               ("initial", initial, index_initial, "random initialisation"))):
        rgb = _signed_rgb(W)
        out[name] = rgb
        ax = _image_axes(fig, left0 + p * (panel_w + between), margin, panel_w, panel_h)
        ax.set_xlim(0, panel_w)
        ax.set_ylim(panel_h, 0)
        ax.set_title(f"{title} (mid-grey = 0)", fontsize=10)
        for f in range(F):
            r, c = divmod(f, cols)
            x0, y0 = c * (cell_px + gap_px) + gap_px / 2, r * (cell_px + gap_px + label_px)
            ax.imshow(rgb[f], extent=(x0, x0 + cell_px, y0 + cell_px, y0), interpolation="nearest")
            if idx is not None:
                v = float(idx[f])
                ax.text(x0 + cell_px / 2, y0 + cell_px + 2, f"{v:.2f}", ha="center", va="top",
                        fontsize=style.MIN_FONT_SIZE, color="C3" if v >= threshold else "0.3")
                if v >= threshold:
                    ax.add_patch(Rectangle((x0 - 1.5, y0 - 1.5), cell_px + 3, cell_px + 3, fill=False,
                                           edgecolor="C3", linewidth=1.5))
    return out


def _undo(images, mean, std) -> np.ndarray:
    """images * std + mean per channel (axis -3), undoing a per-channel normalisation."""
    a = np.asarray(images, dtype=np.float64)
    if std is not None:
        a = a * np.asarray(std, dtype=np.float64).reshape(-1, 1, 1)
    if mean is not None:
        a = a + np.asarray(mean, dtype=np.float64).reshape(-1, 1, 1)
    return a


def plot_top_patches(top, unit_labels: Sequence[str] | None = None, *, cell_px: int = 48,
                     title: str | None = None, mean=None, std=None) -> dict:
    """One row per unit: its top-k patches (strongest first), each its receptive field's size.

    top: a `visualize.TopPatches`. Patches are stretched to their own range; the part of a
    patch outside the image is light grey. Each patch is drawn `cell_px` pixels wide (>= 24).
    mean, std: (C,) per-channel normalisation of the images, undone before drawing.
    Returns {"tiles": (U, k, S, S, 3) RGB drawn, "figure"}.

    Shown in 05, section 12.
    """
    import matplotlib.pyplot as plt

    if cell_px < style.MIN_CELL_PX:
        raise ValueError(f"cell_px must be >= {style.MIN_CELL_PX}, got {cell_px}")
    U, k = top.values.shape
    tiles = to_display(_undo(top.patches, mean, std))                  # (U, k, S, S, 3)
    labels = list(unit_labels) if unit_labels is not None else [f"unit {u}" for u in top.units]
    gap_px, margin, title_px = 6, 8, 26 if title else 8
    label_w = 16 + 7 * max(len(t) for t in labels)            # about 7 px per character at 9 pt
    grid_w, grid_h = k * (cell_px + gap_px), U * (cell_px + gap_px)
    width = max(style.MIN_WIDTH_PX, grid_w + label_w + 2 * margin)
    height = grid_h + title_px + margin
    style.apply()
    fig = plt.figure(figsize=(width / style.DPI, height / style.DPI), dpi=style.DPI)
    style.keep_full_size(fig)
    ax = _image_axes(fig, label_w + margin, margin, grid_w, grid_h)
    ax.set_xlim(0, grid_w)
    ax.set_ylim(grid_h, 0)
    for u in range(U):
        for j in range(k):
            x0, y0 = j * (cell_px + gap_px), u * (cell_px + gap_px)
            ax.imshow(tiles[u, j], extent=(x0, x0 + cell_px, y0 + cell_px, y0), interpolation="nearest")
        ax.text(-8, u * (cell_px + gap_px) + cell_px / 2, labels[u], ha="right", va="center",
                fontsize=style.MIN_FONT_SIZE)
    if title:
        fig.text(0.5, 1 - 3 / height, title, ha="center", va="top", fontsize=10)
    return {"tiles": tiles, "figure": fig}


def plot_occlusion(image, occlusion: dict, title: str = "", *, mean=None, std=None) -> dict:
    """Image | occlusion map (drop of the true-class probability, diverging map centred on 0,
    colorbar) | the image with the map's positive part laid over it.

    image: (C, H, W); occlusion: the dict of `visualize.occlusion_map`; mean, std: the
    per-channel normalisation to undo before drawing the image. Returns {"map": the
    (H, W) map drawn, "limits", "figure"}.

    Shown in 05, section 13.
    """
    fig, axes = style.figure(1, 3, figsize=(9, 3.2))
    rgb = to_display(_undo(image, mean, std))
    m = np.asarray(occlusion["pixel"], dtype=np.float64)
    axes[0].imshow(rgb)
    axes[0].set_title(title or f"image (p = {occlusion['prob']:.2f})")
    _, lim = style.show_signed(axes[1], m, title="probability drop")
    axes[2].imshow(rgb.mean(axis=-1), cmap=style.IMAGE_CMAP)
    shown = np.ma.masked_less_equal(m, 0.05 * max(lim[1], 1e-12))     # the clearly positive part
    im = axes[2].imshow(shown, cmap="Reds", alpha=0.6, vmin=0, vmax=max(lim[1], 1e-12))
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.03).ax.tick_params(labelsize=style.MIN_FONT_SIZE)
    axes[2].set_title("where hiding hurts")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return {"map": m, "limits": lim, "figure": fig}


def plot_saliency(images, saliency, titles: Sequence[str] | None = None, *, mean=None, std=None) -> dict:
    """For each image: the image and its saliency map (|gradient|, grey, own colorbar).

    images: (N, C, H, W); saliency: (N, H, W) from `visualize.saliency_map`. N <= 4 pairs
    are drawn in one row; mean, std: the normalisation to undo before drawing. Returns {"saliency": the maps drawn, "figure"}.

    Shown in 05, section 13.
    """
    images, sal = np.asarray(images), np.asarray(saliency, dtype=np.float64)
    if images.ndim != 4 or sal.shape != (images.shape[0], *images.shape[2:]) or not 1 <= len(images) <= 4:
        raise ValueError(f"images (N, C, H, W) with N = 1..4 and saliency (N, H, W) must match, got "
                         f"{images.shape} and {sal.shape}")
    N = len(images)
    fig, axes = style.figure(1, 2 * N, figsize=(2.1 * 2 * N, 2.4), squeeze=False)
    rgb = to_display(_undo(images, mean, std))
    for i in range(N):
        a, b = axes[0, 2 * i], axes[0, 2 * i + 1]
        a.imshow(rgb[i])
        a.set_title(titles[i] if titles else f"image {i}")
        im = style.show_image(b, sal[i], title="saliency", vmin=0, vmax=float(sal[i].max()) or 1.0)
        fig.colorbar(im, ax=b, fraction=0.046, pad=0.03).ax.tick_params(labelsize=style.MIN_FONT_SIZE)
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    return {"saliency": sal, "figure": fig}


def plot_tsne(embedding, labels, class_names: Sequence[str] | None = None, title: str = "",
              colors: dict | None = None) -> dict:
    """The (N, 2) t-SNE points, one colour per class, with a legend beside the plot.

    colors: optional class number -> matplotlib colour (e.g. one hue for the two cases of a
    letter); by default the classes take the tab10 (tab20 beyond 10) colours in order.

    Returns {"classes": the class numbers drawn, "figure"}.

    Shown in 05, section 14.
    """
    emb, labels = np.asarray(embedding, dtype=np.float64), np.asarray(labels)
    if emb.ndim != 2 or emb.shape[1] != 2 or labels.shape != (len(emb),):
        raise ValueError(f"embedding must be (N, 2) and labels (N,), got {emb.shape} and {labels.shape}")
    classes = np.unique(labels)
    fig, ax = style.figure(figsize=(7.5, 5.2))
    cmap = __import__("matplotlib").colormaps["tab10" if len(classes) <= 10 else "tab20"]
    for i, c in enumerate(classes):
        pts = emb[labels == c]
        name = class_names[int(c)] if class_names is not None else str(c)
        colour = colors[int(c)] if colors is not None else cmap(i % cmap.N)
        ax.scatter(pts[:, 0], pts[:, 1], s=12, color=colour, label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    if title:
        ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=2, frameon=False)
    fig.tight_layout()
    return {"classes": classes, "figure": fig}
