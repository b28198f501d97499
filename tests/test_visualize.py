"""cs231n_utils.visualize: orientation index, receptive fields, top patches, occlusion, saliency,
t-SNE; and the figures of cs231n_utils.plotting.features."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n_utils import visualize as V
from cs231n_utils.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n_utils.layer_objects import Affine, BatchNorm, Conv, GlobalAvgPool, MaxPool, ReLU
from cs231n_utils.models import Sequential


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _small_net(seed=0, C=3, H=14):
    return Sequential([Conv(4, 5, pad=2), ReLU(), MaxPool(2), Conv(6, 3, stride=2, pad=0), ReLU(),
                       Conv(5, 3, pad=1, dilation=1), ReLU(), Affine(3)], (C, H, H), seed=seed)


# ----------------------------------------------------------------------------- orientation

def test_orientation_index_is_zero_for_a_round_blob_and_one_for_a_grating():
    k = 9
    r = np.arange(k) - (k - 1) / 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    blob = np.exp(-(xx ** 2 + yy ** 2) / (2 * 1.5 ** 2))
    grating = np.cos(2 * np.pi * 2 * xx / k)                  # 2 cycles across the filter
    diagonal = np.cos(2 * np.pi * (xx + yy) / k)
    idx = V.orientation_index(np.stack([blob, grating, diagonal, np.ones((k, k))]))
    assert idx.shape == (4,)
    assert idx[0] < 1e-10
    assert idx[1] == pytest.approx(1.0, abs=1e-10)
    assert idx[2] == pytest.approx(1.0, abs=1e-10)
    assert idx[3] == 0.0                                         # DC only: no orientation


def test_orientation_index_sums_the_power_over_channels():
    k = 8
    xx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    vertical = np.cos(2 * np.pi * xx[1] / 4)                     # varies along x
    horizontal = np.cos(2 * np.pi * xx[0] / 4)                   # the same grating turned 90 deg
    both = np.stack([vertical, horizontal])[None]                # one filter, two channels
    same = np.stack([vertical, 2 * vertical])[None]
    colour_blob = np.stack([np.ones((k, k)), -np.ones((k, k))])[None]
    assert V.orientation_index(both)[0] < 1e-10                   # the two orientations cancel
    assert V.orientation_index(same)[0] == pytest.approx(1.0)
    assert V.orientation_index(colour_blob)[0] == 0.0
    # one channel with 3x the amplitude: power 9:1, index (9 - 1) / (9 + 1)
    mixed = np.stack([3 * vertical, horizontal])[None]
    assert V.orientation_index(mixed)[0] == pytest.approx(0.8)


def test_orientation_index_of_random_filters_is_in_range_and_not_extreme():
    rng = np.random.default_rng(0)
    idx = V.orientation_index(rng.standard_normal((200, 3, 5, 5)))
    assert ((idx >= 0) & (idx <= 1)).all()
    assert 0.05 < np.median(idx) < 0.5


@pytest.mark.parametrize("bad", [np.zeros((3, 5)), np.zeros((2, 3, 1, 1)), np.zeros((0, 1, 3, 3))])
def test_orientation_index_refuses_bad_shapes(bad):
    with pytest.raises(ValueError, match="shape"):
        V.orientation_index(bad)


def test_orientation_index_refuses_nan():
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        V.orientation_index(w)


# ----------------------------------------------------------------------------- receptive fields

def _brute_force_field(model, layer, i, j, H):
    """Input pixels whose change moves unit (i, j) of `layer` (any channel): perturb one at a time."""
    rng = np.random.default_rng(1)
    x = rng.random((1, *model.input_shape)) + 0.1           # positive: every ReLU passes
    idx = [l.name for l in model.layers].index(layer)

    def unit(z):
        h = z
        for l in model.layers[:idx + 1]:
            h = l.forward(h, "test")
        return h[0, :, i, j]

    base = unit(x)
    seen = np.zeros((H, H), dtype=bool)
    for r in range(H):
        for c in range(H):
            z = x.copy()
            z[0, :, r, c] += 1000.0                # beats every other value in a max pool
            seen[r, c] = not np.allclose(unit(z), base, rtol=0, atol=1e-12)
    return seen


@pytest.mark.parametrize("layer, unit", [("conv1", (0, 0)), ("conv1", (5, 7)), ("pool1", (2, 3)),
                                         ("conv2", (0, 1)), ("conv2", (3, 2)), ("conv3", (0, 0)),
                                         ("relu1", (3, 1))])
def test_receptive_field_matches_a_brute_force_perturbation(layer, unit):
    H = 18
    # positive weights and inputs: no cancellation, every pixel in the field really moves the unit
    model = Sequential([Conv(2, 5, pad=2, weight_scale=1.0), MaxPool(2),
                        Conv(2, 3, stride=2, pad=0, weight_scale=1.0),
                        Conv(2, 3, pad=1, weight_scale=1.0), ReLU(), Affine(2)],
                       (1, H, H), seed=3)
    for l in model.layers:                  # positive weights: no accidental cancellation
        if "W" in l.params:
            l.params["W"][...] = np.abs(l.params["W"]) + 0.1
    rf = V.receptive_field(model, layer)
    seen = _brute_force_field(model, layer, *unit, H)
    want = np.zeros((H, H), dtype=bool)
    r0, r1, c0, c1 = rf.box(*unit, H, H)
    want[r0:r1, c0:c1] = True
    np.testing.assert_array_equal(seen, want)


def test_receptive_field_numbers():
    model = _small_net()
    assert V.receptive_field(model, "conv1") == V.RField(5, 1, -2)
    assert V.receptive_field(model, "relu1") == V.RField(5, 1, -2)
    assert V.receptive_field(model, "pool1") == V.RField(6, 2, -2)
    assert V.receptive_field(model, "conv2") == V.RField(10, 4, -2)
    assert V.receptive_field(model, "conv3") == V.RField(18, 4, -6)
    dilated = Sequential([Conv(2, 3, dilation=2), Conv(2, 3, stride=2, pad=0)], (1, 9, 9))
    assert V.receptive_field(dilated, "conv1") == V.RField(5, 1, -2)       # 3 taps spread over 5
    assert V.receptive_field(dilated, "conv2") == V.RField(7, 2, -2)
    assert V.RField(7, 2, -2).box(0, 3, 9, 9) == (0, 5, 4, 9)             # clipped at the borders


def test_receptive_field_errors_name_the_layers():
    model = _small_net()
    with pytest.raises(ValueError, match="unknown layer 'conv9'.*conv1"):
        V.receptive_field(model, "conv9")
    with pytest.raises(ValueError, match="fc1.*whole input"):
        V.receptive_field(model, "fc1")
    gap = Sequential([Conv(2, 3), GlobalAvgPool(), Affine(2)], (1, 6, 6))
    with pytest.raises(ValueError, match="gap1"):
        V.receptive_field(gap, "gap1")


# ----------------------------------------------------------------------------- top patches

def test_top_patches_are_the_largest_activations_and_crop_the_field():
    rng = np.random.default_rng(2)
    model = _small_net(seed=1)
    X = rng.standard_normal((40, 3, 14, 14))
    top = V.top_patches(model, X, "relu2", units=[0, 3], k=9)
    _, acts = model.forward(X, "test", return_activations=True)
    a = acts["relu2"]
    rf = V.receptive_field(model, "relu2")
    assert top.values.shape == (2, 9) and top.patches.shape == (2, 9, 3, rf.size, rf.size)
    for u, unit in enumerate([0, 3]):
        per_image = a[:, unit].reshape(40, -1).max(axis=1)
        np.testing.assert_allclose(top.values[u], np.sort(per_image)[::-1][:9])
        assert len(set(top.where[u, :, 0])) == 9                     # nine different images
        for j in range(9):
            n, i, jj = top.where[u, j]
            assert a[n, unit, i, jj] == top.values[u, j] == per_image[n]
            r0, r1, c0, c1 = top.boxes[u, j]
            top_row, left = rf.offset + i * rf.stride, rf.offset + jj * rf.stride
            crop = top.patches[u, j][:, r0 - top_row:r1 - top_row, c0 - left:c1 - left]
            np.testing.assert_array_equal(crop, X[n, :, r0:r1, c0:c1])
            assert np.isnan(top.patches[u, j]).sum() == 3 * (rf.size ** 2 - (r1 - r0) * (c1 - c0))
    every = V.top_patches(model, X, "conv3", units=[1], k=5, distinct_images=False)
    flat = np.sort(acts["conv3"][:, 1].ravel())[::-1][:5]
    np.testing.assert_allclose(every.values[0], flat)


def test_top_patches_errors():
    model = _small_net()
    X = np.zeros((4, 3, 14, 14))
    with pytest.raises(ValueError, match="unknown layer 'conv7'"):
        V.top_patches(model, X, "conv7", [0])
    with pytest.raises(ValueError, match="unit 4 is out of range.*4 channels"):
        V.top_patches(model, X, "conv1", [0, 4])
    with pytest.raises(ValueError, match="k must be an integer in 1..4"):
        V.top_patches(model, X, "conv1", [0], k=9)
    with pytest.raises(ValueError, match=r"shape \(N, 3, 14, 14\)"):
        V.top_patches(model, np.zeros((4, 1, 14, 14)), "conv1", [0])
    with pytest.raises(ValueError, match="whole input"):
        V.top_patches(model, X, "fc1", [0])


# ----------------------------------------------------------------------------- one-pixel network

def _one_pixel_net(r=5, c=7, channel=1, H=12, W=12, weight=3.0):
    """A network whose class-1 score is weight * x[channel, r, c] and class-0 score is 0."""
    model = Sequential([Affine(2)], (3, H, W), seed=0)
    Wm = np.zeros((3 * H * W, 2))
    Wm[np.ravel_multi_index((channel, r, c), (3, H, W)), 1] = weight
    model.params["fc1.W"][...] = Wm
    return model


def test_saliency_of_a_one_pixel_network_is_that_pixel_only():
    model = _one_pixel_net()
    X = np.random.default_rng(0).standard_normal((2, 3, 12, 12))
    out = V.saliency_map(model, X, [1, 0])
    expected = np.zeros((12, 12))
    expected[5, 7] = 3.0
    np.testing.assert_array_equal(out["saliency"][0], expected)
    np.testing.assert_array_equal(out["saliency"][1], 0.0)          # class 0 ignores every pixel
    assert out["grad"][0, 1, 5, 7] == 3.0 and np.count_nonzero(out["grad"][0]) == 1


def test_occlusion_of_a_one_pixel_network_peaks_exactly_at_that_pixel():
    model = _one_pixel_net()
    image = np.zeros((3, 12, 12))
    image[1, 5, 7] = 2.0                                            # the network sees class 1
    occ = V.occlusion_map(model, image, 1, patch=3, stride=1, fill=0.0)
    pixel = occ["pixel"]
    assert np.unravel_index(np.argmax(pixel), pixel.shape) == (5, 7)
    assert (pixel[5, 7] > np.delete(pixel.ravel(), 5 * 12 + 7)).all()    # a strict peak
    p1 = np.exp(6.0) / (1 + np.exp(6.0))
    assert occ["prob"] == pytest.approx(p1)
    assert pixel[5, 7] == pytest.approx(p1 - 0.5)                   # hidden: scores equal
    grid = occ["grid"]
    assert grid.shape == (12, 12) and grid[5, 7] == pytest.approx(p1 - 0.5)
    assert (grid[np.abs(np.arange(12) - 5)[:, None].repeat(12, 1) > 1] == 0).all()  # far rows: no drop
    assert pixel[0, 0] == 0 and pixel[11, 11] == 0


def test_occlusion_errors():
    model = _one_pixel_net()
    image = np.zeros((3, 12, 12))
    with pytest.raises(ValueError, match="patch 13 is larger than the image"):
        V.occlusion_map(model, image, 1, patch=13)
    with pytest.raises(ValueError, match="label 2 is out of range.*2 classes"):
        V.occlusion_map(model, image, 2)
    with pytest.raises(ValueError, match="one image of shape"):
        V.occlusion_map(model, image[None], 1)
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        V.occlusion_map(model, image, 1, stride=0)
    with pytest.raises(ValueError, match="fill must be"):
        V.occlusion_map(model, image, 1, fill=[0.0, 1.0])


def test_saliency_matches_a_numerical_gradient_through_conv_pool_bn():
    rng = np.random.default_rng(4)
    model = Sequential([Conv(3, 3), BatchNorm(), ReLU(), MaxPool(2), Conv(4, 3, pad=0), ReLU(), Affine(5)],
                       (2, 8, 8), seed=2)
    model.forward(rng.standard_normal((16, 2, 8, 8)), "train")      # running averages away from 0/1
    X = rng.standard_normal((3, 2, 8, 8))
    y = np.array([0, 4, 2])
    grad = V.saliency_map(model, X, y)["grad"]
    onehot = np.eye(5)[y]
    num = eval_numerical_gradient_array(lambda z: model.forward(z, "test"), X.copy(), onehot)
    assert rel_error(grad, num) < 1e-7


def test_saliency_errors():
    model = _small_net()
    X = np.zeros((2, 3, 14, 14))
    with pytest.raises(ValueError, match="2 integers"):
        V.saliency_map(model, X, [0])
    with pytest.raises(ValueError, match="label 3 is out of range"):
        V.saliency_map(model, X, [0, 3])


# ----------------------------------------------------------------------------- features and t-SNE

def test_penultimate_features_are_the_input_of_the_last_layer():
    model = _small_net()
    X = np.random.default_rng(5).standard_normal((6, 3, 14, 14))
    F = V.penultimate_features(model, X)
    _, acts = model.forward(X, "test", return_activations=True)
    np.testing.assert_array_equal(F, acts["relu3"].reshape(6, -1))
    np.testing.assert_array_equal(V.penultimate_features(model, X, "pool1"), acts["pool1"].reshape(6, -1))


def test_tsne_is_deterministic_and_keeps_clusters_apart():
    rng = np.random.default_rng(6)
    centres = rng.standard_normal((3, 20)) * 10
    labels = np.repeat(np.arange(3), 20)
    F = centres[labels] + rng.standard_normal((60, 20))
    a = V.tsne_embedding(F, seed=0, perplexity=10, max_iter=300)
    b = V.tsne_embedding(F, seed=0, perplexity=10, max_iter=300)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (60, 2)
    d = np.linalg.norm(a[:, None] - a[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (labels[np.argmin(d, axis=1)] == labels).all()           # nearest neighbour: same cluster
    code = ("import sys, numpy as np; from cs231n_utils.visualize import tsne_embedding; "
            "F = np.load(sys.argv[1]); sys.stdout.write(tsne_embedding(F, seed=0, perplexity=10, "
            "max_iter=300).tobytes().hex())")
    import os
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "F.npy"), F)
        env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
        out = subprocess.run([sys.executable, "-c", code, os.path.join(tmp, "F.npy")], env=env,
                             capture_output=True, text=True, check=True).stdout
    assert bytes.fromhex(out) == a.tobytes()                     # same bits with 2 threads
    with pytest.raises(ValueError, match="perplexity"):
        V.tsne_embedding(F, perplexity=100)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        V.tsne_embedding(F[:3])


# ----------------------------------------------------------------------------- the figures

def test_figures_follow_the_style_and_return_what_they_drew():
    from cs231n_utils.plotting import features as PF
    from cs231n_utils.plotting import style

    rng = np.random.default_rng(7)
    model = _small_net(seed=2)
    W0 = model.params["conv1.W"].copy()
    out = PF.plot_filter_comparison(W0 * 2, W0, V.orientation_index(W0 * 2), V.orientation_index(W0))
    assert out["trained"].shape == (4, 5, 5, 3) and out["cell_px"] >= style.MIN_CELL_PX
    assert style.figure_problems(out["figure"]) == []
    X = rng.standard_normal((20, 3, 14, 14))
    top = V.top_patches(model, X, "relu2", [0, 1], k=9)
    fig = PF.plot_top_patches(top)["figure"]
    assert style.figure_problems(fig) == []
    model1 = _one_pixel_net(H=14, W=14)
    occ = V.occlusion_map(model1, X[0], 1, patch=3, stride=1)
    drawn = PF.plot_occlusion(X[0], occ)
    np.testing.assert_array_equal(drawn["map"], occ["pixel"])
    assert style.figure_problems(drawn["figure"]) == []
    sal = V.saliency_map(model, X[:2], [0, 1])["saliency"]
    assert style.figure_problems(PF.plot_saliency(X[:2], sal, ["a", "b"])["figure"]) == []
    emb = rng.standard_normal((30, 2))
    t = PF.plot_tsne(emb, np.arange(30) % 3, ["x", "y", "z"])
    assert list(t["classes"]) == [0, 1, 2] and style.figure_problems(t["figure"]) == []


def test_figure_errors():
    from cs231n_utils.plotting import features as PF

    with pytest.raises(ValueError, match="C = 1 or 3"):
        PF.plot_filter_comparison(np.zeros((4, 2, 3, 3)), np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="cell_px must be >= 24"):
        PF.plot_filter_comparison(np.zeros((4, 1, 3, 3)), np.zeros((4, 1, 3, 3)), cell_px=10)
    with pytest.raises(ValueError, match="must match"):
        PF.plot_saliency(np.zeros((2, 3, 5, 5)), np.zeros((2, 4, 4)))
    assert PF.to_display(np.full((1, 2, 2), np.nan)).shape == (2, 2, 3)


def test_widen_brings_a_small_figure_to_the_style():
    from cs231n_utils.plotting import features as PF
    from cs231n_utils.plotting import style

    fig, ax = plt.subplots(figsize=(2, 1), dpi=80)
    ax.set_title("small", fontsize=7)
    w, h = PF.widen(fig)
    assert w >= style.MIN_WIDTH_PX and h == 100
    assert style.figure_problems(fig) == []
