"""Chinese-speaking learners: every notebook uses the one glossary (assets/glossary.csv).

For every notebook:
- it opens with a bilingual 术语表 (a markdown table: English | the notes' term | d2l-zh's term)
  whose rows are exactly the glossary's rows for those terms;
- every gloss "English term (中文)" in its markdown uses the glossary's Chinese term for that
  English term, so the same English term has the same Chinese name everywhere;
- it ends with a 中文小结 (a summary in Chinese);
- every check-your-understanding question has an answer the learner can reveal (<details>).
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from cs231n_utils.paths import asset

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
CJK = re.compile(r"[\u4e00-\u9fff]")
EMPTY = {"", "-", "—", "–"}


def _glossary() -> dict:
    with open(asset("glossary.csv"), encoding="utf-8", newline="") as f:
        return {r["english"].lower(): r for r in csv.DictReader(f)}


def _markdown(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def _glossary_cell(cells: list[str]) -> str | None:
    return next((c for c in cells if re.search(r"^#+ .*术语表", c, re.M) and "|" in c), None)


def table_rows(cell: str) -> list[list[str]]:
    """The body rows of the first markdown table in `cell`, as lists of stripped cells."""
    rows = [line.strip() for line in cell.splitlines() if line.strip().startswith("|")]
    body = [r for r in rows[1:] if not re.fullmatch(r"\|[\s:|-]+\|?", r)]
    return [[c.strip() for c in r.strip("|").split("|")] for r in body]


def _tokens(paren: str) -> set[str]:
    """The Chinese terms inside a parenthesis: split at separators, spaces removed."""
    parts = re.split(r"[;；,，、/:：和与或及]|\bor\b|\balso\b", paren)
    return {re.sub(r"\s+", "", p) for p in parts if CJK.search(p)}


def gloss_problems(text: str, glossary: dict) -> list[str]:
    """Every "English term (中文)" in `text` whose English ends with a glossary term (or its
    plural) but whose parenthesis does not contain that term's Chinese name. A parenthesis is a
    gloss when its first part (up to a comma, semicolon or slash) contains Chinese."""
    plain = re.sub(r"[*`]", "", text)
    terms = sorted(glossary, key=len, reverse=True)
    problems = []
    for m in re.finditer(r"[(（]([^()（）]*)[)）]", plain):
        inside = m.group(1)
        first = re.split(r"[;；,，、/:：]", inside)[0]
        if not CJK.search(first):             # an explanation that mentions Chinese, not a gloss
            continue
        before = re.search(r"([A-Za-z0-9][A-Za-z0-9 \-]*?)\s*$", plain[max(0, m.start() - 80):m.start()])
        if not before:
            continue
        words = " " + before.group(1).lower()
        for term in terms:
            if any(words.endswith(" " + term + suffix) or words.endswith("-" + term + suffix)
                   for suffix in ("", "s", "es")):
                want = re.sub(r"\s+", "", glossary[term]["zh"])
                if want not in _tokens(inside):
                    problems.append(f"{before.group(1).strip()} ({inside}): the glossary says {glossary[term]['zh']}")
                break
    return problems


def question_problems(cells: list[str]) -> list[str]:
    """Check-your-understanding questions without a <details> answer right after them."""
    problems = []
    for cell in cells:
        if not re.search(r"check your understanding", cell, re.I):
            continue
        heading = re.search(r"^#+ .*check your understanding.*$", cell, re.I | re.M)
        if heading:                                   # a numbered list: each item needs its answer
            part = cell[heading.end():]
            starts = [m for m in re.finditer(r"^(\d+)\.\s", part, re.M)]
            items = [(m.group(1), part[m.start():(starts[k + 1].start() if k + 1 < len(starts) else len(part))])
                     for k, m in enumerate(starts)]
            for number, item in items:
                if "<details>" not in item:
                    problems.append(f"question {number} has no <details> answer")
            if not items and "<details>" not in part:
                problems.append("the check-your-understanding section has no <details> answer")
        elif "<details>" not in cell:                 # an inline question in the text
            problems.append(f"inline question without <details>: {cell[:60]!r}")
    return problems


# ----------------------------------------------------------------------------- the checkers

def test_table_rows_and_gloss_checker_on_examples():
    g = _glossary()
    assert table_rows("| English | 笔记 | d2l |\n|---|---|---|\n| stride | 步长 | 步幅 |\n") == [["stride", "步长", "步幅"]]
    assert gloss_problems("the **stride** (步长) and filters (滤波器)", g) == []
    assert gloss_problems("width, height and depth (宽度、高度和深度)", g) == []
    bad = gloss_problems("L2-norm pooling (L2 范式池化) and the stride (步幅)", g)
    assert len(bad) == 2 and "L2范数池化" in bad[0] and "步长" in bad[1]
    assert gloss_problems("no English before (步幅)", g) == []           # "before" is no glossary term
    assert gloss_problems("changes the depth (up or down, 升降维)", g) == []   # an explanation, not a gloss


def test_question_checker_on_examples():
    good = "## Check your understanding\n\n1. Why?\n\n<details>yes</details>\n2. How?\n<details>so</details>"
    assert question_problems([good]) == []
    bad = "## Check your understanding\n\n1. Why?\n\n<details>yes</details>\n2. How?\n"
    assert question_problems([bad]) == ["question 2 has no <details> answer"]
    assert question_problems(["**Check your understanding.** Why?"])


# ----------------------------------------------------------------------------- every notebook

@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_opens_with_a_glossary_table_that_matches_the_csv(path):
    cells = _markdown(path)
    cell = _glossary_cell(cells)
    assert cell is not None, f"{path.name}: no 术语表 (a markdown table under a heading with 术语表)"
    assert cells.index(cell) <= 2, f"{path.name}: the 术语表 belongs at the top, after the introduction"
    glossary = _glossary()
    rows = table_rows(cell)
    assert len(rows) >= 8, f"{path.name}: the 术语表 has only {len(rows)} rows"
    for row in rows:
        assert len(row) >= 3, f"{path.name}: 术语表 row {row} needs English | notes | d2l-zh"
        english, zh, d2l = row[0], row[1], row[2]
        assert english.lower() in glossary, f"{path.name}: {english!r} is not in assets/glossary.csv"
        entry = glossary[english.lower()]
        assert zh == entry["zh"], f"{path.name}: {english}: {zh} in the 术语表, {entry['zh']} in the glossary"
        assert (d2l if d2l not in EMPTY else "") == entry["d2l_zh"], \
            f"{path.name}: {english}: d2l-zh {d2l!r} in the 术语表, {entry['d2l_zh']!r} in the glossary"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_glosses_use_the_glossary_chinese_term(path):
    cells = _markdown(path)
    table = _glossary_cell(cells)
    glossary = _glossary()
    problems = [p for c in cells if c is not table for p in gloss_problems(c, glossary)]
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_ends_with_a_chinese_summary(path):
    cells = _markdown(path)
    assert any(re.search(r"^#+ .*中文小结", c, re.M) for c in cells[-3:]), f"{path.name}: no 中文小结 at the end"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_question_has_an_answer_to_reveal(path):
    problems = question_problems(_markdown(path))
    assert not problems, f"{path.name}: " + "; ".join(problems)
