"""The Docker deployment, checked without Docker: these machines have no Docker engine.

docker-compose.yml, the Dockerfile, Prometheus' configuration, Grafana's
provisioning and ClickHouse's users must agree with each other and with the
code: every command a container runs is a real `regsosek` command, every
variable the project's containers get is a REGSOSEK_* setting, every image is
the release the tests run against, no secret has a default, and the hosts,
ports, accounts and files one file names are the ones another file serves or
the `init` service writes. tests/unit/test_compose_init.py runs that service's
script; tests/integration/test_compose_kafka.py boots the broker with the
compose start script; tests/e2e/test_compose_up.py brings the stack up where
a Docker engine answers.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import click
import pytest
import yaml

from schemas.limits import BROKER_MESSAGE_MAX_BYTES
from sinks.privacy import ANALYST_TABLES, RESTRICTED_TABLES, AnalystQuota
from streams.cli import cli
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
DATASOURCES_FILE = GRAFANA_PROVISIONING / "datasources" / "datasources.yml"
DASHBOARDS_FILE = GRAFANA_PROVISIONING / "dashboards" / "dashboards.yml"
DEPLOY_README = ROOT / "deploy" / "README.md"

CLICKHOUSE_CONFIG = ROOT / "deploy" / "clickhouse" / "config.d" / "regsosek.xml"
CLICKHOUSE_USERS = ROOT / "deploy" / "clickhouse" / "users.d"
KAFKA_START = ROOT / "deploy" / "kafka" / "compose" / "start.sh"
KAFKA_ACLS = ROOT / "deploy" / "kafka" / "compose" / "acls.sh"
KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"
DASHBOARDS = ROOT / "monitoring" / "dashboards"
SECRETS_ROOT = "/run/regsosek"

INFRASTRUCTURE = {"kafka", "clickhouse", "prometheus", "grafana"}
ONE_SHOTS = {"init", "kafka-setup", "topics"}
PROJECT_SERVICES = {"topics", "gateway", "worker"}
#: Grafana data source types compiled into Grafana (no plugin download).
GRAFANA_BUILT_IN = {"prometheus", "mysql", "grafana-postgresql-datasource", "postgres", "loki"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error},
# ${NAME:+alt}, ${NAME+alt}, $NAME, and $$ (a literal dollar sign).
_COMPOSE_VARIABLE = re.compile(
    r"\$\$"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
# Grafana provisioning: $NAME or ${NAME}, $$ for a literal dollar sign.
_GRAFANA_VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>[A-Za-z_]\w*)\}|\$(?P<bare>[A-Za-z_]\w*)")


def _load_yaml(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path.relative_to(ROOT)} is not a YAML mapping"
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services = _load_yaml(COMPOSE_FILE).get("services")
    assert isinstance(services, dict), "docker-compose.yml has no services"
    return services


def _build_services() -> list[str]:
    """Services built from the project's Dockerfile (read at collection time)."""
    if not COMPOSE_FILE.is_file():
        return []
    return sorted(name for name, spec in _services().items() if "build" in spec)


def interpolate(value: str, env: Mapping[str, str] | None = None) -> str:
    """Resolve compose interpolation the way `docker compose` does, with ``env`` as the shell."""
    shell = env or {}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = shell.get(name)
        if op in {":-", "-"}:
            unset = current is None or (op == ":-" and current == "")
            return arg if unset else str(current)
        if op in {":?", "?"}:
            unset = current is None or (op == ":?" and current == "")
            assert not unset, f"${{{name}}} is required: {arg}"
            return str(current)
        if op in {":+", "+"}:
            unset = current is None or (op == ":+" and current == "")
            return "" if unset else arg
        return current or ""

    return _COMPOSE_VARIABLE.sub(replace, value)


def compose_variables(value: str) -> set[str]:
    """Names of the variables a compose value interpolates."""
    return {
        m.group("braced") or m.group("bare")
        for m in _COMPOSE_VARIABLE.finditer(value)
        if m.group(0) != "$$"
    }


