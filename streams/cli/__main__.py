"""``python -m streams.cli``: the same as the ``regsosek`` console script."""

from streams.cli import main

main()
