"""Regenerate the shipped region master from the npm package ``idn-area-data``.

``regsosek master build-regions`` runs ``npm pack`` (the registry is reachable
where the internet is not), reads the package's four CSV tables, joins the
BPS↔Kemendagri bridge down to district, and writes
``schemas/data/regions.csv.gz`` beside the package's ODbL licence. The
derived file is committed so workers need neither npm nor network.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from schemas.errors import DownloadError, MissingToolError
from schemas.regions import DEFAULT_REGIONS_FILE, kemendagri_regions, write_regions

PACKAGE = "idn-area-data"
PACKAGE_VERSION = "4.0.1"
TABLES = ("provinces", "regencies", "districts", "villages")
BRIDGE_FILES = ("provinsi.csv", "kabkota.csv", "kecamatan.csv")


def fetch_package(version: str, workdir: Path, package: str = PACKAGE) -> Path:
    """Unpack the npm package into ``workdir`` and return its ``data`` directory."""
    npm = shutil.which("npm")
    if npm is None:
        raise MissingToolError("`npm` not found on PATH: install Node.js and npm")
    result = subprocess.run(
        [npm, "pack", f"{package}@{version}", "--silent"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DownloadError(f"npm pack {package}@{version} failed: {result.stderr.strip()[:300]}")
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package" / "data"


def read_bridge(bridge_dir: Path) -> dict[str, str]:
    """Kemendagri code without dots → BPS code, for provinces, regencies and districts."""
    bridge: dict[str, str] = {}
    for name in BRIDGE_FILES:
        with (bridge_dir / name).open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                bridge[row["kode_dagri"]] = row["kode_bps"]
    return bridge


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def build(
    bridge_dir: Path, output: Path = DEFAULT_REGIONS_FILE, version: str = PACKAGE_VERSION
) -> int:
    """Fetch, join and write; returns the number of regions written."""
    with tempfile.TemporaryDirectory(prefix="idn-area-") as tmp:
        data = fetch_package(version, Path(tmp))
        tables = {table: list(_rows(data / f"{table}.csv")) for table in TABLES}
        count = write_regions(kemendagri_regions(tables, read_bridge(bridge_dir)), output)
        shutil.copyfile(data / "LICENSE.md", output.parent / "LICENSE-ODbL.md")
    return count
