"""Accepting submissions: authorisation, natural JSON -> record, publishing.

Synchronous on purpose: it runs in the gateway's thread pool, because the
publisher is the SDK's kafka-python producer, which blocks until Kafka
acknowledges. Everything it refuses is a :class:`Problem`; everything it
accepts has a receipt, which exists only after the broker acknowledged.

Each submission is validated once: :class:`~schemas.jsonform.JsonForm` checks
every field while converting the JSON, and hands the publisher a
:class:`~streams.sdk.CheckedRecord`, which the SDK encodes without checking it
again. The SDK still refuses a submission whose wire bytes are over
:data:`~schemas.limits.MAX_SUBMISSION_BYTES` before sending it, answered here
as 413 with the reason code :data:`~schemas.limits.TOO_LARGE_CODE`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from schemas.errors import SchemaValidationError
from schemas.jsonform import JsonForm
from schemas.limits import TOO_LARGE_CODE
from streams.gateway.auth import Authenticated, forbidden_reason
from streams.gateway.payloads import (
    ItemResult,
    Problem,
    accepted,
    not_acknowledged,
    refused,
    submission_id_of,
    too_large,
)
from streams.sdk import (
    CheckedRecord,
    Publisher,
    PublishError,
    Receipt,
    RecordTooLargeError,
    RejectedRecord,
)

log = logging.getLogger(__name__)

#: The 503 message: the broker's address and error stay in the gateway's log.
NOT_STORED = (
    "Kafka did not acknowledge in time, so the submission may not be stored: "
    "send it again later (a resend with the same submission_id is never counted twice)"
)


class SubmissionService:
    """Turns authenticated JSON documents into acknowledged Kafka records."""

    def __init__(self, publisher: Publisher, form: JsonForm, retry_after_s: int) -> None:
        self.publisher = publisher
        self._form = form
        self._retry_after = {"Retry-After": str(retry_after_s)}

    def submit(self, caller: Authenticated, document: Any) -> Receipt:
        """Publish one submission; Problem 403/400/413/503 when it cannot be accepted."""
        record = self.record(caller, document)
        try:
            return self.publisher.publish(record)
        except SchemaValidationError as invalid:
            raise _invalid(invalid) from None
        except RecordTooLargeError as large:
            raise too_large(str(large)) from None
        except PublishError as exc:
            log.warning("submission %s not acknowledged: %s", submission_id_of(document), exc)
            raise Problem(503, NOT_STORED, headers=self._retry_after) from exc

    def submit_batch(self, caller: Authenticated, items: Sequence[Any]) -> list[ItemResult]:
        """One result per item: refused items do not stop the valid ones."""
        results: list[ItemResult] = []
        ready: list[tuple[int, dict[str, Any]]] = []
        for index, item in enumerate(items):
            try:
                ready.append((index, self.record(caller, item)))
            except Problem as problem:
                results.append(refused(index, item, problem))
        if not ready:
            return results
        try:
            outcomes: Sequence[Receipt | RejectedRecord | None] = self.publisher.publish_batch(
                [record for _, record in ready]
            )
        except PublishError as exc:
            log.warning("batch of %d not fully acknowledged: %s", len(ready), exc)
            outcomes = exc.outcomes or [None] * len(ready)
        for (index, _record), outcome in zip(ready, outcomes, strict=True):
            results.append(_item_result(index, items[index], outcome))
        return results

    @property
    def retry_after(self) -> dict[str, str]:
        """The Retry-After header sent with every 503."""
        return dict(self._retry_after)

    def record(self, caller: Authenticated, document: Any) -> CheckedRecord:
        """The Avro-ready, validated record of one JSON submission, or Problem 403/400."""
        reason = forbidden_reason(caller, document)
        if reason is not None:
            raise Problem(403, reason)
        try:
            return CheckedRecord(self._form.from_json(document), self._form.name)
        except SchemaValidationError as invalid:
            raise _invalid(invalid) from None


def _item_result(index: int, item: Any, outcome: Receipt | RejectedRecord | None) -> ItemResult:
    if isinstance(outcome, Receipt):
        return accepted(index, outcome)
    if isinstance(outcome, RejectedRecord):
        if outcome.code == TOO_LARGE_CODE:
            return refused(index, item, too_large(outcome.errors[0].problem))
        problem = Problem(400, "does not match the schema", outcome.errors)
        return refused(index, item, problem)
    return not_acknowledged(index, item)


def _invalid(invalid: SchemaValidationError) -> Problem:
    return Problem(400, str(invalid), invalid.errors)
