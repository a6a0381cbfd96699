"""A real Prometheus scraping a real worker and gateway during a short pipeline run.

Issue #7: every PromQL expression of the dashboards and of the alert rules
returns data from what the running processes export (alert conditions are
split into the queries they compare, see tests/prometheus_harness.py), the
rule files load healthy in the server, and the counters agree with what the
test sent: 200 households through the SDK (10 of them breaking a rule, one
sent twice), 2 undecodable messages, and 8 households plus 3 refusals through
the HTTP gateway.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas.catalog import load_schema
from schemas.frame import Assignment, write_frame
from schemas.jsonform import to_json
from schemas.registry import LocalRegistry
from streams.sdk import EnumeratorEventPublisher, SubmissionPublisher
from streams.topics import (
    ENUMERATOR_EVENTS,
    SUBMISSIONS,
    SUBMISSIONS_REJECTED,
    SUBMISSIONS_VALID,
    TopicSpec,
    ensure_topics,
    named,
)
from tests import builders as b
from tests.backends import KafkaBackend, free_port
from tests.prometheus_harness import (
    ALERTS,
    PrometheusServer,
    alert_promql,
    alert_rules,
    dashboard_promql,
)
from tests.worker_harness import ROOT, WorkerProcess

pytestmark = pytest.mark.integration

TOKEN = "prom-token-0412-abcdefghijkl"
SDK_VALID, SDK_BAD, UNDECODABLE, DUPLICATES = 190, 10, 2, 1
GATEWAY_SINGLE, GATEWAY_BATCH = 5, 3


def household(n: int) -> dict[str, Any]:
    """A distinct household of Cakru by enumerator 0412, with its own NIKs."""
    record = b.kemendagri_submission(
        household_id=f"35.09.02.2001-0003-{n:04d}-01",
        submission_id=str(uuid.UUID(int=random.Random(n).getrandbits(128))),
    )
    for member in record["members"]:
        if member.get("nik"):
            member["nik"] = member["nik"][:12] + f"{n % 10000:04d}"
    return record


def too_old(n: int) -> dict[str, Any]:
    """Breaks a rule (age 130), not the schema: the SDK sends it, the worker rejects it."""
    record = household(n)
    record["members"][0]["age"] = 130
    return record


class Gateway:
    """`regsosek gateway` as a child process on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        env = env | {
            "REGSOSEK_GATEWAY_PORT": str(self.port),
            "REGSOSEK_GATEWAY_TOKENS": f"{TOKEN}:0412",
        }
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "gateway"],
                env=env,
                stdout=out,
                stderr=out,
                cwd=ROOT,
            )
        self.log = log
        deadline = time.monotonic() + 60
        while self.request("GET", "/healthz", token=None)[0] != 200:
            assert self.proc.poll() is None, f"gateway exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"gateway not up: {log.read_text()[-3000:]}"
            time.sleep(0.3)

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        url = f"http://127.0.0.1:{self.port}{path}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError):
            return 0, None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def prefix(unique_topic: Callable[[str], str]) -> str:
    return unique_topic("m").replace(".", "-")


@pytest.fixture
def pipeline(
    kafka: KafkaBackend, prefix: str, tmp_path: Path
) -> Iterator[tuple[WorkerProcess, Gateway, PrometheusServer]]:
    """A worker, a gateway and a Prometheus scraping both every second."""
    ensure_topics(
        kafka.bootstrap,
        [
            TopicSpec(named(t, prefix), 3, 1)
            for t in (SUBMISSIONS, ENUMERATOR_EVENTS, SUBMISSIONS_VALID, SUBMISSIONS_REJECTED)
        ],
    )
    frame = b.rules_frame()
    assignments = [Assignment(e, v, s) for e, cells in frame.assignments.items() for v, s in cells]
    write_frame(tmp_path / "frame", frame.enumerators.values(), assignments, [])
    worker = WorkerProcess(
        kafka.bootstrap,
        prefix,
        tmp_path / "worker",
        {"REGSOSEK_FRAME_DIR": str(tmp_path / "frame")},
    )
    gateway_env = {k: v for k, v in worker.env.items() if k != "REGSOSEK_WEB_PORT"}
    gateway_env["REGSOSEK_STATE_DIR"] = str(tmp_path / "gateway")
    worker.start()
    gateway: Gateway | None = None
    prometheus: PrometheusServer | None = None
    try:
        gateway = Gateway(gateway_env, tmp_path / "gateway.log")
        prometheus = PrometheusServer(
            tmp_path / "prometheus",
            {
                "worker": [f"127.0.0.1:{worker.web_port}"],
                "gateway": [f"127.0.0.1:{gateway.port}"],
            },
            rule_files=sorted(ALERTS.glob("*.yml")),
        )
        prometheus.start()
        yield worker, gateway, prometheus
    finally:
        for stop in (prometheus, gateway, worker):
            if stop is not None:
                stop.stop()


