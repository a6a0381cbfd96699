"""How every Kafka client authenticates and encrypts: one description, three dialects.

The platform talks to Kafka through three client libraries: kafka-python (the
SDK, the gateway, the admin and topic tools, the lag monitor), aiokafka (the
benchmarks' bare consumers) and Faust (the worker, whose own producer also
carries the worker's record batches). Each spells the same security settings
differently; :class:`KafkaSecurity` holds them once, built from the settings at
an entry point, and hands each library the keyword arguments it expects, so a
client cannot be forgotten or configured half-way (SASL without TLS, TLS
without hostname checks).

Pure apart from :meth:`KafkaSecurity.ssl_context`, which reads the CA file.
The password never appears in ``repr`` and is only handed to the libraries.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from streams.settings import Settings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]

PROTOCOLS: tuple[str, ...] = get_args(SecurityProtocol)
MECHANISMS: tuple[str, ...] = get_args(SaslMechanism)


def combination_problem(
    protocol: str, username: str | None, password: str | None, ca_file: Path | None
) -> str | None:
    """Why these settings cannot work together, or ``None``. Pure.

    SASL needs both a user name and a password (a SCRAM login without either is
    refused by the broker only after a timeout, which reads like a network
    problem). A CA file only means something over TLS; accepting it on a
    plaintext connection would let an operator believe traffic is encrypted.
    """
    if protocol not in PROTOCOLS:
        return f"unknown Kafka security protocol {protocol!r} (one of {', '.join(PROTOCOLS)})"
    if protocol.startswith("SASL_") and not (username and password):
        return f"{protocol} needs a Kafka user name and a password (or a password file)"
    if not protocol.startswith("SASL_") and (username or password):
        return f"a Kafka user name or password is set, but {protocol} does not authenticate"
    if ca_file is not None and not protocol.endswith("SSL"):
        return f"a Kafka CA file is set, but {protocol} does not use TLS"
    return None


@dataclass(frozen=True)
class KafkaSecurity:
    """Security of one Kafka client: protocol, SCRAM login and the CA to trust.

    ``ca_file`` unset over TLS means the system's trust store; the broker's
    certificate and host name are verified either way.
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        problem = combination_problem(self.protocol, self.username, self.password, self.ca_file)
        if problem is not None:
            raise ValueError(problem)
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"unsupported SASL mechanism {self.mechanism!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        """The security the settings describe (the password file was read by the settings)."""
        password = settings.kafka_password
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=password.get_secret_value() if password is not None else None,
            ca_file=settings.kafka_ca_file,
        )

    @property
    def sasl(self) -> bool:
        """Whether the client logs in (SCRAM)."""
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted and the broker's certificate verified."""
        return self.protocol.endswith("SSL")

    def describe(self) -> str:
        """One line for logs and status output, without the password."""
        parts: list[str] = [self.protocol]
        if self.sasl:
            parts.append(f"{self.mechanism} as {self.username}")
        if self.tls:
            parts.append(f"CA {self.ca_file}" if self.ca_file else "system CAs")
        return ", ".join(parts)

    def _sasl_options(self) -> dict[str, Any]:
        if not self.sasl:
            return {}
        return {
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's producer, consumer and admin client. Pure.

        kafka-python builds its own TLS context from ``ssl_cafile`` (the system
        store when unset) with host-name checks on, so no file is read here.
        """
        options: dict[str, Any] = {"security_protocol": self.protocol, **self._sasl_options()}
        if self.tls:
            options["ssl_check_hostname"] = True
            if self.ca_file is not None:
                options["ssl_cafile"] = str(self.ca_file)
        return options

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context trusting ``ca_file`` (else the system store); ``None`` without TLS.

        The same context aiokafka's ``create_ssl_context(cafile=...)`` makes:
        certificate and host name verified, TLS 1.2 at least.
        """
        if not self.tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file is not None else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's consumer and producer (reads the CA file)."""
        options: dict[str, Any] = {"security_protocol": self.protocol, **self._sasl_options()}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def faust(self) -> dict[str, Any]:
        """Keyword arguments for ``faust.App``: its ``broker_credentials`` (reads the CA file).

        Faust passes them to every aiokafka client it makes: the group consumer,
        the producer (so the worker's own record batches too) and the client that
        creates the changelog topics. Nothing for PLAINTEXT, as before.
        """
        import faust  # noqa: PLC0415 - only the worker and a benchmark need Faust

        if self.protocol == "PLAINTEXT":
            return {}
        if self.protocol == "SSL":
            return {"broker_credentials": faust.SSLCredentials(self.ssl_context())}
        return {
            "broker_credentials": faust.SASLCredentials(
                username=self.username,
                password=self.password,
                mechanism=self.mechanism,
                ssl_context=self.ssl_context(),
            )
        }


#: The embedded local broker's default: loopback only, no authentication.
PLAINTEXT = KafkaSecurity()
