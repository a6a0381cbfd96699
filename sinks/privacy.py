"""What personal data may reach analytics tables, and in which form.

NIK (Nomor Induk Kependudukan, the 16-digit national id) is replaced by an
HMAC-SHA256 under the operation's secret key: equal NIKs give equal hashes, so
analysts can find one person listed in two families, but nobody without the
key can test a guess. A plain SHA-256 would not do: a NIK is district (6
digits) + birth date (6) + serial (4), a space small enough to enumerate.

Names, street addresses and free-text notes are never written; birth dates
shrink to year and month; GPS is rounded to about 100 m.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from sinks.migrations import check_names, created_objects, plan

#: Decimal places kept of GPS coordinates: 3 ~ 110 m, enough to map an SLS.
GPS_DECIMALS = 3


def nik_hash(nik: str | None, key: bytes) -> str | None:
    """Hex HMAC-SHA256 of a NIK; ``None`` for a missing or blank NIK.

    Surrounding whitespace is ignored so the same NIK typed twice hashes the
    same; anything else (a wrong digit) is a different NIK on purpose.
    """
    if nik is None or not nik.strip():
        return None
    if not key:
        raise ValueError("the NIK HMAC key is empty")
    return hmac.digest(key, nik.strip().encode("ascii", "replace"), "sha256").hex()


def nik_key(nik: str | None, key: bytes) -> int | None:
    """The first 8 bytes of :func:`nik_hash` as a big-endian integer: ``nik_households.nik_key``.

    The same number ClickHouse derives from ``members.nik_hash`` in migration 0007.
    """
    hashed = nik_hash(nik, key)
    return None if hashed is None else int(hashed[:16], 16)


def coarse_coordinate(value: float | None) -> float | None:
    """A GPS coordinate rounded to :data:`GPS_DECIMALS` places: a place, not a door."""
    return None if value is None else round(value, GPS_DECIMALS)


#: Tables and views analysts may read (deny by default: a new table needs a decision).
ANALYST_TABLES = (
    "households",
    "members",
    "members_current",
    "rejections",
    "regions",
    "enumerators",
    "targets",
    "progress_village_daily",
    "progress_enumerator_daily",
    "rejections_daily",
    "progress_by_district",
    "progress_by_village",
    "progress_by_enumerator",
    "review_decisions",
    "interview_status",
    "review_progress_by_district",
    "review_progress_by_team",
    "review_progress_by_enumerator",
    # paradata (0009): ids, times and 100 m places of the enumerators' own work, no
    # household data; area-filtered through the frame's enumerators
    "enumerator_events",
    "enumerator_activity",
    "active_enumerators",
    "interview_durations",
    "interview_time_by_enumerator",
    "data_quality_by_enumerator",
    "data_quality_by_team",
)
#: A region master code of a province, regency or district (``35``, ``35.09``, ``35.09.19``).
AREA_CODE = re.compile(r"\d{2}(\.\d{2}){0,2}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
#: How each area-filtered table tells where a row lies (district codes start with their
#: regency's and province's codes, so a prefix test covers every level).
_AREA_CONDITIONS = {
    **{
        table: "startsWith(district_code, '{area}')"
        for table in (
            "households",
            "members",
            "rejections",
            "targets",
            "progress_village_daily",
            "progress_enumerator_daily",
            "rejections_daily",
        )
    },
    "enumerators": "arrayExists(d -> startsWith(d, '{area}'), district_codes)",
    # decisions carry no district: those of the households the role may see (the
    # households policy applies inside the subquery too)
    "review_decisions": "household_id IN (SELECT household_id FROM {db}.households)",
    # events carry BPS codes only: those of the enumerators the role may see
    "enumerator_events": "enumerator_id IN (SELECT enumerator_id FROM {db}.enumerators)",
}


def area_condition(table: str, area: str, database: str) -> str:
    """The SQL condition of ``table``'s area row policy: the rows an analyst of ``area`` sees.

    Exports (``regsosek export``) filter with it, so a file holds exactly what
    the area-limited role could read.
    """
    if not AREA_CODE.fullmatch(area):
        raise ValueError(f"area must be a region master code like 35.09 or 35.09.19: {area!r}")
    check_names(database, None)
    condition = _AREA_CONDITIONS.get(table)
    if condition is None:
        raise ValueError(f"{table} has no area condition")
    return condition.format(area=area, db=database)


@dataclass(frozen=True)
class AnalystQuota:
    """Per-user hourly limits of the analyst role (ClickHouse QUOTA) and a query time cap."""

    queries_per_hour: int = 2000
    result_rows_per_hour: int = 100_000_000
    read_rows_per_hour: int = 50_000_000_000
    max_execution_seconds: int = 300


#: Never granted to analysts, and why.
RESTRICTED_TABLES = {
    "rejection_payloads": "original message bytes carry names and NIKs in clear",
    "schema_migrations": "bookkeeping of the sink",
    "reviews": "supervisors' comments are free text about a family (names, circumstances); "
    "analysts read review_decisions, the same rows without the comment",
    "nik_households": "the worker's NIK lookup (a copy of members.nik_hash); analysts read members",
    "reprocess_audit": "operators' names and which household each re-drove; read through "
    "`regsosek rejections reprocess --report`",
    "erasures": "lawful erasure requests: references, operators' names (the household only "
    "as an HMAC)",
    "replay_runs": "the worker's bookkeeping of replay runs (phases, offsets)",
}


def analyst_role_sql(
    database: str,
    *,
    cluster: str | None = None,
    role: str = "regsosek_analyst",
    user: str = "analyst_example",
    nik_hash: bool = True,
    password_sha256: str | None = None,
    area: str | None = None,
    quota: AnalystQuota | None = None,
) -> list[str]:
    """DDL of a read-only analyst role and an example user (server mode only).

    Normal views run with the reader's rights, so the tables behind the views
    are granted too. In cluster mode the shard-local tables are granted as
    well, for clusters whose shards run distributed reads as the initial user.
    ``nik_hash=False`` revokes the one pseudonymous identifier, for analysts
    who need no duplicate-person analysis (``SELECT *`` on members then fails:
    name the columns).

    ``area`` (a region master code such as ``35.09`` for Jember or
    ``35.09.19`` for one district) adds row policies so the role sees only
    rows whose district lies in that area: a regency's analysts need not read
    the whole province. ``quota`` caps what the role may run per hour, so one
    runaway dashboard cannot starve the sink's inserts. The example user gets
    the SHA-256 of a password the caller generated (never a password in the
    DDL, which ends up in shell history and tickets).
    """
    check_names(database, cluster)
    if area is not None and not AREA_CODE.fullmatch(area):
        raise ValueError(f"area must be a region master code like 35.09 or 35.09.19: {area!r}")
    if password_sha256 is not None and not SHA256_HEX.fullmatch(password_sha256):
        raise ValueError("password_sha256 must be 64 hex digits")
    for name in (role, user):
        check_names(name, None)
    on_cluster = f" ON CLUSTER '{cluster}'" if cluster else ""
    existing = set(created_objects(plan(database, cluster)))
    tables = [t for t in ANALYST_TABLES if t in existing]
    tables += [f"{t}_local" for t in ANALYST_TABLES if f"{t}_local" in existing]
    statements = [f"CREATE ROLE IF NOT EXISTS {role}{on_cluster}"]
    statements += [f"GRANT{on_cluster} SELECT ON {database}.{t} TO {role}" for t in tables]
    if not nik_hash:
        statements += [
            f"REVOKE{on_cluster} SELECT(nik_hash) ON {database}.{t} FROM {role}"
            for t in tables
            if t in ("members", "members_local")
        ]
    limits = quota or AnalystQuota()
    statements += [
        f"CREATE SETTINGS PROFILE IF NOT EXISTS {role}_profile{on_cluster}"
        f" SETTINGS readonly = 1, max_execution_time = {limits.max_execution_seconds}"
        f" TO {role}",
        f"CREATE QUOTA IF NOT EXISTS {role}_quota{on_cluster} KEYED BY user_name"
        f" FOR INTERVAL 1 hour MAX queries = {limits.queries_per_hour},"
        f" result_rows = {limits.result_rows_per_hour}, read_rows = {limits.read_rows_per_hour}"
        f" TO {role}",
    ]
    if area is not None:
        statements += _row_policies(database, on_cluster, role, area, tables)
    identified = (
        f" IDENTIFIED WITH sha256_hash BY '{password_sha256}'"
        if password_sha256
        else " IDENTIFIED WITH no_password HOST NONE"  # cannot log in until given a password
    )
    statements += [
        f"CREATE USER IF NOT EXISTS {user}{on_cluster}{identified}",
        f"GRANT{on_cluster} {role} TO {user}",
        f"ALTER USER {user}{on_cluster} DEFAULT ROLE {role}",
    ]
    return statements


def _row_policies(
    database: str, on_cluster: str, role: str, area: str, tables: list[str]
) -> list[str]:
    """Row policies limiting the role to one area, on every granted table with a district.

    ``regions`` stays whole (public reference data); ``enumerators`` is
    filtered by its array of districts.
    """
    policies = []
    for table in tables:
        condition = _AREA_CONDITIONS.get(table.removesuffix("_local"))
        if condition is None:
            continue
        policies.append(
            f"CREATE ROW POLICY IF NOT EXISTS {role}_area{on_cluster} ON {database}.{table}"
            f" FOR SELECT USING {condition.format(area=area, db=database)}"
            f" AS permissive TO {role}"
        )
    return policies
