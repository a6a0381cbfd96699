"""LocalRegistry: ids that never move, Confluent-like answers, deterministic dev ids."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas import catalog
from schemas.errors import ConfigurationError, SchemaRegistryError
from schemas.registry import (
    INCOMPATIBLE_SCHEMA,
    SCHEMA_NOT_FOUND,
    UNRELEASED_ID_BASE,
    LocalRegistry,
    registry_from_url,
    unreleased_id,
)
from schemas.rest_registry import RestSchemaRegistry

#: The checked-in ids (schemas/released/ids.json). Changing one breaks every
#: message already written with it: this test must fail if anyone tries.
EXPECTED_IDS = {
    ("regsosek.submissions-value", 1): 1,
    ("regsosek.submissions-value", 2): 2,
    ("regsosek.enumerator-events-value", 1): 3,
    ("regsosek.enumerator-events-value", 2): 7,
    ("regsosek.submissions.valid-value", 1): 4,
    ("regsosek.submissions.rejected-value", 1): 5,
    ("regsosek.submissions.rejected-value", 2): 6,
    ("regsosek.reviews-value", 1): 8,
}


def _ids(registry: LocalRegistry) -> dict[tuple[str, int], int]:
    return {
        (subject, version): registry.get_version(subject, version).schema_id
        for subject in registry.subjects()
        for version in registry.versions(subject)
    }


def test_ids_are_stable_across_instances_and_match_the_checked_in_ones() -> None:
    catalog.clear_cache()
    first = _ids(LocalRegistry())
    catalog.clear_cache()
    second = _ids(LocalRegistry())
    assert first == second == EXPECTED_IDS


def test_register_is_idempotent_and_returns_the_released_id() -> None:
    registry = LocalRegistry()
    subject = "regsosek.submissions-value"
    assert registry.register(subject, catalog.load_schema("HouseholdSubmission")) == 2
    assert registry.register(subject, catalog.load_schema("HouseholdSubmission", 1)) == 1
    assert registry.versions(subject) == [1, 2]
    version, schema_id, schema = registry.latest(subject)
    assert (version, schema_id) == (2, 2)
    assert schema == catalog.load_schema("HouseholdSubmission")


def test_get_by_id_unknown_is_a_404_like_confluent() -> None:
    with pytest.raises(SchemaRegistryError) as caught:
        LocalRegistry().get_by_id(77)
    assert caught.value.http_status == 404
    assert caught.value.error_code == SCHEMA_NOT_FOUND
    assert caught.value.not_found


def test_incompatible_registration_is_refused_with_409() -> None:
    schema = catalog.load_schema("EnumeratorEvent")
    schema["fields"].append({"name": "battery", "type": "int", "doc": "percent"})
    with pytest.raises(SchemaRegistryError) as caught:
        LocalRegistry().register("regsosek.enumerator-events-value", schema)
    assert caught.value.http_status == 409
    assert caught.value.error_code == INCOMPATIBLE_SCHEMA
    assert "battery: field added without a default" in str(caught.value)


def _copy_schemas(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(
        catalog.SCHEMAS_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return target


def test_an_unreleased_compatible_change_gets_a_deterministic_id(tmp_path: Path) -> None:
    directory = _copy_schemas(tmp_path)
    path = directory / "EnumeratorEvent.avsc"
    path.write_text(
        path.read_text().replace(
            '"doc": "Id of the tablet."', '"doc": "Id of the tablet (IMEI or app install id)."'
        )
    )
    catalog.clear_cache()
    ids = [LocalRegistry(directory).latest("regsosek.enumerator-events-value")[1] for _ in range(2)]
    current = catalog.load_schema("EnumeratorEvent", directory=directory)
    assert ids[0] == ids[1] == unreleased_id(current) >= UNRELEASED_ID_BASE
    assert LocalRegistry(directory).versions("regsosek.enumerator-events-value") == [1, 2, 3]


def test_registry_from_url_chooses() -> None:
    assert isinstance(registry_from_url(None), LocalRegistry)
    assert isinstance(registry_from_url(""), LocalRegistry)
    rest = registry_from_url("https://user:secret@registry.example:8081/")
    assert isinstance(rest, RestSchemaRegistry)
    assert rest.base_url == "https://registry.example:8081"
    with pytest.raises(ConfigurationError):
        registry_from_url("kafka://broker:9092")
