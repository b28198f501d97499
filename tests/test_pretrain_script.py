"""Tests for scripts/pretrain_source.py: determinism and the committed asset's provenance."""
import importlib.util
import json

import numpy as np
import pytest

from cs231n_utils import transfer
from cs231n_utils.feature_cache import hash_arrays
from cs231n_utils.paths import ASSETS_DIR, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "pretrain_source.py"
NAME = transfer.PRETRAINED_NAME


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("pretrain_source", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def provenance():
    return json.loads((ASSETS_DIR / f"{NAME}.json").read_text())


def test_same_seed_gives_identical_weights(script):
    m1, info1 = script.pretrain(seed=0, num_epochs=1)
    m2, info2 = script.pretrain(seed=0, num_epochs=1)
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert list(s1) == list(s2)
    for key in s1:
        np.testing.assert_array_equal(s1[key], s2[key], err_msg=key)
    assert info1 == info2


def test_another_seed_gives_other_weights(script):
    m1, _ = script.pretrain(seed=0, num_epochs=1)
    m2, _ = script.pretrain(seed=1, num_epochs=1)
    assert hash_arrays(m1.state_dict()) != hash_arrays(m2.state_dict())


def test_written_files_are_byte_identical_on_rerun(script, tmp_path):
    model, info = script.pretrain(seed=0, num_epochs=1)
    meta1 = script.write(model, info, tmp_path / "a", seed=0, num_epochs=1)
    meta2 = script.write(model, info, tmp_path / "b", seed=0, num_epochs=1)
    for suffix in (".npz", ".json"):
        assert (tmp_path / "a" / f"{NAME}{suffix}").read_bytes() == \
               (tmp_path / "b" / f"{NAME}{suffix}").read_bytes()
    assert meta1["sha256"] == transfer.file_sha256(tmp_path / "a" / f"{NAME}.npz")
    loaded, _ = transfer.load_pretrained(directory=tmp_path / "a")
    assert hash_arrays(loaded.state_dict()) == meta1["weights_sha256"]
    assert not list((tmp_path / "a").glob("*.tmp")) and not list((tmp_path / "a").glob(".*.tmp"))


def test_committed_asset_matches_its_provenance(provenance):
    path = ASSETS_DIR / f"{NAME}.npz"
    assert path.stat().st_size < 2 * 1024 * 1024
    assert transfer.file_sha256(path) == provenance["sha256"]
    weights = transfer.load_weights(path, expected_sha256=provenance["sha256"])
    assert hash_arrays(weights) == provenance["weights_sha256"]
    for key in ("script", "seed", "source_task", "source_classes", "pattern", "input_shape",
                "source_test_accuracy", "training"):
        assert key in provenance, key
    assert provenance["script"] == "scripts/pretrain_source.py"
    assert set(provenance["source_classes"]).isdisjoint(provenance["target_classes_never_seen"])


def test_provenance_records_the_scripts_settings(script, provenance):
    assert provenance["pattern"] == script.PATTERN
    assert provenance["seed"] == script.SEED
    assert provenance["training"]["num_epochs"] == script.NUM_EPOCHS
    assert provenance["training"]["learning_rate"] == script.LEARNING_RATE


@pytest.mark.slow
def test_rerunning_the_script_reproduces_the_committed_weights(script, provenance):
    # the full run (about 5 s): the committed file is what the script makes. Bit for bit with
    # unchanged layer code; a rewritten kernel may move the last bits, accepted up to 1e-9.
    model, info = script.pretrain()
    ok, message = script.compare_with_committed(model, ASSETS_DIR)
    assert ok, message
    assert info["source_test_accuracy"] == provenance["source_test_accuracy"]
    assert info["best_epoch"] == provenance["best_epoch"]


def test_compare_with_committed_reports_identical_close_and_different(script, tmp_path):
    model, info = script.pretrain(seed=0, num_epochs=1)
    script.write(model, info, tmp_path, seed=0, num_epochs=1)
    ok, message = script.compare_with_committed(model, tmp_path)
    assert ok and "identical" in message
    model.params["fc2.b"][0] += 1e-14
    ok, message = script.compare_with_committed(model, tmp_path)
    assert ok and "last-bit" in message
    model.params["fc2.b"][0] += 1e-3
    ok, message = script.compare_with_committed(model, tmp_path)
    assert not ok and "DIFFER" in message


def test_check_mode_reports_a_mismatch(script, tmp_path, capsys):
    model, info = script.pretrain(seed=0, num_epochs=1)
    script.write(model, info, tmp_path, seed=0, num_epochs=1)
    assert script.main(["--epochs", "1", "--out", str(tmp_path), "--check"]) == 0
    assert "identical" in capsys.readouterr().out
    weights = model.state_dict()
    weights["conv1.W"] = weights["conv1.W"] + 0.01          # someone edited the file
    transfer.save_weights(tmp_path / f"{NAME}.npz", weights)
    assert script.main(["--epochs", "1", "--out", str(tmp_path), "--check"]) == 1
    assert "DIFFERS from the sha256" in capsys.readouterr().out
    # ... and if the provenance is updated to match, the weights themselves still differ
    meta = json.loads((tmp_path / f"{NAME}.json").read_text())
    meta["sha256"] = transfer.file_sha256(tmp_path / f"{NAME}.npz")
    (tmp_path / f"{NAME}.json").write_text(json.dumps(meta))
    assert script.main(["--epochs", "1", "--out", str(tmp_path), "--check"]) == 1
    assert "weights DIFFER" in capsys.readouterr().out


def test_source_model_init_does_not_depend_on_build_from_pattern_defaults(script):
    model = script.build_source_model(seed=0)
    # plain He initialisation for the classifier too: std = sqrt(2 / 64) ~ 0.18
    assert 0.1 < float(np.std(model.params["fc2.W"])) < 0.3
    again = script.build_source_model(seed=0)
    assert hash_arrays(model.state_dict()) == hash_arrays(again.state_dict())


# ---------------------------------------------------------------------------- the grey-glyph source of 07

GREY = REPO_ROOT / "scripts" / "pretrain_glyphs_grey.py"
GREY_NAME = transfer.PRETRAINED_GLYPHS_GREY


@pytest.fixture(scope="module")
def grey_script(tmp_path_factory):
    import os
    os.environ.setdefault("CS231N_GLYPHS_CACHE", str(tmp_path_factory.mktemp("glyph-cache")))
    spec = importlib.util.spec_from_file_location("pretrain_glyphs_grey", GREY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def grey_tiny(grey_script):
    """One epoch on 2% of the glyphs (about 400 images): quick, and enough to test the files."""
    return grey_script.pretrain(seed=0, num_epochs=1, scale=0.02)


def test_grey_pretraining_is_deterministic(grey_script, grey_tiny):
    again, info = grey_script.pretrain(seed=0, num_epochs=1, scale=0.02)
    assert hash_arrays(again.state_dict()) == hash_arrays(grey_tiny[0].state_dict())
    assert info == grey_tiny[1]
    other, _ = grey_script.pretrain(seed=1, num_epochs=1, scale=0.02)
    assert hash_arrays(other.state_dict()) != hash_arrays(grey_tiny[0].state_dict())


def test_grey_files_are_byte_identical_loadable_and_self_checking(grey_script, grey_tiny, tmp_path):
    model, info = grey_tiny
    metas = [grey_script.write(model, info, tmp_path / d, seed=0, num_epochs=1) for d in "ab"]
    for suffix in (".npz", ".json"):
        assert (tmp_path / "a" / f"{GREY_NAME}{suffix}").read_bytes() == \
               (tmp_path / "b" / f"{GREY_NAME}{suffix}").read_bytes()
    loaded, prov = transfer.load_pretrained(GREY_NAME, directory=tmp_path / "a")
    assert hash_arrays(loaded.state_dict()) == metas[0]["weights_sha256"]
    assert prov["provenance_sha256"] == transfer.provenance_digest(prov)
    # an edited record (a better accuracy typed in by hand) is refused ...
    meta_path = tmp_path / "a" / f"{GREY_NAME}.json"
    edited = dict(prov, source_test_accuracy=0.99)
    meta_path.write_text(json.dumps(edited))
    with pytest.raises(ValueError, match="edited after it was written"):
        transfer.load_pretrained(GREY_NAME, directory=tmp_path / "a")
    # ... and so is a weights file that no longer matches the record's sha256
    meta_path.write_text(json.dumps(prov))
    weights = model.state_dict()
    weights["conv1.W"] = weights["conv1.W"] + 0.01
    transfer.save_weights(tmp_path / "a" / f"{GREY_NAME}.npz", weights)
    with pytest.raises(ValueError, match="sha256"):
        transfer.load_pretrained(GREY_NAME, directory=tmp_path / "a")


def test_grey_check_mode_and_comparison(grey_script, grey_tiny, tmp_path):
    model, info = grey_tiny
    grey_script.write(model, info, tmp_path, seed=0, num_epochs=1)
    ok, message = grey_script.compare_with_committed(model, tmp_path)
    assert ok and "identical" in message
    model = grey_script.build_source_model(seed=0)
    ok, message = grey_script.compare_with_committed(model, tmp_path)
    assert not ok and "DIFFER" in message


def test_committed_grey_asset_matches_its_provenance_and_the_script(grey_script):
    prov = json.loads((ASSETS_DIR / f"{GREY_NAME}.json").read_text())
    path = ASSETS_DIR / f"{GREY_NAME}.npz"
    assert path.stat().st_size < 2 * 1024 * 1024 and (ASSETS_DIR / f"{GREY_NAME}.json").stat().st_size < 2 * 1024 * 1024
    assert transfer.file_sha256(path) == prov["sha256"]
    assert prov["provenance_sha256"] == transfer.provenance_digest(prov)
    assert hash_arrays(transfer.load_weights(path, prov["sha256"])) == prov["weights_sha256"]
    assert prov["script"] == "scripts/pretrain_glyphs_grey.py" and prov["pattern"] == grey_script.PATTERN
    assert prov["training"]["num_epochs"] == grey_script.NUM_EPOCHS and prov["seed"] == grey_script.SEED
    assert prov["data_scale"] == 1.0 and prov["num_classes"] == 52
    assert prov["source_test_accuracy"] > 5 / 52            # far above chance (1/52)


def test_load_weights_refuses_oversized_and_non_float_files(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    transfer.save_weights(path, {"a": np.arange(3)})        # integers are not weights
    with pytest.raises(ValueError, match="dtype|expected"):
        transfer.load_weights(path)
    transfer.save_weights(path, {"a": np.zeros(10)})
    monkeypatch.setattr(transfer, "MAX_WEIGHTS_BYTES", 100)
    with pytest.raises(ValueError, match="more than"):
        transfer.load_weights(path)
    path.write_bytes(b"not a zip")
    monkeypatch.setattr(transfer, "MAX_WEIGHTS_BYTES", 8 << 20)
    with pytest.raises(ValueError, match="restore it"):
        transfer.load_weights(path)
