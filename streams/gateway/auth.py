"""Who is calling: bearer tokens of enumerators, and what each may submit.

Every enumerator (PPL) gets a token; a request carrying it acts as that
enumerator and may only submit households whose ``enumeration.enumerator_id``
is theirs. Tokens come from ``REGSOSEK_GATEWAY_TOKENS`` (``token:ENUMERATOR``
pairs) and/or a JSON or YAML file (``REGSOSEK_GATEWAY_TOKENS_FILE``) mapping
token -> enumerator id. Pure functions apart from reading that file.

A key of the file (or of the variable) is either the token itself or, as
recommended, its digest ``sha256:<64 hex digits>`` (``regsosek gateway token
new`` prints both), so that whoever reads the file cannot call as anyone. The
file may also hold ``revoked:``, a list of tokens or digests refused even when
granted elsewhere (e.g. a token in the environment variable, which only a
restart changes). :mod:`streams.gateway.reload` rereads the file when it changes.

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
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from schemas.errors import ConfigurationError
from streams.settings import Settings

#: Shorter tokens are refused: a census gateway holds personal data (NIK, names).
MIN_TOKEN_LENGTH = 16
#: Prefix of a token given by its digest instead of its text.
HASH_PREFIX = "sha256:"
#: The token file's key listing revoked tokens (never a token: shorter than the minimum).
REVOKED_KEY = "revoked"
#: Random bytes of a new token (32 URL-safe characters).
NEW_TOKEN_BYTES = 24
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TokenStore:
    """Digests of bearer tokens and the enumerator each belongs to."""

    entries: tuple[tuple[bytes, str], ...] = ()

    @classmethod
    def from_mapping(cls, tokens: Mapping[str, str]) -> TokenStore:
        """Build from token (or ``sha256:`` digest) -> enumerator id."""
        return cls(
            tuple((key_digest(key, "entry"), enumerator) for key, enumerator in tokens.items())
        )

    def __len__(self) -> int:
        return len(self.entries)

    def current(self) -> TokenStore:
        """The store itself: a fixed set (``ReloadingTokens`` is the one that changes)."""
        return self

    def enumerator_for(self, token: str) -> str | None:
        """The enumerator a token belongs to, or None; constant time in the token."""
        found = self.lookup(token)
        return found[1] if found is not None else None

    def lookup(self, token: str) -> tuple[bytes, str] | None:
        """(digest, enumerator) of a known token, or None; constant time in the token."""
        presented = _digest(token)
        found: tuple[bytes, str] | None = None
        for digest, enumerator in self.entries:
            if hmac.compare_digest(presented, digest):  # no early exit: every entry is compared
                found = (digest, enumerator)
        return found


class TokenSource(Protocol):
    """Where the gateway gets the tokens in force for each request."""

    def current(self) -> TokenStore:
        """The set in force now."""
        ...

    def __len__(self) -> int:
        """How many tokens are in force."""
        ...


@dataclass(frozen=True)
class Authenticated:
    """The request acts as this enumerator; ``token_digest`` keys its rate limit."""

    enumerator_id: str
    token_digest: bytes = field(default=b"", repr=False, compare=False)


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
    found = store.lookup(token)
    if found is None:
        return Denied("invalid bearer token")
    digest, enumerator = found
    return Authenticated(enumerator, digest)


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


@dataclass(frozen=True)
class TokenFile:
    """What a token file says: key (token or digest) -> enumerator id, and revoked keys."""

    tokens: dict[str, str]
    revoked: tuple[str, ...] = ()


def new_token() -> str:
    """A fresh random bearer token (32 URL-safe characters)."""
    return secrets.token_urlsafe(NEW_TOKEN_BYTES)


def hashed_key(token: str) -> str:
    """``sha256:<hex>``: how a token file names a token without holding it."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def key_digest(key: str, where: str) -> bytes:
    """The SHA-256 digest a key stands for: given (``sha256:<hex>``) or of the token itself."""
    if key.startswith(HASH_PREFIX):
        hexdigest = key.removeprefix(HASH_PREFIX).lower()
        if not _HEX_DIGEST.match(hexdigest):
            raise ConfigurationError(
                f"gateway token {where}: '{HASH_PREFIX}' must be followed by 64 hex digits"
            )
        return bytes.fromhex(hexdigest)
    if len(key) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"gateway token {where} is shorter than {MIN_TOKEN_LENGTH} characters; "
            "make one with `regsosek gateway token new ENUMERATOR_ID`"
        )
    return _digest(key)


