"""The HTTP gateway served on a real port, publishing to the real broker.

Each test gets its own topic and gateway; answers are checked against what is
really on the topic (a 202's partition and offset must hold that submission,
a refusal must leave the topic empty). The client is the standard library's
``http.client``, independent of the server's framework.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import load_schema, subject_for
from schemas.jsonform import to_json
from schemas.limits import MAX_SUBMISSION_BYTES, TOO_LARGE_CODE
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from streams.gateway.app import GatewayConfig, create_app, token_source_from_settings
from streams.gateway.auth import TokenStore, hashed_key
from streams.sdk import ProducerOptions, SubmissionPublisher
from streams.settings import Settings
from streams.topics import TopicSpec, ensure_topics, topic_configs
from tests.backends import KafkaBackend, free_port
from tests.builders import household_submission
from tests.gateway_harness import RunningGateway as ServedGateway
from tests.topics import read_topic

pytestmark = pytest.mark.integration

TOKEN_0412 = "gw-token-0412-abcdefghijkl"
TOKEN_0413 = "gw-token-0413-abcdefghijkl"
MAX_BODY = 64 * 1024
MAX_ITEMS = 10


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class RunningGateway(ServedGateway):
    """The served gateway, plus a client that speaks as a field app."""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN_0412,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        is_json = answer_headers.get("content-type", "").startswith("application/json")
        return Answer(response.status, answer_headers, json.loads(text) if is_json else text)


def submission(**overrides: Any) -> dict[str, Any]:
    """A valid submission of enumerator 0412 in natural JSON, as a field app sends it."""
    return to_json(load_schema("HouseholdSubmission"), household_submission(**overrides))


def sized_submission(wire_bytes: int) -> dict[str, Any]:
    """A valid submission in natural JSON whose Avro wire encoding is ``wire_bytes`` long."""
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    record = household_submission()
    record["enumeration"]["notes"] = ""
    length = wire_bytes - len(serializer.encode(record))
    for _ in range(4):  # the string's length prefix grows by a byte now and then
        record["enumeration"]["notes"] = "x" * length
        size = len(serializer.encode(record))
        if size == wire_bytes:
            return to_json(load_schema("HouseholdSubmission"), record)
        length -= size - wire_bytes
    raise AssertionError(f"cannot build a submission of {wire_bytes} bytes")


def start_gateway(
    bootstrap: str, topic: str, timeout_ms: int = 10_000, max_body: int = MAX_BODY
) -> RunningGateway:
    registry = LocalRegistry()
    options = ProducerOptions(client_id="gateway-test", timeout_ms=timeout_ms)
    publisher = SubmissionPublisher(bootstrap, registry, topic=topic, options=options)
    config = GatewayConfig(
        bootstrap=bootstrap,
        max_body_bytes=max_body,
        max_batch_items=MAX_ITEMS,
        kafka_timeout_ms=timeout_ms,
    )
    tokens = TokenStore.from_mapping({TOKEN_0412: "0412", TOKEN_0413: "0413"})
    return RunningGateway(create_app(config, tokens, publisher))


@pytest.fixture
def topic(kafka: KafkaBackend, unique_topic: Callable[[str], str]) -> str:
    name = unique_topic("gateway")
    ensure_topics(kafka.bootstrap, [TopicSpec(name, 3, 1)])
    return name


@pytest.fixture
def gateway(kafka: KafkaBackend, topic: str) -> Iterator[RunningGateway]:
    running = start_gateway(kafka.bootstrap, topic)
    yield running
    running.stop()


@pytest.fixture
def stored(kafka: KafkaBackend, topic: str) -> Callable[[], dict[tuple[int, int], dict[str, Any]]]:
    """Reads the test's topic back: (partition, offset) -> decoded submission."""
    decoder = AvroDeserializer(LocalRegistry(), "HouseholdSubmission")

    def read() -> dict[tuple[int, int], dict[str, Any]]:
        messages = read_topic(kafka.bootstrap, topic)
        return {(m.partition, m.offset): decoder.decode(m.value) for m in messages}

    return read


