"""``regsosek schemas``: check passes on the shipped files and fails on a breaking change."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from schemas import catalog
from streams.cli import cli
from tests.unit.test_schema_rest_registry import FakeConfluentRegistry


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["schemas", *args], env=env or {}, catch_exceptions=False)


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "schemas"
    shutil.copytree(
        catalog.SCHEMAS_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    yield target
    catalog.clear_cache()


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_check_passes_on_the_shipped_schemas() -> None:
    result = run("check")
    assert result.exit_code == 0, result.output
    assert "= released v2" in result.output


def test_check_fails_on_an_incompatible_change(schemas_copy: Path) -> None:
    def break_nik(schema: dict[str, Any]) -> None:
        members = next(f for f in schema["fields"] if f["name"] == "members")
        nik = next(f for f in members["type"]["items"]["fields"] if f["name"] == "nik")
        nik["type"] = "long"

    edit_json(schemas_copy / "HouseholdSubmission.avsc", break_nik)
    result = run("check", "--dir", str(schemas_copy))
    assert result.exit_code != 0
    assert (
        "HouseholdSubmission: v1: members[].nik: type changed from string to long" in result.output
    )
    assert "ValidatedSubmission: v1: submission.members[].nik" in result.output
    assert "error:" in result.output and "schema problem(s)" in result.output


def test_check_fails_on_a_new_field_without_default(schemas_copy: Path) -> None:
    def add_field(schema: dict[str, Any]) -> None:
        schema["fields"].append({"name": "battery_pct", "type": "int", "doc": "Battery level."})

    edit_json(schemas_copy / "EnumeratorEvent.avsc", add_field)
    result = run("check", "--dir", str(schemas_copy))
    assert result.exit_code != 0
    assert "EnumeratorEvent: v1: battery_pct: field added without a default" in result.output


def test_check_fails_when_a_released_file_was_edited(schemas_copy: Path) -> None:
    released = schemas_copy / "released" / "Rejection" / "v1.avsc"
    released.write_text(released.read_text().replace("Topic the message", "Topic this message"))
    result = run("check", "--dir", str(schemas_copy))
    assert result.exit_code != 0
    assert "released/Rejection/v1.avsc changed after release" in result.output


def test_release_a_compatible_change_then_check(schemas_copy: Path) -> None:
    def add_field(schema: dict[str, Any]) -> None:
        schema["fields"].append(
            {"name": "battery_pct", "type": ["null", "int"], "default": None, "doc": "Battery %."}
        )

    edit_json(schemas_copy / "EnumeratorEvent.avsc", add_field)
    before = run("check", "--dir", str(schemas_copy))
    assert before.exit_code == 0, before.output
    assert "regsosek schemas release EnumeratorEvent" in before.output

    ids = json.loads((schemas_copy / "released" / "ids.json").read_text())["schemas"]
    version = max(map(int, ids["EnumeratorEvent"])) + 1
    next_id = max(entry["id"] for versions in ids.values() for entry in versions.values()) + 1
    released = run("release", "EnumeratorEvent", "--dir", str(schemas_copy))
    assert f"released EnumeratorEvent v{version} as id {next_id}" in released.output
    after = run("check", "--dir", str(schemas_copy))
    assert after.exit_code == 0, after.output
    assert "release EnumeratorEvent" not in after.output
    again = run("release", "EnumeratorEvent", "--dir", str(schemas_copy))
    assert again.exit_code != 0
    assert "nothing to release" in again.output


def test_list_local() -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "local registry" in result.output
    lines = [line for line in result.output.splitlines() if "regsosek.submissions-value" in line]
    assert len(lines) == 2


def test_list_asks_the_rest_registry_when_configured() -> None:
    fake = FakeConfluentRegistry().start()
    try:
        fake.answer("POST", "/subjects/x-value/versions", {"schema": '{"type": "string"}'})
        result = run("list", env={"REGSOSEK_SCHEMA_REGISTRY_URL": fake.url})
    finally:
        fake.stop()
    assert result.exit_code == 0, result.output
    assert fake.url in result.output
    assert "x-value" in result.output
    assert ("GET", "/subjects") in fake.requests
