"""Write CIFAR-10 python batches opcode by opcode, as Python 2's cPickle wrote the originals.

`py2_batch(data, labels, ...)` gives the bytes of a batch in the published format (protocol 2,
py2 `str` as SHORT_BINSTRING/BINSTRING, the array via numpy.core.multiarray._reconstruct,
labels appended 1,000 at a time, every object memoized with BINPUT). The fragment helpers
(`s`, `i`, `glob`, `array`, `lst`, `batch`) let the hostile tests change one piece of that
layout at a time.
"""
from __future__ import annotations

import struct

import numpy as np


class Memo:
    """BINPUT numbering, as cPickle does it (1, 2, 3, ...)."""

    def __init__(self):
        self.n = 0

    def put(self) -> bytes:
        self.n += 1
        return b"q" + bytes([self.n]) if self.n < 256 else b"r" + struct.pack("<I", self.n)


def s(text: bytes, memo: Memo | None = None) -> bytes:
    """A Python 2 str: SHORT_BINSTRING (< 256 bytes) or BINSTRING."""
    head = b"U" + bytes([len(text)]) if len(text) < 256 else b"T" + struct.pack("<i", len(text))
    return head + text + (memo.put() if memo else b"")


def i(n: int) -> bytes:
    """An int the way cPickle writes it: BININT1, BININT2 or BININT."""
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def glob(module: str, name: str, memo: Memo | None = None) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n" + (memo.put() if memo else b"")


DTYPE_STATE = b"(" + i(3) + s(b"|") + b"NNN" + b"J\xff\xff\xff\xffJ\xff\xff\xff\xff" + i(0) + b"t"


def array(shape, raw: bytes, memo: Memo | None = None, dtype_args: bytes = None,
          dtype_state: bytes = DTYPE_STATE, fortran: bytes = b"\x89", version: int = 1,
          reconstruct=("numpy.core.multiarray", "_reconstruct"), dtype_global=("numpy", "dtype"),
          raw_put: bytes = b"") -> bytes:
    """numpy's pickle of an array: _reconstruct(ndarray, (0,), 'b') then BUILD with
    (version, shape, dtype('u1'), fortran, raw). Every piece can be replaced; `raw_put`
    (e.g. b"q\\xca") memoizes the raw bytes under a chosen index."""
    memo = memo or Memo()
    dtype_args = dtype_args if dtype_args is not None else s(b"u1") + i(0) + i(1) + b"\x87"
    items = b"".join(i(d) for d in shape)
    shape_ops = items + b")\x85\x86\x87"[len(shape):len(shape) + 1] if len(shape) <= 3 else b"(" + items + b"t"
    return (glob(*reconstruct, memo) + glob("numpy", "ndarray", memo) + i(0) + b"\x85" + s(b"b")
            + b"\x87R" + memo.put()
            + b"(" + i(version) + shape_ops
            + glob(*dtype_global, memo) + dtype_args + b"R" + memo.put() + dtype_state + b"b"
            + fortran + (s(raw) + raw_put if raw_put else s(raw, memo)) + b"tb")


def lst(items: list[bytes], memo: Memo | None = None) -> bytes:
    """A list built with APPENDS, 1,000 items at a time (items are already pickled)."""
    out = b"]" + (memo.put() if memo else b"")
    for start in range(0, len(items), 1000):
        out += b"(" + b"".join(items[start:start + 1000]) + b"e"
    return out


def head(memo: Memo | None = None) -> bytes:
    """Protocol 2, an empty dict (memoized), MARK: what comes before the first key."""
    return b"\x80\x02}" + (memo or Memo()).put() + b"("


def batch(entries: list[tuple[bytes, bytes]], memo: Memo | None = None, start: bytes | None = None) -> bytes:
    """The whole file: protocol 2, one dict whose (key, pickled value) pairs are `entries`."""
    memo = memo or Memo()
    out = start if start is not None else head(memo)
    for key, value in entries:
        out += s(key, memo) + value
    return out + b"u."


def py2_batch(data: np.ndarray, labels, batch_label: bytes = b"training batch 1 of 5",
              filenames=None) -> bytes:
    """A batch byte for byte in the published layout (the original Python 2 files)."""
    data = np.ascontiguousarray(data, dtype=np.uint8)
    memo = Memo()
    start = head(memo)
    names = filenames if filenames is not None else [b"img_%05d.png" % k for k in range(len(data))]
    entries = [(b"data", array(data.shape, data.tobytes(), memo)),
               (b"labels", lst([i(int(v)) for v in labels], memo)),
               (b"batch_label", s(batch_label, memo)),
               (b"filenames", lst([s(n, memo) for n in names], memo))]
    return batch(entries, memo, start)


def random_batch(n: int, seed: int = 0):
    """(data uint8 (n, 3072), labels list of n ints 0..9) from a seeded generator."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072)).astype(np.uint8), [int(v) for v in rng.integers(0, 10, n)]
