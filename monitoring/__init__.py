"""Observation only: Prometheus metrics, Grafana dashboards and alert rules.

The last stage of the flow, beside it rather than in it: it may import
``processors``, ``sinks`` and ``streams`` types to read what they report, and
it is the only package that imports prometheus_client. Nothing on the hot
path imports it; the worker's runtime and the gateway's ``app_from_settings``
plug its observers into the hooks the agents and handlers already call, with
an injected ``CollectorRegistry``.

Modules: :mod:`metrics` (every family, names and buckets), :mod:`observer`
(the worker's hooks as metric updates), :mod:`lag` (consumer lag from the
broker), :mod:`worker` (one registry and one ``/metrics`` page with Faust's own
sensor, rebalances, the lag timer), :mod:`gateway` (the gateway's hooks).
Files: ``dashboards/*.json`` (Grafana) and ``alerts/*.yml`` (Prometheus rules),
mounted by docker compose; see docs/monitoring.md.
"""
