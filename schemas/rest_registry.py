"""A Confluent-compatible schema-registry client on the standard library's urllib.

The I/O edge of the schemas package: schema logic stays pure elsewhere, this
module only moves JSON over HTTP. Ids are immutable in a registry, so
``get_by_id`` and ``register`` answers are cached for the life of the client.
Errors keep the HTTP status and Confluent's ``error_code`` (40401 subject
not found, 40403 schema not found, 409 incompatible, 42201 invalid schema),
so callers can tell "no such schema: reject the record" from "registry
unreachable: retry".
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from schemas.catalog import canonical_json
from schemas.errors import ConfigurationError, SchemaRegistryError
from schemas.registry import SUBJECT_NOT_FOUND, RegisteredSchema

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RestSchemaRegistry:
    """Client for ``POST /subjects/{s}/versions``, ``GET /schemas/ids/{id}`` and friends."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigurationError(
                "schema registry URL must be http(s)://[user:pass@]host[:port]"
            )
        host = parts.netloc.rsplit("@", 1)[-1]
        self.base_url = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        self._headers = {
            "Accept": f"{CONTENT_TYPE}, application/json",
            "Content-Type": CONTENT_TYPE,
        }
        if parts.username is not None:
            user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            token = base64.b64encode(user_pass.encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._timeout = timeout
        self._schemas: dict[int, dict[str, Any]] = {}
        self._ids: dict[tuple[str, str], int] = {}

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
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.base_url + path, data=data, method=method, headers=self._headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise _http_error(method, path, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SchemaRegistryError(
                f"cannot reach the schema registry at {self.base_url}: {reason}"
            ) from exc
        except json.JSONDecodeError as exc:
            raise SchemaRegistryError(f"{method} {path}: answer is not JSON: {exc}") from exc


def _q(subject: str) -> str:
    return quote(subject, safe="")


def _schema_of(answer: Mapping[str, Any]) -> dict[str, Any]:
    schema = json.loads(answer["schema"])
    if not isinstance(schema, dict):
        raise SchemaRegistryError("the registry returned a schema that is not a JSON object")
    return schema


def _http_error(method: str, path: str, exc: urllib.error.HTTPError) -> SchemaRegistryError:
    """Confluent's error body is ``{"error_code": 40403, "message": "..."}``; keep both."""
    try:
        payload = json.loads(exc.read() or b"{}")
    except (json.JSONDecodeError, OSError):
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    code = payload.get("error_code")
    message = payload.get("message") or exc.reason
    return SchemaRegistryError(
        f"{method} {path}: HTTP {exc.code}: {message}",
        http_status=exc.code,
        error_code=int(code) if isinstance(code, int) else None,
    )
