"""The degradation experiment: deep plain/residual nets, one training run, the stored results."""
import json

import numpy as np
import pytest

from cs231n_utils import degradation
from cs231n_utils.data import load_digits_split


def test_blocks_for_depth_and_errors():
    assert degradation.blocks_for_depth(18) == 8 and degradation.blocks_for_depth(34) == 16
    with pytest.raises(ValueError, match="must be even; got 19"):
        degradation.blocks_for_depth(19)
    with pytest.raises(ValueError, match="depth must be >= 4"):
        degradation.blocks_for_depth(2)


def test_plain_and_residual_nets_have_the_same_parameters_and_start_alike():
    plain, res = degradation.deep_net(18, residual=False), degradation.deep_net(18, residual=True)
    assert plain.num_params() == res.num_params() == 9_770
    weights = sorted(k for k in plain.params if k.endswith(".W"))
    assert len(weights) == 18                                   # 17 convs + 1 FC: "depth" weight layers
    kinds = [layer.kind for layer in res.layers]
    assert kinds.count("RES") == 8 and "RES" not in [layer.kind for layer in plain.layers]
    # the same seed gives the same first conv in both
    assert np.array_equal(plain.params["conv1.W"], res.params["conv1.W"])


def test_run_depth_records_one_value_per_epoch():
    data = load_digits_split(seed=0)
    small = {"X_train": data["X_train"][:100], "y_train": data["y_train"][:100],
             "X_val": data["X_val"][:50], "y_val": data["y_val"][:50]}
    seen = []
    r = degradation.run_depth(small, 6, residual=True, epochs=2, batch_size=50, on_epoch=seen.append)
    assert seen == [1, 2]
    assert r["depth"] == 6 and r["residual"] is True and r["params"] > 0
    for key in ("train_loss", "train_err", "val_err"):
        assert len(r[key]) == 2
    assert all(0 <= e <= 1 for e in r["train_err"] + r["val_err"])
    again = degradation.run_depth(small, 6, residual=True, epochs=2, batch_size=50)
    assert again["train_loss"] == r["train_loss"]                # seeded: the same numbers again


def test_summarize_runs_mean_std_over_seeds():
    runs = [{"train_err": [0.5, 0.2, 0.1]}, {"train_err": [0.5, 0.4, 0.3]}]
    s = degradation.summarize_runs(runs, "train_err", last=2)
    assert s["values"] == pytest.approx([0.15, 0.35]) and s["mean"] == pytest.approx(0.25)
    assert s["std"] == pytest.approx(0.1) and s["n"] == 2
    with pytest.raises(ValueError, match="runs is empty"):
        degradation.summarize_runs([], "train_err")
    with pytest.raises(KeyError, match="no 'val_err'"):
        degradation.summarize_runs(runs, "val_err")


def test_stored_results_show_the_degradation_problem():
    res = degradation.load_results()
    assert [c["label"] for c in res["configs"]] == ["plain-18", "plain-34", "residual-18", "residual-34"]
    final = {c["label"]: degradation.summarize_runs(res["runs"][c["label"]], "train_err", last=3)
             for c in res["configs"]}
    assert all(f["n"] == 5 for f in final.values())
    # deeper plain net trains worse than the shallower one on every seed; residual nets train best
    assert min(final["plain-34"]["values"]) > max(final["plain-18"]["values"])
    assert final["residual-34"]["mean"] < final["residual-18"]["mean"] < final["plain-18"]["mean"]
    assert set(res["lr_search"]["plain-34"]["tried"]) == {0.02, 0.05, 0.1}


def test_load_results_rejects_bad_structure(tmp_path):
    data = degradation.load_results()
    data["runs"]["plain-18"][0]["train_err"] = data["runs"]["plain-18"][0]["train_err"][:-1]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="plain-18: train_err must be a list of 15 finite numbers"):
        degradation.load_results(path)
    data = degradation.load_results()
    del data["runs"]["plain-34"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="has no runs"):
        degradation.load_results(path)
    path.write_text(json.dumps({"configs": [], "runs": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="recipe.epochs"):
        degradation.load_results(path)
