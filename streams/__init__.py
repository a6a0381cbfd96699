"""The wiring: settings, topics, the local broker, the Faust app, gateway, SDK and CLI.

This is the only package that knows about processes and configuration. It
imports ``schemas``, ``processors``, ``sinks`` and ``monitoring`` and passes
them one settings object built at the entry point.
"""
