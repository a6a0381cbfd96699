"""The platform's Kafka topics: what they should look like, and making them so.

Two halves, kept apart on purpose. :func:`desired_topics` is a pure function of
the settings (names, partition counts, replication, retention, broker-side
configs), unit-tested without a broker and reused by whoever needs the names.
:func:`ensure_topics` and :func:`describe_topics` are the I/O: they talk to the
cluster with kafka-python's admin client and report what they found instead of
failing on topics that already exist, so ``regsosek topics create`` can run at
every deploy.

A topic that exists with *fewer* partitions than desired is reported, not
altered: adding partitions remaps keys (household ids) to partitions and
breaks the per-household ordering of events already written, so it is an
operator's decision, not a side effect of a deploy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    UnknownBrokerIdError,
    UnknownTopicOrPartitionError,
    for_code,
)
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from schemas.errors import BrokerError
from schemas.limits import BROKER_MESSAGE_MAX_BYTES
from streams.kafka_admin import broker_count
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.settings import Settings

log = logging.getLogger(__name__)

#: Household submissions from field apps (HouseholdSubmission, key = household id).
SUBMISSIONS = "regsosek.submissions"
#: Field-app activity: logins, syncs, heartbeats (EnumeratorEvent, key = enumerator id).
ENUMERATOR_EVENTS = "regsosek.enumerator-events"
#: Submissions that passed the processors' rules (ValidatedSubmission, key = household id).
SUBMISSIONS_VALID = "regsosek.submissions.valid"
#: Undecodable or rule-breaking input with reason codes and the original bytes (Rejection).
SUBMISSIONS_REJECTED = "regsosek.submissions.rejected"
#: Supervisors' review decisions (ReviewDecision, key = household id): keyed and partitioned
#: like the submissions, so a household's reviews share its submissions' partition number
#: and the worker judges them against its dedup state on the same partition.
REVIEWS = "regsosek.reviews"

ALL_TOPICS = (SUBMISSIONS, ENUMERATOR_EVENTS, SUBMISSIONS_VALID, SUBMISSIONS_REJECTED, REVIEWS)
DEFAULT_PREFIX = "regsosek"


def named(topic: str, prefix: str) -> str:
    """A topic's name under another prefix: ``staging.submissions`` for prefix ``staging``.

    A prefix lets several environments (or test runs) share one cluster.
    """
    return prefix + topic.removeprefix(DEFAULT_PREFIX)


_PURPOSE = {
    SUBMISSIONS: "household submissions from field apps (key = household id)",
    ENUMERATOR_EVENTS: "enumerator activity: login, sync, heartbeat (key = enumerator id)",
    SUBMISSIONS_VALID: "submissions that passed validation (key = household id)",
    SUBMISSIONS_REJECTED: "rejected input with reason codes and original bytes",
    REVIEWS: "supervisors' review decisions (key = household id)",
}


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it should exist: the admin request, plus why it exists."""

    name: str
    partitions: int
    replication: int
    configs: Mapping[str, str] = field(default_factory=dict)
    purpose: str = ""

    def admin_request(self) -> dict[str, Any]:
        """The option dict kafka-python 3's ``create_topics`` takes for this topic."""
        return {
            "num_partitions": self.partitions,
            "replication_factor": self.replication,
            "configs": dict(self.configs),
        }


class TopicState(StrEnum):
    """What ``ensure_topics`` found or did for one topic."""

    CREATED = "created"
    EXISTS = "exists"
    TOO_FEW_PARTITIONS = "exists, too few partitions"


@dataclass(frozen=True)
class TopicReport:
    """The outcome for one desired topic, as ``regsosek topics create`` prints it."""

    name: str
    state: TopicState
    desired_partitions: int
    partitions: int


@dataclass(frozen=True)
class TopicInfo:
    """A topic as the cluster describes it (``regsosek topics list``)."""

    name: str
    partitions: int
    replication: int


