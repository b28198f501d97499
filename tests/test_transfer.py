"""Tests for cs231n_utils.transfer: FrozenPart, freezing, weight files, tasks and the experiments."""
import numpy as np
import pytest

from cs231n_utils import transfer
from cs231n_utils.feature_cache import FeatureCache, cached_features, hash_arrays

# ---------------------------------------------------------------------------- models: freezing, splitting

from cs231n_utils.pattern import build_from_pattern
from cs231n_utils.solver import Solver

PATTERN = "INPUT -> [CONV3-4 -> RELU -> POOL2]*2 -> FC-8 -> RELU -> FC-3"


@pytest.fixture
def small_model():
    return build_from_pattern(PATTERN, input_shape=(1, 8, 8), seed=0)


@pytest.fixture
def toy_data(rng):
    X = rng.standard_normal((30, 1, 8, 8))
    y = np.arange(30) % 3
    X[y == 1, :, :4] += 1.5     # make the classes learnable
    X[y == 2, :, :, :4] -= 1.5
    return X, y


def test_frozen_params_do_not_change_and_unfrozen_do(small_model, toy_data):
    X, y = toy_data
    assert small_model.freeze(upto="pool1") == ["conv1", "relu1", "pool1"]
    before = small_model.state_dict()
    transfer.train_classifier(small_model, X, y, num_updates=5, learning_rate=1e-2, seed=0)
    after = small_model.state_dict()
    for key in before:
        if key.startswith("conv1."):
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)
        else:
            assert not np.array_equal(after[key], before[key]), f"{key} did not train"


def test_unfreeze_makes_every_layer_train_again(small_model, toy_data):
    X, y = toy_data
    small_model.freeze()
    before = small_model.state_dict()
    Solver(small_model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, update_rule="sgd",
           num_epochs=1, batch_size=10, progress=False).train()
    after = small_model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    small_model.unfreeze()
    transfer.train_classifier(small_model, X, y, num_updates=3, seed=0)
    assert all(not np.array_equal(before[k], small_model.state_dict()[k]) for k in before)


def test_frozen_part_forward_matches_model_activations(small_model, toy_data):
    X, _ = toy_data
    part = transfer.FrozenPart(small_model, upto="pool2")
    _, acts = small_model.forward(X, return_activations=True)
    np.testing.assert_array_equal(part.forward(X), acts["pool2"])
    assert part.output_shape == (4, 2, 2)
    assert part.names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    assert sorted(part.state_dict()) == ["conv1.W", "conv1.b", "conv2.W", "conv2.b"]
    assert "conv2:CONV3-4" in part.spec and "fc1" not in part.spec
    assert transfer.FrozenPart(small_model, upto=3).names == ["conv1", "relu1", "pool1"]


def test_frozen_part_errors(small_model, toy_data):
    with pytest.raises(KeyError, match="not a layer"):
        transfer.FrozenPart(small_model, upto="conv9")
    with pytest.raises(ValueError, match="at least one layer must stay"):
        transfer.FrozenPart(small_model, upto=len(small_model.layers))
    with pytest.raises(ValueError, match="X must have shape"):
        transfer.FrozenPart(small_model, upto=2).forward(np.zeros((2, 1, 4, 4)))


def test_changing_a_frozen_weight_in_the_model_misses_the_cache(tmp_path, small_model, toy_data):
    X, _ = toy_data
    part = transfer.FrozenPart(small_model, upto="pool2")
    cache = FeatureCache(tmp_path)
    cached_features(part, X, tmp_path, cache=cache)
    _, info = cached_features(part, X, tmp_path, cache=cache)
    assert info.hit
    small_model.params["conv2.W"][0, 0, 0, 0] += 0.1     # in place, as a solver does
    feats, info = cached_features(part, X, tmp_path, cache=cache)
    assert info.status == "computed"
    np.testing.assert_array_equal(feats, part.forward(X))
    # a weight *after* the frozen part does not change the key
    small_model.params["fc1.W"][0, 0] += 0.1
    assert cached_features(part, X, tmp_path, cache=cache)[1].hit


def test_top_model_on_frozen_features_equals_the_full_model(small_model, toy_data):
    X, _ = toy_data
    part = transfer.FrozenPart(small_model, upto="pool1")
    top = transfer.top_model(small_model, "pool1")
    assert [l.name for l in top.layers] == ["conv2", "relu2", "pool2", "fc1", "relu3", "fc2"]
    assert top.input_shape == (4, 4, 4)
    np.testing.assert_allclose(top.forward(part.forward(X)), small_model.forward(X), atol=1e-12)
    # the top model owns copies: training it leaves the source model alone
    top.params["fc1.W"] += 1.0
    assert not np.array_equal(top.params["fc1.W"], small_model.params["fc1.W"])


