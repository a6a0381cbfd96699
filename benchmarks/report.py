"""Results: medians over the runs, the rich table, the JSON, the README's Performance section.

Targets are what we aim for, recorded beside the figures the way the
confluent client's benchmark bounds file does it; nothing here fails when a
figure misses its target.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

WIDTH = 80
#: What we aim for (issue #12), not assertions. ``min``: at least; ``max``: below;
#: ``at_most``: at most.
TARGETS: dict[str, dict[str, Any]] = {
    "households_per_s": {"min": 5_000, "text": "≥ 5,000 households/s end to end"},
    "worker_cpu_to_bare": {"at_most": 2.5, "text": "CPU per household ≤ 2.5x the bare path's"},
    "freshness_p99_ms_at_2000": {
        "max": 1_000,
        "text": "p99 freshness < 1 s sustained at 2,000/s",
    },
    "worker_peak_rss_mb": {"max": 600, "text": "worker peak RSS < 600 MB embedded"},
    "two_workers_speedup": {"min": 1.8, "text": "2 processes ≥ 1.8x one"},
}
FRESHNESS_TARGET_RATE = "2000"
#: The contenders of a run, in the order of the tables: run key -> label.
CONTENDERS: dict[str, str] = {
    "pipeline": "worker pipeline (1 worker)",
    "product_row_path": "product row path",
    "faust": "plain Faust",
    "bare": "bare path",
}
#: The ratios of a run: name -> (numerator contender, denominator contender, figure).
RATIOS: dict[str, tuple[str, str, str]] = {
    "worker_to_bare": ("pipeline", "bare", "households_per_s"),
    "worker_cpu_to_bare": ("pipeline", "bare", "cpu_ms_per_household"),
    "product_to_bare": ("product_row_path", "bare", "households_per_s"),
    "product_cpu_to_bare": ("product_row_path", "bare", "cpu_ms_per_household"),
    "faust_to_bare": ("faust", "bare", "households_per_s"),
    "faust_cpu_to_bare": ("faust", "bare", "cpu_ms_per_household"),
    "worker_to_product": ("pipeline", "product_row_path", "households_per_s"),
    "two_workers_speedup": ("two_workers", "pipeline", "households_per_s"),
}


def _median(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(clean) if clean else None


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None, so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def _get(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``, or None where a step is missing (a scenario not run)."""
    for key in path:
        if value is None:
            return None
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, dict) else None
    return value


def _pick(runs: Sequence[dict[str, Any]], *path: str | int) -> list[Any]:
    return [_get(run, *path) for run in runs]


def figure(run: dict[str, Any], contender: str, name: str) -> float | None:
    """``households_per_s`` or ``cpu_ms_per_household`` of a contender in one run.

    Results written before issue #12 lack ``cpu_ms_per_household``: it is
    derived from the CPU seconds per 10,000 households.
    """
    result = run.get(contender)
    if not result:
        return None
    value = result.get(name)
    if value is None and name == "cpu_ms_per_household":
        per_10k = result.get("worker_cpu_s_per_10k", result.get("cpu_s_per_10k"))
        value = None if per_10k is None else per_10k / 10  # s per 10,000 -> ms per one
    return None if value is None else float(value)


def ratios(run: dict[str, Any]) -> dict[str, float | None]:
    """The ratios of one run (same run, same topic): see :data:`RATIOS`."""
    out: dict[str, float | None] = {}
    for name, (top, bottom, what) in RATIOS.items():
        a, b = figure(run, top, what), figure(run, bottom, what)
        out[name] = a / b if a is not None and b else None
    return out


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """A results document of any version in the current shape (runs only; in place).

    Before issue #12 the product row path was called the ceiling.
    """
    for run in doc.get("runs", []):
        if "product_row_path" not in run and "ceiling" in run:
            run["product_row_path"] = run["ceiling"]
    return doc


