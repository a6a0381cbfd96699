"""The data dictionary of exported files: variable labels, types and value labels.

Statistical offices open exports in Stata or SPSS, where a variable without a
label is a riddle and a coded answer without value labels is a number. The
labels come from the codebook the project already keeps: every enum that codes
a questionnaire item carries, in ``HouseholdSubmission.avsc``, its item, its
Indonesian label with an English gloss (``Item 303, Jenis lantai terluas (main
floor material).``) and ``code=SYMBOL (Indonesian label)`` per answer, with the
numeric ``form_codes``. Columns that are not such an enum (ids, counts, derived
facts) get their labels from :data:`LABELS` below, taken from
``CODEBOOK.md``'s item tables and the tables' column comments.

Pure functions: no engine, no files.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from schemas.catalog import load_schema
from schemas.errors import SchemaError

#: Column -> the enum of HouseholdSubmission that codes it (answers are stored as symbols).
CODED_COLUMNS: Mapping[str, str] = {
    "result": "InterviewResult",
    "tenure": "Tenure",
    "floor_material": "FloorMaterial",
    "wall_material": "WallMaterial",
    "roof_material": "RoofMaterial",
    "drinking_water": "DrinkingWater",
    "lighting": "Lighting",
    "cooking_fuel": "CookingFuel",
    "toilet": "ToiletFacility",
    "faeces_disposal": "FaecesDisposal",
    "presence": "MemberPresence",
    "sex": "Sex",
    "marital_status": "MaritalStatus",
    "relationship": "Relationship",
    "school_participation": "SchoolParticipation",
    "education_level": "EducationLevel",
    "main_industry": "Industry",
    "employment_status": "EmploymentStatus",
    "chronic_illness": "ChronicIllness",
}

#: Column -> (form item, Indonesian label, English label) for columns no enum describes.
LABELS: Mapping[str, tuple[str, str, str]] = {
    "household_id": ("", "ID keluarga", "Household (family) id, stable across revisions"),
    "revision": ("", "Revisi", "Revision of the household record (newest kept)"),
    "submission_id": ("", "ID pengiriman", "Id of the send that carried this revision"),
    "code_system": ("", "Sistem kode wilayah pada formulir", "Region code system of the form"),
    "province_code": ("101", "Kode provinsi", "Province code (region master)"),
    "regency_code": ("102", "Kode kabupaten/kota", "Regency/city code (region master)"),
    "district_code": ("103", "Kode kecamatan", "District code (region master)"),
    "village_code": ("104", "Kode desa/kelurahan", "Village code (region master)"),
    "bps_district_code": ("103", "Kode kecamatan BPS", "BPS 7-digit district code"),
    "form_village_code": ("104", "Kode desa pada formulir", "Village code as on the form"),
    "province_name": ("101", "Nama provinsi", "Province name"),
    "regency_name": ("102", "Nama kabupaten/kota", "Regency/city name"),
    "district_name": ("103", "Nama kecamatan", "District name"),
    "village_name": ("104", "Nama desa/kelurahan", "Village name"),
    "urban_rural": ("", "Klasifikasi perkotaan/perdesaan", "Urban or rural (frame)"),
    "sls_code": ("105", "Kode SLS/Non SLS", "Neighbourhood unit (SLS) code"),
    "sub_sls_code": ("105", "Kode Sub SLS", "Sub-SLS code"),
    "sls_name": ("106", "Nama SLS/Non SLS", "SLS name"),
    "building_number": ("109", "Nomor urut bangunan tempat tinggal", "Building number"),
    "family_number": ("110", "Nomor urut keluarga hasil verifikasi", "Family number"),
    "latitude": ("", "Lintang GPS (dibulatkan 3 desimal)", "GPS latitude, rounded to ~100 m"),
    "longitude": ("", "Bujur GPS (dibulatkan 3 desimal)", "GPS longitude, rounded to ~100 m"),
    "enumerator_id": ("202", "Kode PPL", "Enumerator id (PPL)"),
    "supervisor_id": ("204", "Kode PML", "Supervisor id (PML)"),
    "started_at": ("", "Waktu mulai wawancara (UTC)", "Interview start (UTC)"),
    "finished_at": ("201", "Waktu selesai wawancara (UTC)", "Interview end (UTC)"),
    "duration_seconds": ("", "Lama wawancara (detik)", "Interview duration (seconds)"),
    "member_count": ("112", "Jumlah anggota keluarga", "Number of family members (reported)"),
    "members_listed": ("", "Jumlah anggota tercatat di Blok IV", "Members listed in Blok IV"),
    "household_size": ("", "Jumlah anggota yang tinggal bersama", "Members living in the family"),
    "children_count": ("", "Jumlah anak umur 0-14", "Living-in members aged 0-14"),
    "elderly_count": ("", "Jumlah lansia umur 60+", "Living-in members aged 60+"),
    "disabled_count": ("", "Jumlah anggota penyandang disabilitas", "Members with a disability"),
    "dependency_ratio": ("", "Rasio ketergantungan", "Dependency ratio"),
    "housing_score": ("", "Skor perumahan", "Housing score (derived)"),
    "asset_score": ("", "Skor aset", "Asset score (derived)"),
    "floor_area_m2": ("302", "Luas lantai (m2)", "Floor area (square metres)"),
    "assets_owned": ("502-503", "Aset yang dimiliki", "Assets owned (items 502-503 = Ya)"),
    "cows": ("504a", "Jumlah sapi", "Number of cattle"),
    "buffaloes": ("504b", "Jumlah kerbau", "Number of buffaloes"),
    "horses": ("504c", "Jumlah kuda", "Number of horses"),
    "pigs": ("504d", "Jumlah babi", "Number of pigs"),
    "goats_sheep": ("504e", "Jumlah kambing/domba", "Number of goats and sheep"),
    "bpnt_sembako": ("501a", "Menerima Program Sembako/BPNT", "Received BPNT/Sembako food aid"),
    "pkh": ("501b", "Menerima Program Keluarga Harapan (PKH)", "Received PKH cash transfer"),
    "blt_dana_desa": ("501c", "Menerima BLT Dana Desa", "Received village-fund cash (BLT)"),
    "electricity_subsidy": ("501d", "Menerima Subsidi Listrik", "Received electricity subsidy"),
    "regional_aid": ("501e", "Menerima Bantuan Pemerintah Daerah", "Received regional aid"),
    "fertiliser_subsidy": ("501f", "Menerima Subsidi Pupuk", "Received fertiliser subsidy"),
    "lpg_subsidy": ("501g", "Menerima Bantuan/Subsidi LPG", "Received LPG subsidy"),
    "pbi_jkn": ("431a", "Ada anggota dengan PBI JKN", "A member has PBI JKN health insurance"),
    "warning_codes": ("", "Kode peringatan validasi", "Validation warning codes"),
    "app_version": ("", "Versi aplikasi CAPI", "Field app version"),
    "received_at": ("", "Waktu diterima Kafka (UTC)", "Received by Kafka (UTC)"),
    "processed_at": ("", "Waktu divalidasi (UTC)", "Validated by the processor (UTC)"),
    "written_at": ("", "Waktu ditulis ke tabel (UTC)", "Written to the table (UTC)"),
    "ingest_lag_ms": (
        "",
        "Jeda selesai-divalidasi (milidetik)",
        "Interview end to validation (ms)",
    ),
    "member_number": ("401", "Nomor urut anggota keluarga", "Member line number"),
    "age": ("407", "Umur (tahun)", "Age in completed years"),
    "birth_year": ("406", "Tahun lahir", "Year of birth"),
    "birth_month": ("406", "Bulan lahir", "Month of birth"),
    "worked_last_week": ("416a", "Bekerja seminggu yang lalu", "Worked during the last week"),
    "difficulty_domains": ("428a-i", "Jenis kesulitan berat", "Domains of severe difficulty"),
    "disabled": ("428a-i", "Penyandang disabilitas", "Disability (Washington Group cut-off)"),
    "health_insurance": ("431a", "Jaminan kesehatan (jumlah kode)", "Health insurance (code sum)"),
    "nik_hash": ("403", "NIK tersamar (HMAC-SHA256)", "NIK pseudonym (HMAC-SHA256, hex)"),
    "rules_version": ("", "Versi aturan validasi", "Version of the validation rules"),
}

#: Yes/no items as the form codes them (Regsosek: 1 Ya, 2 Tidak).
YES, NO = 1, 2
KINDS = ("string", "integer", "float", "boolean", "datetime", "list", "coded")


@dataclass(frozen=True)
class ValueLabel:
    """One answer: its form code, the symbol stored in the tables, its labels."""

    code: int
    symbol: str
    label_id: str
    label_en: str


@dataclass(frozen=True)
class Variable:
    """One exported column as the dictionary describes it."""

    name: str
    kind: str
    nullable: bool
    item: str
    label_id: str
    label_en: str
    values: tuple[ValueLabel, ...] = ()

    def code_of(self) -> dict[str, int]:
        """Stored symbol -> form code (for files that need numbers)."""
        return {value.symbol: value.code for value in self.values}


#: Booleans as the form's yes/no answers.
YES_NO = (ValueLabel(YES, "true", "Ya", "Yes"), ValueLabel(NO, "false", "Tidak", "No"))


def kind_of(clickhouse_type: str) -> tuple[str, bool]:
    """(kind, nullable) of a ClickHouse column type, wrappers stripped."""
    inner, nullable = _unwrap(clickhouse_type)
    if inner.startswith("Array("):
        return "list", nullable
    if inner == "Bool":
        return "boolean", nullable
    if inner.startswith(("Int", "UInt")):
        return "integer", nullable
    if inner.startswith(("Float", "Decimal")):
        return "float", nullable
    if inner.startswith("DateTime") or inner == "Date":
        return "datetime", nullable
    return "string", nullable


def _unwrap(clickhouse_type: str) -> tuple[str, bool]:
    nullable = False
    text = clickhouse_type.strip()
    while True:
        for wrapper in ("LowCardinality(", "Nullable("):
            if text.startswith(wrapper) and text.endswith(")"):
                nullable = nullable or wrapper == "Nullable("
                text = text[len(wrapper) : -1]
                break
        else:
            return text, nullable


def variable(name: str, clickhouse_type: str, comment: str = "") -> Variable:
    """The dictionary entry of one column; a column nobody labelled keeps its comment.

    An unlabelled column is exported (the analyst table shows it) but named
    in :func:`unlabelled`, which the tests keep empty.
    """
    kind, nullable = kind_of(clickhouse_type)
    if name in CODED_COLUMNS:
        item, label_id, label_en, values = enum_labels(CODED_COLUMNS[name])
        return Variable(name, "coded", nullable, item, label_id, label_en, values)
    item, label_id, label_en = LABELS.get(name, ("", "", comment or name))
    values = YES_NO if kind == "boolean" else ()
    return Variable(name, kind, nullable, item, label_id, label_en, values)


def unlabelled(variables: Iterable[Variable]) -> list[str]:
    """Columns without an Indonesian label: a new column needs its labels written here."""
    return [v.name for v in variables if not v.label_id]


@cache
def enum_labels(enum_name: str) -> tuple[str, str, str, tuple[ValueLabel, ...]]:
    """(item, Indonesian label, English label, answers) of a form-coded enum of the schema.

    Parsed from the enum's doc ``Item 303, Jenis lantai terluas (main floor
    material). Form code = symbol: 1=MARBLE_GRANITE (Marmer/granit); ...``;
    ``regsosek schemas check`` already holds every enum to that layout.
    """
    enum = _enum(load_schema("HouseholdSubmission"), enum_name)
    if enum is None or "form_codes" not in enum:
        raise SchemaError(f"HouseholdSubmission has no enum {enum_name!r} with form codes")
    doc = str(enum["doc"])
    head, _, answers = doc.partition("Form code = symbol:")
    match = re.match(r"Items? ([0-9a-z-]+), (.+)", head.strip())
    if match is None:
        raise SchemaError(f"enum {enum_name}: doc does not start with 'Item N, label (gloss).'")
    label_id, gloss = _label_and_gloss(match.group(2).rstrip(". "))
    values = []
    for symbol, code in zip(enum["symbols"], enum["form_codes"], strict=True):
        found = re.search(rf"(?<![0-9]){code}={re.escape(symbol)} \(", answers)
        if found is None:
            raise SchemaError(f"enum {enum_name}: doc has no '{code}={symbol} (label)'")
        values.append(ValueLabel(int(code), symbol, _parenthesised(answers, found.end()), symbol))
    return match.group(1), label_id, gloss or label_id, tuple(values)


def _label_and_gloss(text: str) -> tuple[str, str]:
    """``Jenis lantai terluas (main floor material)`` -> both halves."""
    if not text.endswith(")") or " (" not in text:
        return text, ""
    start = text.index(" (")
    return text[:start], text[start + 2 : -1]


def _parenthesised(text: str, start: int) -> str:
    """The text from ``start`` to the ``)`` that closes the ``(`` just before it."""
    depth = 1
    for index in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise SchemaError(f"unbalanced parentheses in enum doc: {text[start - 40 : start + 40]!r}")


def _enum(node: Any, enum_name: str) -> dict[str, Any] | None:
    if isinstance(node, list):
        return next((hit for b in node if (hit := _enum(b, enum_name)) is not None), None)
    if not isinstance(node, dict):
        return None
    if node.get("type") == "enum" and str(node.get("name", "")).split(".")[-1] == enum_name:
        return node
    children = [node.get("type"), node.get("items"), node.get("values"), *node.get("fields", [])]
    return next((hit for c in children if (hit := _enum(c, enum_name)) is not None), None)


# --- rendering ----------------------------------------------------------------------------

DICTIONARY_HEADER = (
    "table",
    "variable",
    "item",
    "label_id",
    "label_en",
    "type",
    "nullable",
    "value_labels",
)


def value_labels_text(variable: Variable) -> str:
    """``1=COMPLETE (Terisi lengkap); 2=...``: every code, symbol and label on one line."""
    return "; ".join(f"{v.code}={v.symbol} ({v.label_id})" for v in variable.values)


def dictionary_csv(tables: Mapping[str, Sequence[Variable]]) -> str:
    """The data dictionary as CSV (UTF-8 text, header first), one row per table and variable."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DICTIONARY_HEADER)
    for table, variables in tables.items():
        for v in variables:
            flag, labels = str(v.nullable).lower(), value_labels_text(v)
            writer.writerow((table, v.name, v.item, v.label_id, v.label_en, v.kind, flag, labels))
    return out.getvalue()


def dictionary_markdown(tables: Mapping[str, Sequence[Variable]], title: str) -> str:
    """The data dictionary for people: one table per file, value labels listed under it."""
    lines = [f"# {title}", ""]
    lines += [
        "Coded answers: CSV and Parquet carry the symbol (e.g. `COMPLETE`), Stata and SPSS",
        "the form code (e.g. `1`) with value labels. Yes/no: `true`/`false` in CSV and",
        "Parquet, 1 = Ya, 2 = Tidak in Stata and SPSS. Times are UTC.",
        "",
    ]
    for table, variables in tables.items():
        lines += [f"## {table}", "", "| variable | item | label (id) | label (en) | type |"]
        lines += ["|---|---|---|---|---|"]
        for v in variables:
            kind = v.kind + (", nullable" if v.nullable else "")
            lines.append(f"| `{v.name}` | {v.item} | {v.label_id} | {v.label_en} | {kind} |")
        lines.append("")
        for v in variables:
            if v.kind == "coded":
                lines += [f"**{v.name}**: " + value_labels_text(v), ""]
    return "\n".join(lines)
