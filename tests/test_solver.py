"""Update rules, the Solver training loop, freezing, augmentation and checkpoints."""
import os

import numpy as np
import pytest

from cs231n_utils.layer_objects import Affine, ReLU
from cs231n_utils.models import Sequential
from cs231n_utils.pattern import build_from_pattern
from cs231n_utils.solver import Solver, adam, random_shift, rmsprop, sgd, sgd_momentum


def _toy_data(rng, n=60, d=5, classes=3):
    centers = rng.standard_normal((classes, d)) * 3
    y = rng.integers(0, classes, n)
    X = centers[y] + rng.standard_normal((n, d))
    return {"X_train": X[:40], "y_train": y[:40], "X_val": X[40:], "y_val": y[40:]}


def _toy_model(seed=0, **kw):
    return Sequential([Affine(8), ReLU(), Affine(3)], (5,), seed=seed, **kw)


def test_sgd_and_momentum_rules():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    nw, cfg = sgd(w, dw, {"learning_rate": 0.1})
    assert np.allclose(nw, [0.95, -2.05])
    nw, cfg = sgd_momentum(w, dw, {"learning_rate": 0.1, "momentum": 0.9})
    assert np.allclose(nw, [0.95, -2.05]) and np.allclose(cfg["velocity"], [-0.05, -0.05])
    nw2, cfg = sgd_momentum(nw, dw, cfg)
    assert np.allclose(cfg["velocity"], [-0.095, -0.095])
    assert np.allclose(nw2, nw - 0.095)


def test_adam_first_step_moves_by_learning_rate_and_counts_steps():
    w, dw = np.array([1.0, -2.0, 3.0]), np.array([0.3, -4.0, 1e-3])
    nw, cfg = adam(w, dw, {"learning_rate": 0.01})
    # after bias correction the first step is lr * sign(dw) (up to epsilon)
    assert np.allclose(nw, w - 0.01 * np.sign(dw), atol=1e-6)
    assert cfg["t"] == 1
    _, cfg = adam(nw, dw, cfg)
    assert cfg["t"] == 2


def test_rmsprop_rule():
    w, dw = np.array([1.0]), np.array([2.0])
    nw, cfg = rmsprop(w, dw, {"learning_rate": 0.1, "decay_rate": 0.0})
    assert np.allclose(nw, 1.0 - 0.1 * 2.0 / 2.0, atol=1e-7)


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_loss_goes_down_on_a_tiny_problem(rng, rule):
    data = _toy_data(rng)
    model = _toy_model()
    lr = {"sgd": 0.1, "sgd_momentum": 0.05, "rmsprop": 0.01, "adam": 0.01}[rule]
    solver = Solver(model, data, update_rule=rule, optim_config={"learning_rate": lr},
                    batch_size=10, num_epochs=15, seed=0, progress=False)
    history = solver.train()
    assert len(history["loss"]) == 15 * 4 and len(history["val_acc"]) == 15
    assert np.mean(history["loss"][-4:]) < 0.5 * np.mean(history["loss"][:4])
    assert history["train_acc"][-1] > 0.9
    assert solver.best_val_acc == max(history["val_acc"])


def test_lr_decay_per_epoch_and_history_lr(rng):
    solver = Solver(_toy_model(), _toy_data(rng), update_rule="sgd", optim_config={"learning_rate": 0.1},
                    lr_decay=0.5, num_epochs=3, batch_size=40, progress=False)
    solver.train()
    assert np.allclose(solver.history["lr"], [0.1, 0.05, 0.025])
    assert np.isclose(solver.learning_rate, 0.0125)


def test_same_seed_same_run_and_continue_training(rng):
    data = _toy_data(rng)
    runs = []
    for _ in range(2):
        s = Solver(_toy_model(), data, update_rule="adam", num_epochs=3, batch_size=8, seed=5,
                   augment=lambda X, r: X + 0.01 * r.standard_normal(X.shape), progress=False)
        runs.append(s.train()["loss"])
    assert runs[0] == runs[1]
    s.train(2)
    assert s.epoch == 5 and len(s.history["val_acc"]) == 5


def test_restore_best_params(rng):
    data = _toy_data(rng)
    model = _toy_model()
    s = Solver(model, data, num_epochs=4, batch_size=10, progress=False, restore_best=True)
    s.train()
    for k, v in s.best_params.items():
        assert np.array_equal(model.params[k], v)


def test_frozen_params_unchanged_after_training(rng):
    data = _toy_data(rng)
    model = _toy_model()
    model.freeze("fc1")
    before = {k: v.copy() for k, v in model.params.items()}
    Solver(model, data, update_rule="sgd_momentum", num_epochs=2, batch_size=10,
           progress=False).train()
    assert np.array_equal(model.params["fc1.W"], before["fc1.W"])
    assert np.array_equal(model.params["fc1.b"], before["fc1.b"])
    assert not np.array_equal(model.params["fc2.W"], before["fc2.W"])
    assert "fc1.W" in model.grads                  # gradients are still computed