def environment(service: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's environment in map form; None = passed through from the shell."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = [item.split("=", 1) if "=" in item else [item, None] for item in raw]
        return {str(key): value for key, value in pairs}
    assert isinstance(raw, dict), f"environment must be a list or a mapping, not {raw!r}"
    return {str(key): None if value is None else str(value) for key, value in raw.items()}


def resolved_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """The environment with defaults applied and pass-through keys left out (empty shell)."""
    return {
        key: interpolate(value) for key, value in environment(service).items() if value is not None
    }


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Container path -> source (host path or volume name) of every volume of a service."""
    found: dict[str, str] = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found[str(volume["target"])] = str(volume.get("source", ""))
        else:
            parts = interpolate(str(volume)).split(":")
            found[parts[1]] = parts[0]
    return found


def container_ports(service: Mapping[str, Any]) -> set[int]:
    """Container-side port of every published port of a service."""
    ports: set[int] = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            ports.add(int(interpolate(str(port)).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def healthcheck_text(service: Mapping[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    assert test, "no healthcheck"
    return test if isinstance(test, str) else " ".join(str(word) for word in test)


def command_words(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(word) for word in command]


def dockerfile_entrypoint() -> list[str]:
    """ENTRYPOINT of the Dockerfile's final stage, which must be in exec (JSON) form."""
    entrypoint: list[str] | None = None
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.upper().startswith("FROM "):
            entrypoint = None
        elif stripped.upper().startswith("ENTRYPOINT"):
            value = json.loads(stripped[len("ENTRYPOINT") :].strip())
            assert isinstance(value, list), "ENTRYPOINT must use the exec form"
            entrypoint = [str(word) for word in value]
    assert entrypoint is not None, "the Dockerfile's final stage has no ENTRYPOINT"
    return entrypoint


def resolve_cli_command(words: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """Walk the real click tree: (path, leaf command, remaining arguments)."""
    ctx = click.Context(cli, info_name="regsosek")
    command: click.Command = cli
    path = ["regsosek"]
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        available = ", ".join(command.list_commands(ctx)) or "none"
        assert sub is not None, (
            f"`{' '.join([*path, name])}` is not a command of the CLI "
            f"(`{' '.join(path)}` has: {available})"
        )
        path.append(name)
        ctx = click.Context(sub, info_name=name, parent=ctx)
        command = sub
    return path, command, rest


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return _services()


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    return _load_yaml(PROMETHEUS_FILE)


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict[str, Any]]:
    loaded = _load_yaml(DATASOURCES_FILE)
    assert loaded.get("apiVersion") == 1
    by_uid = {str(ds["uid"]): ds for ds in loaded.get("datasources") or []}
    return by_uid


# ------------------------------------------------------------- compose file


def _load_init() -> ModuleType:
    """deploy/compose/init.py, the script of the compose `init` service."""
    spec = importlib.util.spec_from_file_location("compose_init", ROOT / "deploy/compose/init.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


INIT = _load_init()


def _clickhouse_engine(queries: list[str]) -> dict[str, Any]:
    """Version and formatQuery() of the tested engine (chdb), in a process of its own."""
    program = (
        "import json, sys, chdb\n"
        "queries = json.loads(sys.argv[1])\n"
        "version = chdb.query('SELECT version()', 'CSV').data().strip().strip(chr(34))\n"
        "parsed = {}\n"
        "for q in queries:\n"
        "    try:\n"
        "        chdb.query('SELECT formatQuery(' + repr(q) + ')', 'CSV'); parsed[q] = None\n"
        "    except Exception as exc:\n"
        "        parsed[q] = str(exc)[:300]\n"
        "print(json.dumps({'version': version, 'errors': parsed}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, json.dumps(queries)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the init service writes, for a small frame (the volume's root)."""
    root = tmp_path_factory.mktemp("compose-init")
    regsosek = str(Path(sys.executable).with_name("regsosek"))
    INIT.run(
        root / "secrets",
        root / "clickhouse-users",
        CLICKHOUSE_USERS,
        regsosek,
        "0.02",
        chown=False,
    )
    return root


def _xml(path: Path) -> ElementTree.Element:
    return ElementTree.parse(path).getroot()  # noqa: S314 - our own files


def _image_tag(service: Mapping[str, Any]) -> str:
    image = str(service["image"])
    name, _, tag = image.rpartition(":")
    assert name and tag and "/" not in tag, f"{image} has no tag"
    return tag


# ------------------------------------------------------------- compose file


def test_compose_file_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    assert "version" not in _load_yaml(COMPOSE_FILE), "the compose spec has no `version:` key"
    missing = (INFRASTRUCTURE | ONE_SHOTS | PROJECT_SERVICES) - set(services)
    assert not missing, f"docker-compose.yml lacks services: {sorted(missing)}"
    assert set(_build_services()) == PROJECT_SERVICES | {"init"}
    for name in ONE_SHOTS:
        assert services[name].get("restart") == "no", f"{name} is a one-shot"


def test_every_image_is_pinned_by_tag(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        tag = _image_tag(spec)
        assert tag not in {"latest", "lts", "head", "main"}, f"{name}: {spec['image']} floats"
        if "build" in spec:
            assert spec["image"] == "regsosek-streaming:local", name
        else:
            assert re.fullmatch(r"v?\d+(\.\d+)+", tag), f"{name}: {spec['image']} is not a release"


def test_kafka_image_is_the_release_the_tests_run() -> None:
    """deploy/kafka/pom.xml fetches the broker every test runs against."""
    tree = _xml(KAFKA_POM)
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    tested = tree.findtext("m:properties/m:kafka.version", namespaces=namespace)
    assert tested, "deploy/kafka/pom.xml names no kafka.version"
    for name in ("kafka", "kafka-setup"):
        assert _image_tag(_services()[name]) == tested, f"{name}: not Kafka {tested}"


@pytest.fixture(scope="module")
def engine(generated: Path) -> dict[str, Any]:
    """The tested engine's version, and its parser's verdict on every grant of users.d."""
    config = _users_config(generated)
    holders = [*(config.find("roles") or []), *(config.find("users") or [])]
    # The server parses grants without a grantee; the SQL parser needs one.
    return _clickhouse_engine([f"{g} TO someone" for h in holders for g in _grants(h)])


def test_clickhouse_image_is_the_engine_the_tests_run(engine: dict[str, Any]) -> None:
    """The server is the release of the engine every integration test runs (chdb's)."""
    engine_version = str(engine["version"])
    major_minor = ".".join(engine_version.split(".")[:2])
    tag = _image_tag(_services()["clickhouse"])
    assert tag in {major_minor, engine_version}, f"server {tag}, engine {engine_version}"


def test_no_secret_has_a_default_in_the_compose_file(services: dict[str, dict[str, Any]]) -> None:
    """Secrets are drawn by init or required from the shell (${VAR:?...}), never written here."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY\b|CREDENTIAL|DSN", re.IGNORECASE)
    for match in _COMPOSE_VARIABLE.finditer(text):
        name = match.group("braced") or match.group("bare")
        if name and secretish.search(name):
            assert match.group("op") in {":?", "?"}, f"${{{name}}} must not have a default"
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "a URL with a password"
    for name, spec in services.items():
        for key, value in environment(spec).items():
            if not secretish.search(key):
                continue
            if key.endswith("_FILE"):
                assert value and value.startswith(SECRETS_ROOT + "/"), f"{name}: {key}={value}"
            else:
                assert value is None or match_required(value), f"{name}: {key} has a value"


def match_required(value: str) -> bool:
    """True when ``value`` is only a required shell variable (${VAR:?message})."""
    found = list(_COMPOSE_VARIABLE.finditer(value))
    return len(found) == 1 and found[0].group("op") in {":?", "?"} and found[0].group(0) == value


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        depends_on = spec.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions (long form)"
        for dependency, rule in depends_on.items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            condition = rule.get("condition")
            if condition == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{dependency} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[dependency].get("restart", "no") == "no", (
                    f"{dependency} must be a one-shot to complete"
                )
    # Everything that reads a secret waits for init to have written it.
    for name in ("kafka", "clickhouse"):
        assert services[name]["depends_on"]["init"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["kafka-setup"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("gateway", "worker"):
        deps = services[name]["depends_on"]
        assert deps["kafka-setup"]["condition"] == "service_completed_successfully", name
        assert deps["topics"]["condition"] == "service_completed_successfully", name
    assert services["worker"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"


def test_bind_mounted_deploy_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        for source in mounts(spec).values():
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_secrets_volume_is_read_only_except_for_init(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        for volume in spec.get("volumes") or []:
            if isinstance(volume, dict) and volume.get("source") == "secrets":
                assert volume.get("read_only") is True, f"{name} may not write secrets"
                assert volume["target"] == SECRETS_ROOT
            elif isinstance(volume, str) and volume.startswith("secrets:"):
                assert name == "init", f"{name}: mount the secrets volume read-only"


def test_every_compose_variable_is_documented(services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    names = compose_variables(text)
    readme = DEPLOY_README.read_text(encoding="utf-8")
    undocumented = sorted(name for name in names if name not in readme)
    assert not undocumented, f"deploy/README.md does not mention {undocumented}"
    passed = {
        key
        for name in PROJECT_SERVICES
        for key, value in environment(services[name]).items()
        if value is None
    }
    assert not sorted(key for key in passed if key not in readme)


# ------------------------------------------------------------------------ Kafka


def _rendered_kafka_config(tmp_path: Path) -> dict[str, str]:
    """server.properties as deploy/kafka/compose/start.sh writes it (RENDER_ONLY)."""
    secrets_dir = tmp_path / "secrets"
    (secrets_dir / "kafka").mkdir(parents=True)
    for name in ("keystore.password", "admin.password"):
        (secrets_dir / "kafka" / name).write_text("s3cret-" + name, encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRETS_DIR": str(secrets_dir),
        "KAFKA_DATA_DIR": str(tmp_path / "data"),
        "KAFKA_CONF_DIR": str(tmp_path / "conf"),
        "RENDER_ONLY": "1",
    }
    subprocess.run(["sh", str(KAFKA_START)], env=env, check=True, timeout=30)
    config = tmp_path / "conf" / "server.properties"
    assert config.stat().st_mode & 0o077 == 0, "server.properties holds passwords: 0600"
    pairs = (
        line.split("=", 1)
        for line in config.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def test_kafka_clients_reach_the_broker_only_over_sasl_ssl(
    tmp_path: Path, services: dict[str, dict[str, Any]]
) -> None:
    config = _rendered_kafka_config(tmp_path)
    protocols = dict(
        item.split(":", 1) for item in config["listener.security.protocol.map"].split(",")
    )
    listeners = dict(item.split("://", 1) for item in config["listeners"].split(","))
    advertised = dict(item.split("://", 1) for item in config["advertised.listeners"].split(","))
    controller = config["controller.listener.names"]
    assert set(listeners) == set(protocols)
    for name, protocol in protocols.items():
        if name == controller:
            assert listeners[name].startswith("127.0.0.1:"), "controller on loopback only"
            assert name not in advertised
        else:
            assert protocol == "SASL_SSL", f"listener {name} is {protocol}"
    assert config["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert config["authorizer.class.name"].endswith("StandardAuthorizer")
    assert config["allow.everyone.if.no.acl.found"] == "false"
    secrets_dir = tmp_path / "secrets"
    assert config["ssl.truststore.location"] == f"{secrets_dir}/ca/ca.pem"
    assert config["ssl.keystore.location"] == f"{secrets_dir}/kafka/server.p12"
    assert f"SECRETS_DIR=${{SECRETS_DIR:-{SECRETS_ROOT}}}" in KAFKA_START.read_text(
        encoding="utf-8"
    )
    assert config["message.max.bytes"] == str(BROKER_MESSAGE_MAX_BYTES)
    assert (
        "s3cret-admin.password"
        in config[
            f"listener.name.{config['inter.broker.listener.name'].lower()}.scram-sha-512.sasl.jaas.config"
        ]
    )

    # The Docker host's port is the one published; containers use the advertised kafka:19092.
    published = container_ports(services["kafka"])
    assert {int(v.rsplit(":", 1)[1]) for v in advertised.values()} >= published
    assert "localhost:9092" in advertised.values() and "kafka:19092" in advertised.values()
    for name in PROJECT_SERVICES:
        bootstrap = resolved_environment(services[name])["REGSOSEK_KAFKA_BOOTSTRAP"]
        assert set(bootstrap.split(",")) <= set(advertised.values()), name
    assert "--command-config" in healthcheck_text(services["kafka"])


@pytest.mark.parametrize(
    ("name", "user"), [("topics", "admin"), ("gateway", "field"), ("worker", "worker")]
)
def test_project_services_log_in_to_kafka_as_their_principal(
    services: dict[str, dict[str, Any]], name: str, user: str
) -> None:
    env = resolved_environment(services[name])
    assert env["REGSOSEK_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["REGSOSEK_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["REGSOSEK_KAFKA_USERNAME"] == user
    assert env["REGSOSEK_KAFKA_PASSWORD_FILE"] == f"{SECRETS_ROOT}/platform/kafka-{user}.password"
    assert env["REGSOSEK_KAFKA_CA_FILE"] == f"{SECRETS_ROOT}/ca/ca.pem"
    assert user in INIT.KAFKA_USERS


def test_acls_give_field_apps_the_submissions_topic_only() -> None:
    text = KAFKA_ACLS.read_text(encoding="utf-8")
    field = [line for line in text.splitlines() if "User:field" in line]
    assert (
        len(field) == 1
        and "--operation Read" not in text.split("User:field", 1)[1].split("acl ", 1)[0]
    )
    assert '--topic "$PREFIX.submissions"' in text.split("User:field", 1)[1].split("\n\n", 1)[0]
    assert '--topic "$PREFIX.reviews"' in text.split("User:field", 1)[1].split("\n\n", 1)[0]
    assert "--group" not in text.split("User:field", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"User:worker .*--group \"\$PREFIX-worker\"", text)


# ------------------------------------------------------------------- ClickHouse


def test_clickhouse_speaks_tls_to_the_network(services: dict[str, dict[str, Any]]) -> None:
    config = _xml(CLICKHOUSE_CONFIG)
    assert config.find("http_port").get("remove") == "remove", "plain HTTP is off"  # type: ignore[union-attr]
    assert config.findtext("https_port") == "8443"
    assert config.findtext("mysql_port") == "9004"
    server = config.find("openSSL/server")
    assert server is not None
    assert server.findtext("certificateFile") == f"{SECRETS_ROOT}/clickhouse/server.crt"
    assert server.findtext("privateKeyFile") == f"{SECRETS_ROOT}/clickhouse/server.key"
    improvements = config.find("access_control_improvements")
    assert improvements is not None
    assert improvements.findtext("select_from_system_db_requires_grant") == "true"
    clickhouse = services["clickhouse"]
    assert container_ports(clickhouse) == {8443}
    assert mounts(clickhouse)["/etc/clickhouse-server/users.d"] == "clickhouse-users"
    assert resolved_environment(clickhouse)["CLICKHOUSE_SKIP_USER_SETUP"] == "1"
    assert "CLICKHOUSE_PASSWORD" not in environment(clickhouse)


def _users_config(generated: Path) -> ElementTree.Element:
    """users.d as the server would merge it (top-level sections of every file together)."""
    merged = ElementTree.Element("clickhouse")
    sections: dict[str, ElementTree.Element] = {}
    for path in sorted((generated / "clickhouse-users").glob("*.xml")):
        for section in _xml(path):
            target = sections.setdefault(section.tag, ElementTree.SubElement(merged, section.tag))
            target.extend(list(section))
    return merged


def _grants(element: ElementTree.Element | None) -> list[str]:
    return [
        str(query.text)
        for query in (element.findall("grants/query") if element is not None else [])
    ]


def test_clickhouse_users_files_parse_and_hold_no_clear_password(generated: Path) -> None:
    files = sorted((generated / "clickhouse-users").glob("*.xml"))
    assert {path.name for path in files} >= {p.name for p in CLICKHOUSE_USERS.glob("*.xml")} | {
        "50-users.xml"
    }
    for path in files:
        root = _xml(path)
        assert root.tag == "clickhouse", path.name
        assert root.find("users/*/password") is None, f"{path.name}: a clear-text password"


def test_default_user_is_reachable_from_loopback_only(generated: Path) -> None:
    default = _users_config(generated).find("users/default")
    assert default is not None
    networks = default.find("networks")
    assert networks is not None and networks.get("replace") == "replace"
    assert {ip.text for ip in networks.findall("ip")} == {"127.0.0.1", "::1"}


def test_analyst_role_reads_what_sinks_privacy_allows_and_nothing_restricted(
    generated: Path,
) -> None:
    config = _users_config(generated)
    role = config.find("roles/regsosek_analyst")
    grants = _grants(role)
    granted = {
        match.group(1)
        for grant in grants
        if (match := re.fullmatch(r"GRANT SELECT ON regsosek\.(\w+)", grant))
    }
    assert granted == set(ANALYST_TABLES)
    assert not granted & set(RESTRICTED_TABLES)
    assert "rejection_payloads" in RESTRICTED_TABLES
    others = [grant for grant in grants if not grant.startswith("GRANT SELECT ON regsosek.")]
    assert all(
        re.fullmatch(r"GRANT SELECT ON (system\.\w+|information_schema\.\*)", g) for g in others
    )

    quota = AnalystQuota()
    profile = config.find("profiles/regsosek_analyst")
    assert profile is not None and profile.findtext("readonly") == "1"
    assert profile.findtext("max_execution_time") == str(quota.max_execution_seconds)
    interval = config.find("quotas/regsosek_analyst/interval")
    assert interval is not None and interval.findtext("duration") == "3600"
    assert interval.findtext("queries") == str(quota.queries_per_hour)
    assert interval.findtext("result_rows") == str(quota.result_rows_per_hour)
    assert interval.findtext("read_rows") == str(quota.read_rows_per_hour)

    for name in ("grafana", "analyst"):
        user = config.find(f"users/{name}")
        assert user is not None, name
        assert _grants(user) == ["GRANT regsosek_analyst"], name
        assert user.findtext("profile") == "regsosek_analyst"
        assert user.findtext("quota") == "regsosek_analyst"
    writer = config.find("users/regsosek_writer")
    assert "GRANT ALL ON regsosek.*" in _grants(writer)


def test_every_user_names_a_defined_profile_quota_and_role(generated: Path) -> None:
    config = _users_config(generated)
    profiles = {p.tag for p in config.find("profiles") or []} | {"default", "readonly"}
    quotas = {q.tag for q in config.find("quotas") or []} | {"default"}
    roles = {r.tag for r in config.find("roles") or []}
    for user in config.find("users") or []:
        if user.findtext("profile"):
            assert user.findtext("profile") in profiles, user.tag
        if user.findtext("quota"):
            assert user.findtext("quota") in quotas, user.tag
        for grant in _grants(user):
            if match := re.fullmatch(r"GRANT (\w+)", grant):
                assert match.group(1) in roles, f"{user.tag}: unknown role {grant}"


def test_every_grant_parses_in_the_tested_engine(engine: dict[str, Any]) -> None:
    assert len(engine["errors"]) >= len(ANALYST_TABLES)
    errors = {query: error for query, error in engine["errors"].items() if error}
    assert not errors, errors


def test_worker_writes_clickhouse_over_https_as_the_writer(
    generated: Path, services: dict[str, dict[str, Any]]
) -> None:
    worker = services["worker"]
    assert "REGSOSEK_CLICKHOUSE_DSN" not in environment(worker), "the DSN holds a password"
    entrypoint = [str(word) for word in worker["entrypoint"]]
    env_file = entrypoint[entrypoint.index("/opt/regsosek/deploy/compose/with-env.sh") + 1]
    assert env_file == f"{SECRETS_ROOT}/platform/clickhouse.env"
    written = generated / "secrets" / "platform" / "clickhouse.env"
    key, _, value = written.read_text(encoding="utf-8").strip().partition("=")
    assert key == "REGSOSEK_CLICKHOUSE_DSN"
    dsn = urlsplit(shlex.split(value)[0])
    where = (dsn.scheme, dsn.hostname, dsn.port, dsn.path)
    assert where == ("https", "clickhouse", 8443, "/regsosek")
    assert dsn.username == "regsosek_writer" and dsn.password
    ca_file = resolved_environment(worker)["REGSOSEK_CLICKHOUSE_CA_FILE"]
    assert ca_file == f"{SECRETS_ROOT}/ca/ca.pem"


# ------------------------------------------------- the project's own services


def test_dockerfile_builds_a_non_root_image_with_the_cli_entrypoint() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert dockerfile_entrypoint() == ["regsosek"]
    assert not re.search(r"^\s*HEALTHCHECK\b", text, flags=re.MULTILINE | re.IGNORECASE), (
        "healthchecks belong in docker-compose.yml"
    )
    assert "[dev]" not in text, "no dev extras in the image"
    assert re.search(r"pip install [^\n]*\.\s*(\\|&&|$)", text, flags=re.MULTILINE)

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert scripts["regsosek"] == "streams.cli:main", "ENTRYPOINT regsosek runs streams.cli"


def test_dockerignore_keeps_what_pip_install_needs() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".env", ".regsosek"} <= patterns
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    needed = {"pyproject.toml", str(project.get("readme", "README.md"))}
    needed |= {"streams", "schemas", "processors", "sinks", "monitoring"}
    assert not needed & patterns, f".dockerignore drops {sorted(needed & patterns)}"


def test_image_installs_every_data_file_of_the_packages() -> None:
    """Files beside the code reach the image only as declared package data.

    The image runs `pip install .`, not an editable install (schemas, the region
    master and its licence are such files).
    """
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = config["tool"]["setuptools"].get("package-data", {})
    # Mounted into Prometheus and Grafana by docker-compose.yml, not read by the code.
    mounted = {ROOT / "monitoring" / "alerts", ROOT / "monitoring" / "dashboards"}
    packages = [
        init.parent
        for top in ("streams", "schemas", "processors", "sinks", "monitoring")
        for init in (ROOT / top).rglob("__init__.py")
    ]
    shipped: set[Path] = set()
    for package in packages:
        dotted = ".".join(package.relative_to(ROOT).parts)
        for pattern in [*package_data.get(dotted, []), *package_data.get("*", [])]:
            shipped |= {Path(p) for p in glob.glob(str(package / pattern), recursive=True)}
    missing = sorted(
        str(path.relative_to(ROOT))
        for top in ("streams", "schemas", "processors", "sinks", "monitoring")
        for path in (ROOT / top).rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc"}
        and "__pycache__" not in path.parts
        and not any(path.is_relative_to(directory) for directory in mounted)
        and path not in shipped
    )
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_the_installed_gateway_serves_its_contract(tmp_path: Path) -> None:
    """`GET /openapi.yaml` and `/console/` in the image: both ship inside the installed package."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for top in ("streams", "schemas", "processors", "sinks", "monitoring", "simulator"):
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__"))
    # What `pip install .` puts in site-packages: setuptools' build_py output (packages
    # and their declared package data); built without pip, which needs no network.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
         "--build-lib", str(target)],
        cwd=source, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert (target / "sinks" / "sql").is_dir(), "declared package data is installed"
    probe = (
        "import streams.gateway.app as app, sys\n"
        "from streams.gateway.console import static_dir\n"
        "assert app.__file__.startswith(sys.argv[1]), app.__file__\n"
        "print(app.OPENAPI_FILE.is_file())\n"
        "pages = static_dir()\n"
        "files = ('index.html', 'console.js', 'pages/overview.js')\n"
        "print(all((pages / f).is_file() for f in files))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(target)],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    contract, console = result.stdout.split()
    assert contract == "True", "the installed gateway answers 404 for its contract"
    assert console == "True", "the installed gateway lacks the console's page"


def _cli_words(service: Mapping[str, Any]) -> list[str]:
    """What the `regsosek` CLI receives: the command, after a wrapper that ends in `regsosek`."""
    entrypoint = service.get("entrypoint")
    words = command_words(service)
    if entrypoint is None:
        return words
    wrapper = [str(word) for word in entrypoint]
    assert wrapper[-1] == "regsosek", f"the entrypoint must end by running regsosek: {wrapper}"
    return words


REGSOSEK_SERVICES = sorted(PROJECT_SERVICES)


@pytest.mark.parametrize("name", REGSOSEK_SERVICES)
def test_project_service_command_is_a_real_cli_command(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert context in {".", "./"}, f"{name}: built from {context}, not the project's Dockerfile"
    words = _cli_words(service)
    assert words, f"{name}: needs a command after the `regsosek` entrypoint"
    assert dockerfile_entrypoint() == ["regsosek"]

    path, command, rest = resolve_cli_command(words)
    shown = " ".join(path)
    assert not isinstance(command, click.Group) or command.invoke_without_command, (
        f"{name}: `{shown}` is a group; the container needs one of its commands: "
        f"{command.list_commands(click.Context(command))}"
    )
    try:
        command.make_context(path[-1], list(rest))
    except click.ClickException as exc:
        pytest.fail(f"{name}: `{shown} {' '.join(rest)}` does not parse: {exc.format_message()}")


def _settings_of(service: Mapping[str, Any], generated: Path) -> Settings:
    """The service's settings, its secret files taken from what init generated."""
    values: dict[str, str] = {}
    for key, value in resolved_environment(service).items():
        local = value
        if value.startswith(SECRETS_ROOT + "/"):
            local = str(generated / "secrets" / value.removeprefix(SECRETS_ROOT + "/"))
        values[key.removeprefix("REGSOSEK_").lower()] = local
    return Settings.model_validate(values)


@pytest.mark.parametrize("name", REGSOSEK_SERVICES)
def test_project_service_is_configured_only_by_regsosek_settings(
    services: dict[str, dict[str, Any]], name: str, generated: Path
) -> None:
    service = services[name]
    assert "env_file" not in service, f"{name}: configure through REGSOSEK_* environment only"
    for key, value in environment(service).items():
        assert key.startswith("REGSOSEK_"), f"{name}: {key} is not a REGSOSEK_* setting"
        field = key.removeprefix("REGSOSEK_").lower()
        assert field in Settings.model_fields, f"{name}: {key} is not a field of Settings"
        for variable in compose_variables(value or ""):
            if variable.startswith("REGSOSEK_"):
                assert variable.removeprefix("REGSOSEK_").lower() in Settings.model_fields
    # The values, with the files init writes, are valid settings (files exist, are read).
    settings = _settings_of(service, generated)
    assert settings.state_dir == Path("/data")
    assert settings.kafka_password is not None and settings.kafka_password.get_secret_value()


def test_every_file_a_service_reads_is_written_by_init(
    services: dict[str, dict[str, Any]], generated: Path
) -> None:
    """Every /run/regsosek path named in compose or Grafana's provisioning exists after init."""
    text = COMPOSE_FILE.read_text(encoding="utf-8") + DATASOURCES_FILE.read_text(encoding="utf-8")
    paths = set(re.findall(rf"{SECRETS_ROOT}(/[\w./-]+)", text))
    assert paths, "no secret files named"
    for path in sorted(paths):
        target = generated / "secrets" / path.lstrip("/")
        assert target.exists(), f"{SECRETS_ROOT}{path} is named but init does not write it"


def test_worker_settings_hold_the_generated_secrets(
    services: dict[str, dict[str, Any]], generated: Path
) -> None:
    settings = _settings_of(services["worker"], generated)
    key = (generated / "secrets" / "platform" / "nik-hmac.key").read_text(encoding="utf-8").strip()
    assert settings.nik_key() == key.encode() and len(key) >= 32
    assert settings.operator_tokens_file is not None and settings.operator_tokens_file.is_file()
    assert settings.frame_dir is not None and (settings.frame_dir / "enumerators.csv").is_file()


def test_gateway_and_worker_ports_match_their_settings(
    services: dict[str, dict[str, Any]],
) -> None:
    gateway = Settings.model_validate({"gateway_port": _env(services, "gateway", "GATEWAY_PORT")})
    worker = Settings.model_validate({"web_port": _env(services, "worker", "WEB_PORT")})
    assert gateway.gateway_port in container_ports(services["gateway"])
    assert worker.web_port in container_ports(services["worker"])
    assert mounts(services["worker"]).get("/data") == "worker-data", "worker state on a volume"


@pytest.mark.parametrize(("name", "prefix"), [("gateway", "gateway"), ("worker", "web")])
def test_published_servers_listen_beyond_loopback(
    services: dict[str, dict[str, Any]], name: str, prefix: str
) -> None:
    """A server bound to 127.0.0.1 inside a container is unreachable through its port."""
    address = resolved_environment(services[name])[f"REGSOSEK_{prefix.upper()}_HOST"]
    assert address in {"0.0.0.0", "::"}, f"{name}: {address} is unreachable from outside"


def _env(services: dict[str, dict[str, Any]], name: str, setting: str) -> str:
    return resolved_environment(services[name])["REGSOSEK_" + setting]


# ------------------------------------------------------ Prometheus and Grafana


def test_prometheus_mounts_its_config_and_the_alert_rules(
    services: dict[str, dict[str, Any]],
) -> None:
    volumes = mounts(services["prometheus"])
    assert volumes["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    assert volumes["/etc/prometheus/rules"] == "./monitoring/alerts"
    assert 9090 in container_ports(services["prometheus"])


def test_prometheus_config_passes_promtool(
    tmp_path: Path, prometheus_config: dict[str, Any]
) -> None:
    """`promtool check config`, with the rule files where compose mounts them (checked too)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make setup installs Prometheus)")
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "monitoring" / "alerts", rules)
    config = dict(prometheus_config)
    config["rule_files"] = [
        str(rules / Path(pattern).name) for pattern in prometheus_config.get("rule_files", [])
    ]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_prometheus_scrapes_worker_and_gateway(
    services: dict[str, dict[str, Any]], prometheus_config: dict[str, Any]
) -> None:
    assert "/etc/prometheus/rules/*.yml" in prometheus_config.get("rule_files", [])
    global_interval = prometheus_config.get("global", {}).get("scrape_interval", "1m")
    scraped: dict[str, tuple[int, str, str]] = {}
    for job in prometheus_config["scrape_configs"]:
        interval = job.get("scrape_interval", global_interval)
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                target_host, target_port = str(target).rsplit(":", 1)
                path = job.get("metrics_path", "/metrics")
                scraped[target_host] = (int(target_port), path, interval)

    expected = {
        "worker": int(_env(services, "worker", "WEB_PORT")),
        "gateway": int(_env(services, "gateway", "GATEWAY_PORT")),
    }
    for host, port in expected.items():
        assert host in services, f"{host} is not a compose service"
        assert scraped[host] == (port, "/metrics", "5s"), f"{host}: (port, path, interval)"


def test_grafana_downloads_nothing(
    services: dict[str, dict[str, Any]], datasources: dict[str, dict[str, Any]]
) -> None:
    env = resolved_environment(services["grafana"])
    assert "GF_INSTALL_PLUGINS" not in env and "GF_PLUGINS_PREINSTALL" not in env
    assert "GF_PLUGINS_PREINSTALL_SYNC" not in env
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"
    for source in datasources.values():
        assert source["type"] in GRAFANA_BUILT_IN, f"{source['uid']}: plugin {source['type']}"
    used: set[tuple[str, str]] = set()
    for path in DASHBOARDS.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'"type":\s*"([\w-]+)",\s*"uid":\s*"([\w-]+)"', text))
    assert used, "dashboards name their data sources"
    provisioned = {(str(ds["type"]), uid) for uid, ds in datasources.items()}
    assert used <= provisioned, f"dashboards use unprovisioned data sources: {used - provisioned}"


def test_grafana_has_no_anonymous_viewer_and_a_generated_password(
    services: dict[str, dict[str, Any]], generated: Path
) -> None:
    grafana = services["grafana"]
    env = resolved_environment(grafana)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment(grafana)
    password_file = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    written = generated / "secrets" / password_file.removeprefix(SECRETS_ROOT + "/")
    assert len(written.read_text(encoding="utf-8")) >= 32
    assert not written.read_text(encoding="utf-8").endswith("\n"), "Grafana reads it verbatim"
    volumes = mounts(grafana)
    assert volumes["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert volumes["/var/lib/grafana/dashboards"] == "./monitoring/dashboards"


def test_grafana_reads_clickhouse_as_the_read_only_account(
    datasources: dict[str, dict[str, Any]], generated: Path
) -> None:
    source = datasources["clickhouse"]
    assert source["type"] == "mysql"
    host, port = str(source["url"]).rsplit(":", 1)
    assert host == "clickhouse" and port == _xml(CLICKHOUSE_CONFIG).findtext("mysql_port")
    assert source["user"] == "grafana"
    assert source["jsonData"]["database"] == "regsosek"
    assert source["jsonData"]["tlsAuthWithCACert"] is True
    assert source["jsonData"].get("tlsSkipVerify") is False
    secure = source["secureJsonData"]
    assert secure["password"] == "$__file{/run/regsosek/grafana/clickhouse.password}"
    assert secure["tlsCACert"] == "$__file{/run/regsosek/ca/ca.pem}"
    # The file holds the password whose double SHA-1 (the MySQL login) users.d knows.
    password = (generated / "secrets/grafana/clickhouse.password").read_text(encoding="utf-8")
    user = _users_config(generated).find("users/grafana")
    assert user is not None
    assert user.findtext("password_double_sha1_hex") == INIT.double_sha1_hex(password)


def test_prometheus_data_source(datasources: dict[str, dict[str, Any]]) -> None:
    prometheus = datasources["prometheus"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    assert sum(bool(ds.get("isDefault")) for ds in datasources.values()) == 1
    assert prometheus.get("isDefault") is True


def test_grafana_dashboard_provider_reads_the_mounted_directory(
    services: dict[str, dict[str, Any]],
) -> None:
    providers = _load_yaml(DASHBOARDS_FILE)["providers"]
    paths = {p["options"]["path"] for p in providers if p.get("type", "file") == "file"}
    assert paths == {"/var/lib/grafana/dashboards"}
    assert "/var/lib/grafana/dashboards" in mounts(services["grafana"])
