"""Avro schema trees made easy to walk: names resolved, namespaces gone.

Validation, JSON conversion and the compatibility checker all walk a schema
next to a value (or next to another schema). Avro lets a named type be
referenced by a short name relative to the enclosing namespace; resolving that
in three places would triple the bugs, so :func:`index` rewrites a schema once
into a tree where every named type carries its full name and every reference
is that full name, plus a lookup table from full name to definition.
Pure functions of JSON data: no fastavro, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class IndexedSchema:
    """A schema rewritten with full names, and the table of its named types."""

    root: Any
    names: dict[str, dict[str, Any]] = field(default_factory=dict)

    def deref(self, node: Any) -> Any:
        """The definition behind a reference; anything else unchanged.

        Raises ``KeyError`` for a name the schema never defines, which only a
        malformed schema can contain (fastavro refuses those when parsing).
        """
        if isinstance(node, str) and node not in PRIMITIVES:
            return self.names[node]
        return node


def index(schema: Any) -> IndexedSchema:
    """Rewrite ``schema`` so that references are full names; collect the definitions."""
    names: dict[str, dict[str, Any]] = {}
    root = _normalise(schema, "", names)
    return IndexedSchema(root, names)


def full_name(name: str, namespace: str) -> str:
    """Avro's rule: a dotted name is already full, otherwise prefix the namespace."""
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def short_name(name: str) -> str:
    """The unqualified part of a full name (what schema resolution compares)."""
    return name.rsplit(".", 1)[-1]


def _normalise(node: Any, namespace: str, names: dict[str, dict[str, Any]]) -> Any:
    if isinstance(node, str):
        return node if node in PRIMITIVES else full_name(node, namespace)
    if isinstance(node, list):
        return [_normalise(branch, namespace, names) for branch in node]
    kind = node["type"]
    if isinstance(kind, dict | list):  # {"type": {...}} wrapper
        return _normalise(kind, namespace, names)
    if kind in NAMED_KINDS:
        return _normalise_named(node, namespace, names)
    out = dict(node)
    child = {"array": "items", "map": "values"}.get(kind)
    if child:
        out[child] = _normalise(node[child], namespace, names)
    return out


def _normalise_named(
    node: dict[str, Any], namespace: str, names: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    own_ns = node.get("namespace", namespace)
    name = full_name(node["name"], own_ns)
    child_ns = name.rsplit(".", 1)[0] if "." in name else ""
    out = {key: value for key, value in node.items() if key != "namespace"}
    out["name"] = name
    names[name] = out
    if node["type"] in {"record", "error"}:
        out["fields"] = [
            {**fld, "type": _normalise(fld["type"], child_ns, names)} for fld in node["fields"]
        ]
    return out


def kind_of(node: Any) -> str:
    """The Avro kind of a resolved node: a primitive name, 'record', 'union', ...."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "union"
    kind = node["type"]
    return kind if isinstance(kind, str) else kind_of(kind)


def logical_type(node: Any) -> str | None:
    """The logicalType of a resolved node, if any ('date', 'timestamp-millis', ...)."""
    if isinstance(node, dict):
        value = node.get("logicalType")
        return str(value) if value is not None else None
    return None


def describe(schema: IndexedSchema, node: Any) -> str:
    """A short human name for a type, used in error messages ("null or int")."""
    node = schema.deref(node)
    if isinstance(node, list):
        return " or ".join(describe(schema, branch) for branch in node)
    logical = logical_type(node)
    if logical:
        return logical
    kind = kind_of(node)
    if kind in NAMED_KINDS:
        return f"{kind} {short_name(node['name'])}"
    return kind


def non_null_branches(node: Any) -> list[Any]:
    """The branches of a union other than null (the node itself when not a union)."""
    if isinstance(node, list):
        return [branch for branch in node if branch != "null"]
    return [node]


def show_value(value: Any, limit: int = 40) -> str:
    """``str 'abc'``: the type and a clipped repr of a value, for messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"
