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


def moved(path: str, first: int, symbol: str) -> int | None:
    """The line now holding `symbol` nearest to where it was cited, or None if it is gone."""
    lines = (ROOT / path).read_text().splitlines()
    hits = [n for n, line in enumerate(lines, 1) if symbol in line]
    return min(hits, key=lambda n: abs(n - first)) if hits else None


if __name__ == "__main__":  # python tests/unit/test_decisions.py: re-point moved citations
    text = (ROOT / "DECISIONS.md").read_text()

    def repoint(match: re.Match) -> str:
        path, first, last, symbol = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        now = moved(path, first, symbol)
        if now is None or now == first:
            return match.group(0)
        lines = f"{now}" + (f"-{int(last) + now - first}" if last else "")
        return match.group(0).replace(f"{path}:{first}" + (f"-{last}" if last else ""),
                                      f"{path}:{lines}", 1)

    (ROOT / "DECISIONS.md").write_text(CITATION.sub(repoint, text))
