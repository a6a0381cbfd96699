"""The main job end to end on the embedded default: what ``make demo`` runs.

Kafka (the configured cluster, or the local broker from Maven Central), the
topics, the Jember frame, then three child processes: the worker (which holds
the embedded ClickHouse), the HTTP gateway and the simulator. The live board
polls the worker until the simulator is done and the worker has caught up;
the summary then compares ClickHouse with the simulator's ground truth.
Each run first clears the previous run's data (:mod:`simulator.demo_reset`:
topics, consumer group, ClickHouse database, Faust state, logs and truth; the
broker, jars, frame and secrets are kept) unless ``--keep-data``.
Ctrl-C or SIGTERM stops every process the demo started, its children before the
broker they use (a worker needs the broker to leave its consumer group promptly); the
data stays in the state directory until the next demo.

``--secure`` (``make demo SECURE=1``) runs the local broker in its secure mode
(SASL_SSL, SCRAM users, ACLs, :mod:`streams.local_kafka_secure`) and each
component as the principal it would be in production: the worker as
``worker``, the gateway and the simulator as ``field`` (which may write the
submissions topic and nothing else), the topics created by the demo as
``admin``. A state directory whose broker was formatted secure stays secure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from schemas.errors import RegsosekError
from simulator import demo_reset
from simulator.truth import GroundTruth
from simulator.verify import EARLIER_RUNS_NOTE, compare
from streams import board as live_board
from streams import local_kafka
from streams.kafka_admin import broker_api_version, group_lag, metadata_answered
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.local_kafka_secure import SUPER_USER
from streams.secret_files import demo_secrets
from streams.settings import Settings
from streams.topics import (
    ENUMERATOR_EVENTS,
    REVIEWS,
    SUBMISSIONS,
    desired_topics,
    ensure_topics,
    named,
    resolve_replication,
    summary,
)

READY_TIMEOUT_S = 180.0
#: Principals of the secure local broker the children run as.
WORKER = "worker"
FIELD = "field"
#: How long the children get, together, to exit after SIGTERM before they are killed.
STOP_TIMEOUT_S = 6.0
KILL_TIMEOUT_S = 2.0
EXAMPLE_QUERY = (
    "SELECT district_name, enumerated, target, percent FROM regsosek.progress_by_district"
)


@dataclass
class Child:
    """A process the demo started, and where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()


def stop_children(
    children: list[Child], timeout_s: float = STOP_TIMEOUT_S, hurry: threading.Event | None = None
) -> list[Child]:
    """SIGTERM to all, wait together up to ``timeout_s`` (less once hurried), then SIGKILL.

    Returns the children that had to be killed.
    """
    alive = [child for child in children if child.alive()]
    for child in alive:
        child.terminate()
    deadline = time.monotonic() + timeout_s
    while any(child.alive() for child in alive) and time.monotonic() < deadline:
        if hurry is not None and hurry.is_set():
            break
        time.sleep(0.05)
    killed = [child for child in alive if child.alive()]
    for child in killed:
        child.kill()
    for child in killed:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=KILL_TIMEOUT_S)
    return killed


@dataclass
class DemoOptions:
    """What ``regsosek demo`` was asked for."""

    scale: float = 0.01
    seed: int = 7
    duration_s: float = 300.0
    via: str = "sdk"
    #: The local broker in its secure mode, each component as its own principal.
    secure: bool = False
    #: Keep the previous runs' data instead of clearing it (corrupt-message counts add up).
    keep_data: bool = False
    #: Supervisors review the interviews (``simulate --reviews``); statuses are compared too.
    reviews: bool = True
    #: The tablets send paradata (``simulate --paradata``); events by type are compared too.
    paradata: bool = True
    #: After the comparison, keep the worker and the gateway (and so the console) up until Ctrl-C.
    hold: bool = False


@dataclass(frozen=True)
class KafkaAccess:
    """How the demo and its children reach Kafka.

    ``security`` is the demo's own (topic creation, lag): ``admin`` on the
    secure local broker, else the settings'. ``envs`` holds each principal's
    ``REGSOSEK_KAFKA_*`` variables on the secure local broker (empty otherwise:
    the children inherit the demo's environment).
    """

    bootstrap: str
    security: KafkaSecurity = PLAINTEXT
    envs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def env(self, principal: str) -> dict[str, str]:
        """The variables a child running as ``principal`` needs (none without secure mode)."""
        return dict(self.envs.get(principal, {}))


def env_file_values(text: str) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of a ``client-<principal>.env`` file, comments skipped. Pure."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and "=" in stripped:
            key, value = stripped.split("=", 1)
            values[key.strip()] = value.strip()
    return values


