"""A real Apache Kafka (KRaft) for machines without Docker: one broker or a cluster.

The jars come from Maven Central through ``deploy/kafka/pom.xml`` and are cached
once per pom content, so later starts and ``make setup`` download nothing. Each
node runs as a detached ``java -cp … kafka.Kafka`` process whose data, pid and
log live under ``<state_dir>/kafka`` (one broker) or ``<state_dir>/kafka/node-<n>``
(a cluster: every node is a broker and a KRaft controller, so a quorum of three
survives one SIGKILL). ``stop`` only ever signals the processes it started: the
pid file is checked against the process's command line first, so a recycled pid
is never killed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from hashlib import sha256
from pathlib import Path
from string import Template

from schemas.errors import BrokerError, DownloadError, MissingToolError, PortInUseError
from schemas.limits import BROKER_MESSAGE_MAX_BYTES
from streams import local_kafka_secure as secure_mode
from streams.kafka_admin import broker_api_version, broker_count, metadata_answered
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.topics import FULL_REPLICATION, min_insync_replicas

#: Where the pom, config template and logging config are kept in the repository.
DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy" / "kafka"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0
#: Node n of a cluster listens on port + 2(n-1) and controller_port + 2(n-1): with the
#: default ports (9092, 9093) the nodes take 9092/9093, 9094/9095, 9096/9097.
NODE_PORT_STRIDE = 2
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class JarCache:
    """Cached jars for one version of ``pom.xml`` (keyed by its content)."""

    root: Path

    @classmethod
    def for_pom(cls, cache_dir: Path, pom: Path) -> JarCache:
        digest = sha256(pom.read_bytes()).hexdigest()[:12]
        return cls(cache_dir / "kafka" / digest)

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def complete(self) -> bool:
        return (self.root / ".complete").exists()

    def kafka_version(self) -> str:
        """The Apache Kafka release the cached jars hold, read off the broker jar's name."""
        for jar in self.libs.glob("kafka_2.13-*.jar"):
            return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
        raise BrokerError(f"no kafka_2.13 jar in {self.libs}: run `regsosek kafka fetch`")


@dataclass(frozen=True)
class BrokerLayout:
    """Files of one local broker under the state directory."""

    root: Path

    @classmethod
    def under(cls, state_dir: Path) -> BrokerLayout:
        return cls(state_dir.resolve() / "kafka")

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def server_log(self) -> Path:
        return self.log_dir / "server.log"

    @property
    def console_log(self) -> Path:
        return self.log_dir / "console.log"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.root / "broker.pid"


@dataclass(frozen=True)
class BrokerSpec:
    """Everything needed to run the local broker or one node of the local cluster.

    ``port`` and ``controller_port`` are the first node's; :func:`nodes` gives a
    spec per node. Built from settings at the edge.
    """

    host: str
    port: int
    controller_port: int
    state_dir: Path
    cache_dir: Path
    heap: str = "768m"
    partitions: int = 6
    #: SASL_SSL, SCRAM users and ACLs (streams.local_kafka_secure); remembered per state dir.
    secure: bool = False
    #: Topic prefix the ACLs of the secure mode are written for.
    topic_prefix: str = "regsosek"
    #: Nodes of the local cluster, each a broker and a controller; remembered per state dir.
    brokers: int = 1
    #: The node this spec describes (1-based).
    node_id: int = 1

    @property
    def client_port(self) -> int:
        """The client port of the node this spec describes."""
        return self.port + NODE_PORT_STRIDE * (self.node_id - 1)

    @property
    def node_controller_port(self) -> int:
        return self.controller_port + NODE_PORT_STRIDE * (self.node_id - 1)

    @property
    def address(self) -> str:
        """The node alone, as host:port."""
        return f"{self.host}:{self.client_port}"

    @property
    def bootstrap(self) -> str:
        """Every node, so a client starting while one node is down still finds the cluster."""
        return ",".join(node.address for node in nodes(self))

    @property
    def cluster_root(self) -> Path:
        return self.state_dir.resolve() / "kafka"

    @property
    def layout(self) -> BrokerLayout:
        if self.brokers == 1:
            return BrokerLayout(self.cluster_root)
        return BrokerLayout(self.cluster_root / f"node-{self.node_id}")

    @property
    def meta_file(self) -> Path:
        """Cluster id, secure mode and node count, shared by every node."""
        return self.cluster_root / "cluster.json"

    @property
    def secure_layout(self) -> secure_mode.SecureLayout:
        """One CA, one broker certificate and one set of passwords for every node."""
        return secure_mode.SecureLayout(self.cluster_root)

    @property
    def replication(self) -> int:
        """Replicas of internal and default topics: 3 once the cluster has 3 brokers."""
        return min(FULL_REPLICATION, self.brokers)

    def voters(self) -> str:
        """``controller.quorum.voters``: every node is a controller."""
        return ",".join(f"{n.node_id}@{self.host}:{n.node_controller_port}" for n in nodes(self))

    def admin_security(self) -> KafkaSecurity:
        """How this process's own checks reach the broker: as ``admin`` in secure mode."""
        if not self.secure:
            return PLAINTEXT
        return secure_mode.principal_security(self.secure_layout, secure_mode.SUPER_USER)

    @property
    def jars(self) -> JarCache:
        return JarCache.for_pom(self.cache_dir, DEPLOY_DIR / "pom.xml")


