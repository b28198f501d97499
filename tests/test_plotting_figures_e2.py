"""Every figure of 01, 04 and 06 follows plotting.style: >= 500 px wide, fonts >= 9 pt, no
overlapping text; grids of values have cells of >= 24 px."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n_utils import degradation, filters, groupnorm, history, layers
from cs231n_utils.plotting import architectures as A
from cs231n_utils.plotting import history as H
from cs231n_utils.plotting import normalization as N
from cs231n_utils.plotting import style


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _figures():
    bank = [filters.gabor_kernel(15, t, 6.0, 3.0, gamma=0.5) for t in (0, 30, 60, 90, 120, 150)]
    angles = np.arange(0, 180, 15)
    yield "timeline", lambda: H.plot_timeline()
    yield "ilsvrc", lambda: H.plot_ilsvrc()
    yield "gabor bank", lambda: H.plot_kernels(bank, [f"{t}" for t in range(6)])
    yield "bars", lambda: H.plot_kernels([filters.bar_image(15, t, 2) for t in range(0, 180, 30)],
                                         list("abcdef"), signed=False, ncols=6, cell_px=7)
    yield "tuning", lambda: H.plot_tuning_curves(angles, np.stack([filters.orientation_tuning(k, angles) for k in bank]),
                                                 [0, 30, 60, 90, 120, 150])
    yield "position", lambda: H.plot_position_invariance([1, 2, 3], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0])
    fibre = np.array([10, 10, 300, 10.0]).reshape(1, 4, 1, 1)
    yield "lrn", lambda: N.plot_lrn_fibre(fibre.ravel(), layers.lrn_forward(fibre, {"size": 3})[0].ravel())
    x = np.random.default_rng(0).standard_normal((8, 4, 5, 5))
    yield "channel stats", lambda: N.plot_channel_statistics(x, x / 2)
    yield "norm axes", lambda: N.plot_norm_axes()
    yield "batch dependence", lambda: N.plot_batch_dependence(groupnorm.batch_dependence(
        np.random.default_rng(0).standard_normal((20, 4, 4, 4)), (2, 4, 8), trials=3))
    yield "norm vs batch", lambda: N.plot_norm_vs_batch(groupnorm.load_results())
    yield "accuracy vs cost", lambda: A.accuracy_vs_cost()
    yield "degradation", lambda: A.degradation_curves(degradation.load_results())
    yield "padded pool", lambda: A.padded_max_pool(np.arange(36.0).reshape(6, 6) - 18)
    yield "memory", lambda: A.memory_vs_batch()


FIGURES = dict(_figures())


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_is_wide_readable_and_without_overlaps(name):
    FIGURES[name]()
    fig = plt.gcf()
    fig.tight_layout() if name not in ("gabor bank", "bars") else None
    assert style.figure_problems(fig) == [], name


def test_grid_cells_are_at_least_24_px():
    A.padded_max_pool(np.arange(36.0).reshape(6, 6) - 18)
    axes = plt.gcf().axes
    assert style.cell_size_px(axes[0], 8, 8) >= style.MIN_CELL_PX
    assert style.cell_size_px(axes[1], 3, 3) >= style.MIN_CELL_PX
    plt.close("all")
    N.plot_norm_axes(N=4, C=8)
    assert all(style.cell_size_px(ax, 4, 8) >= style.MIN_CELL_PX for ax in plt.gcf().axes[:4])
