"""``regsosek export`` on the real engine, read back by independent readers.

Households are written by the sink's own row builder and writer (names and
NIKs in the input, as a field app sends them), exported in every format, and
read back with pyarrow (Parquet), pandas (CSV) and pyreadstat (Stata, SPSS):
row counts, values, variable labels and value labels, and no name or NIK.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest
from click.testing import CliRunner, Result
from clickhouse_connect.driver.client import Client

from schemas.regions import load_regions
from sinks.migrations import migrate
from sinks.privacy import nik_hash
from sinks.rows import household_blocks
from sinks.writer import ClickHouseWriter
from streams.cli import cli
from tests import builders
from tests.backends import ClickHouseBackend

pytestmark = pytest.mark.integration

KEY = b"export-test-key"
WRITTEN = dt.datetime(2022, 10, 20, 3, tzinfo=dt.UTC)
#: Columns that would carry a person or a place in clear (never in an export).
IDENTIFYING = {"name", "nik", "address", "notes", "device_id", "comment", "birth_date"}


def household(household_id: str, district: str, regency: str = "09", **overrides: Any) -> Any:
    location = builders.kemendagri_location(regency_code=regency, district_code=district)
    submission = builders.household_submission(
        household_id=household_id, location=location, **overrides
    )
    return builders.validated_submission(submission=submission)


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch,
    clickhouse: ClickHouseBackend,
    clickhouse_client: Client,
    scratch_database: str,
) -> str:
    """A database with four families: three in Jember (two in Kencong), one outside."""
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", clickhouse.dsn)
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DATABASE", scratch_database)
    monkeypatch.delenv("REGSOSEK_CLICKHOUSE_CLUSTER", raising=False)
    migrate(clickhouse_client, database=scratch_database)
    members = builders.family_members()
    first = [
        household("K-1", "02"),
        household(
            "K-2",
            "02",
            enumeration=builders.enumeration(result="REFUSED", notes="menolak"),
            housing=None,
            assets=None,
            social_assistance=None,
            members=[],
            member_count=None,
        ),
        household("J-1", "01"),
        household("B-1", "01", regency="10"),
    ]
    # K-1's second revision: three members left, the head now widowed, a new result
    revised = household(
        "K-1",
        "02",
        revision=2,
        members=[members[0] | {"marital_status": "WIDOWED"}, *members[2:]],
        member_count=3,
        enumeration=builders.enumeration(result="INCOMPLETE", notes="lanjut"),
    )
    writer = ClickHouseWriter(clickhouse_client, scratch_database)
    regions = load_regions()
    for token, batch in (("t:0:0-3", first), ("t:0:4-4", [revised])):
        blocks = household_blocks(batch, nik_key=KEY, written_at=WRITTEN, regions=regions)
        writer.write(blocks, token)
    return scratch_database


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)


def test_every_format_reads_back_with_labels_and_without_names(env: str, tmp_path: Path) -> None:
    result = run("--regency", "35.09", "--format", "all", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "households: 3 rows" in result.output
    assert "members: 7 rows" in result.output  # K-1 revision 2 (3) + J-1 (4), K-2 none
    stem = tmp_path / "regsosek_3509"
    assert not list(tmp_path.glob("*.partial"))

    # Parquet, by pyarrow: values of the newest revision, labels in the schema
    households = pq.read_table(f"{stem}_households.parquet")
    members = pq.read_table(f"{stem}_members.parquet")
    assert households.num_rows == 3 and members.num_rows == 7
    rows = {r["household_id"]: r for r in households.to_pylist()}
    assert set(rows) == {"K-1", "K-2", "J-1"}  # B-1 lies in Banyuwangi (35.10)
    assert rows["K-1"]["revision"] == 2 and rows["K-1"]["result"] == "INCOMPLETE"
    assert rows["K-2"]["result"] == "REFUSED" and rows["K-2"]["floor_material"] is None
    assert rows["J-1"]["district_code"] == "35.09.01" and rows["J-1"]["pkh"] is True
    assert rows["K-1"]["latitude"] == pytest.approx(-8.284)  # rounded as in the table
    assert rows["K-1"]["finished_at"] == builders.INTERVIEW_END.astimezone(dt.UTC)
    assert sorted(rows["J-1"]["assets_owned"]) == sorted(
        ["refrigerator", "flat_tv", "motorcycle", "bicycle", "smartphone"]
    )
    result_field = households.schema.field("result")
    assert result_field.metadata[b"label_id"].decode() == "Hasil pendataan keluarga"
    assert result_field.metadata[b"item"] == b"205"
    assert b"4=REFUSED (Responden menolak)" in result_field.metadata[b"value_labels"]
    assert households.schema.metadata[b"regsosek.area"] == b"35.09"
    head = next(r for r in members.to_pylist() if r["household_id"] == "K-1")
    assert head["member_number"] == 1 and head["marital_status"] == "WIDOWED"
    assert head["nik_hash"] == nik_hash(builders.family_members()[0]["nik"], KEY)
    assert head["birth_year"] == 1980 and head["birth_month"] == 5
    k1_members = sorted(
        r["member_number"] for r in members.to_pylist() if r["household_id"] == "K-1"
    )
    assert k1_members == [1, 3, 4]  # members_current: the spouse left with revision 2
    for table in (households, members):
        assert not IDENTIFYING & set(table.column_names)

    # CSV, by pandas: same rows and columns, UTF-8 with a header
    csv_households = pd.read_csv(f"{stem}_households.csv", dtype=str, keep_default_na=False)
    csv_members = pd.read_csv(f"{stem}_members.csv", dtype=str, keep_default_na=False)
    assert list(csv_households.columns) == households.column_names
    assert list(csv_members.columns) == members.column_names
    assert len(csv_households) == 3 and len(csv_members) == 7
    by_id = csv_households.set_index("household_id")
    assert by_id.loc["K-2", "result"] == "REFUSED" and by_id.loc["K-2", "tenure"] == ""
    assert by_id.loc["J-1", "pkh"] == "true"
    assert set(by_id.loc["J-1", "assets_owned"].split(" ")) == set(rows["J-1"]["assets_owned"])

    # Stata and SPSS, by pyreadstat: form codes, variable and value labels
    for ext, read in (("dta", pyreadstat.read_dta), ("sav", pyreadstat.read_sav)):
        frame, meta = read(f"{stem}_households.{ext}")
        assert len(frame) == 3, ext
        assert not IDENTIFYING & set(frame.columns)
        coded = frame.set_index("household_id")
        assert coded.loc["K-1", "result"] == 2 and coded.loc["K-2", "result"] == 4
        assert math.isnan(coded.loc["K-2", "floor_material"])
        assert coded.loc["J-1", "floor_material"] == 2  # CERAMIC = 2. Keramik
        assert coded.loc["J-1", "pkh"] == 1 and coded.loc["J-1", "blt_dana_desa"] == 2
        assert meta.column_names_to_labels["result"] == "Hasil pendataan keluarga"
        assert meta.column_names_to_labels["floor_area_m2"] == "Luas lantai (m2)"
        assert meta.variable_value_labels["result"][4] == "Responden menolak"
        assert meta.variable_value_labels["floor_material"][2] == "Keramik"
        assert meta.variable_value_labels["pkh"] == {1: "Ya", 2: "Tidak"}
        people, people_meta = read(f"{stem}_members.{ext}")
        assert len(people) == 7, ext
        assert people_meta.variable_value_labels["marital_status"][4] == "Cerai mati"
        assert people_meta.column_names_to_labels["sex"] == "Jenis kelamin"
        head_row = people[(people.household_id == "K-1") & (people.member_number == 1)]
        assert head_row["marital_status"].tolist() == [4]
        assert head_row["nik_hash"].tolist() == [head["nik_hash"]]

    # The dictionary: every exported variable, each with both labels
    with open(f"{stem}_dictionary.csv", encoding="utf-8", newline="") as handle:
        dictionary = list(csv.DictReader(handle))
    described = {(row["table"], row["variable"]): row for row in dictionary}
    expected = {("households", c) for c in households.column_names}
    expected |= {("members", c) for c in members.column_names}
    assert set(described) == expected
    assert all(row["label_id"] and row["label_en"] for row in dictionary)
    assert (
        described[("members", "sex")]["value_labels"] == "1=MALE (Laki-laki); 2=FEMALE (Perempuan)"
    )
    markdown = Path(f"{stem}_dictionary.md").read_text(encoding="utf-8")
    assert "| `floor_material` | 303 | Jenis lantai terluas |" in markdown


def test_one_district_without_nik_hash_in_english(env: str, tmp_path: Path) -> None:
    result = run(
        "--regency", "35.09", "--district", "35.09.02", "--format", "parquet",
        "--format", "spss", "--no-nik-hash", "--labels", "en", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stem = tmp_path / "regsosek_350902"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"regsosek_350902_{name}"
        for name in (
            "households.parquet", "members.parquet", "households.sav", "members.sav",
            "dictionary.csv", "dictionary.md",
        )
    )  # fmt: skip
    households = pq.read_table(f"{stem}_households.parquet")
    assert sorted(households.column("household_id").to_pylist()) == ["K-1", "K-2"]
    members, meta = pyreadstat.read_sav(f"{stem}_members.sav")
    assert len(members) == 3 and "nik_hash" not in members.columns
    assert meta.column_names_to_labels["sex"] == "sex"
    assert meta.variable_value_labels["sex"] == {1: "MALE", 2: "FEMALE"}


def test_bad_area_is_refused_before_reading(env: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", "--regency", "35.09", "--district", "35.10.01", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "district 35.10.01 is not in regency 35.09" in result.output


def test_embedded_engine_held_by_another_process_says_stop_the_worker(
    env: str, clickhouse: ClickHouseBackend, tmp_path: Path
) -> None:
    """The test process holds the engine, as the worker would: a second process must say so."""
    if clickhouse.kind != "embedded":
        pytest.skip("only the embedded engine is single-process")
    environ = os.environ | {
        "REGSOSEK_CLICKHOUSE_DSN": clickhouse.dsn,
        "REGSOSEK_CLICKHOUSE_DATABASE": env,
        "REGSOSEK_STATE_DIR": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "export", "--regency", "35.09", "--out",
         str(tmp_path / "out")],
        env=environ, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "stop the worker first" in done.stderr
    assert not (tmp_path / "out").exists()
