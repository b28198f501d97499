"""Seeing what a trained ConvNet learned (可视化卷积神经网络): the lecture's "visualizing what
ConvNets learn", computed with the model's own forward and backward passes.

- `orientation_index(filters)`      how oriented each filter is, 0 (no preferred direction) .. 1
                                     (a pure grating), from its 2-D power spectrum
- `receptive_field(model, layer)`    size, stride and offset of one unit's receptive field (感受野)
                                     in the input, from the layer settings
- `top_patches(model, X, layer, units)`  the k image patches that excite each chosen unit
                                     (channel) most, each cropped to the unit's receptive field
- `occlusion_map(model, image, label)`   how much the true-class probability drops when a grey
                                     patch hides each part of the image
- `saliency_map(model, X, labels)`   |d score_y / d pixel|, the gradient of the class score with
                                     respect to the input (max over colour channels)
- `penultimate_features(model, X)` and `tsne_embedding(features)`  the features the classifier
                                     reads, and their 2-D t-SNE map (scikit-learn)

Models are `models.Sequential` (conv, pool, ReLU, BN, FC layers...); images are (N, C, H, W).
The pictures are drawn by `cs231n_utils.plotting.features`.

    >>> idx = orientation_index(model.params["conv1.W"])           # (F,) values in [0, 1]
    >>> top = top_patches(model, X_val, "relu1", units=[0, 3], k=9)
    >>> occ = occlusion_map(model, X_val[0], y_val[0], patch=8)
    >>> sal = saliency_map(model, X_val[:4], y_val[:4])
"""
from __future__ import annotations

import contextlib
from typing import NamedTuple, Sequence

import numpy as np

from .layer_objects import Affine, AvgPool, Conv, Dropout, Flatten, GlobalAvgPool, MaxPool

__all__ = ["orientation_index", "RField", "receptive_field", "TopPatches", "top_patches",
           "occlusion_map", "saliency_map", "penultimate_features", "tsne_embedding"]

# Layers that keep every spatial position where it is (elementwise or per channel).
_POINTWISE_KINDS = ("RELU", "BN", "LRN", "GN", "DROPOUT")


# ------------------------------------------------------------------------------------------
# Orientation of filters
# ------------------------------------------------------------------------------------------

def orientation_index(filters) -> np.ndarray:
    """How strongly each filter prefers one orientation (方向选择性), in [0, 1].

    filters: (F, C, k, k) (e.g. `model.params["conv1.W"]`) or (F, k, k) for one channel;
    any k x l works. For filter f, P(k) = sum over channels c of |FFT2(w_fc)(k)|^2, its power
    spectrum; theta(k) is the direction of frequency k. Over the non-DC frequencies,

        index_f = | sum_k P(k) exp(2i theta(k)) | / sum_k P(k)

    The angle is doubled because k and -k (same orientation) carry the same power. A grating
    (one frequency, one direction) gives 1; a round blob, a checkerboard-free isotropic
    pattern or a filter that is constant over space (DC only, e.g. a pure colour filter)
    gives 0. Returns (F,) float64.

    Shown in 05, section 11.
    """
    w = np.asarray(filters, dtype=np.float64)
    if w.ndim == 3:
        w = w[:, None]
    if w.ndim != 4 or w.shape[0] == 0 or min(w.shape[2:]) < 2:
        raise ValueError(f"filters must have shape (F, C, k, k) or (F, k, k) with k >= 2, got "
                         f"{np.shape(filters)}; pass e.g. model.params['conv1.W']")
    if not np.isfinite(w).all():
        raise ValueError("filters contain NaN or inf; check the weights you passed")
    kh, kw = w.shape[2:]
    power = (np.abs(np.fft.fft2(w, axes=(2, 3))) ** 2).sum(axis=1)       # (F, kh, kw)
    fy, fx = np.meshgrid(np.fft.fftfreq(kh), np.fft.fftfreq(kw), indexing="ij")
    phase = np.exp(2j * np.arctan2(fy, fx))
    phase[0, 0] = 0.0                                                      # drop DC
    power[:, 0, 0] = 0.0
    total = power.sum(axis=(1, 2))
    oriented = np.abs((power * phase).sum(axis=(1, 2)))
    out = np.zeros(len(w))
    ok = total > 1e-300 * max(1.0, float(np.max(total)))
    out[ok] = oriented[ok] / total[ok]
    return np.clip(out, 0.0, 1.0)


