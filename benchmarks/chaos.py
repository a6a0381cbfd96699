"""Chaos soak: the whole platform under faults, then ClickHouse against the ground truth.

``python -m benchmarks.chaos`` runs, on this machine: a KRaft cluster of three
brokers (topics with 3 replicas, min.insync 2), ``regsosek worker`` (the embedded
engine's owner), ``regsosek gateway``, and the simulator sending a Jember month
through the gateway at a steady rate, with supervisors' reviews and paradata.
While it sends, a broker is SIGKILLed and started again, the worker is SIGKILLed
(and started again, as an orchestrator would) ``--worker-kills`` times at seeded
random moments, ClickHouse is down for ``--outage`` seconds, and the gateway is
SIGKILLed and started again. Once the worker has caught up, the board is compared
with the simulator's ground truth exactly (households, members, rejections by
reason, every district's enumerated and review states, paradata events by type),
and the report shows, for each fault, the consumer lag before, at its worst and
how long until it was back, the time the worker was not ready, and the freshness
(Kafka timestamp to row written) of the rows written around it.

The engine is embedded in the worker's process, so a SIGKILL of the worker is
also a crash of the engine (its parts on disk must survive it); "ClickHouse
down" makes every insert fail as a refused connection would, through the same
injection the outage test uses (tests/fault_worker.py), because an embedded
engine cannot be stopped apart from its process.

Output: a table on stdout and ``benchmarks/results/chaos.json`` (``--out``).
The suite runs a short form (tests/e2e/test_chaos.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.chaos_plan import (
    ChaosPlan,
    Fault,
    FaultKind,
    Sample,
    lag_effect,
    not_ready_s,
    schedule,
    window_end,
)
from monitoring.lag import KafkaOffsets
from schemas.regions import DEFAULT_REGIONS_FILE, load_regions
from simulator.config import ReviewConfig, SimulationConfig
from simulator.launch import prepare
from simulator.population import regency_population
from simulator.truth import GroundTruth
from simulator.verify import Check, compare
from streams import local_kafka
from streams.settings import Settings
from streams.topics import (
    ENUMERATOR_EVENTS,
    REVIEWS,
    SUBMISSIONS,
    desired_topics,
    ensure_topics,
    named,
    resolve_replication,
)
from tests.backends import free_port_run
from tests.gateway_harness import GatewayProcess
from tests.worker_harness import FAULT_ENTRY, ROOT, WorkerProcess

RESULTS = ROOT / "benchmarks" / "results" / "chaos.json"
PREFIX = "chaos"
SAMPLE_EVERY_S = 1.0


@dataclass
class Timeline:
    """What happened when, in seconds after sending began (filled while the run goes on)."""

    began: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    done: list[Fault] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def now(self) -> float:
        return round(time.monotonic() - self.began, 1)


@dataclass(frozen=True)
class Stack:
    """The running parts a fault acts on."""

    cluster: local_kafka.BrokerSpec
    worker: WorkerProcess
    gateway: GatewayProcess
    outage_marker: Path
    say: Callable[[str], None]


def run(plan: ChaosPlan, state_dir: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    """One soak; returns the report (also what ``--out`` writes)."""
    faults = schedule(plan)
    base = free_port_run(6, 1)
    cluster = local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=base,
        controller_port=base + 1,
        state_dir=state_dir,
        cache_dir=Settings().cache_dir,
        heap="384m",
        partitions=plan.partitions,
        brokers=3,
    )
    say(f"starting a Kafka cluster of 3 at {cluster.bootstrap}")
    local_kafka.start(cluster, echo=lambda _line: None)
    try:
        return _run_on(plan, faults, cluster, state_dir, say)
    finally:
        local_kafka.stop(cluster)


def _run_on(
    plan: ChaosPlan,
    faults: list[Fault],
    cluster: local_kafka.BrokerSpec,
    state_dir: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    settings = resolve_replication(
        Settings(
            state_dir=state_dir,
            kafka_bootstrap=cluster.bootstrap,
            topic_prefix=PREFIX,
            topic_partitions=plan.partitions,
        )
    )
    ensure_topics(cluster.bootstrap, desired_topics(settings))
    config = _config(plan)
    prepared = prepare(settings, config)
    households = prepared.frame.households
    say(f"frame: {households:,} households; replication {settings.topic_replication}")
    marker = state_dir / "clickhouse-down"
    worker = WorkerProcess(
        cluster.bootstrap,
        PREFIX,
        state_dir,
        {
            "REGSOSEK_TEST_CLICKHOUSE_DOWN": str(marker),
            "REGSOSEK_TOPIC_PARTITIONS": str(plan.partitions),
        },
        entry=FAULT_ENTRY,
    )
    worker.start()
    gateway = GatewayProcess(
        cluster.bootstrap,
        PREFIX,
        state_dir,
        prepared.tokens_file,
        f"http://127.0.0.1:{worker.web_port}",
        worker.operator_token,
    )
    gateway.start()
    stack = Stack(cluster, worker, gateway, marker, say)
    truth_file = state_dir / "truth.json"
    timeline = Timeline()
    stop_sampling = threading.Event()
    sampler = threading.Thread(
        target=_sample, args=(stack, timeline, stop_sampling), name="sampler", daemon=True
    )
    try:
        simulator = _simulate(plan, config, settings, gateway, truth_file)
        timeline.began = time.monotonic()
        sampler.start()
        for fault in faults:
            _sleep_until(timeline, fault.at_s, simulator)
            timeline.done.append(_inflict(stack, fault, timeline))
        sent_s = _wait_simulator(simulator, timeline)
        say(f"simulator done after {sent_s:.0f} s; waiting for the worker to catch up")
        worker.wait_idle(timeout_s=1800, also=(REVIEWS, ENUMERATOR_EVENTS))
        caught_up_s = timeline.now()
        time.sleep(2.0)  # the last sink batch's rows become visible
        board = worker.page("/board")
        restarts = worker.starts - 1
    finally:
        stop_sampling.set()
        gateway.stop()
        worker.stop()
    truth = GroundTruth.read(truth_file)
    checks = compare(truth, board or {})
    freshness = _freshness(worker, timeline)
    duplicates = _raw_duplicates(worker)
    return _report(
        plan,
        settings.topic_replication or 0,
        timeline,
        checks,
        freshness,
        duplicates=duplicates,
        sent_s=sent_s,
        caught_up_s=caught_up_s,
        restarts=restarts,
        truth=truth,
    )


def _config(plan: ChaosPlan) -> SimulationConfig:
    """A Jember month scaled to the plan's households, supervisors reviewing, tablets' paradata."""
    regions = load_regions(DEFAULT_REGIONS_FILE)
    base = SimulationConfig(seed=plan.seed)
    people = regency_population(regions, base)
    # rounded as the simulator's command line receives it: the same frame in both
    scale = round(plan.households * base.persons_per_household / people, 6)
    return replace(
        base,
        scale=scale,
        reviews=ReviewConfig(enabled=True, return_rate=0.1, reject_rate=0.01),
        paradata=True,
    )


def _simulate(
    plan: ChaosPlan,
    config: SimulationConfig,
    settings: Settings,
    gateway: GatewayProcess,
    truth_file: Path,
) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REGSOSEK_")},
        "REGSOSEK_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "REGSOSEK_TOPIC_PREFIX": PREFIX,
        "REGSOSEK_TOPIC_PARTITIONS": str(plan.partitions),
        "REGSOSEK_STATE_DIR": str(settings.state_dir),
        "REGSOSEK_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    args = [
        *("simulate", "--scale", f"{config.scale:.6f}", "--seed", str(config.seed)),
        *("--duration", str(plan.send_s), "--via", "http", "--gateway-url", gateway.url),
        *("--truth-file", str(truth_file), "--no-progress", "--reviews", "--paradata"),
    ]
    log = (settings.state_dir / "simulate.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *args], env=env, stdout=log, stderr=log, cwd=ROOT
    )


def _sleep_until(timeline: Timeline, at_s: float, simulator: subprocess.Popen[bytes]) -> None:
    while timeline.now() < at_s:
        if simulator.poll() is not None:
            raise RuntimeError(
                f"the simulator ended (exit {simulator.returncode}) before the fault at {at_s} s"
            )
        time.sleep(0.2)


def _inflict(stack: Stack, fault: Fault, timeline: Timeline) -> Fault:
    """Do the fault; returns it with the times it really took."""
    start = timeline.now()
    stack.say(f"{start:7.1f} s  {fault.kind}")
    if fault.kind is FaultKind.WORKER_KILL:
        stack.worker.kill()
        stack.worker.start(ready_timeout_s=300)
    elif fault.kind is FaultKind.ENGINE_OUTAGE:
        stack.outage_marker.touch()
        time.sleep(fault.lasts_s)
        stack.outage_marker.unlink()
    elif fault.kind is FaultKind.BROKER_KILL:
        victim = local_kafka.nodes(stack.cluster)[1]
        pid = local_kafka.read_pid(victim.layout)
        if pid is None:
            raise RuntimeError(f"broker node {victim.node_id} is not running")
        os.kill(pid, signal.SIGKILL)
        time.sleep(fault.lasts_s)
        local_kafka.start(stack.cluster, echo=lambda _line: None)
    elif fault.kind is FaultKind.GATEWAY_RESTART:
        proc = stack.gateway.proc
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        stack.gateway.start()
    end = timeline.now()
    stack.say(f"{end:7.1f} s  {fault.kind} over ({end - start:.1f} s)")
    return Fault(fault.kind, start, round(end - start, 1))


def _sample(stack: Stack, timeline: Timeline, stop: threading.Event) -> None:
    """Lag, messages on the submissions topic and readiness every second until told to stop."""
    group = f"{PREFIX}-worker"
    topic = named(SUBMISSIONS, PREFIX)
    offsets = KafkaOffsets(stack.cluster.bootstrap)
    try:
        while not stop.is_set():
            t = timeline.now()
            lag, sent = -1, -1
            try:
                _, ends = offsets.log_offsets([topic])
                committed = offsets.committed(group)
                sent = sum(ends.values())
                lag = sum(end - committed.get(tp, 0) for tp, end in ends.items())
            except Exception:  # a broker away mid-call: unknown, not a crash of the soak
                offsets.close()  # rebuilt at the next call
            ready = stack.worker.page("/readyz")
            timeline.samples.append(Sample(t, lag, bool(ready and ready.get("ready")), sent))
            stop.wait(SAMPLE_EVERY_S)
    finally:
        offsets.close()


def _wait_simulator(simulator: subprocess.Popen[bytes], timeline: Timeline) -> float:
    code = simulator.wait(timeout=7200)
    if code != 0:
        raise RuntimeError(f"the simulator failed (exit {code}); see simulate.log")
    return timeline.now()


def _freshness(worker: WorkerProcess, timeline: Timeline) -> dict[str, dict[str, float]]:
    """Freshness (ms) of the rows written in each fault's window, and of the whole run."""
    began = time.time() - (time.monotonic() - timeline.began)
    windows: dict[str, tuple[float, float]] = {"whole run": (0.0, 1e9)}
    for index, (fault, until) in enumerate(_windows(timeline.done)):
        windows[f"{index}"] = (fault.at_s, until)
    parts = [
        f"{name!r}, quantilesExactIf(0.5, 0.99)(age, t >= {low} AND t < {high}),"
        f" maxIf(age, t >= {low} AND t < {high}), countIf(t >= {low} AND t < {high})"
        for name, (low, high) in windows.items()
    ]
    select = ", ".join(f"tuple({part})" for part in parts)
    sql = (
        f"SELECT [{select}] AS windows FROM (SELECT"  # noqa: S608 - numbers we made
        " dateDiff('millisecond', received_at, written_at) AS age,"
        f" toUnixTimestamp64Milli(written_at) / 1000 - {began:.3f} AS t"
        " FROM regsosek.households WHERE received_at IS NOT NULL)"
    )
    (row,) = worker.query(sql)
    found: dict[str, dict[str, float]] = {}
    for name, quantiles, worst, rows in row["windows"]:
        found[name] = {"p50": quantiles[0], "p99": quantiles[1], "max": worst, "rows": rows}
    return found


