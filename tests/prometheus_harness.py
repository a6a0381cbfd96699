"""A real Prometheus server for tests, and the queries the dashboards and alert rules use.

:class:`PrometheusServer` runs Debian's ``prometheus`` binary on a free port
with a temporary configuration and storage directory, scraping the given
targets every second and loading the given rule files.

The query helpers read what operators will run: every panel target's ``expr``
of ``monitoring/dashboards/*.json`` (Grafana's interval variables replaced the
way Grafana would) and every alert rule's ``expr``. An alert expression is a
condition (``query > 0.1``), so it is empty exactly when all is well; to check
that it asks about series that exist, :func:`alert_queries` splits it into the
queries it compares: at top-level ``or``, ``and``/``unless`` and comparison
operators (with their ``bool``/``on``/``ignoring``/``group_*`` modifiers),
dropping number literals and evaluating ``x`` for ``absent(x)``. Arithmetic
stays whole: ``a / b > 0.1`` is checked as ``a / b``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backends import free_port

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "monitoring" / "dashboards"
ALERTS = ROOT / "monitoring" / "alerts"
DEBIAN_PACKAGE_HINT = "install Debian's `prometheus` package (`apt-get install -y prometheus`)"

#: Grafana's built-in interval variables, as Grafana would fill them for a short range.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}

_OPEN, _CLOSE = "([{", ")]}"
_SET_OPERATORS = (("or",), ("and", "unless"))
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_MODIFIER = re.compile(
    r"^\s*(?:bool\b|(?:on|ignoring|group_left|group_right)\b\s*(?:\([^)]*\))?)\s*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)
_IDENT = re.compile(r"[A-Za-z0-9_:]")


def require_binary(name: str) -> str:
    """Path of ``name``; fails the test (never skips) with how to install it."""
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/bin") / name, Path("/usr/sbin") / name) if p.is_file()), None
    )
    if path is None:
        pytest.fail(f"`{name}` not found: {DEBIAN_PACKAGE_HINT}; `make setup` installs it")
    return path


# --- the queries ----------------------------------------------------------------------


def _scan(expr: str) -> Iterator[tuple[int, int, str]]:
    """(index, nesting depth, character) outside string literals."""
    depth, quote = 0, ""
    for index, char in enumerate(expr):
        if quote:
            if char == quote and expr[index - 1] != "\\":
                quote = ""
            continue
        if char in "\"'`":
            quote = char
            continue
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        yield index, depth, char


def strip_parens(expr: str) -> str:
    """``(x)`` -> ``x`` while the outer pair encloses the whole expression."""
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        closes = [i for i, depth, char in _scan(expr) if char == ")" and depth == 0]
        if closes != [len(expr) - 1]:
            break
        expr = expr[1:-1].strip()
    return expr


def split_top_level(expr: str, operators: Sequence[str]) -> list[str]:
    """``expr`` cut at each top-level occurrence of one of ``operators``."""
    parts, start, skip_to = [], 0, 0
    for index, depth, _char in _scan(expr):
        if depth != 0 or index < skip_to:
            continue
        for op in sorted(operators, key=len, reverse=True):
            if not expr.startswith(op, index):
                continue
            if op[0].isalpha():  # a keyword: whole words only
                before = expr[index - 1] if index else " "
                after = expr[index + len(op)] if index + len(op) < len(expr) else " "
                if _IDENT.match(before) or _IDENT.match(after):
                    continue
            elif expr[index - 1 : index] in "=!<>" and index > 0:
                continue  # the second character of a two-character operator
            parts.append(expr[start:index])
            start = skip_to = index + len(op)
            break
    parts.append(expr[start:])
    return [part.strip() for part in parts]


def _strip_modifiers(part: str) -> str:
    while True:
        stripped = _MODIFIER.sub("", part, count=1)
        if stripped == part:
            return part.strip()
        part = stripped


def alert_queries(expr: str) -> list[str]:
    """The queries an alert condition compares (see the module docstring)."""
    expr = strip_parens(_strip_modifiers(expr))
    for operators in (*_SET_OPERATORS, _COMPARISONS):
        parts = split_top_level(expr, operators)
        if len(parts) > 1:
            return [query for part in parts for query in alert_queries(part)]
    if _NUMBER.match(expr):
        return []
    absent = re.fullmatch(r"absent\s*\((.*)\)", expr, flags=re.DOTALL)
    if absent:
        return alert_queries(absent.group(1))
    return [expr]


def _panels(panels: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def dashboard_targets(datasource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(dashboard file, panel title, target) of every target of that data source type."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(board.get("panels") or []):
            for target in panel.get("targets") or []:
                source = target.get("datasource") or panel.get("datasource") or {}
                if source.get("type") == datasource_type:
                    found.append((path.name, str(panel.get("title")), target))
    return found


def grafana_promql(expr: str) -> str:
    """A panel's PromQL with Grafana's interval variables filled in."""
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def dashboard_promql() -> list[tuple[str, str]]:
    """(where, PromQL) for every Prometheus panel target."""
    return [
        (f"{board} / {title} / {target['refId']}", grafana_promql(target["expr"]))
        for board, title, target in dashboard_targets("prometheus")
    ]


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of every group of every ``monitoring/alerts/*.yml``."""
    rules = []
    for path in sorted(ALERTS.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules.extend(group["rules"])
    return rules


def alert_promql() -> list[tuple[str, str]]:
    """(where, PromQL) for every query inside every alert condition."""
    return [
        (f"alert {rule.get('alert') or rule.get('record')} / {query}", query)
        for rule in alert_rules()
        for query in alert_queries(str(rule["expr"]))
    ]


# --- the server -----------------------------------------------------------------------


@dataclass
class PrometheusServer:
    """Debian's Prometheus on a free port, scraping ``jobs`` every second."""

    workdir: Path
    jobs: dict[str, list[str]]  # job name -> host:port targets
    rule_files: list[Path] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        return {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": t}]}
                for job, t in self.jobs.items()
            ],
        }

    def start(self, timeout_s: float = 60.0) -> None:
        binary = require_binary("prometheus")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config()), encoding="utf-8")
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.workdir)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log.read_text()[-3000:]}")
            if self._get("/-/ready") is not None:
                return
            time.sleep(0.3)
        raise AssertionError(f"prometheus not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310
                body: bytes = response.read()
                return body
        except (urllib.error.URLError, OSError):
            return None

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a successful /api/v1 answer; AssertionError with Prometheus' error."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as r:  # noqa: S310
                answer = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            answer = json.loads(exc.read() or b"{}")
        assert answer.get("status") == "success", f"{path} {params}: {answer}"
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar, as one sample) of ``expr`` now."""
        data = self.api("query", query=expr)
        if data["resultType"] in {"scalar", "string"}:
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float:
        """The single value of ``expr``; NaN when it has no sample."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else float("nan")

    def wait_for(self, expr: str, expected: float, timeout_s: float = 60.0) -> float:
        """Until ``expr`` has the value ``expected`` (the scrapes catch up)."""
        deadline = time.monotonic() + timeout_s
        last = float("nan")
        while time.monotonic() < deadline:
            last = self.value(expr)
            if last == expected:
                return last
            time.sleep(0.5)
        raise AssertionError(f"{expr} = {last}, expected {expected}")


