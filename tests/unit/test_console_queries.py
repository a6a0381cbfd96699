"""The console's SQL as text, and its pure answer shaping (days left, merge, teams, flags)."""

from __future__ import annotations

import re

import pytest

from schemas.errors import ConfigurationError
from sinks.console_flags import (
    DUPLICATE_NIK,
    FLAGS,
    GPS_ANOMALIES,
    HIGH_REJECTION_RATE,
    NO_SYNC_2_DAYS,
    VERY_SHORT_INTERVIEWS,
    FlagThresholds,
    enumerator_flags,
)
from sinks.console_queries import (
    days_left,
    district_sql,
    freshness_sql,
    merge_enumerators,
    overview_sql,
    rejections_sql,
    reviews_sql,
    team_rows,
)

#: Columns that carry people or free text; the console must never select them.
PII = re.compile(
    r"\b(name|nik|nik_hash|address|phone|comment|original|reason_messages|notes)\b"
    r"|rejection_payloads|\.reviews\b"
)


def every_sql() -> list[str]:
    texts = [overview_sql("db"), freshness_sql("db"), *district_sql("db").values()]
    texts += [*rejections_sql(10, "35.09.02", "0412", database="db")[0].values()]
    texts += [*reviews_sql(["0412"], 5, database="db")[0].values()]
    return texts


def test_no_query_reads_a_person_a_payload_or_a_comment() -> None:
    for sql in every_sql():
        assert not PII.search(sql.replace("village_name", "").replace("district_name", "")), sql


def test_the_detector_is_not_vacuous() -> None:
    assert PII.search("SELECT original FROM db.rejection_payloads")
    assert PII.search("SELECT comment FROM db.reviews FINAL")
    assert not PII.search("SELECT household_id FROM db.review_decisions")


def test_database_names_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        overview_sql("x; DROP TABLE y")
    with pytest.raises(ConfigurationError):
        rejections_sql(database="x y")
    with pytest.raises(ConfigurationError):
        reviews_sql(None, database="x--")


def test_rejection_filters_are_bound_parameters() -> None:
    queries, parameters = rejections_sql(7, "3509010' OR 1=1 --", "0412", database="db")
    assert parameters == {"district": "3509010' OR 1=1 --", "enumerator": "0412"}
    for sql in queries.values():
        assert "OR 1=1" not in sql
        assert "{district:String}" in sql and "{enumerator:String}" in sql
        assert "FROM db.rejections FINAL" in sql
    assert queries["recent"].endswith("LIMIT 7")


def test_rejections_without_filters_read_everything() -> None:
    queries, parameters = rejections_sql(database="db")
    assert parameters == {}
    assert all("WHERE" not in sql for sql in queries.values())


def test_review_queue_for_a_team_everyone_or_no_one() -> None:
    team, parameters = reviews_sql(["0412", "0413"], 3, database="db")
    assert parameters == {"enumerators": ["0412", "0413"]}
    assert all("has({enumerators:Array(String)}, enumerator_id)" in sql for sql in team.values())
    assert team["awaiting"].endswith("LIMIT 3")
    everyone, parameters = reviews_sql(None, database="db")
    assert parameters == {} and all("enumerators" not in sql for sql in everyone.values())
    nobody, parameters = reviews_sql([], database="db")
    assert parameters == {"enumerators": []}  # an empty team filters on [], not on nothing
    assert all("has({enumerators:Array(String)}" in sql for sql in nobody.values())


def test_overview_counts_complete_households_by_written_time() -> None:
    sql = overview_sql("db")
    assert "FROM db.households FINAL WHERE result = 'COMPLETE'" in sql
    assert "INTERVAL 3600 SECOND" in sql and "INTERVAL 86400 SECOND" in sql
    assert "FROM db.targets FINAL" in sql


@pytest.mark.parametrize(
    ("remaining", "last_day", "expected"),
    [(1000, 250, 4.0), (1000, 300, 3.3), (0, 0, 0.0), (-5, 10, 0.0), (10, 0, None), (7, 0, None)],
)
def test_days_left(remaining: int, last_day: int, expected: float | None) -> None:
    assert days_left(remaining, last_day) == expected