def test_accepted_submission_is_on_the_topic_where_the_receipt_says(
    gateway: RunningGateway, stored: Callable[[], dict[tuple[int, int], dict[str, Any]]], topic: str
) -> None:
    document = submission()
    answer = gateway.request("POST", "/v1/submissions", document)
    assert answer.status == 202, answer.body
    assert answer.body["submission_id"] == document["submission_id"]
    assert answer.body["topic"] == topic
    on_topic = stored()
    record = on_topic[answer.body["partition"], answer.body["offset"]]
    assert record["submission_id"] == document["submission_id"]
    assert record["members"][0]["nik"] == document["members"][0]["nik"]


def test_malformed_json_is_400(
    gateway: RunningGateway, stored: Callable[[], dict[Any, Any]]
) -> None:
    answer = gateway.request("POST", "/v1/submissions", raw=b'{"submission_id": "x",')
    assert answer.status == 400
    assert answer.body["error"].startswith("malformed JSON: ")
    assert "line 1 column" in answer.body["error"]
    assert stored() == {}


def test_wrong_type_is_400_naming_the_field(
    gateway: RunningGateway, stored: Callable[[], dict[Any, Any]]
) -> None:
    document = submission()
    document["revision"] = "satu"
    document["location"]["building_number"] = 12.5
    answer = gateway.request("POST", "/v1/submissions", document)
    assert answer.status == 400
    paths = {error["path"]: error["problem"] for error in answer.body["errors"]}
    assert set(paths) == {"revision", "location.building_number"}
    assert "expected int" in paths["revision"]
    assert "revision" in answer.body["error"]
    assert stored() == {}


def test_unknown_enum_symbol_is_400_listing_the_allowed_ones(gateway: RunningGateway) -> None:
    document = submission()
    document["members"][0]["sex"] = "L"
    answer = gateway.request("POST", "/v1/submissions", document)
    assert answer.status == 400
    (error,) = answer.body["errors"]
    assert error["path"] == "members[0].sex"
    assert "'L'" in error["problem"]
    assert "MALE" in error["problem"]
    assert "FEMALE" in error["problem"]


def test_missing_members_is_400(gateway: RunningGateway) -> None:
    document = submission()
    del document["members"]
    answer = gateway.request("POST", "/v1/submissions", document)
    assert answer.status == 400
    assert answer.body["errors"] == [{"path": "members", "problem": "missing required field"}]


def test_oversized_body_is_413(
    gateway: RunningGateway, stored: Callable[[], dict[Any, Any]]
) -> None:
    document = submission()
    document["location"]["address"] = "x" * (MAX_BODY + 1)
    answer = gateway.request("POST", "/v1/submissions", document)
    assert answer.status == 413
    assert str(MAX_BODY) in answer.body["error"]
    assert stored() == {}


def test_submission_size_limit_holds_through_the_broker(
    kafka: KafkaBackend, unique_topic: Callable[[str], str]
) -> None:
    """At the limit: 202 and on the topic. One byte over: 413 SUBMISSION_TOO_LARGE, not stored.

    The topic has the platform's configs (max.message.bytes on purpose) and the
    gateway its default body limit, so this is the size chain as deployed.
    """
    name = unique_topic("gateway-size")
    configs = topic_configs(Settings(topic_replication=1), retention=False)
    ensure_topics(kafka.bootstrap, [TopicSpec(name, 3, 1, configs)])
    default_body = GatewayConfig(bootstrap=kafka.bootstrap).max_body_bytes
    running = start_gateway(kafka.bootstrap, name, max_body=default_body)
    try:
        at_limit = sized_submission(MAX_SUBMISSION_BYTES)
        over = sized_submission(MAX_SUBMISSION_BYTES + 1)
        accepted = running.request("POST", "/v1/submissions", at_limit)
        refused = running.request("POST", "/v1/submissions", over)
        batch = running.request("POST", "/v1/submissions/batch", [over, submission()])
    finally:
        running.stop()
    assert accepted.status == 202, accepted.body
    assert refused.status == 413, refused.body
    assert refused.body["code"] == TOO_LARGE_CODE
    assert f"limit of {MAX_SUBMISSION_BYTES} bytes" in refused.body["error"]
    assert batch.status == 207, batch.body
    assert [item["status"] for item in batch.body["results"]] == [413, 202]
    assert batch.body["results"][0]["code"] == TOO_LARGE_CODE

    messages = {(m.partition, m.offset): m for m in read_topic(kafka.bootstrap, name)}
    assert len(messages) == 2, "the accepted one and the batch's small one; no oversized one"
    stored = messages[accepted.body["partition"], accepted.body["offset"]]
    assert len(stored.value) == MAX_SUBMISSION_BYTES
    record = AvroDeserializer(LocalRegistry(), "HouseholdSubmission").decode(stored.value)
    assert record["submission_id"] == at_limit["submission_id"]
    assert record["enumeration"]["notes"] == at_limit["enumeration"]["notes"]


