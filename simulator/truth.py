"""The ground truth of a run: what the pipeline's tables must show once it has caught up.

Tallied from the messages the broker (or the gateway) *acknowledged*, so a
run stopped with Ctrl-C still has an exact truth for what it sent. The
arithmetic follows the pipeline's contract:

* a **household** counts once, however often it was sent: its first message
  (clean, old-schema, or injected with a mistake) decides whether it is
  accepted or rejected;
* a **duplicate** (same ``submission_id``) is dropped by deduplication: it
  changes no count and is never a rejection;
* a **revision** supersedes its household's earlier revision: the household
  still counts once, its members are those of the latest revision;
* a **corrupt** message is one rejection (a DECODE_* reason) and no household;
* a **review** (reviews on) sets its household's status as the
  ``interview_status`` view derives it: APPROVED, RETURNED or REJECTED_FINAL
  (the runner sends a review only after the revision it decides on, so it is
  always of the latest revision); the **fix** after a return (a revision that
  follows a review) puts the household back to AWAITING_REVIEW. An accepted
  household no standing decision covers awaits review;
* a **paradata event** counts by its type: every event the tablets send is
  stored (one row per ``event_id``).

Rejections are counted per message and reason code; warnings per accepted
household whose latest revision carries them (only old-schema households
carry any: REGION_VILLAGE_UNVERIFIED). Old apps send BPS codes, which the
shipped master resolves only to the district: ``bps_coded_villages`` maps the
10-digit form code such a household arrives with to its true master code.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulator.households import present_count
from simulator.population import SimFrame
from simulator.scenario import Message, MessageKind

FORMAT_VERSION = 1


@dataclass
class DistrictTruth:
    """One district (kecamatan): target against what the pipeline should count."""

    code: str
    name: str
    bps_code: str | None
    target: int = 0  # households in targets.csv
    households_sent: int = 0  # households whose first message was sent
    accepted: int = 0  # expected enumerated: distinct accepted households
    rejected: int = 0  # households whose only message was rejected
    members: int = 0  # present members of accepted households, latest revision
    by_result: dict[str, int] = field(default_factory=dict)  # accepted households by item 205
    # review status of accepted households (interview_status); awaiting = the rest
    approved: int = 0
    returned: int = 0
    rejected_final: int = 0
    awaiting_review: int = 0


@dataclass
class GroundTruth:
    """Everything a comparison with ClickHouse needs; JSON with :meth:`to_json`."""

    seed: int
    scale: float
    regency: str
    selected_districts: list[str]
    topic: str
    via: str
    complete: bool = True  # False when the run was interrupted
    households_planned: int = 0
    messages_sent: int = 0
    households_sent: int = 0
    duplicates_sent: int = 0
    revisions_sent: int = 0
    corrupt_sent: int = 0
    old_schema_sent: int = 0
    reviews_sent: int = 0
    fixes_sent: int = 0  # revisions sent after a supervisor returned the interview
    reviews_by_decision: dict[str, int] = field(default_factory=dict)
    events_by_type: dict[str, int] = field(default_factory=dict)  # paradata (EnumeratorEvent)
    accepted_households: int = 0
    accepted_members: int = 0
    rejected_households: int = 0
    rejected_messages: int = 0
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    warnings_by_code: dict[str, int] = field(default_factory=dict)
    households_by_village: dict[str, dict[str, int]] = field(default_factory=dict)
    bps_coded_villages: dict[str, str] = field(default_factory=dict)
    districts: dict[str, DistrictTruth] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """Stable text: sorted keys, so two runs with one seed give identical files."""
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> GroundTruth:
        data: dict[str, Any] = json.loads(text)
        districts = {code: DistrictTruth(**d) for code, d in data.pop("districts").items()}
        return cls(**data, districts=districts)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> GroundTruth:
        return cls.from_json(path.read_text(encoding="utf-8"))


class TruthTally:
    """Adds up acknowledged messages into a :class:`GroundTruth`, in O(villages) memory."""

    def __init__(self, frame: SimFrame, *, seed: int, scale: float, topic: str, via: str) -> None:
        self.truth = GroundTruth(
            seed=seed,
            scale=scale,
            regency=frame.regency_code,
            selected_districts=[d.code for d in frame.districts],
            topic=topic,
            via=via,
            households_planned=frame.households,
        )
        for district in frame.districts:
            self.truth.districts[district.code] = DistrictTruth(
                district.code, district.name, district.bps_code, target=district.households
            )
        self._reasons: Counter[str] = Counter()
        self._warnings: Counter[str] = Counter()
        self._decisions: Counter[str] = Counter()
        self._events: Counter[str] = Counter()

    def add(self, message: Message) -> None:
        """Count one message the broker (or the gateway) acknowledged."""
        truth = self.truth
        if message.kind is MessageKind.REVIEW:  # on the reviews topic: counted apart
            self._review(message)
            return
        if message.kind is MessageKind.EVENT:  # on the enumerator-events topic
            self._events[str((message.record or {})["event_type"])] += 1
            return
        truth.messages_sent += 1
        if message.kind is MessageKind.DUPLICATE:
            truth.duplicates_sent += 1
        elif message.kind is MessageKind.CORRUPT:
            truth.corrupt_sent += 1
            self._reject(message)
        elif message.kind is MessageKind.REVISION:
            truth.revisions_sent += 1
            self._revise(message)
        else:
            self._household(message)

    def _reject(self, message: Message) -> None:
        self.truth.rejected_messages += 1
        self._reasons.update(message.expected_errors)

    def _household(self, message: Message) -> None:
        truth = self.truth
        district = truth.districts[str(message.district_code)]
        truth.households_sent += 1
        district.households_sent += 1
        if message.schema_version == 1:
            truth.old_schema_sent += 1
        if message.expected_errors:
            truth.rejected_households += 1
            district.rejected += 1
            self._reject(message)
            return
        record = message.record or {}
        result = record["enumeration"]["result"]
        members = present_count(record)
        truth.accepted_households += 1
        truth.accepted_members += members
        district.accepted += 1
        district.members += members
        district.by_result[result] = district.by_result.get(result, 0) + 1
        village = truth.households_by_village.setdefault(str(message.village_code), {})
        village[result] = village.get(result, 0) + 1
        self._warnings.update(message.expected_warnings)
        if message.schema_version == 1:
            truth.bps_coded_villages[_form_code(record)] = str(message.village_code)

    def _revise(self, message: Message) -> None:
        record = message.record or {}
        delta = present_count(record) - message.replaced_members
        district = self.truth.districts[str(message.district_code)]
        self.truth.accepted_members += delta
        district.members += delta
        if message.depends_on is not None:  # a fix after a return: awaits review again
            self.truth.fixes_sent += 1
            district.returned -= 1

    def _review(self, message: Message) -> None:
        decision = str((message.record or {})["decision"])
        self.truth.reviews_sent += 1
        self._decisions[decision] += 1
        district = self.truth.districts[str(message.district_code)]
        if decision == "APPROVED":
            district.approved += 1
        elif decision == "RETURNED":
            district.returned += 1
        else:
            district.rejected_final += 1

    def result(self, *, complete: bool = True, notes: list[str] | None = None) -> GroundTruth:
        """The truth so far (call once, at the end of the run)."""
        truth = self.truth
        truth.complete = complete
        truth.notes = list(notes or [])
        truth.rejections_by_reason = dict(sorted(self._reasons.items()))
        truth.warnings_by_code = dict(sorted(self._warnings.items()))
        truth.reviews_by_decision = dict(sorted(self._decisions.items()))
        truth.events_by_type = dict(sorted(self._events.items()))
        for district in truth.districts.values():
            decided = district.approved + district.returned + district.rejected_final
            district.awaiting_review = district.accepted - decided
        return truth


def _form_code(record: dict[str, Any]) -> str:
    """The full village code as the form writes it (BPS: 2+2+3+3 digits)."""
    location = record["location"]
    parts = ("province_code", "regency_code", "district_code", "village_code")
    return "".join(str(location[part]) for part in parts)
