"""/docs and /redoc render with no internet: their assets come from a Python package, not a CDN.

Debian's chromium (installed by `make setup`) driven by Playwright, with every
request that is not to the API's own origin refused.
"""

from __future__ import annotations

import shutil
import threading

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from collector.api.app import create_app
from collector.stack import free_port
from tests.support.stack import wait_for


@pytest.fixture
def served(collector):
    """The API on a real loopback port, as `airtrail serve` runs it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(collector), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="the API server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def offline_page(served):
    """A Chromium page that may reach the API's origin and nothing else; the refused URLs are listed."""
    chromium = shutil.which("chromium")
    assert chromium, "needs Debian's chromium on PATH: `make setup` installs it (never a downloaded browser)"
    refused: list[str] = []

    def only_the_api(route) -> None:
        if route.request.url.startswith(served + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page()
            page.route("**/*", only_the_api)
            yield page, served, refused
        finally:
            browser.close()


def test_swagger_ui_renders_every_operation_offline(offline_page):
    page, origin, refused = offline_page
    page.goto(origin + "/docs")
    page.wait_for_selector('.opblock-summary-path[data-path="/health"]', timeout=30_000)
    shown = set(page.locator(".opblock-summary-path").evaluate_all("nodes => nodes.map(n => n.dataset.path)"))
    assert shown >= {"/health", "/metrics", "/devices", "/devices/{device_id}/readings", "/quarantine", "/schema/v1.json"}
    assert refused == []


def test_redoc_renders_the_operations_offline(offline_page):
    page, origin, refused = offline_page
    page.goto(origin + "/redoc")
    page.locator("h2", has_text="Stored readings of one kit, as JSON or CSV, in pages").wait_for(timeout=30_000)
    assert page.locator("h2", has_text="Broker, InfluxDB and spool state").count() == 1
    # ReDoc's "API docs by Redocly" badge always asks its CDN for a logo and
    # drops the image when that fails (its onError); nothing else goes out.
    assert set(refused) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
