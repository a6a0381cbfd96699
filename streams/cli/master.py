"""``regsosek master``: region master data (and later rosters and targets)."""

from __future__ import annotations

from pathlib import Path

import click

from schemas.districts import DEFAULT_DISTRICTS_FILE
from schemas.extents import DEFAULT_EXTENTS_FILE
from schemas.regions import DEFAULT_REGIONS_FILE, Level, load_regions
from schemas.villages import DEFAULT_VILLAGES_FILE
from streams import district_build, extent_build, region_build
from streams.settings import Settings

DEFAULT_BRIDGE = Path(__file__).resolve().parents[3] / "shared" / "data" / "bps-kemendagri"


@click.group("master")
def command() -> None:
    """Master data the processors check and enrich submissions against."""


@command.command("build-regions")
@click.option(
    "--bridge-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_BRIDGE,
    show_default=True,
    help="Directory with the BPS<->Kemendagri bridge CSVs.",
)
@click.option("--version", "version", default=region_build.PACKAGE_VERSION, show_default=True)
@click.option(
    "--output", type=click.Path(path_type=Path), default=DEFAULT_REGIONS_FILE, show_default=True
)
def build_regions(bridge_dir: Path, version: str, output: Path) -> None:
    """Regenerate the shipped region master from the npm package idn-area-data."""
    count = region_build.build(bridge_dir, output, version)
    click.echo(f"Wrote {count} regions from idn-area-data {version} to {output}")


@command.command("build-extents")
@click.option("--version", "version", default=extent_build.PACKAGE_VERSION, show_default=True)
@click.option(
    "--output", type=click.Path(path_type=Path), default=DEFAULT_EXTENTS_FILE, show_default=True
)
def build_extents(version: str, output: Path) -> None:
    """Regenerate the regencies' GPS extents from the npm package geografis (MIT)."""
    count = extent_build.build(output, version)
    click.echo(f"Wrote the extents of {count} regencies from geografis {version} to {output}")


@command.command("build-districts")
@click.option("--version", "version", default=extent_build.PACKAGE_VERSION, show_default=True)
@click.option(
    "--output", type=click.Path(path_type=Path), default=DEFAULT_DISTRICTS_FILE, show_default=True
)
@click.option(
    "--villages-output",
    type=click.Path(path_type=Path),
    default=DEFAULT_VILLAGES_FILE,
    show_default=True,
)
def build_districts(version: str, output: Path, villages_output: Path) -> None:
    """Regenerate the map's district centroids and village points from geografis (MIT)."""
    districts, villages = district_build.build(output, version, villages_output=villages_output)
    click.echo(f"Wrote the centroids of {districts} districts from geografis {version} to {output}")
    click.echo(f"Wrote the points of {villages} villages to {villages_output}")


@command.command("regions")
@click.pass_obj
def regions(settings: Settings) -> None:
    """Count the areas of the region master in use, per level."""
    del settings
    master = load_regions()
    for level in Level:
        click.echo(f"{level.value:9} {master.count(level):>6}")
