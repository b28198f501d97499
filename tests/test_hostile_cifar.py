"""Hostile CIFAR-10 batches (issue 13): `load_cifar_batch` on files that try to run code, crash
numpy, expand in memory, or only look like a batch. Every load runs in one child process with
an address-space limit and a per-case alarm (tests/hostile_helpers.py); each refused case must
end in the named error with a message saying what was wrong, and the valid batches (the
Python 2 originals' layout, and Python 3 pickles of protocols 2, 3 and 4) must load exactly.
"""
import hashlib
import pickle
import struct

import numpy as np
import pytest

import cifar_batch_writer as W
from cs231n_utils.cifar import MAX_BATCH_FILE_BYTES, MAX_MEMO
from hostile_helpers import assert_ok, assert_refused, run_table

N = 4
DATA, LABELS = W.random_batch(N, seed=3)
GOOD_DATA = W.array((N, 3072), DATA.tobytes())
GOOD_LABELS = W.lst([W.i(v) for v in LABELS])


def _with(**parts) -> bytes:
    """A protocol-2 batch with 'data' and 'labels' replaced by the given pickled fragments
    (None drops the entry); extra keyword entries are added as they are."""
    entries = {b"data": GOOD_DATA, b"labels": GOOD_LABELS}
    for key, value in parts.items():
        entries[key.encode()] = value
    return W.batch([(k, v) for k, v in entries.items() if v is not None])


def _dtype(code: bytes) -> bytes:
    return W.s(code) + W.i(0) + W.i(1) + b"\x87"


