"""The Faust worker: the processing agent and the ClickHouse sink agents in one process.

``app.py`` builds the Faust app from the settings; ``processing.py`` and
``sinking.py`` are the thin agents around the pure stages in ``processors``
and ``sinks``; ``web.py`` serves health, readiness and progress. In embedded
mode the worker is the one process that opens the chdb engine, so it also
answers the progress CLI over HTTP.
"""
