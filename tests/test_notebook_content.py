"""Content rules of issue 16, checked on the notebooks that follow them (01, 04, 06):

- every stored PNG figure is at least 500 px wide;
- the notebook opens with a bilingual 术语表 whose rows are rows of assets/glossary.csv;
- it ends with a 中文小结;
- every check-your-understanding question has an answer the learner can reveal (<details>);
- the same English term always gets the glossary's Chinese term (no 全局平均池 without 化).

Add a notebook to NOTEBOOKS once it follows them.
"""
from __future__ import annotations

import base64
import csv
import json
import re
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["01_history", "04_normalization", "06_architectures"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _nb(name):
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))


def _markdown(nb):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def _glossary():
    with open(ROOT / "assets" / "glossary.csv", encoding="utf-8", newline="") as f:
        return {r["english"]: r for r in csv.DictReader(f)}


def _png_sizes(nb):
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                raw = base64.b64decode(png)
                assert raw[:8] == b"\x89PNG\r\n\x1a\n", f"cell {i}: not a PNG"
                yield i, struct.unpack(">II", raw[16:24])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_stored_figure_is_at_least_500_px_wide(name):
    sizes = list(_png_sizes(_nb(name)))
    assert sizes, f"{name} stores no figure"
    narrow = [(i, w) for i, (w, _) in sizes if w < 500]
    assert not narrow, f"{name}: figures narrower than 500 px (cell, width): {narrow}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_glossary_table_opens_the_notebook_and_matches_the_csv(name):
    cells = _markdown(_nb(name))
    table = next((c for c in cells[:3] if "术语表" in c), None)
    assert table is not None, f"{name}: no 术语表 among the first cells"
    glossary = _glossary()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| English")]
    assert len(rows) >= 10
    for line in rows:
        english, zh, d2l = (cell.strip() for cell in line.strip().strip("|").split("|"))
        assert english in glossary, f"{name}: {english!r} is not in assets/glossary.csv"
        assert (zh, d2l) == (glossary[english]["zh"], glossary[english]["d2l_zh"]), \
            f"{name}: row {english!r} differs from assets/glossary.csv"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_ends_with_a_chinese_summary(name):
    cells = _markdown(_nb(name))
    assert cells[-1].lstrip().startswith("## 中文小结"), f"{name}: the last cell must be the 中文小结"
    assert len(CJK.findall(cells[-1])) > 150


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_question_has_a_collapsed_answer(name):
    text = next(c for c in _markdown(_nb(name)) if "## Check your understanding" in c)
    part = text.split("## Check your understanding", 1)[1]
    questions = re.findall(r"^\*\*(\d+)\.\*\*", part, re.M)
    answers = re.findall(r"<details><summary>Answer (\d+)</summary>", part)
    assert len(questions) >= 6
    assert questions == answers, f"{name}: questions {questions} vs answers {answers}"
    assert part.count("<details>") == part.count("</details>")


def _term_problems(text: str, glossary: dict) -> list:
    """Places where a glossary term is written differently: a truncated form (全局平均池 for
    全局平均池化), or "English term (中文)" whose Chinese is neither our term nor d2l-zh's."""
    problems = []
    for row in glossary.values():
        zh = row["zh"]
        if zh.endswith("化") and len(zh) > 2 and re.search(re.escape(zh[:-1]) + "(?!化)", text):
            problems.append(f"{zh[:-1]} instead of {zh}")
    gloss = r"\*{0,2} \(((?:\d+x\d+ ?)?[\u4e00-\u9fff][^)]*)\)"       # "(感受野)", "(1x1 瓶颈卷积)"
    for english, row in glossary.items():
        for m in re.finditer(r"\b" + re.escape(english) + gloss, text, re.I):
            inside = m.group(1).replace(" ", "")
            if row["zh"] not in inside and not (row["d2l_zh"] and row["d2l_zh"] in inside):
                problems.append(f"'{m.group(0)}' does not use the glossary term {row['zh']}")
    return problems


def test_term_check_catches_variants():
    glossary = _glossary()
    assert _term_problems("global average pooling (全局平均池)", glossary)
    assert _term_problems("receptive field (接受域)", glossary)
    assert not _term_problems("receptive field (感受野) and batch normalization (批量规范化)", glossary)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_terms_are_the_glossary_terms(name):
    problems = _term_problems("\n".join(_markdown(_nb(name))), _glossary())
    assert not problems, f"{name}: {problems}"
