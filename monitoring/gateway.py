"""The gateway's Prometheus observer (``streams.gateway.app.GatewayObserver``).

The gateway's handlers report requests and submission outcomes through the
observer protocol and never import prometheus_client; this class turns the
hooks into the :class:`~monitoring.metrics.GatewayMetrics` families and
renders its registry for ``GET /metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from monitoring.metrics import GatewayMetrics, add_process_collectors

ACCEPTED = 202
NOT_ACKNOWLEDGED = 503


#: Labels of ``regsosek_gateway_token_reloads_total`` and ``..._throttled_requests_total``.
TOKEN_RELOAD_OUTCOMES = ("loaded", "reloaded", "failed")
THROTTLE_REASONS = ("rate_limited", "overloaded")


class PrometheusGatewayObserver:
    """Gateway metrics on an injected registry."""

    def __init__(self, metrics: GatewayMetrics, registry: CollectorRegistry) -> None:
        self.metrics = metrics
        self.registry = registry
        # Every outcome an alert or panel asks about exists from the start at 0: a labelled
        # counter that first appears at 1 has no increase() to show.
        for outcome in TOKEN_RELOAD_OUTCOMES:
            metrics.token_reloads.labels(outcome)
        for reason in THROTTLE_REASONS:
            metrics.throttled.labels(reason)

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> PrometheusGatewayObserver:
        """Families and process collectors on ``registry`` (a fresh one when not given)."""
        registry = registry if registry is not None else CollectorRegistry()
        add_process_collectors(registry)
        return cls(GatewayMetrics.create(registry), registry)

    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request."""
        self.metrics.requests.labels(route, method, status_class(status)).inc()
        self.metrics.request_seconds.labels(route).observe(seconds)

    def on_submissions(self, statuses: Sequence[int]) -> None:
        """Each submission's answer: accepted, not acknowledged by Kafka, or refused."""
        for status in statuses:
            if status == ACCEPTED:
                self.metrics.accepted.inc()
            elif status == NOT_ACKNOWLEDGED:
                self.metrics.publish_failures.inc()
            else:
                self.metrics.refused.labels(str(status)).inc()

    def on_throttled(self, reason: str) -> None:
        """A request refused by its token's rate (``rate_limited``) or the gateway's load."""
        self.metrics.throttled.labels(reason).inc()

    def on_token_reload(self, outcome: str, tokens: int) -> None:
        """A token load (``loaded``, ``reloaded``, ``failed``) and the tokens now in force."""
        self.metrics.token_reloads.labels(outcome).inc()
        self.metrics.tokens.set(tokens)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def status_class(status: int) -> str:
    """``2xx``, ``4xx``, ``5xx``: the label, not the exact code (that is in the logs)."""
    return f"{status // 100}xx"
