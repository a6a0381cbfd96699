"""Issue #17 item 1, replay after a rule change: real broker, real worker, real ClickHouse engine.

Run 1: fieldwork starts 15 October; 40 households are sent, half of them
interviewed on 19 October: all are accepted. The rule changes (fieldwork now
starts 20 October, ``REGSOSEK_FIELDWORK_START``) and the worker restarts with
it. ``regsosek replay`` then runs while a second batch of 30 is ingested live.
Afterwards every household is judged by the new rule: the 19-October ones are
rejections with INTERVIEW_OUTSIDE_FIELDWORK, every row carries the new rules
version, the progress aggregates count each household once, the live batch is
present, the old tables are kept as ``__replaced``, and the replay published
nothing on the ``.valid`` topic.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.stack import preload
from benchmarks.workload import encode_households
from schemas.registry import LocalRegistry
from streams.sdk import SubmissionPublisher
from streams.topics import SUBMISSIONS, SUBMISSIONS_VALID, list_topic_names
from tests import builders as b
from tests.backends import KafkaBackend
from tests.topics import read_topic
from tests.worker_harness import ROOT, WorkerProcess, create_worker_topics

pytestmark = pytest.mark.integration

FIRST, SECOND = range(0, 40), range(100, 130)
NEW_FIELDWORK_START = "2022-10-20T00:00:00+07:00"
REPLAY_TIMEOUT_S = 180
EARLY = dt.timedelta(days=1)  # odd households: interviewed on 19 October


def household(n: int) -> dict[str, Any]:
    """Household ``n`` of Cakru by 0412, with its own NIKs; odd ones a day before the new start."""
    shift = EARLY if n % 2 else dt.timedelta(0)
    record = b.kemendagri_submission(
        household_id=f"35.09.02.2001-0003-{n:04d}-01",
        submission_id=str(uuid.UUID(int=random.Random(n).getrandbits(128))),
        enumeration=b.enumeration(
            started_at=b.INTERVIEW_START - shift, finished_at=b.INTERVIEW_END - shift
        ),
    )
    for member in record["members"]:
        if member.get("nik"):
            member["nik"] = member["nik"][:12] + f"{n % 10000:04d}"
    return record


def hid(n: int) -> str:
    return f"35.09.02.2001-0003-{n:04d}-01"


@dataclass
class Outcome:
    replay: dict[str, Any]
    households: list[dict[str, Any]]
    rejections: list[dict[str, Any]]
    old_versions: list[dict[str, Any]]
    progress: list[dict[str, Any]]
    rejections_daily: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    valid_records: int
    tables: set[str]


@pytest.fixture(scope="module")
def outcome(kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """Two runs of the worker, a replay during live ingestion: ~1-2 min."""
    state_dir = tmp_path_factory.mktemp("replay")
    prefix = f"replay-{uuid.uuid4().hex[:8]}"
    topics = create_worker_topics(kafka.bootstrap, prefix, 3)
    publisher = SubmissionPublisher(kafka.bootstrap, LocalRegistry(), topic=topics[SUBMISSIONS])
    worker = WorkerProcess(kafka.bootstrap, prefix, state_dir)
    try:
        worker.start()
        for n in FIRST:
            publisher.publish(household(n))
        worker.wait_idle()
        worker.stop()

        worker.extra_env["REGSOSEK_FIELDWORK_START"] = NEW_FIELDWORK_START
        worker.start()

        def live() -> None:
            for n in SECOND:
                publisher.publish(household(n))
                time.sleep(0.1)

        sender = threading.Thread(target=live)
        sender.start()
        try:
            replay = subprocess.run(
                [sys.executable, "-m", "streams.cli", "replay", "--json", "--interval", "0.5"],
                env=worker.env,
                capture_output=True,
                text=True,
                timeout=REPLAY_TIMEOUT_S,
                check=False,
                cwd=ROOT,
            )
        except subprocess.TimeoutExpired as exc:
            status = worker.page("/replay/status")
            raise AssertionError(f"replay not done: {status}; log {worker.log}") from exc
        sender.join()
        assert replay.returncode == 0, replay.stderr + replay.stdout
        worker.wait_idle()
    finally:
        worker.stop()
        publisher.close()
    yield Outcome(
        replay=json.loads(replay.stdout),
        households=worker.query(
            "SELECT household_id, rules_version FROM regsosek.households FINAL"
        ),
        rejections=worker.query(
            "SELECT household_id, reason_codes, rules_version FROM regsosek.rejections FINAL"
        ),
        old_versions=worker.query(
            "SELECT DISTINCT rules_version FROM regsosek.households__replaced"
        ),
        progress=worker.query(
            "SELECT uniqExactMerge(households) AS households FROM regsosek.progress_village_daily"
        ),
        rejections_daily=worker.query(
            "SELECT uniqExactMerge(rejections) AS rejections FROM regsosek.rejections_daily"
        ),
        runs=worker.query("SELECT run_id, phase FROM regsosek.replay_runs FINAL"),
        valid_records=len(read_topic(kafka.bootstrap, topics[SUBMISSIONS_VALID])),
        tables={
            row["name"]
            for row in worker.query("SELECT name FROM system.tables WHERE database = 'regsosek'")
        },
    )


def test_every_household_is_judged_by_the_new_rule(outcome: Outcome) -> None:
    version = outcome.replay["rules_version"]
    accepted = {h["household_id"] for h in outcome.households}
    rejected = {r["household_id"] for r in outcome.rejections}
    assert accepted == {hid(n) for n in (*FIRST, *SECOND) if n % 2 == 0}
    assert rejected == {hid(n) for n in (*FIRST, *SECOND) if n % 2 == 1}
    assert {h["rules_version"] for h in outcome.households} == {version}
    assert {r["rules_version"] for r in outcome.rejections} == {version}
    assert all("INTERVIEW_OUTSIDE_FIELDWORK" in r["reason_codes"] for r in outcome.rejections)


def test_the_old_tables_hold_the_old_rule_and_the_live_rows_before_the_swap(
    outcome: Outcome,
) -> None:
    """The first run's rows under the old version; the live worker's (new rules) beside them."""
    versions = {row["rules_version"] for row in outcome.old_versions}
    old = versions - {outcome.replay["rules_version"]}
    assert len(old) == 1
    assert "" not in versions


def test_nothing_is_counted_twice(outcome: Outcome) -> None:
    assert outcome.progress[0]["households"] == len(outcome.households)
    assert outcome.rejections_daily[0]["rejections"] == len(outcome.rejections)


def test_the_replay_published_nothing_on_the_valid_topic(outcome: Outcome) -> None:
    """The first run accepted 40, the live second run 15; the replay's 35 were not sent."""
    live_second = sum(1 for n in SECOND if n % 2 == 0)
    assert outcome.valid_records == len(FIRST) + live_second


