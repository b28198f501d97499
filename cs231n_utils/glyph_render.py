"""The drawing behind `glyphs` (private): fonts, photo textures and one chunk of images.

`glyphs` is the public module; this one renders. A chunk is `per_class` images of every class,
drawn from its own random generator `np.random.default_rng([seed, split, chunk])`, so a chunk's
pixels depend only on those three numbers (and on the classes and image size), never on how
many chunks are made, in which order, or by how many processes.

How one image is made (all steps vectorised over the chunk):

1. the letter's mask: drawn once per (font, letter) with matplotlib's FreeType wrapper
   (`matplotlib.ft2font.FT2Font`) on a 64x64 canvas, baseline at a fixed height (so lower-case
   letters stay smaller than capitals), in four stroke widths (eroded once, as drawn, dilated
   once and twice with a 3x3 min/max) and blurred with [1 2 1]/4 so that sampling it at about
   half resolution does not alias;
2. a random affine map (rotation +-20 degrees, scale, aspect, shear +-0.3, shift +-10% of the
   size) samples the mask bilinearly at the S x S output pixels: alpha (N, S, S) in [0, 1];
3. a background: plain black (15%, with white ink: like the digits), a flat colour (35%), a
   two-colour linear gradient (20%), or a crop of a photograph (30%: scikit-learn's china.jpg
   and flower.jpg, at a random position, size and flip, with its contrast lowered);
4. an ink colour whose luminance (0.299 R + 0.587 G + 0.114 B) differs from the background's
   mean luminance by at least MIN_CONTRAST;
5. image = background * (1 - alpha) + ink * alpha, then a 3x3 blur (25% of images) and Gaussian
   noise (sigma up to 0.03), clipped to [0, 1] and rounded to uint8.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__: list = []   # private module: `glyphs` is the public face

CANVAS = 64            # side of the canvas a letter's mask is drawn on
_BASELINE = 46         # canvas row of the baseline (ascenders reach ~row 12, descenders ~row 56)
_POINT_SIZE = 44       # FreeType size at 72 dpi: capitals ~32 px tall on the canvas
STROKES = (0, 1, 2)                         # dilations of the drawn mask (3x3 max), in canvas px
_STROKE_P = (0.45, 0.35, 0.2)
MIN_CONTRAST = 0.35                          # |luminance(ink) - luminance(background)|
_KIND_P = {"plain": 0.15, "flat": 0.35, "gradient": 0.20, "photo": 0.30}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# The faces of matplotlib's mpl-data/fonts/ttf that have Latin letters (licences: DATA_CARD.md).
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmti10.ttf", "cmtt10.ttf", "cmmi10.ttf",
)
PHOTO_FILES = ("china.jpg", "flower.jpg")   # scikit-learn's sample images, CC-BY 2.0
SPLITS = ("train", "val", "test")
CHUNK_PER_CLASS = 4                          # images of each class in one chunk


def font_dir() -> Path:
    import matplotlib
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def photo_dir() -> Path:
    import importlib.util
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-learn is not installed; the glyph backgrounds use its "
                                  "sample photos (pip install scikit-learn)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "images"


def _blur121(a: np.ndarray, axes=(-2, -1)) -> np.ndarray:
    """Separable [1 2 1]/4 blur over two axes, edges repeated. Same shape and dtype."""
    out = a
    for ax in axes:
        p = np.concatenate([np.take(out, [0], axis=ax), out, np.take(out, [-1], axis=ax)], axis=ax)
        n = out.shape[ax]
        lo = np.take(p, range(0, n), axis=ax)
        mid = np.take(p, range(1, n + 1), axis=ax)
        hi = np.take(p, range(2, n + 2), axis=ax)
        out = (lo + 2 * mid + hi) * np.asarray(0.25, dtype=a.dtype)
    return out


def _morph(m: np.ndarray, op) -> np.ndarray:
    """3x3 grey-level dilation (op=np.maximum) or erosion (np.minimum) of (..., H, W)."""
    p = np.pad(m, [(0, 0)] * (m.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    h, w = m.shape[-2:]
    out = p[..., 1:h + 1, 1:w + 1].copy()
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                op(out, p[..., dy:dy + h, dx:dx + w], out=out)
    return out


def _draw_letter(font, letter: str) -> np.ndarray:
    """One letter on the CANVAS x CANVAS canvas, float32 in [0, 1], baseline at _BASELINE."""
    font.clear()
    font.set_text(letter, 0.0)
    font.draw_glyphs_to_bitmap(antialiased=True)
    bitmap = np.asarray(font.get_image(), dtype=np.float32) / 255.0
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    rows, cols = np.nonzero(bitmap > 0)
    if rows.size == 0:
        raise RuntimeError(f"font {font.fname} drew nothing for {letter!r}")
    bitmap = bitmap[:, cols.min():cols.max() + 1]
    h, w = bitmap.shape
    descent = int(round(font.get_descent() / 64))
    top = _BASELINE - (h - descent)
    left = (CANVAS - w) // 2
    # clip whatever would fall off the canvas (nothing does at _POINT_SIZE for these faces)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + h, CANVAS), min(left + w, CANVAS)
    canvas[r0:r1, c0:c1] = bitmap[r0 - top:r1 - top, c0 - left:c1 - left]
    return canvas


@lru_cache(maxsize=4)
def mask_bank(classes: tuple) -> np.ndarray:
    """Masks of every (stroke, font, class): (len(STROKES), len(FONT_FILES), C, 67, 67) uint8,
    the 64x64 canvas with a zero border (one row/column before, two after, for sampling).

    Drawn with FT2Font (about 2 ms a letter), then dilated 0, 1 or 2 times and blurred [1 2 1]/4.
    Cached in memory for the process (lru_cache), keyed by the tuple of class letters.
    """
    from matplotlib.ft2font import FT2Font

    drawn = np.empty((len(FONT_FILES), len(classes), CANVAS, CANVAS), np.float32)
    for f, name in enumerate(FONT_FILES):
        font = FT2Font(str(font_dir() / name))
        font.set_size(_POINT_SIZE, 72)
        for c, letter in enumerate(classes):
            drawn[f, c] = _draw_letter(font, letter)
    bank = np.zeros((len(STROKES),) + drawn.shape[:2] + (CANVAS + 3, CANVAS + 3), np.uint8)
    for s, k in enumerate(STROKES):
        m = drawn
        for _ in range(k):
            m = _morph(m, np.maximum)
        bank[s, ..., 1:CANVAS + 1, 1:CANVAS + 1] = np.rint(np.clip(_blur121(m), 0, 1) * 255)
    return bank


@lru_cache(maxsize=1)
def photos() -> tuple:
    """scikit-learn's sample photos, area-downsampled by 2: tuple of (H, W, 3) uint8.

    Read with Pillow (a dependency of matplotlib) from sklearn/datasets/images/ without
    importing scikit-learn (its import takes seconds).
    """
    for name in PHOTO_FILES:
        if not (photo_dir() / name).is_file():
            raise FileNotFoundError(f"{photo_dir() / name} not found: the glyph backgrounds use "
                                    f"scikit-learn's sample photos; reinstall scikit-learn")
    from PIL import Image

    out = []
    for name in PHOTO_FILES:
        with Image.open(photo_dir() / name) as im:
            img = np.asarray(im.convert("RGB"), dtype=np.float32)
        h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
        img = img[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
        out.append(np.ascontiguousarray(np.rint(img).astype(np.uint8)))
    return tuple(out)


@lru_cache(maxsize=1)
def _packed_photos() -> tuple:
    """(offsets of each photo's first pixel, all photos' pixels as one uint32 RGBA array)."""
    pics = photos()
    rgba = [np.concatenate([p, np.zeros(p.shape[:2] + (1,), np.uint8)], axis=2) for p in pics]
    flat = np.ascontiguousarray(np.concatenate([p.reshape(-1, 4) for p in rgba]))
    offsets = np.cumsum([0] + [p.shape[0] * p.shape[1] for p in pics])
    return offsets, flat.view(np.uint32).reshape(-1)


def inputs_digest() -> str:
    """sha256 over the font files' bytes, the decoded photo pixels and matplotlib's version:
    what the images depend on besides the code and the arguments."""
    import matplotlib

    digest = hashlib.sha256(f"matplotlib {matplotlib.__version__}|".encode())
    for name in FONT_FILES:
        digest.update(name.encode() + b"\0" + (font_dir() / name).read_bytes())
    for name, img in zip(PHOTO_FILES, photos()):
        digest.update(name.encode() + str(img.shape).encode() + img.tobytes())
    return digest.hexdigest()


def _bilinear(flat: np.ndarray, base: np.ndarray, y: np.ndarray, x: np.ndarray, h: int,
              w: int) -> np.ndarray:
    """Sample images stored in `flat` at fractional pixel coordinates (y, x), bilinearly.

    flat: 1-D, rows of width `w`: uint8 values (masks), or uint32 holding packed RGBA bytes
    (photos: one gather per corner instead of three); base: (N,) index of each image's first
    pixel in `flat`; y, x: (N, S, S) coordinates, which must already lie in
    [0, h - 1] x [0, w - 1] (the caller pads or clamps). Returns float32 (N, S, S) for uint8,
    (N, S, S, 3) for packed RGBA, in the stored units (0..255).
    """
    def gather(i):
        v = flat.take(i)
        if flat.dtype == np.uint32:
            v = v.view(np.uint8).reshape(i.shape + (4,))[..., :3]
        return v.astype(np.float32)

    y0 = np.minimum(np.floor(y), h - 2)
    x0 = np.minimum(np.floor(x), w - 2)
    fy, fx = (y - y0).astype(np.float32), (x - x0).astype(np.float32)
    idx = base[:, None, None] + y0.astype(np.intp) * w + x0.astype(np.intp)
    if flat.dtype == np.uint32:
        fy, fx = fy[..., None], fx[..., None]
    top = gather(idx) * (1 - fx) + gather(idx + 1) * fx
    bottom = gather(idx + w) * (1 - fx) + gather(idx + w + 1) * fx
    return top * (1 - fy) + bottom * fy


def _luma(rgb: np.ndarray) -> np.ndarray:
    # written out (no BLAS call): the same bits with any BLAS and thread count
    return rgb[..., 0] * _LUMA[0] + rgb[..., 1] * _LUMA[1] + rgb[..., 2] * _LUMA[2]


def _ink_for(rng, bg_luma: np.ndarray) -> np.ndarray:
    """(N, 3) ink colours with |luminance - bg_luma| >= MIN_CONTRAST: 8 random tries each, else
    black or white (whichever is farther)."""
    n = len(bg_luma)
    tries = rng.random((n, 8, 3), dtype=np.float32)
    ok = np.abs(_luma(tries) - bg_luma[:, None]) >= MIN_CONTRAST
    first = np.argmax(ok, axis=1)
    ink = tries[np.arange(n), first]
    fallback = np.where(bg_luma[:, None] < 0.5, 1.0, 0.0).astype(np.float32) * np.ones(3, np.float32)
    return np.where(ok.any(axis=1)[:, None], ink, fallback)


def render_chunk(seed: int, split: int, chunk: int, classes: tuple, per_class: int, size: int):
    """Draw one chunk: `per_class` images of each class, shuffled.

    Returns X (N, 3, size, size) uint8, y (N,) int64 (index into `classes`), ink_brighter (N,)
    bool (True when the ink is lighter than the background's mean), N = per_class * len(classes).
    """
    rng = np.random.default_rng([seed, split, chunk])
    C, S = len(classes), size
    n = per_class * C
    y = rng.permutation(np.repeat(np.arange(C, dtype=np.int64), per_class))
    bank = mask_bank(classes)
    font = rng.integers(0, len(FONT_FILES), n)
    stroke = rng.choice(len(STROKES), n, p=_STROKE_P)

    # 2. the affine map from output pixel (relative to the image centre) to canvas pixel
    theta = np.deg2rad(rng.uniform(-20, 20, n))
    scale = (0.6 * S / 32) * rng.uniform(0.8, 1.2, n)           # output px per canvas px
    aspect = rng.uniform(0.85, 1.15, n)
    shear = rng.uniform(-0.3, 0.3, n)
    shift = rng.uniform(-0.1, 0.1, (n, 2)) * S
    sx, sy = scale * aspect, scale / aspect
    cos, sin = np.cos(theta), np.sin(theta)
    # forward map A = R(theta) @ Shear @ diag(sx, sy); the inverse is applied to output coords
    a11, a12 = cos * sx, cos * shear * sy - sin * sy
    a21, a22 = sin * sx, sin * shear * sy + cos * sy
    det = a11 * a22 - a12 * a21
    grid = np.arange(S, dtype=np.float64) + 0.5 - S / 2
    u = grid[None, None, :] - shift[:, 0, None, None]                   # x, (n, 1, S)
    v = grid[None, :, None] - shift[:, 1, None, None]                   # y, (n, S, 1)
    b11, b12, b21, b22 = ((a / det)[:, None, None] for a in (a22, -a12, -a21, a11))
    cx = b11 * u + b12 * v + CANVAS / 2 - 0.5
    cy = b21 * u + b22 * v + CANVAS / 2 - 0.5
    # the bank has a zero border (1 before, 2 after): clamped coordinates then read zeros
    side = CANVAS + 3
    base = ((stroke * len(FONT_FILES) + font) * C + y) * (side * side)
    cy = np.clip(cy, -1, CANVAS) + 1
    cx = np.clip(cx, -1, CANVAS) + 1
    alpha = _bilinear(bank.reshape(-1), base, cy, cx, side, side) * np.float32(1 / 255)

    # 3. backgrounds
    kinds = list(_KIND_P)
    kind = rng.choice(len(kinds), n, p=list(_KIND_P.values()))
    bg = np.empty((n, S, S, 3), np.float32)
    bg_luma = np.empty(n, np.float32)
    ink = np.empty((n, 3), np.float32)
    # plain: white ink on black, like the digits
    sel = np.nonzero(kind == kinds.index("plain"))[0]
    bg[sel] = 0.0
    bg_luma[sel] = 0.0
    # flat colour
    sel = np.nonzero(kind == kinds.index("flat"))[0]
    col = rng.random((len(sel), 3), dtype=np.float32)
    bg[sel] = col[:, None, None, :]
    bg_luma[sel] = _luma(col)
    # two-colour gradient along a random direction
    sel = np.nonzero(kind == kinds.index("gradient"))[0]
    c1 = rng.random((len(sel), 3), dtype=np.float32)
    c2 = np.clip(c1 + rng.uniform(-0.3, 0.3, (len(sel), 3)).astype(np.float32), 0, 1)
    phi = rng.uniform(0, 2 * np.pi, len(sel))
    g = np.linspace(0, 1, S, dtype=np.float32)
    t = (np.cos(phi)[:, None, None] * (g[None, None, :] - 0.5)
         + np.sin(phi)[:, None, None] * (g[None, :, None] - 0.5)) / np.sqrt(0.5) + 0.5
    t = np.clip(t, 0, 1).astype(np.float32)[..., None]
    bg[sel] = c1[:, None, None, :] * (1 - t) + c2[:, None, None, :] * t
    bg_luma[sel] = _luma((c1 + c2) / 2)
    # photo crops, contrast lowered around their mean
    sel = np.nonzero(kind == kinds.index("photo"))[0]
    pics = photos()
    which = rng.integers(0, len(pics), len(sel))
    side = rng.uniform(0.75, 2.5, len(sel)) * S                           # crop side, photo px
    flip = rng.random(len(sel)) < 0.5
    contrast = rng.uniform(0.35, 0.8, len(sel)).astype(np.float32)
    frac = rng.random((len(sel), 2))
    offsets, flat_pix = _packed_photos()
    if len(sel):
        hs = np.array([pics[i].shape[0] for i in which])
        ws = np.array([pics[i].shape[1] for i in which])
        top = frac[:, 0] * (hs - side - 1)
        left = frac[:, 1] * (ws - side - 1)
        step = side / S
        gy = top[:, None, None] + (np.arange(S)[None, :, None] + 0.5) * step[:, None, None] - 0.5
        gx = np.arange(S)[None, None, :] + 0.5
        gx = np.where(flip[:, None, None], S - gx, gx)
        gx = left[:, None, None] + gx * step[:, None, None] - 0.5
        # one photo has one width: sample per photo so that row strides are right
        crop = np.empty((len(sel), S, S, 3), np.float32)
        for i, pic in enumerate(pics):
            k = np.nonzero(which == i)[0]
            if len(k):
                h, w = pic.shape[:2]
                yy = np.clip(np.broadcast_to(gy[k], (len(k), S, S)), 0, h - 1)
                xx = np.clip(np.broadcast_to(gx[k], (len(k), S, S)), 0, w - 1)
                crop[k] = _bilinear(flat_pix, np.full(len(k), offsets[i]), yy, xx, h, w) \
                    * np.float32(1 / 255)
        mean = crop.mean(axis=(1, 2), keepdims=True)
        bg[sel] = mean + contrast[:, None, None, None] * (crop - mean)
        bg_luma[sel] = _luma(mean[:, 0, 0, :])

    # 4. ink with a minimum contrast to the background's mean luminance
    plain = kind == kinds.index("plain")
    ink[:] = _ink_for(rng, bg_luma)
    ink[plain] = 1.0
    ink_brighter = _luma(ink) > bg_luma

    # 5. compose, blur some, add noise, quantise
    img = bg * (1 - alpha[..., None]) + ink[:, None, None, :] * alpha[..., None]
    blur = np.nonzero(rng.random(n) < 0.25)[0]
    if len(blur):
        img[blur] = _blur121(img[blur], axes=(1, 2))
    sigma = rng.uniform(0, 0.03, n).astype(np.float32) * np.float32(np.sqrt(12.0))
    img += sigma[:, None, None, None] * (rng.random(img.shape, dtype=np.float32) - np.float32(0.5))
    X = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(X), y, ink_brighter


# --------------------------------------------------------------------------------------------
# Many chunks, serial or in forked worker processes (the bytes are the same either way)
# --------------------------------------------------------------------------------------------

def _draw_chunks(jobs: list, classes: tuple, size: int, workers: int) -> list:
    """Render jobs [(seed, split, chunk, per_class), ...]: list of (X, y, ink) in job order."""
    mask_bank(classes)                 # drawn once in this process; forked workers inherit it
    photos()
    _packed_photos()
    args = [(seed, split, chunk, classes, per_class, size) for seed, split, chunk, per_class in jobs]
    if workers <= 1 or len(jobs) < 4:
        return [render_chunk(*a) for a in args]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(_render, args, chunksize=max(1, len(args) // (4 * workers))))


def _render(args):
    return render_chunk(*args)


def _select(parts: list, n: int, C: int) -> tuple:
    """Concatenate chunks and keep, for each class, its first n images (in chunk order)."""
    X = np.concatenate([p[0] for p in parts]) if parts else None
    y = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    ink = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, bool)
    if X is None:
        return None, y, ink
    rank = np.empty(len(y), np.int64)
    for c in range(C):
        where = np.nonzero(y == c)[0]
        rank[where] = np.arange(len(where))
    keep = rank < n
    return X[keep], y[keep], ink[keep]


def draw_splits(counts: dict, seed: int, size: int, classes: tuple, workers: int) -> dict:
    """{split name: (X uint8 (N, 3, S, S), y int64 (N,), ink_brighter bool (N,))} for
    counts {split name: images per class}; split names are those of SPLITS."""
    jobs, owner = [], []
    for name, n in counts.items():
        for chunk in range(-(-n // CHUNK_PER_CLASS)):
            jobs.append((seed, SPLITS.index(name), chunk, CHUNK_PER_CLASS))
            owner.append(name)
    drawn = _draw_chunks(jobs, classes, size, workers)
    out = {}
    for name, n in counts.items():
        parts = [d for d, o in zip(drawn, owner) if o == name]
        X, y, ink = _select(parts, n, len(classes))
        if X is None:
            X = np.zeros((0, 3, size, size), np.uint8)
        out[name] = (X, y, ink)
    return out
