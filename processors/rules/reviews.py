"""Reason codes of supervisors' review decisions that the worker cannot accept.

No check functions here: :func:`processors.reviews.review_findings` raises
them from a review, the household's dedup state and the frame. They are in
the catalogue so that ``regsosek rules`` and docs/rules.md list every code of
the rejections table; a rejected review is there with ``source_topic``
``<prefix>.reviews`` and its ``review_id`` in ``submission_id``.
"""

from __future__ import annotations

from processors.rules.base import Rule, Severity, make_rule

REVIEW_COMMENT_MISSING = make_rule(
    "REVIEW_COMMENT_MISSING",
    Severity.ERROR,
    None,
    "Keputusan {decision} harus disertai komentar untuk PPL.",
    "A {decision} decision needs a comment for the enumerator.",
    rationale="A returned or finally rejected interview is only useful to the enumerator with "
    "the reason; the gateway answers 400, the worker rejects a review sent to Kafka directly.",
)
REVIEW_UNKNOWN_HOUSEHOLD = make_rule(
    "REVIEW_UNKNOWN_HOUSEHOLD",
    Severity.ERROR,
    None,
    "Keluarga {household} belum pernah diterima; tidak ada yang dapat diperiksa.",
    "Household {household} has no accepted revision; there is nothing to review.",
    rationale="A review stands only for an interview the pipeline accepted (the worker's dedup "
    "state holds its latest accepted revision and its owner). A review read before its "
    "submission is parked, not rejected, until every submission written before it is "
    "processed (streams/worker/review_wait.py).",
)
REVIEW_OUTSIDE_TEAM = make_rule(
    "REVIEW_OUTSIDE_TEAM",
    Severity.ERROR,
    None,
    "PML '{supervisor}' tidak memimpin tim PPL '{enumerator}' menurut kerangka pencacahan.",
    "Supervisor '{supervisor}' does not lead the team of enumerator '{enumerator}' in the "
    "enumeration frame.",
    rationale="A supervisor (PML) reviews their own team only: the enumerator the review names "
    "and the household's owner (the enumerator of its first accepted revision) must both be "
    "under that supervisor in enumerators.csv, as the frame says now. The gateway refuses "
    "the first case with 403; the worker also catches reviews written to Kafka directly.",
)
REVIEW_STALE_REVISION = make_rule(
    "REVIEW_STALE_REVISION",
    Severity.ERROR,
    None,
    "Pemeriksaan revisi {revision}, padahal revisi terbaru yang diterima adalah {latest}.",
    "The review is of revision {revision}, but the latest accepted revision is {latest}.",
    rationale="A decision on an older revision says nothing about the one that replaced it; "
    "the revised interview is awaiting review again. Only when the newer revision reached "
    "Kafka before the review did: otherwise the review was of the latest revision when made.",
)
REVIEW_UNKNOWN_REVISION = make_rule(
    "REVIEW_UNKNOWN_REVISION",
    Severity.ERROR,
    None,
    "Pemeriksaan revisi {revision}, lebih baru dari revisi terbaru yang diterima ({latest}).",
    "The review is of revision {revision}, newer than the latest accepted revision {latest}.",
    rationale="A supervisor reviews what reached the tables; a revision the pipeline has not "
    "accepted (rejected by a rule, or not sent) cannot be approved or returned. Judged, like "
    "an unknown household, once the submissions written before the review are processed.",
)

RULES: tuple[Rule, ...] = (
    REVIEW_COMMENT_MISSING,
    REVIEW_UNKNOWN_HOUSEHOLD,
    REVIEW_OUTSIDE_TEAM,
    REVIEW_STALE_REVISION,
    REVIEW_UNKNOWN_REVISION,
)
