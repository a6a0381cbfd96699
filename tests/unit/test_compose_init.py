"""deploy/compose/init.py, the compose `init` service, run for real into a directory.

It draws every secret of the compose stack; these tests check what a Docker
engine would not show until something leaked: modes and owners, that a
second run keeps what exists (so `docker compose up` is repeatable), that
deleting a file rotates that secret alone, and that the gateway accepts a
generated field token through the hashed file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from streams.gateway.auth import TokenStore, authenticate, load_token_file

ROOT = Path(__file__).resolve().parents[2]
STATIC_USERS = ROOT / "deploy" / "clickhouse" / "users.d"


def _init_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "compose_init_run", ROOT / "deploy/compose/init.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


INIT = _init_module()
REGSOSEK = str(Path(sys.executable).with_name("regsosek"))


def _run(base: Path) -> Path:
    INIT.run(base / "secrets", base / "users", STATIC_USERS, REGSOSEK, "0.02", chown=False)
    return base / "secrets"


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("init")


def _contents(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_every_secret_is_private_to_its_reader(first: Path) -> None:
    secrets_dir = _run(first)
    public = {"ca/ca.pem"} | {
        str(p.relative_to(secrets_dir)) for p in (secrets_dir / "frame").iterdir()
    }
    for path in secrets_dir.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        name = str(path.relative_to(secrets_dir))
        if path.is_dir():
            assert mode in {0o700, 0o755}, f"{name}: {oct(mode)}"
            if name not in {"ca", "frame"}:
                assert mode == 0o700, f"{name}: {oct(mode)}"
        elif name in public:
            assert mode == 0o644, f"{name}: {oct(mode)}"
        else:
            assert mode == 0o600, f"{name}: {oct(mode)}"
    for path in (first / "users").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The simulator's clear-text tokens do not stay beside the frame.
    assert not (secrets_dir / "frame" / "tokens.json").exists()


def test_files_go_to_their_readers_uid_when_run_as_root(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    INIT.run(tmp_path / "s", tmp_path / "u", STATIC_USERS, REGSOSEK, "0.02", chown=True)
    owners = {
        "kafka/server.p12": INIT.KAFKA_UID,
        "clickhouse/server.key": INIT.CLICKHOUSE_UID,
        "grafana/admin.password": INIT.GRAFANA_UID,
        "platform/nik-hmac.key": INIT.PLATFORM_UID,
        "operator/field-tokens.json": 0,
        "ca/ca.key": 0,
    }
    for name, uid in owners.items():
        assert (tmp_path / "s" / name).stat().st_uid == uid, name
    assert (tmp_path / "u" / "50-users.xml").stat().st_uid == INIT.CLICKHOUSE_UID


def test_a_second_run_keeps_every_secret(first: Path) -> None:
    secrets_dir = _run(first)
    before = _contents(secrets_dir)
    _run(first)
    assert _contents(secrets_dir) == before


def test_deleting_a_file_rotates_that_secret_alone(first: Path) -> None:
    secrets_dir = _run(first)
    before = _contents(secrets_dir)
    (secrets_dir / "operator" / "operator.token").unlink()
    (secrets_dir / "platform" / "operator-tokens").unlink()
    _run(first)
    after = _contents(secrets_dir)
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed == {"operator/operator.token", "platform/operator-tokens"}
    assert after["operator/operator.token"] == after["platform/operator-tokens"]


def test_the_gateway_accepts_a_generated_token_through_its_hash(first: Path) -> None:
    secrets_dir = _run(first)
    clear = json.loads((secrets_dir / "operator" / "field-tokens.json").read_text("utf-8"))
    hashed_file = secrets_dir / "platform" / "gateway-tokens.json"
    hashed = json.loads(hashed_file.read_text("utf-8"))
    assert all(key.startswith("sha256:") for key in hashed)
    assert not set(clear) & set(hashed), "the gateway's file holds no token in clear"
    store = TokenStore.from_mapping(load_token_file(hashed_file))
    token, enumerator = next(iter(clear.items()))
    outcome = authenticate(f"Bearer {token}", store)
    assert getattr(outcome, "enumerator_id", None) == enumerator
    assert not hasattr(authenticate(f"Bearer {token}x", store), "enumerator_id")
    rows = (secrets_dir / "frame" / "enumerators.csv").read_text("utf-8").splitlines()[1:]
    enumerators = {line.split(",")[0] for line in rows}
    supervisors = {line.split(",")[1] for line in rows}  # they review through the gateway
    assert sorted(clear.values()) == sorted(enumerators | supervisors)


def test_server_certificates_are_signed_by_the_ca_for_their_names(first: Path) -> None:
    secrets_dir = _run(first)
    ca = secrets_dir / "ca" / "ca.pem"
    cert = secrets_dir / "clickhouse" / "server.crt"
    for name in ("clickhouse", "localhost"):
        result = subprocess.run(
            ["openssl", "verify", "-CAfile", str(ca), "-verify_hostname", name, str(cert)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    wrong = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), "-verify_hostname", "kafka", str(cert)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert wrong.returncode != 0
    password = (secrets_dir / "kafka" / "keystore.password").read_text("utf-8").strip()
    listing = subprocess.run(
        ["openssl", "pkcs12", "-in", str(secrets_dir / "kafka" / "server.p12"), "-nokeys",
         "-passin", f"pass:{password}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"subject=.*CN\s*=\s*kafka", listing.stdout), "the broker's certificate"
