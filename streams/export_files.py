"""Export file writers: Parquet, CSV, Stata and SPSS, fed one block of rows at a time.

Every writer takes Arrow record batches in the tables' own representation
(answers as symbols, yes/no as booleans) and writes under a ``.partial`` name,
renamed only when the file is complete, so an interrupted export never leaves
a file that looks whole.

Parquet and CSV stream: a block is written and forgotten. Stata and SPSS
cannot (pyreadstat writes a whole data frame), so those writers keep the
table's numerically coded frame, the compact form the file holds anyway, and
write it at the end; ``--district`` keeps that frame small.

Stata and SPSS need numbers for value labels: a coded answer becomes its form
code (``COMPLETE`` -> 1), a yes/no becomes 1 Ya / 2 Tidak as on the form, a
list its items joined by spaces, a time naive UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyreadstat

from schemas.errors import RegsosekError
from sinks.export_dictionary import NO, YES, Variable, value_labels_text

#: Format name -> file extension.
FORMATS: Mapping[str, str] = {"parquet": "parquet", "csv": "csv", "stata": "dta", "spss": "sav"}
#: Stata's limits (pyreadstat writes dta version 15): names and variable labels.
STATA_NAME_MAX, STATA_LABEL_MAX = 32, 80
LIST_SEPARATOR = " "

_ARROW_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "coded": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": pa.timestamp("ms", tz="UTC"),
    "list": pa.list_(pa.string()),
}


class ExportError(RegsosekError):
    """An export that cannot be written as asked (a value outside the codebook, a bad name)."""


class TableWriter(Protocol):
    """One output file of one table."""

    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> Path: ...

    def abort(self) -> None: ...


def arrow_schema(variables: Sequence[Variable], metadata: Mapping[str, str]) -> pa.Schema:
    """The Arrow schema of a table, each field carrying its labels as field metadata."""
    fields = [
        pa.field(v.name, _ARROW_TYPES[v.kind], nullable=True, metadata=_field_metadata(v))
        for v in variables
    ]
    dictionary = json.dumps([_describe(v) for v in variables], ensure_ascii=False)
    return pa.schema(fields, metadata={**metadata, "regsosek.dictionary": dictionary})


def _field_metadata(v: Variable) -> dict[str, str]:
    return {
        "label_id": v.label_id,
        "label_en": v.label_en,
        "item": v.item,
        "value_labels": value_labels_text(v),
    }


def _describe(v: Variable) -> dict[str, Any]:
    return {
        "name": v.name,
        "kind": v.kind,
        "item": v.item,
        "label_id": v.label_id,
        "label_en": v.label_en,
        "values": [
            {"code": x.code, "symbol": x.symbol, "label_id": x.label_id, "label_en": x.label_en}
            for x in v.values
        ],
    }


def record_batch(schema: pa.Schema, columns: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """One block of rows (a sequence per column, as the engine streams them) as Arrow."""
    arrays = [
        pa.array(list(values), type=field.type)
        for field, values in zip(schema, columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _PartialFile:
    """A file written under ``<name>.partial`` and renamed when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")

    def finish(self) -> Path:
        self.partial.replace(self.path)
        return self.path

    def discard(self) -> None:
        self.partial.unlink(missing_ok=True)


class ParquetTableWriter(_PartialFile):
    """Parquet through pyarrow: one row group per block, labels in the schema metadata."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path)
        self._writer = pq.ParquetWriter(self.partial, schema, compression="zstd")

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> Path:
        self._writer.close()
        return self.finish()

    def abort(self) -> None:
        self._writer.close()
        self.discard()


class CsvTableWriter(_PartialFile):
    """UTF-8 CSV with a header; lists joined by spaces, NULL as an empty field."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path)
        self._schema = pa.schema(
            [pa.field(f.name, pa.string()) if _is_list(f) else f for f in schema]
        )
        self._writer = pacsv.CSVWriter(self.partial, self._schema)

    def write(self, batch: pa.RecordBatch) -> None:
        arrays = [
            pc.binary_join(column, LIST_SEPARATOR) if _is_list(field) else column
            for field, column in zip(batch.schema, batch.columns, strict=True)
        ]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self._schema))

    def close(self) -> Path:
        self._writer.close()
        return self.finish()

    def abort(self) -> None:
        self._writer.close()
        self.discard()


