"""Fully connected layers as convolutions (全连接层转化为卷积层): slide a whole net over a bigger image.

An FC layer that sees a C x H x W volume computes, for each of its M outputs, one dot product
with the whole volume: exactly a conv layer with M filters of size H x W, no padding
(notebook 05, section 2). Converted that way, every FC layer after the last pool becomes a conv
(the first with H x W filters, the next ones 1x1), and the network accepts a larger image: it then
outputs a *map* of class scores, one per position of a crop that slides over the image with the
network's total stride.

* `fc_weights_as_conv(w, input_shape)`: FC weights (D, M) -> conv filters (M, C, H, W);
* `convolutionalize(net)`: a `NetSpec` with its FC layers turned into convs (adaptive pools,
  which would squeeze a bigger map back to the design size, removed);
* `sliding_comparison(name, image_size)`: the CS231n example in numbers: VGG16 on a 384x384
  image in one pass vs 36 crops of 224x224 at stride 32;
* `TinyNet`: a two-conv net small enough to check in numpy that the one-pass score map equals
  the crop-by-crop scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .checks import check_int
from .netspec import AdaptiveAvgPool, ConvSpec, Linear, NetSpec

__all__ = ["fc_weights_as_conv", "convolutionalize", "sliding_comparison", "TinyNet"]


def fc_weights_as_conv(w: np.ndarray, input_shape) -> np.ndarray:
    """FC weights `w` of shape (D, M), D = C*H*W, as M conv filters of shape (C, H, W).

    Column m of w becomes filter m: w[:, m].reshape(C, H, W) (the flattening order of
    `layers.affine_forward`, which reshapes an (N, C, H, W) input row-major).
    """
    w = np.asarray(w)
    C, H, W = (check_int(v, "input_shape entry", 1) for v in input_shape)
    if w.ndim != 2 or w.shape[0] != C * H * W:
        raise ValueError(f"w must have shape (C*H*W, M) = ({C * H * W}, M) for input {C}x{H}x{W}, "
                         f"got {w.shape}")
    return np.ascontiguousarray(w.T.reshape(w.shape[1], C, H, W))


def convolutionalize(net) -> NetSpec:
    """The spec of `net` (a name or `NetSpec`) with every FC layer turned into a conv: the first
    FC, which sees a C x H x W volume, becomes a conv with H x W filters (H = W required), the
    following ones 1x1 convs. AdaptiveAvgPool layers are dropped, so a larger input gives a map of
    scores instead of being pooled back to the design size.

    Shown in 06, section 11.
    """
    from .architectures import spec, summarize

    net = net if isinstance(net, NetSpec) else spec(net)
    rows = summarize(net).rows
    names = [r.name for r in rows]
    stages, seen_fc = [], False
    for stage, layers in net.stages:
        new = []
        for layer in layers:
            if isinstance(layer, AdaptiveAvgPool):
                continue
            if isinstance(layer, Linear):
                before = rows[names.index(layer.name) - 1].output_shape
                if seen_fc or len(before) == 1:
                    k = 1
                else:
                    if before[1] != before[2]:
                        raise ValueError(f"{layer.name} sees a {before[1]}x{before[2]} map; only square "
                                         f"maps convert to square filters")
                    k = before[1]
                layer = ConvSpec(layer.name, layer.out_features, k, 1, 0, bias=layer.bias)
                seen_fc = True
            new.append(layer)
        stages.append((stage, tuple(new)))
    if not seen_fc:
        raise ValueError(f"{net.name} has no fully connected layer to convert")
    return replace(net, name=net.name + "_conv", stages=tuple(stages))


def sliding_comparison(name: str = "vgg16", image_size: int = 384) -> dict:
    """One pass of the converted net on an image_size x image_size image vs evaluating the
    original net on every crop of its design size at the net's total stride.

    Returns {"crop", "image", "stride", "positions" (per axis), "crops" (total), "score_map"
    (shape of the output), "macs_one_pass", "macs_per_crop", "macs_all_crops", "saving"
    (all crops / one pass)}.

    Shown in 06, section 11.
    """
    from .architectures import spec, summarize

    net = spec(name)
    crop = net.input_shape[1]
    image_size = check_int(image_size, "image_size", crop)
    conv = summarize(convolutionalize(net), (net.input_shape[0], image_size, image_size))
    original = summarize(net)
    first_fc = next(i for i, r in enumerate(original.rows) if r.kind == "fc")
    feature = original.rows[first_fc - 1].output_shape
    stride = crop // feature[1] if crop % feature[1] == 0 else None
    positions = conv.output_shape[1]
    return {"crop": crop, "image": image_size, "stride": stride, "positions": positions,
            "crops": positions * conv.output_shape[2], "score_map": conv.output_shape,
            "macs_one_pass": conv.total_macs, "macs_per_crop": original.total_macs,
            "macs_all_crops": positions * conv.output_shape[2] * original.total_macs,
            "saving": positions * conv.output_shape[2] * original.total_macs / conv.total_macs}


@dataclass
class TinyNet:
    """conv3x3 -> ReLU -> pool2 -> conv3x3 -> ReLU -> pool2 -> FC -> ReLU -> FC, random weights.

    pad=0 ("valid" convs): total stride 4, a crop of `crop` pixels (crop - 2 must be divisible by 4
    twice over, e.g. 18 -> 16 -> 8 -> 6 -> 3). `scores(x)` runs the FC version on crops,
    `score_map(x)` the converted version on any larger image.

    Shown in 06, section 11.
    """
    channels: int = 3
    width: int = 4
    hidden: int = 16
    classes: int = 5
    crop: int = 18
    pad: int = 0
    seed: int = 0

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        c, w = self.channels, self.width
        self.w1 = rng.standard_normal((w, c, 3, 3)) * 0.5
        self.w2 = rng.standard_normal((2 * w, w, 3, 3)) * 0.3
        self.b1, self.b2 = rng.standard_normal(w) * 0.1, rng.standard_normal(2 * w) * 0.1
        self.feature_shape = (2 * w,) + (self._feature_size(self.crop),) * 2
        d = math.prod(self.feature_shape)
        self.w3, self.b3 = rng.standard_normal((d, self.hidden)) / np.sqrt(d), np.zeros(self.hidden)
        self.w4 = rng.standard_normal((self.hidden, self.classes)) / np.sqrt(self.hidden)
        self.b4 = rng.standard_normal(self.classes) * 0.1

    def _feature_size(self, size: int) -> int:
        from .shapes import conv_output_size, pool_output_size
        for _ in range(2):
            size = pool_output_size(conv_output_size(size, 3, 1, self.pad), 2)
        return size

    def _features(self, x):
        from . import layers
        h = x
        for w, b in ((self.w1, self.b1), (self.w2, self.b2)):
            h = layers.relu_forward(layers.conv_forward_fast(h, w, b, {"stride": 1, "pad": self.pad})[0])[0]
            h = layers.max_pool_forward_fast(h, {"pool_height": 2, "pool_width": 2, "stride": 2})[0]
        return h

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Class scores (N, classes) of crops x of shape (N, C, crop, crop), with FC layers."""
        from . import layers
        h = layers.relu_forward(layers.affine_forward(self._features(x), self.w3, self.b3)[0])[0]
        return layers.affine_forward(h, self.w4, self.b4)[0]

    def score_map(self, x: np.ndarray) -> np.ndarray:
        """Scores of the converted net: (N, classes, P, P) for an input of any size >= crop."""
        from . import layers
        f1 = fc_weights_as_conv(self.w3, self.feature_shape)
        f2 = fc_weights_as_conv(self.w4, (self.hidden, 1, 1))
        h = layers.relu_forward(layers.conv_forward_fast(self._features(x), f1, self.b3, {})[0])[0]
        return layers.conv_forward_fast(h, f2, self.b4, {})[0]

    def crop_by_crop(self, x: np.ndarray, stride: int = 4) -> np.ndarray:
        """`scores` of every crop of x (N, C, S, S) at `stride`, arranged as (N, classes, P, P)."""
        n, _, size, _ = x.shape
        p = (size - self.crop) // stride + 1
        out = np.empty((n, self.classes, p, p))
        for i in range(p):
            for j in range(p):
                top, left = i * stride, j * stride
                out[:, :, i, j] = self.scores(x[:, :, top:top + self.crop, left:left + self.crop])
        return out
