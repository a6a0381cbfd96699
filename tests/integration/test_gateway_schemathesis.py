"""Schemathesis fuzzes the served gateway from its own OpenAPI document, real broker behind it.

Requests are generated from ``streams/gateway/openapi.yaml`` (whose request schemas are
the Avro contract, :mod:`streams.gateway.contract`): documents that fit the
schema and documents that do not, batches, wrong types, odd strings and
numbers. Every answer must be documented (status, content type, headers, body
schema) and none may be a 5xx: with Kafka up and the throttles set high, a 5xx
would be a bug. The run is bounded (``MAX_EXAMPLES`` per operation and mode,
no example database), so it takes well under a minute on two cores.

Generated submissions carry random enumerator ids; the test sets them to the
token's enumerator so that valid ones get past the 403 and are published for
real (a 202 then needs Kafka's acknowledgement).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, CheckFunction
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from schemas.registry import LocalRegistry
from streams.gateway.app import GatewayConfig, create_app
from streams.gateway.auth import TokenStore
from streams.gateway.contract import OPENAPI_FILE
from streams.sdk import ProducerOptions, SubmissionPublisher
from streams.topics import TopicSpec, ensure_topics
from tests.backends import KafkaBackend
from tests.gateway_harness import RunningGateway
from tests.topics import read_topic

pytestmark = pytest.mark.integration

TOKEN = "schemathesis-token-0412-abcdef"
ENUMERATOR = "0412"
MAX_EXAMPLES = 25
#: Checked on every answer.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
#: (path, method, generation mode, extra checks). A batch with bad items is 207 by
#: design (each item answered on its own), so "invalid data is refused as a whole"
#: is checked on single submissions only; GET operations take no input to break.
RUNS = [
    ("/v1/submissions", "POST", GenerationMode.POSITIVE, []),
    ("/v1/submissions", "POST", GenerationMode.NEGATIVE, [negative_data_rejection]),
    ("/v1/submissions/batch", "POST", GenerationMode.POSITIVE, []),
    ("/v1/submissions/batch", "POST", GenerationMode.NEGATIVE, []),
    ("/healthz", "GET", GenerationMode.POSITIVE, []),
    ("/readyz", "GET", GenerationMode.POSITIVE, []),
    ("/openapi.yaml", "GET", GenerationMode.POSITIVE, []),
]


@pytest.fixture(scope="module")
def served(kafka: KafkaBackend, unique_topic_module: str) -> Iterator[tuple[str, str]]:
    ensure_topics(kafka.bootstrap, [TopicSpec(unique_topic_module, 3, 1)])
    options = ProducerOptions(client_id="schemathesis", timeout_ms=10_000)
    publisher = SubmissionPublisher(
        kafka.bootstrap, LocalRegistry(), topic=unique_topic_module, options=options
    )
    config = GatewayConfig(
        bootstrap=kafka.bootstrap, rate_per_token=10_000, rate_burst=10_000, max_in_flight=64
    )
    running = RunningGateway(
        create_app(config, TokenStore.from_mapping({TOKEN: ENUMERATOR}), publisher)
    )
    yield f"http://127.0.0.1:{running.port}", unique_topic_module
    running.stop()


@pytest.fixture(scope="module")
def unique_topic_module() -> str:
    return f"schemathesis.{uuid4().hex[:10]}"


def own_enumerator(body: Any) -> Any:
    """Give generated submissions the token's enumerator, so valid ones can be stored."""
    items = body if isinstance(body, list) else [body]
    if isinstance(body, dict) and isinstance(body.get("submissions"), list):
        items = body["submissions"]
    for item in items:
        enumeration = item.get("enumeration") if isinstance(item, dict) else None
        if isinstance(enumeration, dict) and "enumerator_id" in enumeration:
            enumeration["enumerator_id"] = ENUMERATOR
    return body


def run_operation(
    base_url: str,
    path: str,
    method: str,
    mode: GenerationMode,
    extra: Sequence[CheckFunction] = (),
) -> list[int]:
    """Send ``MAX_EXAMPLES`` generated requests; raise on the first failed check."""
    schema = schemathesis.openapi.from_path(OPENAPI_FILE)
    operation = schema[path][method]
    statuses: list[int] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Case[Any]) -> None:
        if case.body is not None and not isinstance(case.body, str | bytes):
            case.body = own_enumerator(case.body)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[*CHECKS, *extra], headers=headers)

    check()
    return statuses


@pytest.mark.parametrize(
    ("path", "method", "mode", "extra"), RUNS, ids=[f"{r[1]} {r[0]} {r[2]}" for r in RUNS]
)
def test_every_answer_is_documented_and_none_is_a_5xx(
    served: tuple[str, str],
    path: str,
    method: str,
    mode: GenerationMode,
    extra: list[CheckFunction],
) -> None:
    base_url, _topic = served
    statuses = run_operation(base_url, path, method, mode, extra)
    assert len(statuses) >= min(MAX_EXAMPLES, 1), "schemathesis sent nothing"
    assert all(status < 500 for status in statuses), statuses


def test_the_run_reached_kafka(served: tuple[str, str], kafka: KafkaBackend) -> None:
    """Positive examples were published for real, not all refused on the way."""
    base_url, topic = served
    statuses = run_operation(base_url, "/v1/submissions", "POST", GenerationMode.POSITIVE)
    assert statuses.count(202) > 0, statuses
    assert len(read_topic(kafka.bootstrap, topic)) >= statuses.count(202)