@dataclass
class Demo:
    """One run: its settings, children and log directory."""

    settings: Settings
    options: DemoOptions
    console: Console
    children: list[Child] = field(default_factory=list)
    interrupted: bool = False
    #: Operator token the board sends to the worker's /board.
    board_token: str | None = None

    @property
    def run_dir(self) -> Path:
        path = self.settings.state_dir.resolve() / "demo"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def truth_file(self) -> Path:
        return self.run_dir / "ground-truth.json"

    def env(self, kafka: KafkaAccess, principal: str, **extra: str) -> dict[str, str]:
        """A child's environment: the demo's, the broker, and ``principal``'s Kafka login."""
        return {
            **os.environ,
            "REGSOSEK_KAFKA_BOOTSTRAP": kafka.bootstrap,
            **kafka.env(principal),
            "REGSOSEK_STATE_DIR": str(self.settings.state_dir.resolve()),
            **extra,
        }

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Child:
        log = self.run_dir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        """Stop every child still running, newest first; a second Ctrl-C kills them at once."""
        if any(child.alive() for child in self.children):
            with _signals_hurry() as hurry:
                killed = stop_children(list(reversed(self.children)), STOP_TIMEOUT_S, hurry)
            for child in killed:
                self.console.print(f"[yellow]{child.name} did not stop on SIGTERM; killed it")

    @contextlib.contextmanager
    def processes(self) -> Iterator[None]:
        """Stop the children on the way out, before what encloses this (the broker) stops."""
        try:
            yield
        except KeyboardInterrupt:
            self.interrupted = True
            self.console.print(
                "[yellow]Interrupted: stopping every process the demo started (data kept)."
            )
            raise
        finally:
            self.stop_all()


def run(settings: Settings, options: DemoOptions, console: Console | None = None) -> int:
    """Run the demo; the exit code is 0 when ClickHouse agrees with the ground truth."""
    out = console or Console()
    demo = Demo(settings, options, out)
    out.rule("[bold]Regsosek streaming ingestion — a month of Jember fieldwork")
    out.print(
        f"scale {options.scale}, seed {options.seed}, via {options.via}, "
        f"state directory {settings.state_dir.resolve()}"
    )
    with _sigterm_interrupts():
        try:
            # The children stop (demo.processes) before the broker (_kafka) they depend on.
            with _kafka(settings, out.print, secure=options.secure) as kafka, demo.processes():
                return _pipeline(demo, kafka)
        except KeyboardInterrupt:
            if not demo.interrupted:  # while the broker was starting: no child yet
                out.print("[yellow]Interrupted (data kept).")
            return 130
        finally:
            demo.stop_all()  # whatever an interrupt during the clean-up left behind


