"""The HTTP layer with a stand-in publisher: routing, error bodies, partial batch failures.

Kafka itself is exercised in tests/integration/test_gateway.py against the real
broker; here the publisher is a small recorder so that outcomes a healthy broker
never produces on demand (half a batch acknowledged, a bug in a handler) can be
checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from schemas.catalog import load_schema
from schemas.jsonform import to_json
from streams.gateway.app import OPENAPI_FILE, GatewayConfig, create_app
from streams.gateway.auth import TokenStore
from streams.sdk import BatchOutcome, PublishError, Receipt
from tests.builders import household_submission

TOKEN = "unit-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class RecordingPublisher:
    """Stands in for the SDK publisher: remembers records, fails when told to."""

    topic = "regsosek.submissions"

    def __init__(self, fail_after: int | None = None, crash: bool = False) -> None:
        self.records: list[Mapping[str, Any]] = []
        self.fail_after = fail_after
        self.crash = crash
        self.closed = False

    def publish(self, record: Mapping[str, Any]) -> Receipt:
        if self.crash:
            raise RuntimeError("bug")
        self.records.append(record)
        return Receipt(self.topic, 0, len(self.records) - 1, record["submission_id"])

    def publish_batch(self, records: Sequence[Mapping[str, Any]]) -> list[BatchOutcome]:
        receipts: list[Receipt | None] = []
        for position, record in enumerate(records):
            ok = self.fail_after is None or position < self.fail_after
            receipts.append(self.publish(record) if ok else None)
        if any(receipt is None for receipt in receipts):
            raise PublishError("half the batch", outcomes=receipts)
        return [receipt for receipt in receipts if receipt is not None]

    def close(self) -> None:
        self.closed = True


def submission_json(**overrides: Any) -> dict[str, Any]:
    return to_json(load_schema("HouseholdSubmission"), household_submission(**overrides))


def run(app: web.Application, *requests: tuple[str, str, dict[str, Any]]) -> list[Any]:
    """Send requests to ``app`` in process; return (status, headers, body) for each."""

    async def go() -> list[Any]:
        answers = []
        async with TestClient(TestServer(app)) as client:
            for method, path, kwargs in requests:
                response = await client.request(method, path, **kwargs)
                is_json = response.content_type == "application/json"
                body = await (response.json() if is_json else response.text())
                answers.append((response.status, response.headers, body))
        return answers

    return asyncio.run(go())


def make_app(publisher: RecordingPublisher) -> web.Application:
    config = GatewayConfig(bootstrap="127.0.0.1:9", max_body_bytes=64 * 1024, max_batch_items=5)
    return create_app(config, TokenStore.from_mapping({TOKEN: "0412"}), publisher)


def test_half_acknowledged_batch_is_503_and_says_which_were_stored() -> None:
    publisher = RecordingPublisher(fail_after=1)
    items = [submission_json(), submission_json()]
    ((status, headers, body),) = run(
        make_app(publisher), ("POST", "/v1/submissions/batch", {"json": items, "headers": AUTH})
    )
    assert status == 503
    assert headers["Retry-After"] == "5"
    assert [item["status"] for item in body["results"]] == [202, 503]
    assert body["results"][1]["submission_id"] == items[1]["submission_id"]
    assert body["accepted"] == 1
    assert publisher.closed, "the app closes its publisher on shutdown"


def test_unknown_routes_and_methods_answer_with_the_json_error_body() -> None:
    (missing, wrong_method) = run(
        make_app(RecordingPublisher()),
        ("GET", "/v1/nothing", {}),
        ("GET", "/v1/submissions", {}),
    )
    assert missing[0] == 404
    assert missing[2] == {"error": "Not Found"}
    assert wrong_method[0] == 405
    assert wrong_method[1]["Allow"] == "POST"


def test_a_bug_is_a_500_without_details() -> None:
    ((status, _headers, body),) = run(
        make_app(RecordingPublisher(crash=True)),
        ("POST", "/v1/submissions", {"json": submission_json(), "headers": AUTH}),
    )
    assert status == 500
    assert body == {"error": "internal error; the request was not accepted"}


def test_timestamps_in_local_time_reach_the_publisher_as_aware_datetimes() -> None:
    publisher = RecordingPublisher()
    document = submission_json()
    document["enumeration"]["started_at"] = "2022-10-20T09:05:00+07:00"
    ((status, _headers, body),) = run(
        make_app(publisher), ("POST", "/v1/submissions", {"json": document, "headers": AUTH})
    )
    assert status == 202, body
    started = publisher.records[0]["enumeration"]["started_at"]
    assert started.utcoffset() is not None
    assert started.isoformat() == "2022-10-20T09:05:00+07:00"


def test_openapi_is_served_and_is_openapi_3_1() -> None:
    ((status, headers, text),) = run(make_app(RecordingPublisher()), ("GET", "/openapi.yaml", {}))
    assert status == 200
    assert headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(text)["openapi"] == "3.1.0"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_openapi_documents_every_route_and_status() -> None:
    doc = yaml.safe_load(Path(OPENAPI_FILE).read_text(encoding="utf-8"))
    app = make_app(RecordingPublisher())
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    submission = doc["paths"]["/v1/submissions"]["post"]["responses"]
    assert set(submission) == {"202", "400", "401", "403", "413", "415", "500", "503"}
    batch = doc["paths"]["/v1/submissions/batch"]["post"]["responses"]
    assert {"202", "207", "400", "401", "413", "415", "503"} <= set(batch)
    for ref in _refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # KeyError = a dangling $ref
