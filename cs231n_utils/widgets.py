"""Interactive explorers (ipywidgets) for 02_convolution and 03_pooling.

- `ConvExplorer`        sliders W, F, S, P, D and a position slider with a Play button: draws
                        the padded input, the current window (dilated taps spread out) and the
                        output grid, and prints the output-size formula with the numbers. A
                        setting that does not fit exactly shows what frameworks do (round down).
- `ConvNumbersExplorer` CS231n's numeric demo: a 3-channel input, 2 filters, every number
                        visible while the window steps (position slider and Play button).
- `PoolExplorer`        pooling type (max / avg / l2), window size, stride, input size and
                        forward/backward mode: shows windows, outputs and, going backward,
                        where the gradient goes (the recorded max positions, "switches", 道岔).
- `FilterPlayground`    pick a hand-made filter and a stride, see its activation map on a photo.

Each explorer is an `ipywidgets.VBox`: display it by making it the last line of a cell. The
controls and what is shown are attributes, so everything can be driven and checked from
Python (the unit tests do exactly that):

    ex = ConvExplorer()
    ex.stride.value = 3
    ex.message.value         # why W=7, F=3, S=3 does not fit exactly (never a traceback)
    ex.current_output_size   # None, or (3, 3) for a setting that fits
    ex.last_drawing          # the data the last picture drew (see plotting.conv)

Messages follow `i18n.set_language` ("en" by default, or "zh").

Pictures are drawn with matplotlib, stored as PNG in an `ipywidgets.Output` (emptied by
resetting `out.outputs`) and the figure is closed straight away, so nothing leaks into the
cell's own output. Displaying an explorer also shows its current picture as a plain image
output above the live widget, so a notebook saved with its outputs shows the picture even
where no kernel runs (a fresh clone, a notebook viewer). The arithmetic lives in
`explorers`, the drawing in `plotting`.
"""
from __future__ import annotations

import base64
import html
from typing import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from . import explorers
from .i18n import say
from .plotting import style
from .plotting.conv import plot_activation_maps, plot_conv_frame
from .plotting.conv_demo import plot_conv_numbers
from .plotting.pooling import plot_pool_frame
from .shapes import conv_size_formula

__all__ = ["ConvExplorer", "ConvNumbersExplorer", "PoolExplorer", "FilterPlayground"]


def _slider_style() -> dict:
    # a fresh Layout per slider: widgets must not be created at import time
    return dict(layout=widgets.Layout(width="260px"), style={"description_width": "60px"})


def _slider(value: int, lo: int, hi: int, description: str) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=lo, max=hi, step=1, description=description,
                             continuous_update=False, **_slider_style())


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def _error(text: str) -> str:
    return f"<span style='color:#b30000'>{html.escape(text)}</span>"


def _display_parts(prefix: str) -> tuple[widgets.HTML, widgets.HTML, widgets.Output]:
    """The formula line, the message line and the picture area of an explorer, with the CSS
    classes `cs231n-<prefix>-formula` / `-message` that the browser tests look for."""
    formula, message = widgets.HTML(), widgets.HTML()
    formula.add_class(f"cs231n-{prefix}-formula")
    message.add_class(f"cs231n-{prefix}-message")
    return formula, message, widgets.Output()


class _Stepper:
    """A position slider and a Play button, linked in the kernel so tests can drive either."""

    def __init__(self, interval: int = 800):
        self.position = widgets.IntSlider(value=0, min=0, max=0, description="position",
                                          continuous_update=True, **_slider_style())
        self.play = widgets.Play(value=0, min=0, max=0, interval=interval, description="play")
        self.link = widgets.link((self.play, "value"), (self.position, "value"))

    def set_count(self, n: int) -> None:
        """n positions (0 disables both controls); the current value is kept when it still fits."""
        top = max(n - 1, 0)
        for w in (self.position, self.play):
            if w.value > top:
                w.value = top
            w.max = top
            w.disabled = n <= 1


