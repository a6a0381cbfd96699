"""ClickHouse over TLS, chosen by the DSN's ``https://`` scheme: checked on the wire.

No ClickHouse server speaks TLS on this machine, so the listener is our own:
a socket on 127.0.0.1 on a random port (neither 443 nor 8443, the ports by
which clickhouse-connect alone would choose TLS), wrapped with a certificate
from a throwaway CA made here. The client is the project's own
(:func:`sinks.clickhouse.client_from_dsn`), and what matters is the
transport: the credentials arrive only inside a verified TLS session. The
listener answers every request with an HTTP error, so opening the client
fails after the request was read; that failure is expected.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from schemas.errors import ClickHouseError
from sinks.clickhouse import client_from_dsn

pytestmark = pytest.mark.integration

USER, PASSWORD = "writer", "s3cret-Pw-for-the-wire"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
TLS_RECORD_HANDSHAKE = 0x16  # first byte of a TLS ClientHello


@dataclass(frozen=True)
class Authority:
    """A CA (its PEM file) and a server certificate + key it signed, for 127.0.0.1."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_authority(directory: Path, label: str) -> Authority:
    """A fresh CA and a server certificate for localhost / 127.0.0.1, valid for a day."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"test CA {label}"))
        .issuer_name(_name(f"test CA {label}"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    out = Authority(
        directory / f"{label}-ca.pem", directory / f"{label}-cert.pem", directory / f"{label}.key"
    )
    out.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    out.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


@dataclass
class Listener:
    """What a listener saw: TLS versions of finished handshakes, bytes read, failures."""

    port: int
    handshakes: list[str] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def everything(self) -> bytes:
        return b"".join(self.received)


def _read_request(conn: socket.socket) -> bytes:
    """The HTTP headers and the body they announce (or what came before the peer stopped).

    The body is read too: closing a socket with unread bytes sends a reset, which
    can reach the client before the answer does.
    """
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while length and len(body) < int(length[1]):
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


_ANSWER = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 35\r\nConnection: close\r\n\r\nCode: 999. DB::Exception: test tls\n"
)


def _serve(
    server: socket.socket,
    stop: threading.Event,
    listener: Listener,
    handle: Callable[[socket.socket], None],
) -> None:
    server.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        # one thread a connection: an idle pooled connection must not hold up the next one,
        # and the generous timeout keeps a loaded machine from cutting a handshake short
        threading.Thread(target=_one, args=(conn, listener, handle), daemon=True).start()


def _one(conn: socket.socket, listener: Listener, handle: Callable[[socket.socket], None]) -> None:
    with conn:
        conn.settimeout(30)
        try:
            handle(conn)
        except (OSError, ssl.SSLError) as exc:
            listener.failures.append(repr(exc))


@contextmanager
def listening(handle: Callable[[socket.socket, Listener], None]) -> Iterator[Listener]:
    """A socket on 127.0.0.1 (random port), each connection given to ``handle`` in a thread."""
    server = socket.create_server(("127.0.0.1", 0))
    listener, stop = Listener(port=server.getsockname()[1]), threading.Event()
    thread = threading.Thread(
        target=_serve,
        args=(server, stop, listener, lambda conn: handle(conn, listener)),
        daemon=True,
    )
    thread.start()
    try:
        yield listener
    finally:
        stop.set()
        thread.join(timeout=10)
        server.close()


def tls_handler(authority: Authority) -> Callable[[socket.socket, Listener], None]:
    """Handshake with ``authority``'s certificate, then read the request inside TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(authority.cert_file, authority.key_file)

    def handle(conn: socket.socket, listener: Listener) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            listener.handshakes.append(str(tls.version()))
            listener.received.append(_read_request(tls))
            tls.sendall(_ANSWER)

    return handle


def plain_handler(conn: socket.socket, listener: Listener) -> None:
    """A plain TCP listener: record the first bytes as they came, then hang up."""
    listener.received.append(conn.recv(4096))


def dsn(port: int) -> str:
    return f"https://{USER}:{PASSWORD}@127.0.0.1:{port}/regsosek"


@pytest.fixture(scope="module")
def authorities(tmp_path_factory: pytest.TempPathFactory) -> tuple[Authority, Authority]:
    directory = tmp_path_factory.mktemp("tls")
    return make_authority(directory, "right"), make_authority(directory, "wrong")


def test_credentials_travel_inside_a_verified_tls_session(
    authorities: tuple[Authority, Authority],
) -> None:
    right, _ = authorities
    with (
        listening(tls_handler(right)) as listener,
        pytest.raises(ClickHouseError, match="test tls"),  # our listener's HTTP 500
    ):
        client_from_dsn(dsn(listener.port), ca_file=right.ca_file)
    assert listener.handshakes and all(v.startswith("TLSv1.") for v in listener.handshakes)
    request = listener.received[0].decode("latin-1")
    assert request.startswith(("GET ", "POST ")) and " HTTP/1.1\r\n" in request
    assert f"authorization: {BASIC}".lower() in request.lower()  # read after the handshake
    assert listener.failures == []


def test_an_https_dsn_never_sends_the_credentials_in_clear(
    authorities: tuple[Authority, Authority],
) -> None:
    right, _ = authorities
    with listening(plain_handler) as listener, pytest.raises(ClickHouseError):
        client_from_dsn(dsn(listener.port), ca_file=right.ca_file)
    assert listener.received, "the client never connected"
    assert all(first[:1] == bytes([TLS_RECORD_HANDSHAKE]) for first in listener.received)
    for secret in (PASSWORD.encode(), BASIC.encode(), BASIC.split()[1].encode()):
        assert secret not in listener.everything


def test_a_plain_http_dsn_to_the_same_listener_would_send_them(
    authorities: tuple[Authority, Authority],
) -> None:
    """The contrast that makes the previous test mean something: http:// is clear text."""
    del authorities
    with listening(plain_handler) as listener, pytest.raises(ClickHouseError):
        client_from_dsn(dsn(listener.port).replace("https://", "http://"))
    assert BASIC.split()[1].encode() in listener.everything


def test_a_certificate_from_another_ca_is_refused(
    authorities: tuple[Authority, Authority],
) -> None:
    right, wrong = authorities
    with (
        listening(tls_handler(right)) as listener,
        pytest.raises(ClickHouseError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client_from_dsn(dsn(listener.port), ca_file=wrong.ca_file)
    assert listener.handshakes == [] and listener.received == []
    assert listener.failures  # the server saw the client abort the handshake
