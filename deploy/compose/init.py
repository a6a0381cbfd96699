"""One-shot `init` service of docker-compose.yml: every secret, certificate and the frame.

Runs as root in the project's image before anything else starts, and writes
into the ``secrets`` volume (mounted at /run/regsosek in every container that
needs one of its files). A file that exists is kept, so ``docker compose up``
can run it again and again; deleting a file and running it again is how a
secret is rotated (deploy/README.md). Nothing here has a default: every
password, key and token is drawn from :mod:`secrets` at first start.

Layout (owner uid: who reads it; every file 0600, every directory 0700
unless said otherwise)::

    ca/ca.pem                 0644  the CA every client trusts (Kafka, ClickHouse)
    ca/ca.key                 root  the CA's key, never mounted elsewhere on purpose
    kafka/                    1000  broker keystore, its password, SCRAM passwords, admin login
    clickhouse/               101   server.crt + server.key of the TLS ports
    clickhouse-users/         101   ClickHouse's users.d (deploy/clickhouse/users.d + users)
    platform/                 10001 what gateway, worker and topics read (Kafka passwords, HMAC key,
                                    hashed gateway tokens, operator tokens, ClickHouse DSN)
    grafana/                  472   admin password, the analyst password of its data source
    frame/                    10001 the enumeration frame (enumerators, assignments, targets) 0644
    operator/                 root  what people need: field tokens in clear, operator token,
                                    Grafana admin and analyst passwords

Field tokens exist in clear only in operator/field-tokens.json (for the tablets);
the gateway gets their SHA-256 (``sha256:<hex>`` keys, streams/gateway/auth.py).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Container users that read the files (image defaults: apache/kafka, clickhouse-server,
#: grafana, and the project's own image).
KAFKA_UID = 1000
CLICKHOUSE_UID = 101
GRAFANA_UID = 472
PLATFORM_UID = 10001
ROOT_UID = 0

#: Kafka SCRAM users (deploy/kafka/compose/acls.sh grants what each may do).
KAFKA_USERS = ("admin", "worker", "field")
#: Host names the certificates are valid for: compose service names and the Docker host.
KAFKA_NAMES = ("kafka", "localhost")
CLICKHOUSE_NAMES = ("clickhouse", "localhost")
CLICKHOUSE_DATABASE = "regsosek"
CLICKHOUSE_HTTPS_PORT = 8443
CERT_DAYS = 825
TOKEN_BYTES = 24  # 32 URL-safe characters: above every minimum the platform checks


@dataclass(frozen=True)
class Layout:
    """Where each file goes under the volume's root."""

    root: Path
    users_dir: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca"

    @property
    def kafka(self) -> Path:
        return self.root / "kafka"

    @property
    def clickhouse(self) -> Path:
        return self.root / "clickhouse"

    @property
    def platform(self) -> Path:
        return self.root / "platform"

    @property
    def grafana(self) -> Path:
        return self.root / "grafana"

    @property
    def frame(self) -> Path:
        return self.root / "frame"

    @property
    def operator(self) -> Path:
        return self.root / "operator"


class Writer:
    """Creates files and directories with their owner and mode (chown only as root)."""

    def __init__(self, chown: bool) -> None:
        self.chown = chown

    def directory(self, path: Path, uid: int, mode: int = 0o700) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        self._own(path, uid, mode)
        return path

    def file(self, path: Path, text: str | bytes, uid: int, mode: int = 0o600) -> Path:
        """Write atomically: a reader never sees half a file (the worker re-reads tokens)."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            os.fchmod(handle, mode)
            os.write(handle, data)
        finally:
            os.close(handle)
        self._own(Path(temporary), uid, mode)
        os.replace(temporary, path)
        return path

    def own(self, path: Path, uid: int, mode: int = 0o600) -> None:
        self._own(path, uid, mode)

    def _own(self, path: Path, uid: int, mode: int) -> None:
        if self.chown:
            os.chown(path, uid, uid)
        path.chmod(mode)


def new_secret() -> str:
    """A random token or password: 32 URL-safe characters, safe in URLs, XML and shells."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def kept_secret(writer: Writer, path: Path, uid: int, nbytes: int = TOKEN_BYTES) -> str:
    """The secret in ``path``, drawn and written on first use; owner and mode set again."""
    if path.exists() and path.read_text(encoding="utf-8").strip():
        writer.own(path, uid)
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(nbytes)
    writer.file(path, value + "\n", uid)
    return value


# ------------------------------------------------------------------ certificates


