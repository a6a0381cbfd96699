"""Tokens reread from their file: changes picked up, bad files never replace good ones."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from schemas.errors import ConfigurationError
from streams.gateway.auth import hashed_key, new_token
from streams.gateway.reload import Reload, ReloadingTokens, watch

TOKEN_A = new_token()
TOKEN_B = new_token()
ENV_TOKEN = new_token()


def write(path: Path, text: str) -> None:
    """Replace the file as an editor or a config tool would (new inode, new mtime)."""
    fresh = path.with_suffix(".tmp")
    fresh.write_text(text, encoding="utf-8")
    os.replace(fresh, path)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "tokens.yaml"
    write(file, f'"{hashed_key(TOKEN_A)}": "0412"\n')
    return file


def test_unchanged_file_is_not_reread(path: Path) -> None:
    tokens = ReloadingTokens({ENV_TOKEN: "0001"}, path)
    assert tokens.current().enumerator_for(TOKEN_A) == "0412"
    assert tokens.current().enumerator_for(ENV_TOKEN) == "0001"
    assert tokens.refresh() is Reload.UNCHANGED


def test_added_removed_and_revoked_tokens_take_effect(path: Path) -> None:
    tokens = ReloadingTokens({ENV_TOKEN: "0001"}, path)
    write(path, f'"{hashed_key(TOKEN_B)}": "0413"\n')
    assert tokens.refresh() is Reload.RELOADED
    store = tokens.current()
    assert store.enumerator_for(TOKEN_A) is None, "removed from the file"
    assert store.enumerator_for(TOKEN_B) == "0413"
    write(path, f'"{hashed_key(TOKEN_B)}": "0413"\nrevoked: ["{hashed_key(ENV_TOKEN)}"]\n')
    assert tokens.refresh() is Reload.RELOADED
    assert tokens.current().enumerator_for(ENV_TOKEN) is None, "revoked, though in the variable"
    assert len(tokens) == 1


def test_an_edit_in_place_is_seen(path: Path) -> None:
    tokens = ReloadingTokens({}, path)
    with path.open("a", encoding="utf-8") as handle:  # same inode
        handle.write(f'"{hashed_key(TOKEN_B)}": "0413"\n')
    assert tokens.refresh() is Reload.RELOADED
    assert tokens.current().enumerator_for(TOKEN_B) == "0413"


@pytest.mark.parametrize(
    "broken",
    [f'"{hashed_key(TOKEN_B)}": "0413"\n"bad: [', "short-token: '0413'\n", None],
    ids=["half-written", "invalid-entry", "deleted"],
)
def test_a_file_that_fails_to_load_keeps_the_last_good_set(path: Path, broken: str | None) -> None:
    tokens = ReloadingTokens({}, path)
    if broken is None:
        path.unlink()
    else:
        write(path, broken)
    assert tokens.refresh() is Reload.FAILED
    assert tokens.current().enumerator_for(TOKEN_A) == "0412"
    assert tokens.refresh() is Reload.UNCHANGED, "one failure per change, not one per check"
    write(path, f'"{hashed_key(TOKEN_B)}": "0413"\n')
    assert tokens.refresh() is Reload.RELOADED, "the next good version is taken"
    assert tokens.current().enumerator_for(TOKEN_B) == "0413"


def test_a_bad_file_at_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        ReloadingTokens({}, tmp_path / "absent.yaml")


def test_the_watcher_reports_reloads_until_cancelled(path: Path) -> None:
    tokens = ReloadingTokens({}, path)
    reports: list[tuple[Reload, int]] = []

    async def scenario() -> None:
        task = asyncio.create_task(watch(tokens, 0.01, lambda o, n: reports.append((o, n))))
        await asyncio.sleep(0.05)
        write(path, "bad: [")
        await asyncio.sleep(0.05)
        write(path, f'"{hashed_key(TOKEN_A)}": "0412"\n"{hashed_key(TOKEN_B)}": "0413"\n')
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert reports == [(Reload.FAILED, 1), (Reload.RELOADED, 2)]
