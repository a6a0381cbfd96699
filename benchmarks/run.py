"""``python -m benchmarks.run`` (``make bench``): the end-to-end benchmark of issue #8.

Starts its own broker on free ports in a temporary state directory, then,
``--repeat`` times on the same households:

1. **pipeline**: N households preloaded, one worker until every row is in
   ClickHouse; households/s and member rows/s, peak memory, CPU per 10,000;
2. **ceiling**: the raw path on the same topic (:mod:`benchmarks.ceiling`);
3. **two workers**: the same N on a fresh topic, two worker processes;
4. **freshness**: one worker, a paced producer at each ``--rate``.

Prints a table, writes ``benchmarks/results/latest.json`` (every run and the
medians) and, with ``--update-readme``, the README's Performance section.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from benchmarks import report, scenarios
from benchmarks.stack import BenchmarkError, broker_pid, local_broker
from benchmarks.workload import encode_households
from streams.settings import Settings
from tests.worker_harness import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
LATEST = RESULTS / "latest.json"
WORKER_SETTINGS = (
    "process_batch",
    "process_batch_seconds",
    "sink_batch_rows",
    "sink_batch_seconds",
)
console = Console()


def machine(kafka_version: str, clickhouse_version: str) -> dict[str, Any]:
    """What the figures were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "ram_gb": mem_kb / 1024 / 1024,
        "python": platform.python_version(),
        "kafka": kafka_version,
        "clickhouse": clickhouse_version,
        "packages": {
            name: metadata.version(name)
            for name in ("faust-streaming", "aiokafka", "kafka-python", "fastavro", "chdb")
        },
        "kernel": platform.release(),
        "git": _git(),
    }


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], check=False, capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' (uncommitted changes)' if dirty else ''}" or "unknown"


def worker_settings(overrides: dict[str, str], partitions: int) -> dict[str, Any]:
    """The batch settings the workers run with: the defaults unless overridden."""
    fields = Settings.model_fields
    effective: dict[str, Any] = {}
    for name in WORKER_SETTINGS:
        default = fields[name].default
        value = overrides.get(Settings.env_name(name))
        effective[name] = default if value is None else type(default)(value)
    return effective | {"partitions": partitions}


def _parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith("REGSOSEK_"):
            raise click.BadParameter(f"expected REGSOSEK_NAME=VALUE, got {pair!r}")
        env[key] = value
    return env


def run_once(
    ctx: scenarios.Context,
    *,
    households: list[Any],
    n: int,
    rates: tuple[float, ...],
    rate_seconds: float,
    drain_cap_s: float,
    batch_rows: int,
) -> dict[str, Any]:
    """One repeat of the four scenarios."""
    console.print("[bold]pipeline, one worker[/]")
    one = scenarios.pipeline(ctx, households[:n], workers=1)
    console.print(f"  {one.households_per_s:,.0f} households/s")
    console.print("[bold]ceiling[/]")
    ceiling = scenarios.raw_ceiling(ctx, one.topic, n, batch_rows)
    console.print(f"  {ceiling.households_per_s:,.0f} households/s")
    console.print("[bold]two workers[/]")
    two = scenarios.pipeline(ctx, households[:n], workers=2)
    console.print(f"  {two.households_per_s:,.0f} households/s")
    console.print("[bold]freshness[/]")
    phases = scenarios.freshness(ctx, households, rates, rate_seconds, drain_cap_s)
    fresh = phases.runs
    for f in fresh:
        console.print(
            f"  {f.offered_rate:,.0f}/s: p50 {report.ms(f.visible_ms.p50)}, "
            f"p99 {report.ms(f.visible_ms.p99)}, sustained {f.sustained} {f.note}"
        )
    return {
        "pipeline": asdict(one),
        "ceiling": asdict(ceiling),
        "pipeline_to_ceiling": one.households_per_s / ceiling.households_per_s,
        "two_workers": asdict(two),
        "two_workers_speedup": two.households_per_s / one.households_per_s,
        "freshness": [asdict(f) for f in fresh],
        "worker_rss_ready_mb": phases.rss_ready_mb,
        "freshness_worker_peak_rss_mb": phases.peak_rss_mb,
        "load_average": os.getloadavg(),
    }