@dataclass(frozen=True)
class BrokerStatus:
    """What ``status`` reports: whether our process is alive and the broker answers."""

    pid: int | None
    running: bool
    answering: bool
    bootstrap: str
    version: str | None


# ---------------------------------------------------------------- pure helpers


def nodes(spec: BrokerSpec) -> list[BrokerSpec]:
    """One spec per node of the cluster ``spec`` belongs to (a single broker: itself)."""
    return [replace(spec, node_id=node) for node in range(1, spec.brokers + 1)]


def render_config(template: str, spec: BrokerSpec, log_dirs: Path, security: str = "") -> str:
    """Fill the server.properties template; unknown placeholders are an error.

    The size limits are appended from :mod:`schemas.limits` rather than written
    in the template, so the broker, the producers and the gateway read one number.
    ``security`` is the secure mode's block (:func:`local_kafka_secure.security_properties`).
    """
    rendered = Template(template).substitute(
        host=spec.host,
        node_id=spec.node_id,
        voters=spec.voters(),
        log_dirs=str(log_dirs),
        partitions=spec.partitions,
        replication=spec.replication,
        min_insync=min_insync_replicas(spec.replication),
        **secure_mode.listener_settings(
            spec.host, spec.client_port, spec.node_controller_port, spec.secure
        ),
    )
    return rendered.rstrip("\n") + "\n" + _size_limits() + security


def _size_limits() -> str:
    """The broker's record size limit, set on purpose (see schemas/limits.py)."""
    return (
        "\n# Size limits: schemas/limits.py (BROKER_MESSAGE_MAX_BYTES). Kafka's own default,\n"
        "# written down on purpose: above the producers' max_request_size (MAX_RECORD_BYTES),\n"
        "# so whatever the SDK, the gateway or the worker may send, the broker takes.\n"
        f"message.max.bytes={BROKER_MESSAGE_MAX_BYTES}\n"
    )


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).

    Like Kafka's own ``Uuid.randomUuid``, an id starting with ``-`` is drawn
    again: StorageTool's argument parser would read it as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def java_command(spec: BrokerSpec, java: str, main_class: str, *args: str) -> list[str]:
    """The ``java`` command line for a class on the cached classpath."""
    layout = spec.layout
    return [
        java,
        f"-Xmx{spec.heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{DEPLOY_DIR / 'log4j.properties'}",
        f"-Dkafka.logs.dir={layout.log_dir}",
        "-cp",
        f"{spec.jars.libs}/*",
        main_class,
        *args,
    ]


# ---------------------------------------------------------------- tools and jars


def find_tool(name: str, hint: str) -> str:
    """Absolute path of ``name`` on PATH (``java`` also via JAVA_HOME), else a clear error."""
    if name == "java" and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise MissingToolError(f"`{name}` not found on PATH: {hint}")
    return found


