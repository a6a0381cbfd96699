"""Accepting supervisors' review decisions: who may review whom, JSON -> record, publishing.

A review comes with the supervisor's own bearer token: the token's id must be
a supervisor (PML) of the enumeration frame, the review's ``supervisor_id``
that same id, and its ``enumerator_id`` an enumerator of that supervisor's
team (403 otherwise, before the body's fields are checked). The frame is read
once at the gateway's start (``REGSOSEK_FRAME_DIR``, as the worker does): a
team change is a frame change and a restart of both.

What the gateway cannot know (the household exists, its owner is in the
team, the review is of its latest accepted revision) the worker checks
against its dedup state, and a review failing there becomes a rejection
(``REVIEW_*`` codes on ``.rejected``). Synchronous, for the gateway's thread
pool, like :mod:`streams.gateway.service`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from processors.reviews import comment_problem, outside_team, supervisors
from schemas.errors import SchemaValidationError
from schemas.frame import Frame
from schemas.jsonform import JsonForm
from schemas.validate import FieldError
from streams.gateway.auth import Authenticated
from streams.gateway.payloads import Problem
from streams.sdk import CheckedRecord, Publisher, PublishError, Receipt

log = logging.getLogger(__name__)

NOT_STORED = (
    "Kafka did not acknowledge in time, so the review may not be stored: send it again "
    "later (a resend with the same review_id is stored once)"
)


class ReviewService:
    """Turns a supervisor's JSON review into an acknowledged Kafka record."""

    def __init__(
        self, publisher: Publisher, form: JsonForm, frame: Frame, retry_after_s: int
    ) -> None:
        self.publisher = publisher
        self._form = form
        self._frame = frame
        self._supervisors = supervisors(frame)
        self._retry_after = {"Retry-After": str(retry_after_s)}

    def submit(self, caller: Authenticated, document: Any) -> Receipt:
        """Publish one review; Problem 403/400/503 when it cannot be accepted."""
        record = self.record(caller, document)
        try:
            return self.publisher.publish(record)
        except SchemaValidationError as invalid:
            raise Problem(400, str(invalid), invalid.errors) from None
        except PublishError as exc:
            log.warning("review %s not acknowledged: %s", record.get("review_id"), exc)
            raise Problem(503, NOT_STORED, headers=self._retry_after) from exc

    def record(self, caller: Authenticated, document: Any) -> CheckedRecord:
        """The validated record of one JSON review, or Problem 403/400."""
        reason = self.forbidden_reason(caller.enumerator_id, document)
        if reason is not None:
            raise Problem(403, reason)
        try:
            record = self._form.from_json(document)
        except SchemaValidationError as invalid:
            raise Problem(400, str(invalid), invalid.errors) from None
        problem = comment_problem(record["decision"], record.get("comment"))
        if problem is not None:
            raise Problem(400, problem, [FieldError("comment", problem)])
        return CheckedRecord(record, self._form.name)

    def forbidden_reason(self, caller_id: str, document: Any) -> str | None:
        """Why this caller may not send this review (403), or None. Pure.

        Fields that are missing or not text are left to the schema check (400).
        """
        if caller_id not in self._supervisors:
            return (
                f"the token belongs to {caller_id!r}, who is not a supervisor (PML) of the "
                "enumeration frame; only supervisors review interviews"
            )
        fields = document if isinstance(document, Mapping) else {}
        supervisor = fields.get("supervisor_id")
        if isinstance(supervisor, str) and supervisor != caller_id:
            return (
                f"supervisor_id is {supervisor!r} but the token belongs to supervisor "
                f"{caller_id!r}; a supervisor sends only their own decisions"
            )
        enumerator = fields.get("enumerator_id")
        if isinstance(enumerator, str) and outside_team(self._frame, caller_id, enumerator):
            return (
                f"enumerator {enumerator!r} is not in the team of supervisor {caller_id!r} "
                "in the enumeration frame; a supervisor reviews their own team only"
            )
        return None


def review_receipt_body(receipt: Receipt) -> dict[str, Any]:
    """The 202 body of a review: where the broker stored it."""
    return {
        "review_id": receipt.record_id,
        "topic": receipt.topic,
        "partition": receipt.partition,
        "offset": receipt.offset,
    }
