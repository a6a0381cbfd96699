"""Stage 0 of the flow: the event contracts.

The ``.avsc`` files beside this module are the source of truth for what field
apps publish and what the processors emit. Python here is pure schema logic
(parsing, the Confluent wire format, compatibility) plus a thin registry I/O
layer. This package imports nothing from the rest of the project: every other
stage depends on it, never the reverse.
"""
