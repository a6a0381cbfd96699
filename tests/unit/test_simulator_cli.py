"""``regsosek simulate``: options with defaults and env vars, ``--frame-only``, the tokens file."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from schemas.frame import load_frame
from simulator.cli.simulate import command
from simulator.tokens import ensure_tokens
from streams.cli import cli
from streams.gateway.auth import MIN_TOKEN_LENGTH, load_token_file


def run(tmp_path: Path, *args: str) -> str:
    env = {"REGSOSEK_STATE_DIR": str(tmp_path), "REGSOSEK_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = CliRunner().invoke(cli, ["simulate", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_option_shows_its_env_var_and_a_default() -> None:
    for option in command.params:
        if option.name in {"help"}:
            continue
        assert option.envvar == "REGSOSEK_SIMULATE_" + str(option.name).upper(), option.name
        assert getattr(option, "show_default", False), option.name
        assert getattr(option, "show_envvar", False), option.name


def test_frame_only_writes_the_frame_and_tokens_without_kafka(tmp_path: Path) -> None:
    output = run(tmp_path, "--frame-only", "--scale", "0.02", "--districts", "35.09.02,35.09.03")
    assert "2 districts" in output
    frame = load_frame(tmp_path / "frame")
    assert frame.enumerators and frame.targets
    assert {village[:8] for village, _sls in frame.targets} == {"35.09.02", "35.09.03"}
    tokens_file = tmp_path / "frame" / "tokens.json"
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    tokens = load_token_file(tokens_file)  # the gateway accepts the file
    supervisors = {e.supervisor_id for e in frame.enumerators.values()}
    assert sorted(tokens.values()) == sorted(frame.enumerators) + sorted(supervisors)
    assert all(len(token) >= MIN_TOKEN_LENGTH for token in tokens)
    assert not (tmp_path / "simulation").exists()


def test_frame_options_can_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "REGSOSEK_STATE_DIR": str(tmp_path),
        "REGSOSEK_SIMULATE_SCALE": "0.01",
        "REGSOSEK_SIMULATE_DISTRICTS": "35.09.05",
        "REGSOSEK_SIMULATE_FRAME_ONLY": "1",
    }
    result = CliRunner().invoke(cli, ["simulate"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert re.search(r"1 districts, \d+ villages", result.output)


def test_tokens_are_reused_while_they_cover_the_frame(tmp_path: Path) -> None:
    _path, first = ensure_tokens(tmp_path, ["0001", "0002"])
    _path, again = ensure_tokens(tmp_path, ["0002", "0001"])
    assert again == first
    _path, grown = ensure_tokens(tmp_path, ["0001", "0002", "0003"])
    assert set(grown) == {"0001", "0002", "0003"} and grown["0001"] != first["0001"]


def test_a_bad_district_is_a_configuration_error(tmp_path: Path) -> None:
    env = {"REGSOSEK_STATE_DIR": str(tmp_path)}
    result = CliRunner().invoke(
        cli, ["simulate", "--frame-only", "--districts", "35.10.01"], env=env
    )
    assert result.exit_code == 2
    assert "not districts of 35.09" in result.output


@pytest.mark.parametrize("option", ["--error-rate-nik", "--offline-share"])
def test_rates_outside_zero_to_one_are_refused(tmp_path: Path, option: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--frame-only", option, "1.5"])
    assert result.exit_code == 2
