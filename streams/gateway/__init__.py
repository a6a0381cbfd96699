"""The HTTP gateway: the edge where field apps that speak JSON over HTTP enter the flow.

It sits beside the SDK at the very start of the data path (field app ->
**gateway** -> ``regsosek.submissions``), and publishes through the SDK so that
both doors apply the same schema check, keys and durability rules. It may
import ``schemas`` and ``streams.sdk`` / ``streams.settings``; nothing
downstream (processors, sinks) and nothing from monitoring on the hot path.

Modules: :mod:`auth` (bearer tokens, pure), :mod:`payloads` (parsing and
response shapes, pure), :mod:`service` (JSON -> record -> Kafka, blocking),
:mod:`app` (aiohttp wiring). The contract is ``streams/gateway/openapi.yaml``.
"""