def summarise(runs: Sequence[dict[str, Any]], rates: Sequence[float]) -> dict[str, Any]:
    """Medians over the runs (each run is the ``asdict`` of one repeat); None: not measured.

    Ratios are taken in each run first, then their median.
    """

    def one(*path: str | int) -> float | None:
        return _median(_pick(runs, *path))

    freshness = {}
    for index, rate in enumerate(rates):
        freshness[f"{rate:.0f}"] = {
            "offered_rate": rate,
            "achieved_rate": one("freshness", index, "achieved_rate"),
            "p50_ms": one("freshness", index, "visible_ms", "p50"),
            "p95_ms": one("freshness", index, "visible_ms", "p95"),
            "p99_ms": one("freshness", index, "visible_ms", "p99"),
            "written_at_p99_ms": one("freshness", index, "written_at_ms", "p99"),
            "drain_seconds": one("freshness", index, "drain_seconds"),
            "sustained_runs": sum(bool(v) for v in _pick(runs, "freshness", index, "sustained")),
            "runs": len(runs),
        }
    contenders = {
        key: {
            "label": label,
            "runs": sum(bool(run.get(key)) for run in runs),
            "households_per_s": _median([figure(r, key, "households_per_s") for r in runs]),
            "members_per_s": one(key, "members_per_s"),
            "cpu_ms_per_household": _median([figure(r, key, "cpu_ms_per_household") for r in runs]),
            "peak_rss_mb": _median([_peak(_get(r, key, "peak_rss_mb")) for r in runs]),
        }
        for key, label in CONTENDERS.items()
    }
    by_run = [ratios(run) for run in runs]
    median_ratios = {name: _median([r[name] for r in by_run]) for name in RATIOS}
    return {
        "households_per_s": contenders["pipeline"]["households_per_s"],
        "members_per_s": one("pipeline", "members_per_s"),
        "households_per_s_with_startup": one("pipeline", "households_per_s_with_startup"),
        "worker_cpu_ms_per_household": contenders["pipeline"]["cpu_ms_per_household"],
        "worker_cpu_s_per_10k": one("pipeline", "worker_cpu_s_per_10k"),
        "broker_cpu_ms_per_household": _median(
            [None if v is None else v / 10 for v in _pick(runs, "pipeline", "broker_cpu_s_per_10k")]
        ),
        "worker_processes": _median([_peak(p) for p in _pick(runs, "pipeline", "processes")]),
        "contenders": contenders,
        "ratios": median_ratios,
        "ratios_by_run": by_run,
        "freshness": freshness,
        "worker_peak_rss_mb": contenders["pipeline"]["peak_rss_mb"],
        "worker_rss_ready_mb": one("worker_rss_ready_mb"),
        "two_workers_households_per_s": one("two_workers", "households_per_s"),
        "two_workers_speedup": median_ratios["two_workers_speedup"],
        "two_workers_peak_rss_mb": _median(
            [_peak(p) for p in _pick(runs, "two_workers", "peak_rss_mb")]
        ),
    }


def _peak(value: Any) -> float | None:
    """The largest of a per-worker list, or the value itself."""
    if isinstance(value, list):
        return max(value) if value else None
    return None if value is None else float(value)


def verdicts(summary: dict[str, Any]) -> dict[str, bool | None]:
    """Whether each target is met by the medians (None when not measured).

    Freshness counts only when the rate was sustained in most runs.
    """
    at_rate = summary["freshness"].get(FRESHNESS_TARGET_RATE)
    fresh: float | None = None
    if at_rate and at_rate["p99_ms"] is not None:
        sustained = 2 * at_rate["sustained_runs"] > at_rate["runs"]
        fresh = at_rate["p99_ms"] if sustained else math.inf
    elif at_rate and at_rate["runs"]:
        fresh = math.inf  # measured, but the 99th percentile row never arrived
    values = {
        "households_per_s": summary["households_per_s"],
        "worker_cpu_to_bare": summary["ratios"]["worker_cpu_to_bare"],
        "freshness_p99_ms_at_2000": fresh,
        "worker_peak_rss_mb": summary["worker_peak_rss_mb"],
        "two_workers_speedup": summary["two_workers_speedup"],
    }
    out: dict[str, bool | None] = {}
    for name, target in TARGETS.items():
        value = values[name]
        if value is None or math.isnan(value):
            out[name] = None
        elif "min" in target:
            out[name] = value >= target["min"]
        elif "at_most" in target:
            out[name] = value <= target["at_most"]
        else:
            out[name] = value < target["max"]
    return out


