"""RestSchemaRegistry against a Confluent-shaped HTTP stand-in running in this process."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from schemas import catalog
from schemas.compat import check_backward_transitive
from schemas.errors import SchemaRegistryError, UnknownSchemaIdError
from schemas.rest_registry import RegistryRetry, RestSchemaRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from schemas.wire import frame
from tests import builders


class FakeConfluentRegistry:
    """A stand-in for a remote Confluent Schema Registry, for unit tests only.

    It is not Confluent's server: it implements just the endpoints our client
    uses, with Confluent's paths, JSON bodies and error codes, and keeps its
    state in memory. Compatibility answers come from our own checker, so these
    tests prove the HTTP client (paths, auth, error mapping), not the verdicts.
    """

    def __init__(self, user: str = "", password: str = "") -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.config: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.auth = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else ""
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeConfluentRegistry:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:  # noqa: PLR0911
        """Route one request; returns (HTTP status, JSON answer). One match reads best."""
        parts = [unquote(p) for p in urlsplit(path).path.strip("/").split("/")]
        match method, parts:
            case "GET", ["subjects"]:
                return 200, list(self.subjects)
            case "POST", ["subjects", subject, "versions"]:
                return self._register(subject, body["schema"])
            case "GET", ["schemas", "ids", schema_id]:
                if int(schema_id) not in self.schemas:
                    return 404, {"error_code": 40403, "message": "Schema not found"}
                return 200, {"schema": self.schemas[int(schema_id)]}
            case "GET", ["subjects", subject, "versions"]:
                if subject not in self.subjects:
                    return 404, {"error_code": 40401, "message": f"Subject '{subject}' not found."}
                return 200, list(range(1, len(self.subjects[subject]) + 1))
            case "GET", ["subjects", subject, "versions", version]:
                return self._version(subject, version)
            case "POST", ["compatibility", "subjects", subject, "versions", "latest"]:
                if subject not in self.subjects:
                    return 404, {"error_code": 40401, "message": f"Subject '{subject}' not found."}
                problems = self._problems(subject, body["schema"])
                return 200, {"is_compatible": not problems, "messages": problems}
            case "PUT", ["config", subject]:
                self.config[subject] = body["compatibility"]
                return 200, body
        return 404, {"error_code": 404, "message": "HTTP 404 Not Found"}

    def extra_headers(self, status: int) -> dict[str, str]:
        """Headers beyond the content's, for an answer of ``status``."""
        del status
        return {}

    def _register(self, subject: str, text: str) -> tuple[int, Any]:
        canonical = catalog.canonical_json(json.loads(text))
        known = self.subjects.setdefault(subject, [])
        for schema_id in known:
            if self.schemas[schema_id] == canonical:
                return 200, {"id": schema_id}
        problems = self._problems(subject, text)
        if problems:
            return 409, {"error_code": 409, "message": "Schema being registered is incompatible"}
        schema_id = next(
            (i for i, s in self.schemas.items() if s == canonical), 100 + len(self.schemas)
        )
        self.schemas[schema_id] = canonical
        known.append(schema_id)
        return 200, {"id": schema_id}

    def _version(self, subject: str, version: str) -> tuple[int, Any]:
        ids = self.subjects.get(subject)
        if not ids:
            return 404, {"error_code": 40401, "message": f"Subject '{subject}' not found."}
        number = len(ids) if version == "latest" else int(version)
        if not 1 <= number <= len(ids):
            return 404, {"error_code": 40402, "message": "Version not found."}
        schema_id = ids[number - 1]
        return 200, {
            "subject": subject,
            "version": number,
            "id": schema_id,
            "schema": self.schemas[schema_id],
        }

    def _problems(self, subject: str, text: str) -> list[str]:
        released = {n: json.loads(self.schemas[i]) for n, i in enumerate(self.subjects[subject], 1)}
        return check_backward_transitive(json.loads(text), released)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                fake.requests.append((self.command, self.path))
                if fake.auth and self.headers.get("Authorization") != fake.auth:
                    self._send(401, {"error_code": 40101, "message": "Unauthorized"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                self._send(*fake.answer(self.command, self.path, body))

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in fake.extra_headers(status).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler


@pytest.fixture
def fake() -> Iterator[FakeConfluentRegistry]:
    server = FakeConfluentRegistry(user="ops", password="s3cr@t").start()
    yield server
    server.stop()


def _client(fake: FakeConfluentRegistry) -> RestSchemaRegistry:
    host = fake.url.removeprefix("http://")
    return RestSchemaRegistry(f"http://ops:s3cr%40t@{host}")


def test_register_get_versions_latest(fake: FakeConfluentRegistry) -> None:
    client = _client(fake)
    subject = "regsosek.submissions-value"
    v1_id = client.register(subject, catalog.load_schema("HouseholdSubmission", 1))
    v2_id = client.register(subject, catalog.load_schema("HouseholdSubmission"))
    assert client.register(subject, catalog.load_schema("HouseholdSubmission")) == v2_id
    assert v1_id != v2_id
    assert client.versions(subject) == [1, 2]
    assert client.subjects() == [subject]
    assert client.latest(subject) == (2, v2_id, catalog.load_schema("HouseholdSubmission"))
    assert client.get_version(subject, 1).schema_id == v1_id
    assert RestSchemaRegistry(fake.url.replace("//", "//ops:s3cr%40t@")).get_by_id(v1_id) == (
        catalog.load_schema("HouseholdSubmission", 1)
    )
    assert ("POST", "/subjects/regsosek.submissions-value/versions") in fake.requests


def test_errors_carry_http_status_and_confluent_code(fake: FakeConfluentRegistry) -> None:
    client = _client(fake)
    with pytest.raises(SchemaRegistryError) as caught:
        client.get_by_id(12345)
    assert (caught.value.http_status, caught.value.error_code) == (404, 40403)
    with pytest.raises(SchemaRegistryError) as caught:
        client.versions("nope-value")
    assert (caught.value.http_status, caught.value.error_code) == (404, 40401)
    assert "Subject 'nope-value' not found" in str(caught.value)


def test_basic_auth_from_the_url(fake: FakeConfluentRegistry) -> None:
    with pytest.raises(SchemaRegistryError) as caught:
        RestSchemaRegistry(fake.url).subjects()
    assert (caught.value.http_status, caught.value.error_code) == (401, 40101)
    assert _client(fake).subjects() == []


def test_compatibility_endpoint_and_config(fake: FakeConfluentRegistry) -> None:
    client = _client(fake)
    subject = "regsosek.enumerator-events-value"
    schema = catalog.load_schema("EnumeratorEvent")
    assert client.check_compatibility(subject, schema) == []  # no subject yet: anything goes
    client.register(subject, schema)
    schema["fields"].append({"name": "battery", "type": "int", "doc": "percent"})
    problems = client.check_compatibility(subject, schema)
    assert len(problems) == 1 and "battery" in problems[0]
    with pytest.raises(SchemaRegistryError) as caught:
        client.register(subject, schema)
    assert caught.value.error_code == 409
    client.set_compatibility(subject)
    assert fake.config == {subject: "BACKWARD_TRANSITIVE"}


def test_unreachable_registry_has_no_http_status() -> None:
    server = FakeConfluentRegistry().start()
    url = server.url
    server.stop()
    pauses: list[float] = []
    with pytest.raises(SchemaRegistryError) as caught:
        RestSchemaRegistry(url, timeout=2, sleep=pauses.append).subjects()
    assert caught.value.http_status is None
    assert "cannot reach the schema registry" in str(caught.value)
    assert len(pauses) == RegistryRetry().attempts - 1  # refused connections are retried


class Flaky(FakeConfluentRegistry):
    """The fake registry behind a front that first fails ``failures`` requests."""

    def __init__(self, failures: int, status: int = 503, delay_s: float = 0.0) -> None:
        super().__init__()
        self.failures = failures
        self.status = status
        self.delay_s = delay_s
        self.failure_headers: dict[str, str] = {}

    def extra_headers(self, status: int) -> dict[str, str]:
        return self.failure_headers if status >= 400 else {}

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if self.failures:
            self.failures -= 1
            if self.delay_s:
                time.sleep(self.delay_s)  # slower than the client's timeout
                return 200, []
            return self.status, {"error_code": self.status * 100, "message": "not now"}
        return super().answer(method, path, body)


@pytest.fixture
def flaky() -> Iterator[Callable[..., Flaky]]:
    servers: list[Flaky] = []

    def start(failures: int, status: int = 503, delay_s: float = 0.0) -> Flaky:
        servers.append(Flaky(failures, status, delay_s))
        servers[-1].start()
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_answers_are_retried_until_the_registry_answers(
    flaky: Callable[..., Flaky], status: int
) -> None:
    server, pauses = flaky(3, status), list[float]()
    client = RestSchemaRegistry(server.url, sleep=pauses.append)
    assert client.subjects() == []
    assert len(server.requests) == 4 and len(pauses) == 3
    assert all(0 < pause <= RegistryRetry().max_delay_s for pause in pauses)


def test_retry_after_is_honoured(flaky: Callable[..., Flaky]) -> None:
    server, pauses = flaky(1, 429), list[float]()
    server.failure_headers = {"Retry-After": "2"}
    client = RestSchemaRegistry(server.url, sleep=pauses.append)
    assert client.subjects() == []
    assert pauses == [2.0]


def test_a_registry_failing_longer_than_the_policy_gives_its_last_answer(
    flaky: Callable[..., Flaky],
) -> None:
    server, pauses = flaky(100, 503), list[float]()
    with pytest.raises(SchemaRegistryError) as caught:
        RestSchemaRegistry(
            server.url, retry=RegistryRetry(attempts=3), sleep=pauses.append
        ).subjects()
    assert (caught.value.http_status, caught.value.error_code) == (503, 50300)
    assert len(server.requests) == 3 and len(pauses) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_a_4xx_is_the_registrys_answer_and_never_retried(
    flaky: Callable[..., Flaky], status: int
) -> None:
    server, pauses = flaky(1, status), list[float]()
    with pytest.raises(SchemaRegistryError) as caught:
        RestSchemaRegistry(server.url, sleep=pauses.append).subjects()
    assert caught.value.http_status == status
    assert len(server.requests) == 1 and pauses == []


def test_a_request_slower_than_the_timeout_is_cut_and_retried(
    flaky: Callable[..., Flaky],
) -> None:
    server, pauses = flaky(1, delay_s=1.5), list[float]()
    started = time.monotonic()
    client = RestSchemaRegistry(server.url, timeout=0.3, sleep=pauses.append)
    assert client.subjects() == []
    assert time.monotonic() - started < 1.4  # the client did not wait for the slow answer
    assert len(server.requests) == 2 and len(pauses) == 1


def test_serde_over_rest(fake: FakeConfluentRegistry) -> None:
    client = _client(fake)
    subject = "regsosek.submissions-value"
    old_app = AvroSerializer(client, subject, "HouseholdSubmission", version=1)
    new_app = AvroSerializer(client, subject, "HouseholdSubmission")
    deserializer = AvroDeserializer(_client(fake), "HouseholdSubmission")
    record = builders.household_submission()
    assert deserializer.decode(new_app.encode(record)) == record
    old = deserializer.decode(old_app.encode(builders.household_submission_v1()))
    assert old["location"]["gps_accuracy_m"] is None
    with pytest.raises(UnknownSchemaIdError):
        deserializer.decode(frame(9999, b"\x02"))
    lookups = [r for r in fake.requests if r[1].startswith("/schemas/ids/")]
    assert len(lookups) == 3  # v2, v1 and the unknown id: each fetched once
