"""The simulator's ``regsosek`` commands, ``simulate`` and ``demo``.

They join the ``regsosek`` group through the ``regsosek.commands`` entry points
in pyproject.toml, so ``streams.cli`` lists them without importing this package.
"""