# ------------------------------------------------------------------------------------------
# Receptive fields
# ------------------------------------------------------------------------------------------

class RField(NamedTuple):
    """The receptive field of one unit of a layer, along each spatial axis (square windows).

    size:   input pixels the unit sees along an axis (padding included);
    stride: input pixels between neighbouring units of the layer (the "jump");
    offset: input row (column) of the first pixel seen by unit (0, 0); negative when
            padding puts it outside the image. Unit (i, j) sees rows
            offset + i*stride ... offset + i*stride + size - 1 (likewise for columns).
    """
    size: int
    stride: int
    offset: int

    def box(self, i: int, j: int, height: int, width: int) -> tuple:
        """(r0, r1, c0, c1): the rows r0..r1-1 and columns c0..c1-1 of an height x width image
        that unit (i, j) sees, clipped to the image."""
        r0, c0 = self.offset + i * self.stride, self.offset + j * self.stride
        return (max(r0, 0), min(r0 + self.size, height), max(c0, 0), min(c0 + self.size, width))


def _layer_names(model) -> list:
    return [l.name for l in model.layers]


def _layer_index(model, layer: str) -> int:
    names = _layer_names(model)
    if not isinstance(layer, str) or layer not in names:
        raise ValueError(f"unknown layer {layer!r}; this model's layers are {names}")
    return names.index(layer)


def receptive_field(model, layer: str) -> RField:
    """Receptive field of one unit of `layer` (a layer name such as "conv2" or "relu3").

    Walks the layers from the input with the usual recurrence: a window of k (effective
    d*(k-1)+1 with dilation d), stride s and padding p turns (size, stride, offset) into
    (size + (k_eff - 1) * stride, stride * s, offset - p * stride). ReLU, BN, LRN, GN and
    dropout keep it. Raises ValueError for an unknown layer name or for a layer that is not
    a spatial map (FC, GAP, flatten, residual blocks: their units see the whole image, or
    the walk is not a chain). Returns RField(size, stride, offset).

    Shown in 05, section 12.
    """
    end = _layer_index(model, layer)
    size, stride, offset = 1, 1, 0
    for l in model.layers[:end + 1]:
        if isinstance(l, Conv):
            k = l.dilation * (l.filter_size - 1) + 1
            size, offset, stride = size + (k - 1) * stride, offset - l.pad * stride, stride * l.stride
        elif isinstance(l, (MaxPool, AvgPool)):
            size, stride = size + (l.pool_size - 1) * stride, stride * l.stride
        elif l.kind in _POINTWISE_KINDS:
            continue
        else:
            what = "its units see the whole input" if isinstance(l, (Affine, Flatten, GlobalAvgPool)) \
                else "it is not a plain conv/pool/pointwise layer"
            raise ValueError(f"layer {l.name!r} ({l.describe()}) has no receptive-field map "
                             f"({what}); choose a conv, pool or ReLU layer before it, e.g. "
                             f"{[n.name for n in model.layers if isinstance(n, Conv)][-1:]}")
    return RField(size, stride, offset)


# ------------------------------------------------------------------------------------------
# Maximally activating patches
# ------------------------------------------------------------------------------------------

class TopPatches(NamedTuple):
    """What `top_patches` found. U = number of units, k = patches per unit, S = rf.size.

    units:   (U,) the channels asked for;
    values:  (U, k) their activations, largest first;
    where:   (U, k, 3) ints (image index, row i, column j) of each activation in the layer's map;
    boxes:   (U, k, 4) ints (r0, r1, c0, c1): the clipped image region each unit saw;
    patches: (U, k, C, S, S) the image crops, aligned as the unit sees them; pixels outside the
             image (the padding) are NaN;
    rf:      the layer's RField.
    """
    units: np.ndarray
    values: np.ndarray
    where: np.ndarray
    boxes: np.ndarray
    patches: np.ndarray
    rf: RField


