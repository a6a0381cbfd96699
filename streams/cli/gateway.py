"""``regsosek gateway``: serve the HTTP gateway; ``regsosek gateway token new`` makes tokens."""

from __future__ import annotations

import click

from schemas.errors import ConfigurationError
from streams.gateway import app as gateway_app
from streams.gateway.auth import hashed_key, new_token
from streams.settings import Settings


@click.group("gateway", invoke_without_command=True)
@click.pass_context
def command(ctx: click.Context) -> None:
    """Accept household submissions over HTTP and publish them to Kafka.

    Without a subcommand, serves on REGSOSEK_GATEWAY_HOST:REGSOSEK_GATEWAY_PORT.
    Enumerators' bearer tokens come from REGSOSEK_GATEWAY_TOKENS and/or
    REGSOSEK_GATEWAY_TOKENS_FILE (reread when it changes); without any, every
    request would be refused, so the command stops instead. Starts even when
    Kafka is down (GET /readyz says so and submissions get 503 until it is back).
    """
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    tokens = gateway_app.token_source_from_settings(settings)  # fail before binding
    if not len(tokens):
        raise ConfigurationError(
            "no gateway tokens: set REGSOSEK_GATEWAY_TOKENS='token:ENUMERATOR_ID,...' "
            "or REGSOSEK_GATEWAY_TOKENS_FILE (make tokens with `regsosek gateway token new`)"
        )
    click.echo(
        f"gateway on http://{settings.gateway_host}:{settings.gateway_port} "
        f"({len(tokens)} token(s), Kafka at {settings.kafka_bootstrap})"
    )
    gateway_app.run(settings, tokens)


@command.group("token")
def token() -> None:
    """Bearer tokens of enumerators."""


@token.command("new")
@click.argument("enumerator_id")
def new(enumerator_id: str) -> None:
    """Make a random token for ENUMERATOR_ID; print it once, and the tokens-file line.

    Only the token's SHA-256 digest goes in the file, so the file is no key to
    the gateway; the token itself is shown here only and goes to the enumerator's
    app. The gateway picks the line up within REGSOSEK_GATEWAY_TOKENS_RELOAD_SECONDS.
    To revoke it, delete the line (or list the digest under `revoked:`).
    """
    enumerator = enumerator_id.strip()
    if not enumerator:
        raise click.BadParameter("empty enumerator id", param_hint="ENUMERATOR_ID")
    secret = new_token()
    click.echo(f"token for enumerator {enumerator} (shown once, give it to their app only):")
    click.echo(secret)
    click.echo("line for REGSOSEK_GATEWAY_TOKENS_FILE (YAML; in a JSON file add a comma):")
    click.echo(f'"{hashed_key(secret)}": "{enumerator}"')
