"""House rules for schema files, beyond what Avro itself enforces.

Analysts read the ``.avsc`` files as the data dictionary, so every field and
named type must say what it is, and every enum that codes a questionnaire item
must carry that item's numeric codes (``form_codes``, parallel to ``symbols``,
and ``code=SYMBOL`` in its doc) so a value can be mapped back to the form.
Also catches the Avro rule fastavro lets through: a union's default must
belong to its first branch. Pure function; ``regsosek schemas check`` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastavro import parse_schema

from schemas.avrotypes import index, short_name


def lint_schema(schema: Mapping[str, Any]) -> list[str]:
    """Problems of one (self-contained) schema against the house rules; empty = fine."""
    try:
        parse_schema(dict(schema), _write_hint=False)
    except Exception as exc:  # fastavro raises several types for malformed schemas
        return [f"not a valid Avro schema: {exc}"]
    problems: list[str] = []
    for name, node in index(dict(schema)).names.items():
        if not str(node.get("doc", "")).strip():
            problems.append(f"{node['type']} {short_name(name)}: missing doc")
        if node["type"] == "enum":
            problems += _enum_codes(node)
        if node["type"] in {"record", "error"}:
            problems += _fields(node)
    return problems


def _fields(record: Mapping[str, Any]) -> list[str]:
    problems = []
    for fld in record["fields"]:
        where = f"{short_name(record['name'])}.{fld['name']}"
        if not str(fld.get("doc", "")).strip():
            problems.append(f"{where}: missing doc")
        kind = fld["type"]
        if isinstance(kind, list) and "default" in fld and kind:
            default_is_null = fld["default"] is None
            if default_is_null != (kind[0] == "null"):
                problems.append(f"{where}: a union's default must match its first branch")
    return problems


def _enum_codes(enum: Mapping[str, Any]) -> list[str]:
    if "form_codes" not in enum:
        return []
    name, symbols, codes = short_name(enum["name"]), enum["symbols"], enum["form_codes"]
    if len(codes) != len(symbols) or len(set(codes)) != len(codes):
        return [f"enum {name}: form_codes must be unique and parallel to symbols"]
    doc = str(enum.get("doc", ""))
    return [
        f"enum {name}: doc does not give the form code of {symbol} as '{code}={symbol}'"
        for symbol, code in zip(symbols, codes, strict=True)
        if f"{code}={symbol}" not in doc
    ]
