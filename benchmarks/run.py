"""``python -m benchmarks.run`` (``make bench``): the end-to-end benchmark (issues #8, #12).

Starts its own broker on free ports in a temporary state directory, then,
``--repeat`` times on the same households:

1. **worker**: N households preloaded, one worker until every row is in
   ClickHouse; households/s and member rows/s, peak memory and CPU of its
   process tree;
2. the contenders on the same topic, each in a child process:
   **product** (the product's own row path, :mod:`benchmarks.ceiling`),
   **faust** (a plain Faust agent, :mod:`benchmarks.faust_plain`) and
   **bare** (no product code, :mod:`benchmarks.bare`);
3. **two**: the same N on a fresh topic, two worker processes;
4. **freshness**: one worker, a paced producer at each ``--rate``.

``--only`` runs a subset (e.g. ``--only bare,faust,product``; without the
worker the topic is preloaded for the contenders alone). Prints a table,
writes ``benchmarks/results/latest.json`` (every run, the medians and the
ratios) and, with ``--update-readme``, the README's Performance section.
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
#: The worker settings the results record (those the installed Settings has).
WORKER_SETTINGS = (
    "process_batch",
    "process_batch_seconds",
    "process_in_child",
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
            for name in (
                "faust-streaming",
                "aiokafka",
                "kafka-python",
                "fastavro",
                "chdb",
                "clickhouse-connect",
            )
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
        if name not in fields:
            continue  # a setting of another version of the worker
        default = fields[name].default
        value = overrides.get(Settings.env_name(name))
        if value is None:
            effective[name] = default
        elif isinstance(default, bool):
            effective[name] = value.strip().lower() in ("1", "true", "yes", "on")
        else:
            effective[name] = type(default)(value)
    return effective | {"partitions": partitions}


def contender_batch(settings: dict[str, Any]) -> int:
    """The contenders' batch: the worker's insert batch (its sink's, or its processing one)."""
    return int(settings.get("sink_batch_rows") or settings["process_batch"])


def _parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith("REGSOSEK_"):
            raise click.BadParameter(f"expected REGSOSEK_NAME=VALUE, got {pair!r}")
        env[key] = value
    return env


#: What ``--only`` can pick, in the order a repeat runs them.
SCENARIOS = ("worker", "product", "faust", "bare", "two", "freshness")
#: ``--only`` name -> the key of :data:`scenarios.CONTENDERS` (and of a run's JSON).
CONTENDER_KEYS = {"product": "product_row_path", "faust": "faust", "bare": "bare"}


def _parse_only(value: str | None) -> tuple[str, ...]:
    if not value:
        return SCENARIOS
    names = {name.strip() for name in value.split(",") if name.strip()}
    unknown = names - set(SCENARIOS)
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}"
        )
    return tuple(name for name in SCENARIOS if name in names)


