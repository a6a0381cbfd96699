"""deploy/setup-system.sh: what `make setup` installs, decided on a PATH of fakes.

The script runs with PATH holding only fake tools: ``id`` says who we are, ``apt-get``
records its arguments (and "installs" by writing the fake tools a package provides), so
nothing on the machine is installed or changed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import INSTALL_COMMAND

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "setup-system.sh"
BASH = shutil.which("bash") or "/bin/bash"
EVERYTHING = ("java", "mvn", "promtool", "prometheus", "chromium")
INSTALL = ["install", "-y", "-q", "--no-install-recommends"]

#: What the fake apt-get "installs": package -> tools it puts on PATH.
PROVIDES = {
    "openjdk-17-jre-headless": ["java"],
    "maven": ["mvn"],
    "prometheus": ["promtool", "prometheus"],
    "chromium": ["chromium"],
}

FAKE_APT = """#!{python}
import json, os, sys
from pathlib import Path
with open({calls!r}, "a") as out:
    out.write(json.dumps(sys.argv[1:]) + "\\n")
if {installs!r} and sys.argv[1] == "install":
    for package in sys.argv[2:]:
        for tool in {provides!r}.get(package, []):
            path = Path({bin!r}) / tool
            path.write_text("#!/bin/sh\\nexit 0\\n")
            path.chmod(0o755)
"""


@dataclass
class Machine:
    """A directory of fake tools standing in for the machine's PATH."""

    bin: Path
    venv: Path
    calls: Path

    def tool(self, name: str, body: str = "exit 0") -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def apt_calls(self) -> list[list[str]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]

    def run(
        self, *args: str, python: str = "python3", chromium: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": str(self.bin), "PYTHON": python, "VENV": str(self.venv)}
        if chromium is not None:
            env["REGSOSEK_CHROMIUM"] = chromium
        return subprocess.run(
            [BASH, str(SCRIPT), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


def _machine(tmp_path: Path, *, root: bool = True, apt_installs: bool = True) -> Machine:
    """Every tool present, a venv already made, apt-get faked."""
    bin_dir, venv = tmp_path / "bin", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    machine = Machine(bin_dir, venv, tmp_path / "apt-calls.jsonl")
    (venv / "bin" / "python").symlink_to(sys.executable)
    machine.tool("id", f"echo {0 if root else 1000}")
    for tool in (*EVERYTHING, "python3"):
        machine.tool(tool)
    apt = FAKE_APT.format(
        python=sys.executable,
        calls=str(machine.calls),
        installs=apt_installs,
        provides=PROVIDES,
        bin=str(bin_dir),
    )
    (bin_dir / "apt-get").write_text(apt)
    (bin_dir / "apt-get").chmod(0o755)
    return machine


def _remove(machine: Machine, *tools: str) -> None:
    for tool in tools:
        (machine.bin / tool).unlink()


def test_everything_present_installs_and_prints_nothing(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    result = machine.run()
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert machine.apt_calls() == []


def test_missing_promtool_installs_prometheus_as_root(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    _remove(machine, "promtool", "prometheus")
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == [["update", "-q"], [*INSTALL, "prometheus"]]
    # Idempotent: the second run finds everything and calls apt-get no more.
    again = machine.run()
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert len(machine.apt_calls()) == 2


def test_one_update_and_one_install_for_everything_missing(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    _remove(machine, *EVERYTHING)
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == [
        ["update", "-q"],
        [*INSTALL, "openjdk-17-jre-headless", "maven", "prometheus", "chromium"],
    ]


def test_missing_chromium_installs_debians_package(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    _remove(machine, "chromium")
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == [["update", "-q"], [*INSTALL, "chromium"]]


def test_a_chromium_named_by_regsosek_chromium_needs_no_package(tmp_path: Path) -> None:
    machine = _machine(tmp_path, root=False)
    _remove(machine, "chromium")
    elsewhere = tmp_path / "opt-chromium"
    elsewhere.write_text("#!/bin/sh\nexit 0\n")
    elsewhere.chmod(0o755)
    assert machine.run(chromium=str(elsewhere)).returncode == 0
    result = machine.run(chromium=str(tmp_path / "not-there"))
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith(f"run: {INSTALL_COMMAND}")  # the browser tests' hint
    assert machine.apt_calls() == []


def test_not_root_prints_the_exact_command_and_fails(tmp_path: Path) -> None:
    machine = _machine(tmp_path, root=False)
    _remove(machine, "promtool", "mvn")
    result = machine.run()
    assert result.returncode == 1
    assert machine.apt_calls() == []
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(
        "sudo apt-get update && sudo apt-get install -y -q --no-install-recommends maven prometheus"
    )
    assert "mvn" in lines[0] and "promtool" in lines[0]


def test_without_apt_it_names_what_is_missing(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    _remove(machine, "apt-get", "java")
    result = machine.run()
    assert result.returncode == 1
    assert "missing java" in result.stderr and "Java 17" in result.stderr


def test_a_failed_install_is_reported(tmp_path: Path) -> None:
    machine = _machine(tmp_path, apt_installs=False)
    _remove(machine, "prometheus")
    result = machine.run()
    assert result.returncode == 1
    assert "still missing prometheus" in result.stderr


@pytest.mark.parametrize(
    ("python", "package"), [("python3", "python3-venv"), ("python3.11", "python3.11-venv")]
)
def test_venv_module_is_checked_before_the_venv_exists(
    tmp_path: Path, python: str, package: str
) -> None:
    machine = _machine(tmp_path)
    shutil.rmtree(machine.venv)
    machine.tool(python, "exit 1")  # `import ensurepip` fails: Debian without pythonX-venv
    result = machine.run(python=python)
    assert machine.apt_calls()[-1] == [*INSTALL, package]
    assert result.returncode == 1  # the fake apt-get does not provide ensurepip
    assert "still missing" in result.stderr


def test_an_existing_venv_needs_no_venv_module(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    machine.tool("python3", "exit 1")
    assert machine.run().returncode == 0
    assert machine.apt_calls() == []


def test_venv_mode_checks_only_the_venv_module(tmp_path: Path) -> None:
    machine = _machine(tmp_path, root=False)
    _remove(machine, *EVERYTHING)
    shutil.rmtree(machine.venv)
    assert machine.run("venv").returncode == 0
    machine.tool("python3", "exit 1")
    result = machine.run("venv")
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith("--no-install-recommends python3-venv")


def test_setup_checks_the_system_before_the_venv_and_ci_only_runs_make_test() -> None:
    makefile = (ROOT / "Makefile").read_text()
    setup = re.search(r"^setup: (.*?) ##", makefile, flags=re.MULTILINE)
    assert setup is not None
    prerequisites = setup.group(1).split()
    assert prerequisites.index("system-packages") < prerequisites.index("$(STAMP)")
    for target in ("test", "demo", "bench"):
        assert re.search(rf"^{target}: setup\b", makefile, flags=re.MULTILINE), target
    commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands[-1] == "make test"
    assert not any("apt-get" in line for line in commands)
