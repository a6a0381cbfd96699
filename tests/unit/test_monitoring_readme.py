"""The README's Monitoring section names every metric family the processes export.

Issue #7: the families come from the code (the worker's registry as
``instrument_worker`` builds it, Faust's sensor included, and the gateway's),
so a new metric without its README line fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.prometheus_harness import exported_families

ROOT = Path(__file__).resolve().parents[2]


def monitoring_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Monitoring\n(.*?)(?=^## )", readme, flags=re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## Monitoring' section"
    return match.group(1)


def test_monitoring_section_follows_tests() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", readme, flags=re.MULTILINE)
    assert headings.index("Monitoring") == headings.index("Tests") + 1


def test_every_exported_family_is_listed() -> None:
    section = monitoring_section()
    families = exported_families()
    assert len(families) > 40
    missing = sorted(name for name in families if f"`{name}`" not in section)
    assert not missing, f"README's Monitoring section lacks {missing}"


def test_listed_platform_families_exist() -> None:
    listed = set(re.findall(r"`(regsosek_[a-z0-9_]+)`", monitoring_section()))
    unknown = listed - set(exported_families())
    assert not unknown, f"README lists families nobody exports: {sorted(unknown)}"
