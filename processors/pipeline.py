"""One batch of raw submissions in, decisions out: decode → deduplicate → validate → enrich.

Pure apart from the codecs it is handed: no broker, no clock (``now`` comes
in), no Faust. The worker feeds it the messages of a ``take_events`` batch and
the dedup state it holds, publishes what comes out, and only then stores the
new dedup state, so a crash between the two replays the batch instead of
losing it. Bad input is data here: every message ends up exactly once in
``valid``, ``rejected`` or ``dropped`` (with its verdict), never as an exception.

Deduplication also decides ownership (:mod:`processors.dedup`): a revision from
an enumerator who does not hold the household's assignment, or one jumping too
far, is rejected there, before the rules, and leaves the state as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from processors.dedup import (
    MAX_REVISION_STEP,
    Decision,
    HouseholdState,
    Owner,
    Verdict,
    decide,
    seen_rejected,
)
from processors.enrich import enrich
from processors.location import ResolvedLocation
from processors.records import rejection, rejection_for_decode_error, validated_submission
from processors.rules import RULES_BY_CODE, Finding, RuleContext, Severity, validate
from processors.rules.region import resolved_location
from schemas.errors import DecodeError
from schemas.limits import MAX_SUBMISSION_BYTES


@dataclass(frozen=True, slots=True)
class RawSubmission:
    """One Kafka message of ``regsosek.submissions`` as the worker received it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: datetime
    #: Set on a verified re-drive of a quarantined original (streams/worker/redrive.py):
    #: dedup then goes by this id instead of the submission id (see :func:`seen_as`).
    redrive_id: str | None = None


def seen_as(msg: RawSubmission, record: Mapping[str, Any]) -> str:
    """The id dedup remembers and looks for: the re-drive id of a re-drive, else the submission's.

    A quarantined original's submission id is remembered from its rejection,
    so its re-drive would be a duplicate; going by the re-drive id lets each
    re-drive through once, judged like a new arrival (ownership, revision
    order, every rule), and drops a second delivery of the same re-drive.
    """
    return msg.redrive_id or str(record["submission_id"])


@dataclass(frozen=True, slots=True)
class Accepted:
    """A submission that passed: the ValidatedSubmission to publish, keyed by household."""

    household_id: str
    record: dict[str, Any]
    district: str | None
    warnings: tuple[str, ...]
    source: tuple[int, int] = (0, -1)  # (partition, offset) of the submission it came from


@dataclass(frozen=True, slots=True)
class Rejected:
    """A submission that failed to decode or broke an error rule."""

    household_id: str | None
    record: dict[str, Any]
    reason_codes: tuple[str, ...]
    district: str | None


@dataclass
class BatchResult:
    """Everything the worker must publish and remember after one batch."""

    valid: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)  # verdict -> count
    states: dict[str, HouseholdState] = field(default_factory=dict)  # household -> new state
    lags_ms: list[int] = field(default_factory=list)


Decoder = Callable[[bytes], tuple[int, dict[str, Any]]]
StateLookup = Callable[[str], HouseholdState | None]