def openssl(*args: str) -> None:
    """Run openssl (in the image: Debian's, a dependency of ca-certificates); stop on failure."""
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"openssl {args[0]} failed: {result.stderr.strip()}")


def ensure_ca(writer: Writer, layout: Layout) -> tuple[Path, Path]:
    """The stack's own CA (key, certificate): every client trusts only it."""
    writer.directory(layout.ca, ROOT_UID, 0o755)
    key, cert = layout.ca / "ca.key", layout.ca / "ca.pem"
    if not (key.exists() and cert.exists()):
        openssl(
            "req", "-x509", "-new", "-newkey", "rsa:3072", "-nodes", "-sha256",
            "-keyout", str(key), "-out", str(cert), "-days", str(CERT_DAYS),
            "-subj", "/O=Regsosek/CN=Regsosek compose CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    writer.own(key, ROOT_UID, 0o600)
    writer.own(cert, ROOT_UID, 0o644)
    return key, cert


def issue_certificate(
    ca_key: Path, ca_cert: Path, names: tuple[str, ...], key: Path, cert: Path
) -> None:
    """A server certificate for ``names`` (DNS) and 127.0.0.1, signed by the compose CA."""
    with tempfile.TemporaryDirectory() as scratch:
        request = Path(scratch) / "server.csr"
        extensions = Path(scratch) / "ext.cnf"
        san = ",".join([*(f"DNS:{name}" for name in names), "IP:127.0.0.1"])
        extensions.write_text(
            f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            encoding="ascii",
        )
        openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
            "-keyout", str(key), "-out", str(request), "-subj", f"/O=Regsosek/CN={names[0]}",
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-set_serial", str(secrets.randbits(63)), "-days", str(CERT_DAYS), "-sha256",
            "-extfile", str(extensions), "-out", str(cert),
        )  # fmt: skip


def ensure_kafka(writer: Writer, layout: Layout, ca_key: Path, ca_cert: Path) -> dict[str, str]:
    """Broker keystore (PKCS12) and the SCRAM passwords; returns user -> password."""
    directory = writer.directory(layout.kafka, KAFKA_UID)
    kept_secret(writer, directory / "keystore.password", KAFKA_UID)
    passwords = {
        user: kept_secret(writer, directory / f"{user}.password", KAFKA_UID) for user in KAFKA_USERS
    }
    keystore = directory / "server.p12"
    if not keystore.exists():
        with tempfile.TemporaryDirectory() as scratch:
            key, cert = Path(scratch) / "server.key", Path(scratch) / "server.crt"
            issue_certificate(ca_key, ca_cert, KAFKA_NAMES, key, cert)
            openssl(
                "pkcs12", "-export", "-in", str(cert), "-inkey", str(key),
                "-certfile", str(ca_cert), "-name", "kafka", "-out", str(keystore),
                "-passout", f"file:{directory / 'keystore.password'}",
            )  # fmt: skip
    writer.own(keystore, KAFKA_UID)
    # For the broker's own tools (healthcheck, ACLs): the admin login over SASL_SSL.
    writer.file(
        directory / "admin.properties",
        client_properties("admin", passwords["admin"], ca_cert),
        KAFKA_UID,
    )
    return passwords


def client_properties(user: str, password: str, ca_file: Path) -> str:
    """A Java client's --command-config: SCRAM over TLS, trusting the compose CA (PEM).

    Paths are the ones of this run, which are the containers' (the volume is
    mounted at the same place everywhere).
    """
    return (
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={ca_file}\n"
    )


def ensure_clickhouse_tls(writer: Writer, layout: Layout, ca_key: Path, ca_cert: Path) -> None:
    """ClickHouse's certificate and key (PEM) for its HTTPS, native TLS and MySQL ports."""
    directory = writer.directory(layout.clickhouse, CLICKHOUSE_UID)
    key, cert = directory / "server.key", directory / "server.crt"
    if not (key.exists() and cert.exists()):
        issue_certificate(ca_key, ca_cert, CLICKHOUSE_NAMES, key, cert)
    writer.own(key, CLICKHOUSE_UID)
    writer.own(cert, CLICKHOUSE_UID)


# ------------------------------------------------------------------- ClickHouse users