#: Replicas of every topic once the cluster has this many brokers.
FULL_REPLICATION = 3


def replication_for(configured: int | None, brokers: int) -> int:
    """The configured factor, or 3 once the cluster has 3 brokers (else as many as it has).

    Left unset on purpose by default: the same settings serve the single local
    broker (1 replica) and a cluster, where anything below 3 would lose
    acknowledged submissions with one disk.
    """
    if configured is not None:
        return configured
    return max(1, min(FULL_REPLICATION, brokers))


def resolve_replication(settings: Settings, security: KafkaSecurity = PLAINTEXT) -> Settings:
    """``settings`` with the replication factor decided, asking the cluster when unset."""
    if settings.topic_replication is not None:
        return settings
    brokers = _brokers_seen(settings.kafka_bootstrap, security)
    if brokers == 0:
        raise BrokerError(
            f"Kafka at {settings.kafka_bootstrap} unreachable: no broker answered to tell the "
            "replication factor (start it: `regsosek kafka start`; or set "
            "REGSOSEK_TOPIC_REPLICATION)"
        )
    return settings.model_copy(update={"topic_replication": replication_for(None, brokers)})


def _brokers_seen(bootstrap: str, security: KafkaSecurity, looks: int = 3) -> int:
    """The most brokers a few metadata reads over ~2 s list.

    A broker that missed a heartbeat under load is fenced for a moment and left
    out of one answer (seen: a cluster of three read as two during the full test
    suite, and its topics got two replicas); one read is not enough to size topics.
    """
    seen = broker_count(bootstrap, security=security)
    for _ in range(looks - 1):
        if seen == 0:
            return 0  # nothing answers: the caller says so at once
        time.sleep(1.0)
        seen = max(seen, broker_count(bootstrap, security=security))
    return seen


def replication_of(settings: Settings) -> int:
    """The decided replication factor; unset here is a wiring bug, not a configuration."""
    if settings.topic_replication is None:
        raise RuntimeError("topic replication not decided: call resolve_replication first")
    return settings.topic_replication


def min_insync_replicas(replication: int) -> int:
    """``min.insync.replicas`` that keeps ``acks=all`` meaningful yet writable.

    With 3 replicas, 2 must have a write before it is acknowledged, so one broker
    can fail without losing acknowledged data or blocking producers. With 1 or 2
    replicas there is nothing to trade: requiring 2 of 2 would stop field apps
    whenever one broker restarts.
    """
    return 2 if replication >= 3 else 1


def compacted_configs(settings: Settings) -> dict[str, str]:
    """A compacted state topic (a changelog) held with the same durability as the rest."""
    return {
        "cleanup.policy": "compact",
        "min.insync.replicas": str(min_insync_replicas(replication_of(settings))),
    }


def topic_configs(settings: Settings, *, retention: bool = True) -> dict[str, str]:
    """Broker-side configs shared by every regsosek topic (all values are strings)."""
    configs = {
        "min.insync.replicas": str(min_insync_replicas(replication_of(settings))),
        # Keep what producers sent: the SDK compresses batches already, and the
        # broker recompressing them would cost CPU for nothing.
        "compression.type": "producer",
        "cleanup.policy": "delete",
        # On purpose, not inherited from whatever the cluster's message.max.bytes
        # is: above the producers' max_request_size, see schemas/limits.py.
        "max.message.bytes": str(BROKER_MESSAGE_MAX_BYTES),
    }
    if retention:
        configs["retention.ms"] = str(settings.topic_retention_ms)
    return configs


