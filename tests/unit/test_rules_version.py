"""The rules version: stable for the same rules, different when a threshold or a rule changes."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from processors.rules import RuleContext
from processors.rules.version import RULE_MODULES, RULES_VERSION, rules_version


def test_the_same_rules_give_the_same_version(ctx: RuleContext) -> None:
    first = rules_version(ctx)
    assert first == rules_version(replace(ctx))
    assert first.startswith(f"{RULES_VERSION}+")
    assert len(first.removeprefix(f"{RULES_VERSION}+")) == 12


def test_the_clock_and_the_nik_index_do_not_change_it(ctx: RuleContext) -> None:
    later = replace(ctx, now=ctx.now + timedelta(days=3), seen_niks=None)
    assert rules_version(later) == rules_version(ctx)


def test_each_threshold_of_the_context_changes_it(ctx: RuleContext) -> None:
    variants = [
        ctx,
        replace(ctx, fieldwork_end=ctx.fieldwork_end - timedelta(days=1)),
        replace(ctx, fieldwork_start=ctx.fieldwork_start + timedelta(days=1)),
        replace(ctx, min_interview_seconds=ctx.min_interview_seconds + 60),
        replace(ctx, max_gps_distance_km=ctx.max_gps_distance_km + 1),
        replace(ctx, regency_centroids={}),
    ]
    assert len({rules_version(v) for v in variants}) == len(variants)


def _module(path: Path, text: str) -> ModuleType:
    """A module named ``fake_rule`` whatever the file: only its source differs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("fake_rule", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_constant_edited_in_a_rule_module_changes_it(ctx: RuleContext, tmp_path: Path) -> None:
    """A limit or a code list written in a rule's code is part of the version."""
    strict = _module(tmp_path / "strict" / "rule.py", "MAX_HEAD_AGE = 100\n")
    loose = _module(tmp_path / "loose" / "rule.py", "MAX_HEAD_AGE = 110\n")
    shipped = rules_version(ctx)
    with_strict = rules_version(ctx, modules=(*RULE_MODULES, strict))
    with_loose = rules_version(ctx, modules=(*RULE_MODULES, loose))
    assert len({shipped, with_strict, with_loose}) == 3
