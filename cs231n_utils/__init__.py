"""cs231n_utils: the helper package behind the CS231n CNN workbook.

One idea per module (import what you need, nothing is loaded at import time):

- `paths`           where the repository and its assets/ folder are
- `shapes`          output sizes, receptive fields, the output-size formula text
- `checks`          input checks shared by every layer (one place per error message)
- `layers`          every layer's forward/backward (naive loops and fast vectorised versions)
- `fast_layers`     the vectorised kernels behind `layers`' fast functions (picks a strategy)
- `fast_conv`       im2col convolution kernels in chunks of bounded scratch; depthwise kernels
- `winograd`        Winograd F(2x2, 3x3): the transforms, multiply counts, the batched kernel
- `fast_pool`       max pooling with recorded switches
- `parallel`        the fast layers' threads (CS231N_THREADS, threadpoolctl) and scratch arena
- `gradient_check`  numerical gradients and `rel_error`
- `layer_objects`   trainable layer objects (Conv, ReLU, MaxPool, Affine, BatchNorm, Residual, ...)
- `models`          `Sequential`: a stack of layer objects with a classification loss
- `pattern`         the lecture's pattern text ("INPUT -> [CONV3-16 -> RELU]*2 -> FC-10") -> a model
- `solver`          SGD / momentum / Adam training with history and checkpoints
- `data`            digits (bundled with scikit-learn); re-exports the CIFAR-10 loader
- `cifar`           CIFAR-10 batches read opcode by opcode (never unpickled), `load_cifar10`
- `download`        `workbook.py data cifar10`: resumable download, MD5 check, safe extraction
- `provenance`      pretrained weights' provenance JSON read with limits and a checksum
- `glyphs`          a generated colour image set (52 letters, 32x32) standing in for CIFAR-10
- `glyph_render`    how each glyph image is drawn (fonts, photo textures; private to `glyphs`)
- `netspec`         the spec language of `architectures` (ConvSpec, Pool, ...) and its cost walker
- `architectures`   per-layer calculators for LeNet-5, AlexNet ... ShuffleNet
- `sizing`          the notes' layer-sizing rules, checked layer by layer on a real net
- `memory`          training memory budget: activations, gradients, parameters, optimizer state
- `fc_as_conv`      fully connected layers as convolutions: one pass over a bigger image
- `degradation`     plain vs residual nets of growing depth (the degradation problem)
- `groupnorm`       group normalisation as a layer; batch norm vs group norm across batch sizes
- `results`         small JSON result files written by scripts/, read with limits
- `progress`        a text progress bar whose stored output nbval can compare
- `transfer`        pretrained weights, frozen parts, the transfer-learning experiments
- `feature_cache`   the disk cache of frozen features (keys, stale and corrupt files)
- `transfer_augment` small random shifts, rotations and scalings of few labelled images
- `transfer_fewshot` few-shot transfer from the grey glyphs to the digits: the table of 07
- `history`         the CNN timeline and ImageNet results (data for 01_history)
- `filters`         hand-made filters: Gabor, edges, blur, sharpen; test images of bars
- `visualize`       what a trained net learned: filter orientation, top patches, occlusion, saliency, t-SNE
- `tables`          one small table renderer (text and HTML) for every summary
- `plotting`        figures used by the notebooks, one module per topic (each returns the data it draws)
- `explorers`       the arithmetic behind the interactive widgets (pure functions)
- `widgets`         the ipywidgets explorers themselves
- `training_view`   the live ConvNetJS-style training view
- `exercises`       checkers for the exercise cells (one module per topic)
- `i18n`            the language of learner-facing messages (`set_language("zh")`)
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("paths", "shapes", "checks", "layers", "fast_layers", "fast_conv", "winograd", "fast_pool",
               "parallel", "gradient_check", "layer_objects",
               "models", "pattern", "solver", "data", "glyphs", "glyph_render", "netspec", "architectures", "sizing", "memory",
               "fc_as_conv", "degradation", "groupnorm", "results", "progress", "transfer", "feature_cache",
               "transfer_augment", "transfer_fewshot",
               "history", "filters", "visualize", "tables", "plotting", "explorers", "widgets", "training_view",
               "exercises", "i18n", "cifar", "download", "provenance")

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name: str):
    # Submodules load on first use, so `import cs231n_utils` stays instant.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