def test_no_token_is_401_with_a_bearer_challenge(gateway: RunningGateway) -> None:
    answer = gateway.request("POST", "/v1/submissions", submission(), token=None)
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "missing bearer token" in answer.body["error"]


def test_unknown_token_is_401_and_not_echoed(gateway: RunningGateway) -> None:
    guess = "not-a-real-token-000000"
    answer = gateway.request("POST", "/v1/submissions", submission(), token=guess)
    assert answer.status == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert guess not in json.dumps(answer.body)


def test_another_enumerators_token_is_403(
    gateway: RunningGateway, stored: Callable[[], dict[Any, Any]]
) -> None:
    answer = gateway.request("POST", "/v1/submissions", submission(), token=TOKEN_0413)
    assert answer.status == 403
    assert "'0412'" in answer.body["error"]
    assert "'0413'" in answer.body["error"]
    assert stored() == {}


def test_non_json_content_type_is_415(gateway: RunningGateway) -> None:
    answer = gateway.request(
        "POST", "/v1/submissions", raw=json.dumps(submission()).encode(), content_type="text/plain"
    )
    assert answer.status == 415
    assert "application/json" in answer.body["error"]


def test_mixed_batch_is_207_and_only_good_items_are_stored(
    gateway: RunningGateway, stored: Callable[[], dict[tuple[int, int], dict[str, Any]]]
) -> None:
    good = [submission(household_id=f"hh-{n}") for n in range(3)]
    bad_enum = submission(household_id="hh-bad")
    bad_enum["housing"]["roof_material"] = "GENTENG"
    other = submission(household_id="hh-other")
    other["enumeration"]["enumerator_id"] = "0413"
    answer = gateway.request(
        "POST",
        "/v1/submissions/batch",
        {"submissions": [good[0], bad_enum, good[1], other, good[2]]},
    )
    assert answer.status == 207, answer.body
    statuses = [item["status"] for item in answer.body["results"]]
    assert statuses == [202, 400, 202, 403, 202]
    assert answer.body["results"][1]["errors"][0]["path"] == "housing.roof_material"
    assert (answer.body["accepted"], answer.body["rejected"]) == (3, 2)

    on_topic = stored()
    assert len(on_topic) == 3
    for item in answer.body["results"]:
        if item["status"] == 202:
            assert (
                on_topic[item["partition"], item["offset"]]["submission_id"]
                == item["submission_id"]
            )


def test_all_good_batch_as_plain_array_is_202(
    gateway: RunningGateway, stored: Callable[[], dict[Any, Any]]
) -> None:
    answer = gateway.request("POST", "/v1/submissions/batch", [submission(), submission()])
    assert answer.status == 202
    assert answer.body["accepted"] == 2
    assert len(stored()) == 2


def test_batch_over_the_item_limit_is_413(gateway: RunningGateway) -> None:
    answer = gateway.request("POST", "/v1/submissions/batch", [{}] * (MAX_ITEMS + 1))
    assert answer.status == 413
    assert f"at most {MAX_ITEMS}" in answer.body["error"]


def test_health_readiness_and_contract(gateway: RunningGateway) -> None:
    assert gateway.request("GET", "/healthz", token=None).body == {"status": "ok"}
    ready = gateway.request("GET", "/readyz", token=None)
    assert (ready.status, ready.body["status"]) == (200, "ready")
    contract = gateway.request("GET", "/openapi.yaml", token=None)
    assert contract.status == 200
    assert "openapi: 3.1.0" in contract.body