def _windows(done: list[Fault]) -> list[tuple[Fault, float]]:
    """Each fault with the end of its window: the next fault's start at the latest."""
    nexts: list[float | None] = [fault.at_s for fault in done[1:]]
    return [
        (fault, window_end(fault, after)) for fault, after in zip(done, [*nexts, None], strict=True)
    ]


def _raw_duplicates(worker: WorkerProcess) -> int:
    """Household rows written more than once, before merges (the FINAL view hides them)."""
    (row,) = worker.query(
        "SELECT count() - uniqExact(household_id, revision) AS extra FROM regsosek.households"
    )
    return int(row["extra"])


def _report(
    plan: ChaosPlan,
    replication: int,
    timeline: Timeline,
    checks: list[Check],
    freshness: dict[str, dict[str, float]],
    *,
    duplicates: int,
    sent_s: float,
    caught_up_s: float,
    restarts: int,
    truth: GroundTruth,
) -> dict[str, Any]:
    faults = []
    for index, (fault, until) in enumerate(_windows(timeline.done)):
        effect = lag_effect(timeline.samples, fault, until)
        faults.append(
            {
                "kind": str(fault.kind),
                "at_s": fault.at_s,
                "lasted_s": fault.lasts_s,
                "lag_before": effect.before,
                "lag_peak": effect.peak,
                "lag_recovered_after_s": effect.recovered_after_s,
                "window_until_s": until,
                "worker_not_ready_s": not_ready_s(timeline.samples, fault, until),
                "freshness_ms": freshness.get(f"{index}"),
            }
        )
    wrong = [asdict(check) for check in checks if not check.ok]
    return {
        "plan": asdict(plan),
        "brokers": 3,
        "replication": replication,
        "households_accepted": truth.accepted_households,
        "messages_sent": truth.messages_sent,
        "sent_s": sent_s,
        "caught_up_s": caught_up_s,
        "worker_restarts": restarts,
        "checks": len(checks),
        "checks_failed": wrong,
        "equals_ground_truth": not wrong,
        "raw_duplicate_household_rows": duplicates,
        "freshness_ms_whole_run": freshness.get("whole run"),
        "faults": faults,
        # every sample: seconds, lag, messages on the submissions topic, worker ready
        "samples": [[s.t, s.lag, s.sent, int(s.ready)] for s in timeline.samples],
    }


