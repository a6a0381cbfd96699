"""Stage 2 of the flow: ClickHouse DDL, idempotent batched writers and queries.

May import ``schemas`` only (the contracts and the reference data; the layer
rules are checked by tests/unit/test_layers.py). Knows ClickHouse only through
clickhouse-connect and one DSN, so the embedded ``chdb://`` engine and a
server or cluster run the same code.
"""
