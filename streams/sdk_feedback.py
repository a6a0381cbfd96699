"""The field-app SDK's read side: what became of the households an app sent (``GET /v1/feedback``).

Publishing goes to Kafka (streams/sdk.py); feedback comes from the gateway,
with the same bearer token the app uses there::

    with FeedbackClient("https://gateway.example", token) as feedback:
        for page in feedback.sync(saved_cursor):
            show(page.items)
            saved_cursor = page.cursor      # keep it only once the items are shown

:meth:`FeedbackClient.changes` asks once; :meth:`FeedbackClient.sync` follows
``more`` until everything that changed since the cursor came back. A 503 (the
worker away or busy) and a connection failure are retried a bounded number of
times, waiting ``Retry-After`` (capped); then :class:`FeedbackError` says when to
try again. An app stores the cursor after it has shown the items, so a crash
in between costs a repeat, never a loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

import httpx

from schemas.errors import RegsosekError

#: Longest pause between attempts, whatever Retry-After says (seconds).
MAX_WAIT_S = 30.0


class FeedbackError(RegsosekError):
    """The gateway refused or could not answer; ``retry_after`` seconds when retrying helps."""

    def __init__(self, message: str, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class FeedbackPage:
    """One answer: the changed households, the cursor to keep, and whether more are waiting."""

    items: list[dict[str, Any]]
    cursor: str
    more: bool


class FeedbackClient:
    """A small, blocking client of the gateway's feedback endpoint (httpx)."""

    def __init__(
        self,
        gateway_url: str,
        token: str,
        *,
        timeout_s: float = 30.0,
        attempts: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = httpx.Client(
            base_url=gateway_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )
        self._attempts = max(1, attempts)
        self._sleep = sleep

    def changes(
        self, cursor: str | None = None, *, limit: int = 100, enumerator_id: str | None = None
    ) -> FeedbackPage:
        """The households changed after ``cursor`` (all of them without one), oldest first."""
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if enumerator_id is not None:
            params["enumerator_id"] = enumerator_id
        body = self._get(params)
        return FeedbackPage(list(body["items"]), str(body["cursor"]), bool(body["more"]))

    def sync(
        self, cursor: str | None = None, *, limit: int = 100, enumerator_id: str | None = None
    ) -> Iterator[FeedbackPage]:
        """Pages until nothing more is waiting (at least one page, maybe empty)."""
        while True:
            page = self.changes(cursor, limit=limit, enumerator_id=enumerator_id)
            yield page
            if not page.more:
                return
            cursor = page.cursor

    def _get(self, params: dict[str, str | int]) -> dict[str, Any]:
        failure = FeedbackError("no attempt made", None)
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(min(failure.retry_after or 1.0, MAX_WAIT_S))
            try:
                response = self._client.get("/v1/feedback", params=params)
            except httpx.HTTPError as exc:
                failure = FeedbackError(f"gateway unreachable: {exc}", None, 1.0)
                continue
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            failure = _error(response)
            if response.status_code != 503:
                break
        raise failure

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error(response: httpx.Response) -> FeedbackError:
    """The gateway's refusal as an exception, with its message and Retry-After."""
    try:
        message = str(response.json().get("error") or response.reason_phrase)
    except ValueError:
        message = response.reason_phrase
    retry = response.headers.get("Retry-After")
    retry_after = float(retry) if retry and retry.isdigit() else None
    return FeedbackError(f"{response.status_code}: {message}", response.status_code, retry_after)