def _publish(bootstrap: str, prefix: str, gateway: Gateway) -> None:
    publisher = SubmissionPublisher(bootstrap, LocalRegistry(), topic=named(SUBMISSIONS, prefix))
    try:
        sdk = [household(n) for n in range(1, SDK_VALID + 1)]
        sdk += [too_old(n) for n in range(500, 500 + SDK_BAD)]
        sdk.append(household(1))  # the app sent the same submission again
        publisher.publish_batch(sdk)
    finally:
        publisher.close()
    # the tablet's paradata: a log-in and a sync (the field-silence panels read them)
    events = EnumeratorEventPublisher(
        bootstrap, LocalRegistry(), topic=named(ENUMERATOR_EVENTS, prefix)
    )
    try:
        events.publish_batch([b.enumerator_event(event_type=kind) for kind in ("LOGIN", "SYNC")])
    finally:
        events.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for _ in range(UNDECODABLE):
        producer.send(named(SUBMISSIONS, prefix), key=b"broken", value=b"\x07not avro")
    producer.flush()
    producer.close()

    form = load_schema("HouseholdSubmission")
    for n in range(1001, 1001 + GATEWAY_SINGLE):
        status, body = gateway.request("POST", "/v1/submissions", to_json(form, household(n)))
        assert status == 202, body
    batch = [to_json(form, household(n)) for n in range(2001, 2001 + GATEWAY_BATCH)]
    status, body = gateway.request("POST", "/v1/submissions/batch", [*batch, {"household_id": 1}])
    assert status == 207, body
    assert gateway.request("POST", "/v1/submissions", {"household_id": 1})[0] == 400
    assert gateway.request("POST", "/v1/submissions", batch[0], token=None)[0] == 401


