"""The local broker's secure mode: SASL_SSL with SCRAM users, a local CA and ACLs.

``regsosek kafka start --secure`` (or ``REGSOSEK_KAFKA_SECURITY_PROTOCOL=SASL_SSL``)
runs the same single-node broker as :mod:`streams.local_kafka`, but:

* clients reach it over **TLS** only; its certificate is signed by a CA made
  here with the JDK's ``keytool`` (the JDK runs the broker anyway), valid for
  ``localhost``, ``127.0.0.1`` and the configured host;
* every client **logs in with SCRAM** (SHA-512 or SHA-256). The users
  (:data:`PRINCIPALS`) are created when the storage is formatted
  (``kafka-storage format --add-scram``), with random passwords kept in 0600
  files of this state directory, so no password is ever typed or shared;
* the **StandardAuthorizer** refuses whatever no ACL allows
  (``allow.everyone.if.no.acl.found=false``). ``admin`` is a super user;
  ``field`` may write the field apps' input topics and nothing else; ``worker``
  may read submissions, write its own outputs, use its own consumer group and
  Faust's internal topics (:func:`desired_acls`);
* the KRaft controller listener stays on the broker's own host, authenticated
  with SASL/PLAIN against a static ``controller`` user (SCRAM cannot serve the
  controller, whose users live in the metadata it serves).

The layout under ``<state_dir>/kafka``: ``tls/`` (CA and broker key stores,
the CA certificate clients trust; 0700) and ``secrets/`` (one password file per
principal, the key store password; 0700, files 0600), and
``client-<principal>.env``: the ``REGSOSEK_KAFKA_*`` settings of each principal,
to ``source`` before running a component as that principal.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import BrokerError
from streams.kafka_security import MECHANISMS, KafkaSecurity

#: SCRAM users made at format time: the super user, field apps (and the gateway), the worker.
PRINCIPALS = ("admin", "field", "worker")
SUPER_USER = "admin"
#: Static SASL/PLAIN user of the controller listener (broker <-> controller, same process).
CONTROLLER_USER = "controller"
CERT_VALIDITY_DAYS = 825
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class SecureLayout:
    """Secret and TLS files of one secure local broker (under ``<state_dir>/kafka``)."""

    root: Path

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def ca_cert(self) -> Path:
        """The CA certificate (PEM) clients trust: ``REGSOSEK_KAFKA_CA_FILE``."""
        return self.tls_dir / "ca.pem"

    @property
    def ca_store(self) -> Path:
        return self.tls_dir / "ca.p12"

    @property
    def broker_store(self) -> Path:
        return self.tls_dir / "broker.p12"

    def password_file(self, user: str) -> Path:
        """A principal's password (also ``store`` for the key stores, ``controller``)."""
        return self.secrets_dir / f"{user}.password"

    def client_env(self, principal: str) -> Path:
        return self.root / f"client-{principal}.env"


# ---------------------------------------------------------------- pure parts


def listener_settings(host: str, port: int, controller_port: int, secure: bool) -> dict[str, str]:
    """The template's listener placeholders: one client listener and the controller's. Pure."""
    client = "SASL_SSL" if secure else "PLAINTEXT"
    controller = "SASL_PLAINTEXT" if secure else "PLAINTEXT"
    return {
        "listeners": f"{client}://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised_listeners": f"{client}://{host}:{port}",
        "broker_listener": client,
        "protocol_map": f"CONTROLLER:{controller},{client}:{client}",
    }


def security_properties(layout: SecureLayout, passwords: Mapping[str, str]) -> str:
    """server.properties lines of the secure mode. Pure (passwords as given).

    Passwords are URL-safe random strings (:func:`ensure_passwords`), so they
    need no quoting in JAAS or properties syntax.
    """
    admin, controller = passwords[SUPER_USER], passwords[CONTROLLER_USER]
    store = passwords["store"]
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    lines = [
        "",
        "# Secure mode (streams/local_kafka_secure.py): SASL_SSL + SCRAM for clients, ACLs.",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        f"super.users=User:{SUPER_USER};User:{CONTROLLER_USER}",
        f"listener.name.sasl_ssl.sasl.enabled.mechanisms={','.join(MECHANISMS)}",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
    ]
    for mechanism in MECHANISMS:
        lines.append(
            f"listener.name.sasl_ssl.{mechanism.lower()}.sasl.jaas.config={scram} required "
            f'username="{SUPER_USER}" password="{admin}";'
        )
    lines += [
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={plain} required "
        f'username="{CONTROLLER_USER}" password="{controller}" '
        f'user_{CONTROLLER_USER}="{controller}";',
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.location={layout.broker_store}",
        f"ssl.keystore.password={store}",
        f"ssl.key.password={store}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={layout.ca_cert}",
        "ssl.endpoint.identification.algorithm=https",
        "ssl.client.auth=none",
        "ssl.enabled.protocols=TLSv1.3,TLSv1.2",
    ]
    return "\n".join(lines) + "\n"


