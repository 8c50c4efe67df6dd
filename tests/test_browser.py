"""The studio as a visitor sees it: headless Chromium clicks through each tab's main path.

Screenshots land in artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM_ARGS, require_browser, screenshot, served_studio
from tests.conftest import free_loopback_port

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def studio_url():
    with served_studio(free_loopback_port()) as url:
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


def test_motion_example_captures_a_clip_and_the_bvh_downloads(page):
    page.get_by_role("tab", name="Motion").click()
    page.get_by_role("button", name="lunge_front.mp4: a lunge (1.7 s)").click()
    page.locator("video[src*='lunge_front']").first.wait_for(state="attached")  # the example is loaded
    page.get_by_role("button", name="Capture motion").click()
    link = page.locator("a[href$='.bvh']").first
    link.wait_for(timeout=180_000)
    with page.expect_download() as download:
        link.click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("HIERARCHY") and "\nMOTION\n" in text
    frames = int(text.split("Frames:")[1].split()[0])
    assert frames >= 40  # 1.7 s at 30 fps: one BVH frame per processed video frame
    preview = page.locator("video[src$='.mp4']").first
    preview.wait_for()
    assert page.evaluate("v => v.canPlayType('video/mp4; codecs=\"avc1.42E01E\"')", preview.element_handle())
    screenshot(page, "motion")


def test_chat_streams_an_in_character_reply_and_speaks_it(page):
    page.get_by_role("tab", name="Chat").click()
    page.get_by_text("Model settings").first.click()
    tokens = page.get_by_label("number input for Longest reply (tokens)")
    tokens.fill("24")
    tokens.press("Enter")
    page.get_by_label("Your message").fill("Hello! What is in the Egyptian gallery?")
    page.get_by_role("button", name="Send").click()
    # The greeting is the first bubble; the reply is a second bot bubble that fills in as tokens stream.
    reply = page.locator("[data-testid='bot']").nth(1)
    reply.wait_for(timeout=240_000)  # the first chat converts the embedded model once (about 20-45 s here)
    page.locator("audio").first.wait_for(state="attached", timeout=240_000)
    assert reply.inner_text().strip()
    screenshot(page, "chat")


def test_a_second_message_cannot_be_sent_while_a_reply_streams(page):
    """Before: a message sent while a reply streamed started a turn from the old history and one of them was lost.
    Now Send and the message box are locked, with the reason on the button, until the reply ends."""
    page.get_by_role("tab", name="Chat").click()
    page.get_by_label("Your message").fill("Hello! What is in the clock room?")
    from playwright.sync_api import expect

    send = page.get_by_role("button", name="Send", exact=True)
    send.click()
    waiting = page.get_by_role("button", name="Replying… send again when this reply ends")
    waiting.wait_for(timeout=30_000)
    assert waiting.is_disabled() and page.get_by_label("Your message").is_disabled()
    page.locator("[data-testid='bot']").nth(1).wait_for(timeout=240_000)
    expect(send).to_be_enabled(timeout=300_000)  # back once the reply is complete
    expect(page.get_by_label("Your message")).to_be_enabled()
    screenshot(page, "chat-locked-then-free")


def test_character_bundle_exports_and_imports(page, tmp_path):
    import zipfile

    page.get_by_role("tab", name="Character").click()
    page.get_by_role("button", name="Record voice sample").click()
    page.locator("audio").first.wait_for(state="attached")
    page.get_by_role("button", name="Export bundle").click()
    link = page.locator("a[href$='.zip']").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    bundle = tmp_path / "ada.zip"
    download.value.save_as(bundle)
    names = zipfile.ZipFile(bundle).namelist()
    assert "card.png" in names and "voice/sample.wav" in names

    # A fresh visitor imports the bundle and gets the character back, in this tab and in the chat.
    page.reload()
    page.get_by_role("tab", name="Character").click()
    page.locator("#character-import input[type=file]").set_input_files(str(bundle))
    page.get_by_role("heading", name="Ada").wait_for()
    page.locator("audio").first.wait_for(state="attached")
    screenshot(page, "character")


def test_face_example_gets_a_new_expression_that_differs_from_the_photo(page):
    import io

    import numpy as np
    from PIL import Image

    from tests.conftest import EXAMPLES

    page.get_by_role("tab", name="Face").click()
    page.locator("#face-examples button, .gallery-item").first.click()
    page.locator("#face-photo img[src*='london_001_neutral']").wait_for()  # the example is in the input
    page.get_by_role("radio", name="surprise").check()
    page.get_by_role("button", name="Make expression", exact=True).click()
    result = page.locator("#face-result img").first
    result.wait_for(timeout=180_000)
    edited = Image.open(io.BytesIO(page.request.get(result.get_attribute("src")).body())).convert("RGB")
    source = Image.open(EXAMPLES / "faces" / "london_001_neutral.jpg").convert("RGB")
    assert edited.size == source.size
    assert np.abs(np.asarray(edited, int) - np.asarray(source, int)).mean() > 0.5
    page.get_by_text("Teach: how masked image modelling").click()
    page.wait_for_timeout(1000)
    screenshot(page, "face")


def _face_example_loaded(page):
    page.get_by_role("tab", name="Face").click()
    page.locator("#face-examples button, .gallery-item").first.click()
    page.locator("#face-photo img[src*='london_001_neutral']").wait_for()


def test_an_expression_picked_while_the_face_is_found_shows_in_the_preview(page):
    """The preview is drawn once the face is found, with the controls as they are then: an expression picked in the
    meantime was lost (no face yet to draw), and the first preview kept showing the photo's own expression."""
    import io

    import numpy as np
    from PIL import Image

    def shown() -> np.ndarray:
        src = page.locator("#face-preview img").first.get_attribute("src")
        return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"), int)

    _face_example_loaded(page)
    page.get_by_role("radio", name="surprise").check()  # at once: the face is still being found
    page.locator("#face-preview img").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    first = shown()
    page.get_by_role("radio", name="joy").check()
    page.wait_for_timeout(1000)
    page.get_by_role("radio", name="surprise").check()
    page.wait_for_timeout(1500)
    assert np.abs(first - shown()).mean() < 1.0


