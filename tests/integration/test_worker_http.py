"""The worker's HTTP server as operators and strangers meet it (issue #14 item 3).

One real worker (real broker, embedded ClickHouse) answers: where it listens,
which pages need an operator token, that bad parameters are 400s, and that a
flood of 300 concurrent ``/board`` requests neither fails readiness nor stops
the worker from writing what arrives meanwhile.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kafka import KafkaProducer

from schemas.catalog import subject_for
from schemas.errors import ClickHouseError
from schemas.registry import LocalRegistry
from schemas.serde import AvroSerializer
from streams.board import fetch_board
from streams.cli.progress import from_worker
from streams.topics import SUBMISSIONS, named
from tests import builders as b
from tests.backends import KafkaBackend
from tests.worker_harness import WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

PROTECTED = ("/board", "/progress", "/stats", "/debug/consumer", "/", "/router", "/table")
PUBLIC = ("/healthz", "/readyz", "/metrics")


def ask(
    port: int, path: str, token: str | None = None, host: str = "127.0.0.1", timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one GET (any status)."""
    request = urllib.request.Request(f"http://{host}:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http://
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp, tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
            family = socket.AF_INET if width == 8 else socket.AF_INET6
            found.add(socket.inet_ntop(family, words))
    return found


def other_addresses() -> list[str]:
    """The machine's IPv4 addresses that are not loopback (may be none in a sandbox)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    addresses = {str(info[4][0]) for info in infos}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:  # the address a route out would use; no packet is sent
            probe.connect(("192.0.2.1", 9))
            addresses.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(a for a in addresses if not a.startswith("127."))


@pytest.fixture(scope="module")
def worker(
    kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    prefix = f"http-{time.time_ns() % 10**9}"
    create_worker_topics(kafka.bootstrap, prefix, 3)
    process = WorkerProcess(
        kafka.bootstrap,
        prefix,
        tmp_path_factory.mktemp("worker-http"),
        {"REGSOSEK_WEB_HOST": "127.0.0.1"},
    )
    with running(process):
        deadline = time.monotonic() + 60
        while (process.page("/readyz") or {}).get("ready") is not True:
            assert time.monotonic() < deadline, process.page("/readyz")
            time.sleep(0.5)
        yield process


def test_listens_only_where_the_settings_say(worker: WorkerProcess) -> None:
    assert listening_addresses(worker.web_port) == {"127.0.0.1"}
    for address in other_addresses():
        with pytest.raises(OSError), socket.create_connection((address, worker.web_port), 2):
            pass


def test_public_and_protected_pages(worker: WorkerProcess) -> None:
    port, token = worker.web_port, worker.operator_token
    for path in PUBLIC:
        assert ask(port, path)[0] == 200, path
    for path in PROTECTED:
        status, headers, _ = ask(port, path)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert ask(port, path, token="not-the-operator-token-123")[0] == 403, path
    for path in ("/board", "/progress", "/stats", "/debug/consumer"):
        assert ask(port, path, token=token)[0] == 200, path
    # Faust's own pages (table contents by key, internals) are not served at all
    for path in ("/router", "/table/household-dedup", "/graph", "/performance"):
        assert ask(port, path, token=token)[0] == 404, path


def test_board_and_progress_clients_send_the_token(worker: WorkerProcess) -> None:
    """What the demo's board and `regsosek progress` (embedded mode) do."""
    board = fetch_board(worker.web_port, token=worker.operator_token)
    assert board is not None and "districts" in board and "worker" in board
    assert fetch_board(worker.web_port) is None  # refused without one
    assert isinstance(
        from_worker(worker.web_port, "district", None, token=worker.operator_token), list
    )
    with pytest.raises(ClickHouseError, match="401"):
        from_worker(worker.web_port, "district", None)


@pytest.mark.parametrize(
    "path",
    [
        "/board?window=abc",
        "/board?window=-1",
        "/board?window=99999999",
        "/board?windows=60",
        "/progress?by=regency",
        "/progress?district=35.09",
        "/progress?district=x%27%3B%20DROP",
        "/progress?by=district&by=village",
    ],
)
def test_bad_parameters_are_400(worker: WorkerProcess, path: str) -> None:
    status, _, body = ask(worker.web_port, path, token=worker.operator_token)
    assert status == 400, body
    assert b"error" in body


def _publish(bootstrap: str, topic: str, count: int) -> None:
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for n in range(count):
        record = b.kemendagri_submission(
            household_id=f"35.09.02.2001-0003-{n:04d}-01", submission_id=str(uuid.uuid4())
        )
        producer.send(topic, key=record["household_id"].encode(), value=serializer.encode(record))
    producer.flush()
    producer.close()


@pytest.mark.parametrize("page", ["/board?window=3600", "/console/overview"])
def test_a_read_flood_neither_fails_readiness_nor_stops_inserts(
    worker: WorkerProcess, kafka: KafkaBackend, page: str
) -> None:
    """300 reads at once of the terminal board's page or the console's overview.

    Behind the gateway's coalescing the console asks once a second; this is the
    worker's own bound, without that help.
    """
    port, token = worker.web_port, worker.operator_token
    before = worker.page("/stats")
    start = threading.Barrier(301)
    boards: list[tuple[int, dict[str, str]]] = []

    def board() -> None:
        start.wait()
        status, headers, _ = ask(port, page, token=token, timeout=60)
        boards.append((status, headers))

    readiness: list[tuple[int, float]] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            began = time.monotonic()
            status = ask(port, "/readyz", timeout=10)[0]
            readiness.append((status, time.monotonic() - began))
            time.sleep(0.1)

    prober = threading.Thread(target=probe)
    prober.start()
    with ThreadPoolExecutor(max_workers=300) as pool:
        futures = [pool.submit(board) for _ in range(300)]
        start.wait()
        _publish(kafka.bootstrap, named(SUBMISSIONS, worker.prefix), 20)
        for future in futures:
            future.result()
    worker.wait_idle(60)
    done.set()
    prober.join()

    statuses = sorted({status for status, _ in boards})
    assert set(statuses) <= {200, 503}, statuses
    assert any(status == 200 for status, _ in boards)
    refused = [headers for status, headers in boards if status == 503]
    assert all(headers.get("Retry-After") == "1" for headers in refused)
    assert readiness and all(status == 200 for status, _ in readiness), readiness
    assert max(seconds for _, seconds in readiness) < 3.0, readiness
    after = worker.page("/stats")  # the batch that arrived meanwhile was written
    assert after["processed"] == before["processed"] + 20, (before, after)
    assert sum(after["sink_batches"].values()) > sum(before["sink_batches"].values())
    print(  # for the record: how the flood was answered
        f"\n{page} x300: {sum(s == 200 for s, _ in boards)} answered, "
        f"{len(refused)} refused (503); /readyz {len(readiness)} probes, slowest "
        f"{max(seconds for _, seconds in readiness):.2f} s"
    )
