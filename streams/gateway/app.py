"""The aiohttp application: routes, limits, and the thread pool that talks to Kafka.

Handlers stay thin: authenticate (pure, :mod:`auth`), read and parse the body
(:mod:`payloads`), hand the document to :class:`SubmissionService` in a thread
and render what comes back. Refusals travel as :class:`Problem` and are
rendered by one middleware into the documented JSON error body.

Why a thread pool and not aiokafka: the SDK's kafka-python publisher already
holds every rule that makes a receipt trustworthy (schema check first,
household-id keys, ``acks=all``, idempotence, compression, timeouts), and the
field apps that use the SDK directly must get exactly the same behaviour as
those that speak HTTP. kafka-python's producer is thread-safe and blocks only
while waiting for the acknowledgement, so a small pool (:data:`KAFKA_THREADS`)
keeps that many publishes in flight while the event loop keeps serving; a
second producer implementation would be a second place for those rules to drift.

The access log never contains the Authorization header (aiohttp's default
format logs the request line, status, size, referrer and user agent only).

Before a request's body is read, its token must be under its rate (429) and
the gateway under its in-flight limit (503), :mod:`admission`; tokens from a
file are reread when the file changes (:mod:`reload`).

Metrics go through a :class:`GatewayObserver` (requests by route and status
class, latency, accepted and refused submissions, Kafka publish failures,
throttled requests, token reloads);
``regsosek gateway`` plugs in the Prometheus one from ``monitoring`` and serves
it at ``GET /metrics``. Without an observer there is no ``/metrics`` route and
the hooks cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

from aiohttp import hdrs, web

from schemas.catalog import load_schema
from schemas.frame import load_frame
from schemas.jsonform import JsonForm
from schemas.registry import registry_from_url
from streams.gateway.admission import Admission, Throttled
from streams.gateway.auth import (
    Authenticated,
    Denied,
    TokenSource,
    authenticate,
    parse_token_pairs,
    token_store_from,
)
from streams.gateway.console import Console
from streams.gateway.console import install as install_console
from streams.gateway.feedback import FeedbackService, WorkerLink
from streams.gateway.limits import InFlight, TokenBuckets
from streams.gateway.payloads import (
    Problem,
    batch_body,
    batch_items,
    batch_status,
    error_body,
    is_json_content_type,
    parse_json,
    receipt_body,
)
from streams.gateway.reload import Reload, ReloadingTokens, watch
from streams.gateway.reviews import ReviewService, review_receipt_body
from streams.gateway.service import SubmissionService
from streams.kafka_admin import metadata_answered
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.sdk import ProducerOptions, Publisher, ReviewPublisher, SubmissionPublisher
from streams.settings import Settings
from streams.topics import REVIEWS, SUBMISSIONS, named

log = logging.getLogger(__name__)

#: The contract ships inside the package (package data), so an installed gateway serves it.
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
KAFKA_THREADS = 32
RETRY_AFTER_S = 5
WWW_AUTHENTICATE = 'Bearer realm="regsosek"'

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class GatewayConfig:
    """The gateway's limits and where Kafka is (for the readiness probe).

    ``max_body_bytes`` only bounds what the gateway reads. Whether a submission
    fits is decided by its Avro wire size (:data:`~schemas.limits.MAX_SUBMISSION_BYTES`,
    413 with :data:`~schemas.limits.TOO_LARGE_CODE`); its JSON is larger than its
    Avro encoding (field names, quotes, base64) as a rule, so the body limit sits above it.
    """

    bootstrap: str
    max_body_bytes: int = 1024 * 1024
    max_batch_items: int = 200
    kafka_timeout_ms: int = 10_000
    retry_after_s: int = RETRY_AFTER_S
    rate_per_token: float = 10.0
    rate_burst: int = 40
    max_in_flight: int = 128
    tokens_reload_s: float = 5.0
    security: KafkaSecurity = PLAINTEXT

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        return cls(
            bootstrap=settings.kafka_bootstrap,
            max_body_bytes=settings.gateway_max_body_bytes,
            max_batch_items=settings.gateway_max_batch_items,
            kafka_timeout_ms=settings.gateway_kafka_timeout_ms,
            rate_per_token=settings.gateway_rate_per_token,
            rate_burst=settings.gateway_rate_burst,
            max_in_flight=settings.gateway_max_in_flight,
            tokens_reload_s=settings.gateway_tokens_reload_seconds,
            security=KafkaSecurity.from_settings(settings),
        )


class GatewayObserver(Protocol):
    """Hooks the gateway calls; each must be cheap and never raise."""

    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request; ``route`` is the route pattern, never the raw path."""
        ...

    def on_submissions(self, statuses: Sequence[int]) -> None:
        """The answer for each submission: 202 accepted, 503 not acknowledged, else refused."""
        ...

    def on_throttled(self, reason: str) -> None:
        """A request refused before its body was read: ``rate_limited`` or ``overloaded``."""
        ...

    def on_token_reload(self, outcome: str, tokens: int) -> None:
        """Tokens ``loaded`` at start, ``reloaded`` or ``failed`` to reload; ``tokens`` in force."""
        ...

    def exposition(self) -> tuple[bytes, str]:
        """The metrics page: body and content type."""
        ...


