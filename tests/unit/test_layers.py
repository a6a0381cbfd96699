"""The layer rules, written down once: which project package may import which.

Imports go downstream only. ``schemas`` holds the contracts and the reference
data (region master, enumeration frame) every layer may read; the rules
(``processors``), ClickHouse (``sinks``) and observation (``monitoring``) each
read those contracts and nothing of one another; ``streams`` is the wiring and
may import all of them. Tools outside the platform sit above it: ``simulator``
(a stand-in for the field apps) may import the platform, and ``benchmarks``
may import everything; no layer imports either (the ``regsosek`` CLI finds the
simulator's commands through entry points). ``tests`` is no layer: it may
import anything, and the benchmarks reuse its broker harness. Every import
counts, inside functions and under ``TYPE_CHECKING`` too: a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: package -> the project packages it may import.
LAYERS: dict[str, frozenset[str]] = {
    "schemas": frozenset(),
    "processors": frozenset({"schemas"}),
    "sinks": frozenset({"schemas"}),
    "monitoring": frozenset({"schemas"}),
    "streams": frozenset({"schemas", "processors", "sinks", "monitoring"}),
    "simulator": frozenset({"schemas", "processors", "sinks", "monitoring", "streams"}),
    "benchmarks": frozenset(
        {"schemas", "processors", "sinks", "monitoring", "streams", "simulator"}
    ),
}


def imported_packages(source: str) -> set[str]:
    """The project packages a module's source imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in LAYERS)
    return found


def violations(root: Path) -> list[str]:
    """``file: imports package`` for every import the rules forbid under ``root``."""
    found = []
    for package, allowed in LAYERS.items():
        for path in sorted((root / package).rglob("*.py")):
            for imported in sorted(imported_packages(path.read_text()) - allowed - {package}):
                found.append(f"{path.relative_to(root)}: imports {imported}")
    return found


def test_the_tree_follows_the_layer_rules() -> None:
    assert violations(ROOT) == []


def test_a_wrong_import_fails_the_check(tmp_path: Path) -> None:
    """The check is not vacuous: a sink that reaches into the wiring is named."""
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "sinks" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from streams.settings import Settings\n"
    )
    (tmp_path / "monitoring" / "lazy.py").write_text("def f():\n    import processors.pipeline\n")
    (tmp_path / "streams" / "fine.py").write_text("import sinks.rows\nimport monitoring.hooks\n")
    (tmp_path / "streams" / "upward.py").write_text(
        "def run():\n    from simulator.truth import GroundTruth\n"
    )
    (tmp_path / "simulator" / "fine.py").write_text("import streams.sdk\nimport processors\n")
    assert violations(tmp_path) == [
        "sinks/bad.py: imports streams",
        "monitoring/lazy.py: imports processors",
        "streams/upward.py: imports simulator",
    ]