def desired_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic the platform needs, as the settings describe it. Pure."""
    return [
        TopicSpec(
            name=named(name, settings.topic_prefix),
            partitions=settings.topic_partitions,
            replication=replication_of(settings),
            configs=topic_configs(settings),
            purpose=_PURPOSE[name],
        )
        for name in ALL_TOPICS
    ]


def reports_for(
    specs: Sequence[TopicSpec], created: set[str], existing: Mapping[str, int]
) -> list[TopicReport]:
    """Shape what happened into one report per desired topic. Pure.

    ``existing`` maps topics that were already there to their partition count.
    """
    reports = []
    for spec in specs:
        if spec.name in created:
            reports.append(
                TopicReport(spec.name, TopicState.CREATED, spec.partitions, spec.partitions)
            )
            continue
        have = existing.get(spec.name, 0)
        state = TopicState.EXISTS if have >= spec.partitions else TopicState.TOO_FEW_PARTITIONS
        reports.append(TopicReport(spec.name, state, spec.partitions, have))
    return reports


def summary(reports: Sequence[TopicReport]) -> str:
    """One line for a whole run, e.g. ``4 topics: 1 created, 3 exists``. Pure."""
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.state.value] = counts.get(report.state.value, 0) + 1
    shown = ", ".join(f"{count} {state}" for state, count in counts.items())
    return f"{len(reports)} topics: {shown}"


# --- I/O -------------------------------------------------------------------------------


def ensure_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    timeout_s: float = 10.0,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> list[TopicReport]:
    """Create the topics that do not exist; report every one. Idempotent.

    Raises :class:`BrokerError` when the cluster cannot be reached or refuses a
    creation for any reason other than "already exists". A principal without the
    right to create (the worker under ACLs) is told "not authorised" even for a
    topic that exists; such a topic counts as existing when the principal can
    describe it, so the worker's start-up check needs no CREATE on the topics.
    """
    with _admin(bootstrap, timeout_s, security) as admin:
        try:
            answer = _creating(timeout_s)(
                admin.create_topics,
                {spec.name: spec.admin_request() for spec in specs},
                timeout_ms=int(timeout_s * 1000),
                raise_errors=False,
                wait_for_metadata=False,
            )
        except (KafkaError, OSError) as exc:
            raise BrokerError(f"creating topics on {bootstrap} failed: {exc}") from exc
        created, already, refused = _creation_outcome(answer)
        existing = {
            info.name: info.partitions for info in _describe(admin, sorted(already | refused))
        }
    missing = sorted(refused - existing.keys())
    if missing:
        raise BrokerError(
            f"not authorised to create topic(s) {', '.join(missing)} on {bootstrap}: "
            "create them as the admin principal (regsosek topics create)"
        )
    return reports_for(specs, created, existing)


def _transient(exc: BaseException) -> bool:
    """A cluster still forming or moving its controller: asking again a moment later works.

    UnknownBrokerIdError is not marked retriable by kafka-python, but right after
    a cluster starts (or a node comes back) the admin client's metadata may not
    list the controller it was just told about yet.
    """
    if isinstance(exc, UnknownBrokerIdError | KafkaConnectionError):
        return True
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


def _creating(timeout_s: float) -> Retrying:
    return Retrying(
        retry=retry_if_exception(_transient),
        stop=stop_after_delay(max(timeout_s, 1.0)),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        reraise=True,
    )


def describe_topics(
    bootstrap: str,
    names: Sequence[str] | None = None,
    timeout_s: float = 10.0,
    prefix: str = DEFAULT_PREFIX,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> list[TopicInfo]:
    """Partitions and replication of ``names`` (default: every ``<prefix>.*`` topic present)."""
    with _admin(bootstrap, timeout_s, security) as admin:
        if names is None:
            try:
                names = sorted(n for n in admin.list_topics() if n.startswith(prefix + "."))
            except (KafkaError, OSError) as exc:
                raise BrokerError(f"listing topics on {bootstrap} failed: {exc}") from exc
        return _describe(admin, list(names))


def delete_topics(
    bootstrap: str,
    names: Sequence[str],
    timeout_s: float = 30.0,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Delete ``names`` and wait until the cluster no longer lists them; returns those deleted.

    Deletion is asynchronous on the broker: a topic created again while it is
    still listed would be reported "exists" and then vanish, so this returns
    only once it is gone. A name already gone is not an error.
    """
    if not names:
        return []
    deadline = time.monotonic() + timeout_s
    with _admin(bootstrap, timeout_s, security) as admin:
        try:
            answer = admin.delete_topics(
                list(names), timeout_ms=int(timeout_s * 1000), raise_errors=False
            )
        except (KafkaError, OSError) as exc:
            raise BrokerError(f"deleting topics on {bootstrap} failed: {exc}") from exc
        deleted = _deletion_outcome(answer)
        while True:
            try:
                left = set(admin.list_topics()) & set(deleted)
            except (KafkaError, OSError) as exc:
                raise BrokerError(f"listing topics on {bootstrap} failed: {exc}") from exc
            if not left:
                return deleted
            if time.monotonic() > deadline:
                raise BrokerError(f"topic(s) {', '.join(sorted(left))} still listed after delete")
            time.sleep(0.2)


