"""The Kafka login of the benchmark's baselines, from the same ``REGSOSEK_KAFKA_*`` variables.

The bare path and plain Faust must not import the product (they are what the
product is measured against), so they cannot use ``streams.kafka_security``;
this reads the same variables with the client libraries alone. Same rules:
SCRAM over TLS with the CA file when set, certificates and host names checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context


def _login() -> tuple[str, dict[str, Any]]:
    protocol = os.environ.get("REGSOSEK_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    options: dict[str, Any] = {}
    if protocol.startswith("SASL_"):
        password_file = os.environ.get("REGSOSEK_KAFKA_PASSWORD_FILE")
        password = (
            Path(password_file).read_text().strip()
            if password_file
            else os.environ["REGSOSEK_KAFKA_PASSWORD"]
        )
        options |= {
            "sasl_mechanism": os.environ.get("REGSOSEK_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            "sasl_plain_username": os.environ["REGSOSEK_KAFKA_USERNAME"],
            "sasl_plain_password": password,
        }
    if protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=os.environ.get("REGSOSEK_KAFKA_CA_FILE") or None
        )
    return protocol, options


def aiokafka_options() -> dict[str, Any]:
    """Keyword arguments for an aiokafka consumer (nothing beyond the protocol for PLAINTEXT)."""
    protocol, options = _login()
    return {"security_protocol": protocol, **options}


def faust_options() -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` (its ``broker_credentials``; none for PLAINTEXT)."""
    import faust  # noqa: PLC0415 - only the plain-Faust baseline needs it

    protocol, options = _login()
    if protocol == "PLAINTEXT":
        return {}
    if protocol == "SSL":
        return {"broker_credentials": faust.SSLCredentials(options["ssl_context"])}
    return {
        "broker_credentials": faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            mechanism=options["sasl_mechanism"],
            ssl_context=options.get("ssl_context"),
        )
    }