def _state(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


MINUS1 = b"J\xff\xff\xff\xff"
CODE_EXEC = W.s(b"echo pwned > MARKER") + b"\x85R"
GOOD = W.py2_batch(DATA, LABELS)

# name -> (file bytes, error class, message fragments...)
HOSTILE = {
    # code execution: any global but numpy's array rebuilders is refused by name, never imported
    "os_system": (_with(data=W.glob("os", "system") + CODE_EXEC), "UnsafePickleError", "os.system", "refusing"),
    "posix_system_p4": (b"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\x04echo\x85R.", "UnsafePickleError",
                        "posix.system"),
    "builtins_eval": (_with(data=W.glob("builtins", "eval") + CODE_EXEC), "UnsafePickleError", "builtins.eval"),
    "getattr": (_with(data=W.glob("builtins", "getattr")), "UnsafePickleError", "builtins.getattr"),
    "subprocess": (_with(labels=W.glob("subprocess", "Popen")), "UnsafePickleError", "subprocess.Popen"),
    "copyreg": (_with(data=W.glob("copyreg", "_reconstructor")), "UnsafePickleError", "copyreg._reconstructor"),
    "numpy_frombuffer": (_with(data=W.glob("numpy._core.numeric", "_frombuffer")), "UnsafePickleError",
                         "_frombuffer"),
    "numpy_scalar": (_with(data=W.array((N, 3072), DATA.tobytes(), reconstruct=("numpy.core.multiarray", "scalar"))),
                     "UnsafePickleError", "numpy.core.multiarray.scalar"),
    "dtype_global_swapped": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_global=("numpy", "ndarray"))),
                             "CifarFormatError", "REDUCE"),
    "bytes_with_args": (_with(data=W.glob("__builtin__", "bytes") + b"J\x00\x00\x00\x40\x85R"), "CifarFormatError",
                        "bytes(...) with arguments"),
    "codecs_not_latin1": (b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x98\x83X\x06\x00\x00\x00latin1\x86R.",
                          "CifarFormatError", "not latin-1"),
    "codecs_other_codec": (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00utf-16\x86R.",
                           "CifarFormatError", "latin1"),
    "reduce_of_text": (_with(data=W.s(b"x") + b")R"), "CifarFormatError", "REDUCE"),
    "build_on_list": (_with(labels=b"]" + W.s(b"x") + b"b"), "CifarFormatError", "BUILD"),
    "protocol_5": (pickle.dumps({b"data": DATA, b"labels": LABELS}, protocol=5), "CifarFormatError",
                   "protocol 5", "protocol=4"),
    "protocol_0": (pickle.dumps({b"data": 1}, protocol=0), "CifarFormatError", "corrupt or truncated",
                   "protocol 2-4"),
    # dtype tricks: only dtype('u1') with its standard state; the array is built here
    "float_nan_data": (_with(data=W.array((N, 3072), np.full((N, 3072), np.nan).tobytes(), dtype_args=_dtype(b"f8"))),
                       "CifarFormatError", "'f8'", "uint8"),
    "int8_data": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_args=_dtype(b"i1"))), "CifarFormatError",
                  "'i1'", "uint8"),
    "object_dtype": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_args=_dtype(b"O8"))), "CifarFormatError",
                     "'O8'"),
    "void_dtype": (_with(data=W.array((N, 3072), b"", dtype_args=_dtype(b"V0"))), "CifarFormatError", "'V0'"),
    "dtype_float_flag": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_args=W.s(b"u1") + b"G" + struct.pack(">d", 0)
                                            + W.i(1) + b"\x87")), "CifarFormatError", "dtype"),
    "dtype_big_endian": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_state=_state(
        W.i(3), W.s(b">"), b"NNN", MINUS1, MINUS1, W.i(0)))), "CifarFormatError", "unusual state"),
    "dtype_huge_elsize": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_state=_state(
        W.i(3), W.s(b"|"), b"NNN", b"J\xff\xff\xff\x7f", W.i(1), W.i(0)))), "CifarFormatError", "unusual state"),
    "dtype_zero_elsize": (_with(data=W.array((10 ** 6, 3072), b"", dtype_state=_state(
        W.i(3), W.s(b"|"), b"NNN", W.i(0), W.i(1), W.i(0)))), "CifarFormatError", "unusual state"),
    "dtype_fields": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_state=_state(
        W.i(3), W.s(b"|"), b"N", W.s(b"a") + b"\x85", b"N", MINUS1, MINUS1, W.i(16)))), "CifarFormatError",
                     "unusual state"),
    "dtype_subarray": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_state=_state(
        W.i(3), W.s(b"|"), W.s(b"u1") + b"J\x00\x00\x00\x40\x85\x86", b"NN", MINUS1, MINUS1, W.i(0)))),
                       "CifarFormatError", "a tuple holding a tuple"),
    "dtype_metadata_dict": (_with(data=W.array((N, 3072), DATA.tobytes(), dtype_state=_state(
        W.i(4), W.s(b"|"), b"NNN", MINUS1, MINUS1, W.i(0), b"}"))), "CifarFormatError", "dict inside"),
    # sizes that do not add up: the 162-byte "zero stride" and "huge N" expansions
    "zero_bytes_huge_n": (_with(data=W.array((10 ** 6, 3072), b"")), "CifarFormatError", "1 <= N <= 10,000"),
    "short_buffer": (_with(data=W.array((N, 3072), DATA.tobytes()[:100])), "CifarFormatError", "holds 100 bytes"),
    "long_buffer": (_with(data=W.array((1, 3072), DATA.tobytes())), "CifarFormatError", "holds 12,288 bytes"),
    "zero_images": (_with(data=W.array((0, 3072), b""), labels=W.lst([])), "CifarFormatError", "1 <= N"),
    "shape_3d": (_with(data=W.array((N, 3, 1024), DATA.tobytes())), "CifarFormatError", "expected (N, 3072)"),
    "shape_1d": (_with(data=W.array((N * 3072,), DATA.tobytes())), "CifarFormatError", "expected (N, 3072)"),
    "shape_wide": (_with(data=W.array((N, 6144), DATA.tobytes() * 2)), "CifarFormatError", "expected (N, 3072)"),
    "shape_negative": (_with(data=W.array((-N, 3072), DATA.tobytes())),
                       "CifarFormatError", "1 <= N"),
    "fortran_order": (_with(data=W.array((N, 3072), DATA.tobytes(), fortran=b"\x88")), "CifarFormatError", "Fortran"),
    "array_version_2": (_with(data=W.array((N, 3072), DATA.tobytes(), version=2)), "CifarFormatError", "array state"),
    "two_arrays": (_with(labels=W.array((N, 1), DATA.tobytes()[:N])), "CifarFormatError", "more than one array"),
    "labels_too_many": (_with(labels=W.lst([W.i(1)] * 10_001)), "CifarFormatError", "more than 10,000"),
    # labels: N whole numbers 0..9 in a list
    "labels_2d_list": (_with(labels=b"]" + b"(" + b"]" + W.i(1) + b"a" + b"e"), "CifarFormatError", "a list holding a list"),
    "labels_2d_many_lists": (_with(labels=W.lst([b"]" + W.i(v) + b"a" for v in LABELS])), "CifarFormatError",
                             "more than 2 lists"),
    "labels_float": (_with(labels=W.lst([b"G" + struct.pack(">d", v + 0.5) for v in LABELS])), "CifarFormatError",
                     "whole numbers", "float"),
    "labels_bool": (_with(labels=W.lst([b"\x88"] * N)), "CifarFormatError", "a list holding a bool"),
    "labels_text": (_with(labels=W.lst([W.s(b"3")] * N)), "CifarFormatError", "whole numbers", "bytes"),
    "labels_out_of_range": (_with(labels=W.lst([W.i(v) for v in (0, 12, 1, 2)])), "CifarFormatError", "0..9", "0..12"),
    "labels_negative": (_with(labels=W.lst([W.i(0), MINUS1, W.i(1), W.i(2)])), "CifarFormatError", "0..9", "-1..2"),
    "labels_count": (_with(labels=W.lst([W.i(1)] * (N - 1))), "CifarFormatError", "labels (3,)"),
    "labels_huge_int": (_with(labels=W.lst([b"\x8a\x08" + b"\x01" * 8] * N)), "CifarFormatError", "0..9"),
    "long1_too_long": (_with(labels=W.lst([b"\x8a\xff" + b"\x01" * 255])), "CifarFormatError", "integer of 255 bytes"),
    "data_is_list": (_with(data=W.lst([W.i(1)] * 5)), "CifarFormatError", "'data' must be a uint8 array"),
    # the dict: exactly data, labels, batch_label, filenames
    "not_a_dict": (pickle.dumps([1, 2, 3], protocol=2), "CifarFormatError", "expected a dict"),
    "extra_key": (_with(evil=W.s(b"x")), "CifarFormatError", "unexpected key 'evil'"),
    "missing_labels": (_with(labels=None), "CifarFormatError", "no 'data'/'labels'"),
    "duplicate_key": (W.batch([(b"data", GOOD_DATA), (b"labels", GOOD_LABELS), (b"labels", W.lst([W.i(0)] * N))]),
                      "CifarFormatError", "appears twice"),
    "int_key": (W.head() + W.i(5) + W.s(b"x") + b"u.", "CifarFormatError", "dict key"),
    "nested_dict": (_with(batch_label=b"}"), "CifarFormatError", "dict inside"),
    "second_dict_after": (GOOD[:-1] + b"}.", "CifarFormatError", "dict inside"),
    "filenames_wrong_count": (_with(filenames=W.lst([W.s(b"a.png")])), "CifarFormatError", "'filenames' must be"),
    "filenames_numbers": (_with(filenames=W.lst([W.i(1)] * N)), "CifarFormatError", "file name"),
    "batch_label_huge": (_with(batch_label=W.s(b"x" * 100_000)), "CifarFormatError", "at most 4096 characters"),
    # memo reuse: shared objects are refused; a shared buffer is never decoded 10,000 times
    "memo_reuse_list": (_with(labels=b"]q\xc8" + b"(" + b"".join(W.i(v) for v in LABELS) + b"e",
                              filenames=b"h\xc8"), "CifarFormatError", "second reference", "list"),
    "memo_reuse_array": (_with(data=GOOD_DATA + b"q\xc9", batch_label=b"h\xc9"), "CifarFormatError",
                         "second reference", "array"),
    "memo_reuse_buffer": (_with(data=W.array((N, 3072), DATA.tobytes(), raw_put=b"q\xca"),
                                filenames=W.lst([b"h\xca"] * N)), "CifarFormatError", "at most 4096 characters",
                          "12,288"),
    "memo_get_unset": (_with(labels=b"h\x63"), "CifarFormatError", "never stored"),
    "memo_flood": (b"\x80\x02N" + b"".join(b"r" + struct.pack("<I", k) for k in range(MAX_MEMO + 1)),
                   "CifarFormatError", "remembered objects"),
    # deep nesting and floods
    "marks_100k": (b"\x80\x02" + b"(" * 100_000, "CifarFormatError", "nested levels"),
    "lists_100k": (b"\x80\x02" + b"]" * 100_000, "CifarFormatError", "more than 2 lists"),
    "tuples_1000": (b"\x80\x02K\x01" + b"\x85" * 1000, "CifarFormatError", "a tuple holding a tuple"),
    "stack_flood": (b"\x80\x02" + b"N" * 5000, "CifarFormatError", "items on the pickle stack"),
    "big_tuple": (b"\x80\x02(" + b"N" * 20 + b"t.", "CifarFormatError", "a tuple of 20 items"),
    # damaged files
    "empty": (b"", "CifarFormatError", "corrupt or truncated"),
    "garbage": (b"this is not a pickle at all", "CifarFormatError", "corrupt or truncated"),
    "truncated_in_data": (GOOD[:len(GOOD) // 2], "CifarFormatError", "corrupt or truncated"),
    "truncated_no_stop": (GOOD[:-1], "CifarFormatError", "corrupt or truncated", "STOP"),
    "trailing_bytes": (GOOD + b"junk", "CifarFormatError", "4 bytes after the end"),
    "binbytes8_huge_len": (b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"xx.", "CifarFormatError",
                           "corrupt or truncated"),
    "binstring_negative_len": (b"\x80\x02T\xff\xff\xff\xffxx.", "CifarFormatError", "corrupt or truncated"),
    "global_without_newline": (b"\x80\x02c" + b"a" * 100_000, "CifarFormatError", "longer than 64"),
    "global_non_ascii": (b"\x80\x02c\xff\xfe\nx\n.", "CifarFormatError", "non-ASCII"),
    "bad_utf8": (b"\x80\x02X\x02\x00\x00\x00\xff\xfe.", "CifarFormatError", "UTF-8"),
    "pop_empty_stack": (b"\x80\x02\x85.", "CifarFormatError", "malformed"),
    "setitems_odd": (W.head() + W.s(b"data") + b"u.", "CifarFormatError", "odd number"),
    "unknown_opcode": (b"\x80\x02P.", "CifarFormatError", "opcode b'P'"),
}


def _sparse(path, size):
    with open(path, "wb") as fh:
        fh.truncate(size)


SETUP = """
import hashlib, pathlib
import numpy as np
from cs231n_utils.data import load_cifar_batch
F = pathlib.Path({folder!r})

def load(name):
    X, y = load_cifar_batch(F / name, dtype=np.uint8)
    assert y.dtype == np.int64
    return X.shape, hashlib.sha256(X.tobytes()).hexdigest(), hashlib.sha256(y.tobytes()).hexdigest()
"""


def _expect(data, labels):
    data = np.asarray(data, np.uint8)
    return repr((tuple(data.reshape(-1, 3, 32, 32).shape), hashlib.sha256(data.tobytes()).hexdigest(),
                 hashlib.sha256(np.asarray(labels, np.int64).tobytes()).hexdigest()))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_cifar")
    for name, (content, *_) in HOSTILE.items():
        (folder / name).write_bytes(content.replace(b"MARKER", str(folder / "marker").encode()))
    _sparse(folder / "oversized", MAX_BATCH_FILE_BYTES + 1)
    big_data, big_labels = W.random_batch(10_000, seed=7)
    valid = {"py2_original_layout": (W.py2_batch(DATA, LABELS), DATA, LABELS),
             "py2_full_10000": (W.py2_batch(big_data, big_labels), big_data, big_labels)}
    for protocol in (2, 3, 4):
        for kind, key in (("bytes", str.encode), ("str", str)):
            batch = {key("data"): DATA, key("labels"): LABELS}
            valid[f"py3_protocol_{protocol}_{kind}_keys"] = (pickle.dumps(batch, protocol=protocol), DATA, LABELS)
    valid["py3_protocol_4_full_10000"] = (pickle.dumps({b"data": big_data, b"labels": big_labels,
                                                        b"batch_label": b"x", b"filenames": [b"f.png"] * 10_000},
                                                       protocol=4), big_data, big_labels)
    expected = {}
    for name, (content, data, labels) in valid.items():
        (folder / name).write_bytes(content)
        expected[name] = _expect(data, labels)
    refused = {name: (f"load({name!r})",) for name in HOSTILE}
    refused["oversized"] = ("load('oversized')",)
    accepted = {name: f"result = load({name!r})" for name in valid}
    results = run_table(SETUP.format(folder=str(folder)), refused, accepted)
    return results, expected, folder


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_batch_is_refused_with_a_clear_message(outcome, name):
    results, _, folder = outcome
    _, error, *fragments = HOSTILE[name]
    result = results[name]
    assert_refused(result, error, *fragments)
    assert "CifarFormatError" in result["mro"] and "ValueError" in result["mro"]
    assert name in result["message"], result["message"]      # the message names the file
    assert result["returncode"] == 0 and result["seconds"] < 5
    assert not (folder / "marker").exists()          # nothing from the files ever ran


def test_oversized_file_is_refused_before_reading(outcome):
    results, _, _ = outcome
    assert_refused(results["oversized"], "CifarFormatError", "MAX_BATCH_FILE_BYTES",
                   f"{MAX_BATCH_FILE_BYTES + 1:,} bytes")


@pytest.mark.parametrize("name", ["py2_original_layout", "py2_full_10000", "py3_protocol_4_full_10000"]
                         + [f"py3_protocol_{p}_{k}_keys" for p in (2, 3, 4) for k in ("bytes", "str")])
def test_valid_batches_load_exactly_within_the_limits(outcome, name):
    results, expected, _ = outcome
    assert_ok(results[name])
    assert results[name]["result"] == expected[name]
    assert results[name]["returncode"] == 0


def test_case_count():
    # the closing note of issue 13 quotes these counts
    assert len(HOSTILE) + 1 >= 80
