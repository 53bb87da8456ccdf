"""A real browser (Debian's Chromium through Playwright) draws a digit on the Sketchpad."""

import base64
import io
import math
import shutil

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Chromium not installed (apt-get install chromium); .ci/run installs it", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _arc(cx, cy, rx, ry, start, end, n=18):
    return [
        (
            cx + rx * math.cos(math.radians(start + (end - start) * i / (n - 1))),
            cy + ry * math.sin(math.radians(start + (end - start) * i / (n - 1))),
        )
        for i in range(n)
    ]


def _image(page, key) -> np.ndarray | None:
    """The pixels the page shows in one result panel (an inline PNG data URI)."""
    img = page.locator(f"#{key}-img")
    if img.count() == 0:
        return None
    src = img.first.get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L"))


@pytest.fixture
def page(app_url):
    """A fresh Chromium page on the app; the browser is closed afterwards."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app_url)
            yield page
        finally:
            browser.close()


def test_drawing_a_digit_shows_both_reconstructions(page, tmp_path):
    # No tool is clicked first: the page is ready to draw as soon as it has loaded.
    page.locator("#sketchpad canvas").first.wait_for(timeout=30_000)
    page.get_by_text("select the draw tool to start").wait_for(state="hidden", timeout=30_000)
    box = page.locator("#sketchpad canvas").first.bounding_box()
    # a 3, drawn off-centre in the upper left of the canvas with two mouse strokes
    for stroke in (_arc(0.35, 0.3, 0.12, 0.1, 200, 450), _arc(0.35, 0.5, 0.14, 0.1, 270, 510)):
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=2)
        page.mouse.up()
        page.wait_for_timeout(200)
    page.wait_for_function("() => document.querySelector('#untied-img') && document.querySelector('#tied-img')", timeout=30_000)
    page.wait_for_timeout(1000)
    tied, untied, noisy = _image(page, "tied"), _image(page, "untied"), _image(page, "noisy")
    for name, image in (("tied", tied), ("untied", untied)):
        assert image is not None, f"no {name} reconstruction shown"
        assert image.shape == (28, 28) and image.max() > 150 and (image > 100).mean() > 0.05, f"{name} output is blank"
    assert "MSE" in page.locator("#result").inner_text()

    # moving the noise level changes the noisy image
    old_src = page.locator("#noisy-img").first.get_attribute("src")
    page.locator("#noise-level input[type='range']").focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("(old) => document.querySelector('#noisy-img').src !== old", arg=old_src, timeout=30_000)
    page.wait_for_timeout(1000)  # let the last key's update land
    assert not np.array_equal(_image(page, "noisy"), noisy), "moving the slider did not change the noisy image"
    page.screenshot(path=str(tmp_path / "drawn.png"), full_page=True)
    assert (tmp_path / "drawn.png").stat().st_size > 10_000


def test_an_example_goes_onto_the_canvas_and_is_reconstructed(page):
    thumbnail = page.locator("img[src*='digit_5']").first  # examples are shown as pictures, not file names
    thumbnail.click(timeout=30_000)
    page.wait_for_function("() => document.querySelector('#tied-img')", timeout=30_000)
    tied = _image(page, "tied")
    assert tied.max() > 150 and (tied > 100).mean() > 0.05, "the example's reconstruction is blank"
    # the controls now act on the example, which is on the canvas
    old_src = page.locator("#noisy-img").first.get_attribute("src")
    page.get_by_label("Salt & pepper").check()
    page.wait_for_function("(old) => document.querySelector('#noisy-img').src !== old", arg=old_src, timeout=30_000)


def test_drawing_over_an_upload_changes_what_is_reconstructed(page, tmp_path):
    from tiedae.drawing import draw_digit

    drawing = tmp_path / "one.png"
    draw_digit(1, size=(400, 400), box=(150, 60, 250, 340), width=26).save(drawing)
    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload input[type='file']").set_input_files(str(drawing))
    page.wait_for_function("() => document.querySelector('#clean-img')", timeout=30_000)
    before = _image(page, "clean")
    assert before is not None and before.max() > 150
    # back on the canvas (the upload switched to it): a stroke across the 1 makes it another drawing
    page.get_by_text("select the draw tool to start").wait_for(state="hidden", timeout=30_000)
    box = page.locator("#sketchpad canvas").first.bounding_box()
    old_src = page.locator("#clean-img").first.get_attribute("src")
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.5 * box["height"], steps=12)
    page.mouse.up()
    page.wait_for_function("(old) => document.querySelector('#clean-img').src !== old", arg=old_src, timeout=30_000)
    after = _image(page, "clean")
    assert np.mean((after / 255.0 - before / 255.0) ** 2) > 0.01, "the stroke over the upload did not reach the models"
