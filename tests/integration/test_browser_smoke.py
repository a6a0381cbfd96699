"""The browser fixtures against a real headless Chromium and a real local HTTP server.

A tiny page is served from 127.0.0.1 in a thread (a browser test is a sync test: no
event loop of its own), opened on the laptop and on the phone, its button pressed the
way each would (click, tap), and its screenshot checked to be a PNG of the viewport.
A page that logs an error, throws, and asks a port nobody listens on must show all
three as problems: otherwise "no problems" would prove nothing. Launch and first-page
times are printed (``-s``) and recorded as test properties, not asserted.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import VIEWPORTS, ChromiumSession, OpenedPage, Viewport

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HEAD = """<!doctype html><html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>Uji asap</title>"""

COUNTER = f"""{HEAD}
<style>body {{ font-family: sans-serif; margin: 0; padding: 1rem; background: #eef2f5 }}
button {{ font-size: 1.2rem; padding: .8rem 1.2rem }}</style></head>
<body><h1>Rumah tangga</h1><p id="status">belum dihitung</p>
<button id="count" type="button">Hitung</button><p id="input"></p>
<script>
let households = 0;
document.getElementById("count").addEventListener("click", () => {{
  households += 1;
  document.getElementById("status").textContent = `dihitung ${{households}}`;
}});
document.getElementById("input").textContent = navigator.maxTouchPoints > 0 ? "sentuh" : "tetikus";
</script></body></html>"""

BROKEN = f"""{HEAD}</head><body><p>rusak</p>
<img src="http://127.0.0.1:9/nowhere.png" alt="">
<script>console.error("sengaja gagal"); throw new Error("kaput");</script>
</body></html>"""

PAGES = {"/": COUNTER, "/broken": BROKEN}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        self.send_response(200 if body is not None else 404)
        data = (body or "not found").encode()
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The pages' base URL, served by a thread for the module's tests."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, name="smoke-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, which the format puts first."""
    assert data[:8] == PNG_SIGNATURE, data[:8]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: v.name)
def test_a_page_works_on_laptop_and_phone(
    chromium_session: ChromiumSession,
    page: Callable[[Viewport], OpenedPage],
    site: str,
    viewport: Viewport,
    *,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    started = time.monotonic()
    opened = page(viewport)
    opened.page.goto(f"{site}/")
    expect(opened.page.locator("#status")).to_have_text("belum dihitung")
    first_page = time.monotonic() - started

    assert opened.page.evaluate("[window.innerWidth, window.innerHeight]") == [
        viewport.width,
        viewport.height,
    ]
    expected_input = "sentuh" if viewport.mobile else "tetikus"
    expect(opened.page.locator("#input")).to_have_text(expected_input)
    button = opened.page.get_by_role("button", name="Hitung")
    for _ in range(2):
        if viewport.mobile:
            button.tap()
        else:
            button.click()
    expect(opened.page.locator("#status")).to_have_text("dihitung 2")

    shot = tmp_path / f"{viewport.name}.png"
    opened.page.screenshot(path=shot)
    assert _png_size(shot.read_bytes()) == (viewport.width, viewport.height)
    assert opened.problems() == []

    version = chromium_session.browser.version
    record_property("chromium_version", version)
    record_property("launch_seconds", round(chromium_session.launch_seconds, 3))
    record_property("first_page_seconds", round(first_page, 3))
    print(
        f"\n[browser] Chromium {version} ({chromium_session.executable}): launch "
        f"{chromium_session.launch_seconds:.2f} s, {viewport.name} page ready {first_page:.2f} s"
    )


def test_console_errors_uncaught_exceptions_and_failed_requests_are_collected(
    page: Callable[[Viewport], OpenedPage], site: str
) -> None:
    opened = page(VIEWPORTS[0])
    opened.page.goto(f"{site}/broken", wait_until="load")
    expect(opened.page.locator("p")).to_have_text("rusak")
    problems = opened.problems()
    assert any(p.startswith("error: sengaja gagal") for p in problems), problems
    assert any(p.startswith("uncaught: ") and "kaput" in p for p in problems), problems
    assert any(p.startswith("request failed: GET http://127.0.0.1:9/") for p in problems), problems


def test_other_tests_can_run_an_event_loop_while_the_browser_waits(
    chromium_session: ChromiumSession,
) -> None:
    """A test after a browser test may call asyncio.run: the browser's loop is parked."""

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert chromium_session.browser.is_connected()
    assert asyncio.run(answer()) == 42


def test_a_fresh_context_per_page_shares_no_storage(
    browser: Browser, page: Callable[[Viewport], OpenedPage], site: str
) -> None:
    first, second = page(VIEWPORTS[0]), page(VIEWPORTS[0])
    first.page.goto(f"{site}/")
    first.page.evaluate("localStorage.setItem('token', 'rahasia')")
    second.page.goto(f"{site}/")
    assert second.page.evaluate("localStorage.getItem('token')") is None
    assert len(browser.contexts) >= 2
