"""scripts/degradation.py and scripts/groupnorm_batch.py: a shrunken run writes a file the
notebooks' readers accept, and the committed files match what the scripts describe."""
import importlib.util
import json

import pytest

from cs231n_utils import degradation, groupnorm
from cs231n_utils.paths import REPO_ROOT
from cs231n_utils.results import write_results


def _load(name):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_degradation_script_quick_run_is_readable(tmp_path, monkeypatch):
    script = _load("degradation")
    monkeypatch.setattr(script, "CONFIGS", [{"label": "plain-4", "depth": 4, "residual": False},
                                            {"label": "residual-4", "depth": 4, "residual": True}])
    out = tmp_path / "deg.json"
    assert script.main(["--quick", "--out", str(out)]) == 0
    data = degradation.load_results(out)
    assert data["script"].endswith("--quick") and data["recipe"]["epochs"] == 3
    assert [len(data["runs"][c["label"]]) for c in data["configs"]] == [2, 2]


def test_groupnorm_script_quick_run_is_readable(tmp_path, monkeypatch):
    script = _load("groupnorm_batch")
    monkeypatch.setattr(script, "BATCH_SIZES", (32,))
    out = tmp_path / "gn.json"
    assert script.main(["--quick", "--out", str(out)]) == 0
    data = groupnorm.load_results(out)
    assert {c["label"] for c in data["configs"]} == {"bn-32", "gn-32"}
    assert data["published"]["bn_err_pct"] == script.PUBLISHED["bn_err_pct"]


def test_committed_results_follow_the_scripts_settings():
    deg, gn = _load("degradation"), _load("groupnorm_batch")
    d = degradation.load_results()
    assert d["recipe"]["epochs"] == deg.EPOCHS and d["recipe"]["seeds"] == list(range(deg.NUM_SEEDS))
    assert d["configs"] == deg.CONFIGS and d["script"] == "scripts/degradation.py"
    g = groupnorm.load_results()
    assert g["recipe"]["epochs"] == gn.EPOCHS and len(g["runs"]["bn-2"]) == gn.NUM_SEEDS
    assert g["script"] == "scripts/groupnorm_batch.py"


def test_write_results_checks_before_writing(tmp_path):
    path = tmp_path / "r.json"
    assert write_results(path, {"a": [1, 2]}, lambda d: d) == path.stat().st_size
    assert json.loads(path.read_text()) == {"a": [1, 2]}

    def refuse(d):
        raise ValueError("bad structure")
    with pytest.raises(ValueError, match="bad structure"):
        write_results(path, {"b": 1}, refuse)
    assert json.loads(path.read_text()) == {"a": [1, 2]}            # the old file is untouched
