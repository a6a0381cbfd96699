"""A tiny simulation on the real broker: what lands on the topic is what the ground truth says.

Two Jember districts at a small scale, published through the SDK (and once
through the HTTP gateway served on a real port, once more through a gateway
that rate-limits every token), each run under a topic prefix of its own. The
topic is read back with a plain consumer and decoded with the pipeline's own
deserializer; with supervisors reviewing, the reviews topic holds exactly the
truth's decisions, each sent after the revision it decides on (through the
SDK, and through the gateway with each supervisor's token). Last, the
simulator runs as the field apps' principal on a
secure broker of its own (SASL_SSL, ACLs): refused with the admin's command
while its topic is missing, then sending as ``field`` once the admin made it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from processors.rules.system import DECODE_CODES
from schemas.catalog import load_schema, subject_for
from schemas.errors import BrokerError, DecodeError
from schemas.frame import load_frame
from schemas.jsonform import JsonForm
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from simulator.config import ErrorRates, ReviewConfig, SimulationConfig
from simulator.gateway_retry import RATE_LIMITED
from simulator.launch import Prepared, RunOptions, prepare, simulate
from simulator.truth import GroundTruth
from streams import local_kafka
from streams.gateway.app import GatewayConfig, create_app
from streams.gateway.auth import TokenStore, load_token_file
from streams.gateway.reviews import ReviewService
from streams.local_kafka_secure import SecureLayout, principal_security
from streams.sdk import ProducerOptions, ReviewPublisher, SubmissionPublisher
from streams.settings import Settings
from streams.topics import (
    ENUMERATOR_EVENTS,
    REVIEWS,
    SUBMISSIONS,
    desired_topics,
    ensure_topics,
    named,
)
from tests.backends import KafkaBackend, free_port
from tests.gateway_harness import RunningGateway
from tests.topics import read_topic

pytestmark = pytest.mark.integration

CONFIG = SimulationConfig(
    scale=0.01,
    districts=("35.09.02", "35.09.03"),
    seed=17,
    rates=ErrorRates(
        nik=0.02, area=0.02, age=0.02, duplicate=0.05, revision=0.05, corrupt=0.03, old_schema=0.05
    ),
)


@pytest.fixture
def settings_for(
    kafka: KafkaBackend, tmp_path: Path, unique_topic: Callable[[str], str]
) -> Callable[..., Settings]:
    def make(**extra: Any) -> Settings:
        return Settings(
            state_dir=tmp_path,
            kafka_bootstrap=kafka.bootstrap,
            topic_prefix=unique_topic("sim"),
            topic_partitions=3,
            **extra,
        )

    return make


def decode_all(messages: list[Any]) -> tuple[list[tuple[int, dict[str, Any]]], Counter[str]]:
    """(schema id, record) of every decodable message, and the decode reason codes of the rest."""
    reader = AvroDeserializer(LocalRegistry(), "HouseholdSubmission")
    decoded: list[tuple[int, dict[str, Any]]] = []
    failures: Counter[str] = Counter()
    for message in messages:
        try:
            decoded.append(reader.decode_with_id(message.value))
        except DecodeError as exc:
            failures[DECODE_CODES[exc.reason_code]] += 1
    return decoded, failures


def check_topic_against_truth(messages: list[Any], truth: GroundTruth) -> None:
    assert len(messages) == truth.messages_sent
    decoded, failures = decode_all(messages)
    decode_reasons = {
        c: n for c, n in truth.rejections_by_reason.items() if c.startswith("DECODE_")
    }
    assert dict(failures) == decode_reasons
    assert sum(failures.values()) == truth.corrupt_sent
    records = [record for _id, record in decoded]
    ids = Counter(record["submission_id"] for record in records)
    assert len(ids) == truth.households_sent + truth.revisions_sent
    assert sum(ids.values()) - len(ids) == truth.duplicates_sent
    assert len({record["household_id"] for record in records}) == truth.households_sent
    assert {m.key.decode() for m in messages} == {r["household_id"] for r in records}
    assert sum(
        1 for r in {r["submission_id"]: r for r in records}.values() if r["revision"] >= 2
    ) == (truth.revisions_sent)
    old = {r["submission_id"] for r in records if r["location"]["code_system"] == "BPS"}
    assert len(old) == truth.old_schema_sent


def check_order_per_household(messages: list[Any]) -> None:
    """Within a household's partition: revision 1 before its retries, revision 2 last."""
    reader = AvroDeserializer(LocalRegistry(), "HouseholdSubmission")
    revisions: dict[str, list[int]] = {}
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        try:
            record = reader.decode(message.value)
        except DecodeError:
            continue
        revisions.setdefault(record["household_id"], []).append(record["revision"])
    assert all(seq == sorted(seq) for seq in revisions.values())