class _Explorer(widgets.VBox):
    """What every explorer shares: the picture in `out`, and a stored copy of it.

    `_show(drawing)` puts the drawing's figure into `out` as a PNG, closes the figure and
    keeps the PNG (`picture_png`). Displaying the explorer shows that PNG as a plain image
    output first, then the live widget: a saved notebook keeps a picture a reader sees
    without a kernel (widget views need one).
    """
    out: widgets.Output
    picture_png: bytes | None = None

    def _show(self, drawing: dict) -> dict:
        fig = drawing.pop("figure")
        png = style.png_bytes(fig)
        plt.close(fig)
        self.picture_png = png
        # Reset the kernel-side list instead of `out.clear_output()`: clear_output sends a message
        # the front end (or nbclient) applies later, which can wipe the picture set here.
        self.out.outputs = ({"output_type": "display_data", "metadata": {},
                             "data": {"image/png": base64.b64encode(png).decode("ascii"),
                                      "text/plain": "<picture>"}},)
        return drawing

    def _ipython_display_(self, **kwargs) -> None:
        from IPython.display import display

        if self.picture_png is not None:
            display({"image/png": base64.b64encode(self.picture_png).decode("ascii"),
                     "text/plain": f"[stored picture of {self!r}]"}, raw=True)
        display(self._repr_mimebundle_(), raw=True)