def _wait_nonempty(prometheus: PrometheusServer, expr: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not prometheus.query(expr):
        assert time.monotonic() < deadline, f"{expr} has no data"
        time.sleep(0.5)


def _wait_until(
    prometheus: PrometheusServer, expr: str, at_least: float, timeout_s: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while not (prometheus.query(expr) and prometheus.value(expr) >= at_least):
        assert time.monotonic() < deadline, f"{expr} never reached {at_least}"
        time.sleep(0.5)


def test_dashboards_and_alerts_query_real_data(
    kafka: KafkaBackend,
    prefix: str,
    pipeline: tuple[WorkerProcess, Gateway, PrometheusServer],
) -> None:
    worker, gateway, prometheus = pipeline
    started = time.monotonic()
    # Prometheus must have seen the counters at 0 before anything happens, or increase()
    # finds no increase and the district looks silent (working hours, 03-10 UTC).
    _wait_nonempty(prometheus, 'regsosek_district_submissions_total{district="35.09.02"}')
    _publish(kafka.bootstrap, prefix, gateway)
    worker.wait_idle()
    sent = SDK_VALID + SDK_BAD + DUPLICATES + UNDECODABLE + GATEWAY_SINGLE + GATEWAY_BATCH
    valid = SDK_VALID + GATEWAY_SINGLE + GATEWAY_BATCH
    rejected = SDK_BAD + UNDECODABLE
    topic = named(SUBMISSIONS, prefix)
    prometheus.wait_for(f'sum(regsosek_events_in_total{{topic="{topic}"}})', sent)
    prometheus.wait_for('sum(regsosek_sink_rows_total{table="households"})', valid)
    prometheus.wait_for('sum(regsosek_sink_rows_total{table="rejection_payloads"})', rejected)
    # The worker refreshes its lag snapshot every 5 s; a 0 read before the batch arrived, or a
    # mid-run figure, may still be what Prometheus last scraped: wait for a snapshot read after
    # the group committed everything (wait_idle), then for its 0.
    idle_at = time.time()
    _wait_until(prometheus, "max(regsosek_consumer_lag_snapshot_timestamp_seconds)", idle_at)
    prometheus.wait_for("sum(regsosek_consumer_lag_messages)", 0)
    time.sleep(3)  # a few more scrapes: every rate() window holds several samples
    print(f"\npipeline run and scraped in {time.monotonic() - started:.1f}s")

    queries = dashboard_promql() + alert_promql()
    empty = [where for where, expr in queries if not prometheus.query(expr)]
    assert not empty, "queries without data:\n" + "\n".join(empty)

    rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    assert {rule["name"] for rule in rules} == {r["alert"] for r in alert_rules()}
    assert all(rule["health"] == "ok" for rule in rules), rules
    # A healthy run (5.7% rejected, no lag left, nothing failing) meets no alert condition.
    firing = [rule["alert"] for rule in alert_rules() if prometheus.query(str(rule["expr"]))]
    assert not firing, firing

    def total(expr: str) -> float:
        return prometheus.value(f"sum({expr})")

    assert total('regsosek_submissions_processed_total{outcome="valid"}') == valid
    assert total('regsosek_submissions_processed_total{outcome="rejected"}') == rejected
    assert total('regsosek_submissions_processed_total{outcome="dropped"}') == DUPLICATES
    assert total("regsosek_duplicates_dropped_total") == DUPLICATES
    assert total('regsosek_rejections_total{reason="AGE_RANGE"}') == SDK_BAD
    assert total("regsosek_rejections_total") >= rejected  # two reasons count under both
    assert (
        total(f'regsosek_events_out_total{{topic="{named(SUBMISSIONS_VALID, prefix)}"}}') == valid
    )
    assert (
        total('regsosek_district_submissions_total{district="35.09.02",outcome="valid"}') == valid
    )
    assert total("regsosek_kafka_to_row_seconds_count") == valid
    assert total("regsosek_interview_to_row_seconds_count") == valid
    assert total("regsosek_sink_failing") == 0
    assert total("regsosek_worker_up") == 1
    assert total("regsosek_worker_rebalances_total") >= 1
    assert total("regsosek_consumer_lag_messages") == 0
    assert total("regsosek_commit_stalled_seconds") == 0
    assert total("regsosek_commit_stalled_seconds") == 0
    # Simulated and test interviews are from 2022: every one lands in +Inf of this one.
    assert prometheus.value('sum(regsosek_interview_to_row_seconds_bucket{le="+Inf"})') == valid
    freshness_p99 = prometheus.value(
        "histogram_quantile(0.99, sum by (le) (regsosek_kafka_to_row_seconds_bucket))"
    )
    assert not math.isnan(freshness_p99) and freshness_p99 < 120

    assert total("regsosek_gateway_submissions_accepted_total") == GATEWAY_SINGLE + GATEWAY_BATCH
    assert total('regsosek_gateway_submissions_refused_total{status="400"}') == 2
    assert total('regsosek_gateway_submissions_refused_total{status="401"}') == 1
    assert total("regsosek_gateway_kafka_publish_failures_total") == 0
    assert (
        total('regsosek_gateway_requests_total{route="/v1/submissions",status_class="2xx"}')
        == GATEWAY_SINGLE
    )
    assert worker.page("/readyz")["ready"] is True

    # One page per process: Faust's sensor, the platform's families and the process.
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=10) as r:
        page = r.read().decode()
    assert "regsosek_worker_up 1.0" in page
    assert "faust_messages_received_total" in page
    assert "process_resident_memory_bytes" in page
    status, body = gateway.request("GET", "/metrics", token=None)
    assert status == 200 and b"regsosek_gateway_requests_total" in body
