"""The operator console: its page, its JSON and its live stream, served by the gateway.

Why the gateway: it is the process operators and supervisors already reach, it
holds the supervisors' tokens and the frame (a supervisor's review decisions
go through its ``POST /v1/reviews``, same origin), and it already asks the
worker, the engine's one owner in embedded mode, for stored data. The console
adds no query path of its own: every figure is one of the worker's read pages
(``/console/...``, on the worker's read thread and budget, never the sink's),
coalesced here (:mod:`streams.gateway.live`) so a room full of screens costs
the same reads as one.

Who may call what (checked on every request, and every 15 s on an open stream,
so a revoked token stops its stream):

============================  ==========  ===========
path                          operator    supervisor
============================  ==========  ===========
/console/ (page, assets)      anyone: static files, no data
/console/api/whoami, map,     yes         yes
reasons, overview
/console/api/reviews          read-only   own team
/console/api/district,        yes         no (403)
rejections, health
/console/api/events           overview,   overview
                              health
============================  ==========  ===========

Operators use the operator tokens the worker accepts
(``REGSOSEK_OPERATOR_TOKENS[_FILE]``); supervisors their own gateway token; an
enumerator's token is refused (403): the field app has ``/v1/feedback``.
Tokens travel in the ``Authorization`` header only; the page keeps them in
session storage, and reads the event stream with ``fetch`` because
``EventSource`` cannot send a header. No answer carries a name, NIK, address
or payload: the worker's console pages return codes and counts only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from aiohttp import hdrs, web

from processors.feedback import reason
from processors.reviews import supervisors
from processors.rules import RULES_BY_CODE
from schemas.frame import Frame
from schemas.regions import Level, RegionMaster, load_regions
from streams.gateway.auth import Denied, TokenSource, authenticate
from streams.gateway.feedback import WorkerLink, team_of
from streams.gateway.live import Coalesced, LiveFeed, StreamsFull, Subscription
from streams.gateway.payloads import Problem
from streams.gateway.worker_client import WorkerClient
from streams.settings import Settings
from streams.worker.auth import OperatorTokens, Verdict

log = logging.getLogger(__name__)

Role = Literal["operator", "supervisor"]

UNAVAILABLE = "the console's data is not available right now (the worker does not answer)"
#: Browsers may only load what this gateway serves; nothing inline, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: Seconds between keep-alive comments (and credential checks) on an idle stream.
KEEPALIVE_S = 15.0
#: The worker's page and the parameters a browser may pass, per console question.
QUESTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "overview": ("/console/overview", frozenset({"window"})),
    "district": ("/console/district", frozenset({"code"})),
    "rejections": ("/console/rejections", frozenset({"limit", "district", "enumerator"})),
    "health": ("/console/health", frozenset()),
    "reviews": ("/console/reviews", frozenset({"limit", "enumerator_id"})),
}
#: What each role may ask (``reviews`` is further scoped to the caller's team).
ALLOWED: dict[Role, frozenset[str]] = {
    "operator": frozenset(QUESTIONS),
    "supervisor": frozenset({"overview", "reviews"}),
}
#: Live events each role receives.
LIVE_KINDS: dict[Role, frozenset[str]] = {
    "operator": frozenset({"overview", "health"}),
    "supervisor": frozenset({"overview"}),
}


@dataclass(frozen=True)
class Viewer:
    """Who is looking: an operator (anonymous token) or a supervisor and their team."""

    role: Role
    id: str
    team: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsoleConfig:
    """The console's settings: refresh period, stream bound, the regency shown first."""

    refresh_s: float = 2.0
    max_streams: int = 100
    regency: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleConfig:
        return cls(
            settings.console_refresh_seconds, settings.console_max_streams, settings.console_regency
        )


def identify(
    authorization: str | None, operators: OperatorTokens, tokens: TokenSource, frame: Frame
) -> Viewer:
    """The viewer behind an ``Authorization`` header, or Problem 401/403. Pure but for reloads."""
    if operators.check(authorization) is Verdict.ALLOWED:
        return Viewer("operator", "operator")
    outcome = authenticate(authorization, tokens.current())
    if isinstance(outcome, Denied):
        headers = {"WWW-Authenticate": 'Bearer realm="regsosek-console"'}
        raise Problem(401, "sign in with an operator or supervisor token", headers=headers)
    caller = outcome.enumerator_id
    if caller in supervisors(frame):
        return Viewer("supervisor", caller, tuple(team_of(frame, caller)))
    raise Problem(
        403,
        "the console is for operators and supervisors; an enumerator's app reads GET /v1/feedback",
    )


