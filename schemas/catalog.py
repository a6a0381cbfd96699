"""The schema files: current ``.avsc`` sources, released versions and their ids.

Layout of a schemas directory (the package directory by default)::

    <Name>.avsc                   current schema, the source of truth, edited by hand
    released/<Name>/v<N>.avsc     frozen, self-contained copies of what was released
    released/ids.json             the registry id and SHA-256 of every released version

A current file may refer to another catalog schema by name (ValidatedSubmission
nests HouseholdSubmission); loading splices that schema in, so what callers get
is always self-contained, as a schema registry needs it. Released files are
stored already spliced, so a later change to HouseholdSubmission cannot
silently change a released ValidatedSubmission.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema

from schemas.avrotypes import NAMED_KINDS, PRIMITIVES, short_name
from schemas.errors import SchemaError

SCHEMAS_DIR = Path(__file__).resolve().parent
RELEASED_DIR = "released"
IDS_FILE = "ids.json"

#: Every schema of the catalog, upstream first.
NAMES = (
    "HouseholdSubmission",
    "EnumeratorEvent",
    "ValidatedSubmission",
    "Rejection",
    "ReviewDecision",
)

#: Confluent TopicNameStrategy subjects ("<topic>-value") and the schema each carries.
SUBJECTS: Mapping[str, str] = {
    "regsosek.submissions-value": "HouseholdSubmission",
    "regsosek.enumerator-events-value": "EnumeratorEvent",
    "regsosek.submissions.valid-value": "ValidatedSubmission",
    "regsosek.submissions.rejected-value": "Rejection",
    "regsosek.reviews-value": "ReviewDecision",
}

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True)
class Release:
    """One released schema version and the registry id it was given."""

    name: str
    version: int
    schema_id: int
    sha256: str


def subject_for(name: str) -> str:
    """The subject a schema is registered under (inverse of :data:`SUBJECTS`)."""
    for subject, schema_name in SUBJECTS.items():
        if schema_name == name:
            return subject
    raise SchemaError(f"no subject carries schema {name!r}")


def load_schema(
    name: str, version: int | None = None, *, directory: Path | None = None
) -> dict[str, Any]:
    """The raw JSON schema: current when ``version`` is None, else that released version.

    A fresh copy each call, so a caller that edits it cannot corrupt the cache.
    """
    return copy.deepcopy(_load(_dir(directory), name, version))


def parsed_schema(
    name: str, version: int | None = None, *, directory: Path | None = None
) -> dict[str, Any]:
    """The fastavro-parsed schema, parsed once per process. Do not mutate it."""
    return _parsed(_dir(directory), name, version)


def released_versions(name: str, *, directory: Path | None = None) -> list[int]:
    """Released version numbers of ``name``, ascending (empty when never released)."""
    folder = _dir(directory) / RELEASED_DIR / name
    if not folder.is_dir():
        return []
    found = (_VERSION_FILE.match(path.name) for path in folder.iterdir())
    return sorted(int(match.group(1)) for match in found if match)


def releases(*, directory: Path | None = None) -> list[Release]:
    """Every entry of ``released/ids.json``, ordered by schema id."""
    path = _dir(directory) / RELEASED_DIR / IDS_FILE
    if not path.exists():
        return []
    data = _read_json(path)
    found = [
        Release(name, int(version), int(entry["id"]), str(entry["sha256"]))
        for name, versions in data.get("schemas", {}).items()
        for version, entry in versions.items()
    ]
    return sorted(found, key=lambda release: release.schema_id)


def canonical_json(schema: Any) -> str:
    """One compact, key-sorted JSON text: equal schemas give equal text."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def schema_digest(schema: Any) -> str:
    """SHA-256 of :func:`canonical_json`; docs and defaults count, as they are part of a release."""
    return hashlib.sha256(canonical_json(schema).encode()).hexdigest()


