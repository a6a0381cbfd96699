"""The Faust worker: one agent that takes each batch of submissions through in one pass.

``app.py`` builds the Faust app from the settings; ``compute.py`` is the pure
half of a batch (decode, rules, dedup, enrichment, rows, output records),
run by ``pool.py`` in a child process on the second core; ``inserting.py``
writes a computed batch to ClickHouse, narrowing a refusal to its rows;
``processing.py`` orders the effects (insert, publish, store states, then
acknowledge) and holds a batch through transient faults; ``runtime.py`` wires
it all; ``web.py`` serves health, readiness and progress. In embedded mode the
worker is the one process that opens the chdb engine, so it also answers the
progress CLI over HTTP.
"""
