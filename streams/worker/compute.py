"""The pure half of a batch: submission bytes in; rows, output records and states out.

It runs in a child process (:mod:`streams.worker.pool`), so the worker's event
loop keeps fetching, inserting and publishing on one core while the rules run
on the other. Everything here is a function of its inputs and of the master
data loaded once per process; nothing touches Kafka or ClickHouse.

One pass, in memory: each submission is decoded once, ruled, deduplicated
against the states the caller hands in, enriched, and turned into its
ClickHouse rows *and* its ValidatedSubmission bytes from the same dict. No
record is encoded to be decoded again, no location is resolved twice.

Every failure of one record is that record's: a submission over the size
contract, one that raises anywhere in the rules, one whose output does not
encode or would not fit the producers' limit, one whose rows cannot be built:
each becomes a Rejection with its own reason code, and the batch goes on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from monitoring.hooks import BatchOutcome
from processors.dedup import HouseholdState
from processors.nik import is_well_formed
from processors.pipeline import Accepted, Pipeline, RawSubmission, Rejected, failed
from processors.records import rejection
from processors.rules import RULES_BY_CODE, Finding, InMemoryNikIndex
from schemas.errors import SchemaValidationError
from schemas.limits import MAX_RECORD_BYTES, MAX_SUBMISSION_BYTES
from schemas.regions import RegionMaster
from sinks.rows import Block, Locator, household_row, member_rows, rejection_block
from streams.worker.nik_index import Durable, WorkerNikIndex
from streams.worker.observer import batch_outcome, reason_codes

log = logging.getLogger(__name__)

Encoder = Callable[[dict[str, Any]], bytes]
#: Encodes a ValidatedSubmission given the submission's own wire bytes (reused when it can).
EnvelopeEncoder = Callable[[dict[str, Any], bytes], bytes]

#: Room left under the producers' limit for the record batch's own framing.
RECORD_HEADROOM_BYTES = 16 * 1024


class HouseholdRows(NamedTuple):
    """One accepted household: its rows and its ValidatedSubmission, kept together.

    Together because a household refused by ClickHouse is quarantined whole:
    its rows leave the insert and its record leaves the valid topic. A tuple,
    not a dataclass: thousands cross the process boundary per batch, and
    pickle handles tuples in C.
    """

    household_id: str
    submission_id: str
    enumerator_id: str
    district: str | None
    source: tuple[int, int]  # (partition, offset) of the submission
    household: list[Any]
    members: list[list[Any]]
    valid_value: bytes


#: One household's rows, with the column names of its household row and member rows.
Built = tuple[HouseholdRows, list[str], list[str] | None]


#: A rejection as the observers see it: its reason codes and its district.
RejectionFact = tuple[tuple[str, ...], str | None]


@dataclass
class Computed:
    """What the event loop needs to finish a batch; small enough to pickle back cheaply."""

    households: list[HouseholdRows] = field(default_factory=list)
    household_columns: list[str] = field(default_factory=list)
    member_columns: list[str] = field(default_factory=list)
    rejected: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    rejection_columns: list[str] = field(default_factory=list)
    rejection_rows: list[list[Any]] = field(default_factory=list)
    #: For the observers: each rejection's codes and district, the dedup verdicts.
    rejection_facts: list[RejectionFact] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    states: dict[str, list[Any]] = field(default_factory=dict)
    #: Households whose state the caller did not hand in (a message key that is not
    #: the household id): call again with their states; nothing else is filled.
    missing: set[str] = field(default_factory=set)
    #: The rules that judged the batch (processors/rules/version.py), on every row.
    rules_version: str = ""

    def outcome(self, refused: set[str]) -> BatchOutcome:
        """The batch's decisions for the observers, once ``refused`` households are known."""
        valid = [h.district for h in self.households if h.household_id not in refused]
        quarantined: list[RejectionFact] = [
            (("INSERT_REFUSED",), h.district) for h in self.households if h.household_id in refused
        ]
        return batch_outcome(valid, [*self.rejection_facts, *quarantined], self.dropped)


Decoded = tuple[int, dict[str, Any]]


class DecodeCache:
    """The batch's decoded submissions, so the NIK scan and the pipeline decode each once.

    Keyed by the message bytes (the batch crosses the process boundary twice, so
    the objects differ); an entry is handed out once and the rest dropped at
    the end of the batch.
    """

    def __init__(self, decode: Callable[[bytes], Decoded]) -> None:
        self._decode = decode
        self._kept: dict[bytes, Decoded] = {}

    def __call__(self, value: bytes) -> Decoded:
        kept = self._kept.pop(value, None)
        return kept if kept is not None else self._decode(value)

    def keep(self, value: bytes) -> Decoded | None:
        """Decode now and keep it; ``None`` if it does not decode (the pipeline will say why)."""
        kept = self._kept.get(value)
        if kept is None:
            try:
                kept = self._decode(value)
            except Exception:
                return None
            self._kept[value] = kept
        return kept

    def clear(self) -> None:
        self._kept.clear()


