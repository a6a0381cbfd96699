"""The Docker deployment, checked by parsing it: these machines have no Docker engine.

docker-compose.yml, the Dockerfile, Prometheus' configuration and Grafana's
provisioning must agree with each other and with the code: every command a
container runs is a real `regsosek` command, every variable the project's
containers get is a REGSOSEK_* setting, and the hosts, ports and credentials
one file names are the ones another file serves.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

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

INFRASTRUCTURE = {"kafka", "clickhouse", "prometheus", "grafana"}
PROJECT_SERVICES = {"topics", "gateway", "worker"}

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


def test_compose_file_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    assert "version" not in _load_yaml(COMPOSE_FILE), "the compose spec has no `version:` key"
    missing = (INFRASTRUCTURE | PROJECT_SERVICES) - set(services)
    assert not missing, f"docker-compose.yml lacks services: {sorted(missing)}"
    assert set(_build_services()) == PROJECT_SERVICES, "exactly the project's services are built"


def test_kafka_is_the_official_image_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = resolved_environment(kafka)
    roles = {role.strip() for role in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert roles == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env.get("CLUSTER_ID"), "KRaft storage is formatted with CLUSTER_ID"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", f"{key} must be 1 on a single node"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"

    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(
        item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) == set(protocols), "every listener needs a security protocol"
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners and controller not in advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert "kafka:19092" in advertised.values(), "containers reach the broker at kafka:19092"
    assert "localhost:9092" in advertised.values(), "the Docker host reaches it at localhost:9092"
    assert 9092 in container_ports(kafka)

    assert mounts(kafka).get(env["KAFKA_LOG_DIRS"]) == "kafka-data", "log dirs on a named volume"
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in healthcheck_text(kafka)


def test_clickhouse_is_an_lts_server_with_credentials(services: dict[str, dict[str, Any]]) -> None:
    clickhouse = services["clickhouse"]
    assert str(clickhouse["image"]).startswith("clickhouse/clickhouse-server:")
    env = resolved_environment(clickhouse)
    assert env["CLICKHOUSE_DB"] == "regsosek"
    assert env["CLICKHOUSE_USER"] and env["CLICKHOUSE_PASSWORD"]
    assert {8123, 9000} <= container_ports(clickhouse)
    assert mounts(clickhouse).get("/var/lib/clickhouse") == "clickhouse-data"
    nofile = clickhouse["ulimits"]["nofile"]
    assert int(nofile["soft"]) >= 262144 and int(nofile["hard"]) >= 262144
    assert "/ping" in healthcheck_text(clickhouse)


def test_prometheus_mounts_its_config_and_the_alert_rules(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    assert str(prometheus["image"]).startswith("prom/prometheus")
    volumes = mounts(prometheus)
    assert volumes["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    assert volumes["/etc/prometheus/rules"] == "./monitoring/alerts"
    assert 9090 in container_ports(prometheus)


def test_grafana_installs_the_clickhouse_plugin_and_provisioning(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    assert str(grafana["image"]).startswith("grafana/grafana")
    env = resolved_environment(grafana)
    plugins = [plugin.strip().split(" ")[0] for plugin in env["GF_INSTALL_PLUGINS"].split(",")]
    assert "grafana-clickhouse-datasource" in plugins
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert "GF_SECURITY_ADMIN_PASSWORD" in env
    volumes = mounts(grafana)
    assert volumes["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert volumes["/var/lib/grafana/dashboards"] == "./monitoring/dashboards"
    assert 3000 in container_ports(grafana)


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
    for name in PROJECT_SERVICES:
        kafka = services[name]["depends_on"]["kafka"]
        assert kafka["condition"] == "service_healthy", f"{name} must wait for a healthy kafka"
    worker_deps = services["worker"]["depends_on"]
    assert worker_deps["clickhouse"]["condition"] == "service_healthy"


def test_bind_mounted_deploy_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        for source in mounts(spec).values():
            if source.startswith("./deploy/"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_every_compose_variable_is_documented(services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    names = compose_variables(text)
    readme = DEPLOY_README.read_text(encoding="utf-8")
    undocumented = sorted(name for name in names if name not in readme)
    assert not undocumented, f"deploy/README.md does not mention {undocumented}"
    # Every shell pass-through of the project services is documented too.
    passed = {
        key
        for name in PROJECT_SERVICES
        for key, value in environment(services[name]).items()
        if value is None
    }
    assert not sorted(key for key in passed if key not in readme)


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


@pytest.mark.parametrize("name", _build_services())
def test_build_service_command_is_a_real_cli_command(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert context in {".", "./"}, f"{name}: built from {context}, not the project's Dockerfile"
    words = command_words(service)
    assert words, f"{name}: needs a command after the `regsosek` entrypoint"
    entrypoint = dockerfile_entrypoint()
    assert entrypoint == ["regsosek"], entrypoint
    assert "entrypoint" not in service, f"{name}: keep the Dockerfile's entrypoint"

    path, command, rest = resolve_cli_command(words)
    shown = " ".join(path)
    assert not isinstance(command, click.Group), (
        f"{name}: `{shown}` is a group; the container needs one of its commands: "
        f"{command.list_commands(click.Context(command))}"
    )
    try:
        command.make_context(path[-1], list(rest))
    except click.ClickException as exc:
        pytest.fail(f"{name}: `{shown} {' '.join(rest)}` does not parse: {exc.format_message()}")


@pytest.mark.parametrize("name", _build_services())
def test_build_service_is_configured_only_by_regsosek_settings(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    assert "env_file" not in service, f"{name}: configure through REGSOSEK_* environment only"
    env = environment(service)
    for key, value in env.items():
        assert key.startswith("REGSOSEK_"), f"{name}: {key} is not a REGSOSEK_* setting"
        field = key.removeprefix("REGSOSEK_").lower()
        assert field in Settings.model_fields, f"{name}: {key} is not a field of Settings"
        for variable in compose_variables(value or ""):
            if variable.startswith("REGSOSEK_"):
                assert variable.removeprefix("REGSOSEK_").lower() in Settings.model_fields
    # The values, with compose defaults applied, are valid settings.
    values = {
        key.removeprefix("REGSOSEK_").lower(): value
        for key, value in resolved_environment(service).items()
    }
    settings = Settings.model_validate(values)
    assert settings.state_dir == Path("/data")


@pytest.mark.parametrize("name", _build_services())
def test_build_service_reaches_compose_kafka_and_clickhouse(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env = resolved_environment(services[name])
    kafka_env = resolved_environment(services["kafka"])
    advertised = {
        item.split("://", 1)[1] for item in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    for server in env["REGSOSEK_KAFKA_BOOTSTRAP"].split(","):
        assert server.strip() in advertised, f"{name}: {server} is not a Kafka listener"

    dsn = urlsplit(env["REGSOSEK_CLICKHOUSE_DSN"])
    clickhouse = resolved_environment(services["clickhouse"])
    assert dsn.scheme == "http" and dsn.hostname == "clickhouse" and dsn.port == 8123
    assert dsn.port in container_ports(services["clickhouse"])
    assert dsn.username == clickhouse["CLICKHOUSE_USER"]
    assert dsn.password == clickhouse["CLICKHOUSE_PASSWORD"]
    assert dsn.path == "/" + clickhouse["CLICKHOUSE_DB"]


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
    values = {
        key.removeprefix("REGSOSEK_").lower(): value
        for key, value in resolved_environment(services[name]).items()
    }
    settings = Settings.model_validate(values)
    for field in (f"{prefix}_host", f"{prefix}_bind"):
        if field in Settings.model_fields:
            address = str(getattr(settings, field))
            assert address in {"0.0.0.0", "::", ""}, (
                f"{name}: {Settings.env_name(field)}={address} is unreachable from outside"
            )


def _env(services: dict[str, dict[str, Any]], name: str, setting: str) -> str:
    return resolved_environment(services[name])["REGSOSEK_" + setting]


# ------------------------------------------------------ Prometheus and Grafana


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
        assert host in scraped, f"prometheus.yml does not scrape {host}"
        assert scraped[host] == (port, "/metrics", "5s"), f"{host}: (port, path, interval)"


def test_grafana_datasources(
    services: dict[str, dict[str, Any]], datasources: dict[str, dict[str, Any]]
) -> None:
    prometheus = datasources["prometheus"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus.get("isDefault") is True
    assert sum(bool(ds.get("isDefault")) for ds in datasources.values()) == 1

    clickhouse = datasources["clickhouse"]
    assert clickhouse["type"] == "grafana-clickhouse-datasource"
    data = clickhouse["jsonData"]
    assert data["host"] == "clickhouse" and "clickhouse" in services
    assert (data["protocol"], int(data["port"])) in {("native", 9000), ("http", 8123)}
    assert int(data["port"]) in container_ports(services["clickhouse"])

    # $VARs are Grafana's own environment: set on the grafana service, to the
    # same values the clickhouse service creates its user and database with.
    grafana_env = resolved_environment(services["grafana"])
    server_env = resolved_environment(services["clickhouse"])
    fields = {
        "CLICKHOUSE_USER": data["username"],
        "CLICKHOUSE_DB": data["defaultDatabase"],
        "CLICKHOUSE_PASSWORD": clickhouse["secureJsonData"]["password"],
    }
    for server_key, value in fields.items():
        grafana_value = _GRAFANA_VARIABLE.sub(
            lambda m: (
                grafana_env[m.group("braced") or m.group("bare")] if m.group(0) != "$$" else "$"
            ),
            str(value),
        )
        assert grafana_value == server_env[server_key], f"{server_key}: {value!r}"
    assert grafana_env["CLICKHOUSE_DB"] == "regsosek"


def test_grafana_dashboard_provider_reads_the_mounted_directory(
    services: dict[str, dict[str, Any]],
) -> None:
    providers = _load_yaml(DASHBOARDS_FILE)["providers"]
    paths = {p["options"]["path"] for p in providers if p.get("type", "file") == "file"}
    assert paths == {"/var/lib/grafana/dashboards"}
    assert "/var/lib/grafana/dashboards" in mounts(services["grafana"])
