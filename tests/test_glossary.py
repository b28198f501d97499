"""The bilingual glossary (术语表): one file holds every term and its Chinese name."""
import csv
import re

from cs231n_utils.paths import asset

CJK = re.compile(r"[\u4e00-\u9fff]")


def _rows():
    with open(asset("glossary.csv"), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_glossary_parses_with_one_row_per_term():
    rows = _rows()
    assert len(rows) >= 40
    english = [r["english"].lower() for r in rows]
    assert len(set(english)) == len(english), "an English term appears twice"
    zh = [r["zh"] for r in rows]
    assert len(set(zh)) == len(zh), "two English terms share one Chinese term"
    for r in rows:
        assert r["english"].strip() and CJK.search(r["zh"]), r
        assert r["source"] in ("notes", "d2l", "ours"), r
        assert r["d2l_zh"] != r["zh"], f"{r['english']}: give d2l_zh only where it differs"


def test_terms_marked_as_the_notes_terms_occur_in_the_notes():
    import pathlib
    notes = pathlib.Path(__file__).resolve().parents[2] / "shared" / "syllabus" / "cs231n_cnn_notes_zh.txt"
    if not notes.exists():   # the notes live beside the repository, not in it; the CSV is checked above
        return
    text = notes.read_text(encoding="utf-8")
    for r in _rows():
        if r["source"] == "notes":
            stem = r["zh"].replace("1x1", "")
            assert stem in text or stem.rstrip("层") in text, f"{r['english']}: {r['zh']} is not in the notes"
