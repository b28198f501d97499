"""CIFAR-10: read the "python version" batch files without unpickling them.

The CIFAR-10 batches (data_batch_1..5, test_batch in cifar-10-batches-py/) are Python pickles.
Unpickling runs whatever the file asks for, and even numpy's own array and dtype rebuilders
trust their arguments (a crafted dtype can crash the kernel or expand 162 bytes into
gigabytes). So this module never calls `pickle.load`: `parse_cifar_batch` reads the pickle's
opcodes itself and accepts exactly the published layout, a dict with

    b"data"         uint8 array of shape (N, 3072), N <= MAX_IMAGES_PER_BATCH (10,000);
                    each row is 1024 red, 1024 green, 1024 blue values, row by row
    b"labels"       list of N ints in 0..9
    b"batch_label"  (optional) a short bytes/str
    b"filenames"    (optional) list of N bytes/str

The array must be pickled the way numpy does it (`_reconstruct(ndarray, (0,), b"b")`, then
its state: version 1, the shape, `dtype("u1")` with its standard state, C order, raw bytes);
the pickled globals are only *recognised* by name, never imported or called: the array is
built here with `np.frombuffer(raw, np.uint8).reshape(N, 3072)`. Anything else (another
global, another dtype, a float, a nested list, shared objects, extra keys, a file over
MAX_BATCH_FILE_BYTES, more than MAX_STACK items on the pickle stack) is refused with
`CifarFormatError` (a ValueError) before more than a few times the file's size is allocated;
a forbidden global (os.system, eval, ...) raises its subclass `UnsafePickleError`.

Files written by Python 2 (the originals, protocol 2) and by Python 3 with protocol 2, 3 or 4
load; protocol 5 does not (re-save with `pickle.dump(batch, f, protocol=4)`).

`load_cifar10(path)` loads the whole set; `python3 workbook.py data cifar10` downloads it.
"""
from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np

__all__ = ["CIFAR10_CLASSES", "CifarFormatError", "UnsafePickleError", "parse_cifar_batch",
           "load_cifar_batch", "load_cifar10", "default_cifar10_dir", "MAX_IMAGES_PER_BATCH",
           "MAX_BATCH_FILE_BYTES", "MAX_STACK", "MAX_MARKS", "IMAGE_VALUES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

IMAGE_VALUES = 3 * 32 * 32           # 3072 values per image (one row of b"data")
MAX_IMAGES_PER_BATCH = 10_000        # the published batches hold exactly 10,000 images
# 10,000 images as Python-3 protocol-2 text (every byte >= 128 costs 2 bytes) plus names:
MAX_BATCH_FILE_BYTES = 2 * MAX_IMAGES_PER_BATCH * IMAGE_VALUES + (4 << 20)
MAX_STACK = 1100                     # pickle stack items (pickle appends lists 1,000 at a time)
MAX_MARKS = 8                        # nesting (MARKs open at once); a real batch needs 3
MAX_LISTS = 2                        # labels and filenames
MAX_TUPLE = 9                        # longest tuple in a real batch: the dtype state (8 items)
MAX_TEXT = 4096                      # longest batch_label / file name / key
MAX_MEMO = 4 * MAX_IMAGES_PER_BATCH + 256
_KEYS = ("data", "labels", "batch_label", "filenames")
_HOW_TO_FIX = "download the CIFAR-10 python version again (`python3 workbook.py data cifar10`)"


class CifarFormatError(ValueError):
    """A file is not a CIFAR-10 python batch in the published layout (nothing from it was run)."""


class UnsafePickleError(CifarFormatError, pickle.UnpicklingError):
    """The pickle names a Python object (os.system, eval, ...) that a CIFAR-10 batch never uses."""


# --------------------------------------------------------------------------------------------
# The values a batch pickle may build (tags for what the parser recognised)
# --------------------------------------------------------------------------------------------

class _Global:
    __slots__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = kind             # "reconstruct", "ndarray", "dtype", "encode", "bytes"


class _Pending:
    """`_reconstruct(...)` or `dtype(...)` seen; waits for its BUILD state."""
    __slots__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = kind             # "array" or "dtype"


class _U1:
    """dtype('u1') with the standard state."""
    __slots__ = ()


_U1_TOKEN = _U1()
_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",          # Python 3, protocol 2: bytes as latin-1 text
    ("__builtin__", "bytes"): "bytes",        # Python 3, protocol 2: b"" as bytes()
    ("builtins", "bytes"): "bytes",
}
_SCALARS = (int, float, bytes, str, type(None), bool)
_DTYPE_STATES = ((3, "|", None, None, None, -1, -1, 0), (4, "|", None, None, None, -1, -1, 0, None))

