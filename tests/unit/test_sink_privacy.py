"""NIK pseudonymisation and the analyst role: who may read what."""

from __future__ import annotations

import hashlib

import pytest

from sinks.migrations import created_objects, plan
from sinks.privacy import (
    ANALYST_TABLES,
    RESTRICTED_TABLES,
    AnalystQuota,
    analyst_role_sql,
    coarse_coordinate,
    nik_hash,
)

NIK = "3509021205800001"


def test_same_nik_same_hash_and_other_key_other_hash() -> None:
    assert nik_hash(NIK, b"key-a") == nik_hash(f" {NIK} ", b"key-a")
    assert nik_hash(NIK, b"key-a") != nik_hash(NIK, b"key-b")
    assert nik_hash(NIK, b"key-a") != nik_hash("3509021205800002", b"key-a")
    digest = nik_hash(NIK, b"key-a")
    assert digest is not None and len(digest) == 64 and NIK not in digest


def test_missing_nik_has_no_hash_and_an_empty_key_is_refused() -> None:
    assert nik_hash(None, b"k") is None
    assert nik_hash("  ", b"k") is None
    with pytest.raises(ValueError, match="empty"):
        nik_hash(NIK, b"")


def test_coordinates_are_coarsened() -> None:
    assert coarse_coordinate(-8.28364) == -8.284
    assert coarse_coordinate(None) is None


def test_every_object_has_an_access_decision() -> None:
    """A new table must be added to ANALYST_TABLES or RESTRICTED_TABLES on purpose."""
    objects = {name for name in created_objects(plan("regsosek")) if not name.endswith("_mv")}
    undecided = objects - set(ANALYST_TABLES) - set(RESTRICTED_TABLES)
    assert not undecided, f"decide analyst access for {undecided}"
    assert not set(ANALYST_TABLES) & set(RESTRICTED_TABLES)


def test_role_reads_analytics_but_never_payloads() -> None:
    statements = analyst_role_sql("regsosek")
    text = "\n".join(statements)
    assert statements[0] == "CREATE ROLE IF NOT EXISTS regsosek_analyst"
    assert "GRANT SELECT ON regsosek.households TO regsosek_analyst" in statements
    assert "GRANT SELECT ON regsosek.progress_by_district TO regsosek_analyst" in statements
    assert "rejection_payloads" not in text and "schema_migrations" not in text
    assert "readonly = 1" in text
    assert not any(s.startswith(("INSERT", "GRANT INSERT", "GRANT ALL")) for s in statements)
    assert "REVOKE" not in text


def test_role_without_nik_hash_revokes_the_column() -> None:
    text = "\n".join(analyst_role_sql("regsosek", nik_hash=False))
    assert "REVOKE SELECT(nik_hash) ON regsosek.members FROM regsosek_analyst" in text


def test_cluster_role_grants_shard_tables_too() -> None:
    statements = analyst_role_sql("regsosek", cluster="c1", user="ana")
    assert all("ON CLUSTER 'c1'" in s for s in statements)
    assert "GRANT ON CLUSTER 'c1' SELECT ON regsosek.households_local TO regsosek_analyst" in (
        statements
    )
    assert not any("rejection_payloads" in s for s in statements)


def test_area_adds_a_row_policy_on_every_granted_table_with_a_district() -> None:
    statements = analyst_role_sql("regsosek", area="35.09")
    policies = [s for s in statements if s.startswith("CREATE ROW POLICY")]
    assert any(
        "ON regsosek.households FOR SELECT USING startsWith(district_code, '35.09')" in s
        for s in policies
    )
    assert any("ON regsosek.enumerators" in s and "district_codes" in s for s in policies)
    assert not any("regsosek.regions " in s for s in policies)  # reference data stays whole
    assert all(s.endswith("TO regsosek_analyst") for s in policies)
    assert not any(s.startswith("CREATE ROW POLICY") for s in analyst_role_sql("regsosek"))


@pytest.mark.parametrize("area", ["35.09'; DROP TABLE x; --", "3509", "35.0", ""])
def test_area_must_be_a_region_code(area: str) -> None:
    with pytest.raises(ValueError, match="area"):
        analyst_role_sql("regsosek", area=area)


def test_quota_and_password_hash_reach_the_ddl() -> None:
    digest = hashlib.sha256(b"s3cret").hexdigest()
    text = "\n".join(
        analyst_role_sql(
            "regsosek", quota=AnalystQuota(queries_per_hour=17), password_sha256=digest
        )
    )
    assert "FOR INTERVAL 1 hour MAX queries = 17," in text
    assert f"IDENTIFIED WITH sha256_hash BY '{digest}'" in text
    assert "s3cret" not in text and "CHANGE-ME" not in text


def test_without_a_password_the_example_user_cannot_log_in() -> None:
    text = "\n".join(analyst_role_sql("regsosek"))
    assert "IDENTIFIED WITH no_password HOST NONE" in text
