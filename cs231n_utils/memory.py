"""Compute and memory considerations (计算上的考量): will a network train on your GPU?

The CS231n notes list three things that fill the memory while a ConvNet trains:

1. **activations** (激活映射): the output of every layer for every image of the batch, kept for
   the backward pass, plus **their gradients** (the same size again);
2. **parameters**: the weights, their gradients and the optimizer's state: one more copy for
   momentum (the velocity), two for Adam (first and second moments). The notes' rule of thumb,
   "parameters x 3", is SGD with momentum;
3. **miscellaneous**: the batch of input images (and any augmented copies).

`training_memory(net, batch_size, optimizer)` adds these up from a network's per-layer table
(`architectures.summarize`): activations are counted as in that table (ReLU and batch norm in
place, one stored output per row), so the result is the notes' estimate, not what a particular
framework allocates (which also keeps workspace for the convolutions and often the input of
every batch norm). `max_batch_size(net, budget_bytes, ...)` inverts it: the largest batch that
fits. Sizes are in bytes; GiB = 2^30 bytes, the unit GPU memory is sold in.

    >>> m = training_memory("vgg16", batch_size=32, optimizer="momentum")
    >>> round(m.total_bytes / 2**30, 1)
    5.2
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from .checks import check_int
from .tables import Table

__all__ = ["OPTIMIZER_COPIES", "MemoryBudget", "training_memory", "max_batch_size", "GiB"]

GiB = 2 ** 30

# extra copies of the parameter vector an optimizer keeps (besides the parameters and gradients)
OPTIMIZER_COPIES = {"sgd": 0, "momentum": 1, "sgd_momentum": 1, "nesterov": 1, "adagrad": 1,
                    "rmsprop": 1, "adam": 2}


@dataclass(frozen=True)
class MemoryBudget:
    """Values held in memory while training one mini-batch (counts of numbers, and bytes).

    params / param_grads / optimizer_state: the parameter vector, its gradient and the
    optimizer's copies; activations / activation_grads: every layer's output for the whole
    batch and its gradient; data: the input batch.
    """
    network: str
    batch_size: int
    optimizer: str
    bytes_per_value: int
    params: int
    param_grads: int
    optimizer_state: int
    activations: int
    activation_grads: int
    data: int

    @property
    def parameter_values(self) -> int:
        """Parameters + gradients + optimizer state (the notes' "parameters x 3" for momentum)."""
        return self.params + self.param_grads + self.optimizer_state

    @property
    def activation_values(self) -> int:
        """Activations + their gradients, for the whole batch."""
        return self.activations + self.activation_grads

    @property
    def total_values(self) -> int:
        return self.parameter_values + self.activation_values + self.data

    @property
    def total_bytes(self) -> int:
        return self.total_values * self.bytes_per_value

    def parts(self) -> dict:
        """Bytes per part: {"parameters, gradients, optimizer state", "activations and gradients", "input batch"}."""
        b = self.bytes_per_value
        return {"parameters, gradients, optimizer state": self.parameter_values * b,
                "activations and their gradients": self.activation_values * b,
                "input batch": self.data * b}

    def table(self) -> Table:
        b = self.bytes_per_value
        rows = [("parameters", f"{self.params:,}", _gib(self.params * b)),
                ("parameter gradients", f"{self.param_grads:,}", _gib(self.param_grads * b)),
                (f"optimizer state ({self.optimizer})", f"{self.optimizer_state:,}", _gib(self.optimizer_state * b)),
                (f"activations ({self.batch_size} images)", f"{self.activations:,}", _gib(self.activations * b)),
                ("activation gradients", f"{self.activation_grads:,}", _gib(self.activation_grads * b)),
                ("input batch", f"{self.data:,}", _gib(self.data * b))]
        return Table(("what", "values", "memory"), rows, align="lrr",
                     total=("total", f"{self.total_values:,}", _gib(self.total_bytes)))

    def __repr__(self) -> str:
        return (f"MemoryBudget({self.network!r}, batch {self.batch_size}, {self.optimizer}: "
                f"{self.total_values:,} values = {_gib(self.total_bytes)})")

    def to_text(self) -> str:
        return (f"{self.network}, batch {self.batch_size}, {self.optimizer}, "
                f"{self.bytes_per_value} bytes per value\n" + self.table().to_text())

    def _repr_html_(self) -> str:
        return (f"<p><b>{html.escape(self.network)}</b>, batch {self.batch_size}, {html.escape(self.optimizer)}, "
                f"{self.bytes_per_value} bytes per value</p>" + self.table().to_html())


def _gib(nbytes: int) -> str:
    return f"{nbytes / GiB:.2f} GiB"


def _optimizer_copies(optimizer: str) -> int:
    key = str(optimizer).lower()
    if key not in OPTIMIZER_COPIES:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZER_COPIES)}")
    return OPTIMIZER_COPIES[key]


def _summary(net, input_shape):
    from .architectures import summarize
    from .netspec import NetSummary

    return net if isinstance(net, NetSummary) else summarize(net, input_shape)


def training_memory(net, batch_size: int, optimizer: str = "momentum", bytes_per_value: int = 4,
                    input_shape=None) -> MemoryBudget:
    """Memory needed to train `net` (a name, `NetSpec` or `NetSummary`) on mini-batches of
    `batch_size` images with `optimizer` ("sgd", "momentum", "adam", ...; see OPTIMIZER_COPIES),
    at `bytes_per_value` bytes per number (4 for float32, 8 for float64, 2 for float16).

    Shown in 06, section 10.
    """
    batch_size = check_int(batch_size, "batch_size", 1)
    bytes_per_value = check_int(bytes_per_value, "bytes_per_value", 1)
    copies = _optimizer_copies(optimizer)
    s = _summary(net, input_shape)
    per_image = s.total_activations - s.rows[0].activations       # the input row is the data
    params = s.total_params
    return MemoryBudget(s.name, batch_size, str(optimizer).lower(), bytes_per_value,
                        params=params, param_grads=params, optimizer_state=copies * params,
                        activations=batch_size * per_image, activation_grads=batch_size * per_image,
                        data=batch_size * s.rows[0].activations)


def max_batch_size(net, budget_bytes: int, optimizer: str = "momentum", bytes_per_value: int = 4,
                   input_shape=None) -> int:
    """The largest batch size whose `training_memory` fits in `budget_bytes` (0 if the
    parameters alone do not fit). Used by `plotting.architectures.memory_vs_batch`.
    """
    if not budget_bytes > 0:
        raise ValueError(f"budget_bytes must be > 0, got {budget_bytes} (e.g. 16 * memory.GiB)")
    one = training_memory(net, 1, optimizer, bytes_per_value, input_shape)
    fixed = one.parameter_values * bytes_per_value
    per_image = (one.activation_values + one.data) * bytes_per_value
    if budget_bytes < fixed:
        return 0
    return int((budget_bytes - fixed) // per_image)
