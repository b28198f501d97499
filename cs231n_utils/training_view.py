"""A live, ConvNetJS-style view of a ConvNet while it trains (ipywidgets).

    view = TrainingView(model, solver, image=X_test[0], label=y_test[0])
    view              # shows: status line, Train button, epochs slider, live figure
    view.run(2)       # train 2 epochs, redrawing as it goes (the button does the same)
    view.figure_data()["loss"]   # the numbers behind the last picture (for tests)

The figure shows the loss per iteration, train/val accuracy per epoch, the first conv
layer's filters, the chosen image with the activation maps (激活映射) of the first few
layers, and the class probabilities for that image. It is redrawn from the solver's callback
every `redraw_every` iterations and after every epoch. Nothing is printed from the callback:
the picture goes into an `ipywidgets.Output` through `append_display_data`, the status into
an HTML widget, and errors (e.g. from the Train button) are shown in that HTML widget.
"""
from __future__ import annotations

import html
import io
from typing import Sequence

import numpy as np

from .plotting.training import make_grid, smooth

__all__ = ["TrainingView"]


class TrainingView:
    """Live training view for a `models.Sequential` model trained by a `solver.Solver`.

    model, solver: the model and the solver that trains it (the view chains itself in front
        of the solver's own callback while `run` is training, and restores it afterwards).
    image: one example (C, H, W) whose activations are shown; label: its class (optional).
    layers: names of the layers whose activations are shown (default: up to 4 image-shaped
        layers from the start of the net). redraw_every: also redraw every this many
        iterations (0 = only after each epoch). max_maps: channels shown per layer.

    Shown in 05, section 8; 07, section 5.
    """

    def __init__(self, model, solver, image: np.ndarray, label: int | None = None,
                 layers: Sequence[str] | None = None, redraw_every: int = 0, max_maps: int = 8,
                 dpi: int = 72):
        image = np.asarray(image)
        if tuple(image.shape) != tuple(model.input_shape):
            raise ValueError(f"image must have the model's input shape {model.input_shape}, got {image.shape}")
        self.model, self.solver = model, solver
        self.image, self.label = image, label
        convs = [l for l in model.layers if getattr(l, "kind", "") == "CONV"]
        self.filter_layer = convs[0].name if convs else None
        if layers is None:
            layers = [l.name for l in model.layers if l.out_shape is not None and len(l.out_shape) == 3][:4]
        names = [l.name for l in model.layers]
        bad = [n for n in layers if n not in names]
        if bad:
            raise KeyError(f"no layer named {bad[0]!r}; layers are {names}")
        self.layers = list(layers)
        self.redraw_every = int(redraw_every)
        self.max_maps, self.dpi = int(max_maps), int(dpi)
        self.redraws = 0
        self._data: dict = {}
        self._widget = None
        self._compute()

    # -- data ------------------------------------------------------------------------------
    def _compute(self) -> dict:
        h = self.solver.history
        scores, acts = self.model.forward(self.image[None], "test", return_activations=True)
        s = np.asarray(scores[0], dtype=np.float64)
        p = np.exp(s - s.max())
        p /= p.sum()
        data = {
            "epoch": self.solver.epoch, "iteration": self.solver.iteration,
            "iterations": np.arange(1, len(h["loss"]) + 1), "loss": np.asarray(h["loss"], dtype=np.float64),
            "loss_smooth": smooth(h["loss"], 20),
            "epochs": np.arange(1, len(h["val_acc"]) + 1),
            "train_acc": np.asarray(h["train_acc"], dtype=np.float64),
            "val_acc": np.asarray(h["val_acc"], dtype=np.float64),
            "probs": p, "prediction": int(np.argmax(p)),
            "activations": {n: make_grid(np.asarray(acts[n][0])[:self.max_maps], ncols=min(4, self.max_maps),
                                         normalize="all", pad_value=np.nan) for n in self.layers},
        }
        if self.filter_layer is not None:
            W = self.model[self.filter_layer].params["W"]
            data["filters"] = make_grid(np.asarray(W, dtype=np.float64).mean(axis=1), normalize="each")
        self._data = data
        return data

    def figure_data(self) -> dict:
        """The arrays drawn in the latest picture: iterations/loss/loss_smooth, epochs/train_acc/
        val_acc, filters (grid image), activations (layer name -> grid image), probs (class
        probabilities of the image), prediction, epoch, iteration."""
        return self._data

    def status_text(self) -> str:
        d = self._data
        parts = [f"epoch {d['epoch']}", f"iteration {d['iteration']}"]
        if d["loss"].size:
            parts.append(f"loss {d['loss_smooth'][-1]:.3f}")
        if d["val_acc"].size:
            parts.append(f"val acc {100 * d['val_acc'][-1]:.1f}%")
        guess = f"prediction for the image: {d['prediction']} ({100 * d['probs'][d['prediction']]:.0f}%)"
        if self.label is not None:
            guess += f", true class {int(self.label)}"
        return " | ".join(parts) + " | " + guess

    # -- drawing ---------------------------------------------------------------------------
    def render(self):
        """Draw the current state into a new matplotlib Figure (not registered with pyplot)."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        d = self._data
        n_act = len(self.layers)
        fig = Figure(figsize=(8, 4.2), dpi=self.dpi)
        gs = fig.add_gridspec(2, max(4, n_act + 2))
        ax = fig.add_subplot(gs[0, :2])
        ax.plot(d["iterations"], d["loss"], color="0.75", lw=0.7)
        ax.plot(d["iterations"], d["loss_smooth"], color="C0", lw=1.4)
        ax.set_title("loss", fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax = fig.add_subplot(gs[0, 2:4])
        ax.plot(d["epochs"], d["train_acc"], "o-", ms=3, label="train")
        ax.plot(d["epochs"], d["val_acc"], "s-", ms=3, label="val")
        ax.set_ylim(min(0.8, *(d["val_acc"].tolist() or [0.8])) - 0.02, 1.005)
        ax.set_title("accuracy", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
        cols = gs.ncols
        if cols > 4:
            ax = fig.add_subplot(gs[0, 4:])
            ax.bar(np.arange(d["probs"].size), d["probs"], color="C2")
            ax.set_ylim(0, 1)
            ax.set_xticks(np.arange(d["probs"].size))
            ax.tick_params(labelsize=7)
            ax.set_title("class probabilities", fontsize=9)
        if "filters" in d:
            ax = fig.add_subplot(gs[1, 0])
            ax.imshow(d["filters"], cmap="gray", interpolation="nearest", vmin=0, vmax=1)
            ax.set_title(f"{self.filter_layer} filters", fontsize=8)
            ax.axis("off")
        ax = fig.add_subplot(gs[1, 1])
        img = self.image
        ax.imshow(img.reshape(img.shape[-2:]) if img.ndim == 3 and img.shape[0] == 1 else
                  img.mean(axis=0), cmap="gray_r", interpolation="nearest")
        ax.set_title("image", fontsize=8)
        ax.axis("off")
        for k, name in enumerate(self.layers):
            ax = fig.add_subplot(gs[1, 2 + k])
            ax.imshow(d["activations"][name], cmap="viridis", interpolation="nearest", vmin=0, vmax=1)
            ax.set_title(name, fontsize=8)
            ax.axis("off")
        fig.tight_layout()
        return fig

    def png(self) -> bytes:
        fig = self.render()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=self.dpi)
        return buf.getvalue()

    def refresh(self) -> dict:
        """Recompute the data and, if the widget exists, redraw it. Returns figure_data()."""
        self._compute()
        self.redraws += 1
        if self._widget is not None:
            from IPython.display import Image
            self.status.value = html.escape(self.status_text())
            self.out.outputs = ()          # reset directly (clear_output is applied later)
            self.out.append_display_data(Image(data=self.png(), format="png"))
        return self._data

    # -- training ----------------------------------------------------------------------------
    def callback(self, solver, event: str) -> None:
        """Solver callback: redraw after each epoch and every `redraw_every` iterations."""
        if event == "epoch" or (event == "iteration" and self.redraw_every
                                and solver.iteration % self.redraw_every == 0):
            self.refresh()

    def run(self, epochs: int = 1) -> dict:
        """Train `epochs` more epochs with live redraws; returns figure_data()."""
        previous = self.solver.callback

        def chained(solver, event):
            self.callback(solver, event)
            if previous is not None:
                previous(solver, event)

        self.solver.callback = chained
        try:
            self.solver.train(epochs)
        finally:
            self.solver.callback = previous
        return self.refresh()

    # -- widget -------------------------------------------------------------------------------
    @property
    def widget(self):
        """The ipywidgets box: status line, Train button + epochs slider, live figure."""
        if self._widget is None:
            import ipywidgets as widgets
            self.status = widgets.HTML(value=html.escape(self.status_text()))
            self.epochs = widgets.IntSlider(value=1, min=1, max=10, description="epochs",
                                            continuous_update=False,
                                            layout=widgets.Layout(width="260px"))
            self.button = widgets.Button(description="Train", button_style="primary",
                                         layout=widgets.Layout(width="100px"))
            self.message = widgets.HTML(value="")
            self.out = widgets.Output()
            self.button.on_click(self._on_click)
            self._widget = _box_class()([self.status, widgets.HBox([self.button, self.epochs]),
                                         self.message, self.out])
            self._widget.view = self
            self._widget.add_class("cs231n-training-view")  # found by the browser tests
            self.refresh()
        return self._widget

    def _on_click(self, _button=None) -> None:
        self.button.disabled = True
        self.message.value = ""
        try:
            self.run(self.epochs.value)
        except Exception as exc:  # never raise to the learner: show the message instead
            self.message.value = f"<span style='color:#b00'>training stopped: {html.escape(str(exc))}</span>"
        finally:
            self.button.disabled = False

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


_BOX = None


def _box_class():
    """A VBox whose text form is one short stable line (not the reprs of all its children,
    which would include the figure's bytes); created on first use, not at import."""
    global _BOX
    if _BOX is None:
        import ipywidgets as widgets

        class TrainingViewBox(widgets.VBox):
            def __repr__(self):
                view = getattr(self, "view", None)
                if view is None:
                    return "TrainingView()"
                return f"TrainingView(layers={view.layers}, filters={view.filter_layer!r})"

        _BOX = TrainingViewBox
    return _BOX
