"""Hand-made filters (滤波器) and the test images they are tried on.

- `gabor_kernel`: an oriented Gabor filter, the textbook model of a V1 *simple cell*
  (简单细胞) found by Hubel & Wiesel and of many first-layer ConvNet filters.
- `bar_image`: a bright oriented bar on a dark background (the stimulus Hubel & Wiesel
  showed their cats).
- `orientation_tuning`: how strongly a filter responds to bars at several angles.
- `simple_cell_map` / `complex_cell_response`: a filter slid over an image (one simple cell
  per position) and the max over positions (a *complex cell* (复杂细胞): same orientation
  preference, but it does not care where the bar is).
- `HAND_FILTERS` / `get_filter`: classic 3x3 kernels (identity, Sobel edges, Laplacian,
  blurs, sharpen).

Angle convention used everywhere in this module: angles are in **degrees**, measured
counter-clockwise from the horizontal as the image is displayed (row 0 at the top).
An angle of 0 is a horizontal bar, 90 a vertical bar. Orientation repeats every 180 degrees.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .checks import check_int

__all__ = ["gabor_kernel", "bar_image", "orientation_tuning", "simple_cell_map",
           "complex_cell_response", "HAND_FILTERS", "get_filter", "UnknownFilterError"]


def _check_positive(value: float, name: str, hint: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value}; {hint}")
    return value


def _check_size(size: int) -> int:
    size = check_int(size, "size (pixels)")
    if size < 3:
        raise ValueError(f"size must be at least 3 pixels, got {size}; a filter needs a centre "
                         f"and neighbours (try size=15)")
    return int(size)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates relative to the centre: x to the right, y *up* (as displayed)."""
    c = (size - 1) / 2.0
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    return cols - c, c - rows


def _along_across(x: np.ndarray, y: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along the direction `theta` (degrees) and across it (perpendicular)."""
    t = np.deg2rad(theta)
    # Snap values like cos(90 deg) = 6e-17 to exact 0 so axis-aligned bars are exact.
    c, s = (0.0 if abs(v) < 1e-12 else float(v) for v in (np.cos(t), np.sin(t)))
    along = x * c + y * s
    across = -x * s + y * c
    return along, across


def gabor_kernel(size: int, theta: float, wavelength: float, sigma: float, phase: float = 0.0,
                 gamma: float = 1.0, zero_mean: bool = True) -> np.ndarray:
    """An oriented Gabor filter: a cosine grating under a Gaussian envelope.

    g(x, y) = exp(-(v**2 + gamma**2 * u**2) / (2 sigma**2)) * cos(2 pi v / wavelength + phase)

    where u is the coordinate *along* the preferred orientation and v the coordinate across it.

    Args:
        size: side of the square kernel in pixels (>= 3; odd sizes have a centre pixel).
        theta: preferred bar/edge orientation in degrees (0 = horizontal, 90 = vertical,
            counter-clockwise as displayed).
        wavelength: period of the grating across the stripes, in pixels (> 0).
        sigma: standard deviation of the Gaussian envelope, in pixels (> 0).
        phase: phase of the grating in degrees. 0 gives an even filter with a bright centre
            stripe (a *bar* detector); 90 gives an odd filter (an *edge* detector).
        gamma: aspect ratio of the envelope (> 0); gamma < 1 stretches it along the stripes,
            which sharpens the orientation tuning.
        zero_mean: subtract the mean so that a uniform image gives response 0 (default True).

    Returns:
        (size, size) float64 array.

    Shown in 01, section 4.
    """
    size = _check_size(size)
    wavelength = _check_positive(wavelength, "wavelength", "it is the stripe period in pixels "
                                 "(try wavelength=6)")
    sigma = _check_positive(sigma, "sigma", "it is the envelope width in pixels (try sigma=3)")
    gamma = _check_positive(gamma, "gamma", "it is the envelope aspect ratio (try gamma=0.5 or 1)")
    x, y = _grid(size)
    along, across = _along_across(x, y, float(theta))
    envelope = np.exp(-(across ** 2 + gamma ** 2 * along ** 2) / (2.0 * sigma ** 2))
    carrier = np.cos(2.0 * np.pi * across / wavelength + np.deg2rad(float(phase)))
    kernel = envelope * carrier
    if zero_mean:
        kernel = kernel - kernel.mean()
    return kernel.astype(np.float64)


def bar_image(size: int, theta: float, width: float, length: float | None = None,
              center: tuple[float, float] | None = None) -> np.ndarray:
    """A bright bar (value 1) on a dark background (value 0), with anti-aliased edges.

    Args:
        size: side of the square image in pixels (>= 3).
        theta: bar orientation in degrees (0 = horizontal, 90 = vertical, counter-clockwise).
        width: bar thickness in pixels (> 0).
        length: bar length in pixels; None means it crosses the whole image.
        center: (row, col) of the bar's midpoint; None means the image centre.

    Returns:
        (size, size) float64 array with values in [0, 1].

    Shown in 01, section 4.
    """
    size = _check_size(size)
    width = _check_positive(width, "width", "it is the bar thickness in pixels (try width=2)")
    x, y = _grid(size)
    if center is not None:
        if len(center) != 2:
            raise ValueError(f"center must be (row, col), got {center!r}")
        c = (size - 1) / 2.0
        x = x - (float(center[1]) - c)
        y = y + (float(center[0]) - c)
    along, across = _along_across(x, y, float(theta))
    # Linear anti-aliasing: full value inside, a one-pixel ramp at the border.
    img = np.clip(width / 2.0 + 0.5 - np.abs(across), 0.0, 1.0)
    if length is not None:
        length = _check_positive(length, "length", "it is the bar length in pixels "
                                 "(or None for a bar across the whole image)")
        img = img * np.clip(length / 2.0 + 0.5 - np.abs(along), 0.0, 1.0)
    return img.astype(np.float64)


def orientation_tuning(kernel: np.ndarray, angles: Iterable[float], width: float = 2.0,
                       length: float | None = None, rectify: bool = False) -> np.ndarray:
    """Response of `kernel` to a centred bar at each angle: sum(kernel * bar_image(...)).

    This is one simple cell looking at the centre of the image: the dot product of its
    weights with the pixels under it. Plotting the result against `angles` gives the
    cell's *orientation tuning curve*; it peaks at the filter's own orientation.

    Args:
        kernel: (K, K) square filter, e.g. from `gabor_kernel`.
        angles: bar orientations in degrees, shape (A,).
        width: bar thickness in pixels.
        length: bar length in pixels (None = across the whole kernel).
        rectify: apply max(0, .) like a firing rate (default False: raw dot products).

    Returns:
        (A,) float64 array of responses.

    Shown in 01, section 4.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"kernel must be a square 2-D array, got shape {kernel.shape}")
    angles = np.asarray(list(angles), dtype=np.float64)
    if angles.ndim != 1 or angles.size == 0:
        raise ValueError(f"angles must be a non-empty list of degrees, got shape {angles.shape}")
    size = kernel.shape[0]
    responses = np.array([float(np.sum(kernel * bar_image(size, a, width, length)))
                          for a in angles])
    if rectify:
        responses = np.maximum(responses, 0.0)
    return responses


