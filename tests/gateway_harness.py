"""The real gateway: its app served from a background event loop, or `regsosek gateway`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.backends import free_port

ROOT = Path(__file__).resolve().parents[1]


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


@dataclass
class GatewayProcess:
    """`regsosek gateway` as a child process, wired to a running worker as in production."""

    bootstrap: str
    prefix: str
    state_dir: Path
    tokens_file: Path
    worker_url: str
    operator_token: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.state_dir / "gateway.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("REGSOSEK_")},
            "REGSOSEK_KAFKA_BOOTSTRAP": self.bootstrap,
            "REGSOSEK_TOPIC_PREFIX": self.prefix,
            "REGSOSEK_STATE_DIR": str(self.state_dir),
            "REGSOSEK_GATEWAY_PORT": str(self.port),
            "REGSOSEK_GATEWAY_TOKENS_FILE": str(self.tokens_file),
            "REGSOSEK_GATEWAY_WORKER_URL": self.worker_url,
            "REGSOSEK_GATEWAY_WORKER_TOKEN": self.operator_token,
            "REGSOSEK_OPERATOR_TOKENS": self.operator_token,
            "REGSOSEK_CONSOLE_REFRESH_SECONDS": "1",
            "REGSOSEK_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }

    def start(self, ready_timeout_s: float = 60.0) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "gateway"],
                env=self.env,
                stdout=log,
                stderr=log,
                cwd=ROOT,
            )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited early: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise AssertionError(f"gateway not up in time: {self.log.read_text()[-3000:]}")

    def get(self, path: str, token: str) -> Any:
        """JSON of a gateway page with ``token``."""
        request = urllib.request.Request(f"{self.url}{path}")  # noqa: S310 - http:// above
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
