"""Small tables (表格) as fixed-width text and as HTML: the one renderer behind every summary.

    t = Table(("layer", "output shape", "params"), [("conv1", "8x8x8", "80")], align="llr")
    print(t.to_text())     # columns padded to their widest cell, a rule under the header
    t.to_html()            # a <table> whose cells never wrap in the middle of a word

Cells are text the caller has already formatted ("1,290", `shape_text((8, 8, 8))` = "8x8x8").
`align` has one letter per column: "l" (left, for names) or "r" (right, for numbers); by
default the first column is left-aligned and the others right-aligned. `total` is a last row
set apart (under a rule in text, bold header cells in HTML); `notes` are lines printed under
the text table. Used by `models.Summary`, `architectures.NetSummary` and
`transfer.TransferTable`.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

__all__ = ["Table", "shape_text"]


def shape_text(shape: Sequence[int]) -> str:
    """(16, 8, 8) -> "16x8x8": a shape as one short table cell."""
    return "x".join(str(int(s)) for s in shape)


@dataclass(frozen=True)
class Table:
    """A header, rows of text cells, an optional total row and notes (see the module docstring)."""

    header: tuple
    rows: tuple
    align: str = ""
    total: tuple | None = None
    notes: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "header", tuple(self.header))
        object.__setattr__(self, "rows", tuple(tuple(str(c) for c in r) for r in self.rows))
        n = len(self.header)
        align = self.align or "l" + "r" * (n - 1)
        if len(align) != n or set(align) - set("lr"):
            raise ValueError(f"align needs one letter 'l' or 'r' per column ({n}), got {self.align!r}")
        object.__setattr__(self, "align", align)
        if self.total is not None:
            object.__setattr__(self, "total", tuple(str(c) for c in self.total))
        for row in self.rows + ((self.total,) if self.total is not None else ()):
            if len(row) != n:
                raise ValueError(f"every row needs {n} cells like the header {self.header}, got {row}")

    # -- text -----------------------------------------------------------------------------
    def to_text(self, max_rows: int | None = None) -> str:
        """Fixed-width text. With more than `max_rows` rows, the first and last max_rows // 2
        rows are shown with a "... k rows ..." line between them (None = every row)."""
        rows = list(self.rows)
        skipped = 0
        if max_rows is not None and len(rows) > max_rows:
            half = max(1, max_rows // 2)
            skipped = len(rows) - 2 * half
            rows = rows[:half] + [None] + rows[-half:]
        shown = [self.header] + [r for r in rows if r is not None] + ([self.total] if self.total else [])
        widths = [max(len(r[i]) for r in shown) for i in range(len(self.header))]

        def line(cells) -> str:
            return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                             for c, w, a in zip(cells, widths, self.align)).rstrip()

        rule = "-" * len("  ".join(" " * w for w in widths))
        out = [line(self.header), rule]
        out += [f"... {skipped} rows ..." if r is None else line(r) for r in rows]
        if self.total is not None:
            out += [rule, line(self.total)]
        out += list(self.notes)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    # -- html -----------------------------------------------------------------------------
    def _html_row(self, cells, tag: str) -> str:
        return "<tr>" + "".join(
            f"<{tag} style='text-align:{'left' if a == 'l' else 'right'}'>{html.escape(c)}</{tag}>"
            for c, a in zip(cells, self.align)) + "</tr>"

    def to_html(self) -> str:
        """A <table>; `white-space: nowrap` keeps every cell on one line (no mid-word breaks)."""
        body = "".join(self._html_row(r, "td") for r in self.rows)
        if self.total is not None:
            body += self._html_row(self.total, "th")
        return (f"<table style='white-space:nowrap'><thead>{self._html_row(self.header, 'th')}</thead>"
                f"<tbody>{body}</tbody></table>")
