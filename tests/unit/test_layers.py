"""The front ends share core functions, never each other: tui/, core/ and detach.py import
nothing from cli/ (ARCHITECTURE.md, Part 2 sketch), checked on the source's import statements."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "queuectl"


def imported_modules(path: Path) -> set[str]:
    """Absolute dotted names of everything `path` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found |= {name} | {f"{name}.{alias.name}" for alias in node.names}
    return found


def test_tui_core_and_detach_never_import_cli():
    sources = [*(PACKAGE / "tui").glob("*.py"), *(PACKAGE / "core").glob("*.py"),
               PACKAGE / "detach.py"]
    offenders = {str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p)
                                                     if m.startswith("queuectl.cli"))
                 for p in sources}
    assert {p: m for p, m in offenders.items() if m} == {}


def test_the_checker_sees_a_relative_import_of_cli():
    assert "queuectl.cli.context" in imported_modules(PACKAGE / "cli" / "inspect_core.py")
