"""The project's one exception hierarchy.

It lives in the most upstream package so that every stage can raise and catch
the same root without importing downstream code. Bad *records* are not
exceptions (they become rejections); these are for bad *situations*: a broker
that is gone, a tool that is missing, an engine that refuses a write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from schemas.validate import FieldError


class RegsosekError(Exception):
    """Root of every error this project raises on purpose.

    ``exit_code`` is what a CLI command exits with when this error reaches it,
    so scripts can tell a missing tool from a busy port without parsing text.
    """

    exit_code: int = 1


class ConfigurationError(RegsosekError):
    """A setting is missing, malformed or contradicts another."""

    exit_code = 2


class MissingToolError(RegsosekError):
    """A program the command needs (java, mvn) is not installed."""

    exit_code = 3


class PortInUseError(RegsosekError):
    """A port we must listen on is taken by another process."""

    exit_code = 4


class DownloadError(RegsosekError):
    """Fetching artifacts from a package registry failed."""

    exit_code = 5


class BrokerError(RegsosekError):
    """Kafka could not be started, reached or stopped."""

    exit_code = 6


class ClickHouseError(RegsosekError):
    """The ClickHouse engine could not be opened or refused a statement."""

    exit_code = 7


# --- event contracts (schemas package) -------------------------------------------------


class SchemaError(RegsosekError):
    """A schema file is missing, malformed, or the catalog has no such name/version."""

    exit_code = 8


class IncompatibleSchemaError(SchemaError):
    """A schema change would break readers of already-written data (BACKWARD_TRANSITIVE)."""

    exit_code = 9


class SchemaValidationError(RegsosekError):
    """A record does not match its schema; ``errors`` lists every offending field.

    Raised before anything is sent (SDK, gateway), so a field app learns all its
    mistakes in one round trip instead of one per retry.
    """

    exit_code = 10

    def __init__(self, errors: Sequence[FieldError], schema_name: str = "") -> None:
        self.errors: list[FieldError] = list(errors)
        self.schema_name = schema_name
        shown = "; ".join(str(error) for error in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        where = f" for {schema_name}" if schema_name else ""
        super().__init__(f"{len(self.errors)} invalid field(s){where}: {shown}{more}")


class SchemaRegistryError(RegsosekError):
    """The schema registry refused a request or could not be reached.

    ``http_status`` and ``error_code`` (Confluent's, e.g. 40403 "schema not
    found", 409 "incompatible") are ``None`` when no HTTP answer arrived, so
    callers can tell "registry down, retry" from "no such schema, reject".
    """

    exit_code = 11

    def __init__(
        self, message: str, http_status: int | None = None, error_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_code = error_code

    @property
    def not_found(self) -> bool:
        """True when the registry answered that the subject, version or id does not exist."""
        return self.http_status == 404


class DecodeError(RegsosekError):
    """Bytes from Kafka could not be turned into a record.

    Not a failure of the pipeline: processors turn it into a rejection record
    using ``reason_code``, which is stable and safe to use as a metric label.
    """

    reason_code: str = "undecodable"

    def __init__(self, message: str, schema_id: int | None = None) -> None:
        super().__init__(message)
        self.schema_id = schema_id


class TruncatedMessageError(DecodeError):
    """Fewer bytes than the 5-byte Confluent header (or an empty body)."""

    reason_code = "truncated"


class BadMagicByteError(DecodeError):
    """The first byte is not Confluent's magic byte 0: not our wire format."""

    reason_code = "bad_magic_byte"


class UnknownSchemaIdError(DecodeError):
    """The header names a schema id the registry does not know."""

    reason_code = "unknown_schema_id"


class SchemaMismatchError(DecodeError):
    """The writer schema is known but cannot be read as the expected reader schema."""

    reason_code = "schema_mismatch"


class AvroBodyInvalidError(DecodeError):
    """The Avro body does not decode with the writer schema (corrupt or wrong schema)."""

    reason_code = "avro_body_invalid"