def test_before_and_after_layers_line_up(page):
    """The before/after slider draws both pictures in the same box, so the face does not jump at the divider."""
    _face_example_loaded(page)
    page.locator("#face-preview img").first.wait_for(timeout=120_000)  # the live preview found the face
    page.get_by_role("button", name="Make expression", exact=True).click()
    layers = page.locator("#face-compare img[data-testid='imageslider-image']")
    layers.nth(1).wait_for(timeout=180_000)
    page.wait_for_timeout(500)
    before, after = (layers.nth(i).bounding_box() for i in range(2))
    for key in ("x", "y", "width", "height"):
        assert abs(before[key] - after[key]) <= 1.5, (key, before, after)
    screenshot(page, "face_compare")


def test_chinese_browser_gets_chinese_expression_buttons(browser, studio_url):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(studio_url)
    page.get_by_role("tab", name="面部").wait_for(timeout=60_000)
    page.locator("#face-expression label").first.wait_for(timeout=60_000)  # the tab can show before its radios
    buttons = page.locator("#face-expression label").all_inner_texts()
    assert [text.split()[-1] for text in buttons] == ["喜悦", "悲伤", "愤怒", "惊讶", "害怕", "厌恶", "平静"]
    for english in ("Make expression", "Expression", "Intensity", "Face photo"):
        assert page.get_by_text(english, exact=True).count() == 0
    screenshot(page, "face_zh")
    context.close()


def test_full_sillytavern_set_downloads_28_sprites(page, tmp_path):
    import zipfile

    from pipelines.labels import SILLYTAVERN_LABELS

    _face_example_loaded(page)
    page.get_by_role("button", name="Full SillyTavern set (28 sprites)").click()
    link = page.locator("#face-sprites a[href$='sillytavern-sprites.zip']").first
    link.wait_for(timeout=300_000)
    with page.expect_download() as download:
        link.click()
    pack = tmp_path / "sprites.zip"
    download.value.save_as(pack)
    assert sorted(zipfile.ZipFile(pack).namelist()) == sorted(f"{label}.png" for label in SILLYTAVERN_LABELS)
    assert page.locator("#face-gallery .thumbnail-item, #face-gallery button img").count() >= 28
    screenshot(page, "face_sprites")


def test_the_tab_bar_keeps_its_names_whichever_tab_is_open(page):
    names = ["Face", "Motion", "Chat", "Character", "About / Teach"]
    for name in names:
        page.get_by_role("tab", name=name).click()
        assert page.get_by_role("tab").all_inner_texts() == names