def test_merge_adds_quality_reviews_activity_and_flags() -> None:
    progress = [
        {"enumerator_id": "0412", "supervisor_id": "041", "visited": 8, "rejected": 2},
        {"enumerator_id": "0413", "supervisor_id": "041", "visited": 1, "rejected": None},
    ]
    quality = [
        {
            "enumerator_id": "0412",
            "with_warnings": 1,
            "rejection_rate": 0.2,
            "warning_rate": 0.125,
            "very_short_interviews": 0,
            "gps_anomalies": 0,
            "duplicate_nik_households": 1,
        }
    ]
    reviews = [{"enumerator_id": "0412", "awaiting_review": 5, "approved": 2, "returned": 1}]
    activity = [{"enumerator_id": "0413", "days_without_sync": 3, "active": False}]
    first, second = merge_enumerators(progress, quality, reviews, activity)
    assert first["rejection_rate"] == 0.2 and first["duplicate_nik_households"] == 1
    assert (first["awaiting_review"], first["approved"], first["rejected_final"]) == (5, 2, 0)
    assert first["flags"] == [HIGH_REJECTION_RATE, DUPLICATE_NIK]
    assert first["days_without_sync"] is None
    # nothing known: counts 0, rates None, and the silent tablet is flagged
    assert second["rejection_rate"] is None and second["gps_anomalies"] == 0
    assert second["awaiting_review"] == 0
    assert second["flags"] == [NO_SYNC_2_DAYS]


def test_teams_sum_counts_and_recompute_rates() -> None:
    rows = [
        {"supervisor_id": "041", "visited": 8, "rejected": 2, "with_warnings": 2, "approved": 1},
        {"supervisor_id": "041", "visited": 2, "rejected": None, "with_warnings": 0},
        {"supervisor_id": "051", "visited": 0, "rejected": 0, "awaiting_review": 3},
    ]
    first, second = team_rows(rows)
    assert first["supervisor_id"] == "041" and first["enumerators"] == 2
    assert (first["visited"], first["rejected"], first["approved"]) == (10, 2, 1)
    assert first["rejection_rate"] == round(2 / 12, 4)
    assert first["warning_rate"] == 0.2
    assert second["rejection_rate"] is None and second["warning_rate"] is None
    assert second["awaiting_review"] == 3


# --- flags ----------------------------------------------------------------------------


def test_a_clean_enumerator_has_no_flag() -> None:
    row = {"visited": 40, "rejected": 1, "very_short_interviews": 1, "gps_anomalies": 1}
    assert enumerator_flags(row | {"duplicate_nik_households": 0, "days_without_sync": 0}) == []
    assert enumerator_flags({}) == []


def test_every_flag_at_its_threshold() -> None:
    row = {
        "visited": 36,
        "rejected": 4,  # 4 / 40 = 0.10
        "very_short_interviews": 3,
        "gps_anomalies": 3,  # 3 / 36 > 0.05
        "duplicate_nik_households": 1,
        "days_without_sync": 2,
    }
    assert enumerator_flags(row) == list(FLAGS)


def test_just_below_every_threshold() -> None:
    row = {
        "visited": 37,
        "rejected": 4,  # 4 / 41 < 0.10
        "very_short_interviews": 2,
        "gps_anomalies": 2,
        "duplicate_nik_households": 0,
        "days_without_sync": 1,
    }
    assert enumerator_flags(row) == []


def test_too_little_evidence_raises_no_rejection_flag() -> None:
    assert enumerator_flags({"visited": 1, "rejected": 3}) == []  # 4 decided < 5
    assert enumerator_flags({"visited": 2, "rejected": 3}) == [HIGH_REJECTION_RATE]


def test_gps_needs_both_count_and_share() -> None:
    assert enumerator_flags({"visited": 100, "gps_anomalies": 4}) == []  # 4 % of households
    assert enumerator_flags({"visited": 60, "gps_anomalies": 3}) == [GPS_ANOMALIES]


def test_thresholds_are_configurable_and_nulls_count_as_nothing() -> None:
    strict = FlagThresholds(very_short_interviews=1)
    assert enumerator_flags({"very_short_interviews": 1}, strict) == [VERY_SHORT_INTERVIEWS]
    row = {"visited": None, "rejected": None, "days_without_sync": None, "gps_anomalies": None}
    assert enumerator_flags(row) == []
