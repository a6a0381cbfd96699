"""Stage 0 of the flow: the event contracts and the reference data every layer may read.

The ``.avsc`` files beside this module are the source of truth for what field
apps publish and what the processors emit; ``limits`` holds the size contract.
The region master (``regions``, ``data/``) and the enumeration frame
(``frame``) are contracts too: the rules, the sinks and monitoring all read
them. Python here is pure contract logic (parsing, the Confluent wire format,
compatibility, master-data files) plus a thin registry I/O layer. This package
imports nothing from the rest of the project (tests/unit/test_layers.py).
"""
