"""``GET /v1/feedback``: a field app asks what became of its households since its cursor.

Who sees what is decided here, from the caller's own token and the enumeration
frame (as for reviews, streams/gateway/reviews.py): an enumerator sees their
own households; a supervisor of the frame sees their team's, or one member's
with ``?enumerator_id=``; naming anyone else is 403. The answer itself comes
from the worker's ``/feedback`` page (the embedded engine has one owner, and
one path serves server mode too), asked with an operator token over a
maintained client (:mod:`streams.gateway.worker_client`) with a timeout per
attempt and a bounded number of attempts. A worker that does not answer, is
busy or refuses the gateway's token makes a 503 with ``Retry-After``, never a
500: the tablet syncs later. The worker's answer (items, cursor) is passed on
unchanged; a bad cursor is the worker's 400, passed on with its message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from processors.reviews import supervisors
from schemas.errors import ConfigurationError
from schemas.frame import Frame
from streams.gateway.payloads import Problem
from streams.gateway.worker_client import WorkerClient
from streams.settings import Settings

log = logging.getLogger(__name__)

#: Parameters a field app may send.
PARAMETERS = frozenset({"cursor", "limit", "enumerator_id"})
UNAVAILABLE = "feedback is not available right now; sync again later"


def team_of(frame: Frame, supervisor_id: str) -> list[str]:
    """The enumerators whose supervisor in the frame is ``supervisor_id``, sorted."""
    return sorted(
        e.enumerator_id for e in frame.enumerators.values() if e.supervisor_id == supervisor_id
    )


def scope(frame: Frame, caller_id: str, asked: str | None) -> list[str] | str:
    """The enumerators ``caller_id`` may see for this request, or why not (403). Pure.

    An enumerator: themselves (``asked`` may only name them). A supervisor of
    the frame: their team, or one member of it. A supervisor who also
    enumerates (in the frame as an enumerator) sees their own households too.
    """
    is_supervisor = caller_id in supervisors(frame)
    allowed = set(team_of(frame, caller_id)) if is_supervisor else set()
    allowed.add(caller_id)
    if asked is None:
        return sorted(allowed)
    if asked in allowed:
        return [asked]
    if is_supervisor:
        return (
            f"enumerator {asked!r} is not in the team of supervisor {caller_id!r} in the "
            "enumeration frame; a supervisor sees their own team only"
        )
    return (
        f"the token belongs to enumerator {caller_id!r}; an enumerator sees only their own "
        "households"
    )


def field_parameters(query: Mapping[str, str]) -> dict[str, str]:
    """The app's parameters, each once and all known (400 otherwise)."""
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        raise Problem(
            400,
            f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(PARAMETERS))}",
        )
    getall = getattr(query, "getall", None)
    for name in query:
        if getall is not None and len(getall(name)) > 1:
            raise Problem(400, f"parameter {name} given more than once")
    return dict(query)


def read_worker_token(value: SecretStr, file: Path | None) -> SecretStr:
    """The operator token for the worker: the file's first line, else the variable."""
    if file is None:
        return value
    try:
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise ConfigurationError(f"worker token file {file}: {exc.strerror or exc}") from exc
    token = next((line for line in lines if line and not line.startswith("#")), "")
    if not token:
        raise ConfigurationError(f"worker token file {file} holds no token")
    return SecretStr(token)


@dataclass(frozen=True)
class WorkerLink:
    """Where the worker's pages are and how the gateway names itself to them."""

    url: str
    token: SecretStr
    timeout_s: float = 10.0
    retry_after_s: int = 5

    @classmethod
    def from_settings(cls, settings: Settings, retry_after_s: int) -> WorkerLink:
        """The link as configured; without a token, feedback answers 503 (and says why here)."""
        token = read_worker_token(settings.gateway_worker_token, settings.gateway_worker_token_file)
        if not token.get_secret_value():
            log.warning(
                "no operator token for the worker (REGSOSEK_GATEWAY_WORKER_TOKEN_FILE): "
                "GET /v1/feedback will answer 503"
            )
        return cls(
            settings.gateway_worker_url.rstrip("/"),
            token,
            settings.gateway_worker_timeout_seconds,
            retry_after_s,
        )

    def client(self, unavailable: str) -> WorkerClient:
        """A client of the worker's pages; ``unavailable`` is its callers' 503 message."""
        return WorkerClient(
            self.url,
            self.token.get_secret_value(),
            timeout_s=self.timeout_s,
            retry_after_s=self.retry_after_s,
            unavailable=unavailable,
        )


class FeedbackService:
    """Decides the caller's scope and asks the worker's ``/feedback`` page."""

    def __init__(self, frame: Frame, link: WorkerLink) -> None:
        self._frame = frame
        self._worker = link.client(UNAVAILABLE)

    async def start(self) -> None:
        """Open the HTTP session (inside the running loop)."""
        await self._worker.start()

    async def close(self) -> None:
        await self._worker.close()

    async def changes(self, caller_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """The worker's answer for this caller, or Problem 400/403/503."""
        params = field_parameters(query)
        allowed = scope(self._frame, caller_id, params.pop("enumerator_id", None))
        if isinstance(allowed, str):
            raise Problem(403, allowed)
        params["enumerators"] = ",".join(allowed)
        status, body = await self._worker.get("/feedback", params)
        if status == 200 and isinstance(body, dict):
            return body
        if status == 400 and isinstance(body, dict):
            raise Problem(400, str(body.get("error") or "bad request"))
        log.error("worker /feedback answered %s: %s", status, str(body)[:200])
        raise self._worker.unavailable()
