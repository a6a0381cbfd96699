"""Confluent's wire format: magic byte 0, 4-byte big-endian schema id, Avro body.

Kept apart from Avro itself so that a processor can read the schema id of a
message it cannot decode (for the rejection record) and so that the framing
is tested on its own. Pure functions over bytes.
"""

from __future__ import annotations

import struct

from schemas.errors import BadMagicByteError, TruncatedMessageError

MAGIC_BYTE = 0
HEADER = struct.Struct(">BI")
HEADER_SIZE = HEADER.size  # 5
MAX_SCHEMA_ID = 2**32 - 1


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header."""
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise ValueError(f"schema id {schema_id} does not fit in 4 unsigned bytes")
    return HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(data: bytes | bytearray | memoryview) -> tuple[int, memoryview]:
    """Split a message into (schema id, body) without copying the body.

    Raises :class:`TruncatedMessageError` when there is no room for a header
    and a non-empty body (every schema of ours encodes to at least one byte),
    and :class:`BadMagicByteError` when the first byte is not 0.
    """
    view = memoryview(data)
    if view and view[0] != MAGIC_BYTE:
        raise BadMagicByteError(
            f"first byte is {view[0]}, not the Confluent magic byte {MAGIC_BYTE}"
        )
    if len(view) <= HEADER_SIZE:
        raise TruncatedMessageError(
            f"{len(view)} byte(s): a Confluent message needs a {HEADER_SIZE}-byte header and a body"
        )
    _, schema_id = HEADER.unpack_from(view)
    return schema_id, view[HEADER_SIZE:]


def peek_schema_id(data: bytes | bytearray | memoryview) -> int | None:
    """The schema id of a well-framed message, or None: for rejection records."""
    view = memoryview(data)
    if len(view) < HEADER_SIZE or view[0] != MAGIC_BYTE:
        return None
    return int(HEADER.unpack_from(view)[1])