def render(report: dict[str, Any], console: Console) -> None:
    """The report as a person reads it."""
    table = Table(title="Chaos soak: each fault's effect")
    for column in (
        "at s",
        "fault",
        "lasted s",
        "lag before",
        "lag peak",
        "lag back after s",
        "not ready s",
        "fresh p50 ms",
        "fresh p99 ms",
        "fresh max ms",
    ):
        table.add_column(column, justify="left" if column == "fault" else "right")
    for fault in report["faults"]:
        fresh = fault["freshness_ms"] or {}
        back = fault["lag_recovered_after_s"]
        table.add_row(
            f"{fault['at_s']:.0f}",
            fault["kind"],
            f"{fault['lasted_s']:.1f}",
            f"{fault['lag_before']:,.0f}",
            f"{fault['lag_peak']:,}",
            "not in window" if back is None else f"{back:.0f}",
            f"{fault['worker_not_ready_s']:.0f}",
            _ms(fresh.get("p50")),
            _ms(fresh.get("p99")),
            _ms(fresh.get("max")),
        )
    console.print(table)
    whole = report["freshness_ms_whole_run"] or {}
    verdict = "equals" if report["equals_ground_truth"] else "DIFFERS FROM"
    console.print(
        f"{report['messages_sent']:,} messages ({report['households_accepted']:,} households "
        f"accepted) sent in {report['sent_s']:.0f} s through the gateway to 3 brokers "
        f"(replication {report['replication']}); the worker caught "
        f"up at {report['caught_up_s']:.0f} s after {report['worker_restarts']} restarts. "
        f"Freshness over the run: p50 {_ms(whole.get('p50'))} ms, p99 {_ms(whole.get('p99'))} ms."
    )
    console.print(
        f"ClickHouse {verdict} the ground truth ({report['checks']} checks); household rows "
        f"written twice before merges: {report['raw_duplicate_household_rows']:,}."
    )
    for check in report["checks_failed"]:
        console.print(f"  [red]{check['label']}: truth {check['expected']}, {check['actual']}")


