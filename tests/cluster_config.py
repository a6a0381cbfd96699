"""Server configuration of one node of a test cluster: ZooKeeper, macros, the cluster itself.

The same text serves the embedded engine (``--config-file`` of chdb, one node
that is its own only replica) and the two ClickHouse containers of the Docker
test. Macros fill ``{shard}`` and ``{replica}`` in the Replicated engines'
ZooKeeper paths that sinks/migrations.py renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

DDL_QUEUE = "/clickhouse/task_queue/ddl"


@dataclass(frozen=True)
class NodeConfig:
    """What one node needs to know to be part of ``cluster``."""

    cluster: str
    shard: str
    replica: str
    replicas: Sequence[tuple[str, int]]  # host, native port of every replica of the one shard
    zookeeper: tuple[str, int]
    tcp_port: int | None = None  # set for chdb: makes its own host:port "local" to the cluster
    log_dir: Path | None = None
    interserver_host: str | None = None  # the name other replicas fetch parts from
    credentials: tuple[str, str] | None = None  # user, password for Distributed's own connections

    def xml(self) -> str:
        login = ""
        if self.credentials is not None:
            user, password = self.credentials
            login = f"<user>{escape(user)}</user><password>{escape(password)}</password>"
        replicas = "".join(
            f"<replica><host>{escape(host)}</host><port>{port}</port>{login}</replica>"
            for host, port in self.replicas
        )
        zk_host, zk_port = self.zookeeper
        parts = [
            "<clickhouse>",
            f"<zookeeper><node><host>{escape(zk_host)}</host><port>{zk_port}</port></node>"
            "</zookeeper>",
            f"<macros><cluster>{escape(self.cluster)}</cluster><shard>{escape(self.shard)}</shard>"
            f"<replica>{escape(self.replica)}</replica></macros>",
            f"<remote_servers><{self.cluster}><shard>"
            f"<internal_replication>true</internal_replication>{replicas}"
            f"</shard></{self.cluster}></remote_servers>",
            f"<distributed_ddl><path>{DDL_QUEUE}</path></distributed_ddl>",
        ]
        if self.interserver_host is not None:
            parts.append(
                f"<interserver_http_host>{escape(self.interserver_host)}</interserver_http_host>"
            )
        if self.tcp_port is not None:
            parts.append(f"<tcp_port>{self.tcp_port}</tcp_port>")
        if self.log_dir is not None:
            parts.append(
                f"<logger><level>information</level><console>0</console>"
                f"<log>{escape(str(self.log_dir / 'clickhouse.log'))}</log>"
                f"<errorlog>{escape(str(self.log_dir / 'clickhouse.err.log'))}</errorlog>"
                "</logger>"
            )
        parts.append("</clickhouse>")
        return "\n".join(parts) + "\n"
