"""Field apps on HTTP: each enumerator's tablet posts to the gateway with its own token.

``--via http`` sends every due dispatch as natural JSON to ``POST
/v1/submissions/batch`` (at most ``REGSOSEK_GATEWAY_MAX_BATCH_ITEMS`` per
request) with the enumerator's bearer token from ``tokens.json``. Tablets
work in parallel (a small thread pool, one keep-alive connection per thread)
but each enumerator's messages go in order, one request after the other, so
a household's retry and correction still follow its first message.

Old-app records leave out the fields schema v2 added; the gateway fills their
defaults, so they arrive BPS-coded as an old app's would. A request answered
429 (the token is over its rate) or 503 (the gateway is busy, or Kafka did not
acknowledge some items) is sent again, the refused items only, as a real app
would: after ``Retry-After`` with jitter, a bounded number of times
(:mod:`simulator.gateway_retry`, on tenacity); :attr:`HttpTransport.retries`
counts the resends for the run report. Corrupt bytes cannot travel as JSON:
they go straight to Kafka, as a misbehaving producer inside the network would,
and the ground truth says so.

Supervisors' reviews go one by one to ``POST /v1/reviews`` with the
supervisor's own token (``tokens.json`` holds the supervisors' too): 202 is
an acknowledgement; 429 and 503 are tried again after ``Retry-After`` (or a
doubling backoff) up to :attr:`RetryPolicy.max_attempts` times; any other
answer stops the run (the simulator's reviews are generated to stand).
Paradata events have no gateway endpoint: they go through the SDK's
:class:`~streams.sdk.EnumeratorEventPublisher` straight to Kafka.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_random

from schemas import catalog
from schemas.jsonform import JsonForm
from simulator.gateway_retry import (
    Answer,
    RetryCounts,
    RetryPolicy,
    Verdict,
    WaitAsTold,
    counting,
    judge,
    retry_after_seconds,
)
from simulator.scenario import Dispatch, Message, MessageKind
from simulator.transport import SCHEMA, DeliveryError, RawKafka, publish_through, record_of
from streams.sdk import EnumeratorEventPublisher

REVIEW_SCHEMA = "ReviewDecision"

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
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        events: EnumeratorEventPublisher | None = None,
    ) -> None:
        parts = urlsplit(gateway_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"gateway URL must be http(s)://host[:port], not {gateway_url!r}")
        https = parts.scheme == "https"
        self._kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        self._address = (parts.hostname, parts.port, timeout_s)
        self._path = parts.path.rstrip("/") + "/v1/submissions/batch"
        self._reviews_path = parts.path.rstrip("/") + "/v1/reviews"
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="simulated-tablet")
        self.tokens = dict(tokens)  # enumerator id -> token
        self.kafka = kafka
        self.events = events
        self.max_items = max_items
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._retries = RetryCounts()
        self.current = JsonForm(catalog.load_schema(SCHEMA))
        self.old = JsonForm(catalog.load_schema(SCHEMA, 1))
        self.review_form = JsonForm(catalog.load_schema(REVIEW_SCHEMA))
        self.notes: list[str] = [
            "corrupt messages went straight to Kafka: they cannot travel as JSON"
            if kafka is not None
            else "corrupt messages were skipped: --via http without Kafka access"
        ]
        if events is not None:
            self.notes.append(
                "paradata events went straight to Kafka through the SDK: "
                "the gateway has no events endpoint"
            )

    def send(self, dispatches: Sequence[Dispatch]) -> list[Message]:
        """Post each enumerator's messages in order, enumerators in parallel."""
        by_enumerator: dict[str, list[Message]] = {}
        garbage: list[tuple[Message, bytes]] = []
        reviews: list[Message] = []
        events: list[Message] = []
        for dispatch in dispatches:
            for message in dispatch.messages:
                if message.kind is MessageKind.REVIEW:
                    reviews.append(message)
                elif message.kind is MessageKind.EVENT:
                    events.append(message)
                elif message.payload is not None:
                    garbage.append((message, message.payload))
                else:
                    by_enumerator.setdefault(str(dispatch.enumerator_id), []).append(message)
        futures = [self._pool.submit(self._post_all, e, m) for e, m in by_enumerator.items()]
        futures += [self._pool.submit(self._post_review, m) for m in reviews]
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
        if events:
            acknowledged += publish_through(self.events, events, "paradata events")
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

    def _post_review(self, message: Message) -> list[Message]:
        """One supervisor's decision, with their token; sent again on 429/503 as told."""
        record = record_of(message)
        token = self.tokens[str(record["supervisor_id"])]
        body = json.dumps(self.review_form.to_json(record)).encode("utf-8")
        answer = Answer(0, {})
        for attempt in range(self.policy.max_attempts):
            answer = self._request_to(self._reviews_path, token, body)
            if answer.status == 202:
                return [message]
            if answer.status not in {0, 429, 503} or attempt + 1 == self.policy.max_attempts:
                break
            told = retry_after_seconds(answer.retry_after)
            wait = told if told is not None else self.policy.backoff_s * 2**attempt
            self._retries.add("review_" + ("rate_limited" if answer.status == 429 else "busy"))
            self._sleep(min(wait, self.policy.max_wait_s))
        raise DeliveryError(
            f"gateway did not take review {record['review_id']}: "
            f"{answer.status} {answer.body.get('error', answer.body)}",
            [],
        )

    @property
    def retries(self) -> dict[str, int]:
        """Requests sent again so far, by reason (``rate_limited``, ``overloaded``, ...)."""
        return self._retries.snapshot()

    def _post(self, token: str, messages: list[Message]) -> list[Message]:
        """Post one batch; send the items the gateway could not take now again, as told."""
        done: list[Message] = []
        pending = list(messages)

        def attempt() -> Verdict:
            nonlocal pending
            verdict = judge(self._request(token, [self._json(m) for m in pending]), len(pending))
            done.extend(pending[i] for i in verdict.accepted)
            if verdict.error is not None:
                raise DeliveryError(verdict.error, list(done))
            pending = [pending[i] for i in verdict.again]
            return verdict

        policy = self.policy
        retrying = Retrying(
            sleep=self._sleep,
            stop=stop_after_attempt(policy.max_attempts),
            wait=WaitAsTold(policy) + wait_random(0, policy.jitter_s),
            retry=retry_if_result(lambda verdict: bool(verdict.again)),
            before_sleep=counting(self._retries),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        last = retrying(attempt)
        if pending:
            reason = last.reason if isinstance(last, Verdict) else None
            raise DeliveryError(
                f"gateway could not store {len(pending)} submission(s) in "
                f"{policy.max_attempts} attempts (last: {reason})",
                done,
            )
        return done

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            host, port, timeout = self._address
            connection = self._local.connection = self._kind(host, port, timeout=timeout)
            self._connections.append(connection)
        return connection

    def _request(self, token: str, items: list[dict[str, Any]]) -> Answer:
        payload = json.dumps({"submissions": items}).encode("utf-8")
        return self._request_to(self._path, token, payload)

    def _request_to(self, path: str, token: str, payload: bytes) -> Answer:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection = self._connection()
        try:
            connection.request("POST", path, body=payload, headers=headers)
            response = connection.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            return Answer(0, {"error": f"gateway unreachable: {exc}"})
        try:
            body = json.loads(text) if text else {}
        except json.JSONDecodeError:
            body = {"error": text[:200].decode("utf-8", "replace")}
        return Answer(
            response.status,
            body if isinstance(body, dict) else {"error": str(body)},
            response.getheader("Retry-After"),
        )

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
        if self.events is not None:
            self.events.close()
