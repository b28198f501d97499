"""The lecture's pattern text (模式) for a ConvNet, read into layers and a trainable model.

The lecture's recipe for a ConvNet (卷积神经网络) is a line of text:

    INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC

This module turns such a line, with concrete numbers, into a `models.Sequential`:

    >>> model = build_from_pattern("INPUT -> [[CONV3-16 -> RELU]*2 -> POOL2]*2 "
    ...                            "-> [FC-64 -> RELU]*1 -> FC-10", input_shape=(1, 8, 8), seed=0)
    >>> print(model.summary())            # one row per layer: name, output shape, parameters

Notation (case does not matter; spaces are optional)
----------------------------------------------------
    INPUT                 optional, only at the start (the input shape is an argument)
    CONV<k>-<n>           k x k convolution with n filters, stride 1, "same" padding
                          pad = k//2 (so a CONV keeps the spatial size); options as
                          suffixes: -S<stride> -P<pad> -D<dilation> -G<groups>,
                          e.g. CONV7-64-S2-P3, CONV3-32-D2 (pad becomes D*(k-1)//2)
    POOL<k>               k x k max pooling (最大池化) with stride k (halves the size for k=2);
                          POOL3-S2 (or POOL3S2) for overlapping pools; MAXPOOL<k> is the same
    AVGPOOL<k>            average pooling, same options as POOL
    GAP                   global average pooling: (C, H, W) -> (C,)
    FC-<n>                fully connected (全连接) layer with n outputs (FC<n> also accepted);
                          flattens its input first
    RELU, BN, LRN, LRN<size>, FLATTEN, DROPOUT, DROPOUT-<p>   (p = probability of dropping)
    [ ... ]*<N>           repeat a group N times (N >= 0; *0 removes it; *1 keeps it once);
                          groups nest, and *N also works after a single layer
    SOFTMAX or SVM        optional, only at the end: the loss (softmax is the default)
    ->                    separates items (→ also accepted)

Each layer keyword is one row of `KEYWORDS` (regex, factory, example, hint): to teach the
parser a new layer, add a row. Text the parser cannot read raises ValueError naming the token,
with a caret under it:

    unknown layer 'CONV3': a convolution is written CONV<k>-<filters>, e.g. CONV3-16
      INPUT -> CONV3 -> RELU
               ^^^^^

Shape problems (a POOL on a 1x1 map, a CONV after an FC) name the layer, its token and the
output-size formula with the numbers filled in (`shapes.conv_size_formula`).

Limits (`cs231n_utils.checks`, each refused before any layer is made): at most
MAX_PATTERN_CHARS characters, MAX_NESTING_DEPTH brackets inside brackets, MAX_LAYERS layers
after expanding the repeats; the built model's parameters and activations are bounded by
`models.Sequential` (MAX_PARAMETER_BYTES, MAX_ACTIVATION_BYTES).
"""
from __future__ import annotations

import difflib
import re
from typing import Callable, NamedTuple, Sequence

import numpy as np

from . import checks
from .groupnorm import GroupNorm
from .layer_objects import (LRN, Affine, AvgPool, BatchNorm, Conv, Dropout, Flatten, GlobalAvgPool,
                            Layer, MaxPool, ReLU)
from .models import LayerBuildError, Sequential

__all__ = ["Keyword", "KEYWORDS", "parse_pattern", "build_from_pattern"]


class Keyword(NamedTuple):
    """One layer keyword of the pattern language (one row of `KEYWORDS`).

    pattern: regex matched against the whole upper-cased token; its named groups go to `make`
    make:    the factory: the regex match -> a fresh layer (it may raise ValueError with a reason)
    example: a token this row reads, e.g. "CONV3-16" (used by "did you mean ...?")
    hint:    how the keyword is written, shown for a token that starts like `example`'s word
             but does not match; "" = no special hint (the closest example is suggested)
    """
    pattern: str
    make: Callable[[re.Match], Layer]
    example: str
    hint: str = ""


def _conv(m: re.Match) -> Conv:
    opts: dict = {}
    for key, value in re.findall(r"([SPDG])(\d+)", m["opts"]):
        if key in opts:
            raise ValueError(f"option {key} given twice")
        opts[key] = int(value)
    return Conv(int(m["n"]), int(m["k"]), stride=opts.get("S", 1), pad=opts.get("P", "same"),
                dilation=opts.get("D", 1), groups=opts.get("G", 1))


def _pool(kind: type) -> Callable[[re.Match], Layer]:
    return lambda m: kind(int(m["k"]), int(m["s"]) if m["s"] else None)


_POOL = r"(?P<k>\d+)(?:-?S(?P<s>\d+))?"
_POOL_HINT = "pooling is written POOL<k> (max), AVGPOOL<k> or POOL<k>-S<stride>, e.g. POOL2"

