"""Small, synchronous questions to a Kafka cluster (kafka-python), shared by CLI and tests.

Readiness means a metadata request answered, not an open port: a KRaft broker
accepts connections well before it has elected itself controller.
"""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


def _admin(bootstrap: str, timeout_s: float) -> Any:
    timeout_ms = int(timeout_s * 1000)
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="regsosek-admin",
        request_timeout_ms=max(timeout_ms, 1000),
        bootstrap_timeout_ms=max(timeout_ms, 1000),
    )


def metadata_answered(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when the cluster answers a metadata request with at least one broker."""
    try:
        admin = _admin(bootstrap, timeout_s)
    except (KafkaError, OSError, ValueError) as exc:
        log.debug("metadata request to %s failed: %s", bootstrap, exc)
        return False
    try:
        cluster = admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except (KafkaError, OSError) as exc:
        log.debug("describe_cluster on %s failed: %s", bootstrap, exc)
        return False
    finally:
        admin.close()


def broker_api_version(bootstrap: str, timeout_s: float = 5.0) -> str | None:
    """The broker release the client infers from its ApiVersions answer, e.g. ``"3.9"``.

    For a broker we did not start this is the best we can know without JMX.
    """
    try:
        admin = _admin(bootstrap, timeout_s)
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