def test_sdk_simulation_matches_its_ground_truth(
    kafka: KafkaBackend, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for()
    report, path = simulate(settings, CONFIG, RunOptions(duration_s=0, progress=False))
    truth = GroundTruth.read(path)
    assert truth == report.truth and truth.complete
    assert truth.households_sent == truth.households_planned > 300
    assert truth.duplicates_sent and truth.revisions_sent and truth.corrupt_sent
    assert truth.old_schema_sent
    messages = read_topic(kafka.bootstrap, named(SUBMISSIONS, settings.topic_prefix))
    check_topic_against_truth(messages, truth)
    check_order_per_household(messages)
    v1_id = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission", version=1
    ).schema_id
    decoded, _failures = decode_all(messages)
    v1 = [record for schema_id, record in decoded if schema_id == v1_id]
    assert v1 and all(r["location"]["code_system"] == "BPS" for r in v1)
    assert {r["submission_id"] for r in v1} == {
        r["submission_id"] for _id, r in decoded if r["location"]["code_system"] == "BPS"
    }


REVIEWING = ReviewConfig(enabled=True, return_rate=0.3, reject_rate=0.05)
#: Wall seconds between a message and the review (or fix) that follows it: no worker here.
QUICK_LAG_S = 0.2


def check_reviews_against_truth(bootstrap: str, prefix: str, truth: GroundTruth) -> None:
    """The reviews topic holds the truth's decisions, keyed by household, after what they review."""
    reader = AvroDeserializer(LocalRegistry(), "ReviewDecision")
    messages = read_topic(bootstrap, named(REVIEWS, prefix))
    reviews = [reader.decode(m.value) for m in messages]
    assert len(reviews) == truth.reviews_sent > 0
    assert dict(Counter(r["decision"] for r in reviews)) == truth.reviews_by_decision
    assert {m.key.decode() for m in messages} == {r["household_id"] for r in reviews}
    returned = sum(d.returned for d in truth.districts.values())  # not fixed before the end
    assert truth.fixes_sent == truth.reviews_by_decision.get("RETURNED", 0) - returned > 0
    # one decision per revision, the returned ones followed by a later revision
    decided = Counter((r["household_id"], r["revision"]) for r in reviews)
    assert set(decided.values()) == {1}
    submissions = read_topic(bootstrap, named(SUBMISSIONS, prefix))
    sub_reader = AvroDeserializer(LocalRegistry(), "HouseholdSubmission")
    latest: dict[str, int] = {}
    for message in submissions:
        try:
            record = sub_reader.decode(message.value)
        except DecodeError:
            continue
        household = record["household_id"]
        latest[household] = max(latest.get(household, 0), record["revision"])
    for review in reviews:
        if review["decision"] != "RETURNED":
            assert latest[review["household_id"]] == review["revision"]
    fixed = sum(
        latest[r["household_id"]] > r["revision"] for r in reviews if r["decision"] == "RETURNED"
    )
    assert fixed == truth.fixes_sent