def test_top_model_with_new_head(small_model):
    top = transfer.top_model(small_model, "relu3", num_classes=5, seed=1)
    assert [l.name for l in top.layers] == ["fc2"]
    assert top.params["fc2.W"].shape == (8, 5)
    assert top.output_shape == (5,)


def test_with_new_head_copies_the_body_and_draws_a_new_head(small_model):
    small_model.freeze(upto="pool1")
    new = transfer.with_new_head(small_model, 5, seed=3)
    assert new.params["fc2.W"].shape == (8, 5)
    for key, value in small_model.params.items():
        if not key.startswith("fc2."):
            np.testing.assert_array_equal(new.params[key], value)
            assert new.params[key] is not value
    assert new.frozen_layers() == []
    again = transfer.with_new_head(small_model, 5, seed=3)
    np.testing.assert_array_equal(again.params["fc2.W"], new.params["fc2.W"])


def test_fresh_model_has_the_same_layers_and_new_weights(small_model):
    fresh = transfer.fresh_model(small_model, 4, seed=7)
    assert fresh.describe().replace("FC-4", "FC-3") == small_model.describe()
    assert not np.array_equal(fresh.params["conv1.W"], small_model.params["conv1.W"])
    same = transfer.fresh_model(small_model, seed=0)
    np.testing.assert_array_equal(same.params["conv1.W"], small_model.params["conv1.W"])


def test_replacing_a_non_fc_head_is_refused():
    from cs231n_utils.layer_objects import Conv, GlobalAvgPool
    from cs231n_utils.models import Sequential
    model = Sequential([Conv(3, 3), GlobalAvgPool()], (1, 4, 4))
    with pytest.raises(ValueError, match="not FC"):
        transfer.fresh_model(model, 2)
    with pytest.raises(ValueError, match="not FC"):
        transfer.top_model(model, 1, num_classes=2)


# ---------------------------------------------------------------------------- tasks

def _fake_split(rng):
    y = np.repeat(np.arange(10), 6)
    X = rng.standard_normal((60, 1, 8, 8))
    return {"X_train": X, "y_train": y, "X_test": X[:20], "y_test": y[:20]}


def test_digits_task_relabels_and_filters(rng):
    data = _fake_split(rng)
    task = transfer.digits_task(data, (5, 6, 7, 8, 9))
    assert task["classes"] == (5, 6, 7, 8, 9)
    assert sorted(set(task["y_train"])) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(task["X_train"], data["X_train"][data["y_train"] >= 5])
    np.testing.assert_array_equal(task["y_train"], data["y_train"][data["y_train"] >= 5] - 5)
    assert "X_val" not in task
    assert len(task["y_test"]) == 0 or task["y_test"].max() <= 4


def test_digits_task_errors(rng):
    with pytest.raises(ValueError, match="distinct"):
        transfer.digits_task(_fake_split(rng), (1, 1))
    data = _fake_split(rng)
    data["y_train"] = np.zeros_like(data["y_train"])
    with pytest.raises(ValueError, match="no training examples"):
        transfer.digits_task(data, (3,))


def test_few_shot_picks_per_class_deterministically(rng):
    y = np.repeat(np.arange(3), 10)
    X = np.arange(30)
    Xs, ys = transfer.few_shot(X, y, 4, seed=1)
    assert np.bincount(ys).tolist() == [4, 4, 4]
    np.testing.assert_array_equal(y[Xs], ys)
    np.testing.assert_array_equal(transfer.few_shot(X, y, 4, seed=1)[0], Xs)
    assert not np.array_equal(transfer.few_shot(X, y, 4, seed=2)[0], Xs)
    assert transfer.few_shot(X, y, None)[0] is X
    with pytest.raises(ValueError, match="only 10 examples"):
        transfer.few_shot(X, y, 11)
    with pytest.raises(ValueError, match=r"per_class .* must be >= 1, got 0"):
        transfer.few_shot(X, y, 0)
    with pytest.raises(TypeError, match="per_class .* must be an integer, got 2.5"):
        transfer.few_shot(X, y, 2.5)


# ---------------------------------------------------------------------------- weights files

