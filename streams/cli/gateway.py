"""``regsosek gateway``: serve the HTTP gateway for field apps (POST /v1/submissions)."""

from __future__ import annotations

import click

from schemas.errors import ConfigurationError
from streams.gateway import app as gateway_app
from streams.gateway.auth import token_store_from_settings
from streams.settings import Settings


@click.command("gateway")
@click.pass_obj
def command(settings: Settings) -> None:
    """Accept household submissions over HTTP and publish them to Kafka.

    Listens on REGSOSEK_GATEWAY_HOST:REGSOSEK_GATEWAY_PORT. Enumerators'
    bearer tokens come from REGSOSEK_GATEWAY_TOKENS and/or
    REGSOSEK_GATEWAY_TOKENS_FILE; without any, every request would be
    refused, so the command stops instead. Starts even when Kafka is down
    (GET /readyz says so and submissions get 503 until it is back).
    """
    tokens = token_store_from_settings(settings)  # fail on a bad token file before binding
    if not len(tokens):
        raise ConfigurationError(
            "no gateway tokens: set REGSOSEK_GATEWAY_TOKENS='token:ENUMERATOR_ID,...' "
            "or REGSOSEK_GATEWAY_TOKENS_FILE"
        )
    click.echo(
        f"gateway on http://{settings.gateway_host}:{settings.gateway_port} "
        f"({len(tokens)} token(s), Kafka at {settings.kafka_bootstrap})"
    )
    gateway_app.run(settings, tokens)
