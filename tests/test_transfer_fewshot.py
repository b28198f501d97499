"""Tests for transfer_augment (shifts/rotations keep labels and shapes) and transfer_fewshot
(the target split, one cell of the table, the validation-only choice, the results file)."""
import json

import numpy as np
import pytest

from cs231n_utils import transfer, transfer_fewshot as tf
from cs231n_utils.pattern import build_from_pattern
from cs231n_utils.transfer_augment import affine_augment, augmented_copies, random_affine

# ---------------------------------------------------------------------------- augmentation


def test_identity_settings_return_the_images(rng):
    X = rng.random((4, 2, 9, 7))
    out = random_affine(X, np.random.default_rng(0), max_shift=0, max_degrees=0, max_scale=0)
    np.testing.assert_allclose(out, X, atol=1e-12)
    assert out.shape == X.shape and out.dtype == X.dtype


def test_a_shift_moves_a_dot_and_a_rotation_keeps_the_centre(rng):
    X = np.zeros((50, 1, 9, 9))
    X[:, 0, 4, 4] = 1.0                             # a dot at the centre
    turned = random_affine(X, np.random.default_rng(1), max_shift=0, max_degrees=90, max_scale=0)
    np.testing.assert_allclose(turned[:, 0, 4, 4], 1.0)          # the centre stays put
    moved = random_affine(X, np.random.default_rng(2), max_shift=2, max_degrees=0, max_scale=0)
    assert not np.allclose(moved, X)
    np.testing.assert_allclose(moved.sum(axis=(1, 2, 3)), 1.0, atol=1e-9)   # no ink lost inside


def test_fill_is_read_outside_the_image():
    X = np.ones((20, 1, 8, 8))
    out = random_affine(X, np.random.default_rng(0), max_shift=3, max_degrees=0, max_scale=0, fill=-2.0)
    assert out.min() < 0 and out.max() <= 1.0 + 1e-12 and out.min() >= -2.0 - 1e-12


def test_augmented_copies_keep_labels_shapes_and_are_deterministic(rng):
    X, y = rng.random((6, 1, 16, 16)), np.array([0, 1, 2, 0, 1, 2])
    Xm, ym = augmented_copies(X, y, 4, seed=3)
    assert Xm.shape == (24, 1, 16, 16) and Xm.dtype == X.dtype
    np.testing.assert_array_equal(ym, np.tile(y, 4))
    np.testing.assert_array_equal(Xm[:6], X)                     # the originals come first
    assert not np.allclose(Xm[6:12], X)
    np.testing.assert_array_equal(augmented_copies(X, y, 4, seed=3)[0], Xm)
    assert not np.array_equal(augmented_copies(X, y, 4, seed=4)[0], Xm)


