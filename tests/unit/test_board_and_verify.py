"""The demo's pure parts: the board renders any answer, the comparison spots a difference."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from simulator.truth import DistrictTruth, GroundTruth
from simulator.verify import compare
from streams.board import Rate, render

BOARD: dict[str, Any] = {
    "districts": [
        {
            "district_code": "35.09.02",
            "district_name": "Kencong",
            "target": 40,
            "enumerated": 30,
            "rejected": 2,
            "warnings": 1,
        },
    ],
    "totals": {"households": 31, "members": 99, "rejections": 3},
    "rejections_by_reason": {"NIK_FORMAT": 2, "DECODE_BAD_MAGIC_BYTE": 1},
    "active_enumerators": 4,
    "window_s": 60,
    "freshness_p50_ms": 850.0,
    "freshness_p95_ms": 1300.0,
    "worker": {"processed": 40, "dropped": {"duplicate": 5}, "sink_failing": {}},
}


def _truth(**overrides: Any) -> GroundTruth:
    truth = GroundTruth(
        seed=1, scale=0.01, regency="35.09", selected_districts=[], topic="t", via="sdk"
    )
    truth.accepted_households = 31
    truth.accepted_members = 99
    truth.rejected_messages = 3
    truth.rejections_by_reason = {"NIK_FORMAT": 2, "DECODE_BAD_MAGIC_BYTE": 1}
    truth.districts = {
        "35.09.02": DistrictTruth(
            "35.09.02", "Kencong", "3509010", target=40, by_result={"COMPLETE": 30, "REFUSED": 1}
        )
    }
    for key, value in overrides.items():
        setattr(truth, key, value)
    return truth


def test_compare_agrees_when_equal() -> None:
    assert all(check.ok for check in compare(_truth(), BOARD))


def test_compare_names_what_differs() -> None:
    wrong = [c for c in compare(_truth(accepted_members=100), BOARD) if not c.ok]
    assert [(c.label, c.expected, c.actual) for c in wrong] == [
        ("members living in the family", 100, 99)
    ]
    extra = {**BOARD, "rejections_by_reason": {**BOARD["rejections_by_reason"], "AGE_RANGE": 1}}
    assert [c.label for c in compare(_truth(), extra) if not c.ok] == ["  rejected: AGE_RANGE"]


def test_board_renders_a_full_and_an_empty_answer() -> None:
    console = Console(width=100, record=True)
    console.print(render(BOARD, 12.5, "simulating…"))
    console.print(render(None, 0.0, "starting"))
    text = console.export_text()
    assert "Kencong" in text and "30 / 40" in text and "75.0" in text
    assert "NIK_FORMAT" in text and "0.85 s / 1.30 s" in text
    assert "waiting for the worker" in text


def test_rate_is_events_per_second_over_the_window() -> None:
    rate = Rate(window_s=10)
    assert rate.add(0, at=100.0) == 0.0
    assert rate.add(500, at=102.0) == 250.0
    assert rate.add(1000, at=112.0) == 50.0  # (1000 - 500) / (112 - 102): 100.0 left the window
    assert [t for t, _ in rate.samples] == [102.0, 112.0]


def test_review_statuses_are_compared_once_the_run_sent_reviews() -> None:
    reviewed = {"awaiting_review": 3, "approved": 25, "returned": 1, "rejected_final": 2}
    truth = _truth(reviews_sent=28)
    for key, value in reviewed.items():
        setattr(truth.districts["35.09.02"], key, value)
    board = {**BOARD, "review_status": {"35.09.02": reviewed}}
    checks = compare(truth, board)
    assert all(check.ok for check in checks)
    assert sum("approved in Kencong" in c.label for c in checks) == 1
    board = {**BOARD, "review_status": {"35.09.02": {**reviewed, "returned": 0}}}
    assert [c.label for c in compare(truth, board) if not c.ok] == ["    returned in Kencong"]
    # a run without reviews compares no statuses (an older board has none)
    assert not any("approved" in c.label for c in compare(_truth(), BOARD))
