"""Pre-send validation: every way a record misses its schema, with field paths.

fastavro's writer stops at the first bad value with a message that names no
field; a field app that gets "int is required" has nothing to fix. Here the
whole record is walked and every problem is reported as a :class:`FieldError`
with a path such as ``members[2].nik`` (list indexes are 0-based), so the
SDK and the gateway can answer with all mistakes at once. Pure: no I/O, no
fastavro; the rules of the questionnaire (skips, ranges of items) live in the
processors, this checks only what the schema itself says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.avrotypes import (
    INT32,
    INT64,
    IndexedSchema,
    describe,
    index,
    kind_of,
    logical_type,
    non_null_branches,
    show_value,
)

MISSING = "missing required field"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem of one field; ``path`` is empty for the record itself."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path or '(record)'}: {self.problem}"


def join(path: str, name: str) -> str:
    """Extend a field path: ``location`` + ``village_code`` -> ``location.village_code``."""
    return f"{path}.{name}" if path else name


class RecordValidator:
    """Checks Python records (what fastavro writes) against one schema, indexed once.

    Build one per schema and reuse it: indexing the schema costs more than
    checking a record.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._schema: IndexedSchema = index(dict(schema))

    def validate(self, record: Any) -> list[FieldError]:
        """All problems of ``record``; an empty list means fastavro can write it."""
        errors: list[FieldError] = []
        self.check(self._schema.root, record, "", errors)
        return errors

    def check(self, node: Any, value: Any, path: str, errors: list[FieldError]) -> None:
        """Append the problems of ``value`` as an instance of ``node`` to ``errors``."""
        node = self._schema.deref(node)
        if isinstance(node, list):
            self._union(node, value, path, errors)
            return
        logical = logical_type(node)
        checker = _LOGICAL.get(logical or "") or _SIMPLE.get(kind_of(node))
        if checker is not None:
            problem = checker(value)
            if problem:
                errors.append(FieldError(path, problem))
            return
        complex_checker = getattr(self, f"_{kind_of(node)}", None)
        if complex_checker is None:
            errors.append(
                FieldError(path, f"unsupported schema type {describe(self._schema, node)}")
            )
            return
        complex_checker(node, value, path, errors)

    def _mismatch(self, node: Any, value: Any, path: str) -> FieldError:
        return FieldError(path, f"expected {describe(self._schema, node)}, got {show_value(value)}")

    def _union(self, node: list[Any], value: Any, path: str, errors: list[FieldError]) -> None:
        if value is None and "null" in node:
            return
        branches = non_null_branches(node)
        if len(branches) == 1:
            self.check(branches[0], value, path, errors)
            return
        attempts: list[list[FieldError]] = []
        for branch in branches:
            found: list[FieldError] = []
            self.check(branch, value, path, found)
            if not found:
                return
            attempts.append(found)
        deep = [found for found in attempts if any(err.path != path for err in found)]
        errors.extend(deep[0] if len(deep) == 1 else [self._mismatch(node, value, path)])

    def _record(
        self, node: dict[str, Any], value: Any, path: str, errors: list[FieldError]
    ) -> None:
        if not isinstance(value, Mapping):
            errors.append(self._mismatch(node, value, path))
            return
        known = set()
        for fld in node["fields"]:
            name = fld["name"]
            known.add(name)
            if name in value:
                self.check(fld["type"], value[name], join(path, name), errors)
            elif "default" not in fld:
                errors.append(FieldError(join(path, name), MISSING))
        errors.extend(
            FieldError(
                join(path, str(key)), f"unknown field (not in {describe(self._schema, node)})"
            )
            for key in value
            if key not in known
        )

    def _enum(self, node: dict[str, Any], value: Any, path: str, errors: list[FieldError]) -> None:
        symbols: Sequence[str] = node["symbols"]
        if not isinstance(value, str):
            errors.append(self._mismatch(node, value, path))
        elif value not in symbols:
            allowed = ", ".join(symbols)
            errors.append(FieldError(path, f"unknown enum symbol {value!r}; allowed: {allowed}"))

    def _fixed(self, node: dict[str, Any], value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, bytes | bytearray) or len(value) != node["size"]:
            errors.append(
                FieldError(path, f"expected {node['size']} bytes, got {show_value(value)}")
            )

    def _array(self, node: dict[str, Any], value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, list | tuple):
            errors.append(self._mismatch(node, value, path))
            return
        for position, item in enumerate(value):
            self.check(node["items"], item, f"{path}[{position}]", errors)

    def _map(self, node: dict[str, Any], value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            errors.append(self._mismatch(node, value, path))
            return
        for key, item in value.items():
            self.check(node["values"], item, f"{path}[{key!r}]", errors)


def validate_record(schema: Mapping[str, Any], record: Any) -> list[FieldError]:
    """Every problem of ``record`` against ``schema`` (a raw JSON schema dict).

    Convenience for one-off checks; hot paths keep a :class:`RecordValidator`.
    """
    return RecordValidator(schema).validate(record)


def _expect(kind: str, ok: Callable[[Any], bool]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if ok(value) else f"expected {kind}, got {show_value(value)}"

    return check


def _integer(kind: str, bounds: tuple[int, int]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected {kind}, got {show_value(value)}"
        if not bounds[0] <= value <= bounds[1]:
            return f"{kind} out of range [{bounds[0]}, {bounds[1]}]: {value}"
        return None

    return check


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date(value: Any) -> str | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return None  # days since 1970-01-01, as fastavro also accepts
    return f"expected date, got {show_value(value)}"


def _timestamp(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return "naive datetime: timestamps need a timezone (e.g. +07:00 for WIB)"
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return None  # epoch units, as fastavro also accepts
    return f"expected timestamp (aware datetime), got {show_value(value)}"


_SIMPLE: dict[str, Callable[[Any], str | None]] = {
    "null": _expect("null", lambda v: v is None),
    "boolean": _expect("boolean", lambda v: isinstance(v, bool)),
    "int": _integer("int", INT32),
    "long": _integer("long", INT64),
    "float": _expect("float", _number),
    "double": _expect("double", _number),
    "string": _expect("string", lambda v: isinstance(v, str)),
    "bytes": _expect("bytes", lambda v: isinstance(v, bytes | bytearray | memoryview)),
}

_LOGICAL: dict[str, Callable[[Any], str | None]] = {
    "date": _date,
    "timestamp-millis": _timestamp,
    "timestamp-micros": _timestamp,
}
