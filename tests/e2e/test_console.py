"""The operator console in real headless Chromium, during a simulated run, against ground truth.

The whole stack as `make demo` runs it: the real broker, `regsosek worker` (the
embedded engine's owner), `regsosek gateway` serving the console and asking the
worker, and the simulator publishing a small Jember month (every district, with
mistakes, duplicates, revisions, supervisors' reviews and paradata). The page is
opened while the run goes on; it must update without a reload, and once the
worker has caught up every number it shows must equal the simulator's ground
truth: per district (enumerated, target, review states), the regency's tiles, the
rejections by reason. A supervisor then approves an interview from the review
queue, and the overview counts it. Screenshots of each page at the laptop and
the phone size go to ``TEST_CONSOLE_SCREENSHOTS`` when set (docs/console/ is
made this way), else to the test's temporary directory.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from simulator.config import ErrorRates, ReviewConfig, SimulationConfig
from simulator.launch import RunOptions, prepare, simulate
from simulator.truth import GroundTruth
from streams.settings import Settings
from streams.topics import ENUMERATOR_EVENTS, REVIEWS
from tests.backends import KafkaBackend
from tests.browser import LAPTOP, PHONE, OpenedPage, Viewport
from tests.gateway_harness import GatewayProcess
from tests.worker_harness import WorkerProcess

pytestmark = pytest.mark.e2e

CONFIG = SimulationConfig(
    scale=0.002,  # every Jember district, about 1,500 households
    seed=16,
    rates=ErrorRates(
        nik=0.01, area=0.01, age=0.01, duplicate=0.05, revision=0.04, corrupt=0.01, old_schema=0.02
    ),
    reviews=ReviewConfig(enabled=True, return_rate=0.1, reject_rate=0.01),
    paradata=True,
)
#: The issue's budget for the overview with a regency's data, measured once the run is idle.
LOAD_BUDGET_S = 2.0
TILES = (
    "total-target",
    "total-enumerated",
    "total-percent",
    "total-rejections",
    "total-awaiting",
    "total-approved",
    "total-returned",
)

NUMERIC_FIELDS = ("target", "enumerated", "percent", "approved", "returned", "awaiting_review")
OpenPageFactory = Callable[[Viewport], OpenedPage]


def sign_in(page: Page, url: str, token: str) -> float:
    """Open the console, sign in; seconds until the overview has rendered its data."""
    started = time.monotonic()
    page.goto(f"{url}/console/")
    page.fill("#token", token)
    page.click("[data-testid=sign-in]")
    page.wait_for_selector("[data-testid=page-overview][data-ready=true]", timeout=20_000)
    page.wait_for_selector("path[data-district]", timeout=20_000)
    return time.monotonic() - started


def tiles(page: Page) -> dict[str, float | None]:
    values: dict[str, str] = page.eval_on_selector_all(
        "[data-testid^=total-]",
        "els => Object.fromEntries(els.map(e => [e.dataset.testid, e.dataset.value ?? '']))",
    )
    return {key: _number(value) for key, value in values.items()}


def _number(value: str | None) -> float | None:
    return float(value) if value not in ("", None) else None


def district_rows(page: Page) -> dict[str, dict[str, float | None]]:
    rows: dict[str, dict[str, str]] = page.eval_on_selector_all(
        "tr[data-district]",
        """rows => Object.fromEntries(rows.map(r => [r.dataset.district, Object.fromEntries(
            [...r.querySelectorAll('td[data-field]')].map(c => [c.dataset.field,
            c.dataset.value ?? ''])) ]))""",
    )
    return {
        code: {key: _number(value) for key, value in cells.items() if key in NUMERIC_FIELDS}
        for code, cells in rows.items()
    }


def wait_for_tiles(page: Page, want: dict[str, float], timeout_s: float = 60.0) -> None:
    """Until every tile shows its expected value (pushed by the live stream, never a reload)."""
    deadline = time.monotonic() + timeout_s
    wrong: dict[str, tuple[float, float | None]] = {}
    while time.monotonic() < deadline:
        shown = tiles(page)
        wrong = {
            key: (value, shown.get(key)) for key, value in want.items() if shown.get(key) != value
        }
        if not wrong:
            return
        time.sleep(0.5)
    raise AssertionError(f"tiles differ from the truth (truth, page): {wrong}")


def shoot(page: Page, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=False)


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"))


def expected_rows(truth: GroundTruth) -> dict[str, dict[str, float]]:
    return {
        code: {
            "enumerated": district.by_result.get("COMPLETE", 0),
            "target": district.target,
            "approved": district.approved,
            "returned": district.returned,
            "awaiting_review": district.awaiting_review,
        }
        for code, district in truth.districts.items()
    }


def test_the_console_shows_the_ground_truth_live_in_chromium(
    kafka: KafkaBackend,
    tmp_path: Path,
    unique_topic: Callable[[str], str],
    page: OpenPageFactory,
) -> None:
    shots = Path(os.environ.get("TEST_CONSOLE_SCREENSHOTS") or tmp_path / "shots")
    prefix = unique_topic("console").replace(".", "-")
    settings = Settings(
        state_dir=tmp_path, kafka_bootstrap=kafka.bootstrap, topic_prefix=prefix, topic_partitions=3
    )
    prepared = prepare(settings, CONFIG)
    worker = WorkerProcess(kafka.bootstrap, prefix, tmp_path)
    worker.start()
    gateway = GatewayProcess(
        kafka.bootstrap,
        prefix,
        tmp_path,
        prepared.tokens_file,
        f"http://127.0.0.1:{worker.web_port}",
        worker.operator_token,
    )
    truth_path = tmp_path / "truth.json"
    failure: list[BaseException] = []

    def run() -> None:
        try:
            simulate(
                settings,
                CONFIG,
                RunOptions(duration_s=25, progress=False, truth_path=truth_path),
                prepared=prepared,
            )
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)

    try:
        gateway.start()
        simulator = threading.Thread(target=run, name="simulate")
        simulator.start()
        laptop = page(LAPTOP)
        sign_in(laptop.page, gateway.url, worker.operator_token)
        laptop.page.wait_for_selector("[data-testid=live-status][data-state=live]")
        # A reload or a navigation would start a new document without this mark.
        laptop.page.evaluate("window.__regsosekSameDocument = true")
        # Live: the enumerated total moves while the run goes on, with no reload.
        seen: list[float | None] = []
        began, shot = time.monotonic(), False
        while simulator.is_alive():
            value = tiles(laptop.page).get("total-enumerated")
            if not seen or value != seen[-1]:
                seen.append(value)
            if not shot and time.monotonic() - began > 12:  # mid-month: the map in colours
                shoot(laptop.page, shots, "overview-live-laptop")
                shot = True
            time.sleep(0.5)
        simulator.join()
        assert not failure, failure
        assert len([v for v in seen if v]) >= 2, f"the page did not move during the run: {seen}"
        assert laptop.page.evaluate("window.__regsosekSameDocument === true"), "page reloaded"
        worker.wait_idle(also=(REVIEWS, ENUMERATOR_EVENTS))
        truth = GroundTruth.read(truth_path)
        expected = expected_rows(truth)
        want = {
            "total-target": sum(r["target"] for r in expected.values()),
            "total-enumerated": sum(r["enumerated"] for r in expected.values()),
            "total-rejections": truth.rejected_messages,
            "total-approved": sum(r["approved"] for r in expected.values()),
            "total-awaiting": sum(r["awaiting_review"] for r in expected.values()),
            "total-returned": sum(r["returned"] for r in expected.values()),
        }
        wait_for_tiles(laptop.page, want)
        rows = district_rows(laptop.page)
        wrong = {
            (code, field): (value, (rows.get(code) or {}).get(field))
            for code, want in expected.items()
            for field, value in want.items()
            if (rows.get(code) or {}).get(field) != value
        }
        assert not wrong, f"district rows differ from the truth (truth, page): {wrong}"
        cells = laptop.page.eval_on_selector_all(
            "path[data-district]", "els => els.map(e => e.dataset.district)"
        )
        assert set(expected) <= set(cells)  # every simulated district is on the map
        assert not laptop.problems(), laptop.problems()
        shoot(laptop.page, shots, "overview-laptop")

        # Loading the overview with the regency's data, the run idle: the 2 s.
        fresh = page(LAPTOP)
        load_s = sign_in(fresh.page, gateway.url, worker.operator_token)
        print(f"\nconsole overview loaded with Jember's data in {load_s:.2f} s")
        assert load_s < LOAD_BUDGET_S, f"overview took {load_s:.2f} s"

        _rejections(laptop.page, truth, shots)
        _district(laptop.page, truth, shots)
        _health(laptop.page, shots)
        _phone(page(PHONE), gateway, worker.operator_token, shots)
        _review(page(LAPTOP), gateway, prepared.tokens, worker.operator_token, shots)
        assert not laptop.problems(), laptop.problems()
    finally:
        gateway.stop()
        worker.stop()


def _rejections(page: Page, truth: GroundTruth, shots: Path) -> None:
    page.goto(page.url.split("#")[0] + "#/rejections")
    page.wait_for_selector("[data-testid=page-rejections][data-ready=true]")
    counts: dict[str, str] = page.eval_on_selector_all(
        "[data-testid=by-reason] [data-code]",
        "els => Object.fromEntries(els.map(e => [e.dataset.code, e.dataset.value ?? '']))",
    )
    assert {code: int(n) for code, n in counts.items()} == truth.rejections_by_reason
    assert page.locator("tr[data-household]").count() > 0
    shoot(page, shots, "rejections-laptop")


def _district(page: Page, truth: GroundTruth, shots: Path) -> None:
    district = max(truth.districts.values(), key=lambda d: d.by_result.get("COMPLETE", 0))
    page.goto(page.url.split("#")[0] + f"#/district/{district.code}")
    page.wait_for_selector("[data-testid=page-district][data-ready=true]")
    villages: list[str] = page.eval_on_selector_all(
        "tr[data-village] td[data-field=enumerated]", "els => els.map(e => e.dataset.value)"
    )
    assert sum(int(v or 0) for v in villages) == district.by_result.get("COMPLETE", 0)
    assert page.locator("tr[data-enumerator]").count() > 0
    shoot(page, shots, "district-laptop")


def _health(page: Page, shots: Path) -> None:
    page.goto(page.url.split("#")[0] + "#/health")
    page.wait_for_selector("[data-testid=page-health][data-ready=true]")
    lag: Any = page.eval_on_selector_all(
        "tr[data-topic] td[data-field=lag]", "els => els.map(e => Number(e.dataset.value))"
    )
    assert lag and all(value == 0 for value in lag), lag
    shoot(page, shots, "health-laptop")


def _phone(phone: OpenedPage, gateway: GatewayProcess, token: str, shots: Path) -> None:
    sign_in(phone.page, gateway.url, token)
    assert no_horizontal_scroll(phone.page)
    assert phone.page.locator("path[data-district]").first.is_visible()
    shoot(phone.page, shots, "overview-phone")
    phone.page.goto(phone.page.url.split("#")[0] + "#/rejections")
    phone.page.wait_for_selector("[data-testid=page-rejections][data-ready=true]")
    assert no_horizontal_scroll(phone.page)
    shoot(phone.page, shots, "rejections-phone")
    assert not phone.problems(), phone.problems()


def _review(
    opened: OpenedPage, gateway: GatewayProcess, tokens: dict[str, str], operator: str, shots: Path
) -> None:
    """A supervisor approves the first interview of their queue; the overview counts it."""
    overview = gateway.get("/console/api/overview", operator)
    approved_before = sum(s["approved"] for s in overview["review_status"].values())
    queues = {
        who: gateway.get("/console/api/reviews", tokens[who])
        for who in sorted(tokens)
        if len(who) == 3  # supervisors (PML) have 3-digit ids, enumerators 4
    }
    who, queue = max(queues.items(), key=lambda item: len(item[1]["awaiting"]))
    assert queue["awaiting"], "no interview awaits review in any team"
    page = opened.page
    page.goto(f"{gateway.url}/console/")
    page.fill("#token", tokens[who])
    page.click("[data-testid=sign-in]")
    page.wait_for_selector("[data-testid=page-overview][data-ready=true]")
    page.goto(f"{gateway.url}/console/#/reviews")
    page.wait_for_selector("[data-testid=page-reviews][data-ready=true]")
    assert page.locator("tr[data-household]").count() == len(queue["awaiting"])
    shoot(page, shots, "reviews-laptop")
    first = page.locator("tr[data-household]").first
    household = first.get_attribute("data-household")
    first.locator("[data-decision=APPROVED]").click()
    first.locator("[data-state=sent]").wait_for()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        overview = gateway.get("/console/api/overview", operator)
        if sum(s["approved"] for s in overview["review_status"].values()) == approved_before + 1:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the approval of {household} never reached the overview")
    assert not opened.problems(), opened.problems()