def main_regency(frame: Frame, configured: str | None) -> str | None:
    """The regency the console opens on: the configured one, else the frame's largest."""
    if configured:
        return configured
    counts = Counter(e.regency_code for e in frame.enumerators.values() if e.regency_code)
    return counts.most_common(1)[0][0] if counts else None


def worker_params(
    question: str, viewer: Viewer, query: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    """The worker page and parameters for one console question, after the role checks. Pure."""
    if question not in ALLOWED[viewer.role]:
        raise Problem(403, f"{question} is for operators")
    path, allowed = QUESTIONS[question]
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise Problem(400, f"unknown parameter(s) {', '.join(unknown)}")
    getall = getattr(query, "getall", None)
    if getall is not None and any(len(getall(name)) > 1 for name in query):
        raise Problem(400, "a parameter was given more than once")
    params = dict(query)
    if question == "reviews" and viewer.role == "supervisor":
        asked = params.pop("enumerator_id", None)
        if asked is not None and asked not in viewer.team:
            raise Problem(403, f"enumerator {asked!r} is not in your team")
        params["enumerators"] = asked or ",".join(viewer.team)
    elif question == "reviews" and "enumerator_id" in params:
        params["enumerators"] = params.pop("enumerator_id")
    return path, params


def reasons_catalogue() -> dict[str, dict[str, object]]:
    """Every reason code with its severity and its Indonesian and English message."""
    return {code: reason(code, None) for code in sorted(RULES_BY_CODE)}


def static_dir() -> Path:
    """The page's files, shipped as package data of ``streams.console``."""
    return Path(str(resources.files("streams.console") / "static"))


@cache
def _regions() -> RegionMaster:
    return load_regions()


@dataclass
class Console:
    """Everything the console's handlers share: who may call, the worker, the live feed."""

    frame: Frame
    operators: OperatorTokens
    tokens: TokenSource
    worker: WorkerClient
    config: ConsoleConfig = field(default_factory=ConsoleConfig)

    def __post_init__(self) -> None:
        self.reads = Coalesced(self.worker.get, ttl_s=min(1.0, self.config.refresh_s / 2))
        self.feed = LiveFeed(
            self._live, ("overview", "health"), self.config.refresh_s, self.config.max_streams
        )
        self.regency = main_regency(self.frame, self.config.regency)

    @classmethod
    def from_settings(
        cls, settings: Settings, frame: Frame, tokens: TokenSource, retry_after_s: int
    ) -> Console:
        return cls(
            frame,
            OperatorTokens.from_settings(settings),
            tokens,
            WorkerLink.from_settings(settings, retry_after_s).client(UNAVAILABLE),
            ConsoleConfig.from_settings(settings),
        )

    def viewer(self, request: web.Request) -> Viewer:
        return identify(
            request.headers.get(hdrs.AUTHORIZATION), self.operators, self.tokens, self.frame
        )

    async def ask(self, question: str, viewer: Viewer, query: Mapping[str, str]) -> object:
        """The worker's answer to one question, its 400 passed on, anything else a 503."""
        path, params = worker_params(question, viewer, query)
        status, body = await self.reads.get(path, params)
        if status == 200:
            return body
        if status in (400, 404) and isinstance(body, dict):
            raise Problem(status, str(body.get("error") or "bad request"))
        log.error("worker %s answered %s: %s", path, status, str(body)[:200])
        raise self.worker.unavailable()

    async def _live(self, kind: str) -> object:
        return await self.ask(kind, Viewer("operator", "live"), {})

    def whoami(self, viewer: Viewer) -> dict[str, object]:
        regions = _regions()
        regency = regions.get(self.regency) if self.regency else None
        regencies = sorted({e.regency_code for e in self.frame.enumerators.values()})
        return {
            "role": viewer.role,
            "id": viewer.id,
            "team": list(viewer.team),
            "regency": self.regency,
            "regency_name": regency.name if regency else None,
            "regencies": [
                {"code": code, "name": r.name}
                for code in regencies
                if (r := regions.get(code)) is not None and r.level is Level.REGENCY
            ],
        }


CONSOLE = web.AppKey("console", Console)


def install(app: web.Application, console: Console) -> None:
    """Add the console's routes; the API first, so the static files never shadow it."""
    app[CONSOLE] = console
    app.router.add_get("/console/api/whoami", whoami)
    app.router.add_get("/console/api/map", regency_map)
    app.router.add_get("/console/api/reasons", reasons)
    app.router.add_get("/console/api/events", events)
    app.router.add_get("/console/api/{question}", question)
    app.router.add_get("/console", to_page)
    app.router.add_get("/console/", page)
    if static_dir().is_dir():
        app.router.add_static("/console/", static_dir(), follow_symlinks=False)
    app.on_response_prepare.append(_headers)
    app.cleanup_ctx.append(_lifetime)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    console = app[CONSOLE]
    await console.worker.start()
    yield
    await console.feed.close()
    await console.worker.close()


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """Console responses: a strict CSP, no sniffing, no referrer, API answers never cached."""
    if not request.path.startswith("/console"):
        return
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if request.path.startswith("/console/api/"):
        response.headers["Cache-Control"] = "no-store"


async def to_page(_request: web.Request) -> web.StreamResponse:
    """``/console`` → ``/console/``, so the page's relative asset paths resolve."""
    raise web.HTTPPermanentRedirect("/console/")


async def page(_request: web.Request) -> web.StreamResponse:
    """The console's single page; it holds no data, so it needs no token."""
    index = static_dir() / "index.html"
    if not index.is_file():
        raise Problem(404, "the console's files are not installed with this gateway")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})


