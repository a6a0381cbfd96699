"""From settings to a finished run: frame files, topics, transport, runner, ground-truth file.

What ``regsosek simulate`` does, as functions a test (or the demo) can call
with its own settings: :func:`prepare` writes the frame the worker reads
(and the gateway's tokens file), :func:`simulate` sends the month and
writes the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from schemas.catalog import subject_for
from schemas.errors import ConfigurationError
from schemas.regions import DEFAULT_REGIONS_FILE, RegionMaster, load_regions
from schemas.registry import registry_from_url
from schemas.serde import AvroSerializer
from simulator.clock import DEFAULT_DURATION_S, FieldworkClock
from simulator.config import SimulationConfig
from simulator.gateway_client import HttpTransport
from simulator.population import SimFrame, build_frame
from simulator.runner import Runner, RunReport, default_truth_path
from simulator.scenario import Scenario
from simulator.tokens import ensure_tokens
from simulator.transport import (
    SCHEMA,
    RawKafka,
    SdkTransport,
    Transport,
    producer_options,
)
from simulator.truth import TruthTally
from streams.settings import Settings
from streams.topics import SUBMISSIONS, desired_topics, ensure_topics, named


@dataclass(frozen=True)
class RunOptions:
    """How to send: transport, pacing, progress display, where the truth goes."""

    via: str = "sdk"
    gateway_url: str = "http://127.0.0.1:8080"
    speed: float | None = None
    duration_s: float | None = DEFAULT_DURATION_S
    progress: bool = True
    validate: bool = False
    truth_path: Path | None = None
    create_topics: bool = True


@dataclass(frozen=True)
class Prepared:
    """The frame of a run, written where the worker and the gateway look for it."""

    regions: RegionMaster
    frame: SimFrame
    frame_dir: Path
    tokens_file: Path
    tokens: dict[str, str]


def prepare(settings: Settings, config: SimulationConfig) -> Prepared:
    """Build the frame from the region master and write the frame files and tokens."""
    regions = load_regions(settings.regions_file or DEFAULT_REGIONS_FILE)
    frame = build_frame(regions, config)
    directory = settings.frame_directory
    frame.write(directory)
    tokens_file, tokens = ensure_tokens(directory, (e.enumerator_id for e in frame.enumerators))
    return Prepared(regions, frame, directory, tokens_file, tokens)


def simulate(
    settings: Settings,
    config: SimulationConfig,
    options: RunOptions,
    *,
    prepared: Prepared | None = None,
    console: Console | None = None,
) -> tuple[RunReport, Path]:
    """Run the month and write the ground truth; returns the report and the truth's path."""
    ready = prepared or prepare(settings, config)
    topic = named(SUBMISSIONS, settings.topic_prefix)
    if options.create_topics:
        ensure_topics(settings.kafka_bootstrap, desired_topics(settings))
    transport, schema_id = _transport(settings, options, topic, ready.tokens)
    try:
        scenario = Scenario(ready.frame, config, ready.regions, schema_id)
        clock = FieldworkClock.from_options(
            config.fieldwork_start,
            config.fieldwork_end,
            speed=options.speed,
            duration_s=options.duration_s,
        )
        tally = TruthTally(
            ready.frame, seed=config.seed, scale=config.scale, topic=topic, via=transport.via
        )
        runner = Runner(
            scenario, clock, transport, tally, console=console, progress=options.progress
        )
        report = runner.run()
    finally:
        transport.close()
    path = report.truth.write(options.truth_path or default_truth_path(settings.state_dir))
    return report, path


def _transport(
    settings: Settings, options: RunOptions, topic: str, tokens: dict[str, str]
) -> tuple[Transport, int]:
    """The transport of ``options.via`` and the current schema's registry id."""
    url = settings.schema_registry_url
    registry = registry_from_url(url.get_secret_value() if url else None)
    if options.via == "sdk":
        sdk = SdkTransport(settings.kafka_bootstrap, registry, topic, validate=options.validate)
        return sdk, sdk.schema_id
    if options.via != "http":
        raise ConfigurationError(f"--via must be sdk or http, not {options.via!r}")
    schema_id = AvroSerializer(registry, subject_for(SCHEMA), SCHEMA).schema_id
    kafka = RawKafka(settings.kafka_bootstrap, topic, producer_options())
    http = HttpTransport(
        options.gateway_url, tokens, kafka, max_items=settings.gateway_max_batch_items
    )
    return http, schema_id
