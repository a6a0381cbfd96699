"""The embedded engine in a child process of its own, driven through a pipe.

chdb hosts one engine per process, bound to the data path and the startup
arguments (``--config-file``) of its first connection; the test session's
engine stays open for the whole run, so an engine with another configuration
(a cluster, macros, ZooKeeper) has to live in another process. The child runs
``python -m tests.engine_process PATH CONFIG`` and answers length-prefixed
pickles (we start it and trust it) with the results of clickhouse-connect's
``command``, ``query`` and ``insert``; an engine error comes back as
:class:`EngineError` with ClickHouse's code name, so a test can assert on it.
"""

from __future__ import annotations

import os
import pickle
import re
import struct
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

_HEADER = struct.Struct("!I")
_CODE_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
CLOSE_TIMEOUT_S = 60.0


class EngineError(Exception):
    """What the engine refused, with ClickHouse's error name (``TABLE_IS_READ_ONLY``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        match = _CODE_NAME.search(message)
        self.code = match.group(1) if match else ""


@dataclass(frozen=True)
class Rows:
    """A query's answer: its column names and rows."""

    columns: list[str]
    rows: list[tuple[object, ...]]

    def dicts(self) -> list[dict[str, object]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class InsertRequest:
    """One block for ``Client.insert``, as it crosses the pipe."""

    table: str
    rows: list[list[object]]
    column_names: list[str]
    database: str
    settings: dict[str, object]


def _send(stream: IO[bytes], message: object) -> None:
    payload = pickle.dumps(message)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> object:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the engine process closed its pipe")
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))  # noqa: S301 - our own child process


class EngineProcess:
    """A chdb engine at ``path`` started with ``--config-file=config`` in a child process.

    ``insert`` has :class:`sinks.writer.InsertClient`'s shape, so the product's
    writer writes through it unchanged.
    """

    def __init__(self, path: Path, config: Path, log: Path) -> None:
        self.log = log
        with log.open("wb") as err:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.engine_process", str(path), str(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=Path(__file__).resolve().parents[1],
            )
        self._call("ping")

    @property
    def pid(self) -> int:
        return self._process.pid

    def _call(self, method: str, *args: object) -> object:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        _send(stdin, (method, args))
        try:
            status, value = cast(tuple[str, object], _receive(stdout))
        except EOFError as exc:
            raise RuntimeError(f"engine process {self.pid} died; see {self.log}") from exc
        if status == "error":
            raise EngineError(str(value))
        return value

    def command(self, sql: str) -> None:
        self._call("command", sql)

    def query(self, sql: str, parameters: Mapping[str, object] | None = None) -> Rows:
        answer = self._call("query", sql, dict(parameters or {}))
        columns, rows = cast(tuple[list[str], list[list[object]]], answer)
        return Rows(list(columns), [tuple(row) for row in rows])

    def scalar(self, sql: str) -> object:
        return self.query(sql).rows[0][0]

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[object]],
        /,
        *,
        column_names: Sequence[str],
        database: str,
        settings: dict[str, object],
    ) -> object:
        request = InsertRequest(
            table, [list(row) for row in data], list(column_names), database, dict(settings)
        )
        return self._call("insert", request)

    def close(self) -> None:
        """Close the engine; a child that hangs on it is killed (by its pid), not waited for."""
        try:
            self._call("close")
            self._process.wait(timeout=CLOSE_TIMEOUT_S)
        except (RuntimeError, subprocess.TimeoutExpired, BrokenPipeError):
            self._process.kill()
            self._process.wait(timeout=CLOSE_TIMEOUT_S)


def _serve(path: str, config: str) -> None:
    """The child: one clickhouse-connect client on chdb, answering until told to close."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the engine prints goes to the log, never into the pipe
    import clickhouse_connect  # noqa: PLC0415 - after the redirect

    client = clickhouse_connect.get_client(
        interface="chdb", path=path, chdb_options={"config-file": config}
    )
    requests = sys.stdin.buffer
    while True:
        request = _receive(requests)
        method, args = cast(tuple[str, tuple[object, ...]], request)
        try:
            value: object = None
            if method == "command":
                client.command(str(args[0]))
            elif method == "query":
                parameters = cast(dict[str, object], args[1])
                result = client.query(str(args[0]), parameters=parameters)
                value = (list(result.column_names), [list(row) for row in result.result_rows])
            elif method == "insert":
                block = cast(InsertRequest, args[0])
                client.insert(
                    block.table,
                    block.rows,
                    column_names=block.column_names,
                    database=block.database,
                    settings=block.settings,
                )
            elif method == "close":
                client.close()
                _send(replies, ("ok", None))
                return
            _send(replies, ("ok", value))
        except Exception as exc:  # the engine's errors are the answer
            _send(replies, ("error", str(exc)))


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