# opcode byte -> (name, argument format): "" none, "B"/"<H"/"<i"/"<I"/"<Q" a number,
# "len1"/"len4"/"len8" a length-prefixed byte string, "line2" two text lines (GLOBAL)
_OPS = {
    0x80: ("PROTO", "B"), 0x95: ("FRAME", "<Q"), ord("."): ("STOP", ""),
    ord("}"): ("EMPTY_DICT", ""), ord("]"): ("EMPTY_LIST", ""), ord(")"): ("EMPTY_TUPLE", ""),
    ord("("): ("MARK", ""), ord("s"): ("SETITEM", ""), ord("u"): ("SETITEMS", ""),
    ord("a"): ("APPEND", ""), ord("e"): ("APPENDS", ""), ord("t"): ("TUPLE", ""),
    0x85: ("TUPLE1", ""), 0x86: ("TUPLE2", ""), 0x87: ("TUPLE3", ""),
    ord("K"): ("BININT1", "B"), ord("M"): ("BININT2", "<H"), ord("J"): ("BININT", "<i"),
    0x8A: ("LONG1", "len1"), ord("G"): ("BINFLOAT", ">d"),
    ord("N"): ("NONE", ""), 0x88: ("NEWTRUE", ""), 0x89: ("NEWFALSE", ""),
    ord("U"): ("SHORT_BINSTRING", "len1"), ord("T"): ("BINSTRING", "len4"),
    ord("C"): ("SHORT_BINBYTES", "len1"), ord("B"): ("BINBYTES", "len4"), 0x8E: ("BINBYTES8", "len8"),
    0x8C: ("SHORT_BINUNICODE", "len1"), ord("X"): ("BINUNICODE", "len4"), 0x8D: ("BINUNICODE8", "len8"),
    ord("c"): ("GLOBAL", "line2"), 0x93: ("STACK_GLOBAL", ""),
    ord("R"): ("REDUCE", ""), ord("b"): ("BUILD", ""),
    ord("q"): ("BINPUT", "B"), ord("r"): ("LONG_BINPUT", "<I"), 0x94: ("MEMOIZE", ""),
    ord("h"): ("BINGET", "B"), ord("j"): ("LONG_BINGET", "<I"),
}


def _int_in(value, *allowed) -> bool:
    """value is an int or bool (never a float or text) equal to one of `allowed`."""
    return type(value) in (int, bool) and value in allowed


def _is_u1_state(state) -> bool:
    if not isinstance(state, tuple):
        return False
    text = tuple(s.decode("latin-1") if isinstance(s, bytes) else s for s in state)
    # same values and same types (a float -1.0 or True in place of an int is refused too)
    return any(text == ok and all(type(a) is type(b) for a, b in zip(text, ok)) for ok in _DTYPE_STATES)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if isinstance(value, (_Global, _Pending)):
        return f"a numpy/pickle object ({value.kind})"
    if value is _U1_TOKEN:
        return "dtype('u1')"
    return f"a {type(value).__name__}"


