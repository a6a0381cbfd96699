"""Fixtures shared by the rule tests: the shipped region master (loaded once) and a context."""

from __future__ import annotations

import pytest

from processors.rules import RuleContext
from schemas.regions import RegionMaster, load_regions
from tests import builders as b


@pytest.fixture(scope="session")
def regions() -> RegionMaster:
    """All of Indonesia; ~0.5 s to load, so once per run."""
    return load_regions()


@pytest.fixture
def ctx(regions: RegionMaster) -> RuleContext:
    """The rules' context of tests/builders.py (fieldwork window, frame, Jember's centre)."""
    return b.rule_context(regions)
