"""Private directories and secret files: nothing under the state directory is world-readable.

The state directory holds the embedded ClickHouse (names, addresses, NIK
hashes), broker logs with every submission, and the demo's keys. It is made
``0700`` when a command starts, so whatever is created below it (by Kafka,
chdb, Faust) is out of other users' reach even where those tools use their own
modes. Secret files are created ``0600`` from the first byte (``O_EXCL``, no
window in which another user could open them).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from streams.settings import Settings

PRIVATE_DIR_MODE = 0o700
SECRET_FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) as ``0700``, or take group and other access away."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(PRIVATE_DIR_MODE)
    return path


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` as ``0600`` holding ``text``; refuses to overwrite an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")


def generated_secret(path: Path, nbytes: int = 32) -> str:
    """The secret kept in ``path``, made (random, ``0600``, in a private directory) if absent.

    For the demo and the tests: one key and one operator token per state
    directory, the same across runs so that data written before stays readable
    (the NIK hashes in ClickHouse keep matching).
    """
    private_directory(path.parent)
    if not path.exists():
        # FileExistsError: made by a process started at the same time; use theirs
        with contextlib.suppress(FileExistsError):
            write_secret(path, secrets.token_urlsafe(nbytes))
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(SECRET_FILE_MODE)
    return path.read_text(encoding="utf-8").strip()


def parse_tokens(text: str) -> list[str]:
    """Tokens from a comma- or line-separated text; blank lines and ``#`` comments skipped."""
    tokens: list[str] = []
    for line in text.splitlines():
        content = line.split("#", 1)[0]
        tokens.extend(part.strip() for part in content.split(",") if part.strip())
    return tokens


def client_token(settings: Settings) -> str | None:
    """The token a client on this machine sends: the first one configured, if any.

    The CLI and the demo's board read the same settings as the worker they ask.
    """
    tokens = parse_tokens(settings.operator_tokens.get_secret_value())
    if not tokens and settings.operator_tokens_file is not None:
        try:
            tokens = parse_tokens(settings.operator_tokens_file.read_text(encoding="utf-8"))
        except OSError:
            return None
    return tokens[0] if tokens else None


@dataclass(frozen=True)
class DemoSecrets:
    """What the demo hands its worker when the operator configured nothing."""

    env: dict[str, str]
    #: The operator token the demo's board sends (None: the configured file could not be read).
    operator_token: str | None
    operator_token_file: Path | None


def demo_secrets(settings: Settings) -> DemoSecrets:
    """A NIK key and an operator token for the demo's worker, unless the settings give them.

    Made once per state directory under ``<state>/secrets`` (``0700``, files
    ``0600``) and reused, so a second ``make demo`` reads its earlier data with
    the same key. A newcomer's two commands keep working; production sets its own.
    """
    env: dict[str, str] = {}
    folder = settings.state_dir.resolve() / "secrets"
    if not settings.nik_hmac_key.get_secret_value():
        key_file = folder / "nik-hmac.key"
        generated_secret(key_file, 32)
        env[Settings.env_name("nik_hmac_key_file")] = str(key_file)
    token_file = settings.operator_tokens_file
    if not settings.operator_tokens.get_secret_value() and token_file is None:
        token_file = folder / "operator-token"
        generated_secret(token_file, 32)
        env[Settings.env_name("operator_tokens_file")] = str(token_file)
    configured = Settings.model_construct(
        operator_tokens=settings.operator_tokens, operator_tokens_file=token_file
    )
    return DemoSecrets(env, client_token(configured), token_file)