def _is_list(field: pa.Field) -> bool:
    return bool(pa.types.is_list(field.type))


def coded_frame(variables: Sequence[Variable], batch: pa.RecordBatch) -> pd.DataFrame:
    """A block as Stata and SPSS hold it: form codes, 1/2 for yes/no, text, naive UTC times."""
    data: dict[str, pd.Series] = {}
    for v, column in zip(variables, batch.columns, strict=True):
        values = column.to_pylist()
        if v.kind == "coded":
            data[v.name] = pd.Series(_codes(v, values), dtype="float64")
        elif v.kind == "boolean":
            codes = [None if x is None else (YES if x else NO) for x in values]
            data[v.name] = pd.Series(codes, dtype="float64")
        elif v.kind in ("integer", "float"):
            data[v.name] = pd.Series(values, dtype="float64")
        elif v.kind == "datetime":
            naive = [None if x is None else x.replace(tzinfo=None) for x in values]
            data[v.name] = pd.Series(naive, dtype="datetime64[ms]")
        elif v.kind == "list":
            data[v.name] = pd.Series([LIST_SEPARATOR.join(x or ()) for x in values], dtype=object)
        else:
            data[v.name] = pd.Series(["" if x is None else str(x) for x in values], dtype=object)
    return pd.DataFrame(data)


def _codes(v: Variable, symbols: list[Any]) -> list[float | None]:
    codes = v.code_of()
    unknown = sorted({str(s) for s in symbols if s is not None and s not in codes})
    if unknown:
        raise ExportError(f"{v.name}: value(s) {', '.join(unknown)} are not in the codebook")
    return [None if s is None else float(codes[s]) for s in symbols]


class LabelledTableWriter(_PartialFile):
    """Stata (.dta) or SPSS (.sav) through pyreadstat, with variable and value labels."""

    def __init__(
        self, path: Path, variables: Sequence[Variable], *, stata: bool, language: str
    ) -> None:
        super().__init__(path)
        self._variables = list(variables)
        self._stata = stata
        self._language = language
        self._frames: list[pd.DataFrame] = []
        if stata:
            too_long = [v.name for v in variables if len(v.name) > STATA_NAME_MAX]
            if too_long:
                raise ExportError(f"Stata names are at most 32 characters: {too_long}")

    def write(self, batch: pa.RecordBatch) -> None:
        self._frames.append(coded_frame(self._variables, batch))

    def close(self) -> Path:
        empty = pa.RecordBatch.from_pylist([], schema=arrow_schema(self._variables, {}))
        frame = pd.concat(self._frames or [coded_frame(self._variables, empty)], ignore_index=True)
        self._frames = []
        labels: dict[str, str | None] = {v.name: self._label(v) for v in self._variables}
        value_labels = {v.name: self._value_labels(v) for v in self._variables if v.values}
        if self._stata:
            pyreadstat.write_dta(
                frame, self.partial, column_labels=labels, variable_value_labels=value_labels
            )
        else:
            pyreadstat.write_sav(
                frame, self.partial, column_labels=labels, variable_value_labels=value_labels
            )
        return self.finish()

    def abort(self) -> None:
        self._frames = []
        self.discard()

    def _label(self, v: Variable) -> str:
        label = v.label_en if self._language == "en" else (v.label_id or v.label_en)
        return label[:STATA_LABEL_MAX] if self._stata else label

    def _value_labels(self, v: Variable) -> dict[int | float, str]:
        return {x.code: (x.label_en if self._language == "en" else x.label_id) for x in v.values}


def open_writer(
    fmt: str, path: Path, variables: Sequence[Variable], schema: pa.Schema, language: str
) -> TableWriter:
    """The writer of one format."""
    if fmt == "parquet":
        return ParquetTableWriter(path, schema)
    if fmt == "csv":
        return CsvTableWriter(path, schema)
    if fmt in ("stata", "spss"):
        return LabelledTableWriter(path, variables, stata=fmt == "stata", language=language)
    raise ExportError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
