"""The request schemas of ``streams/gateway/openapi.yaml``, generated from the Avro contract.

The hand-written part of the document (paths, answers, error bodies) ends at
:data:`MARKER`; everything after it is the JSON Schema of
``HouseholdSubmission.avsc`` and ``ReviewDecision.avsc`` and their named types
(:mod:`schemas.jsonschema`), so the HTTP contract cannot drift from the Avro one.
After a schema change::

    .venv/bin/python -m streams.gateway.contract          # rewrite streams/gateway/openapi.yaml
    .venv/bin/python -m streams.gateway.contract --check  # exit 1 when it is stale

``tests/unit/test_gateway_contract.py`` runs the check, and checks that the
gateway serves exactly that file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from schemas.catalog import load_schema
from schemas.jsonschema import json_schemas

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
SCHEMA = "HouseholdSubmission"
#: Every Avro schema the gateway takes as a request body, in the document's order.
SCHEMAS = (SCHEMA, "ReviewDecision")
MARKER = (
    f"    # --- generated from schemas/{{{','.join(SCHEMAS)}}}.avsc by"
    " `python -m streams.gateway.contract`: do not edit below ---"
)


def generated_section() -> str:
    """The YAML of the generated component schemas, indented under ``components.schemas``."""
    generated: dict[str, object] = {}
    for name in SCHEMAS:
        generated |= json_schemas(dict(load_schema(name)))
    text = yaml.safe_dump(
        generated,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())


def render(document: str) -> str:
    """``document`` with everything after :data:`MARKER` replaced by the generated schemas."""
    head, found, _old = document.partition(MARKER + "\n")
    if not found:
        raise ValueError(f"{OPENAPI_FILE.name} lacks the line {MARKER.strip()!r}")
    return head + MARKER + "\n" + generated_section()


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the file, or with ``--check`` say whether it is current (exit 1 when stale)."""
    args = list(sys.argv[1:] if argv is None else argv)
    current = OPENAPI_FILE.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in args:
        if current != wanted:
            print(f"{OPENAPI_FILE} is stale: run python -m streams.gateway.contract")
            return 1
        return 0
    if current != wanted:
        OPENAPI_FILE.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
