"""The HTTP layer with a stand-in publisher: routing, error bodies, partial batch failures.

Kafka itself is exercised in tests/integration/test_gateway.py against the real
broker; here the publisher is a small recorder so that outcomes a healthy broker
never produces on demand (half a batch acknowledged, a bug in a handler) can be
checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from schemas.catalog import load_schema
from schemas.frame import Frame
from schemas.jsonform import JsonForm, to_json
from schemas.limits import MAX_SUBMISSION_BYTES, TOO_LARGE_CODE
from schemas.registry import LocalRegistry
from schemas.validate import FieldError
from streams.gateway.app import ADMISSION, OPENAPI_FILE, GatewayConfig, create_app
from streams.gateway.auth import TokenStore, hashed_key, new_token
from streams.gateway.console import Console
from streams.gateway.feedback import FeedbackService, WorkerLink
from streams.gateway.reload import ReloadingTokens
from streams.gateway.reviews import ReviewService
from streams.gateway.worker_client import WorkerClient
from streams.sdk import BatchOutcome, PublishError, Receipt, SubmissionPublisher
from streams.settings import Settings
from streams.worker.auth import OperatorTokens
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
    config = GatewayConfig(bootstrap="127.0.0.1:9")
    reviews = ReviewService(
        RecordingPublisher(), JsonForm(load_schema("ReviewDecision")), Frame(), retry_after_s=5
    )
    feedback = FeedbackService(Frame(), WorkerLink("http://127.0.0.1:9", SecretStr("t" * 16)))
    worker = WorkerClient(
        "http://127.0.0.1:9", "t" * 16, timeout_s=1, retry_after_s=1, unavailable=""
    )
    console = Console(Frame(), OperatorTokens([]), TokenStore(), worker)
    app = create_app(
        config,
        TokenStore(),
        RecordingPublisher(),
        reviews=reviews,
        feedback=feedback,
        console=console,
    )
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    submission = doc["paths"]["/v1/submissions"]["post"]["responses"]
    assert set(submission) == {"202", "400", "401", "403", "413", "415", "429", "500", "503"}
    batch = doc["paths"]["/v1/submissions/batch"]["post"]["responses"]
    assert {"202", "207", "400", "401", "413", "415", "429", "503"} <= set(batch)
    review = doc["paths"]["/v1/reviews"]["post"]["responses"]
    assert set(review) == set(submission)
    feedback_answers = doc["paths"]["/v1/feedback"]["get"]["responses"]
    assert set(feedback_answers) == {"200", "400", "401", "403", "429", "500", "503"}
    for ref in _refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # KeyError = a dangling $ref


# --- size limits and one validation, through the real SDK publisher ----------------------


class AcknowledgingProducer:
    """Stands in for kafka-python's producer under a real SubmissionPublisher."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        self.values.append(value)
        metadata = SimpleNamespace(topic=topic, partition=0, offset=len(self.values) - 1)
        return SimpleNamespace(get=lambda timeout: metadata)

    def flush(self, timeout: float) -> None:
        return None

    def close(self, timeout: float) -> None:
        return None


class RecordingObserver:
    def __init__(self) -> None:
        self.submissions: list[int] = []
        self.throttled: list[str] = []
        self.reloads: list[tuple[str, int]] = []

    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        return None

    def on_submissions(self, statuses: Sequence[int]) -> None:
        self.submissions.extend(statuses)

    def on_throttled(self, reason: str) -> None:
        self.throttled.append(reason)

    def on_token_reload(self, outcome: str, tokens: int) -> None:
        self.reloads.append((outcome, tokens))

    def exposition(self) -> tuple[bytes, str]:
        return b"", "text/plain"


def sdk_publisher() -> tuple[SubmissionPublisher, AcknowledgingProducer]:
    publisher = SubmissionPublisher("127.0.0.1:9", LocalRegistry())
    producer = AcknowledgingProducer()
    publisher._producer = producer
    return publisher, producer


def sized_json(publisher: SubmissionPublisher, wire_bytes: int) -> dict[str, Any]:
    """A valid submission in natural JSON whose Avro wire encoding is ``wire_bytes`` long."""
    record = household_submission()
    record["enumeration"]["notes"] = ""
    length = wire_bytes - len(publisher.serializer.encode(record))
    for _ in range(4):  # the string's length prefix grows by a byte now and then
        record["enumeration"]["notes"] = "x" * length
        size = len(publisher.serializer.encode(record))
        if size == wire_bytes:
            return to_json(load_schema("HouseholdSubmission"), record)
        length -= size - wire_bytes
    raise AssertionError(f"cannot build a submission of {wire_bytes} bytes")