@click.command()
@click.option(
    "--households",
    "n",
    default=30_000,
    show_default=True,
    envvar="REGSOSEK_BENCH_HOUSEHOLDS",
    help="N, the households of the throughput runs.",
)
@click.option(
    "--repeat",
    default=3,
    show_default=True,
    envvar="REGSOSEK_BENCH_REPEAT",
    help="Runs of every scenario; medians are quoted.",
)
@click.option(
    "--rate",
    "rates",
    multiple=True,
    type=float,
    default=(250.0, 1000.0, 5000.0),
    show_default=True,
    help="Offered households/s of a freshness phase (repeatable).",
)
@click.option(
    "--rate-seconds",
    default=20.0,
    show_default=True,
    envvar="REGSOSEK_BENCH_RATE_SECONDS",
    help="Length of each freshness phase.",
)
@click.option(
    "--drain-seconds",
    default=30.0,
    show_default=True,
    envvar="REGSOSEK_BENCH_DRAIN_SECONDS",
    help="Longest wait for a freshness phase's backlog; a higher rate is skipped after a miss.",
)
@click.option(
    "--partitions",
    default=6,
    show_default=True,
    envvar="REGSOSEK_BENCH_PARTITIONS",
    help="Partitions of the benchmark topics.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Smoke run of about two minutes: 10,000 households, 5 s per rate, one run, no profile.",
)
@click.option(
    "--profile/--no-profile",
    default=True,
    show_default=True,
    help="After the runs, one more pipeline run with py-spy on the worker.",
)
@click.option(
    "--worker-env",
    multiple=True,
    help="REGSOSEK_NAME=VALUE for the workers, e.g. REGSOSEK_SINK_BATCH_SECONDS=0.25.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=LATEST,
    show_default=True,
    help="Results JSON.",
)
@click.option(
    "--readme",
    "print_readme",
    is_flag=True,
    help="Print the README Performance section from --output and exit (--update-readme: write it).",
)
@click.option(
    "--update-readme",
    is_flag=True,
    help="Also rewrite README.md's Performance section from the results.",
)
@click.option(
    "--keep", is_flag=True, help="Keep the temporary state directory (broker, engines, logs)."
)
def main(
    *,
    n: int,
    repeat: int,
    rates: tuple[float, ...],
    rate_seconds: float,
    drain_seconds: float,
    partitions: int,
    quick: bool,
    profile: bool,
    worker_env: tuple[str, ...],
    output: Path,
    print_readme: bool,
    update_readme: bool,
    keep: bool,
) -> None:
    """Throughput, ceiling, freshness, resources and scaling on the local real stack."""
    if print_readme:  # from the results already measured; nothing runs
        section = report.readme_section(json.loads(output.read_text()))
        if update_readme:
            report.update_readme(ROOT / "README.md", section)
            console.print("README.md Performance section updated.")
        else:
            click.echo(section)
        return
    if quick:
        n, repeat, rate_seconds, drain_seconds, profile = 10_000, 1, 5.0, 15.0, False
    rates = tuple(sorted(rates))
    overrides = _parse_env(worker_env)
    settings = worker_settings(overrides, partitions)
    doc = measure(
        n=n,
        repeat=repeat,
        rates=rates,
        rate_seconds=rate_seconds,
        drain_seconds=drain_seconds,
        settings=settings,
        overrides=overrides,
        profile=profile,
        keep=keep,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report.json_safe(doc), indent=2, default=str) + "\n")
    console.print(report.table(doc))
    console.print(f"Results: {output}")
    if update_readme:
        report.update_readme(ROOT / "README.md", report.readme_section(doc))
        console.print("README.md Performance section updated.")