def test_save_weights_is_byte_deterministic_and_loads_back(tmp_path, rng):
    arrays = {"b": rng.standard_normal(3), "a.W": rng.standard_normal((2, 2)).astype(np.float32)}
    sha1 = transfer.save_weights(tmp_path / "w1.npz", arrays)
    sha2 = transfer.save_weights(tmp_path / "w2.npz", dict(reversed(list(arrays.items()))))
    assert sha1 == sha2 == transfer.file_sha256(tmp_path / "w1.npz")
    assert (tmp_path / "w1.npz").read_bytes() == (tmp_path / "w2.npz").read_bytes()
    assert oct((tmp_path / "w1.npz").stat().st_mode & 0o777) == "0o644"
    back = transfer.load_weights(tmp_path / "w1.npz", expected_sha256=sha1)
    assert sorted(back) == ["a.W", "b"] and back["a.W"].dtype == np.float32
    np.testing.assert_array_equal(back["b"], arrays["b"])
    with np.load(tmp_path / "w1.npz", allow_pickle=False) as z:   # a normal .npz
        assert sorted(z.files) == ["a.W", "b"]


def test_weights_errors(tmp_path):
    with pytest.raises(ValueError, match="must end in .npz"):
        transfer.save_weights(tmp_path / "w.bin", {"a": np.ones(1)})
    with pytest.raises(FileNotFoundError, match="pretrain_source.py"):
        transfer.load_weights(tmp_path / "missing.npz")
    transfer.save_weights(tmp_path / "w.npz", {"a": np.ones(1)})
    with pytest.raises(ValueError, match="was changed or corrupted"):
        transfer.load_weights(tmp_path / "w.npz", expected_sha256="0" * 64)
    with pytest.raises(TypeError, match="object arrays"):
        transfer.save_weights(tmp_path / "o.npz", {"a": np.array([{}], dtype=object)})
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(FileNotFoundError, match="provenance"):
        transfer.load_pretrained(directory=tmp_path)


def test_load_pretrained_reproduces_its_recorded_source_accuracy():
    from cs231n_utils.data import load_digits_split
    model, prov = transfer.load_pretrained()
    assert model.num_params() == prov["num_params"]
    assert hash_arrays(model.state_dict()) == prov["weights_sha256"]
    source = transfer.digits_task(load_digits_split(seed=0), prov["source_classes"])
    acc = model.accuracy(source["X_test"], source["y_test"])
    assert round(acc, 4) == prov["source_test_accuracy"]
    assert acc > 0.9


# ---------------------------------------------------------------------------- training and tables

def test_train_classifier_lowers_the_loss(small_model, toy_data):
    X, y = toy_data
    solver = transfer.train_classifier(small_model, X, y, num_updates=40, learning_rate=1e-2, seed=0)
    loss = solver.history["loss"]
    assert abs(len(loss) - 40) <= 10
    assert np.mean(loss[-5:]) < np.mean(loss[:5])


def test_train_classifier_repeats_tiny_sets(small_model, toy_data):
    X, y = toy_data
    solver = transfer.train_classifier(small_model, X[:3], y[:3], num_updates=20, batch_size=4, seed=0)
    assert len(solver.X_train) >= 40 and len(solver.history["loss"]) >= 10


def test_train_classifier_errors(small_model, toy_data):
    X, y = toy_data
    with pytest.raises(ValueError, match="equally long"):
        transfer.train_classifier(small_model, X, y[:3])
    with pytest.raises(ValueError, match="num_updates"):
        transfer.train_classifier(small_model, X, y, num_updates=0)


@pytest.fixture
def tiny_task(rng):
    X = rng.standard_normal((60, 1, 8, 8))
    y = np.arange(60) % 3
    X[y == 1, :, :4] += 1.0
    X[y == 2, :, :, :4] -= 1.0
    return {"X_train": X[:45], "y_train": y[:45], "X_test": X[45:], "y_test": y[45:]}


def test_transfer_experiment_table(tmp_path, small_model, tiny_task):
    cache = FeatureCache(tmp_path)
    fast = {s: {"num_updates": 4, "learning_rate": 1e-2} for s in transfer.STRATEGIES}
    table = transfer.transfer_experiment(small_model, tiny_task, shots=(2, None), seeds=(0, 1),
                                         cache=cache, settings=fast)
    assert table.means().shape == (2, 4)
    assert all(len(v) == 2 for v in table.acc.values())
    assert table.train_counts == {2: 6, None: 45}
    assert 0 <= table.means().min() <= table.means().max() <= 1
    text = table.to_text()
    assert text.splitlines()[0].split() == ["labels/class", "from", "scratch", "frozen", "+", "linear",
                                            "head", "fine-tune", "top", "fine-tune", "all"]
    assert "all (~15)" in text and "mean of 2 seeds" in text
    assert table.best(2) in transfer.STRATEGIES
    assert (cache.hits, cache.misses) == (0, 4)   # 2 frozen parts x (train, test)
    transfer.transfer_experiment(small_model, tiny_task, shots=(2,), seeds=(0,), cache=cache,
                                 settings=fast, strategies=("frozen + linear head",))
    assert cache.hits == 4                        # nothing recomputed the second time
    # the pretrained model itself is never modified
    np.testing.assert_array_equal(small_model.params["fc2.W"],
                                  build_from_pattern(PATTERN, input_shape=(1, 8, 8), seed=0).params["fc2.W"])


