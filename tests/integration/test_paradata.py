"""Paradata end to end: enumerator events on the real broker → the worker → the real engine.

Issue 15.3: events published become rows of ``enumerator_events`` (an app's
resent copy once), the views answer the figures of a small crafted field (an
interview of 30 minutes and one of 5, an enumerator silent for three days,
duplicate NIKs, a GPS anomaly, a rejected household), and a malformed event
becomes a rejection instead of stopping the worker.

The events are published before the worker starts; their times are relative
to now, since the views measure silence from the newest event.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas.catalog import subject_for
from schemas.frame import Assignment, write_frame
from schemas.registry import LocalRegistry
from schemas.serde import AvroSerializer
from streams.kafka_admin import group_lag
from streams.topics import ENUMERATOR_EVENTS, SUBMISSIONS, TopicSpec, ensure_topics, named
from tests import builders as b
from tests.backends import KafkaBackend
from tests.worker_harness import WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
H1, H2 = "35.09.02.2001-0003-0101-01", "35.09.02.2001-0003-0102-01"


def event(enumerator: str, kind: str, ago: dt.timedelta, **fields: Any) -> dict[str, Any]:
    return b.enumerator_event(
        event_id=str(uuid.uuid4()),
        enumerator_id=enumerator,
        event_type=kind,
        at=NOW - ago,
        pending_count=0 if kind == "SYNC" else None,
        **fields,
    )


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def field_events() -> list[dict[str, Any]]:
    """0412 works today (30- and 5-minute interviews); 0413 last synced three days ago."""
    login = event("0412", "LOGIN", minutes(120))
    return [
        login,
        dict(login),  # the app sent it again: same event_id, same time
        event("0412", "INTERVIEW_STARTED", minutes(100), household_id=H1),
        event("0412", "INTERVIEW_FINISHED", minutes(70), household_id=H1),
        event("0412", "INTERVIEW_STARTED", minutes(60), household_id=H2),
        event("0412", "INTERVIEW_FINISHED", minutes(55), household_id=H2),
        event("0412", "SYNC", minutes(10)),
        event("0412", "HEARTBEAT", minutes(5), latitude=-8.283649, longitude=113.371951),
        event("0413", "SYNC", dt.timedelta(days=3, hours=1)),
        event("0413", "HEARTBEAT", dt.timedelta(days=3)),
    ]


def households() -> list[dict[str, Any]]:
    """0412's sends: two families sharing NIKs (one at null island), one with a bad NIK."""
    first = b.kemendagri_submission(household_id="35.09.02.2001-0003-0201-01")
    second = b.kemendagri_submission(household_id="35.09.02.2001-0003-0202-01")
    second["location"] = second["location"] | {"latitude": 0.0, "longitude": 0.0}
    bad = b.kemendagri_submission(household_id="35.09.02.2001-0003-0203-01")
    bad["members"][0]["nik"] = "35090212"
    for record in (first, second, bad):
        record["submission_id"] = str(uuid.uuid4())
    return [first, second, bad]