#: The route label of requests no route matched (any path: never a label value).
UNMATCHED = "unmatched"
#: Methods kept as label values; anything else is counted as OTHER.
METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})

CONFIG = web.AppKey("config", GatewayConfig)
TOKENS = web.AppKey("tokens", TokenSource)
ADMISSION = web.AppKey("admission", Admission)
SERVICE = web.AppKey("service", SubmissionService)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
OBSERVER = web.AppKey("observer", GatewayObserver)
REVIEW_SERVICE = web.AppKey("reviews", ReviewService)
FEEDBACK = web.AppKey("feedback", FeedbackService)


def create_app(
    config: GatewayConfig,
    tokens: TokenSource,
    publisher: Publisher,
    observer: GatewayObserver | None = None,
    reviews: ReviewService | None = None,
    *,
    feedback: FeedbackService | None = None,
    console: Console | None = None,
) -> web.Application:
    """The application; it owns ``publisher`` (and ``reviews``' one) and closes them on shutdown.

    ``POST /v1/reviews`` exists only with a ``reviews`` service (supervisors' decisions),
    ``GET /v1/feedback`` only with a ``feedback`` service (it asks the worker), the
    operator console (``/console/``) only with a ``console``.
    """
    middlewares = [_problems] if observer is None else [_observed, _problems]
    app = web.Application(
        middlewares=middlewares, client_max_size=config.max_body_bytes, logger=log
    )
    app[CONFIG] = config
    app[TOKENS] = tokens
    app[SERVICE] = SubmissionService(
        publisher, JsonForm(load_schema("HouseholdSubmission")), config.retry_after_s
    )
    app[EXECUTOR] = ThreadPoolExecutor(KAFKA_THREADS, thread_name_prefix="gateway-kafka")
    app[ADMISSION] = Admission(
        TokenBuckets(config.rate_per_token, config.rate_burst),
        InFlight(config.max_in_flight),
        config.retry_after_s,
    )
    app.router.add_post("/v1/submissions", post_submission)
    app.router.add_post("/v1/submissions/batch", post_batch)
    if reviews is not None:
        app[REVIEW_SERVICE] = reviews
        app.router.add_post("/v1/reviews", post_review)
    if feedback is not None:
        app[FEEDBACK] = feedback
        app.router.add_get("/v1/feedback", get_feedback)
        app.cleanup_ctx.append(_feedback_session)
    if console is not None:
        install_console(app, console)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/openapi.yaml", openapi)
    if observer is not None:
        app[OBSERVER] = observer
        app.router.add_get("/metrics", metrics)
    app.on_startup.append(_warm_up)
    app.cleanup_ctx.append(_token_watcher)
    app.on_cleanup.append(_close)
    return app


def token_source_from_settings(settings: Settings) -> TokenSource:
    """The variable's tokens, plus the file's reread on change when a file is set.

    Raises ConfigurationError for a bad variable or file: at start, that is an error.
    """
    env = parse_token_pairs(settings.gateway_tokens.get_secret_value())
    if settings.gateway_tokens_file is None:
        return token_store_from(env, None)
    return ReloadingTokens(env, settings.gateway_tokens_file)