async def whoami(request: web.Request) -> web.Response:
    """The viewer's role, id and team, and the regency the console opens on."""
    console = request.app[CONSOLE]
    return web.json_response(console.whoami(console.viewer(request)))


async def reasons(request: web.Request) -> web.Response:
    """The reason catalogue in both languages, so the page needs no copy of it."""
    request.app[CONSOLE].viewer(request)
    return web.json_response(reasons_catalogue())


async def regency_map(request: web.Request) -> web.Response:
    """The regency's schematic map (any regency of the master with ``?regency=``)."""
    from schemas.console_map import (  # noqa: PLC0415 - loads data files
        UnknownRegencyError,
        regency_map_shipped,
    )

    console = request.app[CONSOLE]
    console.viewer(request)
    code = request.query.get("regency") or console.regency
    if not code:
        raise Problem(404, "no regency: load an enumeration frame or set REGSOSEK_CONSOLE_REGENCY")
    try:
        body = await asyncio.to_thread(regency_map_shipped, code)
    except UnknownRegencyError as exc:
        raise Problem(404, f"no map for regency {code!r}: {exc}") from None
    return web.json_response(body, headers={"Cache-Control": "private, max-age=3600"})


async def question(request: web.Request) -> web.Response:
    """One of :data:`QUESTIONS`, asked of the worker for the viewer's role."""
    name = request.match_info["question"]
    if name not in QUESTIONS:
        raise Problem(404, f"no console question {name!r}")
    console = request.app[CONSOLE]
    body = await console.ask(name, console.viewer(request), request.query)
    return web.json_response(body)


async def events(request: web.Request) -> web.StreamResponse:
    """``text/event-stream`` of overview (and, for operators, health) every refresh period."""
    console = request.app[CONSOLE]
    viewer = console.viewer(request)
    try:
        subscription = console.feed.subscribe(LIVE_KINDS[viewer.role])
    except StreamsFull as exc:
        raise Problem(
            503,
            f"too many console streams ({exc}); retry later",
            headers={"Retry-After": str(console.worker.retry_after_s)},
        ) from None
    response = web.StreamResponse(
        headers={
            hdrs.CONTENT_TYPE: "text/event-stream; charset=utf-8",
            hdrs.CACHE_CONTROL: "no-store",
            "X-Accel-Buffering": "no",  # a reverse proxy must not hold events back
        }
    )
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n")
        await _stream(request, console, subscription, response)
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the viewer went away
    finally:
        console.feed.unsubscribe(subscription)
    return response


async def _stream(
    request: web.Request, console: Console, subscription: Subscription, response: web.StreamResponse
) -> None:
    """Events as they come, a comment when idle; the token is checked again every so often."""
    loop = asyncio.get_running_loop()
    checked = loop.time()
    while True:
        try:
            event = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE_S)
        except TimeoutError:
            event = b": keep-alive\n\n"
        if loop.time() - checked >= KEEPALIVE_S:
            try:
                console.viewer(request)
            except Problem:
                await response.write(b"event: signed_out\ndata: {}\n\n")
                return
            checked = loop.time()
        await response.write(event)