def scram_format_arguments(passwords: Mapping[str, str]) -> list[str]:
    """``kafka-storage format`` arguments creating every principal, both SCRAM mechanisms. Pure."""
    arguments = []
    for user in PRINCIPALS:
        for mechanism in MECHANISMS:
            arguments += ["--add-scram", f"{mechanism}=[name={user},password={passwords[user]}]"]
    return arguments


@dataclass(frozen=True)
class AclRule:
    """One ALLOW rule, in kafka-acls terms: who may do what on which resource."""

    principal: str
    resource: str  # TOPIC or GROUP
    name: str
    pattern: str  # LITERAL or PREFIXED
    operation: str  # READ, WRITE, CREATE, DESCRIBE

    def __str__(self) -> str:
        kind = "" if self.pattern == "LITERAL" else " (prefix)"
        return f"User:{self.principal} {self.operation} {self.resource} {self.name}{kind}"


def desired_acls(topic_prefix: str) -> list[AclRule]:
    """Everything the non-admin principals may do; the authorizer refuses the rest. Pure.

    * ``field`` writes the field apps' input topics (submissions, enumerator
      events, and the supervisors' reviews, which the gateway publishes). Its
      idempotent producer needs no cluster right: Kafka grants a producer id to
      whoever may write some topic. It cannot read any
      topic, nor write the worker's outputs.
    * ``worker`` reads submissions and reviews, writes ``.valid`` and ``.rejected``, uses
      the consumer group ``<prefix>-worker`` and creates and uses Faust's
      internal topics (``<prefix>-worker-…``: the dedup changelog, the assignor's
      leader topic). DESCRIBE on ``<prefix>.`` topics lets its start-up check
      see that they exist and its lag monitor read their offsets; it cannot
      create them (the admin does: ``regsosek topics create``).
    """
    # Imported here: the topic names live in streams.topics, which needs settings.
    from streams.topics import (  # noqa: PLC0415
        ENUMERATOR_EVENTS,
        REVIEWS,
        SUBMISSIONS,
        SUBMISSIONS_REJECTED,
        SUBMISSIONS_VALID,
        named,
    )

    group = f"{topic_prefix}-worker"
    rules = [
        AclRule("field", "TOPIC", named(topic, topic_prefix), "LITERAL", operation)
        for topic in (SUBMISSIONS, ENUMERATOR_EVENTS, REVIEWS)
        for operation in ("WRITE", "DESCRIBE")
    ]
    rules += [
        AclRule("worker", "TOPIC", f"{topic_prefix}.", "PREFIXED", "DESCRIBE"),
        AclRule("worker", "TOPIC", named(SUBMISSIONS, topic_prefix), "LITERAL", "READ"),
        AclRule("worker", "TOPIC", named(ENUMERATOR_EVENTS, topic_prefix), "LITERAL", "READ"),
        AclRule("worker", "TOPIC", named(REVIEWS, topic_prefix), "LITERAL", "READ"),
        *(
            AclRule("worker", "TOPIC", named(topic, topic_prefix), "LITERAL", "WRITE")
            for topic in (SUBMISSIONS_VALID, SUBMISSIONS_REJECTED)
        ),
        *(
            AclRule("worker", "TOPIC", f"{group}-", "PREFIXED", operation)
            for operation in ("CREATE", "READ", "WRITE", "DESCRIBE")
        ),
        AclRule("worker", "GROUP", group, "PREFIXED", "READ"),
        AclRule("worker", "GROUP", group, "PREFIXED", "DESCRIBE"),
    ]
    return rules


def certificate_names(host: str) -> str:
    """The SubjectAlternativeName value for keytool: localhost, 127.0.0.1 and ``host``. Pure."""
    names = {"dns:localhost", "ip:127.0.0.1"}
    try:
        ipaddress.ip_address(host)
        names.add(f"ip:{host}")
    except ValueError:
        names.add(f"dns:{host}")
    return ",".join(sorted(names))


def client_env_text(
    principal: str, bootstrap: str, layout: SecureLayout, mechanism: str = "SCRAM-SHA-512"
) -> str:
    """The ``REGSOSEK_KAFKA_*`` lines of one principal; the password stays in its file. Pure."""
    return (
        f"# Kafka settings of the `{principal}` principal of the local secure broker.\n"
        f"# Use: set -a; . {layout.client_env(principal)}; set +a\n"
        f"REGSOSEK_KAFKA_BOOTSTRAP={bootstrap}\n"
        "REGSOSEK_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
        f"REGSOSEK_KAFKA_SASL_MECHANISM={mechanism}\n"
        f"REGSOSEK_KAFKA_USERNAME={principal}\n"
        f"REGSOSEK_KAFKA_PASSWORD_FILE={layout.password_file(principal)}\n"
        f"REGSOSEK_KAFKA_CA_FILE={layout.ca_cert}\n"
    )


def principal_security(layout: SecureLayout, principal: str) -> KafkaSecurity:
    """How ``principal`` connects to this broker (reads its password file)."""
    return KafkaSecurity(
        protocol="SASL_SSL",
        username=principal,
        password=layout.password_file(principal).read_text().strip(),
        ca_file=layout.ca_cert,
    )


