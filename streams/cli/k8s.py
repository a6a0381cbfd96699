"""``regsosek k8s generate``: the parts of deploy/k8s written from the project's sources."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams import k8s


@click.group("k8s")
def command() -> None:
    """Kubernetes manifests (deploy/k8s, docs/kubernetes.md)."""


@command.command("generate")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Repository root (holds monitoring/ and deploy/).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a generated file is stale.")
def generate(root: Path, check: bool) -> None:
    """Write deploy/k8s's generated files from their sources (docs/kubernetes.md).

    The PrometheusRule, dashboard ConfigMaps, KafkaTopics, KafkaUsers and the
    ClickHouse role file, from the alert rules, dashboards, topics, ACLs and users.d.
    """
    if not (root / k8s.ALERT_RULES).exists():
        raise click.UsageError(
            f"{root.resolve()} is not the repository root (no {k8s.ALERT_RULES})"
        )
    if check:
        stale = k8s.stale_files(root)
        for path in stale:
            click.echo(f"stale: {path}")
        if stale:
            click.echo("run `regsosek k8s generate` and commit the result", err=True)
            sys.exit(1)
        click.echo("deploy/k8s generated files are up to date")
        return
    written = k8s.write_files(root)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo("deploy/k8s generated files are up to date")