def test_augment_errors_teach(rng):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_affine(rng.random((3, 8, 8)), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        random_affine(rng.random((1, 1, 8, 8)), 0)
    with pytest.raises(ValueError, match="max_degrees"):
        affine_augment(max_degrees=500)
    with pytest.raises(ValueError, match="equally long"):
        augmented_copies(rng.random((3, 1, 4, 4)), [0, 1], 2)


def test_affine_augment_works_as_a_solver_augment(rng):
    aug = affine_augment(max_shift=1, max_degrees=5, max_scale=0.05, fill=0.0)
    X = rng.random((5, 1, 8, 8))
    a, b = aug(X, np.random.default_rng(0)), aug(X, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    assert a.shape == X.shape


# ---------------------------------------------------------------------------- the target and the runner

PATTERN = "INPUT -> CONV5-4 -> RELU -> POOL2 -> CONV3-4 -> RELU -> POOL2 -> CONV3-4 -> RELU -> POOL2 -> FC-6"
PROV = {"input_normalization": {"mean": 0.25, "std": 0.5}}


@pytest.fixture(scope="module")
def target():
    return tf.digits_target(tf.input_transform(PROV), pool_per_class=8, val_per_class=4)


@pytest.fixture(scope="module")
def source_model():
    return build_from_pattern(PATTERN, input_shape=(1, 16, 16), seed=0)


def test_digits_target_splits_are_disjoint_balanced_and_transformed(target):
    assert target["X_train"].shape == (80, 1, 16, 16) and target["X_val"].shape == (40, 1, 16, 16)
    assert len(target["y_test"]) == 1797 - 120
    assert np.all(np.bincount(target["y_train"]) == 8) and np.all(np.bincount(target["y_val"]) == 4)
    assert target["bg"] == pytest.approx(-0.5)                  # (0 - 0.25) / 0.5
    assert target["X_train"].min() == pytest.approx(-0.5)
    rows = {arr.tobytes() for arr in np.concatenate([target["X_train"], target["X_val"]])}
    assert len(rows & {arr.tobytes() for arr in target["X_test"]}) <= 5   # (a few digits repeat exactly)


def test_input_transform_checks_shapes():
    with pytest.raises(ValueError, match=r"\(N, 8, 8\)"):
        tf.input_transform(PROV)(np.zeros((2, 1, 8, 8)))


@pytest.mark.parametrize("column", tf.COLUMNS)
def test_run_column_trains_one_cell_and_only_touches_test_when_asked(column, target, source_model):
    idx, _ = transfer.few_shot(np.arange(80), target["y_train"], 2, seed=0)
    before = source_model.state_dict()
    recipe = {"learning_rate": 1e-2, "num_updates": 10}
    model, evaluate = tf.run_column(column, recipe, source_model, target, idx, 0, copies=3)
    assert model.output_shape == (10,)
    assert 0.0 <= evaluate("val") <= 1.0
    again = tf.run_column(column, recipe, source_model, target, idx, 0, copies=3)[1]
    assert again("val") == evaluate("val")                      # deterministic
    after = source_model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)   # the source is left alone


def test_run_column_rejects_unknown_columns(target, source_model):
    with pytest.raises(ValueError, match="unknown column"):
        tf.run_column("fine-tune some", {"learning_rate": 1e-2, "num_updates": 1}, source_model,
                      target, np.arange(10), 0)


def test_select_and_test_chooses_on_validation_and_evaluates_test_only_for_the_choice():
    calls = []

    def ev(name, acc):
        return lambda split: calls.append((name, split)) or acc

    candidates = {"a": [(0.5, ev("a", 0.9)), (0.6, ev("a", 0.9))],
                  "b": [(0.7, ev("b", 0.1)), (0.7, ev("b", 0.2))]}
    chosen, val, test = tf.select_and_test(candidates)
    assert chosen == "b" and val == [0.7, 0.7] and test == [0.1, 0.2]
    assert calls == [("b", "test"), ("b", "test")]


def _results(test_scratch=(0.8, 0.9), test_linear=(0.9, 1.0)):
    cells = []
    for shots in (5, "all"):
        for column, test in (("from scratch", test_scratch), ("frozen + linear head", test_linear)):
            cells.append({"shots": shots, "column": column, "recipe": {"learning_rate": 0.01},
                          "val": [0.5, 0.5], "test": list(test)})
    return {"columns": ["from scratch", "frozen + linear head"], "shots": [5, "all"], "seeds": [0, 1],
            "target": {"pool_per_class": 70}, "cells": cells}


def test_result_table_gain_and_line():
    table = tf.ResultTable.from_results(tf.check_results(_results()))
    assert table.stats(5, "from scratch") == pytest.approx((85.0, 7.0710678))
    best, gain, spread = table.gain(5)
    assert best == "frozen + linear head" and gain == pytest.approx(10.0) and spread == pytest.approx(0.0)
    assert tf.gain_line(table, 5) == ("transfer gain at 5 labels/class: +10.0 points (best transfer "
                                      "column minus from scratch, mean of 2 seeds)")
    text = table.to_text()
    assert "85.0 ± 7.1" in text and "all (70)" in text and "+10.0 ± 0.0" in text


@pytest.mark.parametrize("damage", ["accuracy above one", "missing cell", "seed count", "unknown column"])
def test_check_results_refuses_damaged_files(damage):
    data = _results()
    if damage == "accuracy above one":
        data["cells"][0]["test"][0] = 1.5
    elif damage == "missing cell":
        data["cells"].pop()
    elif damage == "seed count":
        data["cells"][1]["val"] = [0.5]
    else:
        data["columns"].append("fine-tune some")
    with pytest.raises(ValueError):
        tf.check_results(json.loads(json.dumps(data)))


# ---------------------------------------------------------------------------- the experiment script

def _load_script(name):
    import importlib.util
    from cs231n_utils.paths import REPO_ROOT
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_experiment_runner_on_a_tiny_case_is_deterministic_and_well_formed(tmp_path):
    grey, exp = _load_script("pretrain_glyphs_grey"), _load_script("transfer_experiment")
    model = grey.build_source_model(seed=0)                  # untrained: the plumbing is tested
    info = {"input_normalization": {"mean": 0.2, "std": 0.3}, "num_classes": 52}
    grey.write(model, info, tmp_path, seed=0, num_epochs=0)
    tiny = {c: {"a": {"learning_rate": 1e-2, "num_updates": 2}, "b": {"learning_rate": 1e-3, "num_updates": 2}}
            for c in tf.COLUMNS}
    first = exp.run((0, 1), (1,), tiny, directory=tmp_path, log=lambda *_: None)
    again = exp.run((0, 1), (1,), tiny, directory=tmp_path, log=lambda *_: None)
    assert first == again
    data = tf.check_results(json.loads(json.dumps(first)))
    assert [c["column"] for c in data["cells"]] == list(tf.COLUMNS)
    for cell in data["cells"]:
        best = max(cell["candidates_val_mean"].values())
        assert cell["candidates_val_mean"][cell["recipe_name"]] == best     # chosen on validation
        assert cell["recipe"] == tiny[cell["column"]][cell["recipe_name"]]
    assert "validation" in data["protocol"] and data["source"]["sha256"] == json.loads(
        (tmp_path / "pretrained_glyphs_grey.json").read_text())["sha256"]
    table = tf.ResultTable.from_results(data)
    assert table.shots == (1,) and len(table.seeds) == 2


def test_committed_results_match_the_scripts_settings():
    from cs231n_utils.results import read_results
    exp = _load_script("transfer_experiment")
    data = read_results("transfer_results.json", check=tf.check_results)
    assert data["seeds"] == list(exp.SEEDS) and len(data["seeds"]) >= 5
    assert data["shots"] == [1, 5, 20, "all"] and data["columns"] == list(tf.COLUMNS)
    assert data["recipes"] == json.loads(json.dumps(exp.RECIPES))
    assert data["cuts"] == list(exp.CUTS) and data["copies"] == exp.COPIES
    prov = json.loads((__import__("cs231n_utils.paths", fromlist=["ASSETS_DIR"]).ASSETS_DIR
                       / "pretrained_glyphs_grey.json").read_text())
    assert data["source"]["sha256"] == prov["sha256"]   # made with the committed source network


def test_logistic_head_standardises_with_training_statistics_and_fits_separable_data(rng):
    F = rng.normal(size=(60, 3, 2, 2)) * 50 + 1000        # large offset and scale: standardised away
    y = (F[:, 0, 0, 0] > 1000).astype(int) + 2 * (F[:, 1, 0, 0] > 1000)
    head = tf.LogisticHead(C=10.0).fit(F, y)
    np.testing.assert_allclose(head.mean, F.reshape(60, -1).mean(0))
    assert head.output_shape == (4,) and head.accuracy(F, y) == 1.0
    strong = tf.LogisticHead(C=1e-4).fit(F, y)             # much stronger L2: smaller weights
    assert np.abs(strong.clf.coef_).sum() < 0.1 * np.abs(head.clf.coef_).sum()
    with pytest.raises(ValueError, match="C"):
        tf.LogisticHead(C=0.0)


@pytest.mark.parametrize("column", tf.COLUMNS[1:3])
def test_run_column_with_a_logistic_head_uses_the_recipes_cut_and_the_memo(column, target, source_model):
    idx, _ = transfer.few_shot(np.arange(80), target["y_train"], 2, seed=0)
    recipe = {"cut": "relu3", "C": 0.1}
    memo: dict = {}
    head, evaluate = tf.run_column(column, recipe, source_model, target, idx, 0, copies=3, memo=memo)
    assert isinstance(head, tf.LogisticHead) and len(head.mean) == 4 * 4 * 4   # relu3: 4 x 4 x 4
    assert len(memo) == (1 if column.endswith("augmented") else 0)
    again = tf.run_column(column, recipe, source_model, target, idx, 0, copies=3, memo=memo)[1]
    fresh = tf.run_column(column, recipe, source_model, target, idx, 0, copies=3)[1]
    assert evaluate("val") == again("val") == fresh("val")
