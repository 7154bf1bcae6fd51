"""The demo page in a real browser (Debian's chromium driven by Playwright): upload, choose, click, see the edit.

``HF_SEGAN_SCREENSHOT=path`` also writes the screenshot there (how ``docs/space_screenshot.png`` is made), and
``HF_SEGAN_MODEL=folder`` serves that pipeline instead of the tiny random one (for a screenshot worth showing).
"""

import os
from io import BytesIO
from pathlib import Path
from urllib.parse import urljoin

import httpx
import numpy as np
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


def expected_edit(photo: Path) -> Image.Image:
    pipe = build_demo_pipeline()
    return pipe.edit_photo(str(photo), "surprise").image.convert("RGB")


def build_demo_pipeline():
    from hf_segan.pipeline import SeganPipeline

    model = os.environ.get("HF_SEGAN_MODEL")
    return SeganPipeline.from_pretrained(model) if model else build_tiny_pipeline()


@pytest.fixture()
def demo_url():
    demo = build_demo(build_demo_pipeline(), device="cpu")
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
            result.wait_for(state="visible", timeout=120_000)
            assert result.is_visible()
            assert page.evaluate("(img) => img.complete && img.naturalWidth", result.element_handle()) == 512
            shown = httpx.get(urljoin(demo_url, result.get_attribute("src")), timeout=30).content
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 0
    # the page shows the pipeline's edit of the whole photo, not the upload or a placeholder
    with Image.open(BytesIO(shown)) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(expected_edit(photo)))
    if target := os.environ.get("HF_SEGAN_SCREENSHOT"):
        with Image.open(screenshot) as image:  # a 128-colour palette keeps the docs image small
            image.convert("RGB").quantize(128).save(target, optimize=True)
