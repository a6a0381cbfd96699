"""Bearer tokens: parsing the configuration, deciding who calls, and what they may submit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from schemas.errors import ConfigurationError
from streams.gateway.auth import (
    HASH_PREFIX,
    Authenticated,
    Denied,
    TokenStore,
    authenticate,
    bearer_token,
    build_token_store,
    forbidden_reason,
    hashed_key,
    load_token_file,
    new_token,
    parse_token_pairs,
    read_token_file,
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


# --- digests instead of tokens, revocation ---------------------------------------------


def test_a_file_of_digests_authenticates_the_tokens_it_never_holds(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(f'"{hashed_key(TOKEN_A)}": "0412"\n{TOKEN_B}: "0413"\n', encoding="utf-8")
    assert TOKEN_A not in path.read_text(encoding="utf-8")
    store = token_store_from_settings(Settings(gateway_tokens_file=path))
    assert store.enumerator_for(TOKEN_A) == "0412"
    assert store.enumerator_for(TOKEN_B) == "0413"
    assert store.enumerator_for(hashed_key(TOKEN_A)) is None, "the digest is no token"
    outcome = authenticate(f"Bearer {TOKEN_A}", store)
    assert isinstance(outcome, Authenticated)
    assert outcome.token_digest == hashlib.sha256(TOKEN_A.encode()).digest()


def test_digests_in_the_variable_and_upper_case_hex() -> None:
    key = hashed_key(TOKEN_A)
    store = TokenStore.from_mapping(
        parse_token_pairs(f"{key.upper().replace('SHA256', 'sha256')}:0412")
    )
    assert store.enumerator_for(TOKEN_A) == "0412"


@pytest.mark.parametrize("key", [HASH_PREFIX + "abc", HASH_PREFIX + "g" * 64, HASH_PREFIX])
def test_malformed_digests_are_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match="64 hex digits"):
        parse_token_pairs(f"{key}:0412")


def test_new_tokens_are_random_long_and_hash_to_their_key() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(token) >= 32 for token in tokens)
    token = next(iter(tokens))
    assert hashed_key(token) == HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def test_one_token_as_text_and_as_digest_for_two_enumerators_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="two enumerators") as caught:
        build_token_store([({TOKEN_A: "0412"}, "env"), ({hashed_key(TOKEN_A): "0413"}, "file")])
    assert TOKEN_A not in str(caught.value)
    same = build_token_store([({TOKEN_A: "0412"}, "env"), ({hashed_key(TOKEN_A): "0412"}, "f")])
    assert len(same) == 1


def test_revoked_list_removes_tokens_of_the_file_and_of_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        f"{TOKEN_B}: '0413'\n{new_token()}: '0414'\n"
        f"revoked:\n  - '{hashed_key(TOKEN_A)}'\n  - {TOKEN_B}\n",
        encoding="utf-8",
    )
    file = read_token_file(path)
    assert file.revoked == (hashed_key(TOKEN_A), TOKEN_B)
    assert load_token_file(path) == file.tokens
    store = token_store_from_settings(
        Settings(gateway_tokens=f"{TOKEN_A}:0412", gateway_tokens_file=path)
    )
    assert len(store) == 1
    assert store.enumerator_for(TOKEN_A) is None, "revoked in the file, granted by the variable"
    assert store.enumerator_for(TOKEN_B) is None


@pytest.mark.parametrize("revoked", ["revoked: abc", "revoked: [1, 2]", "revoked: ['short']"])
def test_a_malformed_revoked_list_is_an_error(tmp_path: Path, revoked: str) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(f"{TOKEN_A}: '0412'\n{revoked}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="revoked"):
        read_token_file(path)


def test_an_empty_yaml_file_holds_no_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("# every token revoked for now\n", encoding="utf-8")
    assert read_token_file(path).tokens == {}
