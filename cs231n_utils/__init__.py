"""cs231n_utils: the helper package behind the CS231n CNN workbook.

One idea per module (import what you need, nothing is loaded at import time):

- `paths`           where the repository and its assets/ folder are
- `shapes`          output sizes, receptive fields
- `layers`          every layer's forward/backward (naive loops and fast vectorised versions)
- `fast_layers`     the vectorised kernels behind `layers`' fast functions
- `gradient_check`  numerical gradients and `rel_error`
- `models`          a sequential model built from the lecture's pattern text
- `solver`          SGD / momentum / Adam training with history and checkpoints
- `data`            digits (bundled with scikit-learn) and a safe CIFAR-10 loader
- `architectures`   per-layer calculators for AlexNet ... ShuffleNet
- `transfer`        freezing layers and caching frozen features on disk
- `history`         the CNN timeline and ImageNet results (data for 01_history)
- `filters`         hand-made filters: Gabor, edges, blur, sharpen; test images of bars
- `plotting`        figures used by the notebooks, one module per topic (each returns the data it draws)
- `explorers`       the arithmetic behind the interactive widgets (pure functions)
- `widgets`         the ipywidgets explorers themselves
- `training_view`   the live ConvNetJS-style training view
- `exercises`       checkers for the exercise cells and the learner-edition command
- `checks`          input checks shared by every layer (one place per error message)
- `i18n`            the language of learner-facing messages (`set_language("zh")`)
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("paths", "shapes", "layers", "fast_layers", "gradient_check", "models", "solver", "data",
               "architectures", "transfer", "history", "plotting", "explorers", "widgets",
               "exercises", "filters", "training_view", "checks", "i18n")

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name: str):
    # Submodules load on first use, so `import cs231n_utils` stays instant.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