def sha256_hex(password: str) -> str:
    """What ClickHouse's password_sha256_hex holds (HTTP and native logins)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def double_sha1_hex(password: str) -> str:
    """What ClickHouse's MySQL-protocol login checks (Grafana's MySQL data source)."""
    return hashlib.sha1(hashlib.sha1(password.encode("utf-8")).digest()).hexdigest()  # noqa: S324


def users_xml(writer_password: str, grafana_password: str, analyst_password: str) -> str:
    """The users with passwords; profiles, quota and role are in deploy/clickhouse/users.d."""

    def analyst(name: str, password_element: str) -> str:
        return (
            f"    <{name}>\n      {password_element}\n"
            "      <networks><ip>::/0</ip></networks>\n"
            "      <profile>regsosek_analyst</profile>\n      <quota>regsosek_analyst</quota>\n"
            "      <grants><query>GRANT regsosek_analyst</query></grants>\n"
            f"    </{name}>\n"
        )

    return (
        "<!-- Written by deploy/compose/init.py: password hashes only. -->\n"
        "<clickhouse>\n  <users>\n"
        "    <regsosek_writer>\n"
        f"      <password_sha256_hex>{sha256_hex(writer_password)}</password_sha256_hex>\n"
        "      <networks><ip>::/0</ip></networks>\n"
        "      <profile>regsosek_writer</profile>\n      <quota>default</quota>\n"
        f"      <grants><query>GRANT ALL ON {CLICKHOUSE_DATABASE}.*</query>"
        "<query>GRANT SELECT ON system.*</query></grants>\n"
        "    </regsosek_writer>\n"
        + analyst(
            "grafana",
            f"<password_double_sha1_hex>{double_sha1_hex(grafana_password)}"
            "</password_double_sha1_hex>",
        )
        + analyst(
            "analyst", f"<password_sha256_hex>{sha256_hex(analyst_password)}</password_sha256_hex>"
        )
        + "  </users>\n</clickhouse>\n"
    )


def ensure_clickhouse_users(
    writer: Writer, layout: Layout, static_dir: Path, passwords: Mapping[str, str]
) -> None:
    """users.d of the server: the static files of the repository plus the password hashes."""
    directory = writer.directory(layout.users_dir, CLICKHOUSE_UID)
    for stale in directory.glob("*.xml"):
        stale.unlink()
    for source in sorted(static_dir.glob("*.xml")):
        writer.file(directory / source.name, source.read_bytes(), CLICKHOUSE_UID)
    text = users_xml(passwords["writer"], passwords["grafana"], passwords["analyst"])
    writer.file(directory / "50-users.xml", text, CLICKHOUSE_UID)


# ----------------------------------------------------------------- frame and tokens


def ensure_frame(writer: Writer, layout: Layout, regsosek: str, scale: str) -> list[str]:
    """The simulator's Jember frame, written once; returns its enumerator ids."""
    enumerators = layout.frame / "enumerators.csv"
    if not enumerators.exists():
        with tempfile.TemporaryDirectory() as state:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("REGSOSEK_")},
                "REGSOSEK_STATE_DIR": state,
                "REGSOSEK_FRAME_DIR": str(layout.frame),
            }
            command = [
                *shlex.split(regsosek), "simulate", "--frame-only", "--no-progress",
                "--scale", scale,
            ]  # fmt: skip
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise SystemExit(f"writing the frame failed: {result.stderr.strip()[-2000:]}")
    # The simulator's clear-text tokens do not stay beside the frame (see ensure_tokens).
    simulator_tokens = layout.frame / "tokens.json"
    ids = read_enumerator_ids(enumerators)
    writer.directory(layout.frame, PLATFORM_UID, 0o755)
    for path in layout.frame.iterdir():
        if path != simulator_tokens:
            writer.own(path, PLATFORM_UID, 0o644)
    return ids


def read_enumerator_ids(path: Path) -> list[str]:
    """The enumerator_id column of the frame's enumerators.csv."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["enumerator_id"] for row in csv.DictReader(handle)]


def ensure_tokens(writer: Writer, layout: Layout, enumerators: list[str]) -> dict[str, str]:
    """Token -> enumerator of every enumerator, kept across runs; new ones get a token.

    The simulator's own tokens.json (clear text, beside the frame) is adopted on
    the first run and then removed from the frame directory.
    """
    clear = layout.operator / "field-tokens.json"
    adopted = layout.frame / "tokens.json"
    tokens: dict[str, str] = {}
    for source in (clear, adopted):
        if source.exists() and not tokens:
            loaded = json.loads(source.read_text(encoding="utf-8"))
            tokens = {str(token): str(enumerator) for token, enumerator in loaded.items()}
    have = set(tokens.values())
    tokens.update(
        {new_secret(): enumerator for enumerator in enumerators if enumerator not in have}
    )
    writer.file(clear, json.dumps(tokens, indent=1) + "\n", ROOT_UID)
    adopted.unlink(missing_ok=True)
    hashed = {hashed_key(token): enumerator for token, enumerator in tokens.items()}
    writer.file(
        layout.platform / "gateway-tokens.json", json.dumps(hashed, indent=1) + "\n", PLATFORM_UID
    )
    return tokens


def hashed_key(token: str) -> str:
    """The gateway's ``sha256:<hex>`` form of a token (streams.gateway.auth.hashed_key)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- the run


