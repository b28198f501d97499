"""Group normalisation: layers.groupnorm_forward/backward (gradient-checked), the GroupNorm layer,
batch dependence of BN vs GN, and the stored BN-vs-GN experiment."""
import json

import numpy as np
import pytest

from cs231n_utils import groupnorm, layers
from cs231n_utils.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n_utils.models import Sequential


def _gn(x, g, b, G):
    return layers.groupnorm_forward(x, g, b, {"groups": G})[0]


@pytest.mark.parametrize("shape,G", [((2, 6, 4, 3), 3), ((3, 4, 5, 5), 1), ((2, 4, 3, 2), 4), ((1, 8, 2, 3), 2)])
def test_groupnorm_backward_matches_numerical_gradients(rng, shape, G):
    x = 3 * rng.standard_normal(shape) + 1.5
    g, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    out, cache = layers.groupnorm_forward(x, g, b, {"groups": G})
    dout = rng.standard_normal(out.shape)
    dx, dg, db = layers.groupnorm_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda z: _gn(z, g, b, G), x, dout)) < 1e-7
    assert rel_error(dg, eval_numerical_gradient_array(lambda z: _gn(x, z, b, G), g, dout)) < 1e-7
    assert rel_error(db, eval_numerical_gradient_array(lambda z: _gn(x, g, z, G), b, dout)) < 1e-7


def test_groupnorm_normalises_each_image_and_group(rng):
    x = 5 * rng.standard_normal((3, 6, 4, 4)) + 2
    out = _gn(x, np.ones(6), np.zeros(6), 2)
    per_group = out.reshape(3, 2, 3, 4, 4)
    assert np.allclose(per_group.mean(axis=(2, 3, 4)), 0, atol=1e-12)
    assert np.allclose(per_group.var(axis=(2, 3, 4)), 1, atol=1e-4)


def test_groupnorm_special_cases_layer_and_instance_norm(rng):
    x = rng.standard_normal((2, 4, 3, 3))
    one, ones = np.ones(4), np.zeros(4)
    layer_norm = (x - x.mean(axis=(1, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(1, 2, 3), keepdims=True) + 1e-5)
    inst_norm = (x - x.mean(axis=(2, 3), keepdims=True)) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    assert np.allclose(_gn(x, one, ones, 1), layer_norm)
    assert np.allclose(_gn(x, one, ones, 4), inst_norm)


def test_groupnorm_output_does_not_depend_on_the_batch(rng):
    x = rng.standard_normal((5, 4, 3, 3))
    g, b = rng.standard_normal(4), rng.standard_normal(4)
    alone = _gn(x[:1], g, b, 2)
    assert np.allclose(_gn(x, g, b, 2)[:1], alone)


@pytest.mark.parametrize("param,error,match", [
    ({"groups": 4}, ValueError, r"does not divide the C = 6 channels; use one of \[1, 2, 3, 6\]"),
    ({}, ValueError, r"gn_param\['groups'\] is missing"),
    ({"groups": 2, "eps": 0}, ValueError, "eps"),
    ({"groups": 2, "momentum": 0.9}, ValueError, "unknown key 'momentum'"),
    ({"groups": 2.0}, TypeError, "must be an integer"),
])
def test_groupnorm_forward_errors(rng, param, error, match):
    x = rng.standard_normal((2, 6, 3, 3))
    with pytest.raises(error, match=match):
        layers.groupnorm_forward(x, np.ones(6), np.zeros(6), param)


def test_groupnorm_shape_errors(rng):
    x = rng.standard_normal((2, 6, 3, 3))
    with pytest.raises(ValueError, match=r"gamma has shape \(5,\)"):
        layers.groupnorm_forward(x, np.ones(5), np.zeros(6), {"groups": 2})
    out, cache = layers.groupnorm_forward(x, np.ones(6), np.zeros(6), {"groups": 2})
    with pytest.raises(ValueError, match="dout has shape"):
        layers.groupnorm_backward(np.ones((2, 6, 3, 2)), cache)


def test_groupnorm_layer_trains_inside_a_model(rng):
    from cs231n_utils.layer_objects import Affine, Conv, ReLU
    model = Sequential([Conv(4, 3), groupnorm.GroupNorm(2), ReLU(), Affine(3)], input_shape=(1, 5, 5), seed=0)
    assert model.num_params() == 4 * 9 + 4 + 2 * 4 + 4 * 25 * 3 + 3
    X, y = rng.standard_normal((4, 1, 5, 5)), np.array([0, 1, 2, 1])
    loss, grads = model.loss(X, y)
    key = next(k for k in grads if k.endswith("gamma"))
    num = eval_numerical_gradient_array(lambda g: _set_and_loss(model, key, g, X, y), model.params[key].copy(), 1.0)
    assert rel_error(grads[key], num) < 1e-6
    with pytest.raises(ValueError, match="does not divide the 4 input channels"):
        Sequential([Conv(4, 3), groupnorm.GroupNorm(3)], input_shape=(1, 5, 5))
    assert groupnorm.GroupNorm(2).describe() == "GN2"


def _set_and_loss(model, key, value, X, y):
    old = model.params[key].copy()
    model.params[key][...] = value
    loss = model.loss(X, y)[0]
    model.params[key][...] = old
    return np.array(loss)


def test_batch_dependence_bn_varies_gn_does_not(rng):
    x = rng.standard_normal((40, 4, 4, 4)) + np.arange(4).reshape(1, 4, 1, 1)
    dep = groupnorm.batch_dependence(x, batch_sizes=(2, 8, 32), groups=2, trials=10, seed=0)
    assert list(dep["batch_sizes"]) == [2, 8, 32]
    assert np.all(dep["gn_spread"] < 1e-12)
    assert dep["bn_spread"][0] > dep["bn_spread"][-1] > 0
    with pytest.raises(ValueError, match="batch size"):
        groupnorm.batch_dependence(x, batch_sizes=(40,))


def test_norm_net_and_run_norm_record_validation_errors():
    from cs231n_utils.data import load_digits_split
    data = load_digits_split(seed=0)
    small = {"X_train": data["X_train"][:64], "y_train": data["y_train"][:64],
             "X_val": data["X_val"][:32], "y_val": data["y_val"][:32]}
    r = groupnorm.run_norm(small, "gn", 16, epochs=2, seed=1)
    assert r["learning_rate"] == pytest.approx(0.05 * 16 / 32) and len(r["val_err"]) == 2
    assert all(0 <= e <= 1 for e in r["val_err"])
    with pytest.raises(ValueError, match="norm must be 'bn' or 'gn'"):
        groupnorm.norm_net("ln")


def test_stored_results_have_every_batch_size_and_the_published_numbers():
    res = groupnorm.load_results()
    labels = {c["label"] for c in res["configs"]}
    assert labels == {f"{n}-{b}" for n in ("bn", "gn") for b in (2, 4, 8, 16, 32)}
    assert all(len(res["runs"][lab]) == 3 for lab in labels)
    assert res["published"]["bn_err_pct"][-1] == 34.7 and res["published"]["batch_sizes"][-1] == 2


def test_load_results_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON.*groupnorm_batch.py"):
        groupnorm.load_results(bad)
    good = groupnorm.load_results()
    good["runs"]["bn-2"][0]["val_err"] = [0.1, 2.0, 0.1, 0.1, 0.1]
    bad.write_text(json.dumps(good), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bn-2: val_err must lie in \[0, 1\]"):
        groupnorm.load_results(bad)
