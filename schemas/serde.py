"""Records <-> Kafka message values: validate, Avro-encode, Confluent-frame; and back.

The one facade the SDK, the gateway and the processors use. Encoding
validates first, so a field app learns every bad field at once
(:class:`SchemaValidationError`) instead of fastavro's first complaint.
Decoding resolves the writer's schema (looked up once per id) into the
current reader schema, so events from older app versions keep working with
defaults filled in. Everything a hostile or corrupt message can cause is a
:class:`DecodeError` subclass with a ``reason_code``; only a registry that
cannot be reached raises :class:`SchemaRegistryError`, because that is the
platform's fault and the message must be retried, not rejected.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas import catalog, wire
from schemas.compat import check_compatibility
from schemas.errors import (
    AvroBodyInvalidError,
    SchemaMismatchError,
    SchemaRegistryError,
    SchemaValidationError,
    UnknownSchemaIdError,
)
from schemas.registry import SchemaRegistry
from schemas.validate import FieldError, RecordValidator

#: How long an unknown schema id is remembered as unknown, so a flood of
#: garbage does not become a flood of registry requests.
UNKNOWN_ID_TTL_S = 60.0


class AvroSerializer:
    """Encodes records of one schema for one subject, e.g. HouseholdSubmission.

    ``version`` picks a released version instead of the current schema: the
    simulator uses it to publish as an old app would.
    """

    def __init__(
        self,
        registry: SchemaRegistry,
        subject: str,
        schema_name: str,
        *,
        version: int | None = None,
        directory: Path | None = None,
    ) -> None:
        self.schema_name = schema_name
        self.schema = catalog.load_schema(schema_name, version, directory=directory)
        self._parsed = catalog.parsed_schema(schema_name, version, directory=directory)
        self._validator = RecordValidator(self.schema)
        self.schema_id = registry.register(subject, self.schema)
        self._header = wire.frame(self.schema_id, b"")

    def validate(self, record: Mapping[str, Any]) -> list[FieldError]:
        """Every problem of ``record``; empty when it can be encoded."""
        return self._validator.validate(record)

    def encode(self, record: Mapping[str, Any], *, validate: bool = True) -> bytes:
        """The Confluent-framed Avro bytes of ``record``.

        ``validate=False`` skips the field-by-field check for trusted bulk
        producers (the simulator); fastavro's own error is still turned into
        a SchemaValidationError.
        """
        if validate:
            errors = self._validator.validate(record)
            if errors:
                raise SchemaValidationError(errors, self.schema_name)
        out = io.BytesIO()
        out.write(self._header)
        try:
            schemaless_writer(out, self._parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise SchemaValidationError([FieldError("", str(exc))], self.schema_name) from exc
        return out.getvalue()


class EnvelopeSerializer:
    """Encodes a record whose first field is another event, reusing that event's Avro body.

    Why: a ValidatedSubmission is the submission as received plus enrichment
    and warnings. Avro writes a record as its fields one after the other, so
    when the submission arrived in the very schema the envelope nests, its
    body bytes *are* the envelope's first field: only the small tail is
    encoded. Re-encoding the whole household cost more CPU than the rules.
    A submission from an older app (another schema id) is encoded in full.
    """

    def __init__(self, registry: SchemaRegistry, subject: str, schema_name: str) -> None:
        self._full = AvroSerializer(registry, subject, schema_name)
        self.schema_id = self._full.schema_id
        self._header = wire.frame(self.schema_id, b"")
        schema = catalog.load_schema(schema_name)
        first = schema["fields"][0]["type"]
        inner_name = first["name"]
        self.inner_id: int | None = None
        if catalog.canonical_json(first) == catalog.canonical_json(catalog.load_schema(inner_name)):
            self.inner_id = registry.register(catalog.subject_for(inner_name), first)
        named: dict[str, Any] = {}
        parse_schema(first, named_schemas=named)
        tail = {**schema, "name": f"{schema['name']}Tail", "fields": schema["fields"][1:]}
        self._tail = parse_schema(tail, named_schemas=named)

    def encode(self, record: Mapping[str, Any], original: bytes | None = None) -> bytes:
        """The envelope's wire bytes; ``original`` is the nested event's own wire bytes."""
        if (
            original is not None
            and self.inner_id is not None
            and len(original) > wire.HEADER_SIZE
            and original[0] == wire.MAGIC_BYTE
            and int.from_bytes(original[1:5], "big") == self.inner_id
        ):
            out = io.BytesIO()
            out.write(self._header)
            out.write(memoryview(original)[wire.HEADER_SIZE :])
            try:
                schemaless_writer(out, self._tail, record)
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                raise SchemaValidationError(
                    [FieldError("", str(exc))], self._full.schema_name
                ) from exc
            return out.getvalue()
        return self._full.encode(record, validate=False)


@dataclass(frozen=True)
class _Writer:
    """How to read bytes written with one schema id."""

    parsed: dict[str, Any]
    reader: dict[str, Any] | None  # None when writer == reader: fastavro skips resolution


class AvroDeserializer:
    """Decodes Confluent-framed Avro into records of the current ``reader_schema_name``."""

    def __init__(
        self, registry: SchemaRegistry, reader_schema_name: str, *, directory: Path | None = None
    ) -> None:
        self.reader_schema_name = reader_schema_name
        self._registry = registry
        self._reader_schema = catalog.load_schema(reader_schema_name, directory=directory)
        self._reader = catalog.parsed_schema(reader_schema_name, directory=directory)
        self._reader_digest = catalog.schema_digest(self._reader_schema)
        self._writers: dict[int, _Writer] = {}
        self._mismatched: dict[int, str] = {}
        self._unknown: dict[int, float] = {}

    def decode(self, data: bytes | bytearray | memoryview) -> dict[str, Any]:
        """The record in ``data`` (raises a DecodeError subclass when it cannot)."""
        return self.decode_with_id(data)[1]

    def decode_with_id(self, data: bytes | bytearray | memoryview) -> tuple[int, dict[str, Any]]:
        """(writer schema id, record): the id tells which app version wrote it."""
        schema_id, body = wire.unframe(data)
        writer = self._writer(schema_id)
        stream = io.BytesIO(body)
        try:
            record = schemaless_reader(stream, writer.parsed, writer.reader)
        except Exception as exc:  # arbitrary bytes make fastavro raise many types
            raise AvroBodyInvalidError(
                f"body does not decode with schema {schema_id}: {type(exc).__name__}: {exc}",
                schema_id,
            ) from exc
        if stream.tell() != len(body):
            raise AvroBodyInvalidError(
                f"{len(body) - stream.tell()} trailing byte(s) after the record", schema_id
            )
        if not isinstance(record, dict):
            raise AvroBodyInvalidError("body is not a record", schema_id)
        return schema_id, record

    def _writer(self, schema_id: int) -> _Writer:
        if schema_id in self._writers:
            return self._writers[schema_id]
        if schema_id in self._mismatched:
            raise SchemaMismatchError(self._mismatched[schema_id], schema_id)
        if time.monotonic() < self._unknown.get(schema_id, 0.0):
            raise UnknownSchemaIdError(f"schema id {schema_id} is not registered", schema_id)
        writer_schema = self._fetch(schema_id)
        if catalog.schema_digest(writer_schema) == self._reader_digest:
            found = _Writer(self._reader, None)
        else:
            found = self._resolved(schema_id, writer_schema)
        self._writers[schema_id] = found
        return found

    def _fetch(self, schema_id: int) -> dict[str, Any]:
        try:
            return self._registry.get_by_id(schema_id)
        except SchemaRegistryError as exc:
            if not exc.not_found:
                raise  # registry down: retry the message, do not reject it
            self._unknown[schema_id] = time.monotonic() + UNKNOWN_ID_TTL_S
            raise UnknownSchemaIdError(
                f"schema id {schema_id} is not registered", schema_id
            ) from exc

    def _resolved(self, schema_id: int, writer_schema: dict[str, Any]) -> _Writer:
        problems = check_compatibility(self._reader_schema, writer_schema)
        if not problems:
            try:
                parsed = parse_schema(writer_schema)
            except Exception as exc:  # a registry may hold schemas fastavro rejects
                problems = [f"writer schema does not parse: {exc}"]
            else:
                if isinstance(parsed, dict):
                    return _Writer(parsed, self._reader)
                problems = ["writer schema is not a record"]
        message = (
            f"schema id {schema_id} cannot be read as {self.reader_schema_name}: "
            + "; ".join(problems[:5])
        )
        self._mismatched[schema_id] = message
        raise SchemaMismatchError(message, schema_id)
