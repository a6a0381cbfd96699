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