def _n(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def ms(value: float | None) -> str:
    """Milliseconds for people: "840 ms", "2.3 s", "n/a" (never arrived in the wait)."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.1f} s"


def _mark(ok: bool | None) -> str:
    return {True: "met", False: "missed", None: "n/a"}[ok]


def _target(name: str, met: dict[str, bool | None]) -> str:
    return f"{TARGETS[name]['text']}: {_mark(met[name])}"


def _x(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"x{value:,.2f}"


def _measured(row: tuple[str, str, str, str]) -> bool:
    """False for a row of a scenario that was not run (nothing but n/a)."""
    return bool(re.sub(r"n/a|[\s/;]", "", row[1] + row[2]))


def rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, median, every run, target) rows shared by the table and the README."""
    runs = upgrade(doc)["runs"]
    s = summarise(runs, doc.get("rates", []))
    met = verdicts(s)
    by_run = s["ratios_by_run"]

    def each(*path: str | int, digits: int = 0) -> str:
        return " / ".join(_n(v, digits) for v in _pick(runs, *path))

    def each_figure(key: str, what: str, digits: int) -> str:
        return " / ".join(_n(figure(run, key, what), digits) for run in runs)

    def each_ratio(name: str) -> str:
        return " / ".join(_x(r[name]) for r in by_run)

    r = s["ratios"]
    out = [
        (
            "Worker pipeline, households/s (1 worker)",
            _n(s["households_per_s"]),
            each_figure("pipeline", "households_per_s", 0),
            _target("households_per_s", met),
        ),
        ("  member rows/s", _n(s["members_per_s"]), each("pipeline", "members_per_s"), ""),
        (
            "  incl. worker start-up, households/s",
            _n(s["households_per_s_with_startup"]),
            each("pipeline", "households_per_s_with_startup"),
            "",
        ),
        (
            "Worker CPU ms per household (its process tree)",
            _n(s["worker_cpu_ms_per_household"], 3),
            each_figure("pipeline", "cpu_ms_per_household", 3),
            "",
        ),
        (
            "Worker / bare path, households/s",
            _x(r["worker_to_bare"]),
            each_ratio("worker_to_bare"),
            "",
        ),
        (
            "Worker / bare path, CPU per household",
            _x(r["worker_cpu_to_bare"]),
            each_ratio("worker_cpu_to_bare"),
            _target("worker_cpu_to_bare", met),
        ),
        (
            "Product row path / bare path, households/s; CPU per household",
            f"{_x(r['product_to_bare'])}; {_x(r['product_cpu_to_bare'])}",
            each_ratio("product_to_bare") + "; " + each_ratio("product_cpu_to_bare"),
            "",
        ),
        (
            "Plain Faust / bare path, households/s; CPU per household",
            f"{_x(r['faust_to_bare'])}; {_x(r['faust_cpu_to_bare'])}",
            each_ratio("faust_to_bare") + "; " + each_ratio("faust_cpu_to_bare"),
            "",
        ),
    ]
    for index, (rate, f) in enumerate(s["freshness"].items()):
        target = _target("freshness_p99_ms_at_2000", met) if rate == FRESHNESS_TARGET_RATE else ""
        out.append(
            (
                f"Freshness at {int(rate):,}/s offered, p50 / p95 / p99",
                f"{ms(f['p50_ms'])} / {ms(f['p95_ms'])} / {ms(f['p99_ms'])}",
                "p99 ms " + each("freshness", index, "visible_ms", "p99"),
                target,
            )
        )
        out.append(
            (
                f"  sustained {int(rate):,}/s (achieved rate, drain after the last send)",
                f"{f['sustained_runs']} of {f['runs']} runs",
                "achieved "
                + each("freshness", index, "achieved_rate")
                + "; drain s "
                + each("freshness", index, "drain_seconds", digits=1),
                "",
            )
        )
    out += [
        (
            "Worker peak RSS, MB (sum of VmHWM over its process tree)",
            _n(s["worker_peak_rss_mb"]),
            " / ".join(_n(_peak(p)) for p in _pick(runs, "pipeline", "peak_rss_mb")),
            _target("worker_peak_rss_mb", met),
        ),
        (
            "  worker RSS when ready, before any data, MB",
            _n(s["worker_rss_ready_mb"]),
            each("worker_rss_ready_mb"),
            "mostly the embedded engine (see benchmarks/README.md)",
        ),
        (
            "Broker CPU ms per household",
            _n(s["broker_cpu_ms_per_household"], 3),
            " / ".join(
                _n(None if v is None else v / 10, 3)
                for v in _pick(runs, "pipeline", "broker_cpu_s_per_10k")
            ),
            "",
        ),
        (
            "Two workers, households/s (two engines, rows summed)",
            _n(s["two_workers_households_per_s"]),
            each("two_workers", "households_per_s"),
            "",
        ),
        (
            "Two workers / one worker",
            _x(s["two_workers_speedup"]),
            each_ratio("two_workers_speedup"),
            _target("two_workers_speedup", met),
        ),
    ]
    return [row for row in out if _measured(row)]


def contender_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(contender, households/s, CPU ms per household, peak RSS, x bare, x bare CPU) rows.

    Medians; the households/s cell also lists every run. Contenders not run are left out.
    """
    runs = upgrade(doc)["runs"]
    s = summarise(runs, doc.get("rates", []))
    r = s["ratios"]
    versus = {
        "pipeline": (r["worker_to_bare"], r["worker_cpu_to_bare"]),
        "product_row_path": (r["product_to_bare"], r["product_cpu_to_bare"]),
        "faust": (r["faust_to_bare"], r["faust_cpu_to_bare"]),
        "bare": (1.0, 1.0) if s["contenders"]["bare"]["runs"] else (None, None),
    }
    out = []
    for key, c in s["contenders"].items():
        if not c["runs"]:
            continue
        every = " / ".join(_n(figure(run, key, "households_per_s")) for run in runs)
        out.append(
            (
                c["label"],
                f"{_n(c['households_per_s'])} ({every})"
                if len(runs) > 1
                else _n(c["households_per_s"]),
                _n(c["cpu_ms_per_household"], 3),
                _n(c["peak_rss_mb"]),
                _x(versus[key][0]),
                _x(versus[key][1]),
            )
        )
    return out


CONTENDER_HEADER = (
    "Contender",
    "households/s",
    "CPU ms per household",
    "peak RSS, MB",
    "households/s vs bare",
    "CPU per household vs bare",
)


def contenders_table(doc: dict[str, Any]) -> Table:
    """The rich table of the contenders on the same topic."""
    result = Table(title="Contenders on the same topic, medians", title_justify="left")
    for name in CONTENDER_HEADER:
        result.add_column(name, overflow="fold")
    for row in contender_rows(doc):
        result.add_row(*row)
    return result


def table(doc: dict[str, Any]) -> Table:
    """The rich table printed at the end of a run."""
    n, settings = doc["households"], doc["settings"]
    title = (
        f"Regsosek end to end: {n:,} households, {doc['repeat']} run(s), medians; "
        f"{doc['machine']['nproc']} cores, {settings['partitions']} partitions"
    )
    result = Table(title=title, title_justify="left")
    for name in ("Figure", "Median", "Every run", "Target"):
        result.add_column(name, overflow="fold")
    for row in rows(doc):
        result.add_row(*row)
    return result


def readme_section(doc: dict[str, Any]) -> str:
    """The README's ``## Performance`` section, from a results document."""
    machine, settings = doc["machine"], doc["settings"]
    lines = [
        "## Performance",
        "",
        f"Measured by `make bench` on {doc['date'][:10]}: {doc['households']:,} four-member "
        f"households, {_runs(doc['repeat'])}, medians (every run is in "
        "`benchmarks/results/latest.json`). Machine: "
        f"{machine['nproc']} cores ({machine['cpu_model']}), {machine['ram_gb']:.0f} GB RAM, "
        f"Python {machine['python']}, Apache Kafka {machine['kafka']} (the local broker, on "
        f"the same machine), ClickHouse {machine['clickhouse']} embedded (chdb). Worker "
        f"settings: {_settings(settings)}.",
        "",
        "| Figure | Median | Every run | Target |",
        "|---|---|---|---|",
    ]
    lines += [_md_row(row) for row in rows(doc)]
    contenders = contender_rows(doc)
    if contenders:
        lines += [
            "",
            "The contenders, in the same run on the same preloaded topic: the worker; the "
            "product's own row path (the project's decoder, `sinks.rows` and "
            "`ClickHouseWriter`, no rules, dedup, enrichment or Faust); a plain Faust agent "
            "doing the bare path's work; and the bare path (aiokafka `getmany`, fastavro, "
            "narrow rows, insert; no product code). Medians; ratios are taken in each run, "
            "then their median. The worker's CPU and memory are those of its process tree "
            "(peak RSS: the sum of its processes' VmHWM).",
            "",
            _md_row(CONTENDER_HEADER),
            "|---|---|---|---|---|---|",
            *(_md_row(row) for row in contenders),
        ]
    lines += ["", *_reading(doc), *_freshness_parts(doc), *_profile_lines(doc)]
    lines += [
        "The targets are aims, not test assertions. Method, caveats and the analysis: "
        "[`benchmarks/README.md`](benchmarks/README.md). Run it: `make bench` (about "
        f"{max(doc['seconds'] / 60, 1):.0f} minutes here), `make bench BENCH_ARGS=--quick` "
        "(a smoke of a few minutes), `make bench-micro` (pytest-benchmark of decode, rules, "
        "enrichment and row building); `python -m benchmarks.run --readme` prints this "
        "section from the JSON.",
        "",
        *replay_lines(),
        *CAPACITY_LINES,
    ]
    return "\n".join(_wrap(line) for line in lines)


#: Where these figures are turned into counts (benchmarks/capacity.py, issue #18).
CAPACITY_LINES = [
    "**Capacity**: workers, partitions, brokers and ClickHouse shards for a regency, a "
    "province and the nation, at the census peak and for a full replay, derived from these "
    "figures with the arithmetic shown: [`docs/capacity.md`](docs/capacity.md) "
    "(`python -m benchmarks.capacity --update docs/capacity.md` after a run).",
    "",
]


#: What ``python -m benchmarks.replay`` measured last (issue #17).
REPLAY_RESULTS = Path(__file__).resolve().parent / "results" / "replay.json"


def replay_lines(path: Path = REPLAY_RESULTS) -> list[str]:
    """The replay's figure for the section, when it was measured (benchmarks/replay.py)."""
    if not path.exists():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    households, seconds = doc["households"], doc["replay_seconds"]
    measured = (
        f"{households:,} households"
        if households >= 1_000_000
        else f"{households:,} households (one million not measured here; linearly "
        f"extrapolated: {doc['seconds_per_million'] / 60:.1f} minutes)"
    )
    return [
        f"**Replay** (`regsosek replay`, docs/lifecycle.md), measured on "
        f"{doc['measured_at'][:10]} with `{doc['command']}`: {measured} replayed in "
        f"{seconds / 60:.1f} minutes, {doc['replay_households_per_s']:,.0f} households/s, "
        f"from the start request to the swapped tables finished to the end offsets, on "
        f"{doc['cpus']} cores shared with the broker and the idle live worker; the live "
        f"worker had ingested them in {doc['live_ingest_seconds_incl_publish'] / 60:.1f} "
        "minutes (while they were being published). Figures in "
        "`benchmarks/results/replay.json`.",
        "",
    ]


def _settings(settings: dict[str, Any]) -> str:
    """The worker settings of a run, in words (whichever the worker of that run had)."""
    parts = [f"process batch {settings['process_batch']:,} / {settings['process_batch_seconds']} s"]
    if "process_in_child" in settings:
        where = "a child process" if settings["process_in_child"] else "a thread"
        parts.append(f"decode, rules and rows in {where}")
    if "sink_batch_rows" in settings:
        parts.append(
            f"sink batch {settings['sink_batch_rows']:,} rows / {settings['sink_batch_seconds']} s"
        )
    parts.append(f"{settings['partitions']} partitions")
    return ", ".join(parts)


def _md_row(cells: Sequence[str]) -> str:
    return f"| {' | '.join(cell.strip() for cell in cells)} |"


def _wrap(line: str) -> str:
    """Paragraphs wrapped at 80 columns like the rest of the README; table rows as they are."""
    if line.startswith("|") or len(line) <= WIDTH:
        return line
    return textwrap.fill(line, WIDTH, break_long_words=False, break_on_hyphens=False)


THREADS = {
    "compute/MainThread": "the compute process (decode, rules, rows, encode)",
    "MainThread": "the worker's event loop (Faust, Kafka, publishing)",
    "clickhouse": "the worker's ClickHouse thread",
    "Thread-": "the worker's thread receiving computed batches",
}


def _reading(doc: dict[str, Any]) -> list[str]:
    """What the figures say, in numbers taken from them."""
    s = summarise(upgrade(doc)["runs"], doc.get("rates", []))
    c, r = s["contenders"], s["ratios"]
    throughput = s["households_per_s"]
    sentences = []
    if c["pipeline"]["runs"] and c["bare"]["runs"]:
        sentences.append(
            f"The worker spends {_n(c['pipeline']['cpu_ms_per_household'], 3)} CPU ms per "
            f"household where the bare path spends {_n(c['bare']['cpu_ms_per_household'], 3)} "
            f"({_x(r['worker_cpu_to_bare'])})."
        )
    parts = [
        f"{c[key]['label']} {_n(c[key]['cpu_ms_per_household'], 3)} ms "
        f"({_x(r[ratio])} of the bare path)"
        for key, ratio in (
            ("faust", "faust_cpu_to_bare"),
            ("product_row_path", "product_cpu_to_bare"),
        )
        if c[key]["runs"] and c["bare"]["runs"]
    ]
    if parts:
        sentences.append(f"Per household: {'; '.join(parts)}.")
    over = [
        f"{float(rate):,.0f}/s"
        for rate, f in s["freshness"].items()
        if not f["sustained_runs"] and throughput is not None and float(rate) > throughput
    ]
    if over:
        sentences.append(
            f"Offered {' and '.join(over)}, more than the {_n(throughput)} households/s one "
            "worker writes, the backlog grows for the whole phase: those latencies measure "
            "the backlog, not the batch windows."
        )
    return [" ".join(sentences), ""] if sentences else []


def _runs(count: int) -> str:
    return "one run" if count == 1 else f"{count} runs"


def _freshness_parts(doc: dict[str, Any]) -> list[str]:
    """Where a row's age comes from, at the lowest offered rate (medians of the p50s)."""
    runs = doc["runs"]
    if not runs or not runs[0].get("freshness"):
        return []
    first = runs[0]["freshness"][0]
    parts = [
        _median(_pick(runs, "freshness", 0, key))
        for key in ("queued_ms_p50", "processing_to_sink_ms_p50", "insert_ms_p50")
    ]
    window = doc["settings"].get("sink_batch_seconds")
    to_rows = (
        f"from there to its sink batch ({window} s window, through the valid topic)"
        if window is not None
        else "from there until its rows were built (written_at)"
    )
    return [
        f"At {first['offered_rate']:,.0f} households/s a row's median age splits into "
        f"{ms(parts[0])} from the send to the start of its processing batch, {ms(parts[1])} "
        f"{to_rows} and {ms(parts[2])} of insert.",
        "",
    ]


def _profile_lines(doc: dict[str, Any]) -> list[str]:
    """The profiled run's busiest threads and hottest functions."""
    profile = doc.get("profile")
    if not profile or not profile.get("samples"):
        return []
    wall = profile["seconds"] * 100  # samples of one thread busy all the time (100 Hz)
    threads = ", ".join(
        f"{THREADS.get(name, name)} {count / wall:.0%}"
        for name, count in list(profile["threads"].items())[:3]
    )
    compute = sum(c for name, c in profile["threads"].items() if name.startswith("compute/"))
    worker = sum(profile["threads"].values()) - compute
    total = profile["samples"]
    hot = ", ".join(f"`{name}` {count / total:.0%}" for name, count in profile["self_top"][:6])
    stages = "; ".join(f"{name} {count / total:.0%}" for name, count in profile["stages"][:8])
    return [
        f"Where the time goes (py-spy on one worker, {profile['seconds']:.0f} s at "
        f"{profile['households_per_s_while_sampled']:,.0f} households/s), the share of the "
        f"wall time each thread was busy: {threads}; in all, the compute process "
        f"{compute / wall:.0%} of a core and the worker's own threads {worker / wall:.0%} "
        f"(they share one interpreter lock). Samples by stage: {stages}. "
        f"The functions with the most samples of their own: {hot}.",
        "",
    ]


def update_readme(readme: Path, section: str) -> None:
    """Replace ``## Performance`` up to the next ``## `` heading with ``section``."""
    text = readme.read_text()
    pattern = re.compile(r"^## Performance\n.*?(?=^## )", re.MULTILINE | re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"no '## Performance' section in {readme}")
    readme.write_text(pattern.sub(lambda _: section.rstrip() + "\n\n", text, count=1))
