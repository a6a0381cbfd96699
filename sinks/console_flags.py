"""Data-quality flags of one enumerator on the console's district page. Pure.

A supervisor (PML) with eight enumerators (PPL) and a district coordinator with
a hundred cannot read every rate; the console marks the enumerators worth a
phone call. Each flag is a code, never a judgement in words: the page
translates it, and a supervisor decides. Thresholds are deliberately
conservative (a flag should mean "look now"), each needs a minimum of evidence
so that one early mistake does not brand anyone, and each is documented below
so an operation can argue about the numbers rather than the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HIGH_REJECTION_RATE = "HIGH_REJECTION_RATE"
VERY_SHORT_INTERVIEWS = "VERY_SHORT_INTERVIEWS"
GPS_ANOMALIES = "GPS_ANOMALIES"
DUPLICATE_NIK = "DUPLICATE_NIK"
NO_SYNC_2_DAYS = "NO_SYNC_2_DAYS"
#: Every flag, in the order a row lists them (most actionable first).
FLAGS = (HIGH_REJECTION_RATE, VERY_SHORT_INTERVIEWS, GPS_ANOMALIES, DUPLICATE_NIK, NO_SYNC_2_DAYS)


@dataclass(frozen=True)
class FlagThresholds:
    """When each flag is raised; the defaults are the documented reasoning.

    rejection_rate (0.10) over at least min_decided (5) submissions decided:
        the CAPI app checks most rules before sending, so a trained enumerator's
        rejections are rare; one in ten sent back means a misunderstood item or
        a stale app, which retraining fixes. Fewer than five decided
        submissions is the first morning, where one typo would be 100 %.
    very_short_interviews (3): interviews under 10 minutes (paradata,
        sinks/paradata.py VERY_SHORT_INTERVIEW_SECONDS). One can be a
        mis-recorded start; three is a habit of filling forms without the family.
    gps_anomalies (3) and gps_anomaly_rate (0.05), both: GPS_* warnings come
        from a bad fix under a roof now and then; three that are also one
        household in twenty are a tablet with GPS off or forms filled elsewhere.
    duplicate_nik_households (1): a household sharing a member's NIK with
        another household is a family counted twice or a NIK copied; each one
        is worth a look, and they are few.
    days_without_sync (2): apps sync several times a day when in coverage;
        two days without one leaves finished interviews on a tablet that can be
        lost, and the progress figures behind the field.
    """

    rejection_rate: float = 0.10
    min_decided: int = 5
    very_short_interviews: int = 3
    gps_anomalies: int = 3
    gps_anomaly_rate: float = 0.05
    duplicate_nik_households: int = 1
    days_without_sync: int = 2


DEFAULT_THRESHOLDS = FlagThresholds()


def _number(row: Mapping[str, object], key: str) -> float:
    """A count or rate of the row; missing, NULL or not a number counts as 0."""
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def enumerator_flags(
    row: Mapping[str, object], thresholds: FlagThresholds = DEFAULT_THRESHOLDS
) -> list[str]:
    """The flag codes of one enumerator's merged row (progress, data quality, activity).

    Reads ``visited``, ``rejected``, ``very_short_interviews``, ``gps_anomalies``,
    ``duplicate_nik_households`` and ``days_without_sync``; rates are
    recomputed from the counts so that a rounded rate never decides a flag.
    An absent figure (no paradata yet, never synced) raises nothing.
    """
    flags: list[str] = []
    visited = _number(row, "visited")
    rejected = _number(row, "rejected")
    decided = visited + rejected
    if decided >= thresholds.min_decided and rejected / decided >= thresholds.rejection_rate:
        flags.append(HIGH_REJECTION_RATE)
    if _number(row, "very_short_interviews") >= thresholds.very_short_interviews:
        flags.append(VERY_SHORT_INTERVIEWS)
    gps = _number(row, "gps_anomalies")
    if visited and gps >= thresholds.gps_anomalies and gps / visited >= thresholds.gps_anomaly_rate:
        flags.append(GPS_ANOMALIES)
    if _number(row, "duplicate_nik_households") >= thresholds.duplicate_nik_households:
        flags.append(DUPLICATE_NIK)
    if row.get("days_without_sync") is not None and (
        _number(row, "days_without_sync") >= thresholds.days_without_sync
    ):
        flags.append(NO_SYNC_2_DAYS)
    return flags
