"""The one settings object, read from ``REGSOSEK_*`` environment variables.

Built once at each entry point (CLI command, worker, gateway, test fixture) and
passed down; nothing deeper in the code reads ``os.environ``. Credentials are
``SecretStr`` and DSNs/URLs are masked whenever settings are shown, because
operators paste ``regsosek config`` output into chat and tickets.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.kafka_security import SaslMechanism, SecurityProtocol, combination_problem

ENV_PREFIX = "REGSOSEK_"
MASK = "****"
#: Western Indonesia Time (UTC+7), where Jember and most fieldwork hours are.
WIB = timezone(timedelta(hours=7), "WIB")


def default_cache_dir() -> Path:
    """Where downloaded artifacts (Kafka jars) live, shared by every state directory.

    Kept outside the state directory so a test run with a throwaway state
    directory, or ``rm -rf .regsosek``, does not download Kafka again.
    """
    import os  # noqa: PLC0415 - the one place a default depends on the environment

    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "regsosek"


class Settings(BaseSettings):
    """Effective configuration of one process."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    state_dir: Path = Field(
        Path(".regsosek"),
        description="Local data: broker logs and pid, the embedded ClickHouse, simulator output.",
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Downloaded artifacts (Kafka jars), reused across state directories.",
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    kafka_controller_port: int = Field(
        9093, description="KRaft controller port of the local broker (`regsosek kafka`)."
    )
    kafka_heap: str = Field("768m", description="Java heap (-Xmx) of the local broker.")
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT",
        description="How clients reach Kafka: PLAINTEXT (the local broker on loopback), SSL, "
        "SASL_PLAINTEXT or SASL_SSL (SCRAM login over TLS: any broker beyond this machine).",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        "SCRAM-SHA-512", description="SCRAM mechanism of the SASL_* protocols."
    )
    kafka_username: str | None = Field(
        None, description="Kafka principal of this process (SASL_*): field, worker or admin."
    )
    kafka_password: SecretStr | None = Field(None, description="Password of kafka_username.")
    kafka_password_file: Path | None = Field(
        None,
        description="File holding the Kafka password (a mounted secret), read once at start; "
        "instead of kafka_password.",
    )
    kafka_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA that signed the brokers' certificates (SSL, SASL_SSL); "
        "unset: the system's trust store. Certificates and host names are always verified.",
    )
    clickhouse_dsn: SecretStr = Field(
        SecretStr(""),
        description="chdb:///path (embedded engine) or http(s)://user:pass@host:8123/db.",
    )
    clickhouse_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA that signed the ClickHouse server's certificate "
        "(https:// DSNs); unset: the system's trust store. The certificate is always verified.",
    )
    clickhouse_database: str = Field(
        "regsosek", description="Database of the analytics tables and progress views."
    )
    clickhouse_cluster: str | None = Field(
        None,
        description="ClickHouse cluster name: DDL ON CLUSTER, Replicated + Distributed tables.",
    )
    sink_retry_max_seconds: float = Field(
        120.0,
        gt=0,
        description="How long one insert is retried before the batch is held (not ready) and "
        "retried again with a longer pause.",
    )
    commit_stall_seconds: float = Field(
        300.0,
        gt=0,
        description="A partition's commit stuck this long behind processed offsets: not ready.",
    )
    schema_registry_url: SecretStr | None = Field(
        None, description="Confluent-compatible schema registry; unset = local registry."
    )
    web_port: int = Field(6066, description="Worker HTTP port: /metrics, health, progress JSON.")
    web_host: str = Field(
        "127.0.0.1",
        description="Address the worker's HTTP server listens on (0.0.0.0 in containers).",
    )
    gateway_port: int = Field(8080, description="HTTP gateway port for field apps.")
    gateway_host: str = Field(
        "127.0.0.1",
        description="Address the gateway listens on; 0.0.0.0 accepts field apps from the network.",
    )
    gateway_tokens: SecretStr = Field(
        SecretStr(""),
        description="Bearer tokens of enumerators, 'token:ENUMERATOR_ID' pairs, comma-separated.",
    )
    gateway_tokens_file: Path | None = Field(
        None,
        description="JSON or YAML file mapping bearer token -> enumerator id (adds to the above).",
    )
    gateway_max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description=(
            "Largest request body the gateway reads (else 413). Not the submission limit:"
            " a submission is refused (413, SUBMISSION_TOO_LARGE) when its Avro encoding"
            " exceeds MAX_SUBMISSION_BYTES in schemas/limits.py (512 KiB); its JSON is"
            " usually larger than that encoding, hence the higher default."
        ),
    )
    gateway_max_batch_items: int = Field(
        200, ge=1, description="Most submissions in one POST /v1/submissions/batch (else 413)."
    )
    gateway_kafka_timeout_ms: int = Field(
        10_000,
        ge=100,
        description="How long the gateway waits for Kafka to acknowledge before answering 503.",
    )
    gateway_tokens_reload_seconds: float = Field(
        5.0,
        gt=0,
        description="How often the gateway checks the tokens file for changes (a token removed "
        "or revoked there is refused within this time; a file that fails to load keeps the "
        "last good tokens).",
    )
    gateway_rate_per_token: float = Field(
        10.0,
        gt=0,
        description="Requests per second each bearer token may make on average (a batch counts "
        "as one); over it: 429 with Retry-After.",
    )
    gateway_rate_burst: int = Field(
        40, ge=1, description="Requests a token may make at once above its rate (bucket size)."
    )
    gateway_max_in_flight: int = Field(
        128,
        ge=1,
        description="Requests the gateway works on at once (body read, Kafka acknowledgement "
        "awaited); more get 503 with Retry-After instead of queueing without bound.",
    )
    topic_prefix: str = Field(
        "regsosek",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Start of every topic name (<prefix>.submissions) and the worker's group id.",
    )
    topic_partitions: int = Field(6, ge=1, description="Partitions of each regsosek.* topic.")
    topic_replication: int = Field(1, ge=1, description="Replication factor of each topic.")
    topic_retention_ms: int = Field(
        90 * 24 * 3600 * 1000,
        description="Retention of the submission topics (default 90 days: fieldwork + edits).",
    )
    regions_file: Path | None = Field(
        None,
        description="Region master file (CSV format of schemas/regions.py); unset = shipped.",
    )
    frame_dir: Path | None = Field(
        None,
        description="Enumeration frame (enumerators, assignments, targets); unset: <state>/frame.",
    )
    fieldwork_start: datetime = Field(
        datetime(2022, 10, 15, tzinfo=WIB),
        description="Start of fieldwork; interviews before it are rejected.",
    )
    fieldwork_end: datetime = Field(
        datetime(2022, 11, 14, 23, 59, 59, tzinfo=WIB),
        description="End of fieldwork; interviews after it are rejected.",
    )
    process_batch: int = Field(
        5000, ge=1, description="Submissions the worker validates per batch (take_events size)."
    )
    process_batch_seconds: float = Field(
        0.25, gt=0, description="Longest wait to fill a processing batch, seconds."
    )
    process_in_child: bool = Field(
        True,
        description="Run decode, rules, enrichment and row building in a child process (the "
        "second core); false keeps them in a thread of the worker.",
    )
    nik_hmac_key: SecretStr = Field(
        SecretStr("change-me"), description="Key of the HMAC that stands in for NIK in analytics."
    )
    log_level: str = Field("INFO", description="Python log level.")

    @model_validator(mode="before")
    @classmethod
    def _default_dsn(cls, data: Any) -> Any:
        """Put the embedded engine under the state directory unless a DSN is given."""
        if isinstance(data, dict) and not _present(data.get("clickhouse_dsn")):
            state_dir = Path(data.get("state_dir") or ".regsosek")
            data = {**data, "clickhouse_dsn": f"chdb://{state_dir.resolve() / 'clickhouse'}"}
        return data

    @model_validator(mode="before")
    @classmethod
    def _kafka_password_from_file(cls, data: Any) -> Any:
        """Read the Kafka password from its file once, here, so a bad path fails at start."""
        if not isinstance(data, dict) or not data.get("kafka_password_file"):
            return data
        if _present(data.get("kafka_password")):
            raise ValueError("set kafka_password or kafka_password_file, not both")
        path = Path(data["kafka_password_file"])
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"kafka_password_file {path}: {exc.strerror or exc}") from exc
        if not password:
            raise ValueError(f"kafka_password_file {path} is empty")
        return {**data, "kafka_password": password}

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> Settings:
        """Refuse combinations that cannot work or only look secure (streams.kafka_security)."""
        password = self.kafka_password.get_secret_value() if self.kafka_password else None
        problem = combination_problem(
            self.kafka_security_protocol, self.kafka_username, password, self.kafka_ca_file
        )
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def frame_directory(self) -> Path:
        """The enumeration frame directory actually used."""
        return self.frame_dir or self.state_dir / "frame"

    @property
    def kafka_port(self) -> int:
        """Port of the first bootstrap server: the one the local broker listens on."""
        first = self.kafka_bootstrap.split(",")[0].strip()
        return int(first.rsplit(":", 1)[1])

    @property
    def kafka_host(self) -> str:
        """Host of the first bootstrap server."""
        return self.kafka_bootstrap.split(",")[0].strip().rsplit(":", 1)[0]

    def masked(self) -> dict[str, str]:
        """Every setting as text, with passwords in DSNs and URLs and all secrets hidden."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in {"clickhouse_dsn", "schema_registry_url"}:
                shown[name] = mask_url(value.get_secret_value()) if value else ""
            elif isinstance(value, SecretStr):
                shown[name] = MASK if value.get_secret_value() else ""
            else:
                shown[name] = str(value)
        return shown

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        return ENV_PREFIX + field.upper()


def _present(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


def mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host/...``; keep everything else."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{netloc}"))
