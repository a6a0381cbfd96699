"""`docker compose up` gives a working, secured platform: one submission end to end.

Where a Docker engine answers (`docker info`), the stack of docker-compose.yml
is built and started with `--wait` (every healthcheck green, every one-shot
done), one household is posted to the gateway with a field token the `init`
service generated, and the test waits for its row in ClickHouse (`households`,
or `rejections` if the rules refuse it: either way the pipeline carried it).
Where no engine answers, as on the machines this project is developed on, the
test is skipped with that reason (deploy/README.md says so); the compose file
is then checked by tests/unit/test_compose.py and its parts by
tests/unit/test_compose_init.py and tests/integration/test_compose_kafka.py.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.catalog import load_schema
from schemas.jsonform import to_json
from tests.backends import docker_engine_answers
from tests.builders import enumeration, household_submission

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "http://127.0.0.1:8080"
UP_TIMEOUT_S = 900
ROW_TIMEOUT_S = 180


def _compose(project: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FRAME_SCALE": "0.02", "BIND_ADDRESS": "127.0.0.1"}
    env = {key: value for key, value in env.items() if not key.startswith("REGSOSEK_")}
    return subprocess.run(
        ["docker", "compose", "-p", project, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    """The compose project, up and healthy; removed with its volumes afterwards."""
    if not docker_engine_answers():
        pytest.skip("no Docker engine answers `docker info` (expected on these machines)")
    project = f"regsosek-e2e-{secrets.token_hex(3)}"
    try:
        up = _compose(project, "up", "-d", "--build", "--wait", timeout=UP_TIMEOUT_S)
        if up.returncode != 0:
            logs = _compose(project, "logs", "--no-color", "--tail", "50").stdout
            pytest.fail(f"docker compose up failed:\n{up.stderr[-3000:]}\n{logs[-6000:]}")
        yield project
    finally:
        _compose(project, "down", "-v", "--remove-orphans", timeout=300)


def _read_from_init(project: str, path: str) -> bytes:
    """A file of the secrets volume, through the exited init container (`compose cp`)."""
    copied = subprocess.run(
        ["docker", "compose", "-p", project, "cp", f"init:{path}", "-"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
        member = archive.getmembers()[0]
        extracted = archive.extractfile(member)
        assert extracted is not None
        return extracted.read()


def _clickhouse_count(project: str, sql: str) -> int:
    result = _compose(project, "exec", "-T", "clickhouse", "clickhouse-client", "--query", sql)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip() or 0)


def test_a_submission_reaches_clickhouse_through_the_secured_stack(stack: str) -> None:
    tokens = json.loads(_read_from_init(stack, "/run/regsosek/operator/field-tokens.json"))
    token, enumerator = next(iter(tokens.items()))
    household_id = f"3509010001-0003-{secrets.randbelow(1000):03d}-01"
    record = household_submission(
        household_id=household_id,
        enumeration=enumeration(enumerator_id=enumerator, supervisor_id=enumerator[:3]),
    )
    body = json.dumps(to_json(load_schema("HouseholdSubmission"), record)).encode()
    request = urllib.request.Request(  # noqa: S310 - a fixed http:// URL
        f"{GATEWAY}/v1/submissions",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local gateway
        assert response.status == 202

    # Without the token: refused; the contract is served from the image.
    anonymous = urllib.request.Request(  # noqa: S310 - a fixed http:// URL
        f"{GATEWAY}/v1/submissions", data=body, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=30)  # noqa: S310
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{GATEWAY}/openapi.yaml", timeout=30) as contract:  # noqa: S310
        assert b"openapi: 3.1.0" in contract.read()

    deadline = time.monotonic() + ROW_TIMEOUT_S
    where = f"WHERE household_id = '{household_id}'"
    sql = (
        f"SELECT (SELECT count() FROM regsosek.households {where})"
        f" + (SELECT count() FROM regsosek.rejections {where})"
    )
    while time.monotonic() < deadline:
        if _clickhouse_count(stack, sql) > 0:
            return
        time.sleep(2)
    logs = _compose(stack, "logs", "--no-color", "--tail", "80", "worker").stdout
    pytest.fail(f"household {household_id} not in ClickHouse after {ROW_TIMEOUT_S} s:\n{logs}")
