"""Parsing request bodies and shaping answers, without a server or a broker."""

from __future__ import annotations

import pytest

from schemas.limits import TOO_LARGE_CODE
from schemas.validate import FieldError
from streams.gateway.payloads import (
    JSON_TOO_DEEP,
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    NUMBER_NOT_FINITE,
    NUMBER_TOO_LONG,
    ItemResult,
    Problem,
    accepted,
    batch_body,
    batch_items,
    batch_status,
    error_body,
    is_json_content_type,
    json_depth,
    not_acknowledged,
    parse_json,
    receipt_body,
    refused,
    too_large,
)
from streams.sdk import Receipt

RECEIPT = Receipt("regsosek.submissions", 2, 41, "sub-1")


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("Application/JSON", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("application/octet-stream", False),
        ("", False),
    ],
)
def test_json_content_types(content_type: str, ok: bool) -> None:
    assert is_json_content_type(content_type) is ok


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"a": 1,',
            "malformed JSON: Expecting property name enclosed in double quotes at line 1",
        ),
        (b"", "malformed JSON: empty body"),
        (b"\xff\xfe", "malformed JSON: body is not UTF-8"),
        (b'{"latitude": NaN}', "malformed JSON: NaN is not a JSON number"),
    ],
)
def test_malformed_json_is_400_saying_where(body: bytes, message: str) -> None:
    with pytest.raises(Problem) as caught:
        parse_json(body)
    assert caught.value.status == 400
    assert caught.value.message.startswith(message)


def test_batch_forms_and_limits() -> None:
    assert batch_items([{"a": 1}], 5) == [{"a": 1}]
    assert batch_items({"submissions": [{"a": 1}, {}]}, 5) == [{"a": 1}, {}]
    bad_batches: list[object] = [
        {"a": 1},
        {"submissions": {}},
        "x",
        [],
        {"submissions": [], "more": 1},
    ]
    for bad in bad_batches:
        with pytest.raises(Problem) as caught:
            batch_items(bad, 5)
        assert caught.value.status == 400
    with pytest.raises(Problem) as too_many:
        batch_items([{}] * 6, 5)
    assert too_many.value.status == 413
    assert "6 submissions; at most 5" in too_many.value.message


def test_error_body_lists_fields_only_when_there_are_some() -> None:
    assert error_body("nope") == {"error": "nope"}
    body = error_body("bad", [FieldError("members[0].sex", "unknown enum symbol 'L'")])
    assert body["errors"] == [{"path": "members[0].sex", "problem": "unknown enum symbol 'L'"}]


def test_receipt_body() -> None:
    assert receipt_body(RECEIPT) == {
        "submission_id": "sub-1",
        "topic": "regsosek.submissions",
        "partition": 2,
        "offset": 41,
    }


def _mixed() -> list[ItemResult]:
    invalid = Problem(400, "1 invalid field(s)", [FieldError("revision", "expected int")])
    return [
        refused(1, {"submission_id": "sub-2"}, invalid),
        accepted(0, RECEIPT),
        refused(2, ["not", "an", "object"], Problem(403, "not yours")),
    ]


def test_all_accepted_is_202_and_mixed_is_207() -> None:
    assert batch_status([accepted(0, RECEIPT), accepted(1, RECEIPT)]) == 202
    assert batch_status(_mixed()) == 207
    assert batch_status([refused(0, {}, Problem(400, "x"))]) == 207


def test_any_unacknowledged_item_makes_the_batch_503() -> None:
    results = [accepted(0, RECEIPT), not_acknowledged(1, {"submission_id": "sub-2"})]
    assert batch_status(results) == 503
    body = batch_body(results)
    assert "error" in body
    assert body["results"][1] == {
        "index": 1,
        "status": 503,
        "submission_id": "sub-2",
        "error": "not acknowledged by Kafka; send again",
    }


def test_batch_body_is_in_request_order_with_per_item_details() -> None:
    body = batch_body(_mixed())
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [item["index"] for item in body["results"]] == [0, 1, 2]
    assert body["results"][0]["offset"] == 41
    assert body["results"][1]["errors"] == [{"path": "revision", "problem": "expected int"}]
    assert body["results"][2]["submission_id"] is None
    assert "error" not in body


def test_a_too_large_submission_is_413_with_its_reason_code() -> None:
    problem = too_large(f"{TOO_LARGE_CODE}: HouseholdSubmission sub-3 is 600000 bytes")
    assert problem.status == 413
    assert problem.body() == {
        "error": f"{TOO_LARGE_CODE}: HouseholdSubmission sub-3 is 600000 bytes",
        "code": TOO_LARGE_CODE,
    }
    item = refused(3, {"submission_id": "sub-3"}, problem)
    assert item.body() == {
        "index": 3,
        "status": 413,
        "submission_id": "sub-3",
        "error": problem.message,
        "code": TOO_LARGE_CODE,
    }
    assert batch_status([accepted(0, RECEIPT), item]) == 207


def test_error_body_carries_a_code_only_when_there_is_one() -> None:
    assert "code" not in error_body("nope")
    assert "code" not in Problem(400, "x", [FieldError("a", "b")]).body()
    assert error_body("big", code="X") == {"error": "big", "code": "X"}


# --- pathological JSON: always a 400 with a reason code, never another exception ------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 100_000 + b"]" * 100_000, JSON_TOO_DEEP),  # the C parser would recurse
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, JSON_TOO_DEEP),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), JSON_TOO_DEEP),
        (b"9" * 400, NUMBER_TOO_LONG),
        (b'{"revision": ' + b"1" * 5_000 + b"}", NUMBER_TOO_LONG),  # int() refuses > 4,300
        (b"0." + b"1" * 400, NUMBER_TOO_LONG),
        (b"[1e400]", NUMBER_NOT_FINITE),
        (b"-1e400", NUMBER_NOT_FINITE),
        (b'{"x": NaN}', NUMBER_NOT_FINITE),
        (b"[Infinity]", NUMBER_NOT_FINITE),
        (b"-Infinity", NUMBER_NOT_FINITE),
    ],
)
def test_pathological_json_is_400_with_a_reason_code(body: bytes, code: str) -> None:
    with pytest.raises(Problem) as caught:
        parse_json(body)
    assert caught.value.status == 400
    assert caught.value.code == code
    assert caught.value.body()["code"] == code


def test_what_is_at_the_limits_still_parses() -> None:
    deepest = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_depth(deepest) == MAX_JSON_DEPTH
    assert parse_json(deepest) is not None
    longest = "-" + "9" * (MAX_NUMBER_CHARS - 1)
    assert parse_json(longest.encode()) == int(longest)
    assert parse_json(b"[1.7976931348623157e308, -0.0, 5e-324]") == [
        1.7976931348623157e308,
        -0.0,
        5e-324,
    ]


def test_brackets_inside_strings_do_not_nest() -> None:
    body = b'{"note": "[[[[{{{{ \\" [[[[", "list": [[1], {"a": []}]}'
    assert json_depth(body) == 4  # object > list > object > list
    assert parse_json(body)["list"] == [[1], {"a": []}]
    hidden = b'["' + b"[" * 10_000 + b'"]'
    assert json_depth(hidden) == 1
