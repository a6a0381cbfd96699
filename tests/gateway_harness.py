"""Serve the real gateway app on a free loopback port from a background event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from tests.backends import free_port


class RunningGateway:
    """The gateway app served on 127.0.0.1 from a background event loop."""

    def __init__(self, app: web.Application) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner = web.AppRunner(app)
        self._call(self._runner.setup())
        self.port = free_port()
        self._call(web.TCPSite(self._runner, "127.0.0.1", self.port).start())

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def stop(self) -> None:
        self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
