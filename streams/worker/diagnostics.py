"""What the worker's Kafka consumer is doing, for an operator asking "why is lag not falling?".

Group lag says *that* a worker is behind; it cannot say whether the worker is
busy, paused by backpressure, stuck in a rebalance, or waiting on a batch it
will never get. Faust keeps those answers in its consumer, conductor and
agent tasks; ``/debug/consumer`` reads them (read-only) and prints them as
JSON. The fields come from Faust internals, so every read is defensive: a
Faust upgrade may blank a field, never break the page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from streams.worker.commits import CommitState


def _tp(tp: Any) -> str:
    return f"{tp.topic}[{tp.partition}]"


def _tps(tps: Iterable[Any] | None) -> list[str] | None:
    return None if tps is None else sorted(_tp(tp) for tp in tps)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    try:
        return getattr(obj, name, default)
    except Exception:  # a property of a stopped service may raise: report it as unknown
        return default


def _age(then: float | None) -> float | None:
    return None if then is None else round(time.monotonic() - then, 1)


def first_missing(committed: int | None, acked: Iterable[int], limit: int = 10) -> list[int]:
    """Offsets from the committed one up to the highest acked one that nobody acked.

    Faust commits only up to the first of them, so these are where a stuck
    commit is stuck.
    """
    done = set(acked)
    if committed is None or not done:
        return []
    missing: list[int] = []
    for offset in range(committed, max(done)):
        if offset not in done:
            missing.append(offset)
            if len(missing) == limit:
                break
    return missing


def waiting_for_commit(
    committed: int | None, read: int | None, acked: int, commit_in_flight: bool
) -> int:
    """How many processed offsets of a partition wait for a commit (the commit watch's input).

    The acked offsets Faust holds, plus, while a commit is in flight, one for a
    partition read past its committed offset: Faust takes the acked offsets out
    of its list when a commit starts, so a commit that never returns (one seen
    waiting on a producer flush for good) left nothing to count and the watch
    never saw the stall. A normal commit is in flight for milliseconds, and the
    watch resets whenever it sees nothing waiting, so only a stuck one adds up.
    """
    read_uncommitted = read is not None and (committed is None or read >= committed)
    return acked + (1 if commit_in_flight and read_uncommitted else 0)


def commit_progress(consumer: Any) -> dict[tuple[str, int], CommitState]:
    """Committed offset and processed offsets waiting for a commit, per assigned partition."""
    try:
        assignment = consumer.assignment()
    except Exception:  # not yet started or between generations: nothing to watch
        return {}
    committed = _get(consumer, "_committed_offset", {}) or {}
    read = _get(consumer, "_read_offset", {}) or {}
    acked = _get(consumer, "_acked", {}) or {}
    commit_fut = _get(consumer, "_commit_fut")
    in_flight = commit_fut is not None and not commit_fut.done()
    return {
        (tp.topic, tp.partition): CommitState(
            committed.get(tp),
            waiting_for_commit(
                committed.get(tp), read.get(tp), len(acked.get(tp) or ()), in_flight
            ),
        )
        for tp in assignment
    }


def consumer_state(consumer: Any) -> dict[str, Any]:
    """Assignment, fetch state and commit bookkeeping of Faust's consumer."""
    try:
        assignment = consumer.assignment()
    except Exception:  # not yet started or between generations
        assignment = set()
    committed = _get(consumer, "_committed_offset", {}) or {}
    read = _get(consumer, "_read_offset", {}) or {}
    acked = _get(consumer, "_acked", {}) or {}
    gaps = _get(consumer, "_gap", {}) or {}
    unacked = _get(consumer, "unacked", ()) or ()
    last_commit = _get(_get(consumer, "_thread"), "tp_last_committed_at", {}) or {}
    commit_fut = _get(consumer, "_commit_fut")
    waiting: dict[Any, list[int]] = {}
    for message in list(unacked):
        waiting.setdefault(message.tp, []).append(message.offset)
    partitions = {
        _tp(tp): {
            "committed": committed.get(tp),
            "read": read.get(tp),
            "acked_pending": len(acked.get(tp, ()) or ()),
            "lowest_acked": min(acked.get(tp) or (), default=None),
            "gaps": len(gaps.get(tp, ()) or ()),
            "unacked_offsets": sorted(waiting.get(tp, []))[:10],
            "first_missing": first_missing(committed.get(tp), acked.get(tp) or ()),
            "acked_duplicates": len(acked.get(tp) or []) - len(set(acked.get(tp) or [])),
            "last_commit_age_s": _age(last_commit.get(tp)),
        }
        for tp in sorted(assignment, key=_tp)
    }
    return {
        "flow_active": _get(consumer, "flow_active"),
        "assignment": _tps(assignment),
        "active": _tps(_get(consumer, "_active_partitions")),
        "paused": _tps(_get(consumer, "_paused_partitions")),
        "buffered_backpressure": _tps(_get(consumer, "_buffered_partitions")),
        "unacked": len(unacked),
        "commit_in_flight": None if commit_fut is None else not commit_fut.done(),
        "acks_since_commit": _get(consumer, "_n_acked"),
        "partitions": partitions,
    }


def producer_state(producer: Any) -> dict[str, Any]:
    """Batches Faust's producer has not delivered yet, per partition, with the leader it sees.

    Faust flushes this producer before every offset commit, so one batch that is
    never delivered (a partition whose leader the producer never learns) keeps the
    commit in flight: here is which partition, since when, and to which broker.
    """
    client = _get(producer, "_producer")
    accumulator = _get(client, "_message_accumulator")
    if accumulator is None:
        return {}
    cluster = _get(_get(client, "client"), "cluster")
    in_flight = _get(_get(client, "_sender"), "_in_flight", ()) or ()
    pending: dict[str, Any] = {}
    for tp, batches in list((_get(accumulator, "_batches", {}) or {}).items()):
        leader = None
        if cluster is not None:
            try:
                leader = cluster.leader_for_partition(tp)
            except Exception:  # a topic the metadata dropped meanwhile: unknown
                leader = None
        pending[_tp(tp)] = {
            "batches": len(batches),
            "oldest_age_s": _age(min((_get(b, "_ctime", 0.0) for b in batches), default=None)),
            "leader": leader,
        }
    return {
        "queued": pending,
        "sending_batches": len(_get(accumulator, "_pending_batches", ()) or ()),
        "nodes_in_flight": sorted(in_flight),
    }


def channel_state(topics: Iterable[Any]) -> dict[str, Any]:
    """Queue fill of each subscribed topic's channel: a full queue is backpressure."""
    out: dict[str, Any] = {}
    for topic in topics:
        queue = _get(topic, "queue")
        if queue is None:
            continue
        name = ",".join(_get(topic, "topics", ()) or ()) or repr(topic)
        out[name] = {
            "size": queue.qsize(),
            "maxsize": queue.maxsize,
            "pending_pressure_drops": len(
                _get(queue, "_pending_pressure_drop_callbacks", ()) or ()
            ),
        }
    return out


def _await_chain(coro: Any, limit: int = 12) -> list[str]:
    """Where a suspended coroutine waits: follow ``cr_await`` down to the innermost awaitable."""
    where: list[str] = []
    while coro is not None and len(where) < limit:
        frame = _get(coro, "cr_frame") or _get(coro, "ag_frame") or _get(coro, "gi_frame")
        if frame is not None:
            file = frame.f_code.co_filename.rsplit("/", 2)[-1]
            where.append(f"{file}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = _get(coro, "cr_await") or _get(coro, "ag_await") or _get(coro, "gi_yieldfrom")
    return where


def task_state(loop: asyncio.AbstractEventLoop | None = None) -> list[dict[str, Any]]:
    """Every task of ``loop`` (default: the running one) and the chain of awaits it waits in.

    Faust runs its Kafka consumer (group coordinator, commits, fetches) on a loop
    of its own in a thread; a commit that never returns waits there, invisible
    in the main loop's tasks, so the page lists that loop's tasks too.
    """
    tasks = [
        {"task": task.get_name(), "at": _await_chain(task.get_coro())}
        for task in asyncio.all_tasks(loop)
    ]
    return sorted(tasks, key=lambda t: t["at"])


def agent_state(app: Any) -> dict[str, list[list[str]]]:
    """Each agent's actors and where their coroutines wait (the task list cannot see inside)."""
    agents = _get(app, "agents", {}) or {}
    return {
        name: [_await_chain(_get(actor, "it")) for actor in _get(agent, "_actors", ()) or ()]
        for name, agent in sorted(agents.items())
    }


def snapshot(app: Any) -> dict[str, Any]:
    """The whole page: app flags, consumer, channels, agents and tasks."""
    flow = _get(app, "flow_control")
    return {
        "generation": _get(app, "consumer_generation_id"),
        "rebalancing": _get(app, "rebalancing"),
        "in_recovery": _get(app, "in_recovery"),
        "flow_control_active": flow.is_active() if flow is not None else None,
        "consumer": consumer_state(app.consumer),
        "producer": producer_state(_get(app, "producer")),
        "channels": channel_state(_get(app.topics, "_topics", ()) or ()),
        "agents": agent_state(app),
        "tasks": task_state(),
        "consumer_thread_tasks": _thread_tasks(app.consumer),
    }


def _thread_tasks(consumer: Any) -> list[dict[str, Any]] | None:
    """The tasks of the consumer thread's loop (aiokafka's coordinator, fetcher, commits)."""
    loop = _get(_get(consumer, "_thread"), "thread_loop")
    if not isinstance(loop, asyncio.AbstractEventLoop) or loop.is_closed():
        return None
    try:
        return task_state(loop)
    except RuntimeError:  # the other thread changed its task set while we read it
        return None


def install(app: Any) -> None:
    """Serve ``/debug/consumer`` on the worker's web server."""

    async def debug_consumer(view: Any, request: Any) -> Any:
        del request
        return view.json(snapshot(app))

    app.page("/debug/consumer")(debug_consumer)
