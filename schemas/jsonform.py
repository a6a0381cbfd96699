"""Natural JSON <-> Avro-ready records, for the HTTP gateway and for docs.

Field apps speak plain JSON, not Avro's JSON encoding: a nullable value is the
value or ``null`` (never ``{"string": "x"}``), an enum is its symbol, a date is
``"YYYY-MM-DD"``, a timestamp is ISO-8601 with a UTC offset (``Z`` or
``+07:00``) or epoch milliseconds, bytes are base64. :func:`from_json` turns
that into the Python values fastavro writes (``date``, aware ``datetime``,
``bytes``) and fills defaults for omitted fields, or raises
:class:`SchemaValidationError` listing every bad field; :func:`to_json` is the
reverse. Pure functions.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from schemas.avrotypes import IndexedSchema, index, kind_of, logical_type, non_null_branches
from schemas.errors import SchemaValidationError
from schemas.validate import MISSING, FieldError, RecordValidator, join

_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)
_UNITS = {"timestamp-millis": "milliseconds", "timestamp-micros": "microseconds"}


class _Invalid(Exception):
    """Internal: one value could not be converted; carries the problem text."""


class JsonForm:
    """Converter for one schema, indexed once (the gateway keeps one per schema)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._schema: IndexedSchema = index(dict(schema))
        self._validator = RecordValidator(schema)
        self.name = str(schema.get("name", ""))

    def from_json(self, obj: Any) -> dict[str, Any]:
        """The Avro-ready record for a natural-JSON object, or SchemaValidationError."""
        errors: list[FieldError] = []
        record = self._from(self._schema.root, obj, "", errors)
        failed = [error.path for error in errors]
        # The validator adds what conversion lets through (int ranges, enum symbols,
        # wrong JSON types), except under fields that did not convert at all.
        errors += [e for e in self._validator.validate(record) if not _under(e.path, failed)]
        if errors:
            raise SchemaValidationError(errors, self.name)
        return dict(record)

    def to_json(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A record (as fastavro reads or writes it) as natural JSON."""
        return dict(self._to(self._schema.root, record))

    # --- JSON -> record ------------------------------------------------------------
    def _from(self, node: Any, value: Any, path: str, errors: list[FieldError]) -> Any:
        node = self._schema.deref(node)
        try:
            if isinstance(node, list):
                return self._from_union(node, value, path, errors)
            kind = kind_of(node)
            if kind == "record":
                return self._from_record(node, value, path, errors)
            if kind == "array":
                if not isinstance(value, list):
                    raise _Invalid(f"expected array, got {_shown(value)}")
                return [
                    self._from(node["items"], v, f"{path}[{i}]", errors)
                    for i, v in enumerate(value)
                ]
            if kind == "map":
                if not isinstance(value, dict):
                    raise _Invalid(f"expected object (map), got {_shown(value)}")
                return {
                    k: self._from(node["values"], v, f"{path}[{k!r}]", errors)
                    for k, v in value.items()
                }
            return _scalar_from_json(node, value)
        except _Invalid as problem:
            errors.append(FieldError(path, str(problem)))
            return None

    def _from_union(self, node: list[Any], value: Any, path: str, errors: list[FieldError]) -> Any:
        if value is None and "null" in node:
            return None
        branches = non_null_branches(node)
        if len(branches) == 1:
            return self._from(branches[0], value, path, errors)
        for branch in branches:
            attempt: list[FieldError] = []
            converted = self._from(branch, value, path, attempt)
            if not attempt:
                return converted
        raise _Invalid(f"value {_shown(value)} matches no branch of the union")

    def _from_record(
        self, node: dict[str, Any], value: Any, path: str, errors: list[FieldError]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Invalid(
                f"expected object (record {node['name'].rsplit('.', 1)[-1]}), got {_shown(value)}"
            )
        out: dict[str, Any] = {}
        for fld in node["fields"]:
            name, where = fld["name"], join(path, fld["name"])
            if name in value:
                out[name] = self._from(fld["type"], value[name], where, errors)
            elif "default" in fld:
                out[name] = self._default(fld["type"], fld["default"])
            else:
                errors.append(FieldError(where, MISSING))
        known = {fld["name"] for fld in node["fields"]}
        errors.extend(
            FieldError(join(path, str(k)), "unknown field") for k in value if k not in known
        )
        return out

    def _default(self, node: Any, default: Any) -> Any:
        """An Avro default (in Avro's JSON form) as the Python value fastavro would use."""
        node = self._schema.deref(node)
        if isinstance(node, list):  # a union's default belongs to its first branch
            return self._default(node[0], default)
        kind = kind_of(node)
        if kind == "record":
            given = default or {}
            return {
                fld["name"]: self._default(fld["type"], given.get(fld["name"], fld.get("default")))
                for fld in node["fields"]
            }
        if kind in {"bytes", "fixed"} and isinstance(default, str):
            return default.encode("latin-1")  # Avro's rule for bytes defaults
        return copy.deepcopy(default)

    # --- record -> JSON ------------------------------------------------------------
    def _to(self, node: Any, value: Any) -> Any:
        node = self._schema.deref(node)
        if value is None:
            return None
        if isinstance(node, list):
            return self._to(self._branch_for(node, value), value)
        kind = kind_of(node)
        if kind == "record":
            return {
                fld["name"]: self._to(fld["type"], value.get(fld["name"])) for fld in node["fields"]
            }
        if kind == "array":
            return [self._to(node["items"], item) for item in value]
        if kind == "map":
            return {key: self._to(node["values"], item) for key, item in value.items()}
        return _scalar_to_json(node, value)

    def _branch_for(self, node: list[Any], value: Any) -> Any:
        for branch in non_null_branches(node):
            found: list[FieldError] = []
            self._validator.check(branch, value, "", found)
            if not found:
                return branch
        return non_null_branches(node)[0]


def from_json(schema: Mapping[str, Any], obj: Any) -> dict[str, Any]:
    """Convert natural JSON to an Avro-ready record; raise SchemaValidationError if invalid."""
    return JsonForm(schema).from_json(obj)


def to_json(schema: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """Convert an Avro record (dates, datetimes, bytes) to natural JSON."""
    return JsonForm(schema).to_json(record)


def _under(path: str, roots: list[str]) -> bool:
    """True when ``path`` is one of ``roots`` or inside one of them."""
    return any(
        not root or path == root or path.startswith((f"{root}.", f"{root}[")) for root in roots
    )


def _shown(value: Any) -> str:
    text = repr(value)
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return f"{kind.get(type(value), type(value).__name__)} {text[:40]}"


def _scalar_from_json(node: Any, value: Any) -> Any:
    logical = logical_type(node)
    if logical == "date":
        return _parse_date(value)
    if logical in _UNITS:
        return _parse_timestamp(value)
    kind = kind_of(node)
    if kind in {"bytes", "fixed"}:
        return _parse_base64(value)
    if kind == "enum":
        if not isinstance(value, str):
            raise _Invalid(f"expected enum symbol (string), got {_shown(value)}")
        return value  # symbol membership is the validator's job (it lists the allowed ones)
    return _number_from_json(kind, value)


def _number_from_json(kind: str, value: Any) -> Any:
    """Numbers as the Avro type wants them; anything else as it came (the validator judges)."""
    if kind in {"float", "double"} and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in {"int", "long"}:
        return _integral(value)
    return value  # null, boolean, float, string: JSON already has the type


def _integral(value: Any) -> Any:
    """``12.0`` as ``12``: JSON (and JSON Schema's "integer") does not tell 12.0 from 12.

    Anything else is left for the validator to report (12.5, "12", booleans).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, str) and _DATE_TEXT.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise _Invalid(f"not a calendar date: {value!r} ({exc})") from None
    raise _Invalid(f"expected date 'YYYY-MM-DD', got {_shown(value)}")


def _parse_timestamp(value: Any) -> dt.datetime:
    value = _integral(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _EPOCH + dt.timedelta(milliseconds=value)
        except OverflowError:
            raise _Invalid(f"epoch milliseconds out of range: {value}") from None
    if not isinstance(value, str):
        raise _Invalid(f"expected ISO-8601 timestamp or epoch milliseconds, got {_shown(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"not an ISO-8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise _Invalid(f"timestamp {value!r} has no UTC offset; add Z or e.g. +07:00")
    return parsed


def _parse_base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _Invalid(f"expected base64 text, got {_shown(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _Invalid("expected base64 text") from None


def _scalar_to_json(node: Any, value: Any) -> Any:
    logical = logical_type(node)
    if logical == "date":
        day = _EPOCH_DATE + dt.timedelta(days=value) if isinstance(value, int) else value
        return day.isoformat()
    if logical in _UNITS:
        if isinstance(value, int):
            value = _EPOCH + dt.timedelta(**{_UNITS[logical]: value})
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value