class _Parser:
    def __init__(self, raw: bytes, name: str):
        self.buf = memoryview(raw)
        self.pos = 0
        self.name = name
        self.stack: list = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.arrays = 0
        self.dicts = 0
        self.lists = 0

    # -- errors ------------------------------------------------------------------------------
    def fail(self, what: str, fix: str = _HOW_TO_FIX) -> CifarFormatError:
        return CifarFormatError(f"{self.name} is not a CIFAR-10 python batch: {what} (at byte "
                                f"{self.pos}); {fix}")

    def truncated(self, what: str) -> CifarFormatError:
        return CifarFormatError(f"{self.name} is not a readable CIFAR-10 batch (corrupt or truncated "
                                f"file: {what} at byte {self.pos} of {len(self.buf)}); {_HOW_TO_FIX}")

    # -- reading -----------------------------------------------------------------------------
    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise self.truncated(f"{what} needs {n} bytes but {len(self.buf) - self.pos} remain")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def arg(self, fmt: str, opname: str):
        if fmt in ("B", "<H", "<i", "<I", "<Q", ">d"):
            size = struct.calcsize(fmt)
            return struct.unpack(fmt, self.take(size, opname))[0]
        if fmt.startswith("len"):
            n = self.arg({"len1": "B", "len4": "<I", "len8": "<Q"}[fmt], opname)
            return self.take(n, opname)
        if fmt == "line2":
            return tuple(self.line(opname) for _ in range(2))
        return None

    def line(self, opname: str) -> str:
        end = bytes(self.buf[self.pos:self.pos + 65]).find(b"\n")
        if end < 0:
            raise self.fail(f"{opname} names a module or object longer than 64 characters")
        text = bytes(self.take(end + 1, opname)[:-1])
        try:
            return text.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"{opname} names a non-ASCII module or object {text[:40]!r}") from None

    # -- the stack ---------------------------------------------------------------------------
    def push(self, value) -> None:
        if len(self.stack) >= MAX_STACK:
            raise self.fail(f"more than {MAX_STACK:,} items on the pickle stack (a real batch "
                            f"needs about 1,000)")
        self.stack.append(value)

    def pop(self, opname: str):
        floor = self.marks[-1] if self.marks else 0
        if len(self.stack) <= floor:
            raise self.truncated(f"{opname} with nothing to take (malformed pickle)")
        return self.stack.pop()

    def pop_mark(self, opname: str) -> list:
        if not self.marks:
            raise self.truncated(f"{opname} without a MARK (malformed pickle)")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def top(self, kind, opname: str):
        floor = self.marks[-1] if self.marks else 0
        if len(self.stack) <= floor:
            raise self.truncated(f"{opname} with no container below it (malformed pickle)")
        target = self.stack[-1]
        if not isinstance(target, kind):
            raise self.fail(f"{opname} on {_describe(target)}")
        return target

    # -- building ----------------------------------------------------------------------------
    def tuple_of(self, items: list) -> tuple:
        if len(items) > MAX_TUPLE:
            raise self.fail(f"a tuple of {len(items)} items (the published layout has at most "
                            f"{MAX_TUPLE})")
        for item in items:
            if isinstance(item, (list, dict, np.ndarray, _Pending)) or \
                    (isinstance(item, tuple) and any(isinstance(x, tuple) for x in item)):
                raise self.fail(f"a tuple holding {_describe(item)}")
        return tuple(items)

    def append(self, target: list, items: list) -> None:
        for item in items:
            if not isinstance(item, (int, float, bytes, str)) or isinstance(item, bool):
                raise self.fail(f"a list holding {_describe(item)} (the lists of a batch hold only "
                                f"label numbers or file names)")
        if len(target) + len(items) > MAX_IMAGES_PER_BATCH:
            raise self.fail(f"a list of more than {MAX_IMAGES_PER_BATCH:,} items (a batch holds at "
                            f"most {MAX_IMAGES_PER_BATCH:,} images)")
        target.extend(items)

    def setitems(self, target: dict, items: list) -> None:
        if len(items) % 2:
            raise self.truncated("SETITEMS with an odd number of items (malformed pickle)")
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, (bytes, str)) or len(key) > MAX_TEXT:
                raise self.fail(f"a dict key that is {_describe(key)}")
            text = key.decode("latin-1") if isinstance(key, bytes) else key
            if text not in _KEYS:
                raise self.fail(f"an unexpected key {text[:40]!r} (a batch has only "
                                f"{', '.join(_KEYS)})")
            if text in target:
                raise self.fail(f"the key {text!r} appears twice")
            if isinstance(value, (dict, tuple, _Global, _Pending, _U1)) or value is None:
                raise self.fail(f"{text!r} is {_describe(value)}")
            target[text] = value

    def reduce(self, func, args):
        kind = func.kind if isinstance(func, _Global) else None
        if kind == "reconstruct":
            ok = (isinstance(args, tuple) and len(args) == 3 and isinstance(args[0], _Global)
                  and args[0].kind == "ndarray" and len(args[1]) == 1 and _int_in(args[1][0], 0)
                  and args[2] in (b"b", "b"))
            if not ok:
                raise self.fail("numpy's _reconstruct with arguments other than (ndarray, (0,), b'b')")
            self.arrays += 1
            if self.arrays > 1:
                raise self.fail("more than one array (a batch has one: its 'data')")
            return _Pending("array")
        if kind == "dtype":
            spec = args[0] if isinstance(args, tuple) and args else args
            if spec not in ("u1", b"u1"):
                raise self.fail(f"the data's dtype is {spec!r}; CIFAR-10 pixels are uint8 ('u1') only")
            if not (len(args) == 3 and _int_in(args[1], 0) and _int_in(args[2], 1)):
                raise self.fail(f"dtype('u1') made with unusual arguments {str(args)[:80]} (expected "
                                f"('u1', 0, 1))")
            return _Pending("dtype")
        if kind == "encode":      # _codecs.encode(text, "latin1"): Python 3's protocol-2 bytes
            if not (isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], str)
                    and args[1] in ("latin1", "latin-1")):
                raise self.fail("_codecs.encode with arguments other than (text, 'latin1')")
            try:
                return args[0].encode("latin-1")
            except UnicodeEncodeError:
                raise self.fail("_codecs.encode of text that is not latin-1") from None
        if kind == "bytes":
            if args != ():
                raise self.fail("bytes(...) with arguments (only bytes() appears in a batch)")
            return b""
        raise self.fail(f"REDUCE (a call) of {_describe(func)}")

    def build(self, obj, state):
        if isinstance(obj, _Pending) and obj.kind == "dtype":
            if not _is_u1_state(state):
                raise self.fail(f"a uint8 dtype with an unusual state {str(state)[:80]} (byte order, "
                                f"fields, sub-arrays or sizes are not part of a batch)")
            return _U1_TOKEN
        if isinstance(obj, _Pending) and obj.kind == "array":
            if not (isinstance(state, tuple) and len(state) == 5 and _int_in(state[0], 1)):
                raise self.fail("an array state other than (1, shape, dtype, fortran, bytes)")
            _, shape, dtype, fortran, raw = state
            if dtype is not _U1_TOKEN:
                raise self.fail(f"the array's dtype is {_describe(dtype)}, not uint8")
            if not _int_in(fortran, 0):
                raise self.fail("a Fortran-ordered array (the published batches are C-ordered)")
            if not (isinstance(shape, tuple) and len(shape) == 2 and
                    all(type(s) is int for s in shape)):
                raise self.fail(f"'data' has shape {shape!r}; expected (N, {IMAGE_VALUES})")
            n, width = shape
            if width != IMAGE_VALUES or not 1 <= n <= MAX_IMAGES_PER_BATCH:
                raise self.fail(f"'data' has shape {shape}; expected (N, {IMAGE_VALUES}) with "
                                f"1 <= N <= {MAX_IMAGES_PER_BATCH:,}")
            if not isinstance(raw, bytes) or len(raw) != n * IMAGE_VALUES:
                size = f"{len(raw):,}" if isinstance(raw, bytes) else _describe(raw)
                raise self.fail(f"'data' claims shape {shape} ({n * IMAGE_VALUES:,} bytes) but holds "
                                f"{size} bytes")
            return np.frombuffer(raw, dtype=np.uint8).reshape(n, IMAGE_VALUES)
        raise self.fail(f"BUILD (setting the state) of {_describe(obj)}")

    def global_(self, module: str, name: str) -> _Global:
        kind = _GLOBALS.get((module, name))
        if kind is None:
            raise UnsafePickleError(
                f"{self.name}: refusing to load {module}.{name}: a CIFAR-10 batch only contains a dict, "
                f"lists, strings, bytes, numbers and one uint8 array; the file was not run. If you did "
                f"not make this file yourself, delete it and {_HOW_TO_FIX}")
        return _Global(kind)

    # -- the loop ----------------------------------------------------------------------------
    def run(self):
        if len(self.buf) < 2 or self.buf[0] != 0x80:
            raise self.truncated("it does not start with a pickle header (protocol 2-4)")
        while True:
            code = self.buf[self.pos] if self.pos < len(self.buf) else None
            if code is None:
                raise self.truncated("the file ends before the pickle's STOP")
            if code not in _OPS:
                name = {0x97: "protocol 5 buffer", 0x96: "protocol 5 bytearray"}.get(code)
                raise self.fail(f"opcode {bytes([code])!r} ({name or 'not used by a CIFAR-10 batch'})")
            opname, fmt = _OPS[code]
            self.pos += 1
            arg = self.arg(fmt, opname)
            if self.step(opname, arg):
                break
        if self.pos != len(self.buf):
            raise self.fail(f"{len(self.buf) - self.pos} bytes after the end of the pickle")
        if self.marks or len(self.stack) != 1:
            raise self.truncated("the pickle ends with unfinished items (malformed pickle)")
        return self.stack[0]

    def step(self, op: str, arg) -> bool:
        if op == "PROTO":
            if not 2 <= arg <= 4:
                raise self.fail(f"pickle protocol {arg}", "re-save the batch with "
                                "pickle.dump(batch, f, protocol=4)" if arg == 5 else _HOW_TO_FIX)
        elif op == "FRAME":
            pass
        elif op == "STOP":
            return True
        elif op == "MARK":
            if len(self.marks) >= MAX_MARKS:
                raise self.fail(f"more than {MAX_MARKS} nested levels (MARKs); a real batch has 3")
            self.marks.append(len(self.stack))
        elif op == "EMPTY_DICT":
            if self.stack or self.marks or self.dicts:
                raise self.fail("a dict inside the batch (nested dicts are not part of it)")
            self.dicts += 1
            self.push({})
        elif op == "EMPTY_LIST":
            self.lists += 1
            if self.lists > MAX_LISTS:
                raise self.fail(f"more than {MAX_LISTS} lists (a batch has two: labels and filenames)")
            self.push([])
        elif op == "EMPTY_TUPLE":
            self.push(())
        elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(op[-1])
            items = [self.pop(op) for _ in range(n)][::-1]
            self.push(self.tuple_of(items))
        elif op == "TUPLE":
            self.push(self.tuple_of(self.pop_mark(op)))
        elif op in ("APPEND", "APPENDS"):
            items = [self.pop(op)] if op == "APPEND" else self.pop_mark(op)
            self.append(self.top(list, op), items)
        elif op in ("SETITEM", "SETITEMS"):
            items = [self.pop(op) for _ in range(2)][::-1] if op == "SETITEM" else self.pop_mark(op)
            self.setitems(self.top(dict, op), items)
        elif op in ("BININT1", "BININT2", "BININT", "BINFLOAT"):
            self.push(arg)
        elif op == "LONG1":
            if len(arg) > 8:
                raise self.fail(f"an integer of {len(arg)} bytes")
            self.push(int.from_bytes(arg, "little", signed=True))
        elif op in ("NONE", "NEWTRUE", "NEWFALSE"):
            self.push({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[op])
        elif op in ("SHORT_BINSTRING", "BINSTRING", "SHORT_BINBYTES", "BINBYTES", "BINBYTES8"):
            self.push(bytes(arg))
        elif op in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"):
            try:
                self.push(str(arg, "utf-8", "strict"))
            except UnicodeDecodeError:
                raise self.fail("text that is not valid UTF-8") from None
        elif op == "GLOBAL":
            self.push(self.global_(*arg))
        elif op == "STACK_GLOBAL":
            name, module = self.pop(op), self.pop(op)
            if not (isinstance(module, str) and isinstance(name, str)):
                raise self.fail("STACK_GLOBAL with a module or name that is not text")
            self.push(self.global_(module[:64], name[:64]))
        elif op == "REDUCE":
            args, func = self.pop(op), self.pop(op)
            self.push(self.reduce(func, args))
        elif op == "BUILD":
            state, obj = self.pop(op), self.pop(op)
            self.push(self.build(obj, state))
        elif op in ("BINPUT", "LONG_BINPUT", "MEMOIZE"):
            key = len(self.memo) if op == "MEMOIZE" else arg
            if len(self.memo) >= MAX_MEMO and key not in self.memo:
                raise self.fail(f"more than {MAX_MEMO:,} remembered objects")
            floor = self.marks[-1] if self.marks else 0
            if len(self.stack) <= floor:
                raise self.truncated(f"{op} with nothing to remember (malformed pickle)")
            self.memo[key] = self.stack[-1]
        elif op in ("BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                raise self.truncated(f"{op} of an object never stored (malformed pickle)")
            value = self.memo[arg]
            if not (isinstance(value, _SCALARS + (_Global,)) or
                    (isinstance(value, tuple) and all(isinstance(v, _SCALARS) for v in value))):
                raise self.fail(f"a second reference to {_describe(value)} (the published batches "
                                f"never share lists, dicts, tuples or arrays)")
            self.push(value)
        return False


def _text(value, what: str, name: str) -> str:
    # the length is checked before decoding: one shared 30 MB bytes object named 10,000 times
    # must not become 10,000 decoded copies
    if not isinstance(value, (bytes, str)) or len(value) > MAX_TEXT:
        size = f" of {len(value):,} characters" if isinstance(value, (bytes, str)) else ""
        raise CifarFormatError(f"{name}: {what} must be a text of at most {MAX_TEXT} characters, got "
                               f"{_describe(value)}{size}; {_HOW_TO_FIX}")
    return value.decode("latin-1") if isinstance(value, bytes) else value


def parse_cifar_batch(raw: bytes, name: str = "batch") -> dict:
    """Parse the bytes of one CIFAR-10 python batch without unpickling them.

    raw: the file's bytes (at most MAX_BATCH_FILE_BYTES); name: used in error messages.
    Returns {"data": uint8 (N, 3072) read-only array, "labels": int64 (N,) in 0..9,
    "batch_label": str ("" if absent), "filenames": list of N str ([] if absent)}.
    Raises CifarFormatError (a ValueError) naming what is wrong, UnsafePickleError for a
    forbidden global; never runs code from the file.
    """
    if len(raw) > MAX_BATCH_FILE_BYTES:
        raise CifarFormatError(f"{name} is {len(raw):,} bytes; a CIFAR-10 batch is at most "
                               f"{MAX_BATCH_FILE_BYTES:,} (MAX_BATCH_FILE_BYTES); {_HOW_TO_FIX}")
    batch = _Parser(raw, name).run()
    if not isinstance(batch, dict):
        raise CifarFormatError(f"{name}: expected a dict with 'data' and 'labels', got "
                               f"{_describe(batch)}; {_HOW_TO_FIX}")
    if "data" not in batch or "labels" not in batch:
        raise CifarFormatError(f"{name}: the batch has no 'data'/'labels' entries (keys: "
                               f"{sorted(batch)}); is this a CIFAR-10 python batch? {_HOW_TO_FIX}")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray):
        raise CifarFormatError(f"{name}: 'data' must be a uint8 array of shape (N, {IMAGE_VALUES}), "
                               f"got {_describe(data)}; {_HOW_TO_FIX}")
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        bad = next((v for v in labels if type(v) is not int), None) if isinstance(labels, list) else labels
        raise CifarFormatError(f"{name}: 'labels' must be a list of whole numbers 0..9, found "
                               f"{_describe(bad)} ({bad!r:.40}); {_HOW_TO_FIX}")
    if len(labels) != len(data):
        raise CifarFormatError(f"{name}: data has shape {data.shape} and labels ({len(labels)},); "
                               f"expected (N, {IMAGE_VALUES}) and (N,); {_HOW_TO_FIX}")
    y = np.array(labels, dtype=np.int64)
    if y.min() < 0 or y.max() > 9:
        raise CifarFormatError(f"{name}: labels must be 0..9, found {y.min()}..{y.max()}; {_HOW_TO_FIX}")
    filenames = batch.get("filenames", [])
    if not isinstance(filenames, list) or (filenames and len(filenames) != len(data)):
        raise CifarFormatError(f"{name}: 'filenames' must be a list of {len(data)} names; {_HOW_TO_FIX}")
    return {"data": data, "labels": y,
            "batch_label": _text(batch.get("batch_label", ""), "'batch_label'", name),
            "filenames": [_text(f, "a file name", name) for f in filenames]}


def load_cifar_batch(path: str | os.PathLike, dtype=np.float64):
    """One CIFAR-10 python batch file -> (X (N, 3, 32, 32) of `dtype`, pixel values 0..255;
    y (N,) int64 in 0..9). Read with `parse_cifar_batch` (never unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch file {path} not found")
    size = path.stat().st_size
    if size > MAX_BATCH_FILE_BYTES:
        raise CifarFormatError(f"{path.name} is {size:,} bytes; a CIFAR-10 batch is at most "
                               f"{MAX_BATCH_FILE_BYTES:,} (MAX_BATCH_FILE_BYTES); {_HOW_TO_FIX}")
    with open(path, "rb") as fh:
        raw = fh.read(MAX_BATCH_FILE_BYTES + 1)
    batch = parse_cifar_batch(raw, path.name)
    X = batch["data"].reshape(-1, 3, 32, 32).astype(dtype)
    return X, batch["labels"]


def default_cifar10_dir() -> Path:
    """Where `python3 workbook.py data cifar10` puts the batches: <repo>/data/cifar-10-batches-py."""
    from .paths import REPO_ROOT
    return REPO_ROOT / "data" / "cifar-10-batches-py"


def load_cifar10(path: str | os.PathLike | None = None, dtype=np.float64, num_train_batches: int = 5) -> dict:
    """Load CIFAR-10 from `path`, else the CIFAR10_DIR environment variable, else the folder
    `python3 workbook.py data cifar10` writes (default_cifar10_dir()).

    The folder must hold data_batch_1..data_batch_5 and test_batch (the "python version",
    cifar-10-batches-py). Returns a dict X_train (50000, 3, 32, 32), y_train (50000,),
    X_test (10000, 3, 32, 32), y_test (10000,), classes (10 names); X in 0..255 as `dtype`
    (normalise yourself), y int64. `num_train_batches` (1..5) loads fewer training batches
    (10,000 images each) for quick experiments.
    """
    if path is None:
        path = os.environ.get("CIFAR10_DIR") or None
    if path is None:
        if not default_cifar10_dir().is_dir():
            raise FileNotFoundError("no CIFAR-10 folder given and none downloaded: run `python3 "
                                    "workbook.py data cifar10` (about 170 MB), or pass path=... or set "
                                    "the environment variable CIFAR10_DIR to a cifar-10-batches-py folder")
        path = default_cifar10_dir()
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder {folder} does not exist (expected the extracted "
                                f"cifar-10-batches-py folder; `python3 workbook.py data cifar10` makes it)")
    if not 1 <= num_train_batches <= 5:
        raise ValueError(f"num_train_batches must be 1..5, got {num_train_batches}")
    names = [f"data_batch_{i}" for i in range(1, num_train_batches + 1)] + ["test_batch"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is missing {', '.join(missing)}; expected data_batch_1..5 "
                                f"and test_batch from the CIFAR-10 python version "
                                f"(`python3 workbook.py data cifar10`)")
    xs, ys = zip(*(load_cifar_batch(folder / n, dtype) for n in names[:-1]))
    X_test, y_test = load_cifar_batch(folder / "test_batch", dtype)
    return {"X_train": np.concatenate(xs), "y_train": np.concatenate(ys), "X_test": X_test,
            "y_test": y_test, "classes": CIFAR10_CLASSES}