def fetch_jars(spec: BrokerSpec) -> tuple[JarCache, bool]:
    """Make sure the jars are cached; returns the cache and whether anything was downloaded."""
    cache = spec.jars
    if cache.complete:
        return cache, False
    mvn = find_tool("mvn", "install Maven (apt-get install maven) to fetch Kafka's jars")
    cache.root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=cache.root))
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(DEPLOY_DIR / "pom.xml"),
        # Pinned plugin: the same resolver on every machine, and a failed download names
        # the artifact and the network cause instead of "no plugin for prefix".
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise DownloadError(f"mvn could not fetch Kafka's jars: {_first_error(result.stdout)}")
    if cache.libs.exists():
        shutil.rmtree(cache.libs)
    staging.rename(cache.libs)
    (cache.root / ".complete").write_text(json.dumps({"fetched_at": time.time()}))
    return cache, True


def _first_error(output: str) -> str:
    """The first Maven ``[ERROR]`` line, which names the artifact or the network cause."""
    output = _ANSI.sub("", output)
    for line in output.splitlines():
        if "[ERROR]" in line:
            return line.replace("[ERROR]", "").strip()[:400]
    return output.strip().splitlines()[-1][:400] if output.strip() else "no output from mvn"


# ---------------------------------------------------------------- process control


