"""Gateway tokens that follow their file: rotation and revocation without a restart.

:class:`ReloadingTokens` holds the current :class:`~streams.gateway.auth.TokenStore`
and, when asked to :meth:`~ReloadingTokens.refresh`, rereads the tokens file if
its signature (inode, size, modification time in nanoseconds) changed. The
gateway asks every ``REGSOSEK_GATEWAY_TOKENS_RELOAD_SECONDS`` from a background
task (:mod:`streams.gateway.app`), so a token removed from the file, or listed
under ``revoked:``, is refused within that interval.

A file that cannot be read or parsed (half written, a typo, deleted by mistake)
keeps the last good set: refusing every enumerator of a regency because of
one bad edit would be worse than honouring a token a few more minutes. The
failure is logged once per change of the file and counted by the gateway's
metrics, and the next change is tried again. Only the file is reread; the
``REGSOSEK_GATEWAY_TOKENS`` variable cannot change in a running process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path

from schemas.errors import ConfigurationError
from streams.gateway.auth import TokenStore, token_store_from

log = logging.getLogger(__name__)

Signature = tuple[int, int, int] | None


class Reload(Enum):
    """What one :meth:`ReloadingTokens.refresh` did."""

    UNCHANGED = "unchanged"
    RELOADED = "reloaded"
    FAILED = "failed"


class ReloadingTokens:
    """The tokens of the variable plus those of a file reread when it changes."""

    def __init__(self, env: Mapping[str, str], path: Path) -> None:
        """Read the file now: a bad file at start is an error, not a silent empty set."""
        self._env = dict(env)
        self.path = path
        self._lock = threading.Lock()
        self._seen = _signature(path)
        self._store = token_store_from(self._env, path)

    def current(self) -> TokenStore:
        """The last good set (an attribute read: safe from any thread, never blocks)."""
        return self._store

    def __len__(self) -> int:
        return len(self._store)

    def refresh(self) -> Reload:
        """Reread the file if it changed since the last attempt; blocking file I/O."""
        with self._lock:
            signature = _signature(self.path)
            if signature == self._seen:
                return Reload.UNCHANGED
            self._seen = signature
            try:
                store = token_store_from(self._env, self.path)
            except ConfigurationError as exc:  # its message never holds a token
                log.warning("gateway tokens not reloaded, keeping the last good set: %s", exc)
                return Reload.FAILED
            self._store = store
            log.info("gateway tokens reloaded from %s: %d token(s)", self.path, len(store))
            return Reload.RELOADED


def _signature(path: Path) -> Signature:
    """What changes when the file is written or replaced; None when it is not there."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


async def watch(
    source: ReloadingTokens, interval_s: float, report: Callable[[Reload, int], None]
) -> None:
    """Refresh ``source`` every ``interval_s`` until cancelled; report each reload or failure.

    The file is read in a worker thread, never on the event loop. An unexpected
    error (a bug) is logged and counted as a failure; the loop goes on.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            outcome = await asyncio.to_thread(source.refresh)
        except Exception:
            log.exception("gateway tokens: reload failed unexpectedly")
            outcome = Reload.FAILED
        if outcome is not Reload.UNCHANGED:
            report(outcome, len(source))
