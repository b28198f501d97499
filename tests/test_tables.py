"""The one table renderer: aligned text, elided long tables, totals, notes, HTML that never wraps."""
import pytest

from cs231n_utils.tables import Table, shape_text


def _table(**kw):
    rows = [("conv1", "16x8x8", "160"), ("fc1", "10", "1,290")]
    return Table(("layer", "output", "params"), rows, **kw)


def test_text_pads_columns_and_aligns_numbers_right():
    lines = _table(align="llr").to_text().splitlines()
    assert lines[0] == "layer  output  params"
    assert lines[1] == "-" * len(lines[0])
    assert lines[2] == "conv1  16x8x8     160"
    assert lines[3] == "fc1    10       1,290"


def test_default_alignment_is_first_column_left_the_rest_right():
    assert _table().align == "lrr"
    assert _table().to_text().splitlines()[3] == "fc1        10   1,290"


def test_total_row_under_a_rule_then_notes():
    lines = _table(total=("total", "10", "1,450"), notes=("one note",)).to_text().splitlines()
    assert lines[-3] == lines[1] and lines[-2].startswith("total") and lines[-2].endswith("1,450")
    assert lines[-1] == "one note"


def test_long_tables_elide_the_middle_rows():
    t = Table(("i",), [(str(i),) for i in range(10)])
    lines = t.to_text(max_rows=4).splitlines()
    assert lines[2:] == ["0", "1", "... 6 rows ...", "8", "9"]
    assert t.to_text(max_rows=10).count("\n") == 11          # header, rule, 10 rows


def test_html_escapes_cells_never_wraps_and_bolds_the_total():
    t = Table(("name", "n"), [("<a & b>", "1")], total=("total", "1"))
    html = t.to_html()
    assert html.startswith("<table style='white-space:nowrap'>")
    assert "&lt;a &amp; b&gt;" in html and "<a & b>" not in html
    assert "<th style='text-align:left'>total</th><th style='text-align:right'>1</th>" in html
    assert html.count("<tr>") == 3


def test_bad_tables_say_what_is_wrong():
    with pytest.raises(ValueError, match="one letter 'l' or 'r' per column"):
        _table(align="lx")
    with pytest.raises(ValueError, match="every row needs 3 cells"):
        Table(("a", "b", "c"), [("1", "2")])


def test_shape_text():
    assert shape_text((16, 8, 8)) == "16x8x8" and shape_text((10,)) == "10"