KEYWORDS: tuple[Keyword, ...] = (
    Keyword(r"CONV(?P<k>\d+)-(?P<n>\d+)(?P<opts>(?:-?[SPDG]\d+)*)", _conv, "CONV3-16",
            "a convolution is written CONV<k>-<filters>, e.g. CONV3-16 (options -S<stride> "
            "-P<pad> -D<dilation> -G<groups>, e.g. CONV7-64-S2-P3)"),
    Keyword("POOL" + _POOL, _pool(MaxPool), "POOL2", _POOL_HINT),
    Keyword("MAXPOOL" + _POOL, _pool(MaxPool), "MAXPOOL2", _POOL_HINT),
    Keyword("AVGPOOL" + _POOL, _pool(AvgPool), "AVGPOOL2", _POOL_HINT),
    Keyword(r"FC-?(?P<n>\d+)", lambda m: Affine(int(m["n"])), "FC-10",
            "a fully connected layer is written FC-<outputs>, e.g. FC-10"),
    Keyword("RELU", lambda m: ReLU(), "RELU"),
    Keyword("BN", lambda m: BatchNorm(), "BN"),
    Keyword("BATCHNORM", lambda m: BatchNorm(), "BATCHNORM"),
    Keyword(r"GN(?P<g>\d+)?", lambda m: GroupNorm(int(m["g"])) if m["g"] else GroupNorm(), "GN4"),
    Keyword(r"LRN(?P<size>\d+)?", lambda m: LRN(int(m["size"])) if m["size"] else LRN(), "LRN"),
    Keyword("FLATTEN", lambda m: Flatten(), "FLATTEN"),
    Keyword("GAP", lambda m: GlobalAvgPool(), "GAP"),
    Keyword("GLOBALAVGPOOL", lambda m: GlobalAvgPool(), "GLOBALAVGPOOL"),
    Keyword(r"DROPOUT(?:-(?P<p>0?\.\d+|0))?", lambda m: Dropout(float(m["p"])) if m["p"] else Dropout(),
            "DROPOUT"),
)

_SPECIALS = ("INPUT", "SOFTMAX", "SVM")   # not layers: the start and the loss


# --------------------------------------------------------------------------------------------
# Errors with a caret under the token
# --------------------------------------------------------------------------------------------

_CARET_WIDTH = 100    # characters of a long line shown around the token


def _caret(text: str, col: int, length: int) -> str:
    """The line of `text` containing position `col`, with ^ under the token (a long line is
    cut to about _CARET_WIDTH characters around the token, cuts marked with ...)."""
    start = text.rfind("\n", 0, col) + 1
    end = text.find("\n", col)
    end = len(text) if end < 0 else end
    length = max(1, min(length, _CARET_WIDTH))
    left = max(start, col - (_CARET_WIDTH - length) // 2)
    right = min(end, left + _CARET_WIDTH)
    line = ("..." if left > start else "") + text[left:right] + ("..." if right < end else "")
    indent = col - left + (3 if left > start else 0)
    return f"  {line}\n  {' ' * indent}{'^' * length}"


def _perr(text, col, length, message):
    return ValueError(f"{message}\n{_caret(text, col, length)}")


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<arrow>->|→)
  | (?P<lbr>\[)
  | (?P<rbr>\])
  | (?P<star>\*|×)
  | (?P<int>\d+)
  | (?P<word>[A-Za-z][A-Za-z0-9_.]*(?:-(?!>)[A-Za-z0-9_.]+)*)
  | (?P<bad>.)