def test_sdk_simulation_with_reviews(
    kafka: KafkaBackend, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for()
    config = SimulationConfig(
        scale=0.005,
        districts=("35.09.02",),
        seed=23,
        rates=CONFIG.rates,
        reviews=REVIEWING,
        paradata=True,
    )
    options = RunOptions(duration_s=0, progress=False, review_lag_s=QUICK_LAG_S)
    report, _path = simulate(settings, config, options)
    truth = report.truth
    assert truth.complete, report.error
    messages = read_topic(kafka.bootstrap, named(SUBMISSIONS, settings.topic_prefix))
    check_topic_against_truth(messages, truth)
    check_order_per_household(messages)
    check_reviews_against_truth(kafka.bootstrap, settings.topic_prefix, truth)
    events = read_topic(kafka.bootstrap, named(ENUMERATOR_EVENTS, settings.topic_prefix))
    reader = AvroDeserializer(LocalRegistry(), "EnumeratorEvent")
    kinds = Counter(reader.decode(m.value)["event_type"] for m in events)
    assert dict(kinds) == truth.events_by_type and kinds["INTERVIEW_STARTED"]


HTTP_CONFIG = SimulationConfig(scale=0.005, districts=("35.09.02",), seed=5, rates=CONFIG.rates)


@pytest.fixture
def http_run(
    kafka: KafkaBackend, settings_for: Callable[..., Settings], request: pytest.FixtureRequest
) -> Iterator[tuple[Settings, Prepared, RunningGateway]]:
    """A prepared frame and a gateway that accepts the simulator's tokens.

    Indirect parameters: ``{"rate": per second, "burst": n, "items": per request}``.
    """
    limits: dict[str, Any] = getattr(request, "param", {})
    settings = settings_for(gateway_max_batch_items=limits.get("items", 200))
    prepared = prepare(settings, HTTP_CONFIG)
    topic = named(SUBMISSIONS, settings.topic_prefix)
    publisher = SubmissionPublisher(
        kafka.bootstrap, LocalRegistry(), topic=topic, options=ProducerOptions(client_id="gw")
    )
    tokens = TokenStore.from_mapping(load_token_file(prepared.tokens_file))
    config = GatewayConfig(
        bootstrap=kafka.bootstrap,
        rate_per_token=limits.get("rate", 10.0),
        rate_burst=limits.get("burst", 40),
    )
    reviews = ReviewService(
        ReviewPublisher(
            kafka.bootstrap,
            LocalRegistry(),
            topic=named(REVIEWS, settings.topic_prefix),
            options=ProducerOptions(client_id="gw-reviews"),
        ),
        JsonForm(load_schema("ReviewDecision")),
        load_frame(prepared.frame_dir),
        retry_after_s=1,
    )
    gateway = RunningGateway(create_app(config, tokens, publisher, reviews=reviews))
    yield settings, prepared, gateway
    gateway.stop()


def test_http_simulation_matches_its_ground_truth(
    kafka: KafkaBackend, http_run: tuple[Settings, Prepared, RunningGateway]
) -> None:
    settings, prepared, gateway = http_run
    options = RunOptions(
        via="http", gateway_url=f"http://127.0.0.1:{gateway.port}", duration_s=0, progress=False
    )
    report, _path = simulate(settings, HTTP_CONFIG, options, prepared=prepared)
    truth = report.truth
    assert truth.complete and truth.via == "http"
    assert any("straight to Kafka" in note for note in truth.notes)
    messages = read_topic(kafka.bootstrap, named(SUBMISSIONS, settings.topic_prefix))
    check_topic_against_truth(messages, truth)
    check_order_per_household(messages)


def test_http_simulation_with_reviews_uses_the_supervisors_tokens(
    kafka: KafkaBackend, http_run: tuple[Settings, Prepared, RunningGateway]
) -> None:
    settings, prepared, gateway = http_run
    options = RunOptions(
        via="http",
        gateway_url=f"http://127.0.0.1:{gateway.port}",
        duration_s=0,
        progress=False,
        review_lag_s=QUICK_LAG_S,
    )
    config = SimulationConfig(
        scale=0.005, districts=("35.09.02",), seed=5, rates=CONFIG.rates, reviews=REVIEWING
    )
    report, _path = simulate(settings, config, options, prepared=prepared)
    truth = report.truth
    assert truth.complete, report.error
    messages = read_topic(kafka.bootstrap, named(SUBMISSIONS, settings.topic_prefix))
    check_topic_against_truth(messages, truth)
    check_reviews_against_truth(kafka.bootstrap, settings.topic_prefix, truth)


@pytest.mark.parametrize("http_run", [{"rate": 2.0, "burst": 1, "items": 4}], indirect=True)
def test_http_simulation_waits_when_the_gateway_rate_limits(
    kafka: KafkaBackend, http_run: tuple[Settings, Prepared, RunningGateway]
) -> None:
    """Every token over its rate: 429s, waits as told, and still exactly the truth on the topic."""
    settings, prepared, gateway = http_run
    options = RunOptions(
        via="http", gateway_url=f"http://127.0.0.1:{gateway.port}", duration_s=0, progress=False
    )
    report, _path = simulate(settings, HTTP_CONFIG, options, prepared=prepared)
    truth = report.truth
    assert truth.complete, report.error
    assert report.retries.get(RATE_LIMITED, 0) > 0, report.retries
    assert any("sent again as the gateway asked" in note for note in truth.notes)
    messages = read_topic(kafka.bootstrap, named(SUBMISSIONS, settings.topic_prefix))
    check_topic_against_truth(messages, truth)  # a refused request left nothing on the topic
    check_order_per_household(messages)


SECURE_PREFIX = "simsecure"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_kafka.BrokerSpec]:
    """A secure broker of this module's own (SASL_SSL, SCRAM, ACLs for SECURE_PREFIX), no topics."""
    spec = local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=free_port(),
        controller_port=free_port(),
        state_dir=tmp_path_factory.mktemp("secure-sim-kafka"),
        cache_dir=Settings().cache_dir,
        heap="512m",
        partitions=3,
        secure=True,
        topic_prefix=SECURE_PREFIX,
    )
    local_kafka.start(spec, echo=lambda _line: None)
    try:
        yield spec
    finally:
        local_kafka.stop(spec)


def test_sdk_simulation_as_the_field_principal(
    secure_broker: local_kafka.BrokerSpec, tmp_path: Path
) -> None:
    layout = SecureLayout(secure_broker.layout.root)
    settings = Settings(
        state_dir=tmp_path,
        topic_replication=1,
        kafka_bootstrap=secure_broker.bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_username="field",
        kafka_password_file=layout.password_file("field"),
        kafka_ca_file=layout.ca_cert,
        topic_prefix=SECURE_PREFIX,
        topic_partitions=3,
    )
    prepared = prepare(settings, HTTP_CONFIG)
    run = RunOptions(duration_s=0, progress=False)
    with pytest.raises(BrokerError, match=r"regsosek topics create.*as field"):
        simulate(settings, HTTP_CONFIG, run, prepared=prepared)  # field may not create it

    admin = principal_security(layout, "admin")
    ensure_topics(secure_broker.bootstrap, desired_topics(settings), security=admin)
    report, _path = simulate(settings, HTTP_CONFIG, run, prepared=prepared)
    assert report.truth.complete, report.error
    topic = named(SUBMISSIONS, SECURE_PREFIX)
    messages = read_topic(secure_broker.bootstrap, topic, security=admin)
    check_topic_against_truth(messages, report.truth)
