"""Input checks (输入检查) shared by every layer: one place for each teaching error message.

The layers in `layers` (readable loops) and the kernels in `fast_layers` (vectorised) call the
same checks, so a learner gets the same message whichever version they use:

- `check_array(a, name, ndim, shape_hint)`: a float32/float64 ndarray, right number of axes,
  no empty axis, no NaN/inf;
- `check_dout(dout, shape)`: an upstream gradient of the forward output's shape;
- `check_int(value, name, minimum)`: one integer argument (bool and float refused);
- `check_keys(params, allowed, where)`, `int_setting(params, key, default, minimum, where)`,
  `check_rounding(params, where)`: a settings dict such as `conv_param`;
- `conv_setup(x, w, b, conv_param)` / `pool_setup(x, pool_param)`: a whole conv or pooling
  call validated at once, returning the settings and the output size;
- limits (限制): named constants bounding what a request may ask for (`check_limit`,
  `check_window`), refused with a `LimitError` before anything is allocated;
- `NpzReader`: an untrusted `.npz` file (checkpoint, cache) checked from its zip directory
  and array headers before any array is read (`FileCheckError` names the file and the entry).

Limits
------
Every limit is a module constant, read when it is checked, so it can be raised for one
session (`import cs231n_utils.checks as checks; checks.MAX_LAYERS = 5000`):

    MAX_PATTERN_CHARS      10,000    characters in one pattern text
    MAX_LAYERS              1,000    layers in a model; a pattern after expanding its repeats
                                     (so also any one repeat count *N)
    MAX_NESTING_DEPTH          32    brackets inside brackets in a pattern
    MAX_PARAMETER_BYTES     1 GiB    all parameters and buffers of a model (its dtype's bytes)
    MAX_ACTIVATION_BYTES    1 GiB    all layer outputs of a model for ONE example
    MAX_HISTORY_LENGTH  5,000,000    entries of a checkpoint's history (one per iteration)

Rules that need no constant (`check_window`, for convolutions): a pad larger than the input
plus the window is refused (it only adds windows of zeros), and so is a stride larger than
the padded input that does not tile it (the window would fit only once).
"""
from __future__ import annotations

import io
import math
import os
import stat
import struct
import zipfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from .shapes import conv_output_size, pool_output_size

__all__ = ["check_array", "check_finite", "check_dout", "check_int", "int_setting",
           "check_rounding", "check_keys", "conv_setup", "conv_cache_settings", "pool_setup",
           "CONV_KEYS", "POOL_KEYS", "LimitError", "check_limit", "check_window",
           "MAX_PATTERN_CHARS", "MAX_LAYERS", "MAX_NESTING_DEPTH", "MAX_PARAMETER_BYTES",
           "MAX_ACTIVATION_BYTES", "MAX_HISTORY_LENGTH", "FileCheckError", "NpzReader"]

# --------------------------------------------------------------------------------------------
# Limits (限制): refused before anything is allocated (values documented in the module docstring)
# --------------------------------------------------------------------------------------------

MAX_PATTERN_CHARS = 10_000
MAX_LAYERS = 1_000
MAX_NESTING_DEPTH = 32
MAX_PARAMETER_BYTES = 1 << 30
MAX_ACTIVATION_BYTES = 1 << 30
MAX_HISTORY_LENGTH = 5_000_000


class LimitError(ValueError):
    """A request over one of this module's limits; `limit` is the constant's name."""

    def __init__(self, message: str, limit: str):
        super().__init__(message)
        self.limit = limit


def _amount(value: int, unit: str) -> str:
    if value >= 10 ** 18:
        return "at least 10^18" + (f" {unit}" if unit else "")
    if unit == "bytes":
        for name, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value >= size:
                return f"{value / size:,.1f} {name}"
        return f"{value:,} bytes"
    return f"{value:,}{' ' + unit if unit else ''}"


def check_limit(value: int, limit: str, what: str, fix: str = "", unit: str = "") -> None:
    """Raise LimitError when `value` is over the limit named `limit` (e.g. "MAX_LAYERS"),
    saying what was asked, the limit, how to stay under it (`fix`) and how to raise it."""
    bound = globals()[limit]
    if value <= bound:
        return
    fix = f"; {fix}" if fix else ""
    raise LimitError(f"{what} is {_amount(value, unit)}, over the limit {limit} = "
                     f"{_amount(bound, unit)}{fix}. If you really need more, raise the limit "
                     f"first: `import cs231n_utils.checks as checks; checks.{limit} = ...`", limit)


