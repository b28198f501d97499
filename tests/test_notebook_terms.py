"""No notebook writes a glossary term in a shortened form (全局平均池 for 全局平均池化), in glosses
or in Chinese text such as the 中文小结 (tests/test_glossary_notebooks.py checks the glosses
"English term (中文)" against assets/glossary.csv)."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _glossary_zh() -> list[str]:
    with open(ROOT / "assets" / "glossary.csv", encoding="utf-8", newline="") as f:
        return [r["zh"] for r in csv.DictReader(f)]


def shortened_terms(text: str, terms: list[str]) -> list[str]:
    """Terms ending in 化 (池化, 归一化) that `text` also writes without the 化."""
    return [f"{t[:-1]} instead of {t}" for t in terms
            if t.endswith("化") and len(t) > 2 and re.search(re.escape(t[:-1]) + "(?!化)", text)]


def test_the_check_finds_a_shortened_term():
    terms = _glossary_zh()
    assert "全局平均池 instead of 全局平均池化" in shortened_terms("GoogLeNet 用全局平均池而不是全连接层", terms)
    assert shortened_terms("全局平均池化与批量归一化", terms) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_notebook_shortens_a_glossary_term(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert shortened_terms(text, _glossary_zh()) == [], path.name
