"""From settings to a finished run: frame files, topics, transport, runner, ground-truth file.

What ``regsosek simulate`` does, as functions a test (or the demo) can call
with its own settings: :func:`prepare` writes the frame the worker reads
(and the gateway's tokens file), :func:`simulate` sends the month and
writes the ground truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from schemas.catalog import subject_for
from schemas.errors import BrokerError, ConfigurationError
from schemas.regions import DEFAULT_REGIONS_FILE, RegionMaster, load_regions
from schemas.registry import registry_from_url
from schemas.serde import AvroSerializer
from simulator.clock import DEFAULT_DURATION_S, FieldworkClock
from simulator.config import SimulationConfig
from simulator.gateway_client import HttpTransport
from simulator.population import SimFrame, build_frame
from simulator.runner import DEFAULT_LAG_S, Runner, RunReport, default_truth_path
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
from streams.kafka_security import KafkaSecurity
from streams.sdk import EnumeratorEventPublisher
from streams.settings import Settings
from streams.topics import (
    ENUMERATOR_EVENTS,
    REVIEWS,
    SUBMISSIONS,
    TopicInfo,
    TopicReport,
    TopicSpec,
    describe_topics,
    desired_topics,
    ensure_topics,
    named,
    reports_for,
    resolve_replication,
)


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
    #: Wall seconds a review (or fix) waits after what it follows was acknowledged.
    review_lag_s: float = DEFAULT_LAG_S


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
    people = [e.enumerator_id for e in frame.enumerators] + sorted(frame.supervisors)
    tokens_file, tokens = ensure_tokens(directory, people)
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
    security = KafkaSecurity.from_settings(settings)
    if options.create_topics:
        reports = ensure_sending_topics(
            settings, security, reviews=config.reviews.enabled, paradata=config.paradata
        )
        if console is not None:
            found = ", ".join(f"{report.name} {report.state.value}" for report in reports)
            console.print(f"Kafka ({security.describe()}): topic {found}")
    reviews = named(REVIEWS, settings.topic_prefix) if config.reviews.enabled else None
    transport, schema_id = _transport(
        settings,
        options,
        topic,
        ready.tokens,
        security,
        reviews_topic=reviews,
        paradata=config.paradata,
    )
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
            scenario,
            clock,
            transport,
            tally,
            console=console,
            progress=options.progress,
            lag_s=options.review_lag_s,
        )
        report = runner.run()
    finally:
        transport.close()
    path = report.truth.write(options.truth_path or default_truth_path(settings.state_dir))
    return report, path


def sending_topics(
    settings: Settings, *, reviews: bool = False, paradata: bool = False
) -> list[TopicSpec]:
    """The topics the simulator writes: submissions (reviews, enumerator events if on). Pure.

    The worker's outputs are not the simulator's business (the worker and the
    admin's ``regsosek topics create`` make them), and a field app's principal
    may not even see them.
    """
    names = {named(SUBMISSIONS, settings.topic_prefix)}
    if reviews:
        names.add(named(REVIEWS, settings.topic_prefix))
    if paradata:
        names.add(named(ENUMERATOR_EVENTS, settings.topic_prefix))
    return [spec for spec in desired_topics(settings) if spec.name in names]


def missing_topics(specs: Sequence[TopicSpec], present: Iterable[TopicInfo]) -> list[TopicSpec]:
    """The specs whose topic is not among ``present``. Pure.

    A topic present with fewer partitions than desired is not missing: it is
    reported, never re-created (see :mod:`streams.topics`).
    """
    names = {info.name for info in present}
    return [spec for spec in specs if spec.name not in names]


def ensure_sending_topics(
    settings: Settings, security: KafkaSecurity, *, reviews: bool = False, paradata: bool = False
) -> list[TopicReport]:
    """Make sure the topics the simulator writes exist, creating only those that do not.

    Topics that exist are only described, never asked for: a field app's
    principal (``field`` under ACLs) may write and describe the submissions
    topic but not create it, and a creation attempt would be refused and logged
    by the broker as an authorisation failure. When a topic is missing and the
    principal may not create it, the error says who should
    (``regsosek topics create`` as the admin principal).
    """
    bootstrap = settings.kafka_bootstrap
    settings = resolve_replication(settings, security)
    specs = sending_topics(settings, reviews=reviews, paradata=paradata)
    present = describe_topics(bootstrap, [spec.name for spec in specs], security=security)
    reports = {
        report.name: report
        for report in reports_for(specs, set(), {info.name: info.partitions for info in present})
    }
    missing = missing_topics(specs, present)
    if missing:
        try:
            created = ensure_topics(bootstrap, missing, security=security)
        except BrokerError as exc:
            raise BrokerError(f"{exc} (the simulator connects as {security.describe()})") from exc
        reports.update((report.name, report) for report in created)
    return [reports[spec.name] for spec in specs]


def _transport(
    settings: Settings,
    options: RunOptions,
    topic: str,
    tokens: dict[str, str],
    security: KafkaSecurity,
    *,
    reviews_topic: str | None = None,
    paradata: bool = False,
) -> tuple[Transport, int]:
    """The transport of ``options.via`` and the current schema's registry id."""
    url = settings.schema_registry_url
    registry = registry_from_url(url.get_secret_value() if url else None)
    producer = producer_options(security=security)
    events = (
        EnumeratorEventPublisher(
            settings.kafka_bootstrap,
            registry,
            topic=named(ENUMERATOR_EVENTS, settings.topic_prefix),
            options=producer,
        )
        if paradata
        else None
    )
    if options.via == "sdk":
        sdk = SdkTransport(
            settings.kafka_bootstrap,
            registry,
            topic,
            validate=options.validate,
            options=producer,
            reviews_topic=reviews_topic,
            events=events,
        )
        return sdk, sdk.schema_id
    if options.via != "http":
        raise ConfigurationError(f"--via must be sdk or http, not {options.via!r}")
    schema_id = AvroSerializer(registry, subject_for(SCHEMA), SCHEMA).schema_id
    kafka = RawKafka(settings.kafka_bootstrap, topic, producer)
    http = HttpTransport(
        options.gateway_url,
        tokens,
        kafka,
        max_items=settings.gateway_max_batch_items,
        events=events,
    )
    return http, schema_id
