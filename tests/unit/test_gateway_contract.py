"""The OpenAPI document's request schemas are the Avro contract, and are what the gateway serves.

``streams/gateway/openapi.yaml`` carries the JSON Schema derived from
``schemas/HouseholdSubmission.avsc`` (:mod:`streams.gateway.contract`); these
tests fail when the file is stale, when the gateway serves anything else, and
when the derived schema and the gateway's own converter (JsonForm) disagree on
a document.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from schemas.catalog import load_schema
from schemas.errors import SchemaValidationError
from schemas.jsonform import JsonForm, to_json
from schemas.jsonschema import json_schemas
from streams.gateway import contract
from streams.gateway.app import GatewayConfig, create_app
from streams.gateway.auth import TokenStore
from tests.builders import household_submission

SCHEMA = load_schema("HouseholdSubmission")


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(contract.OPENAPI_FILE.read_text(encoding="utf-8"))
    return loaded


def test_the_checked_in_document_is_generated_from_the_avro_schema() -> None:
    text = contract.OPENAPI_FILE.read_text(encoding="utf-8")
    assert contract.render(text) == text, "run: python -m streams.gateway.contract"
    assert contract.main(["--check"]) == 0
    components = document()["components"]["schemas"]
    for name, schema in json_schemas(dict(SCHEMA)).items():
        assert components[name] == schema, name
    assert components["Member"]["required"] == ["member_number", "name", "presence"]
    assert components["Sex"] == {
        "description": components["Sex"]["description"],
        "type": "string",
        "enum": ["MALE", "FEMALE"],
    }


def test_a_stale_document_is_caught() -> None:
    text = contract.OPENAPI_FILE.read_text(encoding="utf-8")
    stale = text.replace("- FEMALE\n", "- FEMALE\n      - OTHER\n", 1)
    assert stale != text
    assert contract.render(stale) == text
    with pytest.raises(ValueError, match="lacks the line"):
        contract.render(text.replace(contract.MARKER, "# edited"))


class NoPublisher:
    topic = "regsosek.submissions"

    def publish(self, record: Any) -> Any:
        raise AssertionError("not called")

    def publish_batch(self, records: Any) -> Any:
        raise AssertionError("not called")

    def close(self) -> None:
        return None


def test_the_gateway_serves_exactly_the_generated_document() -> None:
    app = create_app(GatewayConfig(bootstrap="127.0.0.1:9"), TokenStore(), NoPublisher())

    async def go() -> str:
        async with TestClient(TestServer(app)) as client:
            return await (await client.get("/openapi.yaml")).text()

    served = asyncio.run(go())
    assert served == contract.render(contract.OPENAPI_FILE.read_text(encoding="utf-8"))


def test_the_documented_example_is_a_valid_submission() -> None:
    body = document()["paths"]["/v1/submissions"]["post"]["requestBody"]["content"]
    JsonForm(SCHEMA).from_json(body["application/json"]["example"])


# --- the derived schema and JsonForm decide alike ---------------------------------------


def _validator() -> jsonschema_rs.Validator:
    definitions = json_schemas(dict(SCHEMA), ref_prefix="#/$defs/")
    root = {"$ref": "#/$defs/HouseholdSubmission", "$defs": definitions}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        (_set("revision", 2), True),
        (_set("enumeration.started_at", 1666231500000), True),  # epoch milliseconds
        (_set("members.0.nik", None), True),
        (_set("location.gps_accuracy_m", 7), True),  # an integer where a double is
        (_set("housing.floor_area_m2", 72.5), False),
        (_set("members.0.sex", "L"), False),
        (_set("members.0.sex", None), True),
        (_set("members.0.name", None), False),
        (_set("revision", "satu"), False),
        (_set("revision", 2**31), False),
        (_set("revision", True), False),
        (_set("members.0.birth_date", "12-05-1980"), False),
        (_set("members.0.extra", 1), False),
        (_set("members", KeyError), False),
        (_set("assets", KeyError), True),  # a field with a default may be left out
        (_set("location.latitude", "south"), False),
        (_set("members", []), True),
    ],
)
def test_json_schema_and_jsonform_agree(
    change: Callable[[dict[str, Any]], None], valid: bool
) -> None:
    doc = copy.deepcopy(to_json(SCHEMA, household_submission()))
    change(doc)
    try:
        JsonForm(SCHEMA).from_json(doc)
        accepted = True
    except SchemaValidationError:
        accepted = False
    assert accepted is valid
    assert _validator().is_valid(doc) is valid
