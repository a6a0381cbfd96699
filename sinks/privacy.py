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
)
#: Never granted to analysts, and why.
RESTRICTED_TABLES = {
    "rejection_payloads": "original message bytes carry names and NIKs in clear",
    "schema_migrations": "bookkeeping of the sink",
}


def analyst_role_sql(
    database: str,
    *,
    cluster: str | None = None,
    role: str = "regsosek_analyst",
    user: str = "analyst_example",
    nik_hash: bool = True,
) -> list[str]:
    """DDL of a read-only analyst role and an example user (server mode only).

    Normal views run with the reader's rights, so the tables behind the views
    are granted too. In cluster mode the shard-local tables are granted as
    well, for clusters whose shards run distributed reads as the initial user.
    ``nik_hash=False`` revokes the one pseudonymous identifier, for analysts
    who need no duplicate-person analysis (``SELECT *`` on members then fails:
    name the columns).
    """
    check_names(database, cluster)
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
    statements += [
        f"CREATE SETTINGS PROFILE IF NOT EXISTS {role}_profile{on_cluster}"
        f" SETTINGS readonly = 1, max_execution_time = 300 TO {role}",
        f"CREATE USER IF NOT EXISTS {user}{on_cluster}"
        " IDENTIFIED WITH sha256_password BY 'CHANGE-ME'",
        f"GRANT{on_cluster} {role} TO {user}",
        f"ALTER USER {user}{on_cluster} DEFAULT ROLE {role}",
    ]
    return statements