def test_callback_events(rng):
    events = []
    s = Solver(_toy_model(), _toy_data(rng), num_epochs=2, batch_size=20, progress=False,
               callback=lambda solver, event: events.append((event, solver.iteration, solver.epoch)))
    s.train()
    assert events == [("iteration", 1, 0), ("iteration", 2, 0), ("epoch", 2, 1),
                      ("iteration", 3, 1), ("iteration", 4, 1), ("epoch", 4, 2), ("end", 4, 2)]


def test_progress_bar_runs(rng, capsys):
    s = Solver(_toy_model(), _toy_data(rng), num_epochs=1, batch_size=20, progress=True)
    s.train()
    assert "training" in capsys.readouterr().err


def test_bad_arguments(rng):
    data = _toy_data(rng)
    with pytest.raises(KeyError, match="X_val"):
        Solver(_toy_model(), {"X_train": data["X_train"], "y_train": data["y_train"]})
    with pytest.raises(ValueError, match="update_rule"):
        Solver(_toy_model(), data, update_rule="adamw")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        Solver(_toy_model(), data, batch_size=0)
    with pytest.raises(TypeError, match="num_epochs must be an integer, got 2.0"):
        Solver(_toy_model(), data, num_epochs=2.0)
    with pytest.raises(ValueError, match="lengths"):
        Solver(_toy_model(), dict(data, y_train=data["y_train"][:3]))


def test_random_shift_moves_pixels_and_is_seeded():
    X = np.zeros((50, 1, 5, 5))
    X[:, 0, 2, 2] = 1.0
    aug = random_shift(1, fill=0.0)
    out = aug(X, np.random.default_rng(0))
    assert np.array_equal(out, aug(X, np.random.default_rng(0)))
    pos = {tuple(np.argwhere(o[0] == 1)[0]) for o in out}
    assert pos <= {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)} and len(pos) > 4
    assert np.all(out.sum(axis=(1, 2, 3)) == 1)
    edge = random_shift(1)(np.arange(25.0).reshape(1, 1, 5, 5).repeat(20, 0), np.random.default_rng(1))
    assert edge.min() >= 0 and edge.max() <= 24          # edge fill repeats existing values
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(-1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        aug(np.zeros((3, 4)), np.random.default_rng(0))


def test_checkpoint_round_trip_is_equal(rng, tmp_path):
    data = _toy_data(rng)
    model = build_from_pattern("FC-6 -> BN -> RELU -> FC-3", (5,), seed=0)
    s = Solver(model, data, update_rule="adam", num_epochs=2, batch_size=10, seed=1, progress=False,
               lr_decay=0.9)
    s.train()
    path = s.save_checkpoint(tmp_path / "ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]      # no temp file left behind
    with np.load(path, allow_pickle=False) as f:
        assert "model/fc1.W" in f.files and "model/bn1.running_var" in f.files

    model2 = build_from_pattern("FC-6 -> BN -> RELU -> FC-3", (5,), seed=42)
    s2 = Solver(model2, data, update_rule="adam", num_epochs=2, batch_size=10, seed=99, progress=False,
                lr_decay=0.9)
    s2.load_checkpoint(path)
    for k, v in model.state_dict().items():
        assert np.array_equal(model2.state_dict()[k], v)
    assert s2.history == s.history and s2.epoch == s.epoch and s2.iteration == s.iteration
    assert s2.best_val_acc == s.best_val_acc
    for k in s.optim_configs:
        assert s2.optim_configs[k]["t"] == s.optim_configs[k]["t"]
        assert np.array_equal(s2.optim_configs[k]["m"], s.optim_configs[k]["m"])
    # continuing both gives identical results (rng state restored too)
    s.train(1)
    s2.train(1)
    assert s.history["loss"] == s2.history["loss"]


def test_checkpoint_write_is_atomic(rng, tmp_path, monkeypatch):
    s = Solver(_toy_model(), _toy_data(rng), num_epochs=1, progress=False)
    path = tmp_path / "ckpt.npz"
    s.save_checkpoint(path)
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        s.save_checkpoint(path)
    assert path.read_bytes() == good                      # old checkpoint intact
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]   # temp file removed


def test_checkpoint_errors(rng, tmp_path):
    s = Solver(_toy_model(), _toy_data(rng), num_epochs=1, progress=False)
    with pytest.raises(ValueError, match=".npz"):
        s.save_checkpoint(tmp_path / "ckpt.pkl")
    with pytest.raises(FileNotFoundError):
        s.save_checkpoint(tmp_path / "nope" / "ckpt.npz")
    with pytest.raises(FileNotFoundError):
        s.load_checkpoint(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="cannot be read"):
        s.load_checkpoint(bad)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a solver checkpoint"):
        s.load_checkpoint(other)


def test_checkpoint_path_saves_every_epoch(rng, tmp_path):
    path = tmp_path / "run.npz"
    s = Solver(_toy_model(), _toy_data(rng), num_epochs=2, progress=False, checkpoint_path=path)
    s.train()
    with np.load(path, allow_pickle=False) as f:
        assert int(f["meta/epoch"]) == 2
