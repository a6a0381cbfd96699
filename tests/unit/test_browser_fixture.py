"""tests/browser.py's decisions that need no browser: which Chromium, and when to refuse.

The browser itself is exercised in tests/integration/test_browser_smoke.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.browser import INSTALL_COMMAND, _LoopParking, chromium_path


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_no_chromium_fails_with_the_command_that_installs_it(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception) as failure:
        chromium_path({"PATH": str(tmp_path)})
    assert "make setup" in str(failure.value)
    assert INSTALL_COMMAND in str(failure.value)


def test_chromium_on_path_is_used(tmp_path: Path) -> None:
    found = _executable(tmp_path / "chromium")
    assert chromium_path({"PATH": str(tmp_path)}) == str(found)


def test_regsosek_chromium_wins_over_path(tmp_path: Path) -> None:
    _executable(tmp_path / "chromium")
    named = _executable(tmp_path / "chrome-elsewhere")
    env = {"PATH": str(tmp_path), "REGSOSEK_CHROMIUM": str(named)}
    assert chromium_path(env) == str(named)


@pytest.mark.parametrize("kind", ["missing", "directory", "not executable"])
def test_a_wrong_regsosek_chromium_fails_rather_than_falling_back(
    tmp_path: Path, kind: str
) -> None:
    _executable(tmp_path / "chromium")
    named = tmp_path / "named"
    if kind == "directory":
        named.mkdir()
    elif kind == "not executable":
        named.write_text("")
    with pytest.raises(pytest.fail.Exception, match="REGSOSEK_CHROMIUM"):
        chromium_path({"PATH": str(tmp_path), "REGSOSEK_CHROMIUM": str(named)})


def test_the_sync_fixtures_refuse_to_start_inside_a_running_loop() -> None:
    async def inside() -> str:
        with pytest.raises(pytest.fail.Exception) as failure:
            _LoopParking().resume()
        return str(failure.value)

    assert "sync test" in asyncio.run(inside())


def test_parking_unmarks_and_resume_restores_the_loop() -> None:
    loop = asyncio.new_event_loop()
    parking = _LoopParking()
    try:
        asyncio._set_running_loop(loop)  # what Playwright's sync API leaves behind
        parking.park()
        assert asyncio._get_running_loop() is None
        parking.resume()
        assert asyncio._get_running_loop() is loop
    finally:
        asyncio._set_running_loop(None)
        loop.close()