def publish(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for key, value in items:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def wait_consumed(worker: WorkerProcess, topics: list[str], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if group_lag(worker.bootstrap, f"{worker.prefix}-worker", topics) == 0:
            return
        time.sleep(1.0)
    raise AssertionError(f"paradata not consumed in {timeout_s}s: {worker.log.read_text()[-3000:]}")


def metric_lines(worker: WorkerProcess) -> list[str]:
    url = f"http://127.0.0.1:{worker.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as page:
        text: str = page.read().decode()
    return text.splitlines()


def test_events_reach_the_table_and_the_views_answer(
    kafka: KafkaBackend, unique_topic: Callable[[str], str], tmp_path: Path
) -> None:
    prefix = unique_topic("pd").replace(".", "-")
    topics = create_worker_topics(kafka.bootstrap, prefix, 3)
    events_topic = named(ENUMERATOR_EVENTS, prefix)
    ensure_topics(kafka.bootstrap, [TopicSpec(events_topic, 3, 1)])
    frame = b.rules_frame()
    write_frame(
        tmp_path / "frame",
        frame.enumerators.values(),
        [Assignment(e, v, s) for e, cells in frame.assignments.items() for v, s in sorted(cells)],
        [],
    )
    registry = LocalRegistry()
    events = AvroSerializer(registry, subject_for("EnumeratorEvent"), "EnumeratorEvent")
    good = [(e["enumerator_id"].encode(), events.encode(e)) for e in field_events()]
    no_household = event("0412", "INTERVIEW_FINISHED", minutes(50))
    malformed = [(b"0412", b"\x07not avro"), (b"0412", events.encode(no_household))]
    publish(kafka.bootstrap, events_topic, good + malformed)
    forms = AvroSerializer(registry, subject_for("HouseholdSubmission"), "HouseholdSubmission")
    publish(
        kafka.bootstrap,
        topics[SUBMISSIONS],
        [(h["household_id"].encode(), forms.encode(h)) for h in households()],
    )

    worker = WorkerProcess(
        kafka.bootstrap, prefix, tmp_path / "w", {"REGSOSEK_FRAME_DIR": str(tmp_path / "frame")}
    )
    with running(worker):
        worker.wait_idle()
        wait_consumed(worker, [events_topic])
        metrics = metric_lines(worker)
    assert 'regsosek_paradata_events_total{event_type="INTERVIEW_FINISHED"} 2.0' in metrics
    assert 'regsosek_paradata_rejections_total{reason="PARADATA_EVENT_INVALID"} 1.0' in metrics
    assert f'regsosek_events_in_total{{topic="{events_topic}"}} 12.0' in metrics

    stored = worker.query(
        "SELECT event_type, count() AS n FROM regsosek.enumerator_events FINAL GROUP BY event_type"
    )
    assert {r["event_type"]: int(r["n"]) for r in stored} == {
        "LOGIN": 1,  # the resent copy collapsed
        "INTERVIEW_STARTED": 2,
        "INTERVIEW_FINISHED": 2,
        "SYNC": 2,
        "HEARTBEAT": 2,
    }
    ping = worker.query(
        "SELECT latitude, longitude FROM regsosek.enumerator_events WHERE event_type = 'HEARTBEAT'"
        " AND enumerator_id = '0412'"
    )
    assert ping == [{"latitude": -8.284, "longitude": 113.372}]

    refused = worker.query(
        f"SELECT reason_codes, household_id, enumerator_id FROM regsosek.rejections"
        f" WHERE source_topic = '{events_topic}' ORDER BY source_offset"
    )
    assert sorted(r["reason_codes"][0] for r in refused) == [
        "DECODE_BAD_MAGIC_BYTE",
        "PARADATA_EVENT_INVALID",
    ]
    assert all(r["household_id"] is None and r["enumerator_id"] == "" for r in refused)

    times = worker.query("SELECT * FROM regsosek.interview_time_by_enumerator")
    assert len(times) == 1
    assert times[0]["enumerator_id"] == "0412"
    assert int(times[0]["interviews"]) == 2 and int(times[0]["very_short"]) == 1
    assert float(times[0]["duration_p90_s"]) == 1800.0

    activity = {
        r["enumerator_id"]: r
        for r in worker.query(
            "SELECT enumerator_id, supervisor_id, active, days_without_sync, minutes_silent"
            " FROM regsosek.enumerator_activity"
        )
    }
    assert set(activity) == {"0412", "0413"}
    assert activity["0412"]["active"] in (1, True) and int(activity["0412"]["minutes_silent"]) == 0
    assert int(activity["0412"]["days_without_sync"]) == 0
    assert activity["0413"]["active"] in (0, False)
    assert int(activity["0413"]["days_without_sync"]) == 3
    assert {r["supervisor_id"] for r in activity.values()} == {"041"}

    teams = worker.query("SELECT * FROM regsosek.active_enumerators")
    assert [(r["district_code"], int(r["assigned"]), int(r["active"])) for r in teams] == [
        ("35.09.02", 2, 1)
    ]

    quality = worker.query(
        "SELECT * FROM regsosek.data_quality_by_enumerator WHERE enumerator_id = '0412'"
    )
    warned = worker.query(
        "SELECT countIf(notEmpty(warning_codes)) AS w,"
        " countIf(has(warning_codes, 'GPS_NULL_ISLAND')) AS gps FROM regsosek.households FINAL"
    )[0]
    row = quality[0]
    assert (int(row["visited"]), int(row["rejected"])) == (2, 1)
    assert float(row["rejection_rate"]) == round(1 / 3, 4)
    assert int(row["very_short_interviews"]) == 1 and float(row["very_short_rate"]) == 0.5
    assert int(row["gps_anomalies"]) == int(warned["gps"]) == 1
    assert int(row["with_warnings"]) == int(warned["w"]) >= 1
    assert int(row["duplicate_nik_households"]) == 2
    team = worker.query("SELECT * FROM regsosek.data_quality_by_team")
    assert [(t["supervisor_id"], int(t["enumerators"]), int(t["visited"])) for t in team] == [
        ("041", 2, 2)
    ]
    assert int(team[0]["very_short_interviews"]) == 1
