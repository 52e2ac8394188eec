"""DECISIONS.md cites code as `path:lines` (`symbol`): each citation must still be true, i.e.
the symbol is on the first cited line (a definition, usually)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"`(queuectl/[\w/]+\.py):(\d+)(?:-(\d+))?`,?\s*\(?`([^`]+)`")


def citations() -> list[tuple[str, int, int, str]]:
    text = (ROOT / "DECISIONS.md").read_text()
    return [(path, int(first), int(last or first), symbol)
            for path, first, last, symbol in CITATION.findall(text)]


def test_decisions_cites_code_by_line():
    assert len(citations()) >= 15


def test_every_cited_symbol_is_on_its_lines():
    wrong = []
    for path, first, last, symbol in citations():
        lines = (ROOT / path).read_text().splitlines()
        if last > len(lines) or symbol not in lines[first - 1]:
            wrong.append(f"{path}:{first} does not show {symbol!r}")
    assert wrong == []
