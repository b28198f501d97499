"""The live training view and the training plots: check the data they draw."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n_utils.pattern import build_from_pattern
from cs231n_utils.plotting import training as tp
from cs231n_utils.solver import Solver
from cs231n_utils.training_view import TrainingView


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _setup(rng, redraw_every=0):
    X = rng.standard_normal((40, 1, 6, 6))
    y = (X[:, 0, :3].sum(axis=(1, 2)) > 0).astype(int)
    data = {"X_train": X[:30], "y_train": y[:30], "X_val": X[30:], "y_val": y[30:]}
    model = build_from_pattern("CONV3-4 -> RELU -> POOL2 -> CONV3-6 -> RELU -> FC-2", (1, 6, 6), seed=0)
    solver = Solver(model, data, update_rule="adam", batch_size=10, num_epochs=1, progress=False)
    view = TrainingView(model, solver, X[35], label=y[35], redraw_every=redraw_every)
    return model, solver, view, X


# ------------------------------------------------------------------------ plotting helpers

def test_smooth_running_mean():
    assert np.allclose(tp.smooth([1, 3, 5, 7], window=2), [1, 2, 4, 6])
    assert tp.smooth([], 3).size == 0
    with pytest.raises(ValueError):
        tp.smooth([1.0], 0)


def test_make_grid_layout_and_normalisation():
    maps = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    grid = tp.make_grid(maps, ncols=3, pad=1)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert grid[0, 0] == 0.0 and grid[1, 2] == 1.0        # each map scaled to 0..1
    assert np.all(grid[2, :] == 1.0)                     # padding row
    assert np.all(grid[3:, 8:] == 1.0)                   # unused 6th tile
    assert np.all(tp.make_grid(np.ones((2, 2, 2)))[:, :2] == 0.5)   # constant map -> 0.5
    raw = tp.make_grid(maps, ncols=5, normalize="none", pad=0)
    assert raw[0, 3] == maps[1, 0, 0]
    with pytest.raises(ValueError, match="normalize"):
        tp.make_grid(maps, normalize="max")
    with pytest.raises(ValueError, match=r"\(K, H, W\)"):
        tp.make_grid(np.ones((2, 2)))


def test_confusion_matrix_and_misclassified():
    y, p = np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 1, 1])
    cm = tp.confusion_matrix(y, p, 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 1]] and cm.sum() == 5
    scores = np.array([[5, 0, 0], [0, 0, 1], [0, 0, 9], [0, 9, 0], [0, 3, 0]], float)
    assert tp.misclassified(y, p).tolist() == [1, 3]
    assert tp.misclassified(y, p, scores).tolist() == [3, 1]       # most confident first
    assert tp.misclassified(y, p, scores, max_n=1).tolist() == [3]
    with pytest.raises(ValueError):
        tp.confusion_matrix(y, p[:3])


def test_plot_functions_return_what_they_draw(rng):
    hist = {"loss": [2.3, 2.0, 1.5, 1.0], "train_acc": [0.5, 0.9], "val_acc": [0.4, 0.8]}
    d = tp.plot_curves(hist, window=2)
    assert d["iterations"].tolist() == [1, 2, 3, 4] and np.allclose(d["loss_smooth"][-1], 1.25)
    assert d["epochs"].tolist() == [1, 2] and d["val_acc"].tolist() == [0.4, 0.8]
    W = rng.standard_normal((6, 1, 3, 3))
    f = tp.plot_filters(W)
    assert f["maps"].shape == (6, 3, 3) and f["grid"].shape == (7, 11)
    with pytest.raises(ValueError):
        tp.plot_filters(np.ones((3, 3)))
    acts = {"conv1": rng.standard_normal((2, 4, 5, 5)), "fc1": rng.standard_normal((2, 10))}
    g = tp.plot_activations(acts, image=rng.standard_normal((1, 5, 5)), index=1)
    assert g["conv1"].shape == (5, 23) and np.allclose(g["fc1"], acts["fc1"][1][None])
    assert np.isnan(g["conv1"][:, 5]).all()                 # gaps between maps are blank
    v = tp.vector_grid(np.arange(20.0), width=8)
    assert v.shape == (3, 8) and v[2, 3] == 19 and np.isnan(v[2, 4:]).all()
    with pytest.raises(KeyError, match="relu9"):
        tp.plot_activations(acts, layers=["relu9"])
    cm = tp.plot_confusion_matrix([0, 1, 1], [0, 1, 0], 2)
    assert cm.tolist() == [[1, 0], [1, 1]]
    m = tp.plot_misclassified(rng.standard_normal((3, 1, 4, 4)), [0, 1, 1], [0, 1, 0])
    assert m["indices"].tolist() == [2] and m["true"].tolist() == [1] and m["pred"].tolist() == [0]


# ------------------------------------------------------------------------ training view

def test_view_data_before_training(rng):
    model, solver, view, X = _setup(rng)
    d = view.figure_data()
    assert d["epoch"] == 0 and d["loss"].size == 0
    assert view.layers == ["conv1", "relu1", "pool1", "conv2"]
    assert d["filters"].shape == (7, 7)                    # 4 filters 3x3 in a 2x2 grid, 1px gaps
    assert np.isclose(d["probs"].sum(), 1.0) and d["probs"].shape == (2,)
    _, acts = model.forward(X[35:36], "test", return_activations=True)
    expected = tp.make_grid(acts["pool1"][0], ncols=4, normalize="all", pad_value=np.nan)
    assert np.allclose(d["activations"]["pool1"], expected, equal_nan=True)


def test_view_run_updates_curves_filters_and_activations(rng):
    model, solver, view, X = _setup(rng, redraw_every=2)
    before = view.figure_data()
    filters_before = before["filters"].copy()
    d = view.run(2)
    assert d["epoch"] == 2 and d["iteration"] == 6
    assert np.array_equal(d["loss"], solver.history["loss"]) and d["loss"].size == 6
    assert np.array_equal(d["val_acc"], solver.history["val_acc"]) and d["epochs"].tolist() == [1, 2]
    assert not np.array_equal(d["filters"], filters_before)
    # redraws: iterations 2, 4, 6 and two epoch ends, plus the final refresh
    assert view.redraws == 6
    assert solver.callback is None                          # the view unhooked itself
    assert "epoch 2" in view.status_text() and "val acc" in view.status_text()


def test_view_chains_existing_solver_callback(rng):
    model, solver, view, X = _setup(rng)
    events = []
    solver.callback = lambda s, e: events.append(e)
    view.run(1)
    assert events == ["iteration"] * 3 + ["epoch", "end"]
    assert solver.callback is not None


def test_view_widget_button_and_errors(rng):
    model, solver, view, X = _setup(rng)
    box = view.widget
    assert "cs231n-training-view" in box._dom_classes      # the browser tests look for it
    assert len(view.out.outputs) == 1 and "image/png" in view.out.outputs[0]["data"]
    view.epochs.value = 2
    view.button.click()
    assert solver.epoch == 2 and "epoch 2" in view.status.value
    assert len(view.out.outputs) == 1                      # replaced, not appended
    assert view.message.value == "" and not view.button.disabled
    solver.X_train = solver.X_train[:, :, :4]               # wrong shape: training fails
    view.button.click()
    assert "training stopped" in view.message.value and "(N, 1, 6, 6)" in view.message.value
    assert box is view.widget


def test_view_rejects_bad_image_and_layer(rng):
    model, solver, view, X = _setup(rng)
    with pytest.raises(ValueError, match="input shape"):
        TrainingView(model, solver, X[0, 0])
    with pytest.raises(KeyError, match="conv7"):
        TrainingView(model, solver, X[0], layers=["conv7"])


def test_view_png_renders(rng):
    model, solver, view, X = _setup(rng)
    png = view.png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
