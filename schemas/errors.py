"""The project's one exception hierarchy.

It lives in the most upstream package so that every stage can raise and catch
the same root without importing downstream code. Bad *records* are not
exceptions (they become rejections); these are for bad *situations*: a broker
that is gone, a tool that is missing, an engine that refuses a write.
"""

from __future__ import annotations


class RegsosekError(Exception):
    """Root of every error this project raises on purpose.

    ``exit_code`` is what a CLI command exits with when this error reaches it,
    so scripts can tell a missing tool from a busy port without parsing text.
    """

    exit_code: int = 1


class ConfigurationError(RegsosekError):
    """A setting is missing, malformed or contradicts another."""

    exit_code = 2


class MissingToolError(RegsosekError):
    """A program the command needs (java, mvn) is not installed."""

    exit_code = 3


class PortInUseError(RegsosekError):
    """A port we must listen on is taken by another process."""

    exit_code = 4


class DownloadError(RegsosekError):
    """Fetching artifacts from a package registry failed."""

    exit_code = 5


class BrokerError(RegsosekError):
    """Kafka could not be started, reached or stopped."""

    exit_code = 6


class ClickHouseError(RegsosekError):
    """The ClickHouse engine could not be opened or refused a statement."""

    exit_code = 7