def test_kafka_down_is_503_fast_with_retry_after(unique_topic: Callable[[str], str]) -> None:
    """Nothing listens at the bootstrap address: never a 2xx, and no long hang."""
    down = start_gateway(f"127.0.0.1:{free_port()}", unique_topic("down"), timeout_ms=1500)
    try:
        started = time.monotonic()
        single = down.request("POST", "/v1/submissions", submission())
        batch = down.request("POST", "/v1/submissions/batch", [submission(), submission()])
        ready = down.request("GET", "/readyz", token=None)
        elapsed = time.monotonic() - started
    finally:
        down.stop()
    assert single.status == 503
    assert int(single.headers["retry-after"]) > 0
    assert "send it again later" in single.body["error"]
    assert "127.0.0.1" not in single.body["error"], "no internal addresses in answers"
    assert batch.status == 503
    assert [item["status"] for item in batch.body["results"]] == [503, 503]
    assert ready.status == 503
    assert elapsed < 20


def test_tokens_file_rotation_and_revocation_on_a_running_gateway(
    kafka: KafkaBackend, topic: str, tmp_path: Path
) -> None:
    """A digest added to the file is honoured, a revoked one refused, within the interval.

    The gateway is built as ``regsosek gateway`` builds it (settings with a tokens
    file of digests), served on a real port, publishing to the real broker.
    """
    path = tmp_path / "tokens.yaml"
    path.write_text(f'"{hashed_key(TOKEN_0412)}": "0412"\n', encoding="utf-8")
    settings = Settings(
        kafka_bootstrap=kafka.bootstrap,
        gateway_tokens_file=path,
        gateway_tokens_reload_seconds=0.2,
        gateway_kafka_timeout_ms=10_000,
    )
    config = replace(GatewayConfig.from_settings(settings), max_body_bytes=MAX_BODY)
    tokens = token_source_from_settings(settings)
    publisher = SubmissionPublisher(kafka.bootstrap, LocalRegistry(), topic=topic)
    running = RunningGateway(create_app(config, tokens, publisher))
    other = submission(household_id="hh-0413")
    other["enumeration"]["enumerator_id"] = "0413"

    accepted: list[str] = []  # household ids answered 202, so on the topic

    def post(token: str, document: Any) -> Answer:
        answer = running.request("POST", "/v1/submissions", document, token=token)
        if answer.status == 202:
            accepted.append(document["household_id"])
        return answer

    def until(token: str, document: Any, status: int) -> tuple[Answer, float]:
        started = time.monotonic()
        while True:
            answer = post(token, document)
            elapsed = time.monotonic() - started
            if answer.status == status or elapsed > 10:
                return answer, elapsed

    try:
        first = post(TOKEN_0412, submission())
        before = post(TOKEN_0413, other)
        path.write_text(
            f'"{hashed_key(TOKEN_0412)}": "0412"\n"{hashed_key(TOKEN_0413)}": "0413"\n',
            encoding="utf-8",
        )
        added, added_after = until(TOKEN_0413, other, 202)
        path.write_text(
            f'"{hashed_key(TOKEN_0412)}": "0412"\n"{hashed_key(TOKEN_0413)}": "0413"\n'
            f'revoked: ["{hashed_key(TOKEN_0412)}"]\n',
            encoding="utf-8",
        )
        revoked, revoked_after = until(TOKEN_0412, submission(), 401)
        refused_after = post(TOKEN_0412, submission())
    finally:
        running.stop()
    assert first.status == 202, first.body
    assert before.status == 401
    assert added.status == 202, added.body
    assert revoked.status == 401, revoked.body
    assert max(added_after, revoked_after) < 2.0, (added_after, revoked_after)
    assert refused_after.status == 401
    stored = sorted(m.key.decode() for m in read_topic(kafka.bootstrap, topic))
    assert stored == sorted(accepted), "every 202 is on the topic, nothing after the revocation"
    assert other["household_id"] in stored
