"""The supply chain: one lock file with hashes, used by `make setup`, CI and the image.

A dependency added to pyproject.toml without `make lock` would be installed by
nobody (pip installs the lock, then the project with ``--no-deps``): these
tests say so before an import fails somewhere else.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def locked() -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes), read from the lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            pins[current] = (match[2], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(d) for d in project["dependencies"]] + [
        Requirement(d) for d in project["optional-dependencies"]["dev"]
    ]


def test_every_declared_dependency_is_locked_at_a_version_it_allows() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock has {name}=={version}, pyproject.toml asks {requirement}: "
            "run `make lock`"
        )


def test_every_pin_carries_its_hashes() -> None:
    pins = locked()
    assert len(pins) > len(declared()), "the lock holds the transitive dependencies too"
    assert not [name for name, (_, hashes) in pins.items() if hashes == 0]
    for tool in ("pip", "setuptools"):  # what installs and builds is pinned as well
        assert canonicalize_name(tool) in pins


def test_setup_and_the_image_install_the_lock_with_hashes() -> None:
    install = "--require-hashes -r"
    assert f"{install} $(LOCK)" in (ROOT / "Makefile").read_text()
    assert "LOCK   := requirements.lock" in (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml requirements.lock ./" in dockerfile
    assert f"{install} requirements.lock" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "requirements.lock" not in ignored and "*.lock" not in ignored
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install" not in ci, "CI installs through make setup, from the lock"