def check_window(size: int, extent: int, stride: int, pad: int, rounding: str = "exact") -> None:
    """Refuse absurd convolution settings along one axis before any size arithmetic:
    a pad larger than the input plus the window `extent` (the effective filter size
    D*(F-1)+1), which only adds windows of zeros, and, with exact rounding, a stride larger
    than the padded input that does not tile it (the window fits only once; the usual
    message would search for other pads and strides up to that stride)."""
    if pad > size + extent:
        raise LimitError(f"pad {pad:,} is larger than the input ({size}) plus the window "
                         f"({extent}): it only adds windows of zeros; use a pad <= {size + extent} "
                         f"(pad {(extent - 1) // 2} keeps the size for stride 1)", "pad")
    padded = size + 2 * pad
    if rounding == "exact" and extent <= padded < stride and padded != extent:
        raise LimitError(f"stride {stride:,} is larger than the padded input ({size} + 2*{pad} = "
                         f"{padded}): the window fits only once and does not tile the input; use a "
                         f"stride <= {padded} (stride 1 visits every position)", "stride")


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return `value` as an int, or raise a clear error: it must be an integer (not a bool or
    a float) within [minimum, maximum] (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value



def check_array(a, name: str, ndim: int | None = None, shape_hint: str = "",
                 finite: bool = True) -> np.ndarray:
    """Check that `a` is a float32/float64 ndarray with `ndim` dims, no empty axis, no NaN/inf."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}; "
                        f"use np.asarray({name}, dtype=np.float64)")
    if a.dtype.char not in "fd" or not a.dtype.isnative:     # 'f' float32, 'd' float64
        raise TypeError(f"{name} has dtype {a.dtype}; layers need float32 or float64 arrays: "
                        f"use {name}.astype(np.float64)")
    if ndim is not None and a.ndim != ndim:
        hint = f" {shape_hint}" if shape_hint else ""
        raise ValueError(f"{name} must have {ndim} dimensions{hint}, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} has shape {a.shape} with an empty axis; every size must be >= 1")
    if finite:
        check_finite(a, name)
    return a


def check_finite(a: np.ndarray, name: str) -> None:
    if a.size <= 4096:
        ok = bool(np.isfinite(a).all())
    else:
        # A sum is cheaper than isfinite on big arrays and is finite whenever every entry is
        # (barring overflow, which the exact check below then rules out).
        with np.errstate(over="ignore", invalid="ignore"):
            ok = math.isfinite(np.add.reduce(a, axis=None))
    if not ok:
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        if bad:
            raise ValueError(f"{name} contains {bad} NaN/inf value(s); check the previous layer "
                             f"or lower the learning rate")


def check_dout(dout, shape: tuple, name: str = "dout") -> np.ndarray:
    check_array(dout, name)
    if dout.shape != tuple(shape):
        raise ValueError(f"{name} has shape {dout.shape} but the forward output had shape "
                         f"{tuple(shape)}; pass the gradient of that output")
    return dout


def int_setting(params: Mapping, key: str, default, minimum: int, where: str) -> int:
    value = params.get(key, default)
    if value is None:
        raise ValueError(f"{where}[{key!r}] is missing; add it, e.g. {where}[{key!r}] = 1")
    return check_int(value, f"{where}[{key!r}]", minimum)


def check_rounding(params: Mapping, where: str) -> str:
    rounding = params.get("rounding", "exact")
    if rounding not in ("exact", "floor"):
        raise ValueError(f"{where}['rounding'] must be 'exact' (settings must fit) or 'floor' "
                         f"(drop rows/columns that do not fit), got {rounding!r}")
    return rounding


def check_keys(params, allowed: tuple, where: str) -> Mapping:
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise TypeError(f"{where} must be a dict, got {type(params).__name__}")
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ValueError(f"{where} has unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}")
    return params


CONV_KEYS = ("stride", "pad", "dilation", "groups", "rounding")
POOL_KEYS = ("pool_height", "pool_width", "stride", "rounding")


@lru_cache(maxsize=1024)
def _conv_size(size: int, k: int, stride: int, pad: int, dilation: int, rounding: str) -> int:
    """conv_output_size, memoised (it validates its arguments: ~4 us a call on tiny layers)."""
    return conv_output_size(size, k, stride, pad, dilation, rounding)


def conv_setup(x, w, b, conv_param, name: str = "conv_forward"):
    """Validate a convolution call; returns (stride, pad, dilation, groups, rounding, Ho, Wo, dtype)."""
    check_array(x, "x", 4, "(N, C, H, W)")
    check_array(w, "w", 4, "(F, C/groups, HH, WW)")
    check_array(b, "b", 1, "(F,)")
    p = check_keys(conv_param, CONV_KEYS, "conv_param")
    stride = int_setting(p, "stride", 1, 1, "conv_param")
    pad = int_setting(p, "pad", 0, 0, "conv_param")
    dilation = int_setting(p, "dilation", 1, 1, "conv_param")
    groups = int_setting(p, "groups", 1, 1, "conv_param")
    rounding = check_rounding(p, "conv_param")
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if C % groups:
        raise ValueError(f"x has C = {C} channels, not divisible by conv_param['groups'] = {groups}; "
                         f"use a groups value that divides {C}")
    if F % groups:
        raise ValueError(f"w has F = {F} filters, not divisible by conv_param['groups'] = {groups}; "
                         f"use a multiple of {groups} filters")
    if Cw * groups != C:
        need = f"C/groups = {C}/{groups} = {C // groups}" if groups > 1 else f"C = {C}"
        raise ValueError(f"w has shape {w.shape}: {Cw} input channels per filter, but x needs {need}; "
                         f"make w of shape ({F}, {C // groups}, {HH}, {WW})")
    if b.shape != (F,):
        raise ValueError(f"b has shape {b.shape} but w has F = {F} filters; b must have shape ({F},)")
    try:
        for axis, size, k in (("height", H, HH), ("width", W, WW)):
            check_window(size, dilation * (k - 1) + 1, stride, pad, rounding)
        Ho = _conv_size(H, HH, stride, pad, dilation, rounding)
        Wo = _conv_size(W, WW, stride, pad, dilation, rounding)
    except LimitError as exc:
        raise LimitError(f"{name}: x is {H}x{W}, w is {HH}x{WW}, {axis}: {exc}", exc.limit) from None
    except ValueError as exc:
        raise ValueError(f"{name}: x is {H}x{W}, w is {HH}x{WW}: {exc}") from None
    dtype = x.dtype if x.dtype == w.dtype == b.dtype else np.result_type(x.dtype, w.dtype, b.dtype)
    return stride, pad, dilation, groups, rounding, Ho, Wo, dtype


def conv_cache_settings(x: np.ndarray, w: np.ndarray, p: Mapping) -> Mapping:
    """The settings a conv backward needs, from our forward's cache dict or a plain CS231n
    conv_param ({'stride': 1, 'pad': 1}): missing dilation/groups default to 1, H'/W' are computed."""
    if "Ho" in p and "Wo" in p and "dilation" in p and "groups" in p:
        return p
    stride = int(p.get("stride", 1))
    pad = int(p.get("pad", 0))
    dil = int(p.get("dilation", 1))
    rounding = p.get("rounding", "exact")
    return {"stride": stride, "pad": pad, "dilation": dil, "groups": int(p.get("groups", 1)),
            "Ho": conv_output_size(x.shape[2], w.shape[2], stride, pad, dil, rounding),
            "Wo": conv_output_size(x.shape[3], w.shape[3], stride, pad, dil, rounding)}


def pool_setup(x, pool_param, name: str = "pool_forward"):
    """Validate a pooling call; returns (ph, pw, stride, Ho, Wo)."""
    check_array(x, "x", 4, "(N, C, H, W)")
    p = check_keys(pool_param, POOL_KEYS, "pool_param")
    ph = int_setting(p, "pool_height", None, 1, "pool_param")
    pw = int_setting(p, "pool_width", None, 1, "pool_param")
    default_stride = ph if ph == pw else None
    stride = int_setting(p, "stride", default_stride, 1, "pool_param")
    rounding = check_rounding(p, "pool_param")
    H, W = x.shape[2:]
    try:
        Ho = pool_output_size(H, ph, stride, 0, rounding)
        Wo = pool_output_size(W, pw, stride, 0, rounding)
    except ValueError as exc:
        raise ValueError(f"{name}: x is {H}x{W}, window {ph}x{pw}: {exc}") from None
    return ph, pw, stride, Ho, Wo


# --------------------------------------------------------------------------------------------
# Untrusted .npz files (checkpoints, caches): the zip directory and the array headers are
# checked before any array is read, so a small file cannot make us allocate much
# --------------------------------------------------------------------------------------------

class FileCheckError(ValueError):
    """An untrusted file (checkpoint, cache) that is not what it should be; the message names
    the file and the missing or wrong entry (`path` and `reason` hold the two parts)."""

    def __init__(self, message: str, path=None, reason: str = ""):
        super().__init__(message)
        self.path, self.reason = path, reason or message


_NPY_HEADER_MAX = 4096           # bytes of one .npy header; numpy writes 128 for any array here
_END_RECORD = struct.Struct("<4s4H2LH")  # the zip end-of-central-directory record (22 bytes)
_ZIP64_MARKS = (0xFFFF, 0xFFFFFFFF)
_READ_CHUNK = 1 << 20


def _end_record(fh, size: int) -> tuple:
    """(entries, central directory size) from the end record: read before zipfile parses the
    central directory, so a file claiming millions of entries is refused first."""
    tail_size = min(size, _END_RECORD.size + 65535)      # the record ends with a <= 64 KiB comment
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END_RECORD.size:
        raise zipfile.BadZipFile("no zip end record")
    _, _, _, _, entries, cd_size, _, _ = _END_RECORD.unpack_from(tail, at)
    return entries, cd_size


class NpzReader:
    """Read an untrusted `.npz` archive (a zip of `.npy` arrays) in checked steps:

        with NpzReader(path, "checkpoint", max_entries=500, max_bytes=10 << 20) as npz:
            npz.names                          # entry names without ".npy", from the directory
            shape, dtype = npz.header("w")     # reads only the entry's .npy header
            npz.expect("w", (3, 4), "f")       # FileCheckError unless float (3, 4)
            w = npz.read("w")                  # the array (allow_pickle is never used)

    On opening: at most `max_entries` entries (from the end record, before the central
    directory is parsed), names unique and ending in ".npy", no encryption, uncompressed
    entries only unless `allow_compressed`, and the sizes the directory declares summing to at
    most `max_bytes`. `header` then requires a plain dtype (bool, integer, float, or a text of
    at most 256 characters) and an entry size equal to header + shape x itemsize, so `read`
    allocates exactly what the header promised and never more than `max_bytes` in all.
    Every problem raises FileCheckError naming `what`, the file and the entry.
    """

    def __init__(self, path, what: str, *, max_entries: int, max_bytes: int,
                 allow_compressed: bool = False):
        self.path, self.what = Path(path), what
        self._headers: dict = {}
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):     # a FIFO would block, a device never end
                raise FileCheckError(f"{what} {self.path} is not a regular file", self.path,
                                     "it is not a regular file")
            self._file = open(self.path, "rb")
        except OSError as exc:
            raise FileCheckError(f"{what} {self.path} cannot be opened: {exc.strerror or exc}",
                                 self.path, f"cannot be opened: {exc.strerror or exc}") from None
        try:
            self._open(max_entries, max_bytes, allow_compressed)
        except BaseException:
            self._file.close()
            raise

    def _open(self, max_entries, max_bytes, allow_compressed):
        size = self.path.stat().st_size
        try:
            entries, cd_size = _end_record(self._file, size)
            if entries in _ZIP64_MARKS or cd_size in _ZIP64_MARKS or entries > max_entries:
                raise self.error(f"its zip directory lists {entries:,} entries, more than the "
                                 f"{max_entries:,} expected")
            if cd_size > max_entries * 1024 + 1024:
                raise self.error(f"its zip directory takes {cd_size:,} bytes, far more than "
                                 f"{max_entries:,} entries need")
            self._file.seek(0)
            self._zip = zipfile.ZipFile(self._file)
        except zipfile.BadZipFile as exc:
            raise self.error(f"it cannot be read as a .npz (zip) file ({exc}); it may be truncated "
                             f"or damaged") from None
        infos = self._zip.infolist()
        self._infos: dict = {}
        declared = 0
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                raise self.error(f"entry {name!r} is not a .npy array")
            if name[:-4] in self._infos:
                raise self.error(f"entry {name!r} is repeated")
            if info.flag_bits & 0x1:
                raise self.error(f"entry {name!r} is encrypted")
            allowed = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) if allow_compressed else (zipfile.ZIP_STORED,)
            if info.compress_type not in allowed:
                raise self.error(f"entry {name!r} is compressed (zip method {info.compress_type}); only "
                                 f"{'stored or deflated' if allow_compressed else 'uncompressed'} entries "
                                 f"are read")
            declared += info.file_size
            self._infos[name[:-4]] = info
        if declared > max_bytes:
            raise self.error(f"its entries would expand to {declared:,} bytes, more than the "
                             f"{max_bytes:,} this {self.what} can need (checked before reading)")

    # -- the checked steps ----------------------------------------------------------------
    def error(self, message: str) -> FileCheckError:
        return FileCheckError(f"{self.what} {self.path}: {message}", self.path, message)

    @property
    def names(self) -> list:
        return list(self._infos)

    def header(self, name: str) -> tuple:
        """(shape, dtype) of entry `name`, from its .npy header only."""
        if name in self._headers:
            return self._headers[name][:2]
        if name not in self._infos:
            raise self.error(f"entry {name!r} is missing")
        info = self._infos[name]
        try:
            with self._zip.open(info) as fh:
                head = io.BytesIO(fh.read(min(info.file_size, _NPY_HEADER_MAX)))
            version = np.lib.format.read_magic(head)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f".npy format version {version}")
            shape, fortran, dtype = reader(head, max_header_size=_NPY_HEADER_MAX)
        except (zipfile.BadZipFile, OSError) as exc:
            raise self.error(f"entry {name!r} cannot be read ({str(exc)[:120]}); the file is damaged") from None
        except (ValueError, EOFError, SyntaxError, TypeError) as exc:
            raise self.error(f"entry {name!r} has no valid .npy header ({str(exc)[:120]})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
                or dtype.kind not in "biufU" or not dtype.isnative \
                or (dtype.kind == "U" and dtype.itemsize > 4 * 256):
            raise self.error(f"entry {name!r} has dtype {dtype}; only plain numbers or short "
                             f"texts are read (nothing that needs pickle)")
        count = math.prod(shape)
        if info.file_size != head.tell() + count * dtype.itemsize:
            raise self.error(f"entry {name!r} declares {info.file_size:,} bytes, but its header "
                             f"says {dtype} {shape} ({count * dtype.itemsize:,} bytes of data)")
        self._headers[name] = (tuple(shape), dtype, fortran, head.tell())
        return tuple(shape), dtype

    def expect(self, name: str, shape: tuple | None, kinds: str) -> tuple:
        """Check entry `name` is an array of one of the dtype `kinds` ("f" float, "i"/"u"
        integers, "b" bool, "U" text) and, unless None, of `shape`. Returns (shape, dtype)."""
        got_shape, dtype = self.header(name)
        if dtype.kind not in kinds or (shape is not None and got_shape != tuple(shape)):
            want = {"f": "float", "iu": "integer", "u": "unsigned integer", "U": "text",
                    "fiu": "numbers", "fiub": "numbers"}.get(kinds, kinds)
            where = f"of shape {tuple(shape)}" if shape is not None else "(any shape)"
            raise self.error(f"entry {name!r} holds {dtype} of shape {got_shape}; expected {want} "
                             f"{where}")
        return got_shape, dtype

    def read(self, name: str) -> np.ndarray:
        """The array of entry `name`, exactly as large as its checked header says."""
        self.header(name)
        shape, dtype, fortran, skip = self._headers[name]
        out = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        view = memoryview(out.reshape(-1, order="A")).cast("B") if out.size else memoryview(b"")
        try:
            with self._zip.open(self._infos[name]) as fh:
                fh.read(skip)
                pos = 0
                while pos < len(view):
                    chunk = fh.read(min(_READ_CHUNK, len(view) - pos))
                    if not chunk:
                        raise EOFError("the entry ends early")
                    view[pos:pos + len(chunk)] = chunk
                    pos += len(chunk)
        except (EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
            raise self.error(f"entry {name!r} cannot be read ({exc})") from None
        return out

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