def app_from_settings(settings: Settings, tokens: TokenSource | None = None) -> web.Application:
    """The application as ``regsosek gateway`` runs it, everything built from settings."""
    config = GatewayConfig.from_settings(settings)
    url = settings.schema_registry_url
    registry = registry_from_url(url.get_secret_value() if url else None)
    options = ProducerOptions(
        client_id="regsosek-gateway", timeout_ms=config.kafka_timeout_ms, security=config.security
    )
    publisher = SubmissionPublisher(
        settings.kafka_bootstrap,
        registry,
        topic=named(SUBMISSIONS, settings.topic_prefix),
        options=options,
    )
    from monitoring.gateway import PrometheusGatewayObserver  # noqa: PLC0415 - wiring only

    tokens = tokens if tokens is not None else token_source_from_settings(settings)
    frame = load_frame(settings.frame_directory)
    reviews = ReviewService(
        ReviewPublisher(
            settings.kafka_bootstrap,
            registry,
            topic=named(REVIEWS, settings.topic_prefix),
            options=options,
        ),
        JsonForm(load_schema("ReviewDecision")),
        frame,
        config.retry_after_s,
    )
    feedback = FeedbackService(frame, WorkerLink.from_settings(settings, config.retry_after_s))
    console = Console.from_settings(settings, frame, tokens, config.retry_after_s)
    observer = PrometheusGatewayObserver.create()
    return create_app(
        config, tokens, publisher, observer, reviews, feedback=feedback, console=console
    )


# --- handlers --------------------------------------------------------------------------


async def post_submission(request: web.Request) -> web.Response:
    """One household submission -> 202 with its Kafka position, once acknowledged."""
    try:
        caller = _caller(request)
        with request.app[ADMISSION].admitted(caller):
            document = await _read_json(request)
            service = request.app[SERVICE]
            receipt = await _in_thread(request, service.submit, caller, document)
    except Problem as problem:
        _refused(request, problem)
        raise
    _submissions(request, [202])
    return web.json_response(receipt_body(receipt), status=202)


async def post_batch(request: web.Request) -> web.Response:
    """Many submissions (an offline backlog) -> 202 all accepted, 207 mixed, 503 Kafka."""
    service = request.app[SERVICE]
    try:
        caller = _caller(request)
        with request.app[ADMISSION].admitted(caller):
            document = await _read_json(request)
            items = batch_items(document, request.app[CONFIG].max_batch_items)
            results = await _in_thread(request, service.submit_batch, caller, items)
    except Problem as problem:  # the whole batch refused: counted as one refusal
        _refused(request, problem)
        raise
    _submissions(request, [result.status for result in results])
    status = batch_status(results)
    headers = service.retry_after if status == 503 else None
    return web.json_response(batch_body(results), status=status, headers=headers)


async def post_review(request: web.Request) -> web.Response:
    """One supervisor's review decision -> 202 with its Kafka position, once acknowledged.

    Not counted as a submission; a throttled request is counted as throttled.
    """
    try:
        caller = _caller(request)
        with request.app[ADMISSION].admitted(caller):
            document = await _read_json(request)
            service = request.app[REVIEW_SERVICE]
            receipt = await _in_thread(request, service.submit, caller, document)
    except Throttled as throttled:
        _refused(request, throttled)
        raise
    return web.json_response(review_receipt_body(receipt), status=202)


async def get_feedback(request: web.Request) -> web.Response:
    """What became of the caller's (or their team's) households since ``cursor``.

    Not counted as a submission; a throttled request is counted as throttled.
    """
    try:
        caller = _caller(request)
        with request.app[ADMISSION].admitted(caller):
            body = await request.app[FEEDBACK].changes(caller.enumerator_id, request.query)
    except Throttled as throttled:
        _refused(request, throttled)
        raise
    return web.json_response(body)


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process answers. Kafka's state is /readyz's business."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: Kafka answers a metadata request within the Kafka timeout."""
    config = request.app[CONFIG]
    timeout_s = min(config.kafka_timeout_ms / 1000, 5.0)
    answered = _in_thread(
        request, metadata_answered, config.bootstrap, timeout_s, security=config.security
    )
    if await answered:
        return web.json_response({"status": "ready", "kafka": "reachable"})
    body = error_body("Kafka is unreachable; submissions would be refused with 503")
    headers = {"Retry-After": str(config.retry_after_s)}
    return web.json_response(body | {"status": "not ready"}, status=503, headers=headers)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of the gateway's metrics (only with an observer)."""
    body, content_type = request.app[OBSERVER].exposition()
    return web.Response(body=body, headers={hdrs.CONTENT_TYPE: content_type})


async def openapi(_request: web.Request) -> web.Response:
    """The API contract (openapi.yaml beside this module, installed as package data)."""
    if not OPENAPI_FILE.is_file():
        raise Problem(404, "openapi.yaml is not installed with this gateway")
    text = OPENAPI_FILE.read_text(encoding="utf-8")
    return web.Response(text=text, content_type="application/yaml")


# --- request edges ---------------------------------------------------------------------


