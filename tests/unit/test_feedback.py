"""Feedback to the field, pure parts: cursor, status, messages, the worker page's parameters."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from multidict import MultiDict
from pydantic import SecretStr

from processors.feedback import PLACEHOLDER, feedback_item, reason, status_of
from processors.rules import RULES_BY_CODE
from schemas.errors import ConfigurationError
from schemas.frame import Enumerator, Frame
from sinks.feedback import (
    MAX_LIMIT,
    START,
    BadCursor,
    Position,
    decode_cursor,
    encode_cursor,
    feedback_parameters,
    feedback_sql,
    next_position,
)
from streams.gateway.feedback import field_parameters, read_worker_token, scope
from streams.gateway.payloads import Problem
from streams.sdk_feedback import FeedbackClient, FeedbackError
from streams.worker.feedback import feedback_body, feedback_query, iso_ms
from streams.worker.web import BadParameter


def test_a_cursor_round_trips_and_no_cursor_is_the_start() -> None:
    position = Position(1_666_000_000_123, "35.09.02.2001-0003-0001-01")
    assert decode_cursor(encode_cursor(position)) == position
    assert decode_cursor(None) == START
    assert decode_cursor("") == START


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),  # checksum edited
        lambda c: c.split(".")[0],  # checksum dropped
        lambda c: "A" + c,  # payload edited
        lambda c: c[: len(c) // 2],  # truncated
        lambda c: "!!!." + c.split(".")[1],  # not base64url
        lambda c: "x" * 3000,
    ],
)
def test_an_altered_cursor_is_refused(tamper: object) -> None:
    cursor = encode_cursor(Position(1_666_000_000_123, "h1"))
    with pytest.raises(BadCursor):
        decode_cursor(tamper(cursor))  # type: ignore[operator]


def test_a_forged_cursor_with_a_matching_checksum_but_no_position_is_refused() -> None:
    import hashlib  # noqa: PLC0415 - only this test forges

    for data in ({"v": 2, "t": 1, "k": "h"}, {"v": 1, "t": "1", "k": "h"}, {"v": 1, "t": -1}):
        payload = json.dumps(data).encode()
        token = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        with pytest.raises(BadCursor):
            decode_cursor(f"{token}.{hashlib.sha256(payload).hexdigest()[:8]}")


def test_positions_order_by_time_then_key_and_the_next_one_follows_the_last_row() -> None:
    assert Position(1, "b") < Position(2, "a") < Position(2, "b")
    rows = [{"updated_ms": 5, "household_id": "a"}, {"updated_ms": 7, "household_id": "c"}]
    assert next_position(rows, START) == Position(7, "c")
    assert next_position([], Position(3, "x")) == Position(3, "x")


def test_the_query_binds_every_value_and_checks_the_database_name() -> None:
    sql = feedback_sql("regsosek")
    for name in ("enumerators", "topic", "after_ms", "after_key", "settle_ms", "limit"):
        assert "{" + name + ":" in sql
    params = feedback_parameters(["b", "a", "a"], Position(9, "k"), topic="t", settle_ms=-5)
    assert params["enumerators"] == ["a", "b"] and params["settle_ms"] == 0
    with pytest.raises(ValueError, match="limit"):
        feedback_parameters(["a"], START, topic="t", limit=MAX_LIMIT + 1)
    with pytest.raises(Exception, match="identifier"):
        feedback_sql("regsosek; DROP TABLE x")


@pytest.mark.parametrize(
    ("rejected", "review", "revised", "warnings", "expected"),
    [
        (False, "AWAITING_REVIEW", 0, [], "accepted"),
        (False, "AWAITING_REVIEW", 0, ["GPS_OUTSIDE_VILLAGE"], "accepted_with_warnings"),
        (False, "AWAITING_REVIEW", 1, [], "awaiting_review"),
        (False, "RETURNED", 0, [], "returned"),
        (False, "APPROVED", 0, ["X"], "approved"),
        (False, "REJECTED_FINAL", 0, [], "rejected_final"),
        (True, "REJECTED_FINAL", 0, [], "rejected_final"),  # terminal
        (True, "APPROVED", 0, [], "rejected"),  # a later revision was rejected
        (True, None, 0, [], "rejected"),  # never became a household
    ],
)
def test_status_mapping(
    rejected: bool, review: str | None, revised: int, warnings: list[str], expected: str
) -> None:
    assert (
        status_of(rejected=rejected, review_status=review, revised=revised, warnings=warnings)
        == expected
    )


def test_reasons_carry_the_catalogue_messages_without_their_placeholders() -> None:
    code = next(c for c, rule in RULES_BY_CODE.items() if "{" in rule.message_en)
    rule = RULES_BY_CODE[code]
    found = reason(code, "members[1].nik")
    assert found["field"] == "members[1].nik"
    assert found["severity"] == rule.severity.value
    assert "{" not in found["message_en"] and PLACEHOLDER in found["message_en"]
    assert "{" not in found["message_id"] and found["message_id"] != found["message_en"]
    unknown = reason("NO_SUCH_CODE", "")
    assert unknown["field"] is None and "NO_SUCH_CODE" in unknown["message_en"]


def test_an_item_shows_the_comment_only_when_returned_or_rejected_for_good() -> None:
    row = {
        "household_id": "h1",
        "submission_id": "s1",
        "revision": 2,
        "rejected": False,
        "review_status": "RETURNED",
        "revised": 0,
        "warning_codes": ["AGE_BIRTHDATE_MISMATCH"],
        "reason_codes": [],
        "reason_fields": [],
        "comment": "cek umur",
    }
    item = feedback_item(row, "2022-10-22T00:00:00.000+00:00")
    assert item["status"] == "returned" and item["comment"] == "cek umur"
    assert [r["code"] for r in item["reasons"]] == ["AGE_BIRTHDATE_MISMATCH"]
    approved = feedback_item(row | {"review_status": "APPROVED"}, "t")
    assert approved["comment"] is None
    rejected = feedback_item(
        row | {"rejected": True, "reason_codes": ["A", "B"], "reason_fields": ["x"]}, "t"
    )
    assert [(r["code"], r["field"]) for r in rejected["reasons"]] == [("A", "x"), ("B", None)]


def test_the_worker_page_checks_its_parameters() -> None:
    cursor = encode_cursor(Position(5, "h"))
    assert feedback_query({"enumerators": "0412,0411,0412", "cursor": cursor, "limit": "7"}) == (
        ["0411", "0412"],
        Position(5, "h"),
        7,
    )
    for bad in (
        {},
        {"enumerators": ""},
        {"enumerators": "04 12"},
        {"enumerators": "0412", "limit": "0"},
        {"enumerators": "0412", "limit": str(MAX_LIMIT + 1)},
        {"enumerators": "0412", "limit": "9" * 5000},  # past Python's int parsing limit
        {"enumerators": "0412", "cursor": cursor + "x"},
        {"enumerators": "0412", "other": "1"},
    ):
        with pytest.raises(BadParameter):
            feedback_query(bad)


def test_the_page_body_returns_the_cursor_of_its_last_row() -> None:
    body = feedback_body([], Position(3, "h"), 10)
    assert decode_cursor(body["cursor"]) == Position(3, "h") and body["items"] == []
    assert iso_ms(1_666_396_800_123) == "2022-10-22T00:00:00.123+00:00"


# --- the gateway's side: whose households, parameters, the worker's token -----------------


def _frame() -> Frame:
    return Frame.build(
        [
            Enumerator("0412", "041", "35.09"),
            Enumerator("0413", "041", "35.09"),
            Enumerator("0511", "051", "35.09"),
        ],
        [],
        [],
    )


def test_an_enumerator_sees_themselves_and_a_supervisor_their_team() -> None:
    frame = _frame()
    assert scope(frame, "0412", None) == ["0412"]
    assert scope(frame, "0412", "0412") == ["0412"]
    assert "only their own" in str(scope(frame, "0412", "0413"))
    assert scope(frame, "041", None) == ["041", "0412", "0413"]
    assert scope(frame, "041", "0413") == ["0413"]
    assert "team" in str(scope(frame, "041", "0511"))
    assert scope(frame, "051", None) == ["051", "0511"]


def test_the_gateway_takes_only_its_own_parameters_once() -> None:
    assert field_parameters({"cursor": "c", "limit": "5"}) == {"cursor": "c", "limit": "5"}
    with pytest.raises(Problem) as unknown:
        field_parameters({"enumerators": "0413"})  # the worker's parameter, not the app's
    assert unknown.value.status == 400
    with pytest.raises(Problem):
        field_parameters(MultiDict([("limit", "1"), ("limit", "2")]))


def test_the_worker_token_comes_from_its_file_first(tmp_path: Path) -> None:
    file = tmp_path / "worker-token"
    file.write_text("# operator token for the gateway\nsecret-token-0123456789\n")
    assert read_worker_token(SecretStr("env"), file).get_secret_value() == (
        "secret-token-0123456789"
    )
    assert read_worker_token(SecretStr("env"), None).get_secret_value() == "env"
    file.write_text("\n# nothing\n")
    with pytest.raises(ConfigurationError, match="no token"):
        read_worker_token(SecretStr(""), file)
    with pytest.raises(ConfigurationError):
        read_worker_token(SecretStr(""), tmp_path / "missing")


# --- the SDK's client: paging and bounded retries ----------------------------------------


def test_the_sdk_follows_more_and_retries_a_busy_gateway_a_bounded_number_of_times() -> None:
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        cursor = request.url.params.get("cursor")
        if len(calls) == 1:
            return httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "7"})
        if cursor is None:
            return httpx.Response(200, json={"items": [{"n": 1}], "cursor": "c1", "more": True})
        return httpx.Response(200, json={"items": [], "cursor": "c2", "more": False})

    waits: list[float] = []
    client = FeedbackClient(
        "http://gw/", "tok", transport=httpx.MockTransport(answer), sleep=waits.append
    )
    pages = list(client.sync())
    assert [p.cursor for p in pages] == ["c1", "c2"] and pages[0].items == [{"n": 1}]
    assert waits == [7.0]
    assert calls[0].headers["Authorization"] == "Bearer tok"
    assert calls[-1].url.params["cursor"] == "c1"

    always_busy = FeedbackClient(
        "http://gw",
        "tok",
        attempts=3,
        transport=httpx.MockTransport(lambda r: httpx.Response(503, headers={"Retry-After": "2"})),
        sleep=waits.append,
    )
    with pytest.raises(FeedbackError) as busy:
        always_busy.changes()
    assert busy.value.status == 503 and busy.value.retry_after == 2.0
    forbidden = FeedbackClient(
        "http://gw",
        "tok",
        transport=httpx.MockTransport(lambda r: httpx.Response(403, json={"error": "no"})),
        sleep=waits.append,
    )
    with pytest.raises(FeedbackError, match="403: no"):
        forbidden.changes(enumerator_id="0413")  # not retried
