"""The enumeration frame files: round trip, lookups and format errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.frame import (
    Assignment,
    Enumerator,
    FrameFileError,
    Target,
    load_frame,
    write_frame,
)


def test_round_trip_and_lookups(tmp_path: Path) -> None:
    write_frame(
        tmp_path,
        [Enumerator("0412", "041", "35.09"), Enumerator("0413", "041", "35.09")],
        [
            Assignment("0412", "35.09.02.2001", "0003"),
            Assignment("0412", "35.09.02.2001", "0004"),
            Assignment("0413", "35.09.02.2002", "0001"),
        ],
        [Target("35.09.02.2001", "0003", 41), Target("35.09.02.2001", "0004", 38)],
    )
    frame = load_frame(tmp_path)
    assert frame.supervisor_of("0412") == "041"
    assert frame.supervisor_of("9999") is None
    assert frame.is_assigned("0412", "35.09.02.2001", "0004")
    assert not frame.is_assigned("0412", "35.09.02.2002", "0001")
    assert frame.villages_of("0413") == {"35.09.02.2002"}
    assert frame.targets[("35.09.02.2001", "0003")] == 41


def test_missing_directory_is_an_empty_frame(tmp_path: Path) -> None:
    assert load_frame(tmp_path / "nowhere").empty


@pytest.mark.parametrize(
    ("targets", "problem"),
    [
        ("village,sls,n\n", "header must start with"),
        ("village_code,sls_code,expected_households\n35.09.02.2001,0003,many\n", "line 2"),
        ("village_code,sls_code,expected_households\n35.09.02.2001,,4\n", "line 2"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, targets: str, problem: str) -> None:
    write_frame(tmp_path, [Enumerator("0412", "041", "35.09")], [], [])
    (tmp_path / "targets.csv").write_text(targets)
    with pytest.raises(FrameFileError, match=problem):
        load_frame(tmp_path)
