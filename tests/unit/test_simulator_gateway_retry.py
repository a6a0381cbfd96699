"""The simulated tablets wait as the gateway tells them (429, 503) and send the same items again.

Pure verdicts and waits first; then the HTTP transport against a real local
HTTP server (stdlib, in a thread) that plays the gateway's throttled answers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from schemas.regions import load_regions
from simulator.config import ErrorRates, SimulationConfig
from simulator.gateway_client import HttpTransport
from simulator.gateway_retry import (
    NOT_STORED,
    OVERLOADED,
    RATE_LIMITED,
    UNREACHABLE,
    Answer,
    RetryPolicy,
    base_wait,
    judge,
    retry_after_seconds,
)
from simulator.population import build_frame
from simulator.runner import retry_note
from simulator.scenario import Dispatch, MessageKind, Scenario
from simulator.transport import DeliveryError
from simulator.truth import TruthTally

TOKEN = "t" * 40
CLEAN = ErrorRates(nik=0, area=0, age=0, duplicate=0, revision=0, corrupt=0, old_schema=0)
CONFIG = SimulationConfig(scale=0.002, districts=("35.09.02",), seed=3, rates=CLEAN)


# --- pure: verdicts and waits ----------------------------------------------------------


def test_a_202_accepts_every_item() -> None:
    assert judge(Answer(202, {}), 3).accepted == (0, 1, 2)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(429, {"code": "RATE_LIMITED"}, "2"), RATE_LIMITED),
        (Answer(503, {"code": "OVERLOADED"}, "1"), OVERLOADED),
        (Answer(0, {"error": "connection refused"}), UNREACHABLE),
    ],
)
def test_not_now_answers_send_every_item_again(answer: Answer, reason: str) -> None:
    verdict = judge(answer, 3)
    assert verdict.accepted == ()
    assert verdict.again == (0, 1, 2)
    assert verdict.reason == reason
    assert verdict.retry_after == answer.retry_after
    assert verdict.error is None


def test_items_kafka_did_not_store_are_the_only_ones_sent_again() -> None:
    body = {"results": [{"status": 202}, {"status": 503}, {"status": 202}]}
    verdict = judge(Answer(503, body, "1"), 3)
    assert (verdict.accepted, verdict.again, verdict.reason) == ((0, 2), (1,), NOT_STORED)
    assert verdict.error is None


def test_an_item_refused_for_its_content_is_final() -> None:
    body = {"results": [{"status": 202}, {"status": 400}]}
    verdict = judge(Answer(207, body), 2)
    assert verdict.accepted == (0,)
    assert verdict.error is not None and "400" in verdict.error


@pytest.mark.parametrize("status", [400, 401, 413, 500])
def test_other_answers_are_final(status: int) -> None:
    verdict = judge(Answer(status, {"error": "no"}), 2)
    assert verdict.accepted == verdict.again == ()
    assert verdict.error == f"gateway answered {status}: no"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2022, 10, 17, 8, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds("Mon, 17 Oct 2022 08:00:05 GMT", now) == 5.0
    assert retry_after_seconds("Mon, 17 Oct 2022 07:00:00 GMT", now) == 0.0  # past: now
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-1") is None
    assert retry_after_seconds(None) is None


def test_the_wait_is_as_told_but_bounded_else_it_backs_off() -> None:
    policy = RetryPolicy(max_wait_s=30.0, backoff_s=0.5)
    assert base_wait(policy, 1, "2") == 2.0
    assert base_wait(policy, 1, "3600") == 30.0  # a wrong or hostile header cannot stall a tablet
    assert [base_wait(policy, n, None) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert base_wait(policy, 10, None) == 30.0


def test_a_policy_needs_one_attempt_at_least() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)


def test_the_note_says_how_often_and_why() -> None:
    note = retry_note({RATE_LIMITED: 2, OVERLOADED: 1})
    assert note.startswith("3 request(s) sent again")
    assert "1 overloaded, 2 rate_limited" in note


# --- the HTTP transport against a real local server -------------------------------------


Reply = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


@dataclass
class Script:
    """The answers the fake gateway gives, in order (the last one repeats), and what it saw."""

    answers: list[Reply]
    bodies: list[list[dict[str, Any]]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self, body: dict[str, Any], token: str) -> Reply:
        with self.lock:
            self.bodies.append(body["submissions"])
            self.tokens.append(token)
            index = min(len(self.bodies), len(self.answers)) - 1
            return self.answers[index]


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[Script]]]:
    """A local HTTP server on a free port; tests put one :class:`Script` in the list."""
    scripts: list[Script] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the transport's connections expect

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            token = self.headers["Authorization"].removeprefix("Bearer ")
            status, answer, headers = scripts[0].next_answer(body, token)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", scripts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def dispatch() -> Dispatch:
    """Three clean households of one enumerator, as the scenario makes them."""
    regions = load_regions()
    frame = build_frame(regions, CONFIG)
    scenario = Scenario(frame, CONFIG, regions, schema_id=2)
    first = next(iter(scenario.dispatches()))
    messages = tuple(
        itertools.islice(
            (
                m
                for d in scenario.dispatches()
                if d.enumerator_id == first.enumerator_id
                for m in d.messages
            ),
            3,
        )
    )
    assert len(messages) == 3 and all(m.kind is MessageKind.HOUSEHOLD for m in messages)
    return Dispatch(first.at, first.enumerator_id, messages)


def transport_for(
    url: str, dispatch: Dispatch, policy: RetryPolicy, waits: list[float] | None = None
) -> HttpTransport:
    def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)
        threading.Event().wait(seconds)

    tokens = {str(dispatch.enumerator_id): TOKEN}
    return HttpTransport(url, tokens, None, policy=policy, sleep=sleep)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["submission_id"] for item in items]


def test_two_429s_with_retry_after_then_202(
    gateway: tuple[str, list[Script]], dispatch: Dispatch
) -> None:
    url, scripts = gateway
    limited = (429, {"error": "too many", "code": "RATE_LIMITED"}, {"Retry-After": "1"})
    scripts.append(Script([limited, limited, (202, {"accepted": 3, "rejected": 0}, {})]))
    waits: list[float] = []
    transport = transport_for(url, dispatch, RetryPolicy(jitter_s=0.2), waits)
    try:
        acknowledged = transport.send([dispatch])
    finally:
        transport.close()

    assert acknowledged == list(dispatch.messages)
    assert transport.retries == {RATE_LIMITED: 2}
    script = scripts[0]
    assert len(script.bodies) == 3
    assert ids(script.bodies[0]) == ids(script.bodies[1]) == ids(script.bodies[2])  # same items
    assert script.tokens == [TOKEN] * 3
    assert len(waits) == 2
    assert all(1.0 <= wait <= 1.2 for wait in waits), waits  # as told, plus bounded jitter

    # the truth counts each household once, however often its request went out
    frame = build_frame(load_regions(), CONFIG)
    tally = TruthTally(frame, seed=CONFIG.seed, scale=CONFIG.scale, topic="t", via="http")
    for message in acknowledged:
        tally.add(message)
    truth = tally.result()
    assert truth.messages_sent == truth.households_sent == 3


def test_only_the_items_kafka_did_not_store_are_sent_again(
    gateway: tuple[str, list[Script]], dispatch: Dispatch
) -> None:
    url, scripts = gateway
    partial = {"results": [{"status": 202}, {"status": 503}, {"status": 202}]}
    scripts.append(Script([(503, partial, {"Retry-After": "0"}), (202, {}, {})]))
    transport = transport_for(url, dispatch, RetryPolicy(jitter_s=0.0))
    try:
        acknowledged = transport.send([dispatch])
    finally:
        transport.close()
    messages = dispatch.messages
    assert acknowledged == [messages[0], messages[2], messages[1]]
    first, second = scripts[0].bodies
    assert ids(second) == [ids(first)[1]]
    assert transport.retries == {NOT_STORED: 1}


def test_attempts_are_bounded(gateway: tuple[str, list[Script]], dispatch: Dispatch) -> None:
    url, scripts = gateway
    scripts.append(Script([(503, {"code": "OVERLOADED"}, {"Retry-After": "0"})]))
    transport = transport_for(url, dispatch, RetryPolicy(max_attempts=3, jitter_s=0.0))
    try:
        with pytest.raises(DeliveryError, match="in 3 attempts") as caught:
            transport.send([dispatch])
    finally:
        transport.close()
    assert caught.value.acknowledged == []
    assert len(scripts[0].bodies) == 3
    assert transport.retries == {OVERLOADED: 2}


def test_a_refusal_is_not_retried(gateway: tuple[str, list[Script]], dispatch: Dispatch) -> None:
    url, scripts = gateway
    scripts.append(Script([(401, {"error": "unknown token"}, {})]))
    transport = transport_for(url, dispatch, RetryPolicy(jitter_s=0.0))
    try:
        with pytest.raises(DeliveryError, match="401: unknown token"):
            transport.send([dispatch])
    finally:
        transport.close()
    assert len(scripts[0].bodies) == 1
    assert transport.retries == {}