def test_a_submission_over_the_size_limit_is_413_with_the_reason_code() -> None:
    publisher, producer = sdk_publisher()
    observer = RecordingObserver()
    tokens = TokenStore.from_mapping({TOKEN: "0412"})
    app = create_app(GatewayConfig(bootstrap="127.0.0.1:9"), tokens, publisher, observer)
    at_limit = sized_json(publisher, MAX_SUBMISSION_BYTES)
    over = sized_json(publisher, MAX_SUBMISSION_BYTES + 1)
    (refused, stored) = run(
        app,
        ("POST", "/v1/submissions", {"json": over, "headers": AUTH}),
        ("POST", "/v1/submissions", {"json": at_limit, "headers": AUTH}),
    )
    assert refused[0] == 413
    assert refused[2]["code"] == TOO_LARGE_CODE
    assert f"{MAX_SUBMISSION_BYTES + 1} bytes" in refused[2]["error"]
    assert f"limit of {MAX_SUBMISSION_BYTES} bytes" in refused[2]["error"]
    assert stored[0] == 202, stored[2]
    assert [len(value) for value in producer.values] == [MAX_SUBMISSION_BYTES]
    assert observer.submissions == [413, 202], "the refusal is counted with status 413"


def test_each_batch_item_is_checked_for_size() -> None:
    publisher, producer = sdk_publisher()
    observer = RecordingObserver()
    tokens = TokenStore.from_mapping({TOKEN: "0412"})
    app = create_app(GatewayConfig(bootstrap="127.0.0.1:9"), tokens, publisher, observer)
    items = [submission_json(), sized_json(publisher, MAX_SUBMISSION_BYTES + 1), submission_json()]
    ((status, _headers, body),) = run(
        app, ("POST", "/v1/submissions/batch", {"json": items, "headers": AUTH})
    )
    assert status == 207, body
    assert [item["status"] for item in body["results"]] == [202, 413, 202]
    too_large = body["results"][1]
    assert too_large["code"] == TOO_LARGE_CODE
    assert too_large["submission_id"] == items[1]["submission_id"]
    assert "errors" not in too_large
    assert len(producer.values) == 2
    assert sorted(observer.submissions) == [202, 202, 413]


def test_the_gateway_validates_a_submission_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """JsonForm checks every field while converting; the SDK does not check them again."""
    publisher, producer = sdk_publisher()
    sdk_checks: list[Mapping[str, Any]] = []
    validator = publisher.serializer._validator
    check = validator.validate

    def counted(record: Mapping[str, Any]) -> list[FieldError]:
        sdk_checks.append(record)
        return check(record)

    monkeypatch.setattr(validator, "validate", counted)
    bad = submission_json()
    bad["members"][0]["sex"] = "L"
    del bad["revision"]
    app = create_app(
        GatewayConfig(bootstrap="127.0.0.1:9"), TokenStore.from_mapping({TOKEN: "0412"}), publisher
    )
    (single, batch, invalid) = run(
        app,
        ("POST", "/v1/submissions", {"json": submission_json(), "headers": AUTH}),
        ("POST", "/v1/submissions/batch", {"json": [submission_json(), bad], "headers": AUTH}),
        ("POST", "/v1/submissions", {"json": bad, "headers": AUTH}),
    )
    assert single[0] == 202
    assert [item["status"] for item in batch[2]["results"]] == [202, 400]
    assert len(producer.values) == 2
    assert sdk_checks == [], "records the gateway converted are not validated a second time"
    assert invalid[0] == 400
    assert {error["path"] for error in invalid[2]["errors"]} == {"members[0].sex", "revision"}
    assert batch[2]["results"][1]["errors"] == invalid[2]["errors"]


def test_the_body_limit_is_not_what_decides_a_submissions_size() -> None:
    """The JSON of a submission at the Avro limit fits in the default body limit."""
    publisher, _producer = sdk_publisher()
    default = GatewayConfig(bootstrap="127.0.0.1:9").max_body_bytes
    assert Settings.model_fields["gateway_max_body_bytes"].default == default
    at_limit = json.dumps(sized_json(publisher, MAX_SUBMISSION_BYTES)).encode()
    assert MAX_SUBMISSION_BYTES < len(at_limit) < default


# --- throttles, pathological JSON and token reloads over HTTP ---------------------------


def test_a_token_over_its_rate_gets_429_and_others_do_not() -> None:
    other = "unit-token-other-0123456789"
    observer = RecordingObserver()
    config = GatewayConfig(bootstrap="127.0.0.1:9", rate_per_token=0.5, rate_burst=2)
    tokens = TokenStore.from_mapping({TOKEN: "0412", other: "0413"})
    publisher = RecordingPublisher()
    app = create_app(config, tokens, publisher, observer)
    post = ("POST", "/v1/submissions", {"json": submission_json(), "headers": AUTH})
    stranger = submission_json()
    stranger["enumeration"]["enumerator_id"] = "0413"
    other_post = {"json": stranger, "headers": {"Authorization": f"Bearer {other}"}}
    answers = run(
        app,
        post,
        post,
        post,
        ("POST", "/v1/submissions/batch", post[2]),
        ("POST", "/v1/submissions", other_post),
    )
    assert [status for status, _h, _b in answers] == [202, 202, 429, 429, 202]
    _status, headers, body = answers[2]
    assert body["code"] == "RATE_LIMITED"
    assert int(headers["Retry-After"]) == 2, "one request per 2 s: the next is due in 2 s"
    assert len(publisher.records) == 3
    assert observer.throttled == ["rate_limited", "rate_limited"]
    assert observer.submissions == [202, 202, 202], "throttled requests are not refusals"