def list_topic_names(
    bootstrap: str, timeout_s: float = 10.0, *, security: KafkaSecurity = PLAINTEXT
) -> list[str]:
    """Every topic the cluster lists to this principal, internal ones included."""
    with _admin(bootstrap, timeout_s, security) as admin:
        try:
            return sorted(admin.list_topics())
        except (KafkaError, OSError) as exc:
            raise BrokerError(f"listing topics on {bootstrap} failed: {exc}") from exc


def _deletion_outcome(answer: Mapping[str, Any]) -> list[str]:
    """The topics a DeleteTopics answer removed; unknown ones skipped, any other error raised."""
    deleted = []
    for topic in answer.get("topics", []):
        code = int(topic.get("error_code", 0))
        if code == 0:
            deleted.append(topic["name"])
        elif for_code(code) is not UnknownTopicOrPartitionError:
            message = topic.get("error_message") or for_code(code).__name__
            raise BrokerError(f"topic {topic['name']}: broker refused deletion: {message}")
    return sorted(deleted)


def _creation_outcome(answer: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """Split a CreateTopics answer into (created, already existing, not authorised).

    Raises on any other error.
    """
    created: set[str] = set()
    already: set[str] = set()
    refused: set[str] = set()
    for topic in answer.get("topics", []):
        code = int(topic.get("error_code", 0))
        if code == 0:
            created.add(topic["name"])
        elif for_code(code) is TopicAlreadyExistsError:
            already.add(topic["name"])
        elif for_code(code) is TopicAuthorizationFailedError:
            refused.add(topic["name"])
        else:
            message = topic.get("error_message") or for_code(code).__name__
            raise BrokerError(f"topic {topic['name']}: broker refused creation: {message}")
    return created, already, refused


def _describe(admin: Any, names: list[str]) -> list[TopicInfo]:
    if not names:
        return []
    try:
        described = admin.describe_topics(names)
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"describing topics failed: {exc}") from exc
    infos = []
    for topic in described:
        if topic.get("error_code"):
            continue  # asked about a name that does not exist (or is not ours to see)
        partitions = topic.get("partitions") or []
        replicas = max((len(p.get("replica_nodes") or []) for p in partitions), default=0)
        infos.append(TopicInfo(topic["name"], len(partitions), replicas))
    return sorted(infos, key=lambda info: info.name)


@contextmanager
def _admin(bootstrap: str, timeout_s: float, security: KafkaSecurity) -> Iterator[Any]:
    """An admin client; "cannot reach the cluster" becomes one :class:`BrokerError` line."""
    timeout_ms = max(int(timeout_s * 1000), 1000)
    try:
        client = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="regsosek-topics",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
            **security.kafka_python(),
        )
    except (KafkaError, OSError, ValueError) as exc:
        raise BrokerError(f"Kafka at {bootstrap} is unreachable: {exc}") from exc
    try:
        yield client
    finally:
        client.close()
