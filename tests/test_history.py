"""Tests for cs231n_utils.history (data + parameter arithmetic) and plotting.history."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n_utils import history
from cs231n_utils.filters import gabor_kernel, orientation_tuning
from cs231n_utils.history import (fc_vs_conv_params, human_reference, load_ilsvrc_results,
                                  load_timeline, winning_entries)
from cs231n_utils.plotting import history as hplot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- timeline --------------------------------------------------------------------------------

def test_timeline_loads_sorted_with_sources():
    rows = load_timeline()
    years = [r["year"] for r in rows]
    assert years == sorted(years)
    assert all(isinstance(y, int) for y in years)
    for r in rows:
        assert r["source"] and r["contribution"] and r["name"] and r["who"], r


def test_timeline_has_the_lecture_milestones():
    rows = load_timeline()
    by_name = {r["name"]: r["year"] for r in rows}
    expected = {"Neocognitron": 1980, "LeNet-5": 1998, "AlexNet": 2012, "ZFNet": 2013,
                "VGG": 2014, "GoogLeNet": 2014, "ResNet": 2015, "MobileNet": 2017,
                "ShuffleNet": 2017, "Neural architecture search": 2017}
    for name, year in expected.items():
        assert by_name.get(name) == year, name
    hw = [r for r in rows if r["name"].startswith("Hubel & Wiesel")]
    assert [r["year"] for r in hw] == [1959, 1962]
    assert any("NASNet" in r["name"] for r in rows)


# ---- ILSVRC --------------------------------------------------------------------------------

EXPECTED_WINNERS = {2010: 28.2, 2011: 25.8, 2012: 16.4, 2013: 11.7, 2014: 6.7, 2015: 3.57,
                    2016: 2.99, 2017: 2.25}


def test_ilsvrc_rows_have_sources_and_valid_kinds():
    rows = load_ilsvrc_results()
    assert len(rows) >= 10
    for r in rows:
        assert r["source"], r
        assert r["source_url"].startswith("https://"), r
        assert r["kind"] in ("winner", "runner-up", "human")
        assert isinstance(r["top5_error_pct"], float)


def test_winning_entries_match_published_numbers():
    winners = winning_entries()
    assert {r["year"]: r["top5_error_pct"] for r in winners} == EXPECTED_WINNERS
    alexnet = [r for r in winners if r["year"] == 2012][0]
    assert alexnet["model"] == "AlexNet" and alexnet["top5_error_pct"] == 16.4
    teams = {r["year"]: r["team"] for r in winners}
    assert teams[2010] == "NEC-UIUC" and teams[2011] == "XRCE" and teams[2016] == "Trimps-Soushen"


def test_winning_error_decreases_every_year():
    errors = [r["top5_error_pct"] for r in winning_entries()]
    assert all(a > b for a, b in zip(errors, errors[1:]))


def test_vgg_runner_up_and_human_reference():
    rows = load_ilsvrc_results()
    vgg = [r for r in rows if r["kind"] == "runner-up"]
    assert len(vgg) == 1 and vgg[0]["year"] == 2014 and vgg[0]["top5_error_pct"] == 7.3
    human = human_reference(rows)
    assert human["top5_error_pct"] == 5.1
    assert "Karpathy" in human["source"] and "Russakovsky" in human["source"]
    # ConvNets pass the human reference from 2015 on
    below = [r["year"] for r in winning_entries(rows) if r["top5_error_pct"] < 5.1]
    assert below == [2015, 2016, 2017]


def _write(tmp_path, text):
    p = tmp_path / "x.csv"
    p.write_text(text)
    return p


HEADER = "year,team,model,label,convnet,top5_error_pct,kind,note,source,source_url\n"


def test_ilsvrc_loader_rejects_bad_files(tmp_path):
    with pytest.raises(ValueError, match="lacks the column"):
        load_ilsvrc_results(_write(tmp_path, "year,team\n2010,x\n"))
    with pytest.raises(ValueError, match="empty field.*source"):
        load_ilsvrc_results(_write(tmp_path, HEADER + "2010,A,B,b,no,28.2,winner,,,\n"))
    with pytest.raises(ValueError, match="not a number"):
        load_ilsvrc_results(_write(tmp_path, HEADER + "2010,A,B,b,no,lots,winner,,S,\n"))
    with pytest.raises(ValueError, match="between 0 and 100"):
        load_ilsvrc_results(_write(tmp_path, HEADER + "2010,A,B,b,no,128,winner,,S,\n"))
    with pytest.raises(ValueError, match="kind"):
        load_ilsvrc_results(_write(tmp_path, HEADER + "2010,A,B,b,no,28,champion,,S,\n"))
    with pytest.raises(ValueError, match="convnet"):
        load_ilsvrc_results(_write(tmp_path, HEADER + "2010,A,B,b,maybe,28,winner,,S,\n"))
    with pytest.raises(ValueError, match="line 2: year"):
        load_ilsvrc_results(_write(tmp_path, HEADER + "twenty,A,B,b,no,28,winner,,S,\n"))


def test_winner_and_human_helpers_check_uniqueness():
    rows = [{"year": 2012, "kind": "winner", "top5_error_pct": 16.4},
            {"year": 2012, "kind": "winner", "top5_error_pct": 15.3}]
    with pytest.raises(ValueError, match="more than one winner"):
        winning_entries(rows)
    with pytest.raises(ValueError, match="exactly one row of kind 'human'"):
        human_reference(rows)


def test_timeline_loader_rejects_missing_source(tmp_path):
    p = _write(tmp_path, "year,name,who,contribution,source\n1998,LeNet,LeCun,conv,\n")
    with pytest.raises(ValueError, match="source"):
        load_timeline(p)


def test_missing_asset_names_where_it_looked(monkeypatch, tmp_path):
    from cs231n_utils import paths
    monkeypatch.setattr(paths, "ASSETS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="cnn_timeline.csv"):
        load_timeline()


# ---- fc_vs_conv_params ------------------------------------------------------------------------

def test_fc_vs_conv_lecture_numbers():
    small = fc_vs_conv_params((32, 32, 3))
    assert small["inputs"] == 3072
    assert (small["fc_weights"], small["fc_biases"], small["fc_params"]) == (3072, 1, 3073)
    assert (small["conv_weights"], small["conv_biases"], small["conv_params"]) == (75, 1, 76)
    big = fc_vs_conv_params((200, 200, 3))
    assert big["fc_weights"] == 120_000 and big["fc_params"] == 120_001
    assert big["conv_params"] == 76  # independent of image size: parameter sharing
    assert big["ratio"] == pytest.approx(120_001 / 76)


def test_fc_vs_conv_full_layers():
    layer = fc_vs_conv_params((200, 200, 3), filter_size=5, num_units=100)
    assert layer["fc_params"] == 100 * 120_000 + 100 == 12_000_100
    assert layer["conv_params"] == 100 * 75 + 100 == 7_600
    layer3 = fc_vs_conv_params((32, 32, 3), filter_size=3, num_units=10)
    assert layer3["conv_weights"] == 3 * 3 * 3 * 10


@pytest.mark.parametrize("kwargs, error, match", [
    ({"input_shape": (32, 32)}, ValueError, "height, width, depth"),
    ({"input_shape": (32, 32, 0)}, ValueError, "input_shape depth must be >= 1, got 0"),
    ({"input_shape": (32, 32.0, 3)}, TypeError, "input_shape width must be an integer, got 32.0"),
    ({"input_shape": (32, 32, 3), "filter_size": 0}, ValueError, "filter_size must be >= 1"),
    ({"input_shape": (4, 4, 3), "filter_size": 5}, ValueError, "larger than the 4x4 image"),
    ({"input_shape": (32, 32, 3), "num_units": True}, TypeError, "num_units must be an integer, got True"),
])
def test_fc_vs_conv_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        fc_vs_conv_params(**kwargs)


def test_module_all_is_importable():
    for name in history.__all__:
        assert hasattr(history, name)


# ---- plotting -------------------------------------------------------------------------------

def test_plot_timeline_returns_what_it_draws():
    data = hplot.plot_timeline()
    rows = load_timeline()
    assert data["years"] == [r["year"] for r in rows]
    assert data["names"] == [r["name"] for r in rows]
    assert data["rows"] == list(range(len(rows)))
    ax = plt.gca()
    assert len(ax.texts) == len(rows)
    assert ax.texts[0].get_text() == f"{rows[0]['name']} ({rows[0]['year']})"
    dots = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert [ln.get_xdata()[0] for ln in dots] == data["years"]


def test_plot_ilsvrc_returns_what_it_draws():
    data = hplot.plot_ilsvrc()
    assert data["years"] == sorted(EXPECTED_WINNERS)
    assert data["errors"] == [EXPECTED_WINNERS[y] for y in data["years"]]
    assert data["human"] == 5.1
    assert data["labels"][data["years"].index(2012)] == "AlexNet"
    assert data["runner_up"] == [(2014, 7.3, "VGG")]
    assert data["convnet"] == [False, False, True, True, True, True, True, True]
    ax = plt.gca()
    heights = [p.get_height() for p in ax.patches]
    assert heights == data["errors"]
    human_lines = [ln for ln in ax.lines if list(ln.get_ydata()) == [5.1, 5.1]]
    assert len(human_lines) == 1
    # labels never sit on the human line: every label starts above it, and none overlap
    assert all(y > data["human"] + 0.4 for y in data["label_y"])
    from cs231n_utils.plotting import style
    assert style.figure_problems(plt.gcf()) == []
    plt.gcf().canvas.draw()
    line_y = ax.transData.transform((2010, 5.1))[1]
    for t in ax.texts:
        box = t.get_window_extent()
        assert not (box.y0 <= line_y <= box.y1), f"the human line crosses the label {t.get_text()!r}"


def test_plot_ilsvrc_on_given_axes_without_runner_up():
    fig, ax = plt.subplots()
    data = hplot.plot_ilsvrc(ax=ax, show_runner_up=False)
    assert data["runner_up"] == []
    assert len(ax.patches) == len(EXPECTED_WINNERS)


def test_plot_kernels_returns_stack_on_one_scale_with_readable_cells():
    from cs231n_utils.plotting import style
    ks = [gabor_kernel(15, t, 6, 3, gamma=0.5) for t in (0, 30, 60, 90, 120, 150)]
    data = hplot.plot_kernels(ks, [str(t) for t in range(6)])
    assert data["kernels"].shape == (6, 15, 15)
    assert np.array_equal(data["kernels"][1], ks[1])
    assert data["vmax"] == max(float(np.abs(k).max()) for k in ks)      # one shared colour scale
    fig = plt.gcf()
    assert all(style.cell_size_px(ax, 15, 15) >= style.MIN_CELL_PX for ax in fig.axes[:6])  # readable cells
    assert len(fig.axes) == 7 and fig.axes[-1].get_ylabel() == "weight"   # + the colorbar
    assert fig.axes[0].images[0].get_cmap().name == style.SIGNED_CMAP
    grey = hplot.plot_kernels(ks[:2], ["a", "b"], signed=False)
    assert plt.gcf().axes[0].images[0].get_cmap().name == "gray" and grey["vmax"] > 0
    with pytest.raises(ValueError, match="2 titles for 3 kernels"):
        hplot.plot_kernels(ks[:3], ["a", "b"])


def test_plot_tuning_curves_preferred_angles():
    angles = np.arange(0, 180, 15)
    thetas = [0, 45, 90, 135]
    resp = np.stack([orientation_tuning(gabor_kernel(15, t, 6, 3, gamma=0.5), angles)
                     for t in thetas])
    data = hplot.plot_tuning_curves(angles, resp, thetas)
    assert list(data["preferred"]) == thetas
    assert np.array_equal(data["responses"], resp)
    assert len(plt.gca().get_legend().get_texts()) == 4
    with pytest.raises(ValueError, match="expected \\(number of filters"):
        hplot.plot_tuning_curves(angles, resp[:, :3], thetas)


def test_plot_position_invariance():
    pos = [1, 2, 3]
    data = hplot.plot_position_invariance(pos, [0.0, 5.0, 0.0], [5.0, 5.0, 5.0])
    assert list(data["complex"]) == [5.0, 5.0, 5.0]
    assert list(data["simple"]) == [0.0, 5.0, 0.0]
    assert len(plt.gca().lines) == 2
    with pytest.raises(ValueError, match="same shape"):
        hplot.plot_position_invariance(pos, [1.0], [1.0, 2.0, 3.0])