def run(  # noqa: PLR0917 - one call site per caller, each argument a path or a word
    root: Path, users_dir: Path, static_users: Path, regsosek: str, scale: str, chown: bool
) -> dict[str, Path]:
    """Create or complete everything; returns the files an operator may want to read."""
    writer = Writer(chown)
    layout = Layout(root, users_dir)
    writer.directory(root, ROOT_UID, 0o755)
    for directory, uid in (
        (layout.platform, PLATFORM_UID),
        (layout.grafana, GRAFANA_UID),
        (layout.operator, ROOT_UID),
    ):
        writer.directory(directory, uid)

    ca_key, ca_cert = ensure_ca(writer, layout)
    kafka = ensure_kafka(writer, layout, ca_key, ca_cert)
    ensure_clickhouse_tls(writer, layout, ca_key, ca_cert)

    platform = layout.platform
    # Kafka logins of the project's services: the worker; the gateway and field apps
    # (which may only write submissions); `topics create` as admin.
    for user in KAFKA_USERS:
        writer.file(platform / f"kafka-{user}.password", kafka[user] + "\n", PLATFORM_UID)
    # 32 random bytes (43 characters): above the worker's 32-byte minimum.
    kept_secret(writer, platform / "nik-hmac.key", PLATFORM_UID, nbytes=32)
    operator_token = kept_secret(writer, platform / "operator-tokens", PLATFORM_UID)

    clickhouse = {
        name: kept_secret(writer, layout.operator / f"clickhouse-{name}.password", ROOT_UID)
        for name in ("writer", "grafana", "analyst")
    }
    dsn = (
        f"https://regsosek_writer:{clickhouse['writer']}@clickhouse:{CLICKHOUSE_HTTPS_PORT}"
        f"/{CLICKHOUSE_DATABASE}"
    )
    writer.file(
        platform / "clickhouse.env", f"REGSOSEK_CLICKHOUSE_DSN={shlex.quote(dsn)}\n", PLATFORM_UID
    )
    ensure_clickhouse_users(writer, layout, static_users, clickhouse)

    grafana_admin = kept_secret(writer, layout.operator / "grafana-admin.password", ROOT_UID)
    # No newline: Grafana takes these files' content as it is (__FILE, $__file{}).
    writer.file(layout.grafana / "admin.password", grafana_admin, GRAFANA_UID)
    writer.file(layout.grafana / "clickhouse.password", clickhouse["grafana"], GRAFANA_UID)

    enumerators = ensure_frame(writer, layout, regsosek, scale)
    tokens = ensure_tokens(writer, layout, enumerators)
    writer.file(layout.operator / "operator.token", operator_token + "\n", ROOT_UID)
    print(
        f"init: {len(tokens):,} field tokens for {len(enumerators):,} enumerators; "
        f"secrets under {root} (operator files in {layout.operator})",
        flush=True,
    )
    return {
        "field tokens": layout.operator / "field-tokens.json",
        "operator token": layout.operator / "operator.token",
        "grafana admin password": layout.operator / "grafana-admin.password",
        "analyst password": layout.operator / "clickhouse-analyst.password",
        "CA certificate": ca_cert,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line of the compose service; chown only when run as root."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/run/regsosek"))
    parser.add_argument("--clickhouse-users", type=Path, default=Path("/run/clickhouse-users"))
    parser.add_argument(
        "--static-users",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "clickhouse" / "users.d",
    )
    parser.add_argument("--regsosek", default="regsosek", help="command that runs the CLI")
    parser.add_argument("--frame-scale", default=os.environ.get("FRAME_SCALE", "1.0"))
    args = parser.parse_args(argv)
    files = run(
        args.root,
        args.clickhouse_users,
        args.static_users,
        args.regsosek,
        args.frame_scale,
        chown=os.geteuid() == 0,
    )
    for what, path in files.items():
        print(f"init: {what}: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
