"""Stage 1 of the flow: decode, validate, deduplicate and enrich submissions.

Rules, dedup decisions and enrichment are pure functions of typed records so
they can be unit-tested without a broker. May import ``schemas`` only; the
Faust agents that call these functions live in ``streams``.
"""