def _activations(model, X, layer: str, batch_size: int) -> np.ndarray:
    idx = _layer_index(model, layer)
    out = []
    for start in range(0, len(X), batch_size):
        h = model._check_input(X[start:start + batch_size])
        for l in model.layers[:idx + 1]:
            h = l.forward(h, "test")
        out.append(h)
    return np.concatenate(out, axis=0)


def _check_images(model, X, what="X") -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 4 or tuple(X.shape[1:]) != tuple(model.input_shape):
        raise ValueError(f"{what} must be a batch of images of shape (N, "
                         f"{', '.join(map(str, model.input_shape))}) for this model, got {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{what} holds no images")
    return X


def top_patches(model, X, layer: str, units: Sequence[int], k: int = 9, *,
                distinct_images: bool = True, batch_size: int = 256) -> TopPatches:
    """The k image patches that make each chosen unit (a channel of `layer`) fire hardest.

    model: a Sequential; X: (N, C, H, W) images; layer: a layer name with a spatial output
    (conv, ReLU, pool ...); units: channel numbers of that layer. Every position (i, j) of a
    channel is one unit with the same weights; its receptive field is cut from the image
    (`receptive_field`), keeping the part outside the image as NaN so a patch at the border
    sits where the unit sees it. With `distinct_images` (default) each image gives at most
    one patch per unit (its strongest position), so the k patches come from k images.
    Ties are broken by the lowest image index, then row, then column. Returns `TopPatches`.

    Shown in 05, section 12.
    """
    X = _check_images(model, X)
    rf = receptive_field(model, layer)
    acts = _activations(model, X, layer, batch_size)
    n_units = acts.shape[1]
    units = np.atleast_1d(np.asarray(units))
    if units.ndim != 1 or units.size == 0 or units.dtype.kind not in "iu":
        raise ValueError(f"units must be a list of channel numbers of {layer!r}, got {units!r}")
    bad = units[(units < 0) | (units >= n_units)]
    if bad.size:
        raise ValueError(f"unit {int(bad[0])} is out of range: layer {layer!r} has {n_units} "
                         f"channels (units 0..{n_units - 1})")
    N, _, Ho, Wo = acts.shape
    limit = N if distinct_images else N * Ho * Wo
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= limit:
        raise ValueError(f"k must be an integer in 1..{limit} (the number of "
                         f"{'images' if distinct_images else 'positions'}), got {k!r}")
    C, H, W = X.shape[1:]
    S = rf.size
    values = np.empty((len(units), k))
    where = np.empty((len(units), k, 3), dtype=np.int64)
    boxes = np.empty((len(units), k, 4), dtype=np.int64)
    patches = np.full((len(units), k, C, S, S), np.nan)
    for u, unit in enumerate(units):
        a = acts[:, unit].reshape(N, -1)
        if distinct_images:
            pos = np.argmax(a, axis=1)                              # first maximum per image
            best = a[np.arange(N), pos]
            order = np.lexsort((np.arange(N), -best))[:k]           # value, then image index
            cand = [(n, *divmod(int(pos[n]), Wo)) for n in order]
        else:
            flat = a.ravel()
            order = np.lexsort((np.arange(flat.size), -flat))[:k]
            cand = [(n, *divmod(int(r), Wo)) for n, r in (divmod(int(o), Ho * Wo) for o in order)]
        for j, (n, i, jj) in enumerate(cand):
            values[u, j] = acts[n, unit, i, jj]
            where[u, j] = (n, i, jj)
            r0, r1, c0, c1 = rf.box(i, jj, H, W)
            boxes[u, j] = (r0, r1, c0, c1)
            top, left = rf.offset + i * rf.stride, rf.offset + jj * rf.stride
            if r1 > r0 and c1 > c0:
                patches[u, j, :, r0 - top:r1 - top, c0 - left:c1 - left] = X[n, :, r0:r1, c0:c1]
    return TopPatches(units, values, where, boxes, patches, rf)


