"""Tests for cs231n_utils.glyphs: the generated letter images (determinism, balance, range,
cache hits, misses and damaged files, argument errors, the digits-like grey version)."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

from cs231n_utils import glyphs
from cs231n_utils.glyphs import (GlyphCacheWarning, load_glyphs, load_glyphs_grey, make_glyphs,
                                 sample_grid, to_digits_like, upsample)

SMALL = "AbCx"          # a few classes keep every test fast (the font masks are drawn per class)


def _small(tmp_path, **kw):
    args = dict(seed=0, classes=SMALL, cache_dir=tmp_path, workers=1)
    args.update(kw)
    return load_glyphs(3, 2, 2, **args)


# --------------------------------------------------------------------------------------------
# determinism, balance, range
# --------------------------------------------------------------------------------------------

def test_same_seed_same_bytes_and_another_seed_other_bytes():
    X1, y1, i1 = make_glyphs(3, seed=5, classes=SMALL, workers=1)
    X2, y2, i2 = make_glyphs(3, seed=5, classes=SMALL, workers=1)
    assert X1.tobytes() == X2.tobytes() and np.array_equal(y1, y2) and np.array_equal(i1, i2)
    X3, _, _ = make_glyphs(3, seed=6, classes=SMALL, workers=1)
    assert X3.shape == X1.shape and X3.tobytes() != X1.tobytes()


def test_worker_count_does_not_change_the_bytes():
    X1, y1, _ = make_glyphs(10, seed=1, classes=SMALL, workers=1)      # 3 chunks: parallel
    X2, y2, _ = make_glyphs(10, seed=1, classes=SMALL, workers=2)
    assert X1.tobytes() == X2.tobytes() and np.array_equal(y1, y2)


def test_a_smaller_request_is_a_per_class_prefix_of_a_larger_one():
    Xs, ys, _ = make_glyphs(3, seed=2, classes=SMALL, workers=1)
    Xl, yl, _ = make_glyphs(9, seed=2, classes=SMALL, workers=1)
    for c in range(len(SMALL)):
        np.testing.assert_array_equal(Xs[ys == c], Xl[yl == c][:3])


def test_splits_are_balanced_and_do_not_share_images():
    X_tr, y_tr, _ = make_glyphs(5, split="train", classes=SMALL, workers=1)
    X_te, y_te, _ = make_glyphs(5, split="test", classes=SMALL, workers=1)
    for y in (y_tr, y_te):
        assert np.array_equal(np.bincount(y, minlength=len(SMALL)), [5] * len(SMALL))
    train = {x.tobytes() for x in X_tr}
    assert not any(x.tobytes() in train for x in X_te)
    assert len(train) == len(X_tr)                    # no image repeats within a split either


def test_shapes_dtypes_and_ranges(tmp_path):
    d = _small(tmp_path)
    C = len(SMALL)
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        X, y = d[f"X_{split}"], d[f"y_{split}"]
        assert X.shape == (n * C, 3, 32, 32) and X.dtype == np.float32
        assert y.shape == (n * C,) and y.dtype == np.int64
        assert 0.0 <= X.min() and X.max() <= 1.0 and X.std() > 0.1   # real pictures, in range
        assert d[f"ink_brighter_{split}"].dtype == bool
        assert np.array_equal(np.bincount(y, minlength=C), [n] * C)
    assert d["classes"] == tuple(SMALL)
    assert d["mean"].shape == (3,) and d["std"].shape == (3,)
    np.testing.assert_allclose(d["mean"], d["X_train"].mean(axis=(0, 2, 3)), atol=1e-5)
    u8 = _small(tmp_path, dtype=np.uint8)
    assert u8["X_train"].dtype == np.uint8 and u8["X_train"].max() > 200
    np.testing.assert_allclose(u8["X_train"] / 255, d["X_train"], atol=1e-6)
    f64 = _small(tmp_path, dtype=np.float64)
    assert f64["X_train"].dtype == np.float64


def test_other_image_sizes():
    X, y, _ = make_glyphs(2, size=8, classes="AB", workers=1)
    assert X.shape == (4, 3, 8, 8)
    X, y, _ = make_glyphs(2, size=48, classes="AB", workers=1)
    assert X.shape == (4, 3, 48, 48)


def test_plain_white_on_black_images_are_there():
    X, _, ink = make_glyphs(40, classes=SMALL, workers=1)
    plain = (X.reshape(len(X), 3, -1).min(axis=(1, 2)) < 10) & (X[:, :, 0, 0].max(axis=1) < 20) \
        & (np.abs(X[:, 0].astype(int) - X[:, 2]).max(axis=(1, 2)) < 20)   # grey: same R and B
    assert 0.05 < plain.mean() < 0.3                     # about 15% are like the digits
    assert ink[plain].all()                              # ... and their ink is the brighter


def test_importing_the_module_does_no_work():
    code = ("import sys, cs231n_utils.glyphs; "
            "print(any(m.startswith(('matplotlib', 'PIL', 'sklearn')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------

def test_cache_miss_then_hit_gives_the_same_arrays(tmp_path):
    first = _small(tmp_path)
    assert first["status"] == "generated"
    files = list(tmp_path.glob("glyphs-*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    second = _small(tmp_path)
    assert second["status"] == "loaded from cache"
    for k in ("X_train", "y_train", "X_test", "ink_brighter_val"):
        np.testing.assert_array_equal(first[k], second[k])
    uncached = load_glyphs(3, 2, 2, classes=SMALL, cache=False, workers=1)
    assert uncached["status"] == "generated (no cache)"
    np.testing.assert_array_equal(first["X_val"], uncached["X_val"])
    other = _small(tmp_path, seed=1)                       # other arguments: another file
    assert other["status"] == "generated" and len(list(tmp_path.glob("glyphs-*.npz"))) == 2


def test_cache_key_depends_on_every_argument():
    key = glyphs.glyph_cache_key({"train": 3, "val": 2, "test": 2}, 0, 32, tuple(SMALL))
    assert len(key) == 64
    others = [glyphs.glyph_cache_key({"train": 4, "val": 2, "test": 2}, 0, 32, tuple(SMALL)),
              glyphs.glyph_cache_key({"train": 3, "val": 2, "test": 2}, 1, 32, tuple(SMALL)),
              glyphs.glyph_cache_key({"train": 3, "val": 2, "test": 2}, 0, 16, tuple(SMALL)),
              glyphs.glyph_cache_key({"train": 3, "val": 2, "test": 2}, 0, 32, tuple("bACx"))]
    assert len({key, *others}) == 5


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[:len(data) // 2]))
    elif how == "flip":                        # one pixel byte in the middle of the file
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "garbage":
        path.write_bytes(b"not a zip file at all" * 10)
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_cache_is_rebuilt_with_a_warning(tmp_path, how):
    good = _small(tmp_path)
    (path,) = tmp_path.glob("glyphs-*.npz")
    _damage(path, how)
    with pytest.warns(GlyphCacheWarning, match="rebuilt"):
        again = _small(tmp_path)
    assert again["status"] == "generated"
    np.testing.assert_array_equal(good["X_train"], again["X_train"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # the rebuilt file is good again
        assert _small(tmp_path)["status"] == "loaded from cache"


def test_a_cache_file_with_other_contents_is_not_trusted(tmp_path):
    from cs231n_utils.transfer import save_weights
    _small(tmp_path)
    (path,) = tmp_path.glob("glyphs-*.npz")
    # a well-formed file under the right name, but its labels say something else
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["y_train"] = np.zeros_like(arrays["y_train"])
    save_weights(path, arrays)
    with pytest.warns(GlyphCacheWarning, match="labels"):
        again = _small(tmp_path)
    assert np.array_equal(np.bincount(again["y_train"]), [3] * len(SMALL))
    # right labels, changed pixels: the stored sha256 catches it
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["X_train"] = 255 - arrays["X_train"]
    save_weights(path, arrays)
    with pytest.warns(GlyphCacheWarning, match="sha256"):
        _small(tmp_path)
    # an extra entry (e.g. something that would need pickle) is refused before reading
    arrays = {k: v for k, v in arrays.items()}
    arrays["extra"] = np.zeros(3)
    save_weights(path, arrays)
    with pytest.warns(GlyphCacheWarning, match="entries"):
        _small(tmp_path)


def test_an_unwritable_cache_folder_warns_and_still_returns_the_data(tmp_path):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(GlyphCacheWarning, match="cannot be written"):
        d = load_glyphs(2, 1, 1, classes=SMALL, cache_dir=blocker / "sub", workers=1)
    assert d["X_train"].shape == (2 * len(SMALL), 3, 32, 32)


def test_cache_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(glyphs.CACHE_ENV_VAR, str(tmp_path / "envcache"))
    assert glyphs.default_cache_dir() == tmp_path / "envcache"
    load_glyphs(1, 1, 1, classes="AB", workers=1)
    assert len(list((tmp_path / "envcache").glob("glyphs-*.npz"))) == 1


# --------------------------------------------------------------------------------------------
# argument errors
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(n_train=-1), "n_train"),
    (dict(n_val=10 ** 6), "n_val"),
    (dict(classes="AB1"), "unknown class"),
    (dict(classes=["A", "cat"]), "unknown class"),
    (dict(classes="AA"), "repeat"),
    (dict(classes="A"), "at least two"),
    (dict(size=7), "size"),
    (dict(size=1000), "size"),
    (dict(dtype=np.int32), "dtype"),
    (dict(seed=-1), "seed"),
])
def test_silly_arguments_raise_value_errors_that_say_what_is_wrong(kwargs, match):
    args = dict(n_train=1, n_val=1, n_test=1, classes="AB", cache=False, workers=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        load_glyphs(**args)


def test_wrong_types_raise_type_errors():
    with pytest.raises(TypeError):
        load_glyphs(2.5, classes="AB", cache=False)
    with pytest.raises(TypeError):
        load_glyphs(True, classes="AB", cache=False)
    with pytest.raises(TypeError):
        load_glyphs(1, classes="AB", cache="yes")
    with pytest.raises(TypeError):
        glyphs.glyph_classes(5)
    with pytest.raises(ValueError, match="split"):
        make_glyphs(1, split="training", classes="AB")


def test_zero_images_is_allowed():
    d = load_glyphs(2, 0, 0, classes="AB", cache=False, workers=1)
    assert d["X_val"].shape == (0, 3, 32, 32) and d["y_val"].shape == (0,)


# --------------------------------------------------------------------------------------------
# the digits-like grey version, upsampling, the sample grid
# --------------------------------------------------------------------------------------------

def test_upsample_keeps_constants_and_means():
    X = np.full((2, 8, 8), 0.25, np.float32)
    assert np.allclose(upsample(X, 16), 0.25) and upsample(X, 16).shape == (2, 16, 16)
    ramp = np.tile(np.arange(8, dtype=np.float32), (8, 1))
    up = upsample(ramp, 16)
    assert np.all(np.diff(up, axis=1) >= 0) and abs(up.mean() - ramp.mean()) < 1e-6
    with pytest.raises(ValueError, match="equal sides"):
        upsample(np.zeros((3, 8, 6)), 16)


def test_to_digits_like_is_polarity_free_and_counts_blocks():
    X, _, ink = make_glyphs(3, classes=SMALL, workers=1)
    g8 = to_digits_like(X, ink, size=8)
    assert g8.shape == (len(X), 1, 8, 8) and g8.dtype == np.float32
    assert np.allclose(g8 * 16, np.round(g8 * 16))          # counts 0..16, like the digits
    inverted = to_digits_like(255 - X, ~ink, size=8)        # dark ink on light = light on dark
    assert np.array_equal(g8, inverted)
    g16 = to_digits_like(X, ink, size=16)
    assert g16.shape == (len(X), 1, 16, 16) and 0 <= g16.min() and g16.max() <= 1
    assert 0.05 < g16.mean() < 0.5                           # mostly dark background, bright ink
    with pytest.raises(ValueError, match="ink_brighter"):
        to_digits_like(X, ink[:-1])
    with pytest.raises(ValueError, match="32, 32"):
        to_digits_like(X[:, :, :16, :16], ink)


def test_load_glyphs_grey(tmp_path):
    d = load_glyphs_grey(2, 1, 1, size=16, classes=SMALL, cache_dir=tmp_path, workers=1)
    assert d["X_train"].shape == (2 * len(SMALL), 1, 16, 16) and d["X_test"].dtype == np.float32
    assert d["mean"].shape == (1,) and d["size"] == 16


def test_sample_grid_is_wide_enough(tmp_path):
    grid = sample_grid(1, classes="ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[1] >= 500
    path = glyphs.save_sample_grid(tmp_path / "g.png", per_class=1, classes="ABCDEFGHIJKLM")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="png"):
        glyphs.save_sample_grid(tmp_path / "g.jpg")


@pytest.mark.parametrize("counts", [(0, 0, 2), (2, 0, 0), (0, 2, 1)])
def test_a_split_of_zero_images_is_empty_in_both_versions(counts):
    colour = load_glyphs(*counts, classes="AB", cache=False, workers=1)
    grey = load_glyphs_grey(*counts, size=16, classes="AB", cache=False, workers=1)
    for split, n in zip(("train", "val", "test"), counts):
        assert colour[f"X_{split}"].shape == (2 * n, 3, 32, 32)
        assert grey[f"X_{split}"].shape == (2 * n, 1, 16, 16)
        assert grey[f"X_{split}"].dtype == np.float32 and grey[f"y_{split}"].shape == (2 * n,)
        assert np.array_equal(grey[f"y_{split}"], colour[f"y_{split}"])
    # no training images: no statistics (NaN), otherwise finite
    assert np.isnan(grey["mean"]).all() == (counts[0] == 0)
    assert np.isnan(colour["std"]).all() == (counts[0] == 0)
    assert to_digits_like(np.zeros((0, 3, 32, 32), np.uint8), np.zeros(0, bool), 8).shape == (0, 1, 8, 8)
