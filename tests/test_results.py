"""Result files written by scripts/: read with a size limit, JSON only, structure checked."""
import json

import pytest

from cs231n_utils.results import check_runs, read_results


def test_read_results_limits_and_messages(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"a": 1}), encoding="utf-8")
    assert read_results(path) == {"a": 1}
    with pytest.raises(ValueError, match="bytes; a results file is expected to be under 5 .re-run my_script"):
        read_results(path, script="my_script", max_bytes=5)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_results(path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="expected structure"):
        read_results(path, check=lambda d: d["configs"])
    with pytest.raises(FileNotFoundError, match="assets"):
        read_results("no_such_results.json")


def test_check_runs_accepts_good_and_names_what_is_wrong():
    good = {"configs": [{"label": "a"}], "runs": {"a": [{"err": [0.1, 0.2]}]}}
    assert check_runs(good, ("err",), 2, ("err",)) is good
    for bad, match in [({"configs": {}}, "'configs' \\(list\\)"),
                       ({"configs": [{"label": "b"}], "runs": {}}, "has no runs"),
                       ({"configs": [{"label": "a"}], "runs": {"a": []}}, "1..100 runs"),
                       ({"configs": [{"label": "a"}], "runs": {"a": [{"err": [0.1, True]}]}}, "finite numbers"),
                       ({"configs": [{"label": "a"}], "runs": {"a": [{"err": [0.1, float("nan")]}]}}, "finite"),
                       ({"configs": [{"label": "a"}], "runs": {"a": [{"err": [0.1, 1.5]}]}}, r"\[0, 1\]")]:
        with pytest.raises(ValueError, match=match):
            check_runs(bad, ("err",), 2, ("err",))
