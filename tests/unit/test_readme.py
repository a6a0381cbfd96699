"""The README is the newcomer's manual: its commands and settings table must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        Settings.env_name(name)
        for name in Settings.model_fields
        if f"`{Settings.env_name(name)}`" not in README
    ]
    assert not missing, f"README's configuration table lacks {missing}"


def test_documented_settings_exist() -> None:
    documented = set(re.findall(r"^\| `(REGSOSEK_[A-Z_]+)`", README, flags=re.MULTILINE))
    known = {Settings.env_name(name) for name in Settings.model_fields}
    assert documented <= known, f"README documents unknown settings {documented - known}"


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test", "setup", "help"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _architecture_folders() -> set[str]:
    """The first column of the README's table of top-level folders, as names."""
    table = README.split("| folder | stage | may import |", 1)[1].split("\n\n", 1)[0]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        names.update(re.findall(r"`([^`]+)`", row.split("|")[1]))
    return names


#: Top-level folders that builds and tools make, not part of the project.
GENERATED = ("build", "dist", "htmlcov", "node_modules")


def test_the_architecture_table_matches_the_folders() -> None:
    documented = _architecture_folders()
    folders = {
        f"{path.name}/"
        for path in ROOT.iterdir()
        if path.is_dir()
        and not path.name.startswith((".", "_"))
        and not path.name.endswith(".egg-info")
        and path.name not in GENERATED
    }
    assert folders <= documented, f"README's architecture table lacks {folders - documented}"
    missing = sorted(name for name in documented if not (ROOT / name).exists())
    assert not missing, f"README's architecture table names what is not there: {missing}"
