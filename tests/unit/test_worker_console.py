"""The worker's /console pages without a worker: parameters, insert rate, health body."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from streams.worker.console import (
    InsertRate,
    district_query,
    health_body,
    lag_by_topic,
    rejections_query,
    reviews_query,
)
from streams.worker.observer import WorkerStats
from streams.worker.web import BadParameter


def test_district_code_is_required_and_checked() -> None:
    assert district_query({"code": "35.09.02"}) == "35.09.02"
    assert district_query({"code": "3509010"}) == "3509010"
    for bad in ({}, {"code": ""}, {"code": "35.09"}, {"code": "35.09.02' OR 1=1"}):
        with pytest.raises(BadParameter):
            district_query(bad)
    with pytest.raises(BadParameter, match="unknown"):
        district_query({"code": "35.09.02", "by": "village"})
    with pytest.raises(BadParameter, match="more than once"):
        district_query(MultiDict([("code", "35.09.02"), ("code", "35.09.03")]))


def test_rejection_parameters() -> None:
    assert rejections_query({}) == (50, None, None)
    assert rejections_query({"limit": "500", "district": "3509010", "enumerator": "0412"}) == (
        500,
        "3509010",
        "0412",
    )
    assert rejections_query({"district": "", "enumerator": ""}) == (50, None, None)
    for bad in (
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "-1"},
        {"limit": "1" * 4000},
        {"limit": "٣"},  # an Arabic-Indic digit: isdigit() but not ASCII
        {"district": "Kencong"},
        {"enumerator": "04 12"},
        {"enumerator": "0" * 17},
        {"enumerator": "x"},
    ):
        with pytest.raises(BadParameter):
            rejections_query(bad)


def test_review_parameters_absent_is_everyone_empty_is_no_one() -> None:
    assert reviews_query({}) == (None, 100)
    assert reviews_query({"enumerators": ""}) == ([], 100)
    assert reviews_query({"enumerators": "0412, 0413,0412", "limit": "3"}) == (["0412", "0413"], 3)
    with pytest.raises(BadParameter):
        reviews_query({"enumerators": "0412,abc"})
    with pytest.raises(BadParameter, match="at most 500"):
        reviews_query({"enumerators": ",".join(str(n) for n in range(501))})
    with pytest.raises(BadParameter):
        reviews_query({"team": "041"})


def test_insert_rate_over_the_window() -> None:
    rate = InsertRate(window_s=60, every_s=5)
    assert rate.rate() == 0.0
    rate.record(100.0, 0)
    assert rate.rate() == 0.0  # one sample is no rate
    for step in range(1, 13):
        rate.record(100.0 + 5 * step, 500 * step)
    assert rate.rate() == 100.0
    rate.record(165.0, 6000)  # idle for 5 s: the minute still averages the work before it
    assert rate.rate() == round((6000 - 500) / 60, 2)
    rate.record(165.0, 9999)  # not newer than the last sample: ignored
    assert rate.rate() == round((6000 - 500) / 60, 2)


def test_insert_rate_forgets_samples_older_than_the_window() -> None:
    rate = InsertRate(window_s=60, every_s=5)
    rate.record(0.0, 0)
    rate.record(1000.0, 5000)  # a long gap: the old sample is beyond the window
    rate.record(1010.0, 6000)
    assert rate.rate() == 100.0


def test_insert_rate_restarts_after_a_counter_drop() -> None:
    rate = InsertRate()
    rate.record(0.0, 1000)
    rate.record(10.0, 0)  # the counter went back (a new stats object)
    rate.record(20.0, 300)
    assert rate.rate() == 30.0  # 300 rows in the 10 s since the drop


def test_lag_is_summed_per_topic() -> None:
    snapshot = {("s", 0): 3, ("s", 1): 4, ("r", 0): 0}
    assert lag_by_topic(snapshot) == {"r": 0, "s": 7}


def test_health_body() -> None:
    stats = WorkerStats(processed=10, valid=8, rejected=2)
    stats.sink_rows = {"households": 8}
    stats.commits_stalled = {"s[0]": 12.0}
    body = health_body(
        stats,
        lag={("s", 0): 0, ("s", 1): 2},
        lag_read_at=0.0 + 1_700_000_000,
        freshness={"p50": 120, "p95": 300, "p99": 310},
        insert_rows_per_s=4.5,
        commit_stall_s=300,
    )
    assert body["lag"] == {"s": 2}
    assert body["lag_read_at"] == "2023-11-14T22:13:20+00:00"
    assert (body["processed"], body["valid"], body["rejected"]) == (10, 8, 2)
    assert body["freshness_ms"]["p95"] == 300 and body["insert_rows_per_s"] == 4.5
    assert body["ready"] is True and body["commits_stalled"] == {"s[0]": 12.0}
    stats.sink_failing = {"households": "Code: 27. Cannot parse 'Slamet Riyadi'"}
    failing = health_body(
        stats, lag={}, lag_read_at=None, freshness={}, insert_rows_per_s=0, commit_stall_s=300
    )
    assert failing["ready"] is False and failing["sink_failing"] is True
    assert failing["sink_failing_tables"] == ["households"]
    assert "Slamet" not in repr(failing) and failing["lag_read_at"] is None
    stats.sink_failing = {}
    stats.commits_stalled = {"s[0]": 301.0}
    stuck = health_body(
        stats, lag={}, lag_read_at=None, freshness={}, insert_rows_per_s=0, commit_stall_s=300
    )
    assert stuck["ready"] is False