class ConvExplorer(_Explorer):
    """Explore conv arithmetic: W' = (W + 2P - D*(F-1) - 1)/S + 1 (output size, 输出尺寸).

    Controls (IntSliders with descriptions "W", "F", "S", "P", "D"): `size`, `filter_size`,
    `stride`, `pad`, `dilation` (ranges `explorers.CONV_RANGES`, W up to `max_size`);
    `position` (which output is being computed, row-major) and `play` (steps through the
    positions). Shown: `formula` (HTML, "... -> output 3 x 3, fits exactly"), `message` (HTML,
    empty when the setting fits exactly, else why not, what frameworks do, and settings within
    the sliders' ranges that fit), `out` (Output with the picture). For a setting that does
    not fit exactly, the picture steps through the windows a framework keeps when it rounds
    down. State: `frame` (`explorers.ConvFrame`), `current_output_size` ((W', W') when the
    setting fits exactly, else None), `floor_output_size` (what frameworks compute, None
    without any window), `last_drawing` (dict from `plotting.conv.plot_conv_frame`),
    `picture_png`. CSS classes: cs231n-conv-explorer (the box), cs231n-conv-formula,
    cs231n-conv-message.

    Shown in 02, section 4.
    """

    def __init__(self, size: int = 7, filter_size: int = 3, stride: int = 1, pad: int = 0,
                 dilation: int = 1, max_size: int = 12, draw: bool = True):
        self.ranges = dict(explorers.CONV_RANGES, size=(1, max(int(max_size), int(size))))
        r = self.ranges
        self.size = _slider(size, *r["size"], "W")
        self.filter_size = _slider(filter_size, *r["filter_size"], "F")
        self.stride = _slider(stride, *r["stride"], "S")
        self.pad = _slider(pad, *r["pad"], "P")
        self.dilation = _slider(dilation, *r["dilation"], "D")
        self._stepper = _Stepper()
        self.position, self.play = self._stepper.position, self._stepper.play
        self.formula, self.message, self.out = _display_parts("conv")
        self.draw = draw
        self.frame: explorers.ConvFrame | None = None
        self.current_output_size: tuple[int, int] | None = None
        self.floor_output_size: tuple[int, int] | None = None
        self.last_drawing: dict | None = None
        self._busy = False
        controls = widgets.HBox([widgets.VBox([self.size, self.filter_size, self.stride]),
                                 widgets.VBox([self.pad, self.dilation,
                                               widgets.HBox([self.play, self.position])])])
        super().__init__([controls, self.formula, self.message, self.out])
        self.add_class("cs231n-conv-explorer")
        for w in (self.size, self.filter_size, self.stride, self.pad, self.dilation):
            w.observe(self._on_setting, names="value")
        self.position.observe(self._on_position, names="value")
        self._on_setting()

    def __repr__(self) -> str:  # short and stable (the default repr lists every child widget)
        return (f"ConvExplorer(W={self.size.value}, F={self.filter_size.value}, S={self.stride.value}, "
                f"P={self.pad.value}, D={self.dilation.value})")

    @property
    def settings(self) -> dict:
        return {"size": self.size.value, "filter_size": self.filter_size.value,
                "stride": self.stride.value, "pad": self.pad.value, "dilation": self.dilation.value}

    def _on_setting(self, change=None) -> None:
        geometry = explorers.conv_geometry(**self.settings, ranges=self.ranges)
        self._busy = True
        try:
            self._stepper.set_count(geometry.n_positions)
        finally:
            self._busy = False
        self.refresh()

    def _on_position(self, change=None) -> None:
        if not self._busy:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the frame for the current controls and redraw (never raises ValueError)."""
        frame = explorers.conv_frame(position=self.position.value, ranges=self.ranges, **self.settings)
        g = frame.geometry
        self.frame = frame
        self.current_output_size = (g.output_size, g.output_size) if g.valid else None
        self.floor_output_size = (g.floor_size, g.floor_size) if g.floor_size else None
        # picture first, text last: when the formula changes in the browser, the new picture
        # has already been sent (the browser tests wait for the text, then look at the picture)
        if self.draw:
            self.last_drawing = self._show(plot_conv_frame(frame))
        self.message.value = "" if g.valid else _error(g.message)
        self.formula.value = _code(frame.text)


class ConvNumbersExplorer(_Explorer):
    """CS231n's numeric conv demo (卷积层的数值演示): every number of a conv layer on a volume.

    A 3-channel 5x5 input padded by 1, two 3x3x3 filters with biases, stride 2: the output is
    3x3x2. `position` (with `play`) steps through the 18 output numbers, filter by filter;
    the picture (`plotting.conv_demo.plot_conv_numbers`) shows the window in every input
    channel, both filters, the element-wise products and their sums, and the output filling
    up; `formula` writes the sum out ("out[1][1, 1] = (ch 0) 2 + ... + (bias) 0 = -1").
    Pass x (C, H, W), w (K, C, F, F), b (K,) to use other numbers (ValueError if they do not
    fit). State: `frame` (`explorers.ConvNumbersFrame`), `last_drawing`, `picture_png`. CSS
    classes: cs231n-numbers-explorer, cs231n-numbers-formula.

    Shown in 02, section 5.
    """

    def __init__(self, x: np.ndarray | None = None, w: np.ndarray | None = None,
                 b: np.ndarray | None = None, stride: int = 2, pad: int = 1, step: int = 0,
                 seed: int = 3, draw: bool = True):
        if x is None or w is None or b is None:
            dx, dw, db = explorers.conv_numbers_demo_data(seed)
            x, w, b = (dx if x is None else x), (dw if w is None else w), (db if b is None else b)
        self.x, self.w, self.b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
        self.stride, self.pad = int(stride), int(pad)
        first = explorers.conv_numbers_frame(self.x, self.w, self.b, self.stride, self.pad, 0)
        self._stepper = _Stepper(interval=1200)
        self._stepper.set_count(first.n_steps)
        self.position, self.play = self._stepper.position, self._stepper.play
        self.formula, _, self.out = _display_parts("numbers")
        self.draw = draw
        self.frame: explorers.ConvNumbersFrame | None = None
        self.last_drawing: dict | None = None
        super().__init__([widgets.HBox([self.play, self.position]), self.formula, self.out])
        self.add_class("cs231n-numbers-explorer")
        self.position.value = min(max(int(step), 0), first.n_steps - 1)
        self.position.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def __repr__(self) -> str:
        return (f"ConvNumbersExplorer(x={self.x.shape}, w={self.w.shape}, S={self.stride}, "
                f"P={self.pad}, step={self.position.value})")

    def refresh(self) -> None:
        """Recompute the step shown by `position` and redraw."""
        frame = explorers.conv_numbers_frame(self.x, self.w, self.b, self.stride, self.pad,
                                             self.position.value)
        self.frame = frame
        if self.draw:
            self.last_drawing = self._show(plot_conv_numbers(frame))
        k, (i, j) = frame.filter_index, frame.index
        where = say(f"step {frame.step + 1} of {frame.n_steps}: filter {k}, output ({i}, {j}): ",
                    f"第 {frame.step + 1}/{frame.n_steps} 步：滤波器 {k}，输出 ({i}, {j})：")
        self.formula.value = _code(where + frame.text)


class PoolExplorer(_Explorer):
    """Explore pooling (池化): type, window size, stride, forward or backward.

    Controls: `kind` (ToggleButtons "type": max / avg / l2), `size` (IntSlider "size"),
    `stride` (IntSlider "stride"), `input_size` (IntSlider "input"), `mode` (ToggleButtons
    "mode": forward / backward), `position` + `play`. Shown: `formula` (HTML with
    "output 3 x 3, fits exactly"), `message` (HTML, empty when the setting fits exactly, else
    why not, the floor and ceil-mode sizes frameworks use, and settings within the sliders'
    ranges that fit), `out`. A setting that does not fit exactly is drawn as frameworks
    compute it by default (rounded down; the rows never pooled greyed out). State: `frame`
    (`explorers.PoolFrame`), `current_output_size` (None unless exact), `floor_output_size`,
    `switches` (list of (row, col) argmax positions for max pooling, else []),
    `last_drawing` (dict from `plotting.pooling.plot_pool_frame`), `picture_png`. Backward
    mode uses dout = 1 everywhere, so dx counts the gradient each input pixel receives. CSS
    classes: cs231n-pool-explorer, cs231n-pool-formula, cs231n-pool-message.

    Shown in 03, section 4.
    """

    def __init__(self, x: np.ndarray | None = None, kind: str = "max", size: int = 2,
                 stride: int = 2, input_size: int = 6, mode: str = "forward", seed: int = 0,
                 draw: bool = True):
        self._fixed_x = None if x is None else np.asarray(x, dtype=np.float64)
        if self._fixed_x is not None:
            if self._fixed_x.ndim != 2 or self._fixed_x.shape[0] != self._fixed_x.shape[1]:
                raise ValueError(f"x must be a square 2-D array, got shape {self._fixed_x.shape}")
            input_size = self._fixed_x.shape[0]
        self.seed = seed
        r = explorers.POOL_RANGES
        self.ranges = {"size": r["size"], "stride": r["stride"]}
        if self._fixed_x is None:
            self.ranges["input"] = (r["input"][0], max(r["input"][1], input_size))
        self.kind = widgets.ToggleButtons(options=list(explorers.POOL_KINDS), value=kind,
                                          description="type", style={"button_width": "50px"})
        self.size = _slider(size, *r["size"], "size")
        self.stride = _slider(stride, *r["stride"], "stride")
        self.input_size = _slider(input_size, r["input"][0], max(r["input"][1], input_size), "input")
        self.input_size.disabled = self._fixed_x is not None
        self.mode = widgets.ToggleButtons(options=["forward", "backward"], value=mode,
                                          description="mode", style={"button_width": "90px"})
        self._stepper = _Stepper()
        self.position, self.play = self._stepper.position, self._stepper.play
        self.formula, self.message, self.out = _display_parts("pool")
        self.draw = draw
        self.frame: explorers.PoolFrame | None = None
        self.current_output_size: tuple[int, int] | None = None
        self.floor_output_size: tuple[int, int] | None = None
        self.switches: list[tuple[int, int]] = []
        self.last_drawing: dict | None = None
        self._busy = False
        controls = widgets.HBox([widgets.VBox([self.kind, self.mode, widgets.HBox([self.play, self.position])]),
                                 widgets.VBox([self.size, self.stride, self.input_size])])
        super().__init__([controls, self.formula, self.message, self.out])
        self.add_class("cs231n-pool-explorer")
        for w in (self.kind, self.size, self.stride, self.input_size):
            w.observe(self._on_setting, names="value")
        self.mode.observe(lambda change: self.refresh(), names="value")
        self.position.observe(self._on_position, names="value")
        self._on_setting()

    def __repr__(self) -> str:
        return (f"PoolExplorer(type={self.kind.value}, size={self.size.value}, "
                f"stride={self.stride.value}, input={self.input_size.value}, mode={self.mode.value})")

    @property
    def x(self) -> np.ndarray:
        """The input being pooled: the given array, or 1..n*n in a seeded order (no ties)."""
        if self._fixed_x is not None:
            return self._fixed_x
        return explorers.demo_pool_input(self.input_size.value, self.seed)

    def _on_setting(self, change=None) -> None:
        g = explorers.pool_geometry(self.input_size.value, self.size.value, self.stride.value,
                                    self.ranges)
        self._busy = True
        try:
            self._stepper.set_count(g.n_positions)
        finally:
            self._busy = False
        self.refresh()

    def _on_position(self, change=None) -> None:
        if not self._busy:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the frame for the current controls and redraw (never raises ValueError)."""
        frame = explorers.pool_frame(self.x, self.size.value, self.stride.value, self.kind.value,
                                     self.position.value, ranges=self.ranges)
        g = frame.geometry
        self.frame = frame
        self.current_output_size = (g.output_size, g.output_size) if g.valid else None
        self.floor_output_size = (g.floor_size, g.floor_size) if g.floor_size else None
        self.switches = []
        text = frame.text
        has_output = frame.index is not None
        if has_output and frame.kind == "max":
            self.switches = [tuple(int(v) for v in s) for s in frame.switches.reshape(-1, 2)]
        if has_output and self.mode.value == "backward":
            text += say(f"; backward with dout = 1: dx sums to {frame.dx.sum():.2f}",
                        f"；反向传播（dout = 1）：dx 之和为 {frame.dx.sum():.2f}")
            if frame.kind == "max":
                text += say(f", max per pixel {frame.dx.max():.0f}", f"，单个像素最多 {frame.dx.max():.0f}")
        if has_output and g.overlapping:
            text += say(f"; windows overlap (stride {g.stride} < size {g.pool_size})",
                        f"；窗口重叠（步长 {g.stride} < 窗口 {g.pool_size}）")
        if self.draw:  # picture first, text last (see ConvExplorer.refresh)
            self.last_drawing = self._show(plot_pool_frame(frame, backward=self.mode.value == "backward"))
        self.message.value = "" if g.valid else _error(g.message)
        self.formula.value = _code(text)


