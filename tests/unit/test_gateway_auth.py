"""Bearer tokens: parsing the configuration, deciding who calls, and what they may submit."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigurationError
from streams.gateway.auth import (
    Authenticated,
    Denied,
    TokenStore,
    authenticate,
    bearer_token,
    forbidden_reason,
    load_token_file,
    parse_token_pairs,
    token_store_from_settings,
)
from streams.settings import Settings

TOKEN_A = "tok-a-0123456789abcdef"
TOKEN_B = "tok-b-0123456789abcdef"


def test_pairs_from_the_environment_variable() -> None:
    text = f" {TOKEN_A}:0412 , {TOKEN_B}:0413,"
    assert parse_token_pairs(text) == {TOKEN_A: "0412", TOKEN_B: "0413"}
    assert parse_token_pairs("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TOKEN_A, "entry 1 is not 'token:ENUMERATOR_ID'"),
        (f"{TOKEN_A}:", "empty enumerator id"),
        ("short:0412", "shorter than 16 characters"),
        (f"{TOKEN_A}:0412,{TOKEN_A}:0413", "given to two enumerators"),
    ],
)
def test_bad_pairs_are_refused_without_showing_the_token(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_token_pairs(text)
    assert TOKEN_A not in str(caught.value)
    assert "short" not in str(caught.value).replace("shorter", "")


def test_token_file_json_and_yaml(tmp_path: Path) -> None:
    json_file = tmp_path / "tokens.json"
    json_file.write_text(f'{{"{TOKEN_A}": "0412"}}', encoding="utf-8")
    yaml_file = tmp_path / "tokens.yaml"
    yaml_file.write_text(f"{TOKEN_B}: '0413'\n", encoding="utf-8")
    assert load_token_file(json_file) == {TOKEN_A: "0412"}
    assert load_token_file(yaml_file) == {TOKEN_B: "0413"}


def test_token_file_errors_name_the_file_not_the_token(tmp_path: Path) -> None:
    broken = tmp_path / "tokens.json"
    broken.write_text(f'{{"{TOKEN_A}": "0412",', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="does not parse") as caught:
        load_token_file(broken)
    assert TOKEN_A not in str(caught.value)
    listed = tmp_path / "list.yaml"
    listed.write_text(f"- {TOKEN_A}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        load_token_file(listed)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_token_file(tmp_path / "absent.yaml")


def test_store_from_settings_merges_env_and_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(f"{TOKEN_B}: '0413'\n", encoding="utf-8")
    settings = Settings(gateway_tokens=f"{TOKEN_A}:0412", gateway_tokens_file=path)
    store = token_store_from_settings(settings)
    assert len(store) == 2
    assert store.enumerator_for(TOKEN_A) == "0412"
    assert store.enumerator_for(TOKEN_B) == "0413"


def test_store_keeps_digests_not_tokens() -> None:
    store = TokenStore.from_mapping({TOKEN_A: "0412"})
    assert TOKEN_A not in repr(store)
    assert store.enumerator_for(TOKEN_A + "x") is None
    assert store.enumerator_for("") is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (f"Bearer {TOKEN_A}", TOKEN_A),
        (f"bearer   {TOKEN_A} ", TOKEN_A),
        (f"Basic {TOKEN_A}", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_header_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_authentication_decision() -> None:
    store = TokenStore.from_mapping({TOKEN_A: "0412"})
    assert authenticate(f"Bearer {TOKEN_A}", store) == Authenticated("0412")
    missing = authenticate(None, store)
    assert isinstance(missing, Denied)
    assert "missing bearer token" in missing.reason
    wrong = authenticate(f"Bearer {TOKEN_B}", store)
    assert isinstance(wrong, Denied)
    assert wrong.reason == "invalid bearer token"
    assert TOKEN_B not in wrong.reason


def test_enumerator_submits_only_own_interviews() -> None:
    caller = Authenticated("0412")
    own = {"enumeration": {"enumerator_id": "0412"}}
    other = {"enumeration": {"enumerator_id": "0413"}}
    assert forbidden_reason(caller, own) is None
    reason = forbidden_reason(caller, other)
    assert reason is not None
    assert "'0413'" in reason
    assert "'0412'" in reason


@pytest.mark.parametrize(
    "document", [{}, [], "x", {"enumeration": None}, {"enumeration": {"enumerator_id": 412}}]
)
def test_missing_or_malformed_enumerator_is_left_to_schema_validation(document: object) -> None:
    assert forbidden_reason(Authenticated("0412"), document) is None
