"""The export's pure parts: the dictionary from the codebook, the SQL, the coded frames."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pyarrow as pa
import pytest

from schemas.catalog import form_codes
from schemas.regions import load_regions
from sinks.export_dictionary import (
    CODED_COLUMNS,
    Variable,
    dictionary_csv,
    dictionary_markdown,
    enum_labels,
    kind_of,
    unlabelled,
    variable,
)
from sinks.exports import EXPORT_TABLES, select_sql
from sinks.privacy import ANALYST_TABLES
from sinks.rows import household_blocks
from streams.export import area_for, file_stem
from streams.export_files import ExportError, arrow_schema, coded_frame, record_batch
from tests import builders


@pytest.mark.parametrize("column", sorted(CODED_COLUMNS))
def test_value_labels_are_the_schemas_form_codes(column: str) -> None:
    item, label_id, label_en, values = enum_labels(CODED_COLUMNS[column])
    assert {v.symbol: v.code for v in values} == form_codes(CODED_COLUMNS[column])
    assert item and label_id and label_en and all(v.label_id for v in values)
    assert "(" not in label_id  # the English gloss was split off


def test_labels_with_parentheses_and_trailing_notes_are_cut_where_they_close() -> None:
    _, label_id, label_en, values = enum_labels("InterviewResult")
    assert (label_id, label_en) == ("Hasil pendataan keluarga", "interview result")
    assert values[-1].label_id == "Keluarga pindah/bangunan sensus sudah tidak ada"
    illness = {v.symbol: v.label_id for v in enum_labels("ChronicIllness")[3]}
    assert illness["HYPERTENSION"] == "Hipertensi (darah tinggi)"


def test_every_column_the_sink_writes_has_both_labels() -> None:
    """A new column fails here until someone writes its labels (sinks/export_dictionary.py)."""
    blocks = household_blocks(
        [builders.validated_submission()],
        nik_key=b"k",
        written_at=dt.datetime(2022, 10, 20, tzinfo=dt.UTC),
        regions=load_regions(),
    )
    for block in blocks:
        described = [variable(name, "String") for name in block.columns]
        assert unlabelled(described) == [], block.table


def test_kinds_of_clickhouse_types() -> None:
    assert kind_of("LowCardinality(Nullable(String))") == ("string", True)
    assert kind_of("Nullable(Int32)") == ("integer", True)
    assert kind_of("UInt32") == ("integer", False)
    assert kind_of("Nullable(Float64)") == ("float", True)
    assert kind_of("Nullable(Bool)") == ("boolean", True)
    assert kind_of("DateTime64(3, 'UTC')") == ("datetime", False)
    assert kind_of("Array(LowCardinality(String))") == ("list", False)


def test_exports_read_the_analyst_tables_with_the_roles_area_condition() -> None:
    assert {t.source for t in EXPORT_TABLES} <= set(ANALYST_TABLES)
    households, members = EXPORT_TABLES
    sql = select_sql(households, "regsosek", "35.09", ["household_id", "result"])
    assert "FROM regsosek.households FINAL WHERE startsWith(district_code, '35.09')" in sql
    assert sql.endswith("ORDER BY household_id")
    sql = select_sql(members, "regsosek", "35.09.02", [], count=True)
    assert sql == (
        "SELECT count() FROM regsosek.members_current WHERE startsWith(district_code, '35.09.02')"
    )
    with pytest.raises(ValueError, match="region master code"):
        select_sql(households, "regsosek", "35.09' OR 1", ["household_id"])


@pytest.mark.parametrize(
    ("regency", "district", "problem"),
    [
        ("3509", None, "--regency"),
        ("35.09", "35.09", "--district"),
        ("35.09", "35.10.01", "not in regency"),
    ],
)
def test_bad_areas_are_refused(regency: str, district: str | None, problem: str) -> None:
    with pytest.raises(ExportError, match=problem):
        area_for(regency, district)


def test_area_and_file_names() -> None:
    assert area_for("35.09", None) == "35.09"
    assert area_for("35.09", "35.09.02") == "35.09.02"
    assert file_stem("35.09.02") == "regsosek_350902"


def _variables() -> list[Variable]:
    return [
        variable("household_id", "String"),
        variable("result", "LowCardinality(String)"),
        variable("pkh", "Nullable(Bool)"),
        variable("floor_area_m2", "Nullable(Int32)"),
        variable("assets_owned", "Array(LowCardinality(String))"),
        variable("finished_at", "DateTime64(3, 'UTC')"),
    ]


def test_coded_frame_gives_form_codes_yes_no_and_text() -> None:
    variables = _variables()
    schema = arrow_schema(variables, {})
    finished = dt.datetime(2022, 10, 20, 2, 47, tzinfo=dt.UTC)
    batch = record_batch(
        schema,
        [
            ["a", "b"],
            ["REFUSED", None],
            [True, None],
            [72, None],
            [["car", "land"], []],
            [finished, finished],
        ],
    )
    frame = coded_frame(variables, batch)
    assert frame["result"].tolist()[0] == 4 and frame["result"].isna().tolist() == [False, True]
    assert frame["pkh"].tolist()[0] == 1 and frame["pkh"].isna().tolist()[1]
    assert frame["floor_area_m2"].tolist()[0] == 72
    assert frame["assets_owned"].tolist() == ["car land", ""]
    assert frame["finished_at"].tolist()[0] == finished.replace(tzinfo=None)
    field = schema.field("result")
    assert field.metadata[b"label_id"] == b"Hasil pendataan keluarga"


def test_a_value_outside_the_codebook_is_an_error_not_a_silent_missing() -> None:
    variables = [variable("result", "String")]
    batch = pa.RecordBatch.from_pydict(
        {"result": ["POSTPONED"]}, schema=arrow_schema(variables, {})
    )
    with pytest.raises(ExportError, match="POSTPONED"):
        coded_frame(variables, batch)


def test_dictionary_csv_and_markdown() -> None:
    tables = {"households": _variables()}
    rows = list(csv.DictReader(io.StringIO(dictionary_csv(tables))))
    assert [r["variable"] for r in rows] == [v.name for v in _variables()]
    result = rows[1]
    assert (result["item"], result["label_id"], result["type"]) == (
        "205",
        "Hasil pendataan keluarga",
        "coded",
    )
    assert result["value_labels"].startswith("1=COMPLETE (Terisi lengkap); 2=INCOMPLETE")
    assert rows[2]["value_labels"] == "1=true (Ya); 2=false (Tidak)"
    markdown = dictionary_markdown(tables, "Dictionary")
    assert "| `result` | 205 | Hasil pendataan keluarga | interview result | coded |" in markdown
    assert "**result**: 1=COMPLETE (Terisi lengkap)" in markdown
