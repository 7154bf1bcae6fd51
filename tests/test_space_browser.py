"""The demo page in a real browser (Debian's chromium driven by Playwright): upload, choose, click, see the edit.

``HF_SEGAN_SCREENSHOT=path`` also writes the screenshot there (how ``docs/space_screenshot.png`` is made), and
``HF_SEGAN_MODEL=folder`` serves that pipeline instead of the tiny random one (for a screenshot worth showing).
"""

import os
from pathlib import Path

import pytest
from conftest import build_tiny_pipeline
from PIL import Image
from skimage import data

from hf_segan.space import build_demo, launch_demo

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not CHROMIUM.is_file():
    pytest.skip(f"no chromium browser at {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.slow


@pytest.fixture()
def demo_url():
    demo = build_demo(os.environ.get("HF_SEGAN_MODEL") or build_tiny_pipeline(), device="cpu")
    launch_demo(demo, prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


def test_upload_edit_and_see_the_result(demo_url, tmp_path):
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    screenshot = tmp_path / "space.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.goto(demo_url)
            page.locator("#photo input[type=file]").set_input_files(str(photo))
            page.locator("#preview img").wait_for(timeout=30_000)  # the upload is decoded and shown before editing
            page.get_by_label("Target expression").click()
            page.get_by_role("option", name="surprise").click()
            page.locator("#edit-button").click()
            result = page.locator("#edited img")
            result.wait_for(state="visible", timeout=60_000)
            assert result.is_visible()
            assert page.evaluate("(img) => img.complete && img.naturalWidth", result.element_handle()) == 512
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 0
    if target := os.environ.get("HF_SEGAN_SCREENSHOT"):
        with Image.open(screenshot) as image:  # a 128-colour palette keeps the docs image small
            image.convert("RGB").quantize(128).save(target, optimize=True)