# --- what the code exports ------------------------------------------------------------


class _NoOffsets:
    """An offset source that is never asked (no refresh runs in these registries)."""

    def log_offsets(self, topics: Sequence[str]) -> tuple[dict[Any, int], dict[Any, int]]:
        return {}, {}

    def committed(self, group: str) -> dict[Any, int]:
        return {}

    def close(self) -> None:
        return None


def exported_families() -> dict[str, str]:
    """Family name as exposed (counters with ``_total``) -> type, of the worker and gateway.

    Built the way the processes build them: ``instrument_worker`` on a Faust app
    (Faust's sensor included) and the gateway's observer, each on a fresh registry.
    """
    import faust  # noqa: PLC0415 - heavy, only for the tests that need it
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from monitoring.gateway import PrometheusGatewayObserver  # noqa: PLC0415
    from monitoring.worker import WorkerTopics, instrument_worker  # noqa: PLC0415

    app = faust.App("families-worker", broker="kafka://127.0.0.1:1")
    worker = CollectorRegistry()
    topics = WorkerTopics("g", "s", "s.valid", "s.rejected")
    instrument_worker(app, topics, bootstrap="127.0.0.1:1", registry=worker, offsets=_NoOffsets())
    gateway = PrometheusGatewayObserver.create(CollectorRegistry()).registry
    families: dict[str, str] = {}
    for registry in (worker, gateway):
        for family in registry.collect():
            name = family.name + ("_total" if family.type == "counter" else "")
            families[name] = family.type
    return families


def sample_names(families: dict[str, str]) -> set[str]:
    """Every sample name those families can expose (histogram buckets, counts, sums)."""
    names: set[str] = set()
    for name, kind in families.items():
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return names
