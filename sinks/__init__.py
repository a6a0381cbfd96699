"""Stage 2 of the flow: ClickHouse DDL, idempotent batched writers and queries.

May import ``schemas`` and ``processors``. Knows ClickHouse only through
clickhouse-connect and one DSN, so the embedded ``chdb://`` engine and a
server or cluster run the same code.
"""
