"""The console's gateway side: who may ask what, shared reads, the event stream's framing.

The worker here is a small aiohttp stub that counts its calls (pure HTTP plumbing:
the real worker pages are tested against the real engine in the integration tests).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import MultiDict

from processors.rules import RULES_BY_CODE
from schemas.frame import Enumerator, Frame
from streams.gateway.app import GatewayConfig, create_app
from streams.gateway.auth import TokenStore
from streams.gateway.console import (
    Console,
    ConsoleConfig,
    Viewer,
    identify,
    main_regency,
    reasons_catalogue,
    worker_params,
)
from streams.gateway.live import Coalesced, LiveFeed, StreamsFull, sse_event
from streams.gateway.payloads import Problem
from streams.gateway.worker_client import WorkerClient
from streams.worker.auth import OperatorTokens
from tests.unit.test_gateway_app import RecordingPublisher

OPERATOR = "operator-token-0123456789"
SUPERVISOR = "supervisor-token-0123456789"
ENUMERATOR = "enumerator-token-0123456789"
FRAME = Frame.build(
    [
        Enumerator("0101", "051", "35.09"),
        Enumerator("0102", "051", "35.09"),
        Enumerator("0201", "052", "35.09"),
        Enumerator("0301", "053", "35.10"),
    ],
    [],
    [],
)
TOKENS = TokenStore.from_mapping({SUPERVISOR: "051", ENUMERATOR: "0101"})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_operators_supervisors_and_enumerators_are_told_apart() -> None:
    operators = OperatorTokens([OPERATOR])
    assert identify(f"Bearer {OPERATOR}", operators, TOKENS, FRAME) == Viewer(
        "operator", "operator"
    )
    assert identify(f"Bearer {SUPERVISOR}", operators, TOKENS, FRAME) == Viewer(
        "supervisor", "051", ("0101", "0102")
    )
    with pytest.raises(Problem) as enumerator:
        identify(f"Bearer {ENUMERATOR}", operators, TOKENS, FRAME)
    assert enumerator.value.status == 403
    for header in (None, "Bearer nobody-knows-this-token", "Basic abc"):
        with pytest.raises(Problem) as unknown:
            identify(header, operators, TOKENS, FRAME)
        assert unknown.value.status == 401


def test_a_worker_without_operator_tokens_still_lets_supervisors_in() -> None:
    viewer = identify(f"Bearer {SUPERVISOR}", OperatorTokens([]), TOKENS, FRAME)
    assert viewer.role == "supervisor"


def test_supervisors_ask_only_the_overview_and_their_own_team_s_reviews() -> None:
    supervisor = Viewer("supervisor", "051", ("0101", "0102"))
    assert worker_params("reviews", supervisor, {}) == (
        "/console/reviews",
        {"enumerators": "0101,0102"},
    )
    assert worker_params("reviews", supervisor, {"enumerator_id": "0102"})[1] == {
        "enumerators": "0102"
    }
    for question, query, status in [
        ("reviews", {"enumerator_id": "0201"}, 403),  # another team
        ("district", {"code": "35.09.02"}, 403),
        ("rejections", {}, 403),
        ("health", {}, 403),
        ("overview", {"district": "x"}, 400),  # unknown parameter
    ]:
        with pytest.raises(Problem) as refused:
            worker_params(question, supervisor, query)
        assert refused.value.status == status, question


def test_operators_ask_everything_with_known_parameters_given_once() -> None:
    operator = Viewer("operator", "operator")
    assert worker_params("district", operator, {"code": "35.09.02"}) == (
        "/console/district",
        {"code": "35.09.02"},
    )
    assert worker_params("reviews", operator, {})[1] == {}
    with pytest.raises(Problem):
        worker_params("district", operator, MultiDict([("code", "a"), ("code", "b")]))


def test_the_console_opens_on_the_configured_regency_else_the_frame_s_largest() -> None:
    assert main_regency(FRAME, None) == "35.09"
    assert main_regency(FRAME, "35.10") == "35.10"
    assert main_regency(Frame(), None) is None


def test_the_reason_catalogue_has_every_rule_in_both_languages() -> None:
    catalogue = reasons_catalogue()
    assert set(catalogue) == set(RULES_BY_CODE)
    assert all(entry["message_id"] and entry["message_en"] for entry in catalogue.values())


def test_an_event_is_one_data_line_whatever_the_text() -> None:
    event = sse_event("overview", {"note": "two\nlines\n\nevent: fake", "n": 1})
    lines = event.decode().split("\n")
    assert lines[0] == "event: overview" and lines[1].startswith("data: ")
    assert lines[2:] == ["", ""]
    assert json.loads(lines[1].removeprefix("data: "))["note"] == "two\nlines\n\nevent: fake"
    with pytest.raises(ValueError):
        sse_event("bad\nname", {})


def test_concurrent_and_recent_questions_share_one_fetch_and_failures_are_not_kept() -> None:
    calls: list[str] = []
    now = [0.0]

    async def fetch(path: str, params: Mapping[str, str]) -> tuple[int, object]:
        calls.append(path)
        await asyncio.sleep(0.01)
        if path == "/fail":
            raise RuntimeError("worker away")
        return 200, {"path": path, **params}

    async def go() -> None:
        reads = Coalesced(fetch, ttl_s=1.0, clock=lambda: now[0])
        answers = await asyncio.gather(*(reads.get("/a", {"x": "1"}) for _ in range(20)))
        assert all(answer == (200, {"path": "/a", "x": "1"}) for answer in answers)
        assert calls == ["/a"]
        now[0] = 0.5
        await reads.get("/a", {"x": "1"})
        await reads.get("/a", {"x": "2"})  # other parameters: another question
        assert calls == ["/a", "/a"]
        now[0] = 2.0
        await reads.get("/a", {"x": "1"})  # expired
        assert calls == ["/a", "/a", "/a"]
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await reads.get("/fail", {})
        assert calls.count("/fail") == 2  # the failure was asked again, not remembered

    asyncio.run(go())


def test_the_live_feed_polls_once_for_all_subscribers_and_stops_when_they_leave() -> None:
    reads: list[str] = []

    async def read(kind: str) -> object:
        reads.append(kind)
        return {"kind": kind, "n": len(reads)}

    async def go() -> None:
        feed = LiveFeed(read, ("overview", "health"), period_s=0.05, max_streams=3)
        everyone = [feed.subscribe(frozenset({"overview", "health"})) for _ in range(2)]
        supervisor = feed.subscribe(frozenset({"overview"}))
        with pytest.raises(StreamsFull):
            feed.subscribe(frozenset({"overview"}))
        first = await asyncio.wait_for(supervisor.queue.get(), 2)
        assert first.startswith(b"event: overview")
        await asyncio.sleep(0.3)
        rounds = feed.rounds
        assert rounds >= 2
        assert reads.count("overview") == rounds or reads.count("overview") == rounds + 1
        kinds = set()
        while not supervisor.queue.empty():
            kinds.add(supervisor.queue.get_nowait().split(b"\n")[0])
        assert kinds <= {b"event: overview"}  # no health for a supervisor
        assert everyone[0].queue.qsize() <= 8  # a slow reader's queue stays bounded
        for subscription in [*everyone, supervisor]:
            feed.unsubscribe(subscription)
        await asyncio.sleep(0.2)
        stopped = len(reads)
        await asyncio.sleep(0.2)
        assert len(reads) == stopped  # nobody listens: nobody asks
        late = feed.subscribe(frozenset({"overview"}))
        assert late.queue.qsize() == 1  # primed with the latest overview at once
        await feed.close()

    asyncio.run(go())


# --- through the gateway, with a stub worker ---------------------------------------------


def stub_worker(calls: list[tuple[str, dict[str, str]]]) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        calls.append((request.path, dict(request.query)))
        if request.headers.get("Authorization") != f"Bearer {OPERATOR}":
            return web.json_response({"error": "no"}, status=403)
        if request.query.get("code") == "bad":
            return web.json_response({"error": "code must be a district code"}, status=400)
        return web.json_response({"path": request.path, "query": dict(request.query)})

    worker = web.Application()
    worker.router.add_get("/{tail:.*}", answer)
    return worker


async def _console_client(worker_url: str) -> TestClient[Any, Any]:
    console = Console(
        FRAME,
        OperatorTokens([OPERATOR]),
        TOKENS,
        WorkerClient(worker_url, OPERATOR, timeout_s=2, retry_after_s=1, unavailable="away"),
        ConsoleConfig(refresh_s=0.1),
    )
    app = create_app(
        GatewayConfig(bootstrap="127.0.0.1:9"), TOKENS, RecordingPublisher(), console=console
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return client


def test_the_gateway_serves_the_console_api_by_role_with_strict_headers() -> None:
    calls: list[tuple[str, dict[str, str]]] = []

    async def go() -> None:
        async with TestServer(stub_worker(calls)) as worker:
            client = await _console_client(str(worker.make_url("")))
            try:
                who = await client.get("/console/api/whoami", headers=bearer(SUPERVISOR))
                assert (await who.json())["team"] == ["0101", "0102"]
                assert "default-src 'self'" in who.headers["Content-Security-Policy"]
                assert who.headers["Cache-Control"] == "no-store"
                reviews = await client.get("/console/api/reviews", headers=bearer(SUPERVISOR))
                assert (await reviews.json())["query"] == {"enumerators": "0101,0102"}
                health = await client.get("/console/api/health", headers=bearer(SUPERVISOR))
                assert health.status == 403
                anonymous = await client.get("/console/api/overview")
                assert anonymous.status == 401
                field_app = await client.get("/console/api/overview", headers=bearer(ENUMERATOR))
                assert field_app.status == 403
                bad = await client.get("/console/api/district?code=bad", headers=bearer(OPERATOR))
                assert bad.status == 400 and "district code" in (await bad.json())["error"]
                unknown = await client.get("/console/api/nothing", headers=bearer(OPERATOR))
                assert unknown.status == 404
                before = len(calls)
                await asyncio.gather(
                    *(
                        client.get("/console/api/overview", headers=bearer(OPERATOR))
                        for _ in range(10)
                    )
                )
                assert len(calls) == before + 1  # ten tabs, one worker read
            finally:
                await client.close()

    asyncio.run(go())


def test_the_event_stream_sends_overview_and_health_to_operators() -> None:
    calls: list[tuple[str, dict[str, str]]] = []

    async def go() -> None:
        async with TestServer(stub_worker(calls)) as worker:
            client = await _console_client(str(worker.make_url("")))
            try:
                response = await client.get("/console/api/events", headers=bearer(OPERATOR))
                assert response.headers["Content-Type"].startswith("text/event-stream")
                seen: set[str] = set()
                while seen != {"overview", "health"}:
                    line = (await asyncio.wait_for(response.content.readline(), 5)).decode()
                    if line.startswith("event: "):
                        seen.add(line.removeprefix("event: ").strip())
                response.close()
                refused = await client.get("/console/api/events")
                assert refused.status == 401
            finally:
                await client.close()

    asyncio.run(go())


def test_an_unreachable_worker_is_a_503_with_retry_after() -> None:
    async def go() -> None:
        client = await _console_client("http://127.0.0.1:9")
        try:
            response = await client.get("/console/api/overview", headers=bearer(OPERATOR))
            assert response.status == 503 and response.headers["Retry-After"] == "1"
        finally:
            await client.close()

    asyncio.run(go())
