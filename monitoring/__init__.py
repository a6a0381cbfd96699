"""Observation only: Prometheus metrics, Grafana dashboards and alert rules.

Beside the flow rather than in it: it defines the hooks it observes and the
plain facts they carry (:mod:`hooks`), which the worker calls, and imports
only ``schemas`` (the reference data, for district labels), never the rules
or the wiring (tests/unit/test_layers.py). It is the only package that
imports prometheus_client. Nothing on the hot
path imports it; the worker's runtime and the gateway's ``app_from_settings``
plug its observers into the hooks the agents and handlers already call, with
an injected ``CollectorRegistry``.

Modules: :mod:`hooks` (the observer protocol and its facts), :mod:`metrics` (every
family, names and buckets), :mod:`observer`
(the worker's hooks as metric updates), :mod:`lag` (consumer lag from the
broker), :mod:`worker` (one registry and one ``/metrics`` page with Faust's own
sensor, rebalances, the lag timer), :mod:`gateway` (the gateway's hooks).
Files: ``dashboards/*.json`` (Grafana) and ``alerts/*.yml`` (Prometheus rules),
mounted by docker compose; see docs/monitoring.md.
"""