def _caller(request: web.Request) -> Authenticated:
    tokens = request.app[TOKENS].current()
    outcome = authenticate(request.headers.get(hdrs.AUTHORIZATION), tokens)
    if isinstance(outcome, Denied):
        challenge = WWW_AUTHENTICATE
        if request.headers.get(hdrs.AUTHORIZATION):
            challenge += ', error="invalid_token"'
        raise Problem(401, outcome.reason, headers={hdrs.WWW_AUTHENTICATE: challenge})
    return outcome


async def _read_json(request: web.Request) -> Any:
    """The body as JSON, after the content-type (415) and size (413) checks."""
    if not is_json_content_type(request.content_type):
        raise Problem(
            415, f"send JSON (Content-Type: application/json), not {request.content_type}"
        )
    limit = request.app[CONFIG].max_body_bytes
    too_large = Problem(413, f"request body larger than {limit} bytes; send smaller batches")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    return parse_json(body)


async def _in_thread(
    request: web.Request, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run blocking Kafka work in the gateway's pool, keeping the event loop free."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app[EXECUTOR], lambda: work(*args, **kwargs))


def _submissions(request: web.Request, statuses: Sequence[int]) -> None:
    observer = request.app.get(OBSERVER)
    if observer is not None:
        observer.on_submissions(statuses)


def _refused(request: web.Request, problem: Problem) -> None:
    """Count a refused request: throttled ones apart, the rest as refused submissions."""
    observer = request.app.get(OBSERVER)
    if observer is None:
        return
    if isinstance(problem, Throttled):
        observer.on_throttled(problem.reason)
    else:
        observer.on_submissions([problem.status])


def route_label(request: web.Request) -> str:
    """The matched route's pattern, so a scanner's random paths never become series."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def _observed(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Time every request and report its route, method and final status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # redirects and the like pass through _problems
        status = exc.status
        raise
    finally:
        method = request.method if request.method in METHODS else "OTHER"
        seconds = time.perf_counter() - started
        request.app[OBSERVER].on_request(route_label(request), method, status, seconds)


@web.middleware
async def _problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Render refusals (ours and aiohttp's 404/405) as the documented JSON error body."""
    try:
        return await handler(request)
    except Problem as problem:
        return web.json_response(problem.body(), status=problem.status, headers=problem.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        keep = {k: v for k, v in exc.headers.items() if k in (hdrs.ALLOW, hdrs.RETRY_AFTER)}
        return web.json_response(error_body(exc.reason), status=exc.status, headers=keep)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return web.json_response(
            error_body("internal error; the request was not accepted"), status=500
        )


# --- lifecycle -------------------------------------------------------------------------


async def _warm_up(app: web.Application) -> None:
    """Connect the producer in the background so the first submission is not slow."""
    publisher = app[SERVICE].publisher
    connect = getattr(publisher, "connect", None)
    if connect is None:
        return

    def attempt() -> None:
        with contextlib.suppress(Exception):  # a broker that is down is /readyz's news
            connect()

    asyncio.get_running_loop().run_in_executor(app[EXECUTOR], attempt)


async def _token_watcher(app: web.Application) -> AsyncIterator[None]:
    """Reread a tokens file on change while the app runs (nothing to do for fixed tokens)."""
    source = app[TOKENS]
    observer = app.get(OBSERVER)

    def report(outcome: Reload, tokens: int) -> None:
        if observer is not None:
            observer.on_token_reload(outcome.value, tokens)

    if observer is not None:
        observer.on_token_reload("loaded", len(source))
    if not isinstance(source, ReloadingTokens):
        yield
        return
    task = asyncio.create_task(watch(source, app[CONFIG].tokens_reload_s, report))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _feedback_session(app: web.Application) -> AsyncIterator[None]:
    """The HTTP session to the worker, open while the app runs."""
    service = app[FEEDBACK]
    await service.start()
    yield
    await service.close()


async def _close(app: web.Application) -> None:
    """Deliver pending records, close the producer, stop the pool."""
    executor = app[EXECUTOR]
    await asyncio.get_running_loop().run_in_executor(executor, app[SERVICE].publisher.close)
    reviews = app.get(REVIEW_SERVICE)
    if reviews is not None:
        await asyncio.get_running_loop().run_in_executor(executor, reviews.publisher.close)
    executor.shutdown(wait=False, cancel_futures=True)


def run(settings: Settings, tokens: TokenSource | None = None) -> None:
    """Serve until interrupted (``regsosek gateway``)."""
    web.run_app(
        app_from_settings(settings, tokens),
        host=settings.gateway_host,
        port=settings.gateway_port,
        print=log.info,
    )
