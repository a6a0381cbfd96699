"""The ``regsosek`` command: one click group, one module per command.

Commands of tools outside the platform (the simulator's ``simulate`` and
``demo``) join through the ``regsosek.commands`` entry points declared in
pyproject.toml, so ``streams`` never imports them and the layer rules hold.

Every option is backed by a ``REGSOSEK_*`` variable through :class:`Settings`,
so the CLI, the worker and the tests read configuration the same way. Errors
derived from :class:`RegsosekError` end with one line and their own exit code,
never a stack trace.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click
from pydantic import ValidationError

from schemas.errors import ConfigurationError, RegsosekError
from streams.secret_files import private_directory
from streams.settings import Settings

#: Entry-point group through which installed tools add commands (name = command name).
COMMAND_ENTRY_POINTS = "regsosek.commands"
#: Command modules, each exposing ``command`` (a click command or group).
COMMAND_MODULES = (
    "streams.cli.config",
    "streams.cli.kafka",
    "streams.cli.db",
    "streams.cli.progress",
    "streams.cli.topics",
    "streams.cli.gateway",
    "streams.cli.master",
    "streams.cli.worker",
    "streams.cli.schemas",
    "streams.cli.rules",
    "streams.cli.erase",
    "streams.cli.replay",
    "streams.cli.rejections",
    "streams.cli.export",
    "streams.cli.k8s",
)


class _Group(click.Group):
    """Turns project errors into one clear line and a specific exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RegsosekError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Regsosek streaming ingestion: Kafka -> Faust -> ClickHouse.

    Configuration comes from REGSOSEK_* environment variables; see `regsosek config`.
    """
    settings = read_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:  # before any command writes there: everything below it is then private
        private_directory(settings.state_dir)
    except OSError as exc:  # not ours (a mounted volume): the command says what it cannot do
        logging.getLogger(__name__).warning(
            "state directory %s not made private: %s", settings.state_dir, exc
        )
    if settings.log_level.upper() != "DEBUG":
        # kafka-python logs every refused connection at ERROR; our commands say it once.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    ctx.obj = settings


def read_settings() -> Settings:
    """The settings, or one line per problem; values are not echoed (they may be secrets)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{Settings.env_name(str(error['loc'][0])) + ': ' if error['loc'] else ''}"
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(f"bad settings: {problems}") from None


def plug_in(group: click.Group, declared: Iterable[EntryPoint]) -> None:
    """Add the commands other installed packages declare, so the wiring need not import them.

    A declared object that is no click command, or a name the group already has,
    is a packaging mistake: it fails here rather than hide or replace a command.
    """
    for entry_point in declared:
        command = entry_point.load()
        if not isinstance(command, click.Command):
            raise TypeError(f"entry point {entry_point.value} is not a click command")
        if entry_point.name in group.commands:
            raise ValueError(f"entry point {entry_point.value} would replace `{entry_point.name}`")
        group.add_command(command, entry_point.name)


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_name).command)
plug_in(cli, entry_points(group=COMMAND_ENTRY_POINTS))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="regsosek")
