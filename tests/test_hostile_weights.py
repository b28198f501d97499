"""Hostile provenance files of pretrained weights (issue 13): `read_provenance` on edited,
oversized, deeply nested, malformed and mistyped JSON. Each read runs in one child process with
an address-space limit and an alarm (tests/hostile_helpers.py) and must end in ProvenanceError
(or FileNotFoundError) naming the file and what is wrong; never a MemoryError, RecursionError,
KeyError or TypeError. The committed provenance file must read cleanly, with its pinned sha256.
"""
import json
import os

import pytest

from cs231n_utils.paths import ASSETS_DIR
from cs231n_utils.provenance import (MAX_PROVENANCE_BYTES, ProvenanceError, provenance_sha256,
                                     read_provenance)
from hostile_helpers import assert_ok, assert_refused, run_table

NAME = "pretrained_digits_source"
COMMITTED = ASSETS_DIR / f"{NAME}.json"
GOOD_TEXT = COMMITTED.read_text(encoding="utf-8")
GOOD = json.loads(GOOD_TEXT)


def _edit(**changes) -> str:
    meta = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            meta.pop(key)
        else:
            meta[key] = value
    return json.dumps(meta, indent=2)


# name -> (file text or bytes, read_provenance keyword text, error, fragments...)
HOSTILE = {
    "tampered_pattern": (GOOD_TEXT.replace("FC-64", "FC-65"), "expected_sha256=PIN", "ProvenanceError",
                         "changed or corrupted", "git checkout assets/"),
    "tampered_npz_hash": (GOOD_TEXT.replace(GOOD["sha256"], "0" * 64), "expected_sha256=PIN", "ProvenanceError",
                          "changed or corrupted"),
    "one_byte_appended": (GOOD_TEXT + " ", "expected_sha256=PIN", "ProvenanceError", "changed or corrupted"),
    "deep_lists": ("[" * 30_000 + "]" * 30_000, "", "ProvenanceError", "nests 30000 levels"),
    "deep_objects": ('{"a":' * 5000 + "1" + "}" * 5000, "", "ProvenanceError", "nests 5000 levels"),
    "deep_in_field": (_edit(training=json.loads("[" * 9 + "]" * 9)), "", "ProvenanceError", "MAX_DEPTH"),
    "truncated": (GOOD_TEXT[:len(GOOD_TEXT) // 2], "", "ProvenanceError", "not valid JSON"),
    "empty": ("", "", "ProvenanceError", "not valid JSON"),
    "not_utf8": (b'{"file": "\xff\xfe"}', "", "ProvenanceError", "not UTF-8"),
    "top_level_list": ("[1, 2, 3]", "", "ProvenanceError", "JSON object, not list"),
    "top_level_string": ('"hello"', "", "ProvenanceError", "JSON object, not str"),
    "nan": (GOOD_TEXT.replace('"seed": 0', '"seed": NaN'), "", "ProvenanceError", "NaN"),
    "infinity": (GOOD_TEXT.replace('"seed": 0', '"seed": -Infinity'), "", "ProvenanceError", "-Infinity"),
    "huge_float": (GOOD_TEXT.replace('"seed": 0', '"seed": 1e999'), "", "ProvenanceError", "not finite"),
    "huge_int": (GOOD_TEXT.replace('"seed": 0', '"seed": ' + "9" * 4000), "", "ProvenanceError",
                 "integer of 4000 digits"),
    "duplicate_key": (GOOD_TEXT.replace('"seed": 0', '"seed": 0, "seed": 1'), "", "ProvenanceError",
                      "'seed' appears twice"),
    "many_values": (_edit(extra=[0] * 5000), "", "ProvenanceError", "more than 2,000 values"),
    "long_string": (_edit(extra="x" * 5000), "", "ProvenanceError", "string of 5,000 characters"),
    "long_key": (_edit(**{"k" * 3000: 1}), "", "ProvenanceError", "string of 3,000 characters"),
    "missing_sha256": (_edit(sha256=...), "", "ProvenanceError", "'sha256' is missing"),
    "missing_pattern": (_edit(pattern=...), "", "ProvenanceError", "'pattern' is missing"),
    "missing_input_shape": (_edit(input_shape=...), "", "ProvenanceError", "'input_shape' is missing"),
    "missing_file": (_edit(file=...), "", "ProvenanceError", "'file' is missing"),
    "sha256_number": (_edit(sha256=12345), "", "ProvenanceError", "64 lowercase hex"),
    "sha256_short": (_edit(sha256="abc"), "", "ProvenanceError", "64 lowercase hex"),
    "sha256_upper": (_edit(sha256=GOOD["sha256"].upper()), "", "ProvenanceError", "64 lowercase hex"),
    "pattern_number": (_edit(pattern=7), "", "ProvenanceError", "'pattern' must be"),
    "pattern_empty": (_edit(pattern="  "), "", "ProvenanceError", "'pattern' must be"),
    "shape_string": (_edit(input_shape="1x8x8"), "", "ProvenanceError", "3 positive integers"),
    "shape_two": (_edit(input_shape=[8, 8]), "", "ProvenanceError", "3 positive integers"),
    "shape_negative": (_edit(input_shape=[1, -8, 8]), "", "ProvenanceError", "3 positive integers"),
    "shape_float": (_edit(input_shape=[1, 8.0, 8]), "", "ProvenanceError", "3 positive integers"),
    "shape_bool": (_edit(input_shape=[True, 8, 8]), "", "ProvenanceError", "3 positive integers"),
    "shape_huge": (_edit(input_shape=[3, 100_000, 100_000]), "", "ProvenanceError", "MAX_INPUT_VALUES"),
    "file_traversal": (_edit(file="../../etc/passwd.npz"), "", "ProvenanceError", "plain name"),
    "file_hidden": (_edit(file=".x.npz"), "", "ProvenanceError", "plain name"),
    "file_not_npz": (_edit(file="weights.pkl"), "", "ProvenanceError", "plain name"),
    "file_other_weights": (_edit(file="other.npz"), f"weights_name={NAME + '.npz'!r}", "ProvenanceError",
                           "'file' names 'other.npz'"),
    "weights_sha_wrong": (_edit(weights_sha256="nope"), "", "ProvenanceError", "'weights_sha256' must be"),
    "accuracy_out_of_range": (_edit(source_test_accuracy=97.8), "", "ProvenanceError", "in [0, 1]"),
    "classes_strings": (_edit(source_classes=["0", "1"]), "", "ProvenanceError", "list of integers"),
    "training_list": (_edit(training=[1]), "", "ProvenanceError", "'training' must be an object"),
    "seed_float": (_edit(seed=0.5), "", "ProvenanceError", "'seed' must be an integer"),
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_weights")
    for name, (content, *_) in HOSTILE.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / f"{name}.json").write_bytes(data)
    with open(folder / "oversized.json", "wb") as fh:          # sparse: 1 GiB, no disk used
        fh.truncate(1 << 30)
    (folder / "a_folder.json").mkdir()
    os.symlink("/dev/zero", folder / "dev_zero.json")
    os.mkfifo(folder / "fifo.json")
    (folder / "good.json").write_text(GOOD_TEXT, encoding="utf-8")
    setup = (f"import pathlib\nfrom cs231n_utils.provenance import read_provenance\n"
             f"F = pathlib.Path({str(folder)!r})\nPIN = {provenance_sha256(COMMITTED)!r}\n")
    refused = {name: (f"read_provenance(F / {name + '.json'!r}, {kw})",) for name, (_, kw, *_) in HOSTILE.items()}
    for name in ("oversized", "a_folder", "dev_zero", "fifo"):
        refused[name] = (f"read_provenance(F / {name + '.json'!r})",)
    accepted = {"committed_with_pin": "result = sorted(read_provenance(F / 'good.json', expected_sha256=PIN, "
                                      f"weights_name={NAME + '.npz'!r}))",
                "committed_without_pin": "result = read_provenance(F / 'good.json')['pattern']"}
    return run_table(setup, refused, accepted), folder


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_provenance_is_refused_with_a_clear_message(outcome, name):
    results, _ = outcome
    _, _, error, *fragments = HOSTILE[name]
    result = results[name]
    assert_refused(result, error, *fragments)
    assert "ValueError" in result["mro"] and f"{name}.json" in result["message"]
    assert "restore it" in result["message"] or "changed or corrupted" in result["message"]
    assert result["returncode"] == 0 and result["seconds"] < 5


@pytest.mark.parametrize("name, error, fragment", [
    ("oversized", "ProvenanceError", "1,073,741,824 bytes"),
    ("a_folder", "FileNotFoundError", "not a regular file"),
    ("dev_zero", "FileNotFoundError", "not a regular file"),
    ("fifo", "FileNotFoundError", "not a regular file"),
])
def test_files_that_are_not_small_regular_files(outcome, name, error, fragment):
    results, _ = outcome
    assert_refused(results[name], error, fragment)
    assert results[name]["seconds"] < 5


def test_the_committed_provenance_reads_cleanly(outcome):
    results, _ = outcome
    assert_ok(results["committed_with_pin"])
    assert "'input_shape'" in results["committed_with_pin"]["result"]
    assert results["committed_without_pin"]["result"] == repr(GOOD["pattern"])


def test_in_process_api(tmp_path):
    meta = read_provenance(COMMITTED, expected_sha256=provenance_sha256(COMMITTED), weights_name=f"{NAME}.npz")
    assert meta == GOOD
    with pytest.raises(FileNotFoundError, match="not found"):
        read_provenance(tmp_path / "missing.json")
    path = tmp_path / "p.json"
    path.write_text(GOOD_TEXT)
    with pytest.raises(ProvenanceError, match="MAX_PROVENANCE_BYTES"):
        read_provenance(path, max_bytes=100)
    with pytest.raises(ProvenanceError, match="changed or corrupted"):
        read_provenance(path, expected_sha256="0" * 64)
    assert isinstance(ProvenanceError("x"), ValueError) and MAX_PROVENANCE_BYTES >= 10 * len(GOOD_TEXT)
