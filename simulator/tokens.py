"""Bearer tokens of the simulated enumerators and supervisors, for ``--via http``.

The simulator writes ``tokens.json`` beside the frame (``<frame dir>/tokens.json``):
a JSON object mapping token -> enumerator id (PPL) or supervisor id (PML:
supervisors post their reviews with their own token), the format
``REGSOSEK_GATEWAY_TOKENS_FILE`` reads. Tokens are random (``secrets``, 32
URL-safe characters, above the gateway's 16-character minimum), not derived
from the seed: a seed is not a secret. An existing file is reused as long as
it covers every enumerator of the frame, so a gateway started after
``simulate --frame-only`` keeps accepting the simulator's later run. The file
is written readable by its owner only.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

TOKENS_FILE = "tokens.json"
TOKEN_BYTES = 24  # 32 URL-safe characters


def read_tokens(path: Path) -> dict[str, str]:
    """Enumerator id -> token from a tokens file ({} when missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(enumerator): str(token) for token, enumerator in data.items()}


def ensure_tokens(directory: Path, enumerators: Iterable[str]) -> tuple[Path, dict[str, str]]:
    """The tokens file for ``enumerators`` (reused if complete); enumerator id -> token."""
    path = directory / TOKENS_FILE
    wanted = list(enumerators)
    tokens = read_tokens(path)
    if all(enumerator in tokens for enumerator in wanted):
        return path, {enumerator: tokens[enumerator] for enumerator in wanted}
    tokens = {enumerator: secrets.token_urlsafe(TOKEN_BYTES) for enumerator in wanted}
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps({token: enumerator for enumerator, token in tokens.items()}, indent=1)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return path, tokens
