"""What the gateway reads and answers, as pure functions of bytes and records.

Every refusal is a :class:`Problem` (status, one-line message, field errors),
rendered by one function into the documented error body::

    {"error": "2 invalid field(s) for HouseholdSubmission: ...",
     "errors": [{"path": "members[0].sex", "problem": "unknown enum symbol ..."}]}

A refusal with a stable reason code also carries ``"code"`` (a submission over
the size limit: ``{"error": "...", "code": "SUBMISSION_TOO_LARGE"}``).

Batch answers are shaped here too, so the 202/207 rule is unit-tested
without a server or a broker. See streams/gateway/openapi.yaml for the contract.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from schemas.limits import TOO_LARGE_CODE
from schemas.validate import FieldError
from streams.sdk import Receipt

JSON_TYPES = ("application/json",)

#: Deepest nesting of arrays and objects a body may have. A submission needs 4
#: (batch -> submission -> members -> member -> disability); anything far deeper is
#: an attack on the parser, refused before it runs.
MAX_JSON_DEPTH = 32
#: Longest number literal read. A long has at most 20 characters with its sign and a
#: double's shortest exact text about 24; longer literals are refused before Python
#: turns them into ints (quadratic in the digits) or silently rounds them.
MAX_NUMBER_CHARS = 40

#: Reason codes of refused JSON (400) and of throttled requests (429, 503).
JSON_TOO_DEEP = "JSON_TOO_DEEP"
NUMBER_TOO_LONG = "NUMBER_TOO_LONG"
NUMBER_NOT_FINITE = "NUMBER_NOT_FINITE"
RATE_LIMITED = "RATE_LIMITED"
OVERLOADED = "OVERLOADED"


class Problem(Exception):
    """A refused request (an HTTP "problem", RFC 9457): status, message, field errors.

    ``code`` is a stable reason code for refusals an app must tell apart
    programmatically (e.g. :data:`~schemas.limits.TOO_LARGE_CODE`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return error_body(self.message, self.errors, self.code)


def error_body(
    message: str, errors: Sequence[FieldError] = (), code: str | None = None
) -> dict[str, Any]:
    """``{"error": message, "code", "errors": [{"path", "problem"}...]}``.

    ``code`` only when there is one, ``errors`` only when there are any.
    """
    body: dict[str, Any] = {"error": message}
    if code is not None:
        body["code"] = code
    if errors:
        body["errors"] = [{"path": e.path, "problem": e.problem} for e in errors]
    return body


def too_large(message: str) -> Problem:
    """413 with :data:`~schemas.limits.TOO_LARGE_CODE`: a submission over the size limit."""
    return Problem(413, message, code=TOO_LARGE_CODE)


def is_json_content_type(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type (parameters were already stripped)."""
    kind = content_type.strip().lower()
    return kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``, or Problem 400 saying where it breaks.

    Never an exception of another kind, whatever the bytes: nesting deeper than
    :data:`MAX_JSON_DEPTH` is refused before parsing (the parser recurses),
    number literals longer than :data:`MAX_NUMBER_CHARS` while parsing (Python
    refuses ints over 4,300 digits with a ValueError, and is slow well before).
    NaN, Infinity and literals beyond a double's range (``1e400``) are refused
    with :data:`NUMBER_NOT_FINITE`: they are not JSON numbers, and Avro doubles
    made from them would poison every average downstream.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"malformed JSON: body is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise Problem(400, "malformed JSON: empty body")
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise Problem(
            400,
            f"JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH}",
            code=JSON_TOO_DEEP,
        )
    try:
        return json.loads(
            text, parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_parse_int
        )
    except _RefusedNumber as refused:
        raise Problem(400, f"malformed JSON: {refused.message}", code=refused.code) from None
    except json.JSONDecodeError as exc:
        raise Problem(
            400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:  # the depth check makes this unreachable; kept as the last net
        raise Problem(400, "JSON nested too deep", code=JSON_TOO_DEEP) from None
    except ValueError as exc:
        raise Problem(400, f"malformed JSON: {exc}") from None


_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_DELTA = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body``, without recursion.

    Strings are cut out first (brackets inside them do not nest); the rest is
    reduced to its brackets and their running sum taken, all in C loops, so a
    1 MiB body of brackets costs tens of milliseconds, not a stack overflow.
    Unbalanced or malformed input gives some number; the parser reports it.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


class _RefusedNumber(ValueError):
    """A number literal the gateway does not read; carries the reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise _RefusedNumber(NUMBER_NOT_FINITE, f"{name} is not a JSON number")


def _check_length(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise _RefusedNumber(
            NUMBER_TOO_LONG,
            f"a number of {len(text)} characters; at most {MAX_NUMBER_CHARS}",
        )


def _parse_int(text: str) -> int:
    _check_length(text)
    return int(text)


def _parse_float(text: str) -> float:
    _check_length(text)
    value = float(text)
    if not math.isfinite(value):
        raise _RefusedNumber(
            NUMBER_NOT_FINITE, f"{text} is beyond the range of a double (not finite)"
        )
    return value


def batch_items(document: Any, max_items: int) -> list[Any]:
    """The submissions of a batch body: a JSON array, or ``{"submissions": [...]}``."""
    if isinstance(document, Mapping) and set(document) == {"submissions"}:
        document = document["submissions"]
    if not isinstance(document, list):
        raise Problem(400, 'a batch is a JSON array of submissions or {"submissions": [...]}')
    if not document:
        raise Problem(400, "the batch holds no submissions")
    if len(document) > max_items:
        raise Problem(
            413, f"the batch holds {len(document)} submissions; at most {max_items} per request"
        )
    return document


def receipt_body(receipt: Receipt) -> dict[str, Any]:
    """The 202 body: where the broker stored the submission."""
    return {
        "submission_id": receipt.record_id,
        "topic": receipt.topic,
        "partition": receipt.partition,
        "offset": receipt.offset,
    }


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one submission of a batch, in the batch's order."""

    index: int
    status: int
    submission_id: str | None = None
    receipt: Receipt | None = None
    message: str = ""
    errors: tuple[FieldError, ...] = field(default_factory=tuple)
    code: str | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.receipt is not None:
            return out | receipt_body(self.receipt)
        out["submission_id"] = self.submission_id
        return out | error_body(self.message, self.errors, self.code)


def accepted(index: int, receipt: Receipt) -> ItemResult:
    """An item the broker acknowledged."""
    return ItemResult(index, 202, receipt.record_id, receipt)


def refused(index: int, item: Any, problem: Problem) -> ItemResult:
    """An item refused for its content (400), its size (413) or its enumerator (403)."""
    return ItemResult(
        index,
        problem.status,
        submission_id_of(item),
        None,
        problem.message,
        tuple(problem.errors),
        problem.code,
    )


def not_acknowledged(index: int, item: Any) -> ItemResult:
    """A valid item the broker did not acknowledge before the batch failed."""
    return ItemResult(
        index, 503, submission_id_of(item), None, "not acknowledged by Kafka; send again"
    )


def batch_status(results: Sequence[ItemResult]) -> int:
    """202 when every submission was accepted, 503 when Kafka failed any, else 207."""
    if any(result.status == 503 for result in results):
        return 503
    return 202 if all(result.status == 202 for result in results) else 207


def batch_body(results: Sequence[ItemResult]) -> dict[str, Any]:
    """The batch answer: counts, then one result per submission in the batch's order."""
    accepted_count = sum(result.status == 202 for result in results)
    body: dict[str, Any] = {
        "accepted": accepted_count,
        "rejected": len(results) - accepted_count,
        "results": [result.body() for result in sorted(results, key=lambda r: r.index)],
    }
    if batch_status(results) == 503:
        body["error"] = "Kafka did not acknowledge every submission; send the failed ones again"
    return body


def submission_id_of(item: Any) -> str | None:
    """The ``submission_id`` of a raw JSON item when it has a textual one."""
    value = item.get("submission_id") if isinstance(item, Mapping) else None
    return value if isinstance(value, str) else None
