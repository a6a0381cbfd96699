"""Releasing schema versions and checking that a schemas directory is safe to ship.

``regsosek schemas check`` (and CI through it) runs :func:`check_directory`:
house rules (:mod:`schemas.lint`), released files unchanged since release
(their SHA-256 in ``released/ids.json``), and every current schema able to
read data written with every released version (BACKWARD_TRANSITIVE). A
current schema may differ from its newest release only by a compatible
change, which :func:`release` then freezes as the next version with the next
free id. Files are the only state: no registry is needed to check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from schemas import catalog
from schemas.compat import check_backward_transitive
from schemas.errors import IncompatibleSchemaError, SchemaError
from schemas.lint import lint_schema

IDS_ABOUT = (
    "Registry ids of released schema versions, read by LocalRegistry. Append one entry "
    "per release (regsosek schemas release NAME); never change or reuse an entry."
)


@dataclass
class SchemaReport:
    """The verdict on one catalog schema."""

    name: str
    subject: str
    released: list[int] = field(default_factory=list)
    status: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing stops this schema from shipping."""
        return not self.problems


def check_directory(directory: Path | None = None) -> list[SchemaReport]:
    """One report per catalog schema, plus problems of ids.json as a whole."""
    catalog.clear_cache()
    ids_problems = _ids_problems(directory)
    reports = [_check_one(name, directory) for name in catalog.NAMES]
    if ids_problems:
        reports[0].problems[:0] = ids_problems
    return reports


def _check_one(name: str, directory: Path | None) -> SchemaReport:
    report = SchemaReport(name, catalog.subject_for(name))
    try:
        current = catalog.load_schema(name, directory=directory)
        report.released = catalog.released_versions(name, directory=directory)
        released = {v: catalog.load_schema(name, v, directory=directory) for v in report.released}
    except SchemaError as exc:
        report.problems.append(str(exc))
        return report
    report.problems += lint_schema(current)
    report.problems += _release_problems(name, released, directory)
    report.problems += check_backward_transitive(current, released)
    report.status = _status(current, released)
    return report


def _status(current: dict[str, object], released: dict[int, dict[str, object]]) -> str:
    if not released:
        return "never released"
    newest = max(released)
    if catalog.schema_digest(current) == catalog.schema_digest(released[newest]):
        return f"= released v{newest}"
    return f"unreleased change after v{newest}"


def _release_problems(
    name: str, released: dict[int, dict[str, object]], directory: Path | None
) -> list[str]:
    recorded = {r.version: r for r in catalog.releases(directory=directory) if r.name == name}
    problems = []
    if sorted(released) != list(range(1, len(released) + 1)):
        problems.append(f"released versions of {name} must be v1..vN without gaps")
    for version, schema in released.items():
        entry = recorded.get(version)
        if entry is None:
            problems.append(f"released/{name}/v{version}.avsc has no entry in ids.json")
        elif entry.sha256 != catalog.schema_digest(schema):
            problems.append(
                f"released/{name}/v{version}.avsc changed after release (sha256 differs "
                "from ids.json); released files are frozen, change the current schema instead"
            )
    problems += [
        f"ids.json lists {name} v{version} but its file is missing"
        for version in recorded
        if version not in released
    ]
    return problems


def _ids_problems(directory: Path | None) -> list[str]:
    try:
        entries = catalog.releases(directory=directory)
    except (SchemaError, KeyError, TypeError, ValueError) as exc:
        return [f"released/{catalog.IDS_FILE} is malformed: {exc}"]
    seen: dict[int, str] = {}
    problems = []
    for entry in entries:
        label = f"{entry.name} v{entry.version}"
        if entry.schema_id in seen:
            problems.append(
                f"id {entry.schema_id} is used by both {seen[entry.schema_id]} and {label}"
            )
        seen[entry.schema_id] = label
    return problems


def release(name: str, directory: Path | None = None) -> catalog.Release:
    """Freeze the current schema ``name`` as its next released version, with the next id.

    Refuses when the schema is incompatible with a released version or equal
    to the newest one. Writes ``released/<name>/v<N>.avsc`` and ``ids.json``.
    """
    catalog.clear_cache()
    root = (directory or catalog.SCHEMAS_DIR).resolve()
    current = catalog.load_schema(name, directory=root)
    versions = catalog.released_versions(name, directory=root)
    released = {v: catalog.load_schema(name, v, directory=root) for v in versions}
    problems = lint_schema(current) + check_backward_transitive(current, released)
    if problems:
        raise IncompatibleSchemaError(f"cannot release {name}: " + "; ".join(problems))
    if versions and catalog.schema_digest(current) == catalog.schema_digest(
        released[max(versions)]
    ):
        raise SchemaError(f"{name} is unchanged since v{max(versions)}: nothing to release")
    existing = catalog.releases(directory=root)
    entry = catalog.Release(
        name,
        max(versions, default=0) + 1,
        max((r.schema_id for r in existing), default=0) + 1,
        catalog.schema_digest(current),
    )
    path = root / catalog.RELEASED_DIR / name / f"v{entry.version}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(catalog.format_schema(current), encoding="utf-8")
    write_ids([*existing, entry], root)
    catalog.clear_cache()
    return entry


def write_ids(entries: list[catalog.Release], directory: Path) -> None:
    """Write ``released/ids.json`` from scratch, grouped by schema, versions ascending."""
    schemas: dict[str, dict[str, dict[str, object]]] = {}
    for entry in sorted(entries, key=lambda r: (r.name, r.version)):
        schemas.setdefault(entry.name, {})[str(entry.version)] = {
            "id": entry.schema_id,
            "sha256": entry.sha256,
        }
    path = directory / catalog.RELEASED_DIR / catalog.IDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"about": IDS_ABOUT, "schemas": schemas}, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