class BatchComputer:
    """The pipeline, the encoders and the row builders of one process."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        encode_valid: EnvelopeEncoder,
        encode_rejected: Encoder,
        nik_key: bytes,
        regions: RegionMaster,
        nik_index: InMemoryNikIndex | WorkerNikIndex | None = None,
        rules_version: str = "",
    ) -> None:
        self.rules_version = rules_version
        self._decoded = DecodeCache(pipeline.decode)
        accepted = self._accepted if isinstance(nik_index, WorkerNikIndex) else None
        pipeline = replace(pipeline, decode=self._decoded, on_accepted=accepted)
        self._pipeline = pipeline
        self._encode_valid = encode_valid
        self._encode_rejected = encode_rejected
        self._nik_key = nik_key
        self._regions = regions
        self._locator = Locator(regions)
        self._nik_index = nik_index

    def nik_keys(self, messages: Sequence[RawSubmission]) -> list[int]:
        """The ``nik_key`` of every well-formed NIK of the batch, for the worker to look up.

        Decodes the batch now and keeps it for :meth:`compute`, so no submission
        is decoded twice; empty without a :class:`WorkerNikIndex`.
        """
        index = self._nik_index
        if not isinstance(index, WorkerNikIndex):
            return []
        keys = {index.key_of(nik) for nik, _household in self._batch_niks(messages)}
        return sorted(key for key in keys if key is not None)

    def _batch_niks(self, messages: Sequence[RawSubmission]) -> list[tuple[str, str]]:
        """(NIK, household id) of every well-formed NIK of the batch's decodable submissions."""
        pairs: list[tuple[str, str]] = []
        for message in messages:
            if len(message.value) > MAX_SUBMISSION_BYTES:
                continue
            decoded = self._decoded.keep(message.value)
            if decoded is None:
                continue
            record = decoded[1]
            household = str(record.get("household_id"))
            for member in record.get("members") or ():
                nik = member.get("nik")
                if nik and is_well_formed(nik):
                    pairs.append((nik, household))
        return pairs

    def compute(
        self,
        messages: Sequence[RawSubmission],
        states: Mapping[str, list[Any] | None],
        now: datetime,
        known_niks: Durable | None = None,
    ) -> Computed:
        """Decide on every message; ``states`` holds the dedup state of each household id.

        ``known_niks`` is ClickHouse's answer for the batch's NIK keys
        (:mod:`streams.worker.nik_lookup`); ``None`` when there was none.
        """
        missing: set[str] = set()

        def lookup(household: str) -> HouseholdState | None:
            if household not in states:
                missing.add(household)
                return None
            return HouseholdState.from_json(states[household])

        index = self._nik_index
        try:
            if isinstance(index, WorkerNikIndex):
                index.begin_batch(known_niks)
            result = self._pipeline.run(messages, lookup, now)
            if isinstance(index, WorkerNikIndex) and not missing:
                index.commit_batch()
        finally:
            if isinstance(index, WorkerNikIndex):
                index.end_batch()
            self._decoded.clear()
        if missing:
            return Computed(missing=missing)
        by_offset = {(m.partition, m.offset): m for m in messages}
        out = Computed(dropped=result.dropped, rules_version=self.rules_version)
        accepted: list[Accepted] = []
        for item in result.valid:
            built = self._household(item, by_offset[item.source].value, now)
            if isinstance(built, Finding):
                result.rejected.append(_quarantined(item, built, by_offset, now))
                continue
            rows, out.household_columns, member_columns = built
            out.member_columns = member_columns or out.member_columns
            out.households.append(rows)
            accepted.append(item)
        self._rejections(result.rejected, now, out, by_offset)
        self._remember_niks(accepted)
        out.states = {household: state.to_json() for household, state in result.states.items()}
        return out

    def rejections_only(self, rejected: Sequence[Rejected], now: datetime) -> Computed:
        """A batch made of these rejections alone (a record that killed the compute process)."""
        out = Computed(rules_version=self.rules_version)
        self._rejections(rejected, now, out)
        return out

    def _household(self, item: Accepted, original: bytes, now: datetime) -> Built | Finding:
        """Rows and bytes of one accepted household, or the finding that quarantines it."""
        try:
            value = self._encode_valid(item.record, original)
        except SchemaValidationError as exc:  # a bug upstream: reject, never crash-loop
            log.error("processed record of %s does not encode: %s", item.household_id, exc)
            return RULES_BY_CODE["ENRICHED_RECORD_INVALID"].finding(None, error=str(exc)[:200])
        if len(value) > MAX_RECORD_BYTES - RECORD_HEADROOM_BYTES:
            return RULES_BY_CODE["OUTPUT_TOO_LARGE"].finding(
                None, size=len(value), limit=MAX_RECORD_BYTES - RECORD_HEADROOM_BYTES
            )
        try:
            return self._rows(item, value, now)
        except Exception as exc:
            log.error("rows of %s could not be built: %r", item.household_id, exc)
            return RULES_BY_CODE["RECORD_PROCESSING_FAILED"].finding(
                None, error=f"{type(exc).__name__}: {exc}"[:200]
            )

    def _rows(self, item: Accepted, value: bytes, now: datetime) -> Built:
        submission = item.record["submission"]
        place = self._locator.place(submission["location"])
        household = household_row(item.record, place, now, self.rules_version)
        members = member_rows(submission, place, self._nik_key, now)
        rows = HouseholdRows(
            household_id=item.household_id,
            submission_id=str(submission["submission_id"]),
            enumerator_id=str(submission["enumeration"]["enumerator_id"]),
            district=item.district,
            source=item.source,
            household=list(household.values()),
            members=[list(member.values()) for member in members],
            valid_value=value,
        )
        return rows, list(household), list(members[0]) if members else None

    def _rejections(
        self,
        rejected: Sequence[Rejected],
        now: datetime,
        out: Computed,
        messages: Mapping[tuple[int, int], RawSubmission] | None = None,
    ) -> None:
        """Rows and Rejection bytes of the batch's rejections.

        All at once, as they nearly always go. Should one of them fail to
        encode or to make its row (a bug met by odd data), each is tried alone
        and the one that fails is replaced by the plainest rejection of its
        message: otherwise the batch would fail the same way on every read.
        """
        try:
            block = self._rejection_block(rejected, now)
            encoded = [self._encoded(r) for r in rejected]
        except Exception:
            rejected = [self._checked(r, now, messages or {}) for r in rejected]
            block = self._rejection_block(rejected, now)
            encoded = [self._encoded(r) for r in rejected]
        out.rejection_facts = [(reason_codes(r), r.district) for r in rejected]
        out.rejection_columns, out.rejection_rows = block.columns, block.rows
        out.rejected = encoded

    def _rejection_block(self, rejected: Sequence[Rejected], now: datetime) -> Block:
        return rejection_block(
            [r.record for r in rejected],
            written_at=now,
            regions=self._regions,
            rules_version=self.rules_version,
        )

    def _encoded(self, item: Rejected) -> tuple[bytes | None, bytes]:
        key = item.household_id.encode() if item.household_id else None
        return key, self._encode_rejected(item.record)

    def _checked(
        self, item: Rejected, now: datetime, messages: Mapping[tuple[int, int], RawSubmission]
    ) -> Rejected:
        """The rejection itself if it encodes and makes a row, else its message's plainest."""
        try:
            self._rejection_block([item], now)
            self._encoded(item)
        except Exception as exc:
            where = (int(item.record["source_partition"]), int(item.record["source_offset"]))
            if where not in messages:
                raise
            log.error("rejection at %s does not encode or make a row: %r", where, exc)
            return failed(messages[where], now, exc)
        return item

    def _accepted(self, record: Mapping[str, Any]) -> None:
        """The pipeline accepted this submission: later households of the batch see its NIKs."""
        index = self._nik_index
        if not isinstance(index, WorkerNikIndex):  # pragma: no cover - only installed with one
            return
        household = str(record["household_id"])
        for member in record.get("members") or ():
            nik = member.get("nik")
            if nik:
                index.accept(nik, household)

    def _remember_niks(self, accepted: Sequence[Accepted]) -> None:
        """Accepted members' NIKs, so a NIK turning up in another household is flagged.

        Only a plain :class:`InMemoryNikIndex` (tests): the worker's index was told of
        each acceptance as it happened (:meth:`_accepted`).
        """
        if not isinstance(self._nik_index, InMemoryNikIndex):
            return
        for item in accepted:
            for member in item.record["submission"]["members"]:
                if member.get("nik"):
                    self._nik_index.add(member["nik"], item.household_id)


def _quarantined(
    item: Accepted,
    finding: Finding,
    messages: Mapping[tuple[int, int], RawSubmission],
    now: datetime,
) -> Rejected:
    """A Rejection with the original bytes of an accepted household that cannot go on."""
    msg = messages[item.source]
    record = rejection(
        msg.value,
        msg.topic,
        msg.partition,
        msg.offset,
        now,
        [finding],
        item.record["submission"],
        None,
        key=item.household_id,
        district=item.district,
    )
    return Rejected(item.household_id, record, (finding.code,), item.district)