def parse_token_pairs(text: str) -> dict[str, str]:
    """``"tok1:ENUM1,tok2:ENUM2"`` -> {token: enumerator}; ConfigurationError if malformed.

    A key may be a digest, ``sha256:<hex>:ENUM1``: the enumerator id is after the last colon.
    """
    pairs: dict[str, str] = {}
    for position, item in enumerate(filter(None, (p.strip() for p in text.split(","))), 1):
        token, sep, enumerator = item.rpartition(":")
        if not sep:
            raise ConfigurationError(f"gateway token entry {position} is not 'token:ENUMERATOR_ID'")
        _add(pairs, token.strip(), enumerator.strip(), f"entry {position}")
    return pairs


def parse_token_mapping(data: Any, source: str) -> TokenFile:
    """Check a loaded token file: token (or digest) -> enumerator id, and ``revoked: [...]``."""
    if data is None:  # an empty YAML file: no tokens (everyone is refused), not an error
        return TokenFile({})
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{source}: expected a mapping of token -> enumerator id")
    revoked = data.get(REVOKED_KEY, [])
    if not isinstance(revoked, list) or not all(isinstance(key, str) for key in revoked):
        raise ConfigurationError(f"{source}: '{REVOKED_KEY}' must be a list of tokens or digests")
    for position, key in enumerate(revoked, 1):
        key_digest(key, f"{source}: revoked entry {position}")
    pairs: dict[str, str] = {}
    entries = ((k, v) for k, v in data.items() if k != REVOKED_KEY)
    for position, (token, enumerator) in enumerate(entries, 1):
        if not isinstance(token, str) or not isinstance(enumerator, str | int):
            raise ConfigurationError(f"{source}: entry {position} must map text to text")
        _add(pairs, token, str(enumerator), f"{source}: entry {position}")
    return TokenFile(pairs, tuple(revoked))


def load_token_file(path: Path) -> dict[str, str]:
    """The grants of a token file, key (token or digest) -> enumerator id (revocations aside)."""
    return read_token_file(path).tokens


def read_token_file(path: Path) -> TokenFile:
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


def build_token_store(
    granted: Iterable[tuple[Mapping[str, str], str]], revoked: Iterable[str] = ()
) -> TokenStore:
    """One store from every (pairs, where they come from), less the revoked keys.

    The same token given to two enumerators (as text in one place and as a digest
    in another, say) is a configuration error, never a silent choice.
    """
    digests: dict[bytes, str] = {}
    for pairs, where in granted:
        for position, (key, enumerator) in enumerate(pairs.items(), 1):
            digest = key_digest(key, f"{where}: entry {position}")
            if digests.get(digest, enumerator) != enumerator:
                raise ConfigurationError(
                    f"gateway token {where}: entry {position} is given to two enumerators "
                    f"({digests[digest]}, {enumerator})"
                )
            digests[digest] = enumerator
    for key in revoked:
        digests.pop(key_digest(key, "revoked entry"), None)
    return TokenStore(tuple(digests.items()))


def token_store_from_settings(settings: Settings) -> TokenStore:
    """Tokens from REGSOSEK_GATEWAY_TOKENS plus REGSOSEK_GATEWAY_TOKENS_FILE."""
    env = parse_token_pairs(settings.gateway_tokens.get_secret_value())
    return token_store_from(env, settings.gateway_tokens_file)


def token_store_from(env: Mapping[str, str], path: Path | None) -> TokenStore:
    """The store of the variable's pairs and the file's (read now), less its revoked keys."""
    if path is None:
        return build_token_store([(env, "REGSOSEK_GATEWAY_TOKENS")])
    file = read_token_file(path)
    return build_token_store(
        [(env, "REGSOSEK_GATEWAY_TOKENS"), (file.tokens, str(path))], file.revoked
    )


def _add(pairs: dict[str, str], token: str, enumerator: str, where: str) -> None:
    if not enumerator:
        raise ConfigurationError(f"gateway token {where}: empty enumerator id")
    try:
        key_digest(token, where)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc} (enumerator {enumerator})") from None
    if pairs.get(token, enumerator) != enumerator:
        raise ConfigurationError(
            f"gateway token {where} is given to two enumerators ({pairs[token]}, {enumerator})"
        )
    pairs[token] = enumerator


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
