"""A local ZooKeeper for the cluster DDL tests, run from the jars the Kafka broker already needs.

ClickHouse speaks the ZooKeeper protocol, and the chdb build has no embedded
Keeper, so a ZooKeeper 3.8 server stands in for it. Its jars come with the
project's Kafka jars (``make setup`` / ``regsosek kafka fetch``), so nothing
new is downloaded. One standalone server per test module, on a free port,
with its data and log in the module's temporary directory, stopped by pid.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams.local_kafka import DEPLOY_DIR, BrokerSpec, JarCache, fetch_jars, find_tool
from streams.settings import Settings
from tests.backends import free_port

MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
CLI_CLASS = "org.apache.zookeeper.ZooKeeperMain"
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ZooKeeper:
    """A running standalone server: where it listens and how to ask it things."""

    host: str
    port: int
    pid: int
    libs: Path
    log: Path

    @property
    def connect(self) -> str:
        return f"{self.host}:{self.port}"

    def children(self, path: str) -> list[str]:
        """``ls path`` through ZooKeeper's own CLI: what the server holds, not what ClickHouse says.

        One JVM per call (a second or two): few calls, and no Python client to install.
        """
        result = subprocess.run(
            [*java(self.libs, "-Xmx64m"), CLI_CLASS, "-server", self.connect, "ls", path],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        listing = [line for line in result.stdout.splitlines() if line.startswith("[")]
        if not listing:
            raise RuntimeError(f"zookeeper ls {path} failed: {result.stdout[-400:]}{result.stderr}")
        inner = listing[-1].strip("[]").strip()
        return sorted(part.strip() for part in inner.split(",")) if inner else []


def java(libs: Path, heap: str) -> list[str]:
    return [find_tool("java", "install Java 17 (make setup)"), heap, "-cp", f"{libs}/*"]


def zookeeper_libs() -> Path:
    """The cached Kafka jars (ZooKeeper 3.8 among them), fetched with Maven if missing."""
    cache_dir = Settings().cache_dir
    cache = JarCache.for_pom(cache_dir, DEPLOY_DIR / "pom.xml")
    if not cache.complete:
        spec = BrokerSpec(
            host="127.0.0.1", port=0, controller_port=0, state_dir=cache_dir, cache_dir=cache_dir
        )
        cache, _ = fetch_jars(spec)
    if not any(cache.libs.glob("zookeeper-3.*.jar")):
        raise RuntimeError(f"no zookeeper jar among the Kafka jars in {cache.libs}")
    return cache.libs


def server_status(host: str, port: int) -> str:
    """The ``srvr`` four-letter answer (the one allowed by default), empty when none."""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"srvr")
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


@contextmanager
def local_zookeeper(state_dir: Path) -> Iterator[ZooKeeper]:
    """Start a standalone ZooKeeper under ``state_dir``; stop it (by its pid) afterwards."""
    libs = zookeeper_libs()
    host, port = "127.0.0.1", free_port()
    data = state_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = state_dir / "zoo.cfg"
    config.write_text(
        "tickTime=2000\n"
        f"dataDir={data}\n"
        f"clientPort={port}\n"
        f"clientPortAddress={host}\n"
        "admin.enableServer=false\n"
        "maxClientCnxns=0\n"
    )
    log = state_dir / "zookeeper.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*java(libs, "-Xmx128m"), MAIN_CLASS, str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "Mode: standalone" not in server_status(host, port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ZooKeeper did not start; see {log}")
            time.sleep(0.3)
        yield ZooKeeper(host, port, process.pid, libs, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
