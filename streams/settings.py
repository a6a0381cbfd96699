"""The one settings object, read from ``REGSOSEK_*`` environment variables.

Built once at each entry point (CLI command, worker, gateway, test fixture) and
passed down; nothing deeper in the code reads ``os.environ``. Credentials are
``SecretStr`` and DSNs/URLs are masked whenever settings are shown, because
operators paste ``regsosek config`` output into chat and tickets.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigurationError
from streams.kafka_security import SaslMechanism, SecurityProtocol, combination_problem

ENV_PREFIX = "REGSOSEK_"
MASK = "****"
#: ``REGSOSEK_<NAMESPACE>_*`` variables that belong to a command's own options (click
#: ``envvar``s of ``simulate``, ``demo``, the benchmark) or to test hooks, not to Settings.
COMMAND_NAMESPACES = ("SIMULATE_", "DEMO_", "BENCH_", "TEST_")
#: Shortest NIK HMAC key accepted (bytes): HMAC-SHA256's block-strength key.
NIK_KEY_MIN_BYTES = 32
#: Keys that shipped as defaults or in examples once: never a real key.
KNOWN_WEAK_KEYS = frozenset({"change-me", "changeme", "secret"})
#: Western Indonesia Time (UTC+7), where Jember and most fieldwork hours are.
WIB = timezone(timedelta(hours=7), "WIB")


def default_cache_dir() -> Path:
    """Where downloaded artifacts (Kafka jars) live, shared by every state directory.

    Kept outside the state directory so a test run with a throwaway state
    directory, or ``rm -rf .regsosek``, does not download Kafka again.
    """
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
    operator_tokens: SecretStr = Field(
        SecretStr(""),
        description="Bearer tokens of operators, comma-separated: every worker page but "
        "/healthz, /readyz and /metrics needs one (kept only as SHA-256 in memory).",
    )
    operator_tokens_file: Path | None = Field(
        None,
        description="File of operator tokens, one a line (adds to the above); re-read when it "
        "changes, so removing a line revokes a token.",
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
    gateway_worker_url: str = Field(
        "http://127.0.0.1:6066",
        description="The worker's web address; the gateway's GET /v1/feedback asks its "
        "/feedback page (only the worker may query the embedded engine).",
    )
    gateway_worker_token: SecretStr = Field(
        SecretStr(""),
        description="Operator token the gateway sends to the worker's /feedback page.",
    )
    gateway_worker_token_file: Path | None = Field(
        None,
        description="File holding that operator token (first line; preferred to the variable).",
    )
    gateway_worker_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait for the worker's feedback answer, per attempt; then 503.",
    )
    console_refresh_seconds: float = Field(
        2.0,
        gt=0,
        description="How often the console's live stream asks the worker for the overview and "
        "health, once for all viewers.",
    )
    console_max_streams: int = Field(
        100, gt=0, description="Console live streams open at once; more get 503 with Retry-After."
    )
    console_regency: str | None = Field(
        None,
        pattern=r"^\d{2}\.\d{2}$",
        description="Regency the console opens on (e.g. 35.09); unset = the frame's largest.",
    )
    feedback_settle_seconds: float = Field(
        5.0,
        ge=0,
        description="Feedback rows younger than this are left for the next sync, so a "
        "cursor never steps past a row that is being inserted.",
    )
    topic_prefix: str = Field(
        "regsosek",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Start of every topic name (<prefix>.submissions) and the worker's group id.",
    )
    topic_partitions: int = Field(6, ge=1, description="Partitions of each regsosek.* topic.")
    topic_replication: int | None = Field(
        None,
        ge=1,
        description="Replication factor of each topic; unset: 3 when the cluster has 3 or more "
        "brokers (with min.insync.replicas 2), else the number of brokers.",
    )
    topic_retention_ms: int = Field(
        90 * 24 * 3600 * 1000,
        description="Retention of the submission topics (default 90 days: fieldwork + edits).",
    )
    rejection_payload_retention_days: int = Field(
        180,
        ge=0,
        description="Days ClickHouse keeps the rejected originals (rejection_payloads: names "
        "and NIKs in clear) after writing them; 0 keeps them until erased. rejections keeps "
        "the rows without the bytes (docs/lifecycle.md).",
    )
    regions_file: Path | None = Field(
        None,
        description="Region master file (CSV format of schemas/regions.py); unset = shipped.",
    )
    regency_extents_file: Path | None = Field(
        None,
        description="Regencies' GPS extents (CSV format of schemas/extents.py, keyed by the "
        "region master's regency codes); unset = shipped, for the shipped master.",
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
    nik_lookup_timeout_seconds: float = Field(
        1.0,
        ge=0,
        description="Longest wait for the per-batch ClickHouse lookup of the batch's NIKs in "
        "other households (duplicate-NIK rule); later, the batch is checked against the "
        "worker's memory only. 0 turns the lookup off.",
    )
    process_in_child: bool = Field(
        True,
        description="Run decode, rules, enrichment and row building in a child process (the "
        "second core); false keeps them in a thread of the worker.",
    )
    nik_hmac_key: SecretStr = Field(
        SecretStr(""),
        description="Key of the HMAC that stands in for NIK in analytics: at least 32 bytes; "
        "no default (the worker refuses to start without one; `make demo` makes one).",
    )
    nik_hmac_key_file: Path | None = Field(
        None,
        description="File holding the NIK HMAC key (read when the worker starts); instead of "
        "the above.",
    )
    log_level: str = Field("INFO", description="Python log level.")

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, data: Any) -> Any:
        """A mistyped ``REGSOSEK_*`` variable is an error, not a silently ignored setting."""
        problems = unknown_variables(os.environ, cls.model_fields)
        if problems:
            raise ValueError("; ".join(problems))
        return data

    @model_validator(mode="after")
    def _one_nik_key_source(self) -> Settings:
        """Two keys would leave it to chance which one hashes the NIKs."""
        if self.nik_hmac_key.get_secret_value() and self.nik_hmac_key_file is not None:
            raise ValueError("set nik_hmac_key or nik_hmac_key_file, not both")
        return self

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

    def nik_key(self) -> bytes:
        """The NIK HMAC key; refused when missing, a known default or shorter than 32 bytes.

        Read and checked where the key is used (the worker's start), not for every
        command: ``regsosek config`` must still show what is wrong.
        """
        key = self.nik_hmac_key.get_secret_value()
        if self.nik_hmac_key_file is not None:
            try:
                key = self.nik_hmac_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"nik_hmac_key_file {self.nik_hmac_key_file}: {exc.strerror or exc}"
                ) from exc
        how = (
            f"set {self.env_name('nik_hmac_key_file')} to a file holding a random key, e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))' > nik.key`, "
            "`chmod 600 nik.key`"
            " (it must stay the same for the whole census: it keys members.nik_hash)"
        )
        if not key:
            raise ConfigurationError(f"no NIK HMAC key: {how}")
        if key.lower() in KNOWN_WEAK_KEYS:
            raise ConfigurationError(f"the NIK HMAC key is a known default: {how}")
        if len(key.encode()) < NIK_KEY_MIN_BYTES:
            raise ConfigurationError(
                f"the NIK HMAC key has {len(key.encode())} bytes, fewer than "
                f"{NIK_KEY_MIN_BYTES}: {how}"
            )
        return key.encode()

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets hidden whatever their shape (see :func:`mask_value`)."""
        return {name: mask_value(name, getattr(self, name)) for name in type(self).model_fields}

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        return ENV_PREFIX + field.upper()


def _present(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


#: Parts of a name that say its value is a credential, in a field or a URL's query.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "credential", "auth")


def _secret_name(name: str) -> bool:
    return any(word in name.lower() for word in _SECRET_WORDS)


def mask_value(name: str, value: Any) -> str:
    """One setting as ``regsosek config`` shows it.

    ``SecretStr``: a URL keeps all but its password and secret query values,
    anything else is ``****``. Paths (key and token files) show the path only,
    never the content. A plain value named like a credential is masked too, and
    URLs inside plain values lose their passwords, in case a secret arrives
    through a field that was not declared secret.
    """
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if not secret:
            return ""
        return mask_url(secret) if "://" in secret else MASK
    if isinstance(value, Path):
        return str(value)
    text = str(value)
    if _secret_name(name) and not isinstance(value, bool | int | float):
        return MASK if text else ""
    return ",".join(mask_url(part) if "://" in part else part for part in text.split(","))


def mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host/...`` and secret query values."""
    parts = urlsplit(url)
    changed = False
    if parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:{MASK}@{netloc}")
        changed = True
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(_secret_name(key) for key, _ in pairs):
        hidden = [(key, MASK if _secret_name(key) else value) for key, value in pairs]
        parts = parts._replace(query=urlencode(hidden, safe="*"))
        changed = True
    return urlunsplit(parts) if changed else url


def unknown_variables(environ: Mapping[str, str], fields: Iterable[str]) -> list[str]:
    """One message per ``REGSOSEK_*`` variable that no setting reads, naming the closest one.

    Variables of a command's own namespace (:data:`COMMAND_NAMESPACES`) are left
    to that command. Names are compared case-insensitively, as pydantic reads them.
    """
    known = {ENV_PREFIX + field.upper() for field in fields}
    problems = []
    for variable in sorted(environ):
        name = variable.upper()
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        if name[len(ENV_PREFIX) :].startswith(COMMAND_NAMESPACES):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"unknown setting {variable}{hint}")
    return problems