""", re.VERBOSE)


class _Tok(NamedTuple):
    kind: str
    text: str
    col: int


_BAD_CHARACTER_HINTS = {
    "?": "'?' marks an optional layer in the lecture's recipe; write the layer (e.g. POOL2) or leave it out",
    "(": "groups are written with square brackets: [CONV3-16 -> RELU]*2",
    ")": "groups are written with square brackets: [CONV3-16 -> RELU]*2",
    "-": "items are separated by '->'",
    ">": "items are separated by '->' (a '-' is missing?)",
}


def _tokenize(text: str) -> list:
    toks = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "ws":
            continue
        tok = _Tok(kind, m.group(), m.start())
        if kind == "bad":
            hint = _BAD_CHARACTER_HINTS.get(tok.text, "allowed are layer names, '->', '[', ']', '*' and numbers")
            raise _perr(text, tok.col, 1, f"unexpected character {tok.text!r}: {hint}")
        toks.append(tok)
    return toks


# --------------------------------------------------------------------------------------------
# One token -> one layer
# --------------------------------------------------------------------------------------------

def _leading_word(text: str) -> str:
    return re.match(r"[A-Z]*", text).group()


def _short(token: str, width: int = 40) -> str:
    return token if len(token) <= width else token[:width - 3] + "..."


def _unknown_layer_message(token: str) -> str:
    """Why `token` is not a layer: the hint of the keyword it starts like, else the closest one."""
    word = token.upper()[:64]
    token = _short(token)
    for row in KEYWORDS:
        if row.hint and word.startswith(_leading_word(row.example)):
            return f"unknown layer {token!r}: {row.hint}"
    examples = [row.example for row in KEYWORDS]
    close = difflib.get_close_matches(word, examples + list(_SPECIALS), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else f"; known layers: {', '.join(examples)}"
    return f"unknown layer {token!r}{hint}"


_MAX_DIGITS = 18     # a longer number in a token cannot be a sensible setting


def _make_layer(tok: _Tok, text: str) -> Layer:
    word = tok.text.upper()
    if re.search(r"\d{%d}" % (_MAX_DIGITS + 1), word):
        raise _perr(text, tok.col, len(tok.text), f"{_short(tok.text)!r} holds a number of more than "
                                                  f"{_MAX_DIGITS} digits; no layer setting is that large")
    for row in KEYWORDS:
        m = re.fullmatch(row.pattern, word)
        if m:
            try:
                return row.make(m)
            except ValueError as exc:
                raise _perr(text, tok.col, len(tok.text), f"{_short(tok.text)!r}: {exc}") from None
    raise _perr(text, tok.col, len(tok.text), _unknown_layer_message(tok.text))


# --------------------------------------------------------------------------------------------
# Items, groups and repeats
# --------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def err(self, tok, message):
        if tok is None:
            return _perr(self.text, len(self.text), 1, message + " (at the end of the text)")
        return _perr(self.text, tok.col, len(tok.text), message)

    def expect_item_start(self, where):
        tok = self.peek()
        if tok is None:
            raise self.err(None, f"expected a layer or '[' {where}")
        if tok.kind not in ("word", "lbr"):
            raise self.err(tok, f"expected a layer or '[' {where}, found {tok.text!r}")
        return tok

    def seq(self, depth):
        """item ('->' item)* ; returns the list of item nodes."""
        items = [self.item(depth)]
        while True:
            tok = self.peek()
            if tok is None or tok.kind == "rbr":
                return items
            if tok.kind != "arrow":
                raise self.err(tok, f"expected '->' between items, found {tok.text!r}")
            self.i += 1
            self.expect_item_start("after '->'")
            items.append(self.item(depth))

    def item(self, depth):
        tok = self.expect_item_start("here")
        if tok.kind == "lbr":
            if depth >= checks.MAX_NESTING_DEPTH:
                try:
                    checks.check_limit(depth + 1, "MAX_NESTING_DEPTH", "the nesting depth of '['",
                                       "write the repeats out or use fewer levels of brackets")
                except checks.LimitError as exc:
                    raise checks.LimitError(f"{exc}\n{_caret(self.text, tok.col, 1)}", exc.limit) from None
            self.i += 1
            if self.peek() is not None and self.peek().kind == "rbr":
                raise self.err(self.peek(), "empty group '[]'")
            body = self.seq(depth + 1)
            close = self.peek()
            if close is None or close.kind != "rbr":
                raise self.err(tok, "this '[' is never closed with ']'")
            self.i += 1
            node = ("group", tok, body)
        else:
            self.i += 1
            word = tok.text.upper()
            node = ("special", tok, word) if word in _SPECIALS else ("layer", tok, None)
        star = self.peek()
        if star is not None and star.kind == "star":
            self.i += 1
            num = self.peek()
            if num is None or num.kind != "int":
                raise self.err(num if num is not None else star,
                               "a repeat count must be a whole number, e.g. *2 (the lecture's N, M, "
                               "K stand for numbers you choose)")
            self.i += 1
            if node[0] == "special":
                raise self.err(star, f"{node[1].text} cannot be repeated")
            count = int(num.text) if len(num.text) <= _MAX_DIGITS else 10 ** _MAX_DIGITS
            try:
                checks.check_limit(count, "MAX_LAYERS", "the repeat count",
                                   "a pattern may hold at most that many layers")
            except checks.LimitError as exc:
                raise checks.LimitError(f"{exc}\n{_caret(self.text, star.col, num.col + len(num.text) - star.col)}",
                                        exc.limit) from None
            node = ("repeat", star, (node, count))
        elif star is not None and star.kind == "int":
            raise self.err(star, f"unexpected number {star.text!r}; to repeat, write '*{star.text}' "
                                 f"after a ']'")
        return node


def _count(node, text) -> int:
    """Layers `node` expands to, refused over MAX_LAYERS before any layer is made."""
    kind, tok, payload = node
    if kind == "group":
        n = sum(_count(child, text) for child in payload)
    elif kind == "repeat":
        child, times = payload
        n = _count(child, text) * times
    else:
        n = 1
    if n > checks.MAX_LAYERS:
        try:
            checks.check_limit(n, "MAX_LAYERS", "the number of layers after expanding the repeats",
                               "use smaller repeat counts")
        except checks.LimitError as exc:
            where = f"\n{_caret(text, tok.col, len(tok.text))}" if tok is not None else ""
            raise checks.LimitError(f"{exc}{where}", exc.limit) from None
    return n


def _expand(node, text, layers, tokens):
    kind, tok, payload = node
    if kind == "layer":
        layers.append(_make_layer(tok, text))
        tokens.append(tok)
    elif kind == "group":
        for child in payload:
            _expand(child, text, layers, tokens)
    elif kind == "repeat":
        child, n = payload
        for _ in range(n if _count(child, text) else 0):
            _expand(child, text, layers, tokens)
    else:
        where = "at the start of the pattern" if payload == "INPUT" else "at the end of the pattern"
        raise _perr(text, tok.col, len(tok.text), f"{tok.text} may only appear {where}")


def _parse(text: str) -> tuple:
    """(fresh layers, loss name, the token each layer was read from)."""
    if not isinstance(text, str):
        raise TypeError(f"pattern must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the pattern is empty; write e.g. 'INPUT -> CONV3-8 -> RELU -> POOL2 -> FC-10'")
    checks.check_limit(len(text), "MAX_PATTERN_CHARS", "the length of the pattern text", unit="characters",
                       fix="write repeats as [ ... ]*N instead of spelling every layer out")
    p = _Parser(text)
    items = p.seq(0)
    tok = p.peek()
    if tok is not None:  # a stray ']'
        raise p.err(tok, "this ']' has no matching '['")
    loss = "softmax"
    if items and items[0][0] == "special" and items[0][2] == "INPUT":
        items = items[1:]
    if items and items[-1][0] == "special" and items[-1][2] in ("SOFTMAX", "SVM"):
        loss = items[-1][2].lower()
        items = items[:-1]
    _count(("group", None, items), text)
    layers: list = []
    tokens: list = []
    for node in items:
        _expand(node, text, layers, tokens)
    if not layers:
        raise ValueError(f"the pattern has no layers after expanding repeats (every group is *0?):\n"
                         f"  {text}")
    return layers, loss, tokens


def parse_pattern(text: str) -> tuple:
    """Parse pattern text (see the module docstring) into (list of fresh Layer objects, loss name).

    Raises ValueError with the offending token, its column marked by ^, for malformed text.
    """
    layers, loss, _ = _parse(text)
    return layers, loss


def build_from_pattern(text: str, input_shape: Sequence[int], *, seed: int | None = 0,
                       rng: np.random.Generator | None = None, dtype=np.float64, reg: float = 0.0,
                       loss: str | None = None, head_gain: float = 0.01) -> Sequential:
    """Build a `models.Sequential` model from pattern text, e.g.

        build_from_pattern("INPUT -> [[CONV3-16 -> RELU]*2 -> POOL2]*2 -> [FC-64 -> RELU]*1 -> FC-10",
                           input_shape=(1, 8, 8), seed=0)

    `input_shape`: one example, (C, H, W). The last layer must output class scores (a vector).
    `loss`: "softmax"/"svm"; by default taken from a trailing SOFTMAX/SVM token (softmax if none).
    `head_gain`: the last layer, when it is an FC (the classifier), starts with He's std times
    this factor, so that the initial scores are close to zero and the initial softmax loss is
    about log(classes), the sanity check the course teaches (1.0 = plain He).
    Errors for bad text or shapes that do not work out name the token and show a caret under it.

    Shown in 04, section 3; 05, sections 5, 6, 7, 8, 10.
    """
    layers, parsed_loss, tokens = _parse(text)
    if isinstance(layers[-1], Affine):
        layers[-1].gain = float(head_gain)
    try:
        model = Sequential(layers, input_shape, seed=seed, rng=rng, dtype=dtype, reg=reg,
                           loss=loss or parsed_loss, pattern=text)
    except LayerBuildError as exc:
        tok = tokens[exc.index]
        err = _perr(text, tok.col, len(tok.text), str(exc))
        if exc.limit is not None:
            err = checks.LimitError(str(err), exc.limit)
        raise err from None
    if len(model.output_shape) != 1:
        last, tok = model.layers[-1], tokens[-1]
        raise _perr(text, tok.col, len(tok.text),
                    f"the last layer {last.name} ({tok.text}) outputs shape {model.output_shape}, "
                    f"but a classifier must end with class scores; add '-> FC-<classes>'")
    return model