def test_the_run_is_done_and_the_old_tables_are_kept(outcome: Outcome) -> None:
    assert outcome.replay["phase"] == "done"
    assert outcome.runs == [{"run_id": outcome.replay["run_id"], "phase": "done"}]
    assert "households__replaced" in outcome.tables
    assert "progress_village_daily__replaced" in outcome.tables
    assert not {t for t in outcome.tables if t.endswith("__replay")}


RESUME_HOUSEHOLDS = 12_000


def test_a_replay_cut_by_a_crash_resumes_and_counts_nothing_twice(
    kafka: KafkaBackend, tmp_path: Path
) -> None:
    """SIGKILL of the worker mid-replay; after the restart ``--resume`` finishes the same run."""
    prefix = f"resume-{uuid.uuid4().hex[:8]}"
    topics = create_worker_topics(kafka.bootstrap, prefix, 3)
    now = dt.datetime.now(dt.UTC)
    preload(kafka.bootstrap, topics[SUBMISSIONS], encode_households(RESUME_HOUSEHOLDS, now))
    worker = WorkerProcess(
        kafka.bootstrap,
        prefix,
        tmp_path,
        {
            "REGSOSEK_FIELDWORK_START": (now - dt.timedelta(days=1)).isoformat(),
            "REGSOSEK_FIELDWORK_END": (now + dt.timedelta(days=1)).isoformat(),
        },
    )
    try:
        worker.start()
        worker.wait_idle()
        started = _cli(worker, "--no-wait", "--json")
        deadline = time.monotonic() + 120
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = worker.page("/replay/status") or {}
            if status.get("done", 0) >= RESUME_HOUSEHOLDS // 4:
                break
            time.sleep(0.2)
        assert status.get("phase") == "catching_up", status  # cut before the swap
        worker.kill()
        worker.start()
        resumed = _cli(worker, "--resume", "--json")
        worker.wait_idle()
        dropped = worker.cli("replay", "--drop-old", timeout_s=120)
        assert dropped.returncode == 0, dropped.stderr
        assert "households__replaced" in dropped.stderr
    finally:
        worker.stop()
    assert resumed["run_id"] == started["run_id"]
    assert resumed["resumed"] is True
    assert resumed["phase"] == "done"
    counted = worker.query(
        "SELECT (SELECT count() FROM regsosek.households FINAL) AS households, "
        "(SELECT uniqExactMerge(households) FROM regsosek.progress_village_daily) AS progress, "
        "(SELECT count() FROM regsosek.rejections FINAL) AS rejections, "
        "(SELECT uniqExact(rules_version) FROM regsosek.households) AS versions, "
        "(SELECT count() FROM regsosek.replay_runs FINAL WHERE phase = 'done') AS runs"
    )
    changelog = f"{prefix}-replay-{started['run_id']}-household-dedup-changelog"
    assert changelog not in list_topic_names(kafka.bootstrap)
    left = worker.query("SELECT name FROM system.tables WHERE database = 'regsosek'")
    assert not [row["name"] for row in left if row["name"].endswith(("__replaced", "__replay"))]
    assert counted == [
        {
            "households": RESUME_HOUSEHOLDS,
            "progress": RESUME_HOUSEHOLDS,
            "rejections": 0,
            "versions": 1,
            "runs": 1,
        }
    ]


def _cli(worker: WorkerProcess, *args: str) -> dict[str, Any]:
    """``regsosek replay`` with the worker's settings; its final JSON status."""
    out = worker.cli("replay", "--interval", "0.5", *args, timeout_s=REPLAY_TIMEOUT_S)
    assert out.returncode == 0, out.stderr + out.stdout
    status: dict[str, Any] = json.loads(out.stdout)
    return status
