"""Operator tokens: who may read the worker's pages beyond health and metrics.

``/progress``, ``/board``, ``/stats`` and ``/debug/consumer`` show a census's
progress per area and enumerator and the pipeline's insides; they are for the
regency office's operators, not for anyone who can reach the port. Liveness,
readiness and ``/metrics`` stay open: orchestrators and Prometheus call them
without credentials, and they carry counts, not people.

A request names itself with ``Authorization: Bearer <token>``; tokens come from
``REGSOSEK_OPERATOR_TOKENS`` and ``REGSOSEK_OPERATOR_TOKENS_FILE``. Only their
SHA-256 is kept, compared in constant time. The file is looked at again at most
once a second and re-read when it changed, so deleting a line revokes a token
without a restart. With no token configured the protected pages answer 403 and
say how to set one: a worker is never open by omission.

Tokens go in a header only, never in the query string: URLs end up in shell
history, proxy logs and Referer headers. The worker has no HTML page that a
browser would need a cookie for; ``/board`` is JSON for the terminal board.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from schemas.errors import ConfigurationError
from streams.secret_files import parse_tokens
from streams.settings import Settings

log = logging.getLogger(__name__)

#: Pages anyone who reaches the port may call (exact paths).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: Shortest token accepted: shorter ones can be guessed or were typed by hand.
MIN_TOKEN_CHARS = 16
#: How often, at most, the tokens file is looked at for changes.
RELOAD_EVERY_S = 1.0


class Verdict(Enum):
    """What one request's credentials are worth."""

    ALLOWED = "allowed"
    MISSING = "missing"  # no bearer token: 401
    WRONG = "wrong"  # a token nobody configured: 403
    UNCONFIGURED = "unconfigured"  # the worker has no operator token at all: 403


def digest(token: str) -> bytes:
    """The only form in which a token is kept."""
    return hashlib.sha256(token.encode()).digest()


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _short(tokens: Iterable[str]) -> int:
    return sum(1 for token in tokens if len(token) < MIN_TOKEN_CHARS)


class OperatorTokens:
    """The accepted tokens, hashed; the file's share refreshed when the file changes."""

    def __init__(
        self,
        fixed: Iterable[str] = (),
        file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        fixed = list(fixed)
        if _short(fixed):
            raise ConfigurationError(
                f"operator tokens must have at least {MIN_TOKEN_CHARS} characters"
            )
        self._fixed = frozenset(digest(token) for token in fixed)
        self._file = file
        self._clock = clock
        self._from_file: frozenset[bytes] = frozenset()
        self._stamp: tuple[int, int, int] | None = None
        self._looked_at = clock()
        if file is not None:
            self._load(file, initial=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> OperatorTokens:
        """The worker's tokens; a missing file or a short token fails at start."""
        fixed = parse_tokens(settings.operator_tokens.get_secret_value())
        return cls(fixed, settings.operator_tokens_file)

    def check(self, authorization: str | None) -> Verdict:
        """Judge one request's ``Authorization`` header."""
        self._refresh()
        known = self._fixed | self._from_file
        if not known:
            return Verdict.UNCONFIGURED
        token = bearer(authorization)
        if token is None:
            return Verdict.MISSING
        candidate = digest(token)
        match = False
        for expected in known:  # every one compared: the time says nothing about which
            match |= hmac.compare_digest(candidate, expected)
        return Verdict.ALLOWED if match else Verdict.WRONG

    def _refresh(self) -> None:
        if self._file is None or self._clock() - self._looked_at < RELOAD_EVERY_S:
            return
        self._looked_at = self._clock()
        self._load(self._file, initial=False)

    def _load(self, file: Path, *, initial: bool) -> None:
        """Read the file if it changed; at start any problem is fatal, later it revokes."""
        try:
            stat = file.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp:
                return
            tokens = parse_tokens(file.read_text(encoding="utf-8"))
        except OSError as exc:
            if initial:
                raise ConfigurationError(
                    f"operator tokens file {file}: {exc.strerror or exc}"
                ) from exc
            if self._from_file:
                log.error(
                    "operator tokens file %s unreadable (%s): its tokens are revoked",
                    file,
                    exc.strerror or exc,
                )
            self._from_file, self._stamp = frozenset(), None
            return
        short = _short(tokens)
        if short and initial:
            raise ConfigurationError(
                f"operator tokens file {file}: {short} token(s) shorter than "
                f"{MIN_TOKEN_CHARS} characters"
            )
        if short:
            log.error("operator tokens file %s: %d short token(s) ignored", file, short)
        self._from_file = frozenset(digest(t) for t in tokens if len(t) >= MIN_TOKEN_CHARS)
        self._stamp = stamp
        if not initial:
            log.info("operator tokens file %s re-read: %d token(s)", file, len(tokens))


UNCONFIGURED_MESSAGE = (
    "no operator token is configured on this worker, so only /healthz, /readyz and /metrics "
    "answer. Set REGSOSEK_OPERATOR_TOKENS_FILE to a file with one token a line (e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, mode 600) or "
    "REGSOSEK_OPERATOR_TOKENS, restart the worker, and send 'Authorization: Bearer <token>'."
)


def refusal(verdict: Verdict) -> web.Response:
    """The 401/403 answer for a request that may not pass."""
    if verdict is Verdict.MISSING:
        return web.json_response(
            {"error": "an operator token is required: send 'Authorization: Bearer <token>'"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="regsosek-worker"'},
        )
    if verdict is Verdict.WRONG:
        return web.json_response(
            {"error": "this operator token is not accepted"},
            status=403,
            headers={"WWW-Authenticate": 'Bearer realm="regsosek-worker", error="invalid_token"'},
        )
    return web.json_response({"error": UNCONFIGURED_MESSAGE}, status=403)


def middleware(tokens: OperatorTokens) -> Middleware:
    """An aiohttp middleware letting public paths through and asking the rest for a token.

    It sits in front of every route, Faust's own pages and unknown paths included,
    so a page added later is protected without anyone remembering to.
    """

    @web.middleware
    async def operator_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        verdict = tokens.check(request.headers.get("Authorization"))
        if verdict is not Verdict.ALLOWED:
            return refusal(verdict)
        return await handler(request)

    return operator_auth