def run_once(
    ctx: scenarios.Context,
    *,
    households: list[Any],
    n: int,
    rates: tuple[float, ...],
    rate_seconds: float,
    drain_cap_s: float,
    batch_rows: int,
    within_s: float = 0.25,
    only: tuple[str, ...] = SCENARIOS,
) -> dict[str, Any]:
    """One repeat of the scenarios in ``only``; the keys of the others are None."""
    run: dict[str, Any] = dict.fromkeys(("pipeline", *CONTENDER_KEYS.values(), "two_workers"), None)
    topic: str | None = None
    if "worker" in only:
        console.print("[bold]worker pipeline, one worker[/]")
        one = scenarios.pipeline(ctx, households[:n], workers=1)
        console.print(
            f"  {one.households_per_s:,.0f} households/s, "
            f"{one.cpu_ms_per_household:.3f} CPU ms per household"
        )
        run["pipeline"] = asdict(one)
        topic = one.topic
    for name, key in CONTENDER_KEYS.items():
        if name not in only:
            continue
        if topic is None:
            console.print("[bold]topic for the contenders[/]")
            topic = scenarios.prepare(ctx, households[:n], "contenders").topic
        label = scenarios.CONTENDERS[key][0]
        console.print(f"[bold]{label}[/]")
        result = scenarios.contender(ctx, key, topic, n, batch_rows, within_s=within_s)
        console.print(
            f"  {result.households_per_s:,.0f} households/s, "
            f"{result.cpu_ms_per_household:.3f} CPU ms per household, "
            f"peak RSS {result.peak_rss_mb:,.0f} MB"
        )
        run[key] = asdict(result)
    if "two" in only:
        console.print("[bold]two workers[/]")
        two = scenarios.pipeline(ctx, households[:n], workers=2)
        console.print(f"  {two.households_per_s:,.0f} households/s")
        run["two_workers"] = asdict(two)
    fresh: list[scenarios.FreshnessRun] = []
    if "freshness" in only:
        console.print("[bold]freshness[/]")
        phases = scenarios.freshness(ctx, households, rates, rate_seconds, drain_cap_s)
        fresh = phases.runs
        run["worker_rss_ready_mb"] = phases.rss_ready_mb
        run["freshness_worker_peak_rss_mb"] = phases.peak_rss_mb
        for f in fresh:
            console.print(
                f"  {f.offered_rate:,.0f}/s: p50 {report.ms(f.visible_ms.p50)}, "
                f"p99 {report.ms(f.visible_ms.p99)}, sustained {f.sustained} {f.note}"
            )
    run["freshness"] = [asdict(f) for f in fresh]
    run["ratios"] = report.ratios(run)
    run["load_average"] = os.getloadavg()
    return run


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
    default=(500.0, 2000.0, 5000.0),
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
    "--only",
    "only_names",
    default=None,
    metavar="NAMES",
    help=(
        "Comma-separated subset of: worker, product, faust, bare, two, freshness "
        "(default: all). E.g. --only bare,faust,product."
    ),
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
    only_names: str | None,
    profile: bool,
    worker_env: tuple[str, ...],
    output: Path,
    print_readme: bool,
    update_readme: bool,
    keep: bool,
) -> None:
    """Throughput, the contenders, freshness, resources and scaling on the local real stack."""
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
    only = _parse_only(only_names)
    if "worker" not in only:
        profile = False  # the profile is of a worker
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
        only=only,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report.json_safe(doc), indent=2, default=str) + "\n")
    console.print(report.table(doc))
    console.print(report.contenders_table(doc))
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
    only: tuple[str, ...] = SCENARIOS,
) -> dict[str, Any]:
    """Every run, on one broker; returns the results document."""
    started = time.time()
    now = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    if load_before[0] > 0.5 * len(os.sched_getaffinity(0)):
        console.print(f"[yellow]load average {load_before[0]:.2f}: other work may skew this[/]")
    fresh_pool = scenarios.WARM_UP + int(sum(r * rate_seconds for r in rates))
    pool = max(n, fresh_pool if "freshness" in only else 0)
    console.print(f"Encoding {pool:,} distinct households …")
    households = encode_households(pool, now - dt.timedelta(hours=1))
    env = {
        "REGSOSEK_TOPIC_PARTITIONS": str(settings["partitions"]),
        "REGSOSEK_FIELDWORK_START": (now - dt.timedelta(days=1)).isoformat(),
        "REGSOSEK_FIELDWORK_END": (now + dt.timedelta(days=1)).isoformat(),
        **(
            {"REGSOSEK_SINK_BATCH_SECONDS": str(settings["sink_batch_seconds"])}
            if "sink_batch_seconds" in settings
            else {}
        ),
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
                        batch_rows=contender_batch(settings),
                        within_s=float(settings["process_batch_seconds"]),
                        only=only,
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
    clickhouse = next(
        (
            run[key]["clickhouse_version"]
            for run in runs
            for key in CONTENDER_KEYS.values()
            if run.get(key)
        ),
        "unknown",
    )
    measured_rates = rates if "freshness" in only else ()
    doc: dict[str, Any] = {
        "benchmark": "regsosek end to end (issues #8 and #12)",
        "date": now.isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(_argv()),
        "seconds": time.time() - started,
        "households": n,
        "members_per_household": 4,
        "repeat": repeat,
        "scenarios": list(only),
        "rates": list(measured_rates),
        "rate_seconds": rate_seconds,
        "drain_seconds": drain_seconds,
        "settings": settings,
        "worker_env": env,
        "machine": machine(kafka, clickhouse) | {"load_average_before": load_before},
        "targets": report.TARGETS,
        "summary": report.summarise(runs, measured_rates),
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
        "households insert (logged by benchmarks/worker_entry.py): everything the worker does "
        "to a household until its rows are queryable. Worker start-up (imports, migrations, "
        "reference data, consumer group join) is excluded here and included in "
        "households_per_s_with_startup (from process launch). Every run checks count() FROM "
        "households FINAL = N after the worker stopped."
    ),
    "product_row_path": (
        "benchmarks/ceiling.py on the same topic, after the worker: aiokafka getmany (batches "
        "of the worker's insert batch, no group, earliest offsets), the product's "
        "AvroDeserializer, "
        "sinks.rows.household_blocks on a minimal ValidatedSubmission (enrichment null), "
        "ClickHouseWriter into a fresh embedded engine in a child process; one insert in "
        "flight on a thread. No rules, dedup, enrichment, second topic or Faust. Timed from "
        "the first fetched batch to the last insert; CPU from getrusage over that window."
    ),
    "faust": (
        "benchmarks/faust_plain.py on the same topic: one faust-streaming agent in a fresh "
        "consumer group, raw value serializer, stream.take(batch, within=the worker's "
        "process_batch_seconds), then the bare path's decode, narrow columns and insert (one "
        "in flight on a thread). Timed from the "
        "first message the consumer hands to Faust (a sensor's on_message_in) to the last "
        "insert; CPU from getrusage over that window."
    ),
    "bare": (
        "benchmarks/bare.py on the same topic, importing no product code: aiokafka getmany "
        "(batches of the worker's insert batch, no group, earliest offsets), "
        "fastavro.schemaless_reader "
        "with schemas/HouseholdSubmission.avsc after the 5-byte Confluent header, narrow "
        "columns (households: id, revision, district and village codes, enumerator, "
        "finished_at, member count; members: household id, number, sex, age), "
        "clickhouse-connect insert (column-oriented) into its own ReplacingMergeTree tables "
        "of a fresh embedded engine, one insert in flight on a thread. Timed from the first "
        "fetched batch to the last insert; CPU from getrusage over that window."
    ),
    "ratios": (
        "Computed per run (same run, same topic, same machine state), then the median over "
        "the runs is quoted: worker / bare households/s; worker CPU ms per household / bare "
        "CPU ms per household; faust / bare and product row path / bare likewise; two "
        "workers / one worker households/s."
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
        "Worker: peak RSS = the sum of VmHWM over the worker's process tree (the worker and "
        "every descendant, e.g. a process pool; an upper bound of the tree's peak), including "
        "the embedded ClickHouse engine. CPU = utime+stime+cutime+cstime over the same tree "
        "from /proc/<pid>/stat, sampled every 0.1 s (descendants rediscovered every second) "
        "and interpolated over the same window as the throughput. The broker's CPU likewise, "
        "its own process only. Contenders: getrusage of their one process (all threads)."
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