def _pipeline(demo: Demo, kafka: KafkaAccess) -> int:
    out, settings, options = demo.console, demo.settings, demo.options
    refused = demo_reset.refusal(settings.clickhouse_dsn.get_secret_value(), kafka.bootstrap)
    if refused and not options.keep_data:
        out.print(f"[yellow]Not clearing earlier runs' data: {refused}; keeping it (--keep-data).")
        options = demo.options = replace(options, keep_data=True)
    if options.keep_data:
        out.print("[yellow]Keeping the data of earlier runs (--keep-data).")
    else:  # before the worker starts: it owns the embedded engine while it runs
        reset = demo_reset.plan(settings, demo.run_dir)
        try:
            out.print(demo_reset.clear(settings, reset, kafka.bootstrap, kafka.security).line())
        except RegsosekError as exc:
            out.print(f"[red]clearing the previous run's data failed: {exc} (or --keep-data)")
            return 1
    settings = resolve_replication(settings, kafka.security)
    reports = ensure_topics(kafka.bootstrap, desired_topics(settings), security=kafka.security)
    out.print(f"[green]✓[/] topics: {summary(reports)}")
    sim_args = ["simulate", "--scale", str(options.scale), "--seed", str(options.seed)]
    frame = demo.spawn("frame", [*sim_args, "--frame-only"], demo.env(kafka, FIELD))
    if frame.proc.wait(timeout=300) != 0:
        out.print(f"[red]writing the frame failed; see {frame.log}")
        return 1
    out.print(f"[green]✓[/] frame written to {settings.frame_directory.resolve()}")
    # a NIK key and an operator token made once per state directory, unless configured
    secrets = demo_secrets(settings)
    demo.board_token = secrets.operator_token
    worker = demo.spawn("worker", ["worker"], demo.env(kafka, WORKER, **secrets.env))
    _wait_http(worker, settings.web_port, "/healthz", out)
    tokens = settings.frame_directory.resolve() / "tokens.json"
    gateway_env = {"REGSOSEK_GATEWAY_TOKENS_FILE": str(tokens)}
    worker_token_set = settings.gateway_worker_token.get_secret_value() or (
        settings.gateway_worker_token_file is not None
    )
    if secrets.operator_token_file is not None and not worker_token_set:
        # the tablets' feedback (GET /v1/feedback) is answered by the worker, which owns the
        # embedded engine: the gateway asks it with the demo's operator token
        gateway_env |= {
            "REGSOSEK_GATEWAY_WORKER_URL": f"http://127.0.0.1:{settings.web_port}",
            "REGSOSEK_GATEWAY_WORKER_TOKEN_FILE": str(secrets.operator_token_file),
        }
    operators = Settings.env_name("operator_tokens_file")
    if operators in secrets.env:  # operators sign in to the console with the worker's token
        gateway_env[operators] = secrets.env[operators]
    gateway = demo.spawn("gateway", ["gateway"], demo.env(kafka, FIELD, **gateway_env))
    _wait_http(gateway, settings.gateway_port, "/healthz", out)
    out.print(
        f"[green]✓[/] worker: http://127.0.0.1:{settings.web_port}/metrics, /progress, /board; "
        f"gateway: http://127.0.0.1:{settings.gateway_port}/v1/submissions"
    )
    out.print(
        f"[bold green]➜[/] operator console: http://127.0.0.1:{settings.gateway_port}/console/"
    )
    if secrets.operator_token_file is not None:
        out.print(
            f"  sign in with the operator token in {secrets.operator_token_file}; a "
            f"supervisor signs in with their own token from {tokens} (a 3-digit id)"
        )
        out.print(
            '  operator pages need the token: curl -H "Authorization: Bearer '
            f'$(cat {secrets.operator_token_file})" http://127.0.0.1:{settings.web_port}/board'
        )
    simulator = demo.spawn(
        "simulate",
        [
            *sim_args,
            "--duration",
            str(options.duration_s),
            "--via",
            options.via,
            "--gateway-url",
            f"http://127.0.0.1:{settings.gateway_port}",
            "--truth-file",
            str(demo.truth_file),
            "--no-progress",
            "--reviews" if options.reviews else "--no-reviews",
            "--paradata" if options.paradata else "--no-paradata",
        ],
        demo.env(kafka, FIELD),
    )
    board = _watch(demo, kafka, simulator, worker)
    if simulator.proc.returncode != 0:
        out.print(
            f"[red]the simulator failed (exit {simulator.proc.returncode}); see {simulator.log}"
        )
        return 1
    agreed = _summary(demo, board)
    if options.hold:
        _hold(demo, [worker, gateway])
    return agreed


def _hold(demo: Demo, children: list[Child]) -> None:
    """Keep the stack up so the console can be explored; Ctrl-C (or a child's exit) ends it."""
    port = demo.settings.gateway_port
    demo.console.print(
        f"[bold]Holding (--hold): the console stays at http://127.0.0.1:{port}/console/ "
        "until Ctrl-C."
    )
    with contextlib.suppress(KeyboardInterrupt):
        while all(child.alive() for child in children):
            time.sleep(1.0)


def _wait_http(child: Child, port: int, path: str, out: Console) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not child.alive():
            raise SystemExit(f"{child.name} exited early; see {child.log}")
        with contextlib.suppress(OSError):
            import urllib.request  # noqa: PLC0415

            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        time.sleep(0.5)
    raise SystemExit(f"{child.name} did not answer on :{port} in time; see {child.log}")


def _watch(
    demo: Demo, kafka: KafkaAccess, simulator: Child, worker: Child
) -> dict[str, Any] | None:
    """The live board, until the simulator is done and the worker has caught up."""
    settings = demo.settings
    # the worker's inputs that the simulator writes
    topics = [named(SUBMISSIONS, settings.topic_prefix)]
    if demo.options.reviews:
        topics.append(named(REVIEWS, settings.topic_prefix))
    if demo.options.paradata:
        topics.append(named(ENUMERATOR_EVENTS, settings.topic_prefix))
    group = f"{settings.topic_prefix}-worker"
    rate = live_board.Rate()
    last: dict[str, Any] | None = None
    with Live(console=demo.console, refresh_per_second=2, transient=False) as live:
        while True:
            board = live_board.fetch_board(settings.web_port, token=demo.board_token)
            last = board or last
            processed = ((board or {}).get("worker") or {}).get("processed", 0)
            events = rate.add(processed)
            status = "simulating…" if simulator.alive() else "simulator done; worker catching up…"
            live.update(live_board.render(last, events, status))
            if not worker.alive():
                raise SystemExit(f"the worker stopped; see {worker.log}")
            caught_up = not simulator.alive() and (
                group_lag(kafka.bootstrap, group, topics, security=kafka.security) == 0
            )
            if caught_up:
                time.sleep(1.5)  # the last sink batch's rows become visible
                last = live_board.fetch_board(settings.web_port, token=demo.board_token) or last
                live.update(live_board.render(last, 0.0, "done"))
                return last
            time.sleep(1.0)


