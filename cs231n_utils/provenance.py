"""The provenance file of pretrained weights (`assets/<name>.json`), read with limits.

A weights file `assets/<name>.npz` comes with `assets/<name>.json`: which script made it, the
pattern and input shape to rebuild the model, and the npz's sha256. The npz is checked against
that sha256, so the JSON is what vouches for the weights; `read_provenance` checks the JSON
itself before anything trusts it:

- its size (at most MAX_PROVENANCE_BYTES, checked before reading) and, when the caller pins
  one, its own sha256 (`expected_sha256`): an edited or corrupted JSON is refused;
- UTF-8 JSON with no NaN/Infinity, no duplicate keys, nesting at most MAX_DEPTH (counted
  before parsing, so no RecursionError), at most MAX_VALUES values, strings of at most
  MAX_STRING characters, integers of at most 30 digits;
- the fields: "file" (the npz's plain name), "sha256" (64 hex digits), "pattern" (text),
  "input_shape" (3 positive ints, at most MAX_INPUT_VALUES values in all); the optional fields
  the scripts write have their types checked; other fields are kept, within the limits above.

Every problem raises ProvenanceError (a ValueError) naming the file, what is wrong and how to
restore it. Typical use (in `transfer.load_pretrained`):

    meta = read_provenance(directory / f"{name}.json", expected_sha256=PINNED[name],
                           weights_name=f"{name}.npz")
    weights = load_weights(directory / f"{name}.npz", expected_sha256=meta["sha256"])
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

__all__ = ["read_provenance", "provenance_sha256", "ProvenanceError", "MAX_PROVENANCE_BYTES",
           "MAX_DEPTH", "MAX_VALUES", "MAX_STRING", "MAX_INPUT_VALUES"]

MAX_PROVENANCE_BYTES = 64 * 1024     # the committed files are about 1.3 KB
MAX_DEPTH = 8                        # nesting of objects/lists; the scripts write 2
MAX_VALUES = 2000                    # values in the whole file; the scripts write about 50
MAX_STRING = 2000                    # characters per string (keys included)
MAX_INPUT_VALUES = 1 << 22           # C*H*W of "input_shape"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RESTORE = "restore it (`git checkout assets/`) or rerun the script named in it"


class ProvenanceError(ValueError):
    """A provenance JSON is too large, malformed, tampered with, or lacks an expected field."""


def provenance_sha256(path) -> str:
    """sha256 (hex) of a provenance file's bytes (the value to pin in the code that loads it).
    Refuses a file over MAX_PROVENANCE_BYTES like `read_provenance`."""
    return hashlib.sha256(_read_capped(Path(path), MAX_PROVENANCE_BYTES)).hexdigest()


def _read_capped(path: Path, max_bytes: int) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"provenance file {path} not found (or not a regular file); {_RESTORE}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ProvenanceError(f"{path.name} is {size:,} bytes; a provenance file is at most {max_bytes:,} "
                              f"(MAX_PROVENANCE_BYTES). It is not the file the workbook wrote: {_RESTORE}")
    with open(path, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ProvenanceError(f"{path.name} grew past {max_bytes:,} bytes while being read; {_RESTORE}")
    return raw


def _nesting(text: str) -> int:
    """Deepest [ / { nesting of a JSON text, ignoring brackets inside strings (no parsing)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _parse(text: str, name: str):
    def fail(what: str) -> ProvenanceError:
        return ProvenanceError(f"{name} is not a valid provenance file: {what}; {_RESTORE}")

    def no_constant(token):
        raise fail(f"it contains {token}, which is not a number")

    def small_int(digits: str) -> int:
        if len(digits.lstrip("-")) > 30:
            raise fail(f"it contains an integer of {len(digits)} digits")
        return int(digits)

    def finite(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise fail(f"it contains the number {token}, which is not finite")
        return value

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise fail(f"the key {dup[:40]!r} appears twice")
        return dict(pairs)

    depth = _nesting(text)
    if depth > MAX_DEPTH:
        raise fail(f"it nests {depth} levels deep (at most {MAX_DEPTH}, MAX_DEPTH)")
    try:
        data = json.loads(text, parse_constant=no_constant, parse_int=small_int, parse_float=finite,
                          object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON ({exc})") from None
    count, todo = 0, [data]
    while todo:
        value = todo.pop()
        count += 1
        if count > MAX_VALUES:
            raise fail(f"more than {MAX_VALUES:,} values (MAX_VALUES)")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise fail(f"a string of {len(value):,} characters (at most {MAX_STRING:,}, MAX_STRING)")
        if isinstance(value, dict):
            todo.extend(value.keys())
            todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)
    return data


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# optional fields the scripts write: name -> (check, what it should be)
_OPTIONAL = {
    "weights_sha256": (lambda v: isinstance(v, str) and bool(_HEX64.fullmatch(v)), "64 lowercase hex digits"),
    "seed": (_is_int, "an integer"),
    "num_params": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "num_train": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "num_val": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "num_test": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "best_epoch": (_is_int, "an integer"),
    "source_classes": (lambda v: isinstance(v, list) and all(_is_int(x) for x in v), "a list of integers"),
    "target_classes_never_seen": (lambda v: isinstance(v, list) and all(_is_int(x) for x in v),
                                  "a list of integers"),
    "source_val_accuracy": (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "source_test_accuracy": (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "training": (lambda v: isinstance(v, dict), "an object"),
    **{k: (lambda v: isinstance(v, str), "a string")
       for k in ("script", "command", "source_task", "data", "numpy_version")},
}


def _check_fields(meta, name: str, weights_name: str | None) -> dict:
    def fail(what: str) -> ProvenanceError:
        return ProvenanceError(f"{name}: {what}; {_RESTORE}")

    if not isinstance(meta, dict):
        raise fail(f"the file must hold a JSON object, not {type(meta).__name__}")
    for key in ("file", "sha256", "pattern", "input_shape"):
        if key not in meta:
            raise fail(f"the field {key!r} is missing (expected file, sha256, pattern, input_shape)")
    file = meta["file"]
    if not isinstance(file, str) or not file.endswith(".npz") or "/" in file or "\\" in file or \
            file.startswith("."):
        raise fail(f"'file' must be the plain name of a .npz next to it, got {str(file)[:60]!r}")
    if weights_name is not None and file != weights_name:
        raise fail(f"'file' names {file!r} but this is the provenance of {weights_name!r}")
    if not isinstance(meta["sha256"], str) or not _HEX64.fullmatch(meta["sha256"]):
        raise fail(f"'sha256' must be 64 lowercase hex digits, got {str(meta['sha256'])[:70]!r}")
    if not isinstance(meta["pattern"], str) or not meta["pattern"].strip():
        raise fail("'pattern' must be a non-empty string such as \"INPUT -> CONV3-16 -> RELU -> FC-10\"")
    shape = meta["input_shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(d) and d >= 1 for d in shape)):
        raise fail(f"'input_shape' must be 3 positive integers [C, H, W], got {str(shape)[:60]}")
    if math.prod(shape) > MAX_INPUT_VALUES:
        raise fail(f"'input_shape' {shape} has {math.prod(shape):,} values per image, more than "
                   f"{MAX_INPUT_VALUES:,} (MAX_INPUT_VALUES)")
    for key, (check, what) in _OPTIONAL.items():
        if key in meta and not check(meta[key]):
            raise fail(f"{key!r} must be {what}, got {str(meta[key])[:60]}")
    return meta


def read_provenance(path, expected_sha256: str | None = None, *, weights_name: str | None = None,
                    max_bytes: int = MAX_PROVENANCE_BYTES) -> dict:
    """Read and check a provenance JSON; returns it as a dict.

    path: the `.json` file. expected_sha256: the file's sha256 (hex) as pinned by the code that
    loads it; None skips that check (the structure is still checked). weights_name: the npz
    name its "file" field must equal. Raises FileNotFoundError (missing, or not a regular
    file) or ProvenanceError (too large, edited, malformed, wrong fields), each message naming
    the file and how to restore it. Reads at most `max_bytes` + 1 bytes.
    """
    path = Path(path)
    raw = _read_capped(path, max_bytes)
    if expected_sha256 is not None:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise ProvenanceError(f"{path.name} has sha256 {actual[:16]}..., but the workbook expects "
                                  f"{expected_sha256[:16]}...; the file was changed or corrupted: {_RESTORE}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProvenanceError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                              f"{_RESTORE}") from None
    return _check_fields(_parse(text, path.name), path.name, weights_name)
