"""``regsosek gateway token new``: a token shown once, and a file line that accepts it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from streams.cli import cli
from streams.gateway.auth import token_store_from


def test_token_new_prints_a_token_and_the_line_that_grants_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["gateway", "token", "new", "0412"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    token, line = lines[1], lines[3]
    assert line.startswith('"sha256:') and line.endswith(': "0412"')
    assert token not in line, "the file line holds the digest only"
    path = tmp_path / "tokens.yaml"
    path.write_text(line + "\n", encoding="utf-8")
    assert token_store_from({}, path).enumerator_for(token) == "0412"
    again = CliRunner().invoke(cli, ["gateway", "token", "new", "0412"])
    assert again.output.splitlines()[1] != token, "a new random token every time"


def test_serving_without_tokens_stops_with_a_hint() -> None:
    env = {"REGSOSEK_GATEWAY_TOKENS": "", "REGSOSEK_GATEWAY_TOKENS_FILE": None}
    result = CliRunner().invoke(cli, ["gateway"], env=env)
    assert result.exit_code != 0
    assert "gateway token new" in result.output
