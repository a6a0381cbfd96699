"""Progress SQL as text and JSON-safe values."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from schemas.errors import ConfigurationError
from sinks.queries import DIMENSIONS, json_safe, progress_sql


@pytest.mark.parametrize("by", DIMENSIONS)
def test_every_dimension_reads_its_view(by: str) -> None:
    sql, parameters = progress_sql(by, database="regsosek")
    assert sql.startswith(f"SELECT * FROM regsosek.progress_by_{by} ORDER BY")
    assert parameters == {}


@pytest.mark.parametrize("by", DIMENSIONS)
def test_district_filter_is_a_bound_parameter(by: str) -> None:
    sql, parameters = progress_sql(by, "3509010' OR 1=1 --", database="x")
    assert parameters == {"district": "3509010' OR 1=1 --"}
    assert "{district:String}" in sql and "OR 1=1" not in sql
    assert "$db" not in sql


def test_unknown_dimension_and_database_are_refused() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        progress_sql("province")
    with pytest.raises(ConfigurationError, match="identifier"):
        progress_sql("district", database="x; DROP TABLE y")


def test_json_safe_values() -> None:
    naive_utc = dt.datetime(2022, 10, 20, 2, 47, tzinfo=dt.UTC).replace(tzinfo=None)
    assert json_safe(naive_utc) == "2022-10-20T02:47:00+00:00"
    assert json_safe(dt.date(2022, 10, 20)) == "2022-10-20"
    assert json_safe(math.nan) is None
    assert json_safe(("35.09.02", 3)) == ["35.09.02", 3]
    json.dumps([json_safe(v) for v in (naive_utc, None, 1.5, "x", [1])])
