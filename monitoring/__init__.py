"""Observation only: Prometheus metrics, Grafana dashboards and alert rules.

Metrics are recorded through small observer objects with an injected
``CollectorRegistry``; nothing on the hot path imports this package directly.
"""
