"""The settings object: env prefix, derived defaults and masking."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from schemas.errors import ConfigurationError
from streams.cli import cli
from streams.secret_files import demo_secrets, generated_secret, write_secret
from streams.settings import Settings, mask_url, mask_value, unknown_variables


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("REGSOSEK_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.state_dir == Path(".regsosek")
    assert settings.schema_registry_url is None
    dsn = settings.clickhouse_dsn.get_secret_value()
    assert dsn == f"chdb://{Path('.regsosek').resolve() / 'clickhouse'}"


def test_env_prefix_and_dsn_follows_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_STATE_DIR", "/srv/regsosek")
    monkeypatch.setenv("REGSOSEK_KAFKA_BOOTSTRAP", "broker-a:29092,broker-b:29092")
    settings = Settings()
    assert settings.clickhouse_dsn.get_secret_value() == "chdb:///srv/regsosek/clickhouse"
    assert (settings.kafka_host, settings.kafka_port) == ("broker-a", 29092)


def test_explicit_dsn_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", "https://analyst:s3cret@ch.bps.example:8443/db")
    assert Settings().clickhouse_dsn.get_secret_value().startswith("https://analyst:s3cret@")


def test_masked_hides_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", "http://writer:pw-123@clickhouse:8123/regsosek")
    monkeypatch.setenv("REGSOSEK_SCHEMA_REGISTRY_URL", "https://sr:token-9@registry:8081")
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY", "hmac-key-xyz")
    shown = Settings().masked()
    text = repr(shown)
    for secret in ("pw-123", "token-9", "hmac-key-xyz"):
        assert secret not in text
    assert shown["clickhouse_dsn"] == "http://writer:****@clickhouse:8123/regsosek"
    assert shown["nik_hmac_key"] == "****"


def test_mask_url_leaves_passwordless_urls_alone() -> None:
    assert mask_url("chdb:///tmp/x") == "chdb:///tmp/x"
    assert mask_url("http://host:8123/db") == "http://host:8123/db"


def test_bad_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_TOPIC_PARTITIONS", "zero")
    with pytest.raises(ValueError, match="topic_partitions"):
        Settings()


def test_config_command_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", "http://writer:pw-123@clickhouse:8123/regsosek")
    result = CliRunner().invoke(cli, ["config", "--json"])
    assert result.exit_code == 0, result.output
    assert "pw-123" not in result.output
    assert '"clickhouse_dsn": "http://writer:****@clickhouse:8123/regsosek"' in result.output


# --- the NIK HMAC key (issue #14 item 5) ------------------------------------------------

STRONG_KEY = "k" * 32


@pytest.mark.parametrize(
    ("key", "why"),
    [("", "no NIK HMAC key"), ("change-me", "known default"), ("k" * 31, "31 bytes")],
)
def test_weak_nik_key_refused(monkeypatch: pytest.MonkeyPatch, key: str, why: str) -> None:
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY", key)
    with pytest.raises(ConfigurationError, match=why) as refused:
        Settings().nik_key()
    assert "REGSOSEK_NIK_HMAC_KEY_FILE" in str(refused.value)


def test_no_default_nik_key() -> None:
    with pytest.raises(ConfigurationError, match="no NIK HMAC key"):
        Settings().nik_key()


def test_nik_key_of_32_bytes_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY", STRONG_KEY)
    assert Settings().nik_key() == STRONG_KEY.encode()


def test_nik_key_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "nik.key"
    key_file.write_text("short\n")
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY_FILE", str(key_file))
    with pytest.raises(ConfigurationError, match="5 bytes"):
        Settings().nik_key()  # a file's key is held to the same rules
    key_file.write_text(STRONG_KEY + "\n")
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY_FILE", str(key_file))
    settings = Settings()
    assert settings.nik_key() == STRONG_KEY.encode()
    assert settings.masked()["nik_hmac_key_file"] == str(key_file)  # the path, not the key
    assert STRONG_KEY not in repr(settings.masked())
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY", STRONG_KEY)
    with pytest.raises(ValueError, match="not both"):
        Settings()
    monkeypatch.delenv("REGSOSEK_NIK_HMAC_KEY")
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(ConfigurationError, match=r"missing\.key"):
        Settings().nik_key()


def test_worker_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    from streams.worker.runtime import create_worker  # noqa: PLC0415 - heavy

    with pytest.raises(ConfigurationError, match="no NIK HMAC key"):
        create_worker(Settings(state_dir=tmp_path))
    assert not (tmp_path / "clickhouse").exists()  # refused before anything was opened


# --- unknown variables ------------------------------------------------------------------


def test_unknown_variable_is_an_error_naming_the_closest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KYE", STRONG_KEY)
    with pytest.raises(ValueError, match="did you mean REGSOSEK_NIK_HMAC_KEY\\?"):
        Settings()
    monkeypatch.delenv("REGSOSEK_NIK_HMAC_KYE")
    monkeypatch.setenv("regsosek_nonsense", "1")
    with pytest.raises(ValueError, match="unknown setting regsosek_nonsense"):
        Settings()


def test_command_namespaces_are_not_settings() -> None:
    environ = {
        "REGSOSEK_SIMULATE_SCALE": "0.1",
        "REGSOSEK_DEMO_SEED": "7",
        "REGSOSEK_BENCH_REPEAT": "3",
        "REGSOSEK_TEST_LOSE_ACK": "t:0:3",
        "REGSOSEK_WEB_PORT": "1",
        "PATH": "/bin",
    }
    assert unknown_variables(environ, Settings.model_fields) == []
    # an old setting's name points to the one that took its place
    (problem,) = unknown_variables({"REGSOSEK_SINK_BATCH_SECONDS": "1"}, Settings.model_fields)
    assert problem.endswith("(did you mean REGSOSEK_PROCESS_BATCH_SECONDS?)")


def test_cli_reports_an_unknown_variable_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_WEB_PROT", "6067")
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", "http://writer:pw-123@clickhouse:8123/regsosek")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == ConfigurationError.exit_code
    assert "unknown setting REGSOSEK_WEB_PROT (did you mean REGSOSEK_WEB_PORT?)" in result.output
    assert "pw-123" not in result.output  # pydantic's error would echo the input


# --- masking every secret shape ---------------------------------------------------------


def test_mask_value_shapes(tmp_path: Path) -> None:
    assert mask_value("any", SecretStr("plain-secret")) == "****"
    assert mask_value("any", SecretStr("")) == ""
    assert mask_value("any", None) == ""
    assert mask_value("dsn", SecretStr("https://u:pw@h:8443/db?password=zz&x=1")) == (
        "https://u:****@h:8443/db?password=****&x=1"
    )
    assert mask_value("key_file", tmp_path / "k") == str(tmp_path / "k")
    assert mask_value("some_token", "plain-but-named-like-a-token") == "****"
    assert mask_value("upstream", "http://a:pw1@h1:1,http://b:pw2@h2:2") == (
        "http://a:****@h1:1,http://b:****@h2:2"
    )
    assert mask_value("web_port", 6066) == "6066"
    assert mask_url("chdb:///tmp/x?x=1") == "chdb:///tmp/x?x=1"
    assert mask_url("http://h/?access_token=abc") == "http://h/?access_token=****"


def test_every_secret_setting_masked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = {
        "REGSOSEK_CLICKHOUSE_DSN": "http://writer:pw-123@clickhouse:8123/regsosek?password=pw-9",
        "REGSOSEK_SCHEMA_REGISTRY_URL": "https://sr:token-9@registry:8081",
        "REGSOSEK_NIK_HMAC_KEY": "hmac-key-xyz-" + "k" * 32,
        "REGSOSEK_OPERATOR_TOKENS": "operator-token-abcdefgh",
        "REGSOSEK_GATEWAY_TOKENS": "gateway-token-abcdefgh:0412",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REGSOSEK_OPERATOR_TOKENS_FILE", str(tmp_path / "operators"))
    settings = Settings()
    shown = settings.masked()
    for name in secrets:
        for piece in ("pw-123", "pw-9", "token-9", "hmac-key-xyz", "abcdefgh"):
            assert piece not in shown[name.removeprefix("REGSOSEK_").lower()], name
    for name, field in Settings.model_fields.items():  # every SecretStr field, present or future
        value = getattr(settings, name)
        if field.annotation in (SecretStr, SecretStr | None) and value is not None:
            assert value.get_secret_value() not in shown[name] or not value.get_secret_value()
    assert shown["operator_tokens_file"] == str(tmp_path / "operators")


# --- private state ----------------------------------------------------------------------


def test_cli_makes_the_state_directory_private(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    monkeypatch.setenv("REGSOSEK_STATE_DIR", str(state))
    assert CliRunner().invoke(cli, ["config", "--json"]).exit_code == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    fresh = tmp_path / "fresh" / "state"
    monkeypatch.setenv("REGSOSEK_STATE_DIR", str(fresh))
    assert CliRunner().invoke(cli, ["config", "--json"]).exit_code == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_generated_secrets_are_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secrets" / "nik-hmac.key"
    first = generated_secret(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert generated_secret(path) == first  # the same key on the next run
    with pytest.raises(FileExistsError):
        write_secret(path, "x")


def test_demo_secrets_unless_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    made = demo_secrets(Settings(state_dir=tmp_path))
    key_file = Path(made.env["REGSOSEK_NIK_HMAC_KEY_FILE"])
    token_file = Path(made.env["REGSOSEK_OPERATOR_TOKENS_FILE"])
    assert made.operator_token == token_file.read_text().strip()
    for name, value in made.env.items():  # the worker accepts what the demo made
        monkeypatch.setenv(name, value)
    worker_settings = Settings(state_dir=tmp_path)
    assert len(worker_settings.nik_key()) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for name in made.env:
        monkeypatch.delenv(name)
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY", STRONG_KEY)
    monkeypatch.setenv("REGSOSEK_OPERATOR_TOKENS", "configured-operator-token")
    configured = demo_secrets(Settings(state_dir=tmp_path / "other"))
    assert configured.env == {}
    assert configured.operator_token == "configured-operator-token"