def measure(
    *,
    n: int,
    repeat: int,
    rates: tuple[float, ...],
    rate_seconds: float,
    drain_seconds: float,
    settings: dict[str, Any],
    overrides: dict[str, str],
    profile: bool,
    keep: bool,
) -> dict[str, Any]:
    """Every run, on one broker; returns the results document."""
    started = time.time()
    now = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    if load_before[0] > 0.5 * len(os.sched_getaffinity(0)):
        console.print(f"[yellow]load average {load_before[0]:.2f}: other work may skew this[/]")
    pool = max(n, scenarios.WARM_UP + int(sum(r * rate_seconds for r in rates)))
    console.print(f"Encoding {pool:,} distinct households …")
    households = encode_households(pool, now - dt.timedelta(hours=1))
    env = {
        "REGSOSEK_TOPIC_PARTITIONS": str(settings["partitions"]),
        "REGSOSEK_FIELDWORK_START": (now - dt.timedelta(days=1)).isoformat(),
        "REGSOSEK_FIELDWORK_END": (now + dt.timedelta(days=1)).isoformat(),
        "REGSOSEK_SINK_BATCH_SECONDS": str(settings["sink_batch_seconds"]),
        **overrides,
    }
    root = Path(tempfile.mkdtemp(prefix="regsosek-bench-"))
    runs: list[dict[str, Any]] = []
    profiled: dict[str, Any] | None = None
    try:
        with local_broker(
            root, Settings().cache_dir, settings["partitions"], console.print
        ) as spec:
            ctx = scenarios.Context(
                spec.bootstrap, root, settings["partitions"], env, broker_pid(spec), console.print
            )
            for index in range(repeat):
                console.rule(f"run {index + 1} of {repeat}")
                runs.append(
                    run_once(
                        ctx,
                        households=households,
                        n=n,
                        rates=rates,
                        rate_seconds=rate_seconds,
                        drain_cap_s=drain_seconds,
                        batch_rows=int(settings["sink_batch_rows"]),
                    )
                )
            if profile:
                profiled = _profiled_run(ctx, households[:n])
            kafka = spec.jars.kafka_version()
    except BenchmarkError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if keep:
            console.print(f"State kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    clickhouse = runs[0]["ceiling"]["clickhouse_version"] if runs else "unknown"
    doc: dict[str, Any] = {
        "benchmark": "regsosek end to end (issue #8)",
        "date": now.isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(_argv()),
        "seconds": time.time() - started,
        "households": n,
        "members_per_household": 4,
        "repeat": repeat,
        "rates": list(rates),
        "rate_seconds": rate_seconds,
        "drain_seconds": drain_seconds,
        "settings": settings,
        "worker_env": env,
        "machine": machine(kafka, clickhouse) | {"load_average_before": load_before},
        "targets": report.TARGETS,
        "summary": report.summarise(runs, rates),
        "runs": runs,
        "profile": profiled,
        "method": METHOD,
    }
    doc["verdicts"] = report.verdicts(doc["summary"])
    return doc


def _profiled_run(ctx: scenarios.Context, households: list[Any]) -> dict[str, Any] | None:
    console.rule("profiled pipeline run (py-spy, not part of the figures)")
    raw = RESULTS / "profile-worker.txt"
    run = scenarios.pipeline(ctx, households, workers=1, profile_to=raw)
    if run.profile is None:
        console.print("[yellow]py-spy not found: no profile[/]")
        return None
    console.print(f"  {run.households_per_s:,.0f} households/s while sampled; raw stacks in {raw}")
    return {
        "households_per_s_while_sampled": run.households_per_s,
        "raw": str(raw.relative_to(ROOT)),
    } | asdict(run.profile)


def _argv() -> list[str]:
    import sys  # noqa: PLC0415

    return sys.argv[1:]


METHOD = {
    "pipeline": (
        "N households preloaded into <prefix>.submissions (acks=all, gzip, as the SDK), then "
        "`regsosek worker` started as a child process with its own embedded ClickHouse. Time "
        "runs from the first processing batch (min processed_at) to the return of the last "
        "households insert (logged by benchmarks/worker_entry.py): decode, dedup, rules, "
        "enrichment, Avro re-encode, publish to and consume from <prefix>.submissions.valid, "
        "row building and the inserts with their materialized views. Worker start-up "
        "(imports, migrations, reference data, consumer group join) is excluded here and "
        "included in households_per_s_with_startup (from process launch). Every run checks "
        "count() FROM households FINAL = N after the worker stopped."
    ),
    "ceiling": (
        "Same topic, same data: aiokafka getmany (batches of the sink's size), "
        "AvroDeserializer, household_blocks on a minimal ValidatedSubmission (enrichment "
        "null), ClickHouseWriter into a fresh embedded engine in a child process; one insert "
        "in flight on a thread. Timed from the first fetched batch to the last insert."
    ),
    "freshness": (
        "One worker, warmed up with 500 households; then a paced producer offers each rate for "
        "rate_seconds. Each record's finished_at and Kafka timestamp are its send time. "
        "Latency = return of the insert that made the row visible - finished_at (visible_ms); "
        "written_at_ms stops at the sink's written_at (stamped before the insert). Sustained = "
        "producer reached 97 % of the offered rate, every row arrived, and the last row was "
        "visible within 3 s of the last send."
    ),
    "resources": (
        "Peak RSS = VmHWM of the worker process (includes the embedded ClickHouse engine). "
        "CPU = utime+stime from /proc/<pid>/stat, sampled every 0.1 s and interpolated over "
        "the same window as the throughput, per 10,000 households; the broker's likewise."
    ),
    "two_workers": (
        "Same N on a fresh topic with the same partitions; two worker processes in one "
        "consumer group, each with its own embedded engine (embedded mode), rows summed over "
        "both engines. In production both would write to one ClickHouse server. A household "
        "written by both (a rebalance replay) counts once."
    ),
}


if __name__ == "__main__":
    main()
