"""The pure parts of Kafka security: option builders, settings checks, broker config, ACLs."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from streams import local_kafka
from streams import local_kafka_secure as secure
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.sdk import ProducerOptions
from streams.settings import Settings

CA = Path("/etc/regsosek/kafka-ca.pem")
FIELD = KafkaSecurity("SASL_SSL", username="field", password="s3cret", ca_file=CA)


def _props(text: str) -> dict[str, str]:
    pairs = (ln.split("=", 1) for ln in text.splitlines() if "=" in ln and not ln.startswith("#"))
    return dict(pairs)


def test_plaintext_adds_nothing_but_the_protocol() -> None:
    assert PLAINTEXT.kafka_python() == {"security_protocol": "PLAINTEXT"}
    assert PLAINTEXT.aiokafka() == {"security_protocol": "PLAINTEXT"}
    assert PLAINTEXT.faust() == {}, "the default worker app is built exactly as before"


def test_kafka_python_options_for_sasl_ssl() -> None:
    assert FIELD.kafka_python() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "field",
        "sasl_plain_password": "s3cret",
        "ssl_check_hostname": True,
        "ssl_cafile": str(CA),
    }


def test_tls_without_ca_file_uses_the_system_store_and_still_checks_host_names() -> None:
    options = KafkaSecurity("SSL").kafka_python()
    assert options == {"security_protocol": "SSL", "ssl_check_hostname": True}
    context = KafkaSecurity("SSL").ssl_context()
    assert context is not None
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_sasl_plaintext_has_no_tls_options() -> None:
    security = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-256", "worker", "pw")
    assert security.ssl_context() is None
    assert "ssl_context" not in security.aiokafka()
    assert security.aiokafka()["sasl_mechanism"] == "SCRAM-SHA-256"
    credentials = security.faust()["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"


def test_faust_gets_scram_over_tls(tmp_path: Path) -> None:
    ca = _self_signed_ca(tmp_path)
    security = KafkaSecurity("SASL_SSL", username="worker", password="pw", ca_file=ca)
    credentials = security.faust()["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("worker", "pw")
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    aio = security.aiokafka()
    assert aio["sasl_plain_username"] == "worker"
    assert isinstance(aio["ssl_context"], ssl.SSLContext)


def test_the_password_is_never_in_repr_or_description() -> None:
    assert "s3cret" not in repr(FIELD)
    assert "s3cret" not in FIELD.describe()
    assert FIELD.describe() == f"SASL_SSL, SCRAM-SHA-512 as field, CA {CA}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol": "SASL_SSL", "username": "field"}, "needs a Kafka user name and a password"),
        ({"protocol": "SASL_PLAINTEXT", "password": "x"}, "needs a Kafka user name"),
        ({"protocol": "PLAINTEXT", "username": "u", "password": "p"}, "does not authenticate"),
        ({"protocol": "SASL_PLAINTEXT", "username": "u", "password": "p", "ca_file": CA}, "TLS"),
    ],
)
def test_combinations_that_cannot_work_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSecurity(**fields)  # type: ignore[arg-type]


def test_settings_refuse_sasl_without_credentials() -> None:
    with pytest.raises(ValidationError, match="needs a Kafka user name and a password"):
        Settings.model_validate({"kafka_security_protocol": "SASL_SSL"})
    with pytest.raises(ValidationError):
        Settings.model_validate({"kafka_security_protocol": "SASL_SSL_PLEASE"})


def test_settings_read_the_password_file_once_and_mask_it(tmp_path: Path) -> None:
    secret = tmp_path / "kafka.password"
    secret.write_text("from-a-mounted-secret\n")
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_username="worker",
        kafka_password_file=secret,
        kafka_ca_file=CA,
    )
    secret.write_text("changed later")
    security = KafkaSecurity.from_settings(settings)
    assert security.password == "from-a-mounted-secret"
    assert settings.masked()["kafka_password"] == "****"
    assert "from-a-mounted-secret" not in str(settings.masked())


def test_settings_refuse_a_missing_empty_or_doubled_password_file(tmp_path: Path) -> None:
    sasl: dict[str, object] = {"kafka_security_protocol": "SASL_SSL", "kafka_username": "field"}
    with pytest.raises(ValidationError, match="kafka_password_file"):
        Settings.model_validate(sasl | {"kafka_password_file": tmp_path / "absent"})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValidationError, match="is empty"):
        Settings.model_validate(sasl | {"kafka_password_file": tmp_path / "empty"})
    (tmp_path / "pw").write_text("x")
    with pytest.raises(ValidationError, match="not both"):
        Settings.model_validate(
            sasl | {"kafka_password": "y", "kafka_password_file": tmp_path / "pw"}
        )


def test_sdk_producer_config_carries_the_security() -> None:
    config = ProducerOptions(security=FIELD).producer_config("k:9093")
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_plain_username"] == "field"
    assert config["acks"] == "all" and config["enable_idempotence"] is True
    assert ProducerOptions().producer_config("k:9092")["security_protocol"] == "PLAINTEXT"


# --- the local broker's secure mode -------------------------------------------------------


def _spec(tmp_path: Path, secure_mode: bool) -> local_kafka.BrokerSpec:
    return local_kafka.BrokerSpec(
        "127.0.0.1", 19092, 19093, tmp_path, tmp_path / "cache", secure=secure_mode
    )


def test_default_broker_config_is_unchanged_plaintext(tmp_path: Path) -> None:
    template = (local_kafka.DEPLOY_DIR / "server.properties.template").read_text()
    props = _props(local_kafka.render_config(template, _spec(tmp_path, False), tmp_path))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert "authorizer.class.name" not in props


def test_secure_broker_config(tmp_path: Path) -> None:
    layout = secure.SecureLayout(tmp_path / "kafka")
    passwords = {u: f"pw-{u}" for u in (*secure.PRINCIPALS, "controller", "store")}
    template = (local_kafka.DEPLOY_DIR / "server.properties.template").read_text()
    block = secure.security_properties(layout, passwords)
    props = _props(local_kafka.render_config(template, _spec(tmp_path, True), tmp_path, block))
    assert props["listeners"] == "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:19092"
    assert props["listener.security.protocol.map"] == "CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:controller"
    assert props["ssl.truststore.location"] == str(layout.ca_cert)
    assert props["ssl.keystore.password"] == "pw-store"
    assert 'password="pw-admin"' in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert "pw-field" not in block, "only the broker's own login is in its config"


def test_scram_users_for_every_principal_and_mechanism() -> None:
    passwords = {u: f"pw-{u}" for u in secure.PRINCIPALS}
    arguments = secure.scram_format_arguments(passwords)
    assert arguments.count("--add-scram") == 6
    assert "SCRAM-SHA-512=[name=field,password=pw-field]" in arguments
    assert "SCRAM-SHA-256=[name=worker,password=pw-worker]" in arguments


def test_acls_field_writes_inputs_only_and_worker_keeps_to_its_own() -> None:
    rules = {str(rule) for rule in secure.desired_acls("regsosek")}
    field = {r for r in rules if r.startswith("User:field ")}
    assert field == {
        "User:field WRITE TOPIC regsosek.submissions",
        "User:field DESCRIBE TOPIC regsosek.submissions",
        "User:field WRITE TOPIC regsosek.enumerator-events",
        "User:field DESCRIBE TOPIC regsosek.enumerator-events",
        "User:field WRITE TOPIC regsosek.reviews",
        "User:field DESCRIBE TOPIC regsosek.reviews",
    }
    worker = {r for r in rules if r.startswith("User:worker ")}
    assert "User:worker READ TOPIC regsosek.submissions" in worker
    assert "User:worker READ TOPIC regsosek.enumerator-events" in worker  # paradata
    assert "User:worker READ TOPIC regsosek.reviews" in worker
    assert "User:worker WRITE TOPIC regsosek.reviews" not in worker
    assert "User:worker WRITE TOPIC regsosek.submissions.valid" in worker
    assert "User:worker READ GROUP regsosek-worker (prefix)" in worker
    assert "User:worker CREATE TOPIC regsosek-worker- (prefix)" in worker  # Faust's changelog
    assert not any(r.split(" ", 1)[1] == "WRITE TOPIC regsosek.submissions" for r in worker)
    assert not any(r.split()[1] == "CREATE" and "regsosek." in r for r in worker)
    assert not any(r.startswith("User:admin") for r in rules), "admin is a super user"


def test_certificate_names_cover_loopback_and_the_host() -> None:
    assert secure.certificate_names("127.0.0.1") == "dns:localhost,ip:127.0.0.1"
    assert secure.certificate_names("kafka.local") == "dns:kafka.local,dns:localhost,ip:127.0.0.1"


def test_client_env_names_the_password_file_not_the_password(tmp_path: Path) -> None:
    layout = secure.SecureLayout(tmp_path)
    text = secure.client_env_text("field", "127.0.0.1:9092", layout)
    assert f"REGSOSEK_KAFKA_PASSWORD_FILE={layout.password_file('field')}" in text
    assert f"REGSOSEK_KAFKA_CA_FILE={layout.ca_cert}" in text
    assert "REGSOSEK_KAFKA_PASSWORD=" not in text


def test_private_files_are_0600_and_passwords_are_kept(tmp_path: Path) -> None:
    layout = secure.SecureLayout(tmp_path / "kafka")
    first = secure.ensure_passwords(layout)
    assert secure.ensure_passwords(layout) == first, "made once per state directory"
    assert len(set(first.values())) == len(first), "every principal its own password"
    assert layout.secrets_dir.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in layout.secrets_dir.iterdir())


def _self_signed_ca(tmp_path: Path) -> Path:
    """A CA certificate to load (keytool, as the secure broker makes them)."""
    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.skip("no JDK keytool on this machine")
    layout = secure.SecureLayout(tmp_path)
    secure.ensure_certificates(layout, keytool, "127.0.0.1", "store-password")
    return layout.ca_cert
