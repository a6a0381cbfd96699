"""Field apps on HTTP: each enumerator's tablet posts to the gateway with its own token.

``--via http`` sends every due dispatch as natural JSON to ``POST
/v1/submissions/batch`` (at most ``REGSOSEK_GATEWAY_MAX_BATCH_ITEMS`` per
request) with the enumerator's bearer token from ``tokens.json``. Tablets
work in parallel (a small thread pool, one keep-alive connection per thread)
but each enumerator's messages go in order, one request after the other, so
a household's retry and correction still follow its first message.

Old-app records leave out the fields schema v2 added; the gateway fills their
defaults, so they arrive BPS-coded as an old app's would. Items answered 503
(Kafka did not acknowledge) are sent again a few times, as an app would.
Corrupt bytes cannot travel as JSON: they go straight to Kafka, as a
misbehaving producer inside the network would, and the ground truth says so.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from schemas import catalog
from schemas.jsonform import JsonForm
from simulator.scenario import Dispatch, Message
from simulator.transport import SCHEMA, DeliveryError, RawKafka, record_of

RETRIES = 3
WORKERS = 16


class HttpTransport:
    """Field apps posting JSON to the gateway, each with their own bearer token."""

    via = "http"

    def __init__(
        self,
        gateway_url: str,
        tokens: Mapping[str, str],
        kafka: RawKafka | None,
        *,
        max_items: int = 200,
        timeout_s: float = 30.0,
    ) -> None:
        parts = urlsplit(gateway_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"gateway URL must be http(s)://host[:port], not {gateway_url!r}")
        https = parts.scheme == "https"
        self._kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        self._address = (parts.hostname, parts.port, timeout_s)
        self._path = parts.path.rstrip("/") + "/v1/submissions/batch"
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="simulated-tablet")
        self.tokens = dict(tokens)  # enumerator id -> token
        self.kafka = kafka
        self.max_items = max_items
        self.current = JsonForm(catalog.load_schema(SCHEMA))
        self.old = JsonForm(catalog.load_schema(SCHEMA, 1))
        self.notes: list[str] = [
            "corrupt messages went straight to Kafka: they cannot travel as JSON"
            if kafka is not None
            else "corrupt messages were skipped: --via http without Kafka access"
        ]

    def send(self, dispatches: Sequence[Dispatch]) -> list[Message]:
        """Post each enumerator's messages in order, enumerators in parallel."""
        by_enumerator: dict[str, list[Message]] = {}
        garbage: list[tuple[Message, bytes]] = []
        for dispatch in dispatches:
            for message in dispatch.messages:
                if message.payload is not None:
                    garbage.append((message, message.payload))
                else:
                    by_enumerator.setdefault(str(dispatch.enumerator_id), []).append(message)
        futures = [self._pool.submit(self._post_all, e, m) for e, m in by_enumerator.items()]
        acknowledged: list[Message] = []
        failure: DeliveryError | None = None
        for future in futures:
            try:
                acknowledged += future.result()
            except DeliveryError as exc:
                acknowledged += exc.acknowledged
                failure = failure or exc
        if failure is not None:
            raise DeliveryError(str(failure), acknowledged)
        if garbage and self.kafka is not None:
            acknowledged += self.kafka.send(garbage)
        return acknowledged

    def _post_all(self, enumerator: str, messages: list[Message]) -> list[Message]:
        done: list[Message] = []
        for start in range(0, len(messages), self.max_items):
            try:
                done += self._post(
                    self.tokens[enumerator], messages[start : start + self.max_items]
                )
            except DeliveryError as exc:
                raise DeliveryError(str(exc), done + exc.acknowledged) from exc
        return done

    def _post(self, token: str, messages: list[Message]) -> list[Message]:
        """Post one batch; resend the items answered 503 a few times before giving up."""
        done: list[Message] = []
        pending = messages
        for attempt in range(RETRIES + 1):
            if attempt:
                time.sleep(0.5 * attempt)
            status, body = self._request(token, [self._json(m) for m in pending])
            if status == 202:
                return done + pending
            if status not in {207, 503}:
                raise DeliveryError(f"gateway answered {status}: {body.get('error', body)}", done)
            statuses = [item["status"] for item in body.get("results", [])] or [503] * len(pending)
            done += [m for m, s in zip(pending, statuses, strict=True) if s == 202]
            refused = sorted({s for s in statuses if s not in {202, 503}})
            if refused:
                raise DeliveryError(f"gateway refused generated records ({refused})", done)
            pending = [m for m, s in zip(pending, statuses, strict=True) if s == 503]
            if not pending:
                return done
        raise DeliveryError(f"gateway could not store {len(pending)} submission(s)", done)

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            host, port, timeout = self._address
            connection = self._local.connection = self._kind(host, port, timeout=timeout)
            self._connections.append(connection)
        return connection

    def _request(self, token: str, items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        payload = json.dumps({"submissions": items}).encode("utf-8")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection = self._connection()
        try:
            connection.request("POST", self._path, body=payload, headers=headers)
            response = connection.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            return 503, {"error": f"gateway unreachable: {exc}"}
        try:
            body = json.loads(text) if text else {}
        except json.JSONDecodeError:
            body = {"error": text[:200].decode("utf-8", "replace")}
        return response.status, body if isinstance(body, dict) else {"error": str(body)}

    def _json(self, message: Message) -> dict[str, Any]:
        form = self.old if message.schema_version == 1 else self.current
        return form.to_json(record_of(message))

    def drain(self) -> list[Message]:
        return self.kafka.drain() if self.kafka is not None else []

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for connection in self._connections:
            connection.close()
        if self.kafka is not None:
            self.kafka.close()
