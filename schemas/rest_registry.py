"""A Confluent-compatible schema-registry client on httpx, with timeouts and retries.

The I/O edge of the schemas package: schema logic stays pure elsewhere, this
module only moves JSON over HTTP. Ids are immutable in a registry, so
``get_by_id`` and ``register`` answers are cached for the life of the client.
Errors keep the HTTP status and Confluent's ``error_code`` (40401 subject
not found, 40403 schema not found, 409 incompatible, 42201 invalid schema),
so callers can tell "no such schema: reject the record" from "registry
unreachable: retry".

Every request has a timeout, and a transient failure (no connection, a
timeout, 5xx, 429) is tried again with jittered exponential backoff
(tenacity), honouring ``Retry-After``; a 4xx is the registry's answer and is
never retried. Every call is safe to repeat: registering a schema already
registered returns its id. When the retries are spent the last failure is
raised: without ``http_status`` when no answer came.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)

from schemas.catalog import canonical_json
from schemas.errors import ConfigurationError, SchemaRegistryError
from schemas.registry import SUBJECT_NOT_FOUND, RegisteredSchema

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
#: Answers that say "not now" rather than "no": worth another try.
TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class RegistryRetry:
    """How long a registry call keeps trying: attempts, backoff, and a total budget."""

    attempts: int = 4
    initial_s: float = 0.25
    max_delay_s: float = 4.0
    max_elapsed_s: float = 15.0


class _Transient(Exception):
    """A registry answer worth another try (5xx, 429), kept for the error if retries run out."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _Transient | httpx.TransportError)


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds a 429/503 asked us to wait (the delta-seconds form only)."""
    if not isinstance(exc, _Transient):
        return None
    value = exc.response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


class RestSchemaRegistry:
    """Client for ``POST /subjects/{s}/versions``, ``GET /schemas/ids/{id}`` and friends."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retry: RegistryRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigurationError(
                "schema registry URL must be http(s)://[user:pass@]host[:port]"
            )
        host = parts.netloc.rsplit("@", 1)[-1]
        self.base_url = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        auth = None
        if parts.username is not None:
            auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout),
            headers={"Accept": f"{CONTENT_TYPE}, application/json", "Content-Type": CONTENT_TYPE},
        )
        self._retry = retry or RegistryRetry()
        self._sleep = sleep
        self._schemas: dict[int, dict[str, Any]] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register (or find) ``schema`` under ``subject``; return its id."""
        text = canonical_json(schema)
        key = (subject, text)
        if key not in self._ids:
            answer = self._call("POST", f"/subjects/{_q(subject)}/versions", {"schema": text})
            self._ids[key] = int(answer["id"])
            self._schemas.setdefault(self._ids[key], json.loads(text))
        return self._ids[key]

    def get_by_id(self, schema_id: int) -> dict[str, Any]:
        """The schema with that id (404 SchemaRegistryError when unknown)."""
        if schema_id not in self._schemas:
            answer = self._call("GET", f"/schemas/ids/{int(schema_id)}")
            self._schemas[schema_id] = _schema_of(answer)
        return dict(self._schemas[schema_id])

    def subjects(self) -> list[str]:
        """Every subject of the registry."""
        return [str(subject) for subject in self._call("GET", "/subjects")]

    def versions(self, subject: str) -> list[int]:
        """Version numbers of ``subject``."""
        return [int(v) for v in self._call("GET", f"/subjects/{_q(subject)}/versions")]

    def get_version(self, subject: str, version: int) -> RegisteredSchema:
        """One version of ``subject``."""
        answer = self._call("GET", f"/subjects/{_q(subject)}/versions/{int(version)}")
        return RegisteredSchema(
            subject, int(answer["version"]), int(answer["id"]), _schema_of(answer)
        )

    def latest(self, subject: str) -> tuple[int, int, dict[str, Any]]:
        """(version, id, schema) of the newest version of ``subject``."""
        answer = self._call("GET", f"/subjects/{_q(subject)}/versions/latest")
        return int(answer["version"]), int(answer["id"]), _schema_of(answer)

    def check_compatibility(self, subject: str, schema: Mapping[str, Any]) -> list[str]:
        """The registry's verdict under the subject's configured compatibility level.

        A subject that does not exist yet is compatible with anything.
        """
        path = f"/compatibility/subjects/{_q(subject)}/versions/latest?verbose=true"
        try:
            answer = self._call("POST", path, {"schema": canonical_json(schema)})
        except SchemaRegistryError as exc:
            if exc.error_code == SUBJECT_NOT_FOUND:
                return []
            raise
        if answer.get("is_compatible"):
            return []
        return [str(message) for message in answer.get("messages") or ["incompatible"]]

    def set_compatibility(self, subject: str, level: str = "BACKWARD_TRANSITIVE") -> None:
        """Set a subject's compatibility level (the platform expects BACKWARD_TRANSITIVE)."""
        self._call("PUT", f"/config/{_q(subject)}", {"compatibility": level})

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        content = json.dumps(body).encode() if body is not None else None
        try:
            response = self._retrying()(self._send, method, path, content)
        except _Transient as exc:
            raise _http_error(method, path, exc.response) from None
        except httpx.HTTPError as exc:
            raise SchemaRegistryError(
                f"cannot reach the schema registry at {self.base_url}: {exc!r}"
            ) from exc
        if response.is_error:
            raise _http_error(method, path, response)
        try:
            return json.loads(response.content or b"null")
        except json.JSONDecodeError as exc:
            raise SchemaRegistryError(f"{method} {path}: answer is not JSON: {exc}") from exc

    def _send(self, method: str, path: str, content: bytes | None) -> httpx.Response:
        response = self._http.request(method, path, content=content)
        if response.status_code >= 500 or response.status_code == TOO_MANY_REQUESTS:
            raise _Transient(response)
        return response

    def _retrying(self) -> Retrying:
        policy = self._retry
        backoff = wait_exponential(
            multiplier=policy.initial_s, max=policy.max_delay_s
        ) + wait_random(0, policy.initial_s)

        def wait(state: RetryCallState) -> float:
            asked = _retry_after(state.outcome.exception() if state.outcome else None)
            return min(asked, policy.max_delay_s) if asked is not None else backoff(state)

        return Retrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.max_elapsed_s),
            wait=wait,
            sleep=self._sleep,
            reraise=True,
        )


def _q(subject: str) -> str:
    return quote(subject, safe="")


def _schema_of(answer: Mapping[str, Any]) -> dict[str, Any]:
    schema = json.loads(answer["schema"])
    if not isinstance(schema, dict):
        raise SchemaRegistryError("the registry returned a schema that is not a JSON object")
    return schema


def _http_error(method: str, path: str, response: httpx.Response) -> SchemaRegistryError:
    """Confluent's error body is ``{"error_code": 40403, "message": "..."}``; keep both."""
    try:
        payload = json.loads(response.content or b"{}")
    except json.JSONDecodeError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    code = payload.get("error_code")
    message = payload.get("message") or response.reason_phrase
    return SchemaRegistryError(
        f"{method} {path}: HTTP {response.status_code}: {message}",
        http_status=response.status_code,
        error_code=int(code) if isinstance(code, int) else None,
    )
