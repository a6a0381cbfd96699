"""Small, synchronous questions to a Kafka cluster (kafka-python), shared by CLI and tests.

Readiness means a metadata request answered, not an open port: a KRaft broker
accepts connections well before it has elected itself controller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from schemas.errors import BrokerError
from streams.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)


def _admin(bootstrap: str, timeout_s: float, security: KafkaSecurity) -> Any:
    timeout_ms = int(timeout_s * 1000)
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="regsosek-admin",
        request_timeout_ms=max(timeout_ms, 1000),
        bootstrap_timeout_ms=max(timeout_ms, 1000),
        **security.kafka_python(),
    )


def metadata_answered(
    bootstrap: str, timeout_s: float = 5.0, *, security: KafkaSecurity = PLAINTEXT
) -> bool:
    """True when the cluster answers a metadata request with at least one broker.

    A refused login or certificate counts as "not answering": for readiness the
    cause is in the log at DEBUG, and a wrong password is not a ready client.
    """
    return broker_count(bootstrap, timeout_s, security=security) > 0


def broker_count(
    bootstrap: str, timeout_s: float = 5.0, *, security: KafkaSecurity = PLAINTEXT
) -> int:
    """Brokers the cluster's metadata lists now (0 when it does not answer)."""
    try:
        admin = _admin(bootstrap, timeout_s, security)
    except (KafkaError, OSError, ValueError) as exc:
        log.debug("metadata request to %s failed: %s", bootstrap, exc)
        return 0
    try:
        return len(admin.describe_cluster().get("brokers") or [])
    except (KafkaError, OSError) as exc:
        log.debug("describe_cluster on %s failed: %s", bootstrap, exc)
        return 0
    finally:
        admin.close()


def broker_api_version(
    bootstrap: str, timeout_s: float = 5.0, *, security: KafkaSecurity = PLAINTEXT
) -> str | None:
    """The broker release the client infers from its ApiVersions answer, e.g. ``"3.9"``.

    For a broker we did not start this is the best we can know without JMX.
    """
    try:
        admin = _admin(bootstrap, timeout_s, security)
    except (KafkaError, OSError, ValueError):
        return None
    try:
        brokers = admin.describe_cluster().get("brokers") or []
        if not brokers:
            return None
        data = admin.get_broker_version_data(brokers[0]["broker_id"])
        return str(data.broker_version_str)
    except (KafkaError, OSError):
        return None
    finally:
        admin.close()


def group_lag(
    bootstrap: str, group: str, topics: Sequence[str], *, security: KafkaSecurity = PLAINTEXT
) -> int:
    """Messages on ``topics`` not yet committed by consumer ``group``; -1 while unknown.

    "Unknown" covers a group that has not joined yet and a coordinator a fresh
    broker has not elected: callers waiting for "caught up" must keep waiting.
    """
    options = security.kafka_python()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="regsosek-admin", **options)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="regsosek-admin", **options)
    try:
        try:
            committed = admin.list_group_offsets(group).get(group, {})  # {group: {tp: offset}}
        except KafkaError:
            return -1
        lag = 0
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in partitions]
            for tp, end in consumer.end_offsets(tps).items():
                done = committed.get(tp)
                lag += end - (done.offset if done is not None and done.offset >= 0 else 0)
        return lag
    finally:
        consumer.close()
        admin.close()


def delete_group(
    bootstrap: str,
    group: str,
    *,
    security: KafkaSecurity = PLAINTEXT,
    wait_s: float = 30.0,
) -> bool:
    """Delete consumer ``group`` with its committed offsets; False when there was none.

    Asked of the group's coordinator, not answered from a listing: a broker
    that has just started lists no group until it has loaded its offsets
    topic, so "not listed" would skip a group that exists (seen right after the
    demo's broker start). The coordinator answers "loading" or "not
    coordinator" meanwhile, and that is waited out. Without an offsets topic no
    group can exist. Only an empty group can be deleted: a member that died
    without leaving (a worker killed) stays until its session times out, so
    that too is waited out; a group still in use after ``wait_s`` (a worker
    running) raises :class:`BrokerError` rather than being pulled from under it.
    """
    deadline = time.monotonic() + wait_s
    admin = _admin(bootstrap, 10.0, security)
    try:
        if OFFSETS_TOPIC not in admin.list_topics():
            return False
        while True:
            try:
                outcome = str(admin.delete_groups([group]).get(group, "OK"))
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                outcome = type(exc).__name__
            if outcome in ("OK", "GroupIdNotFoundError"):
                return outcome == "OK"
            if outcome not in _GROUP_WAIT or time.monotonic() > deadline:
                raise BrokerError(f"consumer group {group} on {bootstrap} not deleted: {outcome}")
            time.sleep(0.5)
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"deleting consumer group {group} on {bootstrap} failed: {exc}") from exc
    finally:
        admin.close()


#: Kafka's topic of committed offsets and group metadata.
OFFSETS_TOPIC = "__consumer_offsets"
#: Answers to DeleteGroups that pass: the coordinator is loading or moving, or a member lingers.
_GROUP_WAIT = frozenset(
    {
        "NonEmptyGroupError",
        "CoordinatorLoadInProgressError",
        "CoordinatorNotAvailableError",
        "NotCoordinatorError",
    }
)