def format_schema(schema: Any) -> str:
    """Pretty JSON with short lists of scalars (symbols, codes) kept on one line."""
    text = json.dumps(schema, indent=2, ensure_ascii=False)
    scalar_list = re.compile(
        r"\[\s*((?:(?:\"[^\"\n]*\"|-?\d+)\s*,\s*)*(?:\"[^\"\n]*\"|-?\d+))\s*\]"
    )
    return scalar_list.sub(lambda m: "[" + re.sub(r"\s*,\s*", ", ", m.group(1)) + "]", text) + "\n"


def form_codes(enum_name: str, schema_name: str = "HouseholdSubmission") -> dict[str, int]:
    """Symbol -> the questionnaire's numeric code, for an enum of a current schema.

    Enums carry their form codes in a ``form_codes`` attribute parallel to
    ``symbols`` (and in their doc), so analysts and rules can map back.
    """
    found = _find_enum(load_schema(schema_name), enum_name)
    if found is None or "form_codes" not in found:
        raise SchemaError(f"{schema_name} has no enum {enum_name!r} with form codes")
    return dict(zip(found["symbols"], found["form_codes"], strict=True))


def clear_cache() -> None:
    """Forget loaded files: for commands that write schema files and read them back."""
    _load.cache_clear()
    _parsed.cache_clear()


def _dir(directory: Path | None) -> Path:
    return (directory or SCHEMAS_DIR).resolve()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"schema file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path}: not valid JSON: {exc}") from exc


@lru_cache(maxsize=64)
def _load(directory: Path, name: str, version: int | None) -> dict[str, Any]:
    if version is not None:
        loaded = _read_json(directory / RELEASED_DIR / name / f"v{version}.avsc")
    else:
        loaded = _splice(_read_json(directory / f"{name}.avsc"), directory, {name}, set())
    if not isinstance(loaded, dict):
        raise SchemaError(f"{name}: a schema file must hold a JSON object")
    return loaded


@lru_cache(maxsize=64)
def _parsed(directory: Path, name: str, version: int | None) -> dict[str, Any]:
    try:
        parsed = parse_schema(_load(directory, name, version))
    except Exception as exc:  # fastavro raises several types for malformed schemas
        raise SchemaError(f"{name} v{version or 'current'}: invalid Avro schema: {exc}") from exc
    if not isinstance(parsed, dict):
        raise SchemaError(f"{name}: a catalog schema must be a record")
    return parsed


def _splice(node: Any, directory: Path, loading: set[str], defined: set[str]) -> Any:
    """Replace the first reference to another catalog schema by its full definition."""
    if isinstance(node, str):
        short = short_name(node)
        if node in PRIMITIVES or short in defined or short not in NAMES or short in loading:
            return node
        spliced = _splice(
            _read_json(directory / f"{short}.avsc"), directory, loading | {short}, defined
        )
        return spliced
    if isinstance(node, list):
        return [_splice(branch, directory, loading, defined) for branch in node]
    if not isinstance(node, dict):
        return node
    is_named = isinstance(node.get("type"), str) and node["type"] in NAMED_KINDS
    if is_named:
        defined.add(short_name(str(node.get("name", ""))))
    out = dict(node)
    for key in ("type", "items", "values"):
        if key in out and not (key == "type" and is_named):
            out[key] = _splice(out[key], directory, loading, defined)
    if "fields" in out:
        out["fields"] = [_splice(fld, directory, loading, defined) for fld in out["fields"]]
    return out


def _find_enum(node: Any, enum_name: str) -> dict[str, Any] | None:
    if isinstance(node, list):
        return next((hit for b in node if (hit := _find_enum(b, enum_name)) is not None), None)
    if not isinstance(node, dict):
        return None
    if node.get("type") == "enum" and short_name(str(node.get("name"))) == enum_name:
        return node
    children = [node.get("type"), node.get("items"), node.get("values"), *node.get("fields", [])]
    return next(
        (hit for child in children if (hit := _find_enum(child, enum_name)) is not None), None
    )
