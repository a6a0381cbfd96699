"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) of an Avro schema's natural JSON.

The gateway's OpenAPI document describes the request body that
:class:`~schemas.jsonform.JsonForm` accepts; deriving that description from the
``.avsc`` file, instead of writing it by hand, keeps the HTTP contract equal to
the Avro one (``streams/gateway/contract.py`` writes it into
``streams/gateway/openapi.yaml`` and a test checks they agree). The mapping follows
JsonForm and the record validator: a record is a closed object whose fields
without a default are required; a nullable field is its value or ``null``; an
enum is its symbol; ``int``/``long`` are integers in their 32/64-bit range; a
date is ``YYYY-MM-DD``; a timestamp is ISO-8601 text with an offset or epoch
milliseconds; bytes are base64 text. Named types become definitions referenced
by their short name. Pure functions of JSON data.
"""

from __future__ import annotations

from typing import Any

from schemas.avrotypes import (
    INT32,
    INT64,
    NAMED_KINDS,
    IndexedSchema,
    index,
    kind_of,
    short_name,
)

#: Where the definitions live in an OpenAPI document.
OPENAPI_REF = "#/components/schemas/"

_PRIMITIVE: dict[str, dict[str, Any]] = {
    "null": {"type": "null"},
    "boolean": {"type": "boolean"},
    "int": {"type": "integer", "minimum": INT32[0], "maximum": INT32[1]},
    "long": {"type": "integer", "minimum": INT64[0], "maximum": INT64[1]},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "string": {"type": "string"},
    "bytes": {"type": "string", "contentEncoding": "base64"},
}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
#: Epoch milliseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the
#: timestamps a Python datetime (and so JsonForm) can hold.
EPOCH_MS_RANGE = (-62_135_596_800_000, 253_402_300_799_999)


_TIMESTAMP = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "integer", "minimum": EPOCH_MS_RANGE[0], "maximum": EPOCH_MS_RANGE[1]},
    ],
    "description": "ISO-8601 with a UTC offset, or epoch milliseconds.",
}
#: (logicalType, underlying type) -> the natural JSON of that logical type.
_LOGICAL: dict[tuple[Any, Any], dict[str, Any]] = {
    ("date", "int"): _DATE,
    ("timestamp-millis", "long"): _TIMESTAMP,
    ("timestamp-micros", "long"): _TIMESTAMP,  # JsonForm reads integers as milliseconds
}


def json_schemas(avro: dict[str, Any], ref_prefix: str = OPENAPI_REF) -> dict[str, Any]:
    """Every named type of ``avro`` as a JSON Schema, keyed by short name (the root first)."""
    indexed = index(avro)
    converter = _Converter(indexed, ref_prefix)
    converter.named(indexed.deref(indexed.root))
    return converter.definitions


class _Converter:
    def __init__(self, indexed: IndexedSchema, ref_prefix: str) -> None:
        self.indexed = indexed
        self.ref_prefix = ref_prefix
        self.definitions: dict[str, Any] = {}

    def named(self, node: dict[str, Any]) -> dict[str, Any]:
        """Define a named type once; answer a reference to it."""
        name = short_name(node["name"])
        if name not in self.definitions:
            self.definitions[name] = {}  # reserved first: a record may refer to itself
            self.definitions[name] = self._define(node)
        return {"$ref": self.ref_prefix + name}

    def _define(self, node: dict[str, Any]) -> dict[str, Any]:
        kind = kind_of(node)
        if kind == "enum":
            out: dict[str, Any] = {"type": "string", "enum": list(node["symbols"])}
        elif kind == "fixed":
            out = {"type": "string", "contentEncoding": "base64"}
        else:
            out = self._record(node)
        if node.get("doc"):
            out = {"description": node["doc"]} | out
        return out

    def _record(self, node: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in node["fields"]:
            schema = self.schema(field["type"])
            if "default" in field:
                schema = schema | {"default": field["default"]}
            else:
                required.append(field["name"])
            if field.get("doc"):
                schema = {"description": field["doc"]} | schema
            properties[field["name"]] = schema
        out: dict[str, Any] = {"type": "object"}
        if required:
            out["required"] = required
        return out | {"properties": properties, "additionalProperties": False}

    def schema(self, node: Any) -> dict[str, Any]:
        """The JSON Schema of one Avro type (a reference for named types)."""
        node = self.indexed.deref(node)
        if isinstance(node, list):
            return {"anyOf": [self.schema(branch) for branch in node]}
        if isinstance(node, str):
            return dict(_PRIMITIVE[node])
        logical = _LOGICAL.get((node.get("logicalType"), node["type"]))
        if logical is not None:
            return dict(logical)
        kind = kind_of(node)
        if kind in NAMED_KINDS:
            return self.named(node)
        if kind in {"array", "map"}:
            return self._container(kind, node)
        return dict(_PRIMITIVE[kind])

    def _container(self, kind: str, node: dict[str, Any]) -> dict[str, Any]:
        if kind == "array":
            return {"type": "array", "items": self.schema(node["items"])}
        return {"type": "object", "additionalProperties": self.schema(node["values"])}
