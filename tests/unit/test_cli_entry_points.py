"""Commands from outside the platform join ``regsosek`` through entry points, not imports."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click
import pytest

from streams.cli import COMMAND_ENTRY_POINTS, cli, plug_in

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared: dict[str, str] = pyproject["project"]["entry-points"][COMMAND_ENTRY_POINTS]
    return declared


def test_the_installed_entry_points_are_the_declared_ones() -> None:
    """A stale install (pyproject changed, package not reinstalled) is named here."""
    installed = {ep.name: ep.value for ep in entry_points(group=COMMAND_ENTRY_POINTS)}
    assert installed == _declared(), "reinstall: .venv/bin/python -m pip install -e '.[dev]'"


def test_the_simulator_commands_are_in_the_group() -> None:
    assert {"simulate", "demo"} <= set(_declared())
    for name in _declared():
        assert cli.commands[name].name == name
        assert cli.commands[name].callback is not None
        assert cli.commands[name].callback.__module__.startswith("simulator.")


def _entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=COMMAND_ENTRY_POINTS)


def test_plug_in_adds_under_the_declared_name() -> None:
    group = click.Group("g")
    plug_in(group, [_entry_point("fieldwork", "simulator.cli.simulate:command")])
    assert list(group.commands) == ["fieldwork"]


def test_plug_in_refuses_what_is_no_command() -> None:
    with pytest.raises(TypeError, match="is not a click command"):
        plug_in(click.Group("g"), [_entry_point("runner", "click.testing:CliRunner")])


def test_plug_in_refuses_to_replace_a_command() -> None:
    group = click.Group("g", commands=[click.Command("worker")])
    with pytest.raises(ValueError, match="would replace `worker`"):
        plug_in(group, [_entry_point("worker", "simulator.cli.demo:command")])
    assert group.commands["worker"].callback is None