class FilterPlayground(_Explorer):
    """Pick a hand-made filter and a stride; see its activation map (激活映射) on a grey photo.

    Controls: `filter` (Dropdown "filter", names of `filters`), `stride` (IntSlider "S").
    Shown: `formula` (HTML: the filter's numbers and "output H' x W'"), `message` (HTML, empty
    when the stride fits, else why not and which strides fit), `out`. State: `activation`
    (the last map, None when the stride does not fit), `current_output_size`,
    `last_drawing`, `picture_png`. 'Same' padding P = (F-1)//2 is used. CSS classes:
    cs231n-filter-playground, cs231n-filter-formula, cs231n-filter-message.

    Shown in 02, section 6.
    """

    def __init__(self, image: np.ndarray, filters: Mapping[str, np.ndarray] | None = None,
                 filter_name: str | None = None, stride: int = 1, draw: bool = True):
        if filters is None:
            from .filters import HAND_FILTERS
            filters = HAND_FILTERS
        if not filters:
            raise ValueError("filters is empty; pass a dict name -> 2-D kernel")
        image = np.asarray(image, dtype=np.float64)
        if image.ndim != 2:
            raise ValueError(f"image must be a grey (H, W) array, got shape {image.shape}")
        self.image = image
        self.filters = {k: np.asarray(v, dtype=np.float64) for k, v in filters.items()}
        names = list(self.filters)
        self.filter = widgets.Dropdown(options=names, value=filter_name or names[0],
                                       description="filter")
        self.stride = _slider(stride, 1, 4, "S")
        self.formula, self.message, self.out = _display_parts("filter")
        self.draw = draw
        self.activation: np.ndarray | None = None
        self.current_output_size: tuple[int, int] | None = None
        self.last_drawing: dict | None = None
        super().__init__([widgets.HBox([self.filter, self.stride]), self.formula, self.message, self.out])
        self.add_class("cs231n-filter-playground")
        self.filter.observe(lambda change: self.refresh(), names="value")
        self.stride.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def __repr__(self) -> str:
        return f"FilterPlayground(filter={self.filter.value}, S={self.stride.value})"

    def _stride_problem(self, k: int, pad: int, s: int) -> str:
        """'' when stride s fits both image axes, else the first axis's message (in say's language)."""
        for axis, zh, n in (("height", "高度", self.image.shape[0]), ("width", "宽度", self.image.shape[1])):
            g = explorers.conv_geometry(n, k, s, pad, ranges={"stride": (1, self.stride.max)})
            if not g.valid:
                return say(f"image {axis} {n}: ", f"图像{zh} {n}：") + g.message
        return ""

    def refresh(self) -> None:
        kernel = self.filters[self.filter.value]
        k = kernel.shape[0]
        pad = (k - 1) // 2
        s = self.stride.value
        rows = " ".join("[" + " ".join(f"{v:.2g}" for v in row) + "]" for row in kernel)
        head = f"{self.filter.value} {rows}, S={s}, P={pad}"
        problem = self._stride_problem(k, pad, s)
        if problem:
            self.activation, self.current_output_size = None, None
            if self.draw:  # picture first, text last (see ConvExplorer.refresh)
                self.last_drawing = self._show(plot_activation_maps(self.image, {}, ncols=2,
                                                                    figsize=(5.4, 2.4)))
            self.message.value = _error(problem)
            self.formula.value = _code(f"{head} -> " + say("no exact output", "不能整除，没有输出"))
            return
        act = explorers.filter_activation(self.image, kernel, s)
        self.activation = act
        self.current_output_size = act.shape
        h, w = self.image.shape
        if self.draw:
            self.last_drawing = self._show(plot_activation_maps(
                self.image, {self.filter.value: act}, ncols=2, figsize=(6.4, 2.4)))
        self.message.value = ""
        self.formula.value = _code(f"{head}: {conv_size_formula(h, k, s, pad)}, "
                                   f"{conv_size_formula(w, k, s, pad)} -> "
                                   + say(f"output {act.shape[0]} x {act.shape[1]}",
                                         f"输出 {act.shape[0]} x {act.shape[1]}"))