# ---------------------------------------------------------------- files


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (created 0600, never briefly wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(PRIVATE_FILE)


def ensure_passwords(layout: SecureLayout) -> dict[str, str]:
    """Each principal's password (and the key store's), made once per state directory."""
    _private_dir(layout.secrets_dir)
    passwords = {}
    for user in (*PRINCIPALS, CONTROLLER_USER, "store"):
        path = layout.password_file(user)
        if not path.exists():
            write_private(path, secrets.token_urlsafe(24) + "\n")
        passwords[user] = path.read_text().strip()
    return passwords


def ensure_certificates(layout: SecureLayout, keytool: str, host: str, store_password: str) -> None:
    """A local CA and a broker certificate it signed, unless both exist already."""
    if layout.broker_store.exists() and layout.ca_cert.exists():
        return
    _private_dir(layout.tls_dir)
    for stale in (layout.ca_store, layout.broker_store, layout.ca_cert):
        stale.unlink(missing_ok=True)
    csr, signed = layout.tls_dir / "broker.csr", layout.tls_dir / "broker.pem"
    ca = ["-keystore", str(layout.ca_store), "-storetype", "PKCS12", "-storepass:env", "STORE"]
    broker = ["-keystore", str(layout.broker_store), "-storetype", "PKCS12"]
    broker += ["-storepass:env", "STORE"]
    key = ["-keyalg", "RSA", "-keysize", "2048", "-validity", str(CERT_VALIDITY_DAYS)]
    ca_ext = ["-ext", "bc:c=ca:true", "-ext", "ku:c=keyCertSign,cRLSign"]
    leaf_ext = ["-ext", f"san={certificate_names(host)}", "-ext", "eku=serverAuth,clientAuth"]
    leaf_ext += ["-ext", "ku:c=digitalSignature,keyEncipherment"]
    leaf_ext += ["-validity", str(CERT_VALIDITY_DAYS)]
    steps: list[list[str]] = [
        ["-genkeypair", "-alias", "ca", "-dname", "CN=regsosek local CA", *key, *ca, *ca_ext],
        ["-exportcert", "-rfc", "-alias", "ca", "-file", str(layout.ca_cert), *ca],
        ["-genkeypair", "-alias", "broker", "-dname", f"CN={host}", *key, *broker],
        ["-certreq", "-alias", "broker", "-file", str(csr), *broker],
        [
            "-gencert",
            "-rfc",
            "-alias",
            "ca",
            "-infile",
            str(csr),
            "-outfile",
            str(signed),
            *ca,
            *leaf_ext,
        ],
        ["-importcert", "-noprompt", "-alias", "ca", "-file", str(layout.ca_cert), *broker],
        ["-importcert", "-alias", "broker", "-file", str(signed), *broker],
    ]
    env = {**os.environ, "STORE": store_password}  # never on a command line
    for step in steps:
        result = subprocess.run(
            [keytool, *step], capture_output=True, text=True, env=env, check=False
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()[:300]
            raise BrokerError(f"keytool {step[0]} failed: {detail}")
    csr.unlink(missing_ok=True)
    signed.unlink(missing_ok=True)
    for path in (layout.ca_store, layout.broker_store, layout.ca_cert):
        path.chmod(PRIVATE_FILE)


def write_client_envs(layout: SecureLayout, bootstrap: str) -> list[Path]:
    """``client-<principal>.env`` for every principal; returns their paths."""
    written = []
    for principal in PRINCIPALS:
        path = layout.client_env(principal)
        write_private(path, client_env_text(principal, bootstrap, layout))
        written.append(path)
    return written


# ---------------------------------------------------------------- ACLs (I/O)


def apply_acls(bootstrap: str, security: KafkaSecurity, rules: Sequence[AclRule]) -> None:
    """Create ``rules`` as the super user; rules that exist already are left as they are."""
    from kafka import KafkaAdminClient  # noqa: PLC0415
    from kafka.admin import (  # noqa: PLC0415
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )
    from kafka.errors import KafkaError  # noqa: PLC0415

    acls = [
        ACL(
            principal=f"User:{rule.principal}",
            host="*",
            operation=ACLOperation[rule.operation],
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                ResourceType[rule.resource], rule.name, ACLResourcePatternType[rule.pattern]
            ),
        )
        for rule in rules
    ]
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="regsosek-acls", **security.kafka_python()
        )
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"creating ACLs: Kafka at {bootstrap} unreachable: {exc}") from exc
    try:
        answer = admin.create_acls(acls)
    except KafkaError as exc:
        raise BrokerError(f"creating ACLs on {bootstrap} failed: {exc}") from exc
    finally:
        admin.close()
    failed = answer.get("failed") or []  # kafka-python lists the error classes only
    if failed:
        names = sorted({getattr(error, "__name__", str(error)) for error in failed})
        raise BrokerError(f"{len(failed)} of {len(acls)} ACLs refused: {', '.join(names)}")