def simple_cell_map(kernel: np.ndarray, image: np.ndarray, rectify: bool = True) -> np.ndarray:
    """Slide `kernel` over `image` (valid cross-correlation, stride 1): one simple cell per position.

    Args:
        kernel: (K, K) filter.
        image: (H, W) image with H, W >= K.
        rectify: apply max(0, .) (default True).

    Returns:
        (H - K + 1, W - K + 1) float64 map of responses.

    Shown in 01, section 4.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    image = np.asarray(image, dtype=np.float64)
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError(f"kernel and image must be 2-D, got shapes {kernel.shape} and {image.shape}")
    kh, kw = kernel.shape
    if image.shape[0] < kh or image.shape[1] < kw:
        raise ValueError(f"image {image.shape} is smaller than the kernel {kernel.shape}; "
                         f"the output would be ({image.shape[0]} - {kh} + 1) x "
                         f"({image.shape[1]} - {kw} + 1); use a larger image")
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))
    out = np.einsum("ijkl,kl->ij", windows, kernel)
    return np.maximum(out, 0.0) if rectify else out


def complex_cell_response(kernel: np.ndarray, image: np.ndarray) -> float:
    """Max over positions of the rectified simple-cell map: orientation selective, position invariant.

    Shown in 01, section 4.
    """
    return float(simple_cell_map(kernel, image, rectify=True).max())


def _frozen(rows: list[list[float]], scale: float = 1.0) -> np.ndarray:
    arr = np.array(rows, dtype=np.float64) * scale
    arr.setflags(write=False)
    return arr


# Classic 3x3 kernels (read-only; `get_filter` returns a writable copy).
HAND_FILTERS: dict[str, np.ndarray] = {
    "identity": _frozen([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    # Horizontal derivative: responds to *vertical* edges (dark left -> bright right is positive).
    "sobel_x": _frozen([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    # Vertical derivative (rows grow downwards): responds to *horizontal* edges.
    "sobel_y": _frozen([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "laplacian": _frozen([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "box_blur": _frozen([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 1.0 / 9.0),
    "gaussian_blur": _frozen([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1.0 / 16.0),
    "sharpen": _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
}


class UnknownFilterError(KeyError, ValueError):
    """Raised by `get_filter` for a name not in `HAND_FILTERS` (catch as KeyError or ValueError)."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


def get_filter(name: str) -> np.ndarray:
    """A writable float64 copy of the 3x3 kernel `HAND_FILTERS[name]`.

    Raises UnknownFilterError (a KeyError and a ValueError) naming the valid filters.
    """
    if not isinstance(name, str) or name not in HAND_FILTERS:
        valid = ", ".join(sorted(HAND_FILTERS))
        raise UnknownFilterError(f"unknown filter {name!r}; valid names are: {valid}")
    return HAND_FILTERS[name].copy()