BEGIN, END = "<!-- chaos:results -->", "<!-- /chaos:results -->"


def markdown(report: dict[str, Any]) -> str:
    """The report as docs/cluster.md shows it (between the chaos:results markers)."""
    plan = report["plan"]
    whole = report["freshness_ms_whole_run"] or {}
    verdict = "**equals**" if report["equals_ground_truth"] else "**differs from**"
    lines = [
        f"`python -m benchmarks.chaos --households {plan['households']} --send-seconds "
        f"{plan['send_s']:.0f}` (seed {plan['seed']}; `benchmarks/results/chaos.json`): "
        f"{report['messages_sent']:,} messages ({report['households_accepted']:,} households "
        f"accepted) sent through the gateway in {report['sent_s']:.0f} s to {report['brokers']} "
        f"brokers (replication {report['replication']}), with supervisors' reviews and "
        f"paradata; the worker caught up {report['caught_up_s'] - report['sent_s']:.0f} s "
        f"after sending ended, having been restarted {report['worker_restarts']} times. "
        f"ClickHouse {verdict} the ground truth in all {report['checks']} checks; household "
        f"rows written twice before merges: {report['raw_duplicate_household_rows']:,}. "
        f"Freshness over the run: p50 {_ms(whole.get('p50'))} ms, p99 "
        f"{_ms(whole.get('p99'))} ms, max {_ms(whole.get('max'))} ms.",
        "",
        "| at s | fault | lasted s | lag before | lag peak | lag back after s | not ready s "
        "| rows written | fresh p50 ms | fresh p99 ms | fresh max ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fault in report["faults"]:
        fresh = fault["freshness_ms"] or {}
        back = fault["lag_recovered_after_s"]
        lines.append(
            f"| {fault['at_s']:.0f} | {fault['kind']} | {fault['lasted_s']:.1f} "
            f"| {fault['lag_before']:,.0f} | {fault['lag_peak']:,} "
            f"| {'not in window' if back is None else f'{back:.0f}'} "
            f"| {fault['worker_not_ready_s']:.0f} | {fresh.get('rows', 0):,} "
            f"| {_ms(fresh.get('p50'))} | {_ms(fresh.get('p99'))} | {_ms(fresh.get('max'))} |"
        )
    failed = report["checks_failed"]
    lines += [""] + [
        f"- differs: {c['label'].strip()}: truth {c['expected']}, ClickHouse {c['actual']}"
        for c in failed
    ]
    return "\n".join(lines).rstrip() + "\n"


def with_results(doc: str, report: dict[str, Any]) -> str:
    """``doc`` with its chaos:results section replaced by the rendering of ``report``."""
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown(report)}{END}{tail}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = ChaosPlan()
    parser.add_argument("--households", type=int, default=defaults.households)
    parser.add_argument("--send-seconds", type=float, default=defaults.send_s)
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument("--outage", type=float, default=defaults.outage_s, help="seconds")
    parser.add_argument("--broker-down", type=float, default=defaults.broker_down_s)
    parser.add_argument(
        "--min-gap", type=float, default=defaults.min_gap_s, help="seconds between faults"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--state-dir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--update-doc",
        type=Path,
        default=None,
        help="only rewrite this doc's chaos:results section from --out (docs/cluster.md)",
    )
    args = parser.parse_args(argv)
    if args.update_doc is not None:
        report = json.loads(args.out.read_text())
        args.update_doc.write_text(with_results(args.update_doc.read_text(), report))
        return 0
    plan = ChaosPlan(
        households=args.households,
        send_s=args.send_seconds,
        worker_kills=args.worker_kills,
        outage_s=args.outage,
        broker_down_s=args.broker_down,
        min_gap_s=args.min_gap,
        seed=args.seed,
    )
    console = Console(width=160)  # the per-fault table is wide; logs are read in files too
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="chaos-"))
    console.print(f"state (logs, truth, engine) in {state}")
    report = run(plan, state, say=console.print)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    render(report, console)
    console.print(f"report: {args.out}")
    return 0 if report["equals_ground_truth"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
