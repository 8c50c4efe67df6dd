"""The studio as a visitor sees it: headless Chromium clicks through each tab's main path.

Screenshots land in artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM_ARGS, require_browser, screenshot, served_studio

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def studio_url():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with served_studio(port) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, studio_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(studio_url)
    page.get_by_role("tab").first.wait_for()
    yield page
    context.close()


def test_every_tab_is_visible(page):
    for name in ("Face", "Motion", "Chat", "Character", "About / Teach"):
        assert page.get_by_role("tab", name=name).is_visible()
    screenshot(page, "home")


def test_chinese_browser_gets_chinese_text(browser, studio_url):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(studio_url)
    page.get_by_role("tab", name="面部").wait_for(timeout=60_000)
    screenshot(page, "home_zh")
    context.close()
