"""The gateway's client for the worker's read pages (feedback, console).

With the embedded engine only the worker may query ClickHouse, and one path
serves server mode too, so whatever the gateway shows of the stored data it
asks the worker for, with the gateway's own operator token. One aiohttp
session per gateway, a timeout per attempt and a bounded number of attempts:
a worker that is away, busy (its read budget answered 503) or refuses the
token becomes a 503 with ``Retry-After`` for the caller, never a 500 and never
an unbounded wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import aiohttp

from streams.gateway.payloads import Problem

log = logging.getLogger(__name__)

#: Attempts per request (the first and the retries), and the pause before each retry.
ATTEMPTS = 3
BACKOFF_S = (0.2, 0.5)


class WorkerClient:
    """GETs on the worker's pages, JSON in and out; owns one HTTP session."""

    def __init__(
        self, url: str, token: str, *, timeout_s: float, retry_after_s: int, unavailable: str
    ) -> None:
        self._url = url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._unavailable_message = unavailable
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP session (inside the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s)
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, path: str, params: Mapping[str, str]) -> tuple[int, object]:
        """The worker's status and JSON body; 503 answers are retried, the last one returned.

        Raises :meth:`unavailable` when no attempt got an answer at all.
        """
        if self._session is None or not self._token:
            raise self.unavailable()
        headers = {"Authorization": f"Bearer {self._token}"}
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)])
            try:
                async with self._session.get(
                    f"{self._url}{path}", params=dict(params), headers=headers
                ) as response:
                    if response.status == 503 and attempt + 1 < ATTEMPTS:
                        continue
                    body: object = await response.json(content_type=None)
                    return response.status, body
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("worker %s attempt %d failed: %s", path, attempt + 1, exc)
        raise self.unavailable()

    def unavailable(self) -> Problem:
        """The caller's 503: the worker could not answer now."""
        return Problem(
            503, self._unavailable_message, headers={"Retry-After": str(self.retry_after_s)}
        )