@dataclass(frozen=True)
class Pipeline:
    """The processing stage, configured once per worker."""

    decode: Decoder
    context: RuleContext
    #: Told of each accepted submission as soon as it is accepted, so a later record of the
    #: same batch can see it (the worker's NIK index); must not change the record.
    on_accepted: Callable[[Mapping[str, Any]], None] | None = None

    def run(
        self, messages: Iterable[RawSubmission], lookup: StateLookup, now: datetime
    ) -> BatchResult:
        """Process a batch in order; state changes earlier in the batch count for later ones."""
        result = BatchResult()
        ctx = replace(self.context, now=now)
        for message in messages:
            try:
                self._one(message, ctx, result, lookup)
            except Exception as exc:
                result.rejected.append(failed(message, ctx.now, exc))
        return result

    def _state(self, result: BatchResult, lookup: StateLookup, household: str) -> Any:
        return result.states[household] if household in result.states else lookup(household)

    def _one(
        self, msg: RawSubmission, ctx: RuleContext, out: BatchResult, lookup: StateLookup
    ) -> None:
        if len(msg.value) > MAX_SUBMISSION_BYTES:
            out.rejected.append(too_large(msg, ctx.now))
            return
        try:
            schema_id, record = self.decode(msg.value)
        except DecodeError as exc:
            out.rejected.append(
                Rejected(None, rejection_for_decode_error(*_where(msg, ctx.now), exc), (), None)
            )
            return
        household = str(record["household_id"])
        state = self._state(out, lookup, household)
        resolved = resolved_location(record, ctx)
        claim = Owner(
            str(record["enumeration"]["enumerator_id"]),
            resolved.village_code,
            str(record["location"]["sls_code"]),
        )
        revision = int(record["revision"])
        at_ms = int(msg.timestamp.timestamp() * 1000)
        decision = decide(state, seen_as(msg, record), revision, claim, ctx.frame, at_ms=at_ms)
        if decision.rejection_code is not None:
            finding = _refusal(decision, state, claim, household, revision)
            district = resolved.district.code if resolved.district else None
            where = _where(msg, ctx.now)
            rec = rejection(*where, [finding], record, schema_id, key=household, district=district)
            out.rejected.append(Rejected(household, rec, (finding.code,), district))
            return
        if not decision.forward:
            out.dropped[decision.verdict.value] += 1
            if decision.new_state is not None:
                out.states[household] = decision.new_state
            return
        self._check(
            msg=msg,
            ctx=ctx,
            out=out,
            record=record,
            schema_id=schema_id,
            decision=decision,
            state=state,
            resolved=resolved,
        )

    def _check(
        self,
        *,
        msg: RawSubmission,
        ctx: RuleContext,
        out: BatchResult,
        record: dict[str, Any],
        schema_id: int,
        decision: Decision,
        state: HouseholdState | None,
        resolved: ResolvedLocation,
    ) -> None:
        household = str(record["household_id"])
        findings = validate(record, ctx)  # includes the REGION_* findings of ``resolved``
        errors = [f for f in findings if f.severity is Severity.ERROR]
        district = resolved.district.code if resolved.district else None
        if errors:
            rec = rejection(
                *_where(msg, ctx.now), errors, record, schema_id, key=household, district=district
            )
            out.rejected.append(Rejected(household, rec, _codes(errors), district))
            out.states[household] = seen_rejected(
                state, seen_as(msg, record), int(record["revision"])
            )
            return
        warnings = _unique(findings)
        if decision.verdict is Verdict.SAME_REVISION:
            warnings.append(_same_revision_warning())
        enrichment = enrich(record, resolved, ctx, ctx.now)
        enrichment["received_at"] = msg.timestamp
        out.valid.append(
            Accepted(
                household,
                validated_submission(record, enrichment, warnings),
                district,
                _codes(warnings),
                (msg.partition, msg.offset),
            )
        )
        if self.on_accepted is not None:
            self.on_accepted(record)
        if decision.new_state is not None:
            out.states[household] = decision.new_state
        lag = enrichment.get("ingest_lag_ms")
        if isinstance(lag, int):
            out.lags_ms.append(lag)


def _refusal(
    decision: Decision,
    state: HouseholdState | None,
    claim: Owner,
    household: str,
    revision: int,
) -> Finding:
    """The finding of an arrival the dedup stage refused (ownership or a revision jump)."""
    if decision.verdict is Verdict.FOREIGN and state is not None and state.owner is not None:
        owner = state.owner
        place = f"{owner.village_code}/{owner.sls_code}" if owner.village_code else owner.sls_code
        return RULES_BY_CODE["HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"].finding(
            "enumeration.enumerator_id",
            household=household,
            assignment=f"SLS {place}",
            owner=owner.enumerator_id,
            enumerator=claim.enumerator_id,
        )
    return RULES_BY_CODE["REVISION_JUMP"].finding(
        "revision",
        revision=revision,
        step=MAX_REVISION_STEP,
        reached=state.reached if state is not None else 0,
    )


def _key(msg: RawSubmission) -> str | None:
    return msg.key.decode("utf-8", "replace") if msg.key else None


def too_large(msg: RawSubmission, now: datetime) -> Rejected:
    """A submission over the contract's size: rejected before decoding, head kept."""
    finding = RULES_BY_CODE["SUBMISSION_TOO_LARGE"].finding(
        None, size=len(msg.value), limit=MAX_SUBMISSION_BYTES
    )
    record = rejection(*_where(msg, now), [finding], None, None, key=_key(msg))
    return Rejected(_key(msg), record, (finding.code,), None)


def failed(msg: RawSubmission, now: datetime, error: BaseException) -> Rejected:
    """A submission whose processing raised: quarantined alone, the batch goes on."""
    detail = f"{type(error).__name__}: {error}"[:200]
    finding = RULES_BY_CODE["RECORD_PROCESSING_FAILED"].finding(None, error=detail)
    record = rejection(*_where(msg, now), [finding], None, None, key=_key(msg))
    return Rejected(_key(msg), record, (finding.code,), None)


def _where(msg: RawSubmission, now: datetime) -> tuple[bytes, str, int, int, datetime]:
    return (msg.value, msg.topic, msg.partition, msg.offset, now)


def _codes(findings: Iterable[Finding]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.code for f in findings))


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    """Warnings once each: two rules may flag the same field for the same reason."""
    seen: dict[tuple[str, str | None], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.code, finding.field_path), finding)
    return list(seen.values())


def _same_revision_warning() -> Finding:
    return RULES_BY_CODE["SAME_REVISION_NEW_CONTENT"].finding("revision")


def dropped_summary(result: BatchResult) -> Mapping[str, int]:
    """Dropped messages by verdict, for logs and metrics."""
    return dict(result.dropped)
