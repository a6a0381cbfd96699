"""Headless Chromium for the tests of pages a browser renders (issue #16).

The browser is Debian's ``chromium``, which ``make setup`` installs
(deploy/setup-system.sh), or the binary ``REGSOSEK_CHROMIUM`` names; Playwright's own
browser download is never used (it fails on a closed network, and would be a second,
unpinned browser). When neither is there the fixture fails with the command to run: a
skip would let a run without a browser pass.

One browser per session, launched on first use; every test gets fresh contexts (no
cookies or storage shared between tests) through the ``page`` factory, in the laptop
or the phone viewport, with the page's console messages and uncaught errors collected
so a test can assert there were none.

Playwright's sync API keeps its event loop marked as running in the calling thread
between calls. Left like that, every later test in the session that calls
``asyncio.run`` would fail ("cannot be called from a running event loop"). So the loop
is parked (unmarked) whenever no test holds the browser, and marked again only while
one does; a test that uses the browser must be a sync test and start any server it
needs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from playwright.sync_api import Error as PlaywrightError

#: Without these Chromium phones home (updates, sync, field trials, QUIC probes) on a
#: network where every such call hangs; Playwright adds a fresh --user-data-dir.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_COMMAND = (
    "sudo apt-get update && sudo apt-get install -y -q --no-install-recommends chromium"
)
#: Every wait of a page action: a broken page fails in seconds, not Playwright's 30 s.
ACTION_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Viewport:
    """A screen the pages must work on: the field's laptop or the enumerator's phone."""

    name: str
    width: int
    height: int
    mobile: bool = False


LAPTOP = Viewport("laptop", 1366, 768)
PHONE = Viewport("phone", 390, 844, mobile=True)
VIEWPORTS = (LAPTOP, PHONE)


def chromium_path(environ: dict[str, str] | None = None) -> str:
    """The Chromium binary to drive, or a failure naming the command that installs it."""
    env = os.environ if environ is None else environ
    named = env.get("REGSOSEK_CHROMIUM")
    if named:
        if os.access(named, os.X_OK) and Path(named).is_file():
            return named
        pytest.fail(f"REGSOSEK_CHROMIUM={named} is not an executable file", pytrace=False)
    found = shutil.which("chromium", path=env.get("PATH"))
    if found is None:
        pytest.fail(
            "the browser tests need Chromium and none is on PATH: run `make setup` "
            f"(as root it installs Debian's chromium), or: {INSTALL_COMMAND}; "
            "or set REGSOSEK_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    return found


@dataclass
class OpenedPage:
    """A page in a context of its own, and what its console and scripts reported."""

    page: Page
    viewport: Viewport
    console: list[ConsoleMessage] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    # Playwright's event handlers: it tags each, so a builtin like list.append cannot be one.
    def on_console(self, message: ConsoleMessage) -> None:
        self.console.append(message)

    def on_page_error(self, error: PlaywrightError) -> None:
        self.page_errors.append(str(error))

    def on_request_failed(self, request: Request) -> None:
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def console_errors(self) -> list[str]:
        return [f"{m.type}: {m.text} ({m.location})" for m in self.console if m.type == "error"]

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and requests that never got an answer.

        Empty for a healthy page: tests assert ``opened.problems() == []`` so the
        message shows each problem.
        """
        return [
            *self.console_errors(),
            *(f"uncaught: {error}" for error in self.page_errors),
            *(f"request failed: {request}" for request in self.failed_requests),
        ]


class _LoopParking:
    """Marks Playwright's loop as running only while a test holds the browser."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def park(self) -> None:
        self._loop = asyncio._get_running_loop()
        asyncio._set_running_loop(None)

    def resume(self) -> None:
        running = asyncio._get_running_loop()
        if running is not None:
            pytest.fail(
                "the browser fixtures use Playwright's sync API: they need a sync test, "
                f"not one inside a running event loop ({running!r})",
                pytrace=False,
            )
        asyncio._set_running_loop(self._loop)


@dataclass(frozen=True)
class ChromiumSession:
    """The run's one browser, which binary it is and what starting it cost."""

    browser: Browser
    executable: str
    launch_seconds: float
    parking: _LoopParking


@pytest.fixture(scope="session")
def chromium_session() -> Iterator[ChromiumSession]:
    """One Chromium for the whole run, its event loop parked between tests."""
    executable = chromium_path()
    parking = _LoopParking()
    parking.resume()  # refuses to start inside a running loop, with the reason
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS), headless=True
        )
        session = ChromiumSession(browser, executable, time.monotonic() - started, parking)
        parking.park()
        try:
            yield session
        finally:
            parking.resume()
            browser.close()
    # Leaving sync_playwright closed its loop and unmarked it.


@pytest.fixture
def browser(chromium_session: ChromiumSession) -> Iterator[Browser]:
    """The session's headless Chromium, usable for the length of one sync test."""
    chromium_session.parking.resume()
    try:
        yield chromium_session.browser
    finally:
        chromium_session.parking.park()


@pytest.fixture
def page(browser: Browser) -> Iterator[Callable[[Viewport], OpenedPage]]:
    """Factory: a new page in a fresh context of the given viewport, closed after the test."""
    opened: list[OpenedPage] = []

    def open_page(viewport: Viewport = LAPTOP) -> OpenedPage:
        context = browser.new_context(
            viewport={"width": viewport.width, "height": viewport.height},
            device_scale_factor=1,  # screenshots in CSS pixels: the viewport's size
            is_mobile=viewport.mobile,
            has_touch=viewport.mobile,
            service_workers="block",
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        new = OpenedPage(context.new_page(), viewport)
        new.page.on("console", new.on_console)
        new.page.on("pageerror", new.on_page_error)
        new.page.on("requestfailed", new.on_request_failed)
        opened.append(new)
        return new

    yield open_page
    for each in opened:
        # A browser that went away has failed the test already.
        with contextlib.suppress(PlaywrightError):
            each.page.context.close()
