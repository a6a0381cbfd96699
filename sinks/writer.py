"""Idempotent, retrying ClickHouse writes: the sink's half of effectively-once.

The worker commits Kafka offsets only after :meth:`ClickHouseWriter.write`
returned. Each block goes in with ``insert_deduplication_token =
f"{token}:{table}"`` (the token names the Kafka offset range, see
:func:`dedup_token`) and ``deduplicate_blocks_in_dependent_materialized_views
= 1``, so a block sent again, by a retry here or by a replay after a crash,
is dropped by the table and by every progress view it feeds.

Failures are retried with exponential backoff and jitter (tenacity, the
policy in :class:`RetryPolicy`); rows the engine refuses for good
(:func:`is_row_error`) are not retried. When the policy is
spent the writer raises :class:`SinkUnavailable` instead of buffering: the
worker stops consuming (backpressure) and Kafka keeps the data. Blocks that
went in before the failure are not sent again within a call, and would be
deduplicated if they were.

Synchronous on purpose: the worker calls it in a thread executor.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from clickhouse_connect.driver.exceptions import DataError, ProgrammingError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from schemas.errors import ClickHouseError
from schemas.frame import Frame
from schemas.regions import RegionMaster
from sinks.rows import Block, reference_blocks

log = logging.getLogger(__name__)

#: Errors a retry cannot fix because the rows are wrong: the client could not
#: serialise a value, or the engine refused one. Splitting the batch finds the rows.
ROW_ERRORS: tuple[type[BaseException], ...] = (
    DataError,
    TypeError,
    ValueError,
    KeyError,
    OverflowError,
)

#: Engine error codes that name a row's content, not the table, the user or the server:
#: VIOLATED_CONSTRAINT, CANNOT_PARSE_*, TYPE_MISMATCH, CANNOT_CONVERT_TYPE,
#: TOO_LARGE_STRING_SIZE, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, ILLEGAL_TYPE_OF_ARGUMENT,
#: BAD_ARGUMENTS, INCORRECT_DATA, TOO_LARGE_ARRAY_SIZE, SIZES_OF_ARRAYS_DONT_MATCH,
#: FUNCTION_THROW_IF_VALUE_IS_NON_ZERO (a view's throwIf). Anything else (connection,
#: UNKNOWN_TABLE, ACCESS_DENIED, READONLY, MEMORY_LIMIT_EXCEEDED, TOO_MANY_PARTS) is
#: held and retried: an operator can fix it, and quarantining every row would be wrong.
ROW_ERROR_CODES = frozenset(
    {469, 6, 26, 27, 38, 41, 72, 53, 70, 131, 321, 43, 36, 117, 128, 190, 395}
)
_CODE = re.compile(r"\bCode: (\d+)\.")


def is_row_error(exc: BaseException) -> bool:
    """True when the same rows would be refused again: narrow them, do not retry."""
    if isinstance(exc, ROW_ERRORS):
        return True
    if isinstance(exc, ProgrammingError):
        return False
    match = _CODE.search(str(exc))
    return match is not None and int(match.group(1)) in ROW_ERROR_CODES


class SinkUnavailable(ClickHouseError):
    """ClickHouse did not take a batch within the retry policy; stop consuming.

    ``permanent`` is true when retrying cannot help because rows are wrong
    (:func:`is_row_error`): the caller narrows the batch to those rows.
    """

    def __init__(self, message: str, *, table: str, attempts: int, permanent: bool) -> None:
        super().__init__(message)
        self.table = table
        self.attempts = attempts
        self.permanent = permanent


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and by total time."""

    max_attempts: int = 10
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_elapsed_s: float = 120.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Pause after the ``failures``-th failure: half fixed, half random (equal jitter)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (failures - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass
class WriteResult:
    """What one :meth:`ClickHouseWriter.write` took: rows per table, attempts, time."""

    rows: dict[str, int] = field(default_factory=dict)
    attempts: int = 1  # 1 + the failed insert calls
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


#: Called after each failed attempt with (attempt number, table, error, pause before the next).
RetryCallback = Callable[[int, str, BaseException, float], None]


def dedup_token(topic: str, partition: int, first_offset: int, last_offset: int) -> str:
    """The insert token of a batch: the Kafka positions it came from, nothing else.

    A replay of the same offsets gets the same token whatever the content, so
    the tables drop it even if a field like ``written_at`` differs.
    """
    return f"{topic}:{partition}:{first_offset}-{last_offset}"


def block_tokens(blocks: Sequence[Block], token: str) -> list[tuple[Block, str]]:
    """Each block with its insert token: ``{token}:{table}``, ``#2``... for a table seen again.

    Two blocks of one table under one token would make ClickHouse drop the
    second as a duplicate; numbering them keeps both, and stays the same on a
    retry because the order does.
    """
    seen: dict[str, int] = {}
    tokens = []
    for block in blocks:
        seen[block.table] = seen.get(block.table, 0) + 1
        suffix = f"#{seen[block.table]}" if seen[block.table] > 1 else ""
        tokens.append((block, f"{token}:{block.table}{suffix}"))
    return tokens


class InsertClient(Protocol):
    """What the writer needs of a clickhouse-connect ``Client``: its ``insert``.

    Narrow on purpose, so that a fault-injecting proxy in the tests is a
    client too; every ``clickhouse_connect.driver.client.Client`` is one.
    """

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[object]],
        /,
        *,
        column_names: Sequence[str],
        database: str,
        settings: dict[str, object],
    ) -> object: ...