# ------------------------------------------------------------------------------------------
# Occlusion and saliency
# ------------------------------------------------------------------------------------------

def _softmax(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _check_label(model, label, n=None) -> np.ndarray:
    classes = model.output_shape[0] if len(model.output_shape) == 1 else None
    if classes is None:
        raise ValueError(f"the model outputs shape {model.output_shape} per image; it needs class "
                         f"scores (end with FC-<classes>)")
    y = np.atleast_1d(np.asarray(label))
    if y.dtype.kind not in "iu" or (n is not None and y.shape != (n,)) or y.ndim != 1:
        raise ValueError(f"labels must be {'one integer' if n is None else f'{n} integers'} "
                         f"(class numbers), got {label!r}")
    if y.min() < 0 or y.max() >= classes:
        raise ValueError(f"label {int(y[(y < 0) | (y >= classes)][0])} is out of range: the model "
                         f"has {classes} classes (0..{classes - 1})")
    return y


def occlusion_map(model, image, label: int, patch: int = 8, stride: int = 2, fill=None,
                  batch_size: int = 128) -> dict:
    """Occlusion sensitivity (遮挡敏感性): hide one square of the image at a time with a grey
    patch and record how much the probability of the true class drops.

    image: (C, H, W); label: the true class. A patch x patch square is centred on every
    `stride`-th pixel (rows and columns 0, stride, 2*stride, ...), clipped at the borders,
    and filled with `fill` (a number, or one per channel; default: the image's per-channel
    mean, i.e. "grey"). drop = p(label | image) - p(label | occluded image).

    Returns {"grid": (Hg, Wg) drop for the patch centred at (r*stride, c*stride),
    "pixel": (H, W) for every pixel the mean drop of the patches that cover it (the map to
    lay over the image), "prob": p(label | image), "centers": the centre rows (= columns for
    a square image, listed per axis as "rows", "cols")}. A positive value means hiding that
    part lowers the network's belief in the true class.

    Shown in 05, section 13.
    """
    image = np.asarray(image)
    if image.ndim != 3 or tuple(image.shape) != tuple(model.input_shape):
        raise ValueError(f"image must be one image of shape {tuple(model.input_shape)}, got "
                         f"{image.shape}; for a batch pass X[i]")
    y = int(_check_label(model, label)[0])
    C, H, W = image.shape
    for name, v in (("patch", patch), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if patch > min(H, W):
        raise ValueError(f"patch {patch} is larger than the image ({H}x{W}); use patch <= {min(H, W)}")
    fill = image.reshape(C, -1).mean(axis=1) if fill is None else np.asarray(fill, dtype=np.float64)
    if fill.ndim == 0:
        fill = np.full(C, float(fill))
    if fill.shape != (C,):
        raise ValueError(f"fill must be a number or one value per channel ({C}), got shape {fill.shape}")
    rows, cols = np.arange(0, H, stride), np.arange(0, W, stride)
    half = patch // 2
    boxes = [(max(r - half, 0), min(r - half + patch, H), max(c - half, 0), min(c - half + patch, W))
             for r in rows for c in cols]
    p0 = _softmax(model.forward(image[None], "test"))[0, y]
    drops = np.empty(len(boxes))
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start:start + batch_size]
        batch = np.repeat(image[None].astype(np.float64), len(chunk), axis=0)
        for b, (r0, r1, c0, c1) in enumerate(chunk):
            batch[b, :, r0:r1, c0:c1] = fill[:, None, None]
        drops[start:start + len(chunk)] = p0 - _softmax(model.forward(batch, "test"))[:, y]
    total, count = np.zeros((H, W)), np.zeros((H, W))
    for d, (r0, r1, c0, c1) in zip(drops, boxes):
        total[r0:r1, c0:c1] += d
        count[r0:r1, c0:c1] += 1
    return {"grid": drops.reshape(len(rows), len(cols)), "pixel": total / np.maximum(count, 1),
            "prob": float(p0), "rows": rows, "cols": cols}


def saliency_map(model, X, labels) -> dict:
    """Saliency (显著图): the gradient of the class score s_y (before the softmax) with respect
    to every input pixel, by the model's own backward pass (test mode: BN uses its running
    averages, dropout is off).

    X: (N, C, H, W); labels: (N,) the class whose score is differentiated (usually the true
    class). Returns {"grad": (N, C, H, W) d s_y / d x, "saliency": (N, H, W) the maximum over
    channels of |grad| (Simonyan et al. 2014), "scores": (N, classes)}. The layers' parameter
    gradients (`model.grads`) are overwritten by this pass.

    Shown in 05, section 13.
    """
    X = _check_images(model, X)
    y = _check_label(model, labels, len(X))
    scores = model.forward(X, "test")
    dout = np.zeros_like(scores)
    dout[np.arange(len(X)), y] = 1.0
    for l in reversed(model.layers):
        dout = l.backward(dout)
    grad = np.asarray(dout, dtype=np.float64)
    return {"grad": grad, "saliency": np.abs(grad).max(axis=1), "scores": np.asarray(scores, np.float64)}


# ------------------------------------------------------------------------------------------
# Penultimate features and t-SNE
# ------------------------------------------------------------------------------------------

def penultimate_features(model, X, layer: str | None = None, batch_size: int = 256) -> np.ndarray:
    """The features the classifier reads: the output of the layer just before the last layer
    (or of `layer`), flattened. X: (N, ...) -> (N, D) float64.

    Shown in 05, section 14.
    """
    X = _check_images(model, X) if len(model.input_shape) == 3 else np.asarray(X)
    if layer is None:
        if len(model.layers) < 2:
            raise ValueError("the model has one layer; there is no penultimate layer")
        layer = model.layers[-2].name
    acts = _activations(model, X, layer, batch_size)
    return acts.reshape(len(acts), -1).astype(np.float64)


def tsne_embedding(features, seed: int = 0, perplexity: float = 30.0, pca_dims: int | None = 50,
                   max_iter: int = 1000) -> np.ndarray:
    """A 2-D t-SNE map (t-分布随机近邻嵌入) of (N, D) features (scikit-learn's TSNE).

    Nearby points in the map have nearby features; distances between far-apart groups mean
    little. `pca_dims`: reduce to that many principal components first (faster, less noise;
    None keeps all); `max_iter` optimisation steps (>= 250). The result is deterministic for
    a given `seed` (random_state, PCA initialisation) and runs in one thread, so it does not
    depend on OMP_NUM_THREADS. Returns (N, 2) float64.

    Shown in 05, section 14.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    F = np.asarray(features, dtype=np.float64)
    if F.ndim != 2 or len(F) < 5:
        raise ValueError(f"features must be (N, D) with N >= 5, got shape {F.shape}")
    if not np.isfinite(F).all():
        raise ValueError("features contain NaN or inf")
    if not 1 <= perplexity < len(F):
        raise ValueError(f"perplexity must be in [1, N) = [1, {len(F)}), got {perplexity}; "
                         f"a common choice is 5..50")
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                learning_rate="auto", max_iter=max_iter)
    with _one_thread():
        if pca_dims is not None and F.shape[1] > pca_dims:
            F = PCA(pca_dims, random_state=seed).fit_transform(F)
        return np.asarray(tsne.fit_transform(F), dtype=np.float64)


def _one_thread():
    """Hold BLAS and OpenMP to one thread (threadpoolctl, when installed): t-SNE's OpenMP loops
    then add in one order whatever OMP_NUM_THREADS says, and do not spin against other work."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                      # without it: scikit-learn's own thread choice
        return contextlib.nullcontext()
    return threadpool_limits(1)
