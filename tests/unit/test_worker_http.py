"""The worker's HTTP rules without a worker: tokens, auth middleware, parameters, read bound.

The real worker (Faust's web server, bind address, 300 concurrent requests) is
checked in tests/integration/test_worker_http.py.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import MultiDict

from schemas.errors import ConfigurationError
from streams.worker.auth import (
    PUBLIC_PATHS,
    OperatorTokens,
    Verdict,
    bearer,
    digest,
    middleware,
)
from streams.worker.board_page import MAX_WINDOW_S, board_query
from streams.worker.reads import Reads, ReadsBusy
from streams.worker.web import BadParameter, SharedCheck, progress_query

TOKEN = "operator-token-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- tokens ---------------------------------------------------------------------------


def test_verdicts() -> None:
    tokens = OperatorTokens([TOKEN])
    assert tokens.check(f"Bearer {TOKEN}") is Verdict.ALLOWED
    assert tokens.check(f"bearer   {TOKEN} ") is Verdict.ALLOWED
    assert tokens.check(None) is Verdict.MISSING
    assert tokens.check(f"Basic {TOKEN}") is Verdict.MISSING
    assert tokens.check("Bearer ") is Verdict.MISSING
    assert tokens.check(f"Bearer {TOKEN}x") is Verdict.WRONG
    assert OperatorTokens().check(f"Bearer {TOKEN}") is Verdict.UNCONFIGURED


def test_only_hashes_are_kept() -> None:
    tokens = OperatorTokens([TOKEN])
    assert TOKEN not in repr(vars(tokens))
    assert digest(TOKEN) in tokens._fixed


def test_short_tokens_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 16"):
        OperatorTokens(["short"])
    file = tmp_path / "tokens"
    file.write_text(f"{TOKEN}\nabc\n")
    with pytest.raises(ConfigurationError, match="shorter than 16"):
        OperatorTokens(file=file)
    with pytest.raises(ConfigurationError, match="missing"):
        OperatorTokens(file=tmp_path / "missing")


def test_file_reloaded_on_change_and_revokes(tmp_path: Path) -> None:
    clock = Clock()
    file = tmp_path / "tokens"
    other = "second-operator-token-xyz"
    file.write_text(f"# office\n{TOKEN}\n{other}  # night shift\n")
    tokens = OperatorTokens(file=file, clock=clock)
    assert tokens.check(f"Bearer {other}") is Verdict.ALLOWED
    file.write_text(f"{TOKEN}\n")  # night shift revoked
    assert tokens.check(f"Bearer {other}") is Verdict.ALLOWED  # looked at once a second
    clock.now = 1.5
    assert tokens.check(f"Bearer {other}") is Verdict.WRONG
    assert tokens.check(f"Bearer {TOKEN}") is Verdict.ALLOWED
    file.unlink()
    clock.now = 3.0
    assert tokens.check(f"Bearer {TOKEN}") is Verdict.UNCONFIGURED


def test_bearer_parsing() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("Token abc") is None
    assert bearer("") is None


# --- the middleware -------------------------------------------------------------------


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path})


def _app(tokens: OperatorTokens) -> web.Application:
    app = web.Application(middlewares=[middleware(tokens)])
    for path in (*PUBLIC_PATHS, "/board", "/progress", "/stats", "/debug/consumer"):
        app.router.add_get(path, _ok)
    return app


def _statuses(tokens: OperatorTokens, header: str | None) -> dict[str, int]:
    paths = ("/healthz", "/readyz", "/metrics", "/board", "/progress", "/stats", "/debug/consumer")

    async def go() -> dict[str, int]:
        headers = {"Authorization": header} if header else {}
        async with TestClient(TestServer(_app(tokens))) as client:
            out = {p: (await client.get(p, headers=headers)).status for p in paths}
            out["/nowhere"] = (await client.get("/nowhere", headers=headers)).status
            out["/healthz/../board"] = (await client.get("/board/../board", headers=headers)).status
            return out

    return asyncio.run(go())


def test_public_paths_open_everything_else_needs_a_token() -> None:
    tokens = OperatorTokens([TOKEN])
    public = {"/healthz": 200, "/readyz": 200, "/metrics": 200}
    assert _statuses(tokens, None) == public | dict.fromkeys(
        ["/board", "/progress", "/stats", "/debug/consumer", "/nowhere", "/healthz/../board"], 401
    )
    assert _statuses(tokens, "Bearer wrong-token-0123456789") == public | dict.fromkeys(
        ["/board", "/progress", "/stats", "/debug/consumer", "/nowhere", "/healthz/../board"], 403
    )
    assert _statuses(tokens, f"Bearer {TOKEN}") == public | dict.fromkeys(
        ["/board", "/progress", "/stats", "/debug/consumer", "/healthz/../board"], 200
    ) | {"/nowhere": 404}


def test_unconfigured_worker_says_how() -> None:
    async def go() -> tuple[int, dict[str, Any]]:
        async with TestClient(TestServer(_app(OperatorTokens()))) as client:
            answer = await client.get("/board", headers={"Authorization": f"Bearer {TOKEN}"})
            return answer.status, await answer.json()

    status, body = asyncio.run(go())
    assert status == 403
    assert "REGSOSEK_OPERATOR_TOKENS_FILE" in body["error"]


# --- parameters -----------------------------------------------------------------------


def test_progress_parameters() -> None:
    assert progress_query(MultiDict()) == ("district", None)
    assert progress_query(MultiDict(by="village", district="35.09.02")) == ("village", "35.09.02")
    assert progress_query(MultiDict(by="enumerator", district="3509010")) == (
        "enumerator",
        "3509010",
    )
    for bad in (
        {"by": "regency"},
        {"district": "35.09"},
        {"district": "'; DROP TABLE x"},
        {"bye": "district"},
    ):
        with pytest.raises(BadParameter):
            progress_query(MultiDict(bad))
    with pytest.raises(BadParameter, match="more than once"):
        progress_query(MultiDict([("by", "district"), ("by", "village")]))


@pytest.mark.parametrize(
    "window", ["abc", "", "0", "-5", "1e3", "60.5", "٣", str(MAX_WINDOW_S + 1)]
)
def test_board_window_must_be_whole_seconds(window: str) -> None:
    with pytest.raises(BadParameter, match="window"):
        board_query(MultiDict(window=window))


def test_board_window_default_and_bounds() -> None:
    assert board_query(MultiDict()) == 60
    assert board_query(MultiDict(window="1")) == 1
    assert board_query(MultiDict(window=str(MAX_WINDOW_S))) == MAX_WINDOW_S


# --- the read bound and the shared readiness check ------------------------------------


class SlowClient:
    """Stands in for a ClickHouse client: the test decides when a query finishes."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_reads_refuse_beyond_the_bound_and_free_places_when_done() -> None:
    client = SlowClient()
    reads = Reads(client, limit=2)  # type: ignore[arg-type]

    def query(c: Any) -> str:
        c.release.wait(5)
        return "rows"

    async def go() -> tuple[list[Any], str]:
        first = asyncio.ensure_future(reads.run(query))
        second = asyncio.ensure_future(reads.run(query))
        await asyncio.sleep(0.05)
        refused = [await asyncio.gather(reads.run(query), return_exceptions=True)]
        first.cancel()  # its caller hangs up; the query runs on, so its place stays taken
        await asyncio.sleep(0.05)
        refused.append(await asyncio.gather(reads.run(query), return_exceptions=True))
        client.release.set()
        result = await second
        await asyncio.sleep(0.05)
        return refused, result

    refused, result = asyncio.run(go())
    assert all(isinstance(r[0], ReadsBusy) for r in refused)
    assert result == "rows"
    assert reads.in_flight == 0
    reads.close()
    assert client.closed


def test_shared_check_runs_once_for_a_burst() -> None:
    runs = 0

    async def check() -> tuple[dict[str, Any], bool]:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return {"ready": True}, True

    shared = SharedCheck(check)

    async def go() -> list[tuple[dict[str, Any], bool]]:
        burst = await asyncio.gather(*(shared() for _ in range(300)))
        await shared()  # a later probe checks again
        return burst

    burst = asyncio.run(go())
    assert len(burst) == 300 and all(ready for _, ready in burst)
    assert runs == 2
