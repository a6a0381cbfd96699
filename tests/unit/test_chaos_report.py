"""docs/cluster.md shows the chaos soak's measured report, not a copy that drifts from it."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.chaos import BEGIN, END, RESULTS, markdown, with_results

DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster.md"


def test_the_doc_shows_the_recorded_soak() -> None:
    report = json.loads(RESULTS.read_text())
    assert with_results(DOC.read_text(), report) == DOC.read_text(), (
        "docs/cluster.md is stale: python -m benchmarks.chaos --update-doc docs/cluster.md"
    )


def test_the_recorded_soak_is_the_issue_soak_and_agreed() -> None:
    report = json.loads(RESULTS.read_text())
    assert report["plan"]["households"] >= 200_000
    kinds = [fault["kind"] for fault in report["faults"]]
    assert kinds.count("worker SIGKILL") >= 10
    assert report["plan"]["outage_s"] >= 60
    assert report["equals_ground_truth"], report["checks_failed"]


def test_a_changed_report_changes_the_section() -> None:
    report = json.loads(RESULTS.read_text())
    worse = report | {"equals_ground_truth": False}
    doc = DOC.read_text()
    assert with_results(doc, worse) != doc
    section = doc.split(BEGIN, 1)[1].split(END, 1)[0]
    assert section.strip() == markdown(report).strip()