def test_transfer_experiment_is_deterministic(tmp_path, small_model, tiny_task):
    fast = {s: {"num_updates": 3, "learning_rate": 1e-2} for s in transfer.STRATEGIES}
    run = lambda: transfer.transfer_experiment(small_model, tiny_task, shots=(3,), seeds=(0,),
                                               cache=FeatureCache(tmp_path), settings=fast).acc
    assert run() == run()


def test_transfer_experiment_rejects_unknown_strategy(tmp_path, small_model, tiny_task):
    with pytest.raises(ValueError, match="unknown strategies"):
        transfer.transfer_experiment(small_model, tiny_task, cache=FeatureCache(tmp_path),
                                     strategies=("magic",))


def test_linear_probe_table(tmp_path, small_model, tiny_task):
    table = transfer.linear_probe_table(small_model, tiny_task, layers=("pool1", "relu3"), shots=(5,),
                                        seeds=(0,), cache=FeatureCache(tmp_path), num_updates=5)
    assert table.strategies == ("pixels", "pool1", "relu3")
    assert table.means().shape == (1, 3)
    assert "pixels" in str(table)


# ---------------------------------------------------------------------------- plotting

def test_plot_tasks_draws_one_image_per_class(rng):
    import matplotlib.pyplot as plt
    from cs231n_utils.plotting import transfer as tplot
    X = rng.standard_normal((20, 1, 8, 8))
    y = np.arange(20) % 5
    out = tplot.plot_tasks(X, y, X[:10], y[:10] % 2, target_names=[5, 6])
    np.testing.assert_array_equal(out["source_index"], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(out["target_index"], [0, 1])
    assert out["source_titles"] == ["0", "1", "2", "3", "4"]
    assert out["target_titles"] == ["5", "6"]
    plt.close(out["figure"])


def test_plot_transfer_table_returns_the_plotted_percentages():
    import matplotlib.pyplot as plt
    from cs231n_utils.plotting import transfer as tplot
    acc = {(5, "a"): [0.5, 0.7], (5, "b"): [0.9, 0.9], (None, "a"): [0.8, 1.0], (None, "b"): [1.0, 1.0]}
    table = transfer.TransferTable((5, None), ("a", "b"), (0, 1), acc, {5: 10, None: 50}, 2)
    out = tplot.plot_transfer_table(table, title="t")
    np.testing.assert_allclose(out["means"], [[60, 90], [90, 100]])
    np.testing.assert_allclose(out["low"], [[50, 90], [80, 100]])
    np.testing.assert_allclose(out["high"], [[70, 90], [100, 100]])
    assert out["groups"] == ["5 per class", "all"] and out["columns"] == ["a", "b"]
    plt.close(out["figure"])
    assert "all (~25)" in table.to_text() and "60.0%" in table.to_text()


# ---------------------------------------------------------------------------- notebook prose vs outputs

def test_numbers_quoted_in_notebook_07_match_its_stored_outputs():
    """The discussion cells quote the experiment table; re-executing the notebook with other
    numbers must not leave stale prose behind (re-read the table and update the text)."""
    import json
    import re
    from cs231n_utils.paths import REPO_ROOT
    path = REPO_ROOT / "notebooks" / "07_transfer_learning.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    printed = set()
    first_table = None
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        printed |= set(re.findall(r"\d+\.\d", text))
        if "labels/class" in text:
            first_table = i if first_table is None else first_table
    assert first_table is not None, "the experiment table is not in the stored outputs"
    quoted = set()
    for cell in cells[first_table:]:
        if cell["cell_type"] == "markdown" and "中文小结" not in "".join(cell["source"]):
            quoted |= set(re.findall(r"(?<![\d.])(\d\d\.\d)(?![\d])", "".join(cell["source"])))
    assert quoted, "no accuracies quoted in the discussion"
    assert quoted <= printed, f"quoted but not printed (stale prose?): {sorted(quoted - printed)}"


def test_notebook_07_prints_the_gain_line_once():
    import json
    import re
    from cs231n_utils.paths import REPO_ROOT
    nb = json.loads((REPO_ROOT / "notebooks" / "07_transfer_learning.ipynb").read_text(encoding="utf-8"))
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    lines = re.findall(r"^transfer gain at 5 labels/class: [+-]\d+\.\d points \(best transfer column "
                       r"minus from scratch, mean of (\d+) seeds\)$", text, re.M)
    assert len(lines) == 1 and int(lines[0]) >= 5
