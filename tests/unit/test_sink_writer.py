"""Retry arithmetic of the writer, against a recording stand-in for the client.

The integration tests run the same writer on the real engine with injected
faults; these pin the policy: what is retried, how often, and what is not.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    DataError,
    OperationalError,
    ProgrammingError,
)

from sinks.rows import Block
from sinks.writer import (
    ClickHouseWriter,
    RetryPolicy,
    SinkUnavailable,
    dedup_token,
    is_row_error,
)


class Recorder:
    """Takes inserts; fails the first ``failures`` calls with ``error``."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or OperationalError("connection reset")
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def insert(self, table: str, rows: Any, **kwargs: Any) -> None:
        self.calls.append((table, kwargs))
        if self.failures:
            self.failures -= 1
            raise self.error


def two_blocks() -> list[Block]:
    return [
        Block("households", ["household_id"], [["h1"], ["h2"]]),
        Block("members", ["household_id"], [["h1"]]),
        Block("empty", [], []),
    ]


def writer(client: Recorder, policy: RetryPolicy, pauses: list[float]) -> ClickHouseWriter:
    return ClickHouseWriter(client, "db", retry=policy, sleep=pauses.append, rng=random.Random(1))


def test_token_names_the_offsets() -> None:
    assert dedup_token("regsosek.submissions.valid", 3, 100, 199) == (
        "regsosek.submissions.valid:3:100-199"
    )


def test_each_block_gets_its_own_token_and_mv_deduplication() -> None:
    client = Recorder()
    result = writer(client, RetryPolicy(), []).write(two_blocks(), "t:0:1-2")
    assert [table for table, _ in client.calls] == ["households", "members"]  # empty skipped
    settings = client.calls[0][1]["settings"]
    assert settings["insert_deduplication_token"] == "t:0:1-2:households"
    assert settings["deduplicate_blocks_in_dependent_materialized_views"] == 1
    assert client.calls[0][1]["database"] == "db"
    assert (result.rows, result.attempts, result.total_rows) == (
        {"households": 2, "members": 1},
        1,
        3,
    )


def test_failures_are_retried_with_growing_jittered_pauses() -> None:
    client, pauses = Recorder(failures=3), list[float]()
    seen: list[int] = []
    policy = RetryPolicy(max_attempts=10, base_delay_s=1.0, max_delay_s=3.0)
    w = ClickHouseWriter(
        client,
        "db",
        retry=policy,
        sleep=pauses.append,
        on_retry=lambda attempt, table, exc, pause: seen.append(attempt),
    )
    result = w.write(two_blocks(), "t")
    assert result.attempts == 4 and seen == [1, 2, 3]
    assert 0.5 <= pauses[0] <= 1.0 and 1.0 <= pauses[1] <= 2.0 and 1.5 <= pauses[2] <= 3.0
    assert [table for table, _ in client.calls] == ["households"] * 4 + ["members"]


def test_spent_policy_raises_sink_unavailable() -> None:
    client, pauses = Recorder(failures=100), list[float]()
    with pytest.raises(SinkUnavailable) as caught:
        writer(client, RetryPolicy(max_attempts=3, base_delay_s=0.01), pauses).write(
            two_blocks(), "t"
        )
    assert (caught.value.attempts, caught.value.table, caught.value.permanent) == (
        3,
        "households",
        False,
    )
    assert caught.value.exit_code == 7  # a ClickHouseError
    assert len(client.calls) == 3 and len(pauses) == 2


def test_time_budget_ends_retries_before_attempts_do() -> None:
    client = Recorder(failures=100)
    policy = RetryPolicy(max_attempts=100, base_delay_s=10.0, max_elapsed_s=1.0)
    with pytest.raises(SinkUnavailable):
        writer(client, policy, []).write(two_blocks(), "t")
    assert len(client.calls) == 1


def test_rows_the_client_cannot_serialise_are_not_retried() -> None:
    client = Recorder(failures=1, error=DataError("value out of range"))
    pauses: list[float] = []
    with pytest.raises(SinkUnavailable) as caught:
        writer(client, RetryPolicy(), pauses).write(two_blocks(), "t")
    assert caught.value.permanent and caught.value.attempts == 1 and pauses == []


@pytest.mark.parametrize(
    ("error", "row"),
    [
        (DatabaseError("Code: 469. DB::Exception: Constraint `c` is violated"), True),
        (DatabaseError("Code: 321. DB::Exception: out of range (VALUE_IS_OUT_OF_RANGE)"), True),
        (DatabaseError("Code: 60. DB::Exception: Table x does not exist (UNKNOWN_TABLE)"), False),
        (DatabaseError("Code: 241. DB::Exception: Memory limit exceeded"), False),
        (ProgrammingError("Unrecognized column"), False),
        (ConnectionError("refused"), False),
        (OverflowError("int too big"), True),
    ],
)
def test_row_errors_are_told_from_errors_of_the_table_or_the_server(
    error: Exception, row: bool
) -> None:
    assert is_row_error(error) is row


def test_distributed_inserts_are_synchronous() -> None:
    client = Recorder()
    ClickHouseWriter(client, "db", distributed=True).write(two_blocks(), "t")
    assert client.calls[0][1]["settings"]["distributed_foreground_insert"] == 1


def test_delay_never_exceeds_the_cap() -> None:
    policy, rng = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0), random.Random(7)
    assert all(0.25 <= policy.delay(n, rng) <= 4.0 for n in range(1, 30))


def test_a_table_seen_twice_gets_a_second_token_not_a_silent_drop() -> None:
    client = Recorder()
    again = [Block("rejection_payloads", ["x"], [[1]]), Block("rejection_payloads", ["x"], [[2]])]
    writer(client, RetryPolicy(), []).write(again, "t")
    tokens = [kwargs["settings"]["insert_deduplication_token"] for _table, kwargs in client.calls]
    assert tokens == ["t:rejection_payloads", "t:rejection_payloads#2"]
