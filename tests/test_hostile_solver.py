"""Hostile solver settings (issue 13): every constructor argument refused with a clear message,
labels checked against the model, and runs that diverge (a huge learning rate, a huge
regularisation, NaN from augmentation) stopped with TrainingDiverged naming the likely cause
while the model keeps its best parameters. The training runs happen in a child process with
an address-space limit and an alarm (tests/hostile_helpers.py)."""
import numpy as np
import pytest

from cs231n_utils.layer_objects import Affine, ReLU
from cs231n_utils.models import Sequential
from cs231n_utils.solver import Solver
from hostile_helpers import assert_ok, assert_refused, run_table


def _data(n=40, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, 1, 4, 4)), rng.integers(0, classes, n)
    return {"X_train": X[:30], "y_train": y[:30], "X_val": X[30:], "y_val": y[30:]}


def _model():
    return Sequential([Affine(8), ReLU(), Affine(10)], (1, 4, 4), seed=0)


D = _data()
BAD_ARGUMENTS = {   # name -> (kwargs or a data override, error, fragment of the message)
    "eval_batch_size 0": (dict(eval_batch_size=0), ValueError, "eval_batch_size must be >= 1, got 0"),
    "eval_batch_size 2.5": (dict(eval_batch_size=2.5), TypeError, "eval_batch_size must be an integer"),
    "learning rate as text": (dict(optim_config={"learning_rate": "1e-3"}), TypeError, "without quotes"),
    "learning rate negative": (dict(optim_config={"learning_rate": -0.1}), ValueError, "learning_rate"),
    "learning rate NaN": (dict(optim_config={"learning_rate": float("nan")}), ValueError, "finite"),
    "learning rate inf": (dict(optim_config={"learning_rate": float("inf")}), ValueError, "finite"),
    "learning rate a list": (dict(optim_config={"learning_rate": [0.1]}), TypeError, "must be a number"),
    "learning rate True": (dict(optim_config={"learning_rate": True}), TypeError, "must be a number"),
    "lr instead of learning_rate": (dict(optim_config={"lr": 1e-3}), ValueError, "did you mean 'learning_rate'"),
    "momentum 1.5": (dict(optim_config={"momentum": 1.5}), ValueError, "optim_config['momentum']"),
    "beta2 = 1": (dict(update_rule="adam", optim_config={"beta2": 1.0}), ValueError, "[0, 1)"),
    "epsilon 0": (dict(update_rule="adam", optim_config={"epsilon": 0.0}), ValueError, "epsilon"),
    "a state array in optim_config": (dict(optim_config={"velocity": np.zeros(3)}), ValueError, "velocity"),
    "optim_config a list": (dict(optim_config=[("learning_rate", 1e-3)]), TypeError, "optim_config must be a dict"),
    "update_rule a number": (dict(update_rule=42), TypeError, "update_rule"),
    "update_rule unknown": (dict(update_rule="adamw"), ValueError, "unknown update_rule 'adamw'"),
    "lr_decay 0": (dict(lr_decay=0), ValueError, "lr_decay"),
    "lr_decay 1.5": (dict(lr_decay=1.5), ValueError, "(0, 1]"),
    "lr_decay as text": (dict(lr_decay="0.9"), TypeError, "lr_decay must be a number"),
    "batch_size 0": (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    "batch_size True": (dict(batch_size=True), TypeError, "batch_size must be an integer"),
    "num_epochs -1": (dict(num_epochs=-1), ValueError, "num_epochs must be >= 0"),
    "seed -1": (dict(seed=-1), ValueError, "seed must be >= 0"),
    "seed as text": (dict(seed="0"), TypeError, "seed must be an integer"),
    "augment not a function": (dict(augment=1), TypeError, "augment must be a function"),
    "callback not a function": (dict(callback="print"), TypeError, "callback must be a function"),
    "progress as text": (dict(progress="yes"), TypeError, "progress must be True or False"),
    "restore_best None": (dict(restore_best=None), TypeError, "restore_best must be True or False"),
    "num_train_samples 0": (dict(num_train_samples=0), ValueError, "num_train_samples must be >= 1"),
    "checkpoint in a missing folder": (dict(checkpoint_path="/no/such/folder/c.npz"), FileNotFoundError,
                                       "does not exist"),
    "checkpoint not .npz": (dict(checkpoint_path="c.pkl"), ValueError, "must end in .npz"),
    "checkpoint path a number": (dict(checkpoint_path=5), TypeError, "checkpoint_path"),
    "data a list": ({"data": [1, 2]}, TypeError, "data must be a dict"),
    "data missing X_val": ({"data": {k: v for k, v in D.items() if k != "X_val"}}, KeyError, "X_val"),
    "X_train a list": ({"X_train": D["X_train"].tolist()}, TypeError, "X_train must be a numeric array"),
    "X_train of text": ({"X_train": D["X_train"].astype(str)}, TypeError, "X_train must be a numeric array"),
    "X_train with NaN": ({"X_train": np.where(D["X_train"] > 2, np.nan, D["X_train"])}, ValueError, "NaN/inf"),
    "X_train empty": ({"X_train": D["X_train"][:0], "y_train": D["y_train"][:0]}, ValueError, "X_train is empty"),
    "X_train of another shape": ({"X_train": np.zeros((30, 1, 5, 5))}, ValueError, "the model takes (1, 4, 4)"),
    "float labels": ({"y_train": D["y_train"].astype(float)}, TypeError, "integer class labels"),
    "2-D labels": ({"y_train": D["y_train"][:, None]}, ValueError, "1-D array"),
    "negative labels": ({"y_train": D["y_train"] - 5}, ValueError, "holds the label -"),
    "validation labels out of range": ({"y_val": D["y_val"] + 10}, ValueError, "model outputs 10 class scores"),
    "training labels out of range": ({"y_train": D["y_train"] * 3}, ValueError, "y_train holds labels"),
    "lengths differ": ({"y_train": D["y_train"][:5]}, ValueError, "lengths differ"),
    "model is a dict": ({"model": {"W": np.zeros(3)}}, TypeError, "model must have `params`"),
}


@pytest.mark.parametrize("name", list(BAD_ARGUMENTS))
def test_bad_argument_is_refused_clearly(name):
    change, error, fragment = BAD_ARGUMENTS[name]
    kwargs = dict(progress=False)
    data, model = dict(D), _model()
    if any(k in change for k in ("data", "model")) or any(k in D for k in change):
        data = change.get("data", dict(D, **{k: v for k, v in change.items() if k in D}))
        model = change.get("model", model)
    else:
        kwargs.update(change)
    with pytest.raises(error) as info:
        Solver(model, data, **kwargs)
    assert fragment in str(info.value)


def test_train_checks_its_argument():
    s = Solver(_model(), D, progress=False)
    with pytest.raises(TypeError, match="num_epochs must be an integer"):
        s.train("2")


def test_check_accuracy_refuses_out_of_range_labels_for_any_model():
    class Bare:                   # a duck-typed model that does not say how many classes it has
        def __init__(self):
            self.inner = _model()
            self.params = self.inner.params

        def loss(self, X, y=None):
            return self.inner.loss(X, y)
    s = Solver(Bare(), dict(D, y_val=D["y_val"] + 10), progress=False, num_epochs=1, batch_size=10)
    with pytest.raises(ValueError, match="y holds labels 1[0-9]..1[0-9], but the model outputs 10"):
        s.train()


# ---------------------------------------------------------------------------- divergence

SETUP = """
import numpy as np
from cs231n_utils.pattern import build_from_pattern
from cs231n_utils.solver import Solver, TrainingDiverged

rng = np.random.default_rng(0)
X, y = rng.standard_normal((100, 1, 8, 8)), rng.integers(0, 10, 100)
data = dict(X_train=X[:80], y_train=y[:80], X_val=X[80:], y_val=y[80:])

def run(reg=0.0, epochs=3, first=None, **kw):
    model = build_from_pattern("INPUT -> CONV3-4 -> RELU -> POOL2 -> FC-10", (1, 8, 8), reg=reg)
    start = {k: v.copy() for k, v in model.params.items()}
    s = Solver(model, data, progress=False, num_epochs=epochs, batch_size=20, **kw)
    if first:                                  # one good epoch first, then the hostile setting
        s.train(1)
        start = {k: v.copy() for k, v in s.best_params.items()}
        for cfg in s.optim_configs.values():
            cfg.update(first)
    try:
        s.train()
    except TrainingDiverged as exc:
        finite = all(np.isfinite(v).all() for v in model.params.values())
        expected = s.best_params or start      # the best epoch's parameters, if there was one
        kept = all(np.array_equal(v, expected[k]) for k, v in model.params.items())
        assert finite and kept, "the model did not get its parameters back"
        assert len(s.history["loss"]) == s.iteration
        raise
    return s.history["loss"][-1]

def nan_augment(Xb, rng):
    Xb = Xb.copy(); Xb[0, 0, 0, 0] = np.nan
    return Xb
"""

DIVERGING = {   # name -> (code, cause, fragments)
    "learning rate 1e6 (sgd)": ("run(update_rule='sgd', optim_config={'learning_rate': 1e6})", "learning rate",
                                ["learning rate 1e+06 is probably too large", "try 100000"]),
    "learning rate 1e6 (adam)": ("run(update_rule='adam', optim_config={'learning_rate': 1e6})", "learning rate",
                                 ["grew to"]),
    "learning rate 10 (momentum)": ("run(optim_config={'learning_rate': 10.0})", "learning rate", ["diverged"]),
    "reg 1e300 gives NaN": ("run(reg=1e300, update_rule='sgd', optim_config={'learning_rate': 1e-2})",
                            "regularisation", ["NaN/inf", "lower reg"]),
    "reg 1e4 with sgd": ("run(reg=1e4, update_rule='sgd', optim_config={'learning_rate': 1e-2})",
                         "regularisation", ["reg = 10000"]),
    "lr * reg beyond 2 (sgd)": ("run(reg=9.0, update_rule='sgd', optim_config={'learning_rate': 0.25})",
                                "regularisation", ["learning_rate * reg = 0.25 * 9 = 2.25 >= 2"]),
    "NaN from the augment function": ("run(augment=nan_augment)", "data", ["augment"]),
    "diverging after a good epoch keeps the best epoch": (
        "run(update_rule='sgd', optim_config={'learning_rate': 1e-2}, first={'learning_rate': 1e7})",
        "learning rate", ["parameters of epoch 1"]),
}

FINE = {
    "an ordinary run": "result = run(update_rule='adam', optim_config={'learning_rate': 1e-3})",
    "a large but stable learning rate": "result = run(optim_config={'learning_rate': 0.1})",
    "adam ignores a large reg": "result = run(reg=10.0, update_rule='adam', optim_config={'learning_rate': 1e-3})",
    # the reg case above diverges because of reg: the same learning rate alone trains
    "learning rate 0.25 alone (sgd)": "result = run(update_rule='sgd', optim_config={'learning_rate': 0.25})",
}


@pytest.fixture(scope="module")
def results():
    return run_table(SETUP, DIVERGING, FINE)


@pytest.mark.parametrize("name", list(DIVERGING))
def test_divergence_stops_with_the_likely_cause(results, name):
    _, cause, fragments = DIVERGING[name]
    assert_refused(results[name], "TrainingDiverged", f"likely cause: {cause}:", *fragments)
    others = {"learning rate", "regularisation", "data"} - {cause}
    assert not any(f"likely cause: {o}" in results[name]["message"] for o in others)


@pytest.mark.parametrize("name", list(FINE))
def test_stable_runs_are_not_stopped(results, name):
    assert_ok(results[name])


def test_child_process_exited_normally(results):
    assert {r["returncode"] for r in results.values()} == {0}


def test_a_diverged_run_can_be_checkpointed_and_reloaded(tmp_path):
    from cs231n_utils.pattern import build_from_pattern
    from cs231n_utils.solver import TrainingDiverged
    data = _data()
    model = build_from_pattern("INPUT -> FC-10", (1, 4, 4), seed=0)
    s = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1e8}, progress=False, batch_size=5)
    with pytest.raises(TrainingDiverged) as info:
        s.train(2)
    assert info.value.cause == "learning rate" and s.diverged == str(info.value)
    s.save_checkpoint(tmp_path / "after.npz")
    other = Solver(build_from_pattern("INPUT -> FC-10", (1, 4, 4), seed=3), data, update_rule="sgd",
                   progress=False)
    other.load_checkpoint(tmp_path / "after.npz")
    assert other.iteration == s.iteration and other.history["loss"][:3] == s.history["loss"][:3]