def read_pid(layout: BrokerLayout) -> int | None:
    """The pid we recorded, if that process is alive and still our broker."""
    try:
        pid = int(layout.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _is_our_broker(pid, layout) else None


def _is_our_broker(pid: int, layout: BrokerLayout) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    args = [part.decode(errors="replace") for part in cmdline]
    return state != "Z" and "kafka.Kafka" in args and str(layout.config) in args


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (we try to bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def formatted(layout: BrokerLayout) -> bool:
    """Whether this node's storage was formatted already."""
    return (layout.data_dir / "meta.properties").exists()


def _cluster_meta(spec: BrokerSpec) -> dict[str, object]:
    try:
        meta = json.loads(spec.meta_file.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def formatted_secure(spec: BrokerSpec) -> bool:
    """Whether the storage was formatted in secure mode (with SCRAM users)."""
    return bool(_cluster_meta(spec).get("secure"))


def formatted_brokers(spec: BrokerSpec) -> int | None:
    """How many nodes this state directory was formatted for (None: not yet)."""
    meta = _cluster_meta(spec)
    if not meta:
        return None
    brokers = meta.get("brokers", 1)
    return brokers if isinstance(brokers, int) else 1


def _cluster_id(spec: BrokerSpec) -> str:
    """The cluster's id, made once and shared by every node's storage."""
    meta = _cluster_meta(spec)
    cluster_id = meta.get("cluster_id")
    if isinstance(cluster_id, str):
        return cluster_id
    cluster_id = new_cluster_id()
    spec.meta_file.parent.mkdir(parents=True, exist_ok=True)
    spec.meta_file.write_text(
        json.dumps({"cluster_id": cluster_id, "secure": spec.secure, "brokers": spec.brokers})
    )
    return cluster_id


def _format_storage(spec: BrokerSpec, java: str, scram: list[str]) -> None:
    """Format one node's KRaft log directory once, with the cluster's id.

    ``scram`` holds the ``--add-scram`` arguments of the secure mode: SCRAM
    users can only be bootstrapped into the metadata log at format time.
    """
    layout = spec.layout
    if formatted(layout):
        return
    cmd = java_command(
        spec,
        java,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        _cluster_id(spec),
        "-c",
        str(layout.config),
    )
    result = subprocess.run([*cmd, *scram], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BrokerError(f"formatting storage failed: {detail[-1] if detail else 'no output'}")


def remembered(spec: BrokerSpec) -> BrokerSpec:
    """The spec in the mode and size this state directory was formatted for.

    A secure broker stays secure: forgetting ``--secure`` must not start it
    without authentication. A broker formatted without SCRAM users cannot be
    made secure later, nor a single broker a cluster (its topics have one
    replica); both are errors naming the way out. A command that does not say
    how many brokers (``stop``, ``status``) gets the whole cluster.
    """
    brokers = formatted_brokers(spec)
    if brokers is not None and brokers != spec.brokers:
        if spec.brokers != 1:
            raise BrokerError(
                f"the Kafka in {spec.cluster_root} was formatted for {brokers} broker(s), not "
                f"{spec.brokers}; use another REGSOSEK_STATE_DIR (or remove its kafka/ directory)"
            )
        spec = replace(spec, brokers=brokers)
    if formatted_secure(spec):
        return replace(spec, secure=True)
    if spec.secure and brokers is not None:
        raise BrokerError(
            f"the broker in {spec.cluster_root} was formatted without SCRAM users; "
            "use another REGSOSEK_STATE_DIR for the secure mode (or remove its kafka/ directory)"
        )
    return spec


def start(spec: BrokerSpec, echo: Callable[[str], None] = print) -> BrokerStatus:
    """Start every node that is not running; return once the cluster answers whole.

    Idempotent per node: after a node was killed, ``start`` brings back that one
    and leaves the others alone. In secure mode the ACLs for ``spec.topic_prefix``
    are (re)applied and the principals' ``client-*.env`` files written once it answers.
    """
    spec = remembered(spec)
    idle = [node for node in nodes(spec) if read_pid(node.layout) is None]
    if not idle:
        echo(f"Kafka already running at {spec.bootstrap}; nothing to do.")
        return status(spec)
    java = find_tool("java", "install a JDK 17 (apt-get install openjdk-17-jre-headless)")
    for node in idle:
        for port in (node.client_port, node.node_controller_port):
            if not port_free(spec.host, port):
                raise PortInUseError(f"port {port} on {spec.host} is in use by another process")
    cache, downloaded = fetch_jars(spec)
    echo(("Fetched" if downloaded else "Reusing cached") + f" Kafka jars in {cache.libs}")
    security, scram = "", list[str]()
    if spec.secure:
        security, scram = _prepare_secure(spec, java)
    launched = [(node, _launch(node, java, security, scram)) for node in idle]
    # A cluster's nodes answer only once a quorum of controllers runs: all are launched first.
    for node, proc in launched:
        _wait_ready(node, proc)
    _wait_whole(spec)
    if spec.secure:
        _finish_secure(spec, echo)
    if spec.brokers > 1:
        echo(
            f"{spec.brokers} brokers; topics get {spec.replication} replicas, min.insync "
            f"{min_insync_replicas(spec.replication)}; clients: "
            f"REGSOSEK_KAFKA_BOOTSTRAP={spec.bootstrap}"
        )
    return status(spec)


def _launch(
    node: BrokerSpec, java: str, security: str, scram: list[str]
) -> subprocess.Popen[bytes]:
    """Render one node's config, format its storage once and start its process."""
    layout = node.layout
    for directory in (layout.data_dir, layout.log_dir):
        directory.mkdir(parents=True, exist_ok=True)
    template = (DEPLOY_DIR / "server.properties.template").read_text()
    # 0600: in secure mode it holds the key store and admin passwords
    secure_mode.write_private(
        layout.config, render_config(template, node, layout.data_dir, security)
    )
    _format_storage(node, java, scram)
    with layout.console_log.open("ab") as console:
        proc = subprocess.Popen(
            java_command(node, java, "kafka.Kafka", str(layout.config)),
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    layout.pid_file.write_text(str(proc.pid))
    return proc


def _prepare_secure(spec: BrokerSpec, java: str) -> tuple[str, list[str]]:
    """Passwords, CA and broker certificate; the config block and the format arguments."""
    keytool = str(Path(java).resolve().with_name("keytool"))
    if not Path(keytool).exists():
        keytool = find_tool("keytool", "install a JDK 17 (apt-get install openjdk-17-jdk-headless)")
    layout = spec.secure_layout
    spec.cluster_root.mkdir(parents=True, exist_ok=True)
    spec.cluster_root.chmod(secure_mode.PRIVATE_DIR)  # its data holds the submissions in clear
    passwords = secure_mode.ensure_passwords(layout)
    secure_mode.ensure_certificates(layout, keytool, spec.host, passwords["store"])
    block = secure_mode.security_properties(layout, passwords)
    return block, secure_mode.scram_format_arguments(passwords)


def _finish_secure(spec: BrokerSpec, echo: Callable[[str], None]) -> None:
    """ACLs for the topic prefix, and each principal's settings file."""
    rules = secure_mode.desired_acls(spec.topic_prefix)
    secure_mode.apply_acls(spec.bootstrap, spec.admin_security(), rules)
    echo(f"SASL_SSL with SCRAM; {len(rules)} ACLs for topic prefix {spec.topic_prefix!r}")
    for path in secure_mode.write_client_envs(spec.secure_layout, spec.bootstrap):
        echo(f"  settings of {path.stem.removeprefix('client-')}: {path}")


def _wait_ready(spec: BrokerSpec, proc: subprocess.Popen[bytes]) -> None:
    """Until this node answers a metadata request itself."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            spec.layout.pid_file.unlink(missing_ok=True)
            raise BrokerError(
                f"broker exited with code {proc.returncode} during start-up: "
                f"{_last_error(spec.layout)} (log: {spec.layout.server_log})"
            )
        if metadata_answered(spec.address, timeout_s=2.0, security=spec.admin_security()):
            return
        time.sleep(0.5)
    raise BrokerError(
        f"broker did not answer a metadata request within {READY_TIMEOUT_S:.0f}s "
        f"(log: {spec.layout.server_log})"
    )


def _wait_whole(spec: BrokerSpec) -> None:
    """Until every node's metadata lists every node: topics with 3 replicas need all three."""
    if spec.brokers == 1:
        return
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen = 0
    security = spec.admin_security()
    while time.monotonic() < deadline:
        # every node's own metadata: one that lags would tell a client "2 brokers" and
        # its topics would get 2 replicas
        seen = min(broker_count(node.address, 2.0, security=security) for node in nodes(spec))
        if seen >= spec.brokers:
            return
        time.sleep(0.5)
    raise BrokerError(
        f"the cluster lists {seen} of {spec.brokers} brokers after {READY_TIMEOUT_S:.0f}s "
        f"(logs under {spec.cluster_root})"
    )


def _last_error(layout: BrokerLayout) -> str:
    for log in (layout.server_log, layout.console_log):
        if log.exists():
            lines = [ln for ln in log.read_text(errors="replace").splitlines() if "ERROR" in ln]
            if lines:
                return lines[-1][:400]
    return "no error in the log"


def stop(spec: BrokerSpec) -> list[int]:
    """Stop every node we started (SIGTERM, then SIGKILL after a timeout); their pids."""
    running = []
    for node in nodes(_remembered_quietly(spec)):
        pid = read_pid(node.layout)
        if pid is None:
            node.layout.pid_file.unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        running.append((node, pid))
    # All at once: a node told to stop after the others would wait for a lost quorum.
    for node, pid in running:
        if not _wait_gone(pid, node.layout, STOP_TIMEOUT_S):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, node.layout, 10.0)
        node.layout.pid_file.unlink(missing_ok=True)
    return [pid for _, pid in running]


def _remembered_quietly(spec: BrokerSpec) -> BrokerSpec:
    """The remembered cluster size, without refusing a mode mismatch (stopping is always fine)."""
    brokers = formatted_brokers(spec)
    return replace(spec, brokers=brokers) if brokers else spec


def _wait_gone(pid: int, layout: BrokerLayout, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child (tests)
            os.waitpid(pid, os.WNOHANG)
        if not _is_our_broker(pid, layout):
            return True
        time.sleep(0.2)
    return False


def status(spec: BrokerSpec) -> BrokerStatus:
    """Whether our nodes run and the cluster answers metadata requests (the first pid)."""
    spec = remembered(spec) if not spec.secure else spec
    return _summary(spec, node_statuses(spec))


def node_statuses(spec: BrokerSpec) -> list[BrokerStatus]:
    """Each node: its pid, and whether it answers on its own address."""
    security = spec.admin_security()
    found = []
    for node in nodes(spec):
        pid = read_pid(node.layout)
        answering = metadata_answered(node.address, timeout_s=2.0, security=security)
        found.append(BrokerStatus(pid, pid is not None, answering, node.address, None))
    return found


def _summary(spec: BrokerSpec, each: list[BrokerStatus]) -> BrokerStatus:
    security = spec.admin_security()
    pid = next((node.pid for node in each if node.pid is not None), None)
    answering = any(node.answering for node in each)
    version = None
    if answering and spec.jars.complete and pid is not None:
        version = spec.jars.kafka_version()
    elif answering:
        version = broker_api_version(spec.bootstrap, security=security)
    running = all(node.running for node in each)
    return BrokerStatus(pid, running, answering, spec.bootstrap, version)