def _summary(demo: Demo, board: dict[str, Any] | None) -> int:
    """ClickHouse against the ground truth, line by line."""
    out, settings = demo.console, demo.settings
    truth = GroundTruth.read(demo.truth_file)
    table = Table(title="Summary: ClickHouse against the simulator's ground truth")
    for column in ("what", "ground truth", "ClickHouse", ""):
        table.add_column(column, justify="right" if column else "left")
    checks = compare(truth, board or {}, earlier_runs=demo.options.keep_data)
    for check in checks:
        actual = f"{check.actual:,}" if check.actual is not None else "-"
        table.add_row(
            check.label, check.shown_expected, actual, "[green]✓" if check.ok else "[red]✗"
        )
    agree = all(check.ok for check in checks)
    out.print(table)
    if demo.options.keep_data:
        out.print(f"[yellow]Note: {EARLIER_RUNS_NOTE}")
    out.print(
        f"Messages sent: {truth.messages_sent:,} (duplicates {truth.duplicates_sent:,}, "
        f"revisions {truth.revisions_sent:,}, corrupt {truth.corrupt_sent:,}, "
        f"old app {truth.old_schema_sent:,}); truth file {demo.truth_file}"
    )
    chdb = settings.clickhouse_dsn.get_secret_value()
    out.print(
        f"Data kept until the next demo: {chdb} and Kafka logs under "
        f"{settings.state_dir.resolve()}. Query it (the worker has stopped): "
        f".venv/bin/regsosek db query '{EXAMPLE_QUERY}'"
    )
    out.print(
        "[bold green]ClickHouse equals the ground truth."
        if agree
        else "[bold red]ClickHouse differs from the ground truth (see ✗ rows)."
    )
    return 0 if agree else 1


@contextlib.contextmanager
def _kafka(
    settings: Settings, echo: Callable[[str], None], *, secure: bool = False
) -> Iterator[KafkaAccess]:
    """Use the configured cluster if it answers, else start (and later stop) the local one.

    Secure when asked, when the settings speak SASL_SSL, or when the local
    broker of this state directory was formatted secure (it stays so).
    """
    from streams.cli.kafka import spec_from  # noqa: PLC0415 - CLI helper, imported lazily

    spec = spec_from(settings, secure=secure)
    if local_kafka.formatted_secure(spec):
        spec = replace(spec, secure=True)
    if not spec.secure or settings.kafka_security_protocol != "PLAINTEXT":
        security = KafkaSecurity.from_settings(settings)
        if metadata_answered(settings.kafka_bootstrap, timeout_s=3, security=security):
            version = broker_api_version(settings.kafka_bootstrap, security=security)
            echo(f"Using the running Kafka at {settings.kafka_bootstrap} (API {version})")
            yield KafkaAccess(settings.kafka_bootstrap, security)
            return
    if spec.secure and _secure_broker_answers(spec):
        echo(f"Using the running secure local Kafka at {spec.bootstrap}")
        yield _secure_access(spec, echo)
        return
    try:
        state = local_kafka.start(spec, echo=echo)
        echo(f"Started Apache Kafka {state.version} at {spec.bootstrap} (pid {state.pid})")
        yield _secure_access(spec, echo) if spec.secure else KafkaAccess(spec.bootstrap)
    finally:  # also when interrupted while the broker was starting
        with _signals_hurry():
            stopped = local_kafka.stop(spec)
        if stopped:
            echo("Stopped the Kafka broker the demo started (data kept).")


def _secure_broker_answers(spec: local_kafka.BrokerSpec) -> bool:
    """Whether this state directory's secure broker runs already (its admin can log in)."""
    if not spec.secure_layout.password_file(SUPER_USER).exists():
        return False
    return metadata_answered(spec.bootstrap, timeout_s=3, security=spec.admin_security())


def _secure_access(spec: local_kafka.BrokerSpec, echo: Callable[[str], None]) -> KafkaAccess:
    """The admin's login for the demo, each principal's settings file for the children."""
    layout = spec.secure_layout
    envs = {
        principal: env_file_values(layout.client_env(principal).read_text(encoding="utf-8"))
        for principal in (WORKER, FIELD)
    }
    echo(
        f"Kafka over SASL_SSL with ACLs: the worker logs in as {WORKER!r}, the gateway and the "
        f"simulator as {FIELD!r}, topics are created as {SUPER_USER!r}"
    )
    return KafkaAccess(spec.bootstrap, spec.admin_security(), envs)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the demo the way Ctrl-C does: through its clean-up, not past it."""
    if not _in_main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_hurry() -> Iterator[threading.Event]:
    """During clean-up Ctrl-C and SIGTERM only hurry it along; they cannot cut it short."""
    hurry = threading.Event()
    if not _in_main_thread():
        yield hurry
        return

    def note(signum: int, frame: FrameType | None) -> None:
        hurry.set()

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield hurry
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