class BlockingPublisher(RecordingPublisher):
    """Holds every publish until released, as a broker that is slow to acknowledge."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started = threading.Event()

    def publish(self, record: Mapping[str, Any]) -> Receipt:
        self.started.set()
        self.release.wait(10)
        return super().publish(record)


def test_over_the_in_flight_limit_is_503_at_once_and_nothing_queues() -> None:
    publisher = BlockingPublisher()
    observer = RecordingObserver()
    config = GatewayConfig(bootstrap="127.0.0.1:9", max_in_flight=2)
    app = create_app(config, TokenStore.from_mapping({TOKEN: "0412"}), publisher, observer)

    async def go() -> list[tuple[int, Any, dict[str, Any]]]:
        async with TestClient(TestServer(app)) as client:

            async def post() -> tuple[int, Any, dict[str, Any]]:
                response = await client.post(
                    "/v1/submissions", json=submission_json(), headers=AUTH
                )
                return response.status, response.headers, await response.json()

            held = [asyncio.create_task(post()) for _ in range(2)]
            while app[ADMISSION].in_flight.count < 2:
                await asyncio.sleep(0.01)
            refused = await post()
            publisher.release.set()
            return [refused, *[await task for task in held]]

    refused, *stored = asyncio.run(go())
    assert refused[0] == 503
    assert refused[2]["code"] == "OVERLOADED"
    assert int(refused[1]["Retry-After"]) >= 1
    assert [status for status, _h, _b in stored] == [202, 202]
    assert observer.throttled == ["overloaded"]
    assert sorted(observer.submissions) == [202, 202], "no Kafka failure was counted"
    assert app[ADMISSION].in_flight.count == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "JSON_TOO_DEEP"),
        (b'{"revision": ' + b"7" * 400 + b"}", "NUMBER_TOO_LONG"),
        (b'{"location": {"latitude": 1e400}}', "NUMBER_NOT_FINITE"),
        (b'{"location": {"latitude": NaN}}', "NUMBER_NOT_FINITE"),
    ],
)
def test_pathological_json_over_http_is_400_never_500(body: bytes, code: str) -> None:
    config = GatewayConfig(bootstrap="127.0.0.1:9", max_body_bytes=1024 * 1024)
    app = create_app(config, TokenStore.from_mapping({TOKEN: "0412"}), RecordingPublisher())
    headers = AUTH | {"Content-Type": "application/json"}
    single, batch = run(
        app,
        ("POST", "/v1/submissions", {"data": body, "headers": headers}),
        ("POST", "/v1/submissions/batch", {"data": body, "headers": headers}),
    )
    for status, _headers, answer in (single, batch):
        assert status == 400, answer
        assert answer["code"] == code


def test_tokens_file_changes_reach_a_running_gateway(tmp_path: Path) -> None:
    """Add, break, revoke: each seen within the reload interval, over real HTTP."""
    path = tmp_path / "tokens.yaml"
    added = new_token()
    path.write_text(f'"{hashed_key(TOKEN)}": "0412"\n', encoding="utf-8")
    observer = RecordingObserver()
    config = GatewayConfig(bootstrap="127.0.0.1:9", tokens_reload_s=0.05)
    tokens = ReloadingTokens({}, path)
    app = create_app(config, tokens, RecordingPublisher(), observer)
    other = submission_json()
    other["enumeration"]["enumerator_id"] = "0413"

    async def status(client: TestClient[Any, Any], token: str, document: Any) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        response = await client.post("/v1/submissions", json=document, headers=headers)
        return response.status

    async def until(client: TestClient[Any, Any], token: str, doc: Any, wanted: int) -> float:
        started = time.monotonic()
        while await status(client, token, doc) != wanted:
            assert time.monotonic() - started < 5, f"no {wanted} within 5 s"
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    def replace(text: str) -> None:
        fresh = path.with_suffix(".new")
        fresh.write_text(text, encoding="utf-8")
        os.replace(fresh, path)

    async def go() -> list[float]:
        async with TestClient(TestServer(app)) as client:
            assert await status(client, TOKEN, submission_json()) == 202
            assert await status(client, added, other) == 401
            replace(f'"{hashed_key(TOKEN)}": "0412"\n"{hashed_key(added)}": "0413"\n')
            waits = [await until(client, added, other, 202)]
            replace("{broken")  # a bad edit: the last good tokens stay
            await asyncio.sleep(0.3)
            assert await status(client, added, other) == 202
            replace(f'"{hashed_key(TOKEN)}": "0412"\nrevoked: ["{hashed_key(added)}"]\n')
            waits.append(await until(client, added, other, 401))
            assert await status(client, TOKEN, submission_json()) == 202
            return waits

    waits = asyncio.run(go())
    assert max(waits) < 1.0, waits
    assert [outcome for outcome, _n in observer.reloads] == [
        "loaded",
        "reloaded",
        "failed",
        "reloaded",
    ]
    assert [n for _o, n in observer.reloads] == [1, 2, 2, 1]
