"""Schema evolution rules: whether a new (reader) schema reads data written by old ones.

Implements Avro's schema-resolution rules (the spec's "Schema Resolution"
section) as a pure function, the way Confluent's registry applies them for
BACKWARD compatibility, so that a pull request that would strand events
already sitting in Kafka (or in a field app's offline queue) fails in CI,
not in the processors. Every problem names the field path it concerns, e.g.
``members[].nik``. Beyond the spec, a change of logical type (``date`` to
plain ``int``, millis to micros) is reported: the bytes still decode, but
their meaning changes silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.avrotypes import IndexedSchema, describe, index, kind_of, logical_type, short_name

#: writer type -> reader types it may be promoted to (Avro spec).
PROMOTIONS: Mapping[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


def check_compatibility(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> list[str]:
    """Problems that stop ``reader`` from reading data written with ``writer`` (empty = OK)."""
    return _Resolver(index(dict(reader)), index(dict(writer))).match(
        _root(reader), _root(writer), ""
    )


def check_backward_transitive(
    new: Mapping[str, Any], released: Mapping[int, Mapping[str, Any]]
) -> list[str]:
    """Problems of ``new`` against every released version, each prefixed with that version.

    BACKWARD_TRANSITIVE: events written by any app version ever released may
    still be in a topic or an offline tablet queue, so the newest reader must
    read them all, not just the previous version.
    """
    return [
        f"v{version}: {problem}"
        for version in sorted(released)
        for problem in check_compatibility(new, released[version])
    ]


def _root(schema: Mapping[str, Any]) -> Any:
    return index(dict(schema)).root


def _where(path: str) -> str:
    return path or "(root)"


class _Resolver:
    """Walks a reader and a writer schema side by side."""

    def __init__(self, reader: IndexedSchema, writer: IndexedSchema) -> None:
        self.reader = reader
        self.writer = writer
        self._assumed: set[tuple[str, str]] = set()  # record pairs being compared (recursion)

    def match(self, r_node: Any, w_node: Any, path: str) -> list[str]:
        """Problems reading ``w_node`` data with ``r_node``."""
        r_node, w_node = self.reader.deref(r_node), self.writer.deref(w_node)
        if isinstance(w_node, list):  # every branch the writer may have used must be readable
            return [p for branch in w_node for p in self.match(r_node, branch, path)]
        if isinstance(r_node, list):
            return self._into_union(r_node, w_node, path)
        problems = self._logical(r_node, w_node, path)
        r_kind, w_kind = kind_of(r_node), kind_of(w_node)
        if r_kind == w_kind:
            same_kind = getattr(self, f"_{r_kind}", None)
            return problems + (same_kind(r_node, w_node, path) if same_kind else [])
        if r_kind in PROMOTIONS.get(w_kind, frozenset()):
            return problems
        return [
            f"{_where(path)}: type changed from {self._w(w_node)} to {self._r(r_node)}, "
            "which Avro cannot promote"
        ]

    def _into_union(self, r_union: list[Any], w_node: Any, path: str) -> list[str]:
        """Some reader branch must read the writer's type.

        When none does but one branch is the same kind (the same enum, say),
        its own problems say why far better than "matches no branch".
        """
        attempts = [(branch, self.match(branch, w_node, path)) for branch in r_union]
        if any(not problems for _, problems in attempts):
            return []
        alike = [problems for branch, problems in attempts if self._alike(branch, w_node)]
        if len(alike) == 1:
            return alike[0]
        return [
            f"{_where(path)}: writer type {self._w(w_node)} matches no branch of "
            f"reader union {self._r(r_union)}"
        ]

    def _alike(self, r_node: Any, w_node: Any) -> bool:
        r_node = self.reader.deref(r_node)
        if kind_of(r_node) != kind_of(w_node):
            return False
        if not isinstance(w_node, dict) or "name" not in w_node:
            return True  # same primitive, array or map kind
        return short_name(r_node["name"]) == short_name(w_node["name"])

    def _r(self, node: Any) -> str:
        return describe(self.reader, node)

    def _w(self, node: Any) -> str:
        return describe(self.writer, node)

    def _logical(self, r_node: Any, w_node: Any, path: str) -> list[str]:
        r_logical, w_logical = logical_type(r_node), logical_type(w_node)
        if r_logical != w_logical:
            return [
                f"{_where(path)}: logical type changed from {w_logical or 'none'} to "
                f"{r_logical or 'none'}"
            ]
        if r_logical == "decimal" and _decimal(r_node) != _decimal(w_node):
            return [f"{_where(path)}: decimal precision/scale changed"]
        return []

    def _names_match(self, r_node: dict[str, Any], w_node: dict[str, Any], path: str) -> list[str]:
        r_name, w_name = short_name(r_node["name"]), short_name(w_node["name"])
        aliases = {short_name(alias) for alias in r_node.get("aliases", [])}
        if r_name == w_name or w_name in aliases:
            return []
        return [f"{_where(path)}: {kind_of(r_node)} name changed from {w_name} to {r_name}"]

    def _record(self, r_node: dict[str, Any], w_node: dict[str, Any], path: str) -> list[str]:
        problems = self._names_match(r_node, w_node, path)
        pair = (r_node["name"], w_node["name"])
        if problems or pair in self._assumed:
            return problems
        self._assumed.add(pair)
        written = {fld["name"]: fld for fld in w_node["fields"]}
        for fld in r_node["fields"]:
            where = f"{path}.{fld['name']}" if path else fld["name"]
            source = _writer_field(fld, written)
            if source is not None:
                problems += self.match(fld["type"], source["type"], where)
            elif "default" not in fld:
                problems.append(
                    f"{where}: field added without a default, so data written before it "
                    "has no value for it"
                )
        self._assumed.discard(pair)
        return problems

    def _enum(self, r_node: dict[str, Any], w_node: dict[str, Any], path: str) -> list[str]:
        problems = self._names_match(r_node, w_node, path)
        lost = [symbol for symbol in w_node["symbols"] if symbol not in r_node["symbols"]]
        if lost and "default" not in r_node:
            problems.append(
                f"{_where(path)}: enum {short_name(r_node['name'])} removed symbol(s) "
                f"{', '.join(lost)} that existing data may contain (and has no default)"
            )
        return problems

    def _fixed(self, r_node: dict[str, Any], w_node: dict[str, Any], path: str) -> list[str]:
        problems = self._names_match(r_node, w_node, path)
        if r_node["size"] != w_node["size"]:
            problems.append(
                f"{_where(path)}: fixed size changed from {w_node['size']} to {r_node['size']}"
            )
        return problems

    def _array(self, r_node: dict[str, Any], w_node: dict[str, Any], path: str) -> list[str]:
        return self.match(r_node["items"], w_node["items"], f"{path}[]")

    def _map(self, r_node: dict[str, Any], w_node: dict[str, Any], path: str) -> list[str]:
        return self.match(r_node["values"], w_node["values"], f"{path}{{}}")


def _writer_field(
    reader_field: Mapping[str, Any], written: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The writer's field a reader field reads: same name, or one of its aliases."""
    candidates: Iterable[str] = [reader_field["name"], *reader_field.get("aliases", [])]
    return next((written[name] for name in candidates if name in written), None)


def _decimal(node: Any) -> tuple[Any, Any]:
    return node.get("precision"), node.get("scale", 0)
