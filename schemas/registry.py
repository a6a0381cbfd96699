"""Where schema ids come from: a Confluent registry, or the local files.

Serializers and deserializers depend only on the :class:`SchemaRegistry`
protocol. :class:`LocalRegistry` serves the checked-in schemas with ids that
are the same in every process on every machine, because they are read from
``released/ids.json`` (written once per release, never changed); a current
schema that differs from its newest release (a change under development) gets
a deterministic id derived from its SHA-256, at or above
:data:`UNRELEASED_ID_BASE`, so it cannot collide with a released id. The
REST client for a real registry lives in :mod:`schemas.rest_registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from schemas import catalog
from schemas.compat import check_backward_transitive
from schemas.errors import ConfigurationError, SchemaRegistryError

UNRELEASED_ID_BASE = 1_000_000
_MAX_ID = 2**31 - 1

# Confluent's error codes, reused so callers handle both registries alike.
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
INCOMPATIBLE_SCHEMA = 409


@dataclass(frozen=True)
class RegisteredSchema:
    """One version of one subject."""

    subject: str
    version: int
    schema_id: int
    schema: dict[str, Any]


class SchemaRegistry(Protocol):
    """What the serde layer needs from a schema registry (Confluent's REST semantics)."""

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register ``schema`` under ``subject`` (idempotent); return its global id."""
        ...

    def get_by_id(self, schema_id: int) -> dict[str, Any]:
        """The schema with that id; SchemaRegistryError with http_status 404 if unknown."""
        ...

    def subjects(self) -> list[str]:
        """Every subject the registry knows."""
        ...

    def versions(self, subject: str) -> list[int]:
        """Version numbers of a subject, ascending."""
        ...

    def get_version(self, subject: str, version: int) -> RegisteredSchema:
        """One version of a subject."""
        ...

    def latest(self, subject: str) -> tuple[int, int, dict[str, Any]]:
        """(version, id, schema) of the newest version of a subject."""
        ...

    def check_compatibility(self, subject: str, schema: Mapping[str, Any]) -> list[str]:
        """Why ``schema`` may not be registered under ``subject`` (empty = compatible)."""
        ...


def unreleased_id(schema: Mapping[str, Any]) -> int:
    """The deterministic id of a schema that has no entry in ids.json."""
    span = _MAX_ID - UNRELEASED_ID_BASE
    return UNRELEASED_ID_BASE + int(catalog.schema_digest(schema)[:15], 16) % span


class LocalRegistry:
    """A registry held in memory, seeded from a schemas directory.

    Released versions come with their ids from ``released/ids.json``; each
    catalog schema's current file is then registered like a client would,
    so a compatible change under development is served as the next version
    (an incompatible one is left out and fails at ``register``, as Confluent
    would answer 409).
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._by_id: dict[int, dict[str, Any]] = {}
        self._subjects: dict[str, list[RegisteredSchema]] = {}
        self._seed(directory)

    def _seed(self, directory: Path | None) -> None:
        ids = {(r.name, r.version): r.schema_id for r in catalog.releases(directory=directory)}
        for subject, name in catalog.SUBJECTS.items():
            for version in catalog.released_versions(name, directory=directory):
                if (name, version) not in ids:
                    raise SchemaRegistryError(f"released {name} v{version} has no id in ids.json")
                schema = catalog.load_schema(name, version, directory=directory)
                self._add(subject, schema, ids[name, version])
        for subject, name in catalog.SUBJECTS.items():
            try:
                self.register(subject, catalog.load_schema(name, directory=directory))
            except SchemaRegistryError as exc:
                if exc.error_code != INCOMPATIBLE_SCHEMA:
                    raise

    def _add(self, subject: str, schema: dict[str, Any], schema_id: int) -> RegisteredSchema:
        known = self._subjects.setdefault(subject, [])
        entry = RegisteredSchema(subject, len(known) + 1, schema_id, schema)
        known.append(entry)
        self._by_id[schema_id] = schema
        return entry

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Return the id of ``schema``, adding it as a new version when it is compatible."""
        digest = catalog.schema_digest(schema)
        for entry in self._subjects.get(subject, []):
            if catalog.schema_digest(entry.schema) == digest:
                return entry.schema_id
        problems = self.check_compatibility(subject, schema)
        if problems:
            raise SchemaRegistryError(
                f"schema incompatible with subject {subject}: " + "; ".join(problems),
                http_status=409,
                error_code=INCOMPATIBLE_SCHEMA,
            )
        same = next(
            (sid for sid, s in self._by_id.items() if catalog.schema_digest(s) == digest), None
        )
        return self._add(subject, dict(schema), same or unreleased_id(schema)).schema_id

    def get_by_id(self, schema_id: int) -> dict[str, Any]:
        """The schema with that id (a copy), or a 404 SchemaRegistryError."""
        if schema_id not in self._by_id:
            raise SchemaRegistryError(f"schema id {schema_id} not found", 404, SCHEMA_NOT_FOUND)
        return dict(self._by_id[schema_id])

    def subjects(self) -> list[str]:
        """Subjects in catalog order."""
        return list(self._subjects)

    def versions(self, subject: str) -> list[int]:
        """Version numbers of ``subject``."""
        return [entry.version for entry in self._entries(subject)]

    def get_version(self, subject: str, version: int) -> RegisteredSchema:
        """One version of ``subject``, or a 404 SchemaRegistryError."""
        for entry in self._entries(subject):
            if entry.version == version:
                return entry
        raise SchemaRegistryError(f"{subject} has no version {version}", 404, VERSION_NOT_FOUND)

    def latest(self, subject: str) -> tuple[int, int, dict[str, Any]]:
        """(version, id, schema) of the newest version of ``subject``."""
        entry = self._entries(subject)[-1]
        return entry.version, entry.schema_id, dict(entry.schema)

    def check_compatibility(self, subject: str, schema: Mapping[str, Any]) -> list[str]:
        """BACKWARD_TRANSITIVE problems of ``schema`` against every version of ``subject``."""
        known = {entry.version: entry.schema for entry in self._subjects.get(subject, [])}
        return check_backward_transitive(schema, known)

    def _entries(self, subject: str) -> list[RegisteredSchema]:
        entries = self._subjects.get(subject)
        if not entries:
            raise SchemaRegistryError(f"subject {subject} not found", 404, SUBJECT_NOT_FOUND)
        return entries


def registry_from_url(url: str | None, *, directory: Path | None = None) -> SchemaRegistry:
    """A REST client when ``url`` is an http(s) URL, else the local registry.

    ``url`` is ``Settings.schema_registry_url`` unwrapped (it may hold a
    password, ``https://user:pass@host``); empty or None means local.
    """
    if not url:
        return LocalRegistry(directory)
    if url.startswith(("http://", "https://")):
        from schemas.rest_registry import RestSchemaRegistry  # noqa: PLC0415 - only when used

        return RestSchemaRegistry(url)
    raise ConfigurationError("schema registry URL must start with http:// or https://")
