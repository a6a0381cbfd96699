"""Who is calling: bearer tokens of enumerators, and what each may submit.

Every enumerator (PPL) gets a token; a request carrying it acts as that
enumerator and may only submit households whose ``enumeration.enumerator_id``
is theirs. Tokens come from ``REGSOSEK_GATEWAY_TOKENS`` (``token:ENUMERATOR``
pairs) and/or a JSON or YAML file (``REGSOSEK_GATEWAY_TOKENS_FILE``) mapping
token -> enumerator id. Pure functions apart from reading that file.

Tokens are kept only as SHA-256 digests and looked up by comparing the digest
of the presented token with *every* stored digest through
:func:`hmac.compare_digest`, so the time an answer takes says nothing about
how close a guess was. No token ever appears in a log line or error message:
configuration errors name the entry's position or its enumerator instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import ConfigurationError
from streams.settings import Settings

#: Shorter tokens are refused: a census gateway holds personal data (NIK, names).
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class TokenStore:
    """Digests of bearer tokens and the enumerator each belongs to."""

    entries: tuple[tuple[bytes, str], ...] = ()

    @classmethod
    def from_mapping(cls, tokens: Mapping[str, str]) -> TokenStore:
        """Build from token -> enumerator id (already checked by the parsers)."""
        return cls(tuple((_digest(token), enumerator) for token, enumerator in tokens.items()))

    def __len__(self) -> int:
        return len(self.entries)

    def enumerator_for(self, token: str) -> str | None:
        """The enumerator a token belongs to, or None; constant time in the token."""
        presented = _digest(token)
        found: str | None = None
        for digest, enumerator in self.entries:
            if hmac.compare_digest(presented, digest):  # no early exit: every entry is compared
                found = enumerator
        return found


@dataclass(frozen=True)
class Authenticated:
    """The request acts as this enumerator."""

    enumerator_id: str


@dataclass(frozen=True)
class Denied:
    """The request is refused with 401; ``reason`` is safe to show (it never holds the token)."""

    reason: str


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def authenticate(authorization: str | None, store: TokenStore) -> Authenticated | Denied:
    """Decide who the caller is from the Authorization header. Pure."""
    token = bearer_token(authorization)
    if token is None:
        return Denied("missing bearer token: send 'Authorization: Bearer <token>'")
    enumerator = store.enumerator_for(token)
    if enumerator is None:
        return Denied("invalid bearer token")
    return Authenticated(enumerator)


def submitted_enumerator(submission: Any) -> str | None:
    """``enumeration.enumerator_id`` of a submission in natural JSON, if it is there."""
    if not isinstance(submission, Mapping):
        return None
    enumeration = submission.get("enumeration")
    if not isinstance(enumeration, Mapping):
        return None
    enumerator = enumeration.get("enumerator_id")
    return enumerator if isinstance(enumerator, str) else None


def forbidden_reason(caller: Authenticated, submission: Any) -> str | None:
    """Why ``caller`` may not submit this (403), or None when it may. Pure.

    A submission without an enumerator id is not forbidden here: schema
    validation reports the missing field (400), which is the more useful answer.
    """
    claimed = submitted_enumerator(submission)
    if claimed is None or claimed == caller.enumerator_id:
        return None
    return (
        f"enumeration.enumerator_id is {claimed!r} but the token belongs to enumerator "
        f"{caller.enumerator_id!r}; an enumerator submits only their own interviews"
    )


# --- configuration ---------------------------------------------------------------------


def parse_token_pairs(text: str) -> dict[str, str]:
    """``"tok1:ENUM1,tok2:ENUM2"`` -> {token: enumerator}; ConfigurationError if malformed."""
    pairs: dict[str, str] = {}
    for position, item in enumerate(filter(None, (p.strip() for p in text.split(","))), 1):
        token, sep, enumerator = item.rpartition(":")
        if not sep:
            raise ConfigurationError(f"gateway token entry {position} is not 'token:ENUMERATOR_ID'")
        _add(pairs, token.strip(), enumerator.strip(), f"entry {position}")
    return pairs


def parse_token_mapping(data: Any, source: str) -> dict[str, str]:
    """Check a loaded token file: a mapping of token (text) -> enumerator id (text)."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{source}: expected a mapping of token -> enumerator id")
    pairs: dict[str, str] = {}
    for position, (token, enumerator) in enumerate(data.items(), 1):
        if not isinstance(token, str) or not isinstance(enumerator, str | int):
            raise ConfigurationError(f"{source}: entry {position} must map text to text")
        _add(pairs, token, str(enumerator), f"{source}: entry {position}")
    return pairs


def load_token_file(path: Path) -> dict[str, str]:
    """Read a token file: ``.json`` as JSON, anything else as YAML (which JSON also is)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read gateway token file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        # The parser's message may quote file content (tokens): give the position only.
        where = getattr(exc, "lineno", None) or getattr(
            getattr(exc, "problem_mark", None), "line", "?"
        )
        raise ConfigurationError(
            f"gateway token file {path} does not parse (near line {where})"
        ) from None
    return parse_token_mapping(data, str(path))


def token_store_from_settings(settings: Settings) -> TokenStore:
    """Tokens from REGSOSEK_GATEWAY_TOKENS plus REGSOSEK_GATEWAY_TOKENS_FILE."""
    tokens = parse_token_pairs(settings.gateway_tokens.get_secret_value())
    if settings.gateway_tokens_file is not None:
        for token, enumerator in load_token_file(settings.gateway_tokens_file).items():
            _add(tokens, token, enumerator, str(settings.gateway_tokens_file))
    return TokenStore.from_mapping(tokens)


def _add(pairs: dict[str, str], token: str, enumerator: str, where: str) -> None:
    if not enumerator:
        raise ConfigurationError(f"gateway token {where}: empty enumerator id")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"gateway token {where} (enumerator {enumerator}) is shorter than "
            f"{MIN_TOKEN_LENGTH} characters; use e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(24))'`"
        )
    if pairs.get(token, enumerator) != enumerator:
        raise ConfigurationError(
            f"gateway token {where} is given to two enumerators ({pairs[token]}, {enumerator})"
        )
    pairs[token] = enumerator


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