def _retryable(exc: BaseException) -> bool:
    """Network, server, engine, table: all worth another try; wrong rows are not."""
    return isinstance(exc, Exception) and not is_row_error(exc)


class ClickHouseWriter:
    """Writes blocks into ``database`` through one clickhouse-connect client."""

    def __init__(
        self,
        client: InsertClient,
        database: str = "regsosek",
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: RetryCallback | None = None,
        distributed: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.database = database
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_retry = on_retry
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        # On a cluster the tables are Distributed: insert synchronously so the
        # token and settings reach the shards and a success means stored.
        self._extra = {"distributed_foreground_insert": 1} if distributed else {}

    def write(self, blocks: Sequence[Block], token: str) -> WriteResult:
        """Insert every non-empty block, retrying a failed one; SinkUnavailable when spent.

        One policy spans the whole call: attempts and time are counted across
        blocks, and a retry resumes at the block that failed.
        """
        started = time.monotonic()
        result = WriteResult(attempts=0)  # counted by insert_pending
        pending = deque(item for item in block_tokens(blocks, token) if item[0].rows)

        def insert_pending() -> None:
            result.attempts += 1
            while pending:
                block, block_token = pending[0]
                self._insert(block, block_token)
                result.rows[block.table] = result.rows.get(block.table, 0) + len(block)
                pending.popleft()

        def before_sleep(state: RetryCallState) -> None:
            self._retrying(pending[0][0], state)

        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.retry.max_attempts)
            | stop_before_delay(self.retry.max_elapsed_s),
            wait=lambda state: self.retry.delay(state.attempt_number, self._rng),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            retrying(insert_pending)
        except Exception as exc:
            permanent = is_row_error(exc)
            raise self._unavailable(
                pending[0][0], result.attempts, exc, permanent=permanent
            ) from exc
        result.seconds = time.monotonic() - started
        return result

    def _insert(self, block: Block, block_token: str) -> None:
        self.client.insert(
            block.table,
            block.rows,
            column_names=block.columns,
            database=self.database,
            settings={
                "insert_deduplication_token": block_token,
                "deduplicate_blocks_in_dependent_materialized_views": 1,
                **self._extra,
            },
        )

    def _retrying(self, block: Block, state: RetryCallState) -> None:
        """Before each pause: log it and tell the caller (attempt, table, error, pause)."""
        error = state.outcome.exception() if state.outcome else None
        pause = state.upcoming_sleep
        log.warning(
            "insert into %s.%s failed (attempt %d), retrying in %.1fs: %s",
            self.database,
            block.table,
            state.attempt_number,
            pause,
            error,
        )
        if self._on_retry is not None and error is not None:
            self._on_retry(state.attempt_number, block.table, error, pause)

    def _unavailable(
        self, block: Block, attempts: int, exc: BaseException, *, permanent: bool
    ) -> SinkUnavailable:
        why = "cannot be retried" if permanent else f"failed {attempts} times"
        return SinkUnavailable(
            f"insert into {self.database}.{block.table} {why}: {exc}",
            table=block.table,
            attempts=attempts,
            permanent=permanent,
        )


def load_reference(
    writer: ClickHouseWriter,
    regions: RegionMaster,
    frame: Frame,
    *,
    loaded_at: datetime | None = None,
) -> WriteResult:
    """Write the master data and frame (at worker start); the newest load wins.

    The token names the load time, not the content: reloading an older frame
    after a newer one must insert again, which a content token would forbid.
    """
    when = loaded_at or datetime.now(UTC)
    return writer.write(reference_blocks(regions, frame), f"reference:{when.isoformat()}")
