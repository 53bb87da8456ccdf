"""A real browser (Debian's Chromium through Playwright) draws a digit on the app's pad."""

import base64
import io
import math
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from space import latent_maps, live_training

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


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (Debian's, through Playwright)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_app(browser, url, *, width: int = 1400, height: int = 1000, phone: bool = False):
    """A fresh page on the app, loaded and ready for the pen (no tool clicked)."""
    page = browser.new_page(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone)
    page.goto(url)
    page.locator("#sketchpad canvas[data-ready='true']").first.wait_for(timeout=30_000)  # its pen is listening
    return page


@pytest.fixture
def page(browser, app_url):
    page = open_app(browser, app_url)
    yield page
    page.close()


def src(page, key: str) -> str | None:
    img = page.locator(f"#{key}-img")
    return img.first.get_attribute("src") if img.count() else None


def wait_for_new(page, key: str, old: str | None) -> None:
    """Until the panel `key` shows an image other than `old` (the answer to the latest event)."""
    page.wait_for_function(
        "([key, old]) => { const img = document.querySelector(`#${key}-img`); return img && img.src !== old; }",
        arg=[key, old],
        timeout=30_000,
    )


def steady_box(page) -> dict:
    """The canvas's box once two looks 100 ms apart agree and nothing lies over it: while a page loads,
    the layout can move and Gradio's loading veil can cover the pad, and a stroke would start elsewhere."""
    page.wait_for_function(
        """() => {
            const canvas = document.querySelector('#sketchpad canvas');
            const r = canvas.getBoundingClientRect();
            const key = [r.x, r.y, r.width, r.height].join();
            const same = window.padBox === key;
            window.padBox = key;
            return same && document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === canvas;
        }""",
        polling=100,
        timeout=30_000,
    )
    return page.locator("#sketchpad canvas").first.bounding_box()


def draw(page, strokes, *, finger: bool = False) -> None:
    """Strokes in canvas fractions, by mouse or by a finger (real touch events, through the Chrome
    DevTools protocol); returns once the last stroke's reconstruction is shown."""
    touch = page.context.new_cdp_session(page) if finger else None
    for stroke in strokes:
        page.locator("#sketchpad canvas").first.scroll_into_view_if_needed()  # a section opened below may have scrolled it away
        box = steady_box(page)
        before = src(page, "clean")
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        if touch:
            for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * (len(points) - 1), points):
                touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
            touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        else:
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point, steps=2)
            page.mouse.up()
        wait_for_new(page, "clean", before)  # each stroke changes the drawing, so the input shown changes


THREE = (_arc(0.35, 0.3, 0.12, 0.1, 200, 450), _arc(0.35, 0.5, 0.14, 0.1, 270, 510))  # off-centre, upper left


MODELS = ("tied", "untied", "conv_tied", "conv_untied", "sparse_tied", "sparse_untied")  # every family's pair


DENOISING = MODELS[:4]  # the pairs trained on noisy digits: they still draw one at the page's noise (the sparse pair does not)


def check_reconstructions(page) -> None:
    for name in MODELS:
        image = _image(page, name)
        assert image is not None and image.shape == (28, 28), f"no {name} reconstruction shown"
        if name in DENOISING:
            assert image.max() > 150 and (image > 100).mean() > 0.05, f"{name} output is blank"


def test_drawing_a_digit_shows_every_familys_reconstructions(page, tmp_path):
    draw(page, THREE)  # no tool is clicked first: the page is ready to draw as soon as it has loaded
    check_reconstructions(page)
    assert "MSE" in page.locator("#result").inner_text()

    # a new noise level changes the noisy image
    noisy, old_src = _image(page, "noisy"), src(page, "noisy")
    level = page.locator("#noise-level input[type='number']")
    level.fill("0.6")
    level.press("Enter")
    wait_for_new(page, "noisy", old_src)
    assert not np.array_equal(_image(page, "noisy"), noisy), "a new noise level did not change the noisy image"
    page.screenshot(path=str(tmp_path / "drawn.png"), full_page=True)
    assert (tmp_path / "drawn.png").stat().st_size > 10_000


def test_undo_takes_back_the_last_stroke_and_clear_empties_the_pad(page):
    draw(page, THREE[:1])
    one_stroke = src(page, "clean")
    draw(page, THREE[1:])
    assert src(page, "clean") != one_stroke
    page.get_by_role("button", name="Undo").click()
    page.wait_for_function(  # back to the one-stroke drawing, pixel for pixel
        "old => document.querySelector('#clean-img')?.src === old", arg=one_stroke, timeout=30_000
    )
    page.get_by_role("button", name="Clear").click()
    page.locator("#result").get_by_text("Draw a digit (0–9)").wait_for(timeout=30_000)
    assert page.locator("#tied-img").count() == 0


def check_result_fits(page, *, smallest: int = 120) -> None:
    """The six images alike and large enough to compare, the numbers inside the result column."""
    sizes = {name: page.locator(f"#{name}-img").bounding_box()["width"] for name in ("clean", "noisy", *MODELS)}
    assert max(sizes.values()) - min(sizes.values()) < 1 and min(sizes.values()) >= smallest, sizes
    result, table = (page.locator(css).first.bounding_box() for css in ("#result", "#result table"))
    assert table["x"] + table["width"] <= result["x"] + result["width"] + 1, (table, result)


@pytest.mark.parametrize("width", [768, 1400])
def test_on_a_tablet_or_a_desktop_the_result_fits_its_column(browser, app_url, width):
    page = open_app(browser, app_url, width=width)
    try:
        draw(page, THREE)
        check_result_fits(page)
        boxes = {name: page.locator(f"#{name}-img").bounding_box() for name in ("clean", "tied", "conv_tied", "sparse_tied")}
        tops = {name: box["y"] for name, box in boxes.items()}
        assert (tops["tied"] > tops["clean"]) == (width < 1000), tops  # two by two in a narrow column, else in a row
        assert tops["sparse_tied"] > tops["conv_tied"] > tops["tied"], tops  # each family's pair under the one before
        assert abs(boxes["conv_tied"]["x"] - boxes["tied"]["x"]) < 1, boxes  # tied over tied, untied over untied
        assert abs(boxes["sparse_tied"]["x"] - boxes["tied"]["x"]) < 1, boxes
    finally:
        page.close()


def test_on_a_phone_the_reconstructions_are_right_under_the_canvas_and_all_fits(browser, app_url):
    page = open_app(browser, app_url, width=390, height=844, phone=True)
    try:
        draw(page, THREE, finger=True)  # drawn with a finger, as on a phone, the page where it opened
        check_reconstructions(page)
        # without scrolling: every reconstruction in view, and at least half of the pad (boxes are in viewport pixels)
        assert page.evaluate("window.scrollY") == 0
        pad = page.locator("#sketchpad canvas").first.bounding_box()
        assert min(844, pad["y"] + pad["height"]) - max(0, pad["y"]) >= pad["height"] / 2, pad
        for name in MODELS:
            box = page.locator(f"#{name}-img").bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 844, f"the {name} reconstruction is out of sight: {box}"
        check_result_fits(page, smallest=64)  # two pairs a row on a phone: still over twice the 28-px digit
        # each study chart fits its column (a fixed-width chart was cut off on the left)
        page.get_by_role("button", name="What does tying cost?").click()
        for axis in ("train_size", "latent", "depth"):
            chart = page.locator(f"#study-{axis} .vega-embed .marks").first
            chart.wait_for(timeout=30_000)
            block, drawn = page.locator(f"#study-{axis}").bounding_box(), chart.bounding_box()
            inside = block["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= block["x"] + block["width"] + 1
            assert inside, (axis, drawn, block)
            assert drawn["width"] >= 0.8 * block["width"], (axis, drawn, block)
    finally:
        page.close()


def test_an_example_goes_onto_the_canvas_and_is_reconstructed(page):
    page.locator("img[src*='digit_5']").first.click(timeout=30_000)  # examples are pictures, not file names
    wait_for_new(page, "tied", None)
    check_reconstructions(page)
    # the controls now act on the example, which is on the canvas
    old_src = src(page, "noisy")
    page.get_by_label("Salt & pepper").check()
    wait_for_new(page, "noisy", old_src)


def test_drawing_over_an_upload_changes_what_is_reconstructed(page, tmp_path):
    from tiedae.drawing import draw_digit

    drawing = tmp_path / "one.png"
    draw_digit(1, size=(400, 400), box=(150, 60, 250, 340), width=26).save(drawing)
    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload input[type='file']").set_input_files(str(drawing))
    wait_for_new(page, "clean", None)
    before = _image(page, "clean")
    assert before.max() > 150
    # back on the canvas (the upload switched to it): a stroke across the 1 makes it another drawing
    page.locator("#sketchpad canvas").first.wait_for(timeout=30_000)
    draw(page, [[(0.3, 0.5), (0.5, 0.5), (0.7, 0.5)]])
    after = _image(page, "clean")
    assert np.mean((after / 255.0 - before / 255.0) ** 2) > 0.01, "the stroke over the upload did not reach the models"


def test_the_study_section_shows_three_interactive_charts(page, tmp_path):
    page.get_by_role("button", name="What does tying cost?").click()
    caption = page.locator("#study-caption")
    caption.get_by_text("seeds each").wait_for(timeout=30_000)  # the finding, made from study.json
    for axis in ("train_size", "latent", "depth"):
        # Vega-Embed draws each chart (its .marks: a canvas or an SVG) inside the plot
        page.locator(f"#study-{axis} .vega-embed .marks").first.wait_for(timeout=30_000)
    # what the chart draws: a canvas's pixels (its HTML stays the same when it redraws) or an SVG's markup
    drawn = "() => { const m = document.querySelector('#study-latent .vega-embed .marks'); return m && (m.toDataURL ? m.toDataURL() : m.outerHTML); }"
    before = page.evaluate(drawn)
    page.get_by_label("Test digits with Gaussian noise σ = 0.5").check()
    page.wait_for_function(f"old => {{ const now = ({drawn})(); return now && now !== old; }}", arg=before, timeout=30_000)
    page.locator("#study-latent").screenshot(path=str(tmp_path / "study.png"))


def test_the_latent_maps_decode_where_clicked_and_the_interpolation_follows_t(page):
    draw(page, THREE)  # the maps ring this drawing's codes
    page.get_by_role("button", name="Latent space").click()
    for name in ("tied", "untied"):
        picture = page.locator(f"#map-{name} img[src*='map-{name}-']").first  # a marked map's own file
        picture.wait_for(timeout=30_000)
        # the picture has arrived whole (a file cut short while served would leave it broken)
        picture.evaluate("img => img.decode()", timeout=30_000)
        served = Image.open(io.BytesIO(page.request.get(picture.get_attribute("src")).body())).convert("RGB")
        for colour in (latent_maps.MARK_CLEAN, latent_maps.MARK_NOISY):
            assert (np.asarray(served) == colour).all(axis=2).any(), f"no {colour} ring on the {name} map"
        box = picture.bounding_box()
        picture.click(position={"x": 0.3 * box["width"], "y": 0.6 * box["height"]})  # scrolled into view first
        page.locator(f"#decoded-{name}-img").wait_for(timeout=30_000)
        decoded = _image(page, f"decoded-{name}")
        assert decoded.shape == (28, 28) and decoded.max() > 100, f"the {name} decoder drew nothing"
    first = src(page, "decoded-tied")
    picture = page.locator("#map-tied img").first
    box = picture.bounding_box()
    picture.click(position={"x": 0.7 * box["width"], "y": 0.3 * box["height"]})
    wait_for_new(page, "decoded-tied", first)  # another point, another digit

    page.get_by_role("button", name="Interpolate between two digits").click()
    page.locator("#strip-tied-img").wait_for(timeout=30_000)
    strips = {name: src(page, f"strip-{name}") for name in ("tied", "untied")}
    slider = page.locator("#interp-t input[type='number']")
    slider.fill("0.9")
    slider.press("Enter")
    wait_for_new(page, "strip-tied", strips["tied"])  # the frame nearest t moves along the strip
    assert src(page, "strip-untied") != strips["untied"]


def pad_pixels(page) -> np.ndarray:
    """What the pad's canvas shows, as a grey image."""
    uri = page.locator("#sketchpad canvas").first.evaluate("canvas => canvas.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("L"))


def test_a_tap_draws_a_dot_and_undo_takes_it_away(page):
    box = steady_box(page)
    page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])  # down and up on one spot
    tapped = pad_pixels(page)
    middle = tapped.shape[0] // 2
    assert tapped[middle - 3 : middle + 4, middle - 3 : middle + 4].max() < 100, "the tap left no dot on the pad"
    page.locator("#clean-img").wait_for(timeout=30_000)  # the dot reached the models, as any stroke does
    page.get_by_role("button", name="Undo").click()
    assert pad_pixels(page).min() == 255, "Undo did not take the dot away"
    page.locator("#result").get_by_text("Draw a digit (0–9)").wait_for(timeout=30_000)


def test_the_interpolation_follows_the_drawing(page):
    page.get_by_role("button", name="Interpolate between two digits").click()
    page.locator("#interp-start input").first.fill("Your drawing")
    page.locator("#interp-start input").first.press("Enter")
    page.locator("#interpolation").get_by_text("Draw a digit first").wait_for(timeout=30_000)
    seven = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]]
    draw(page, seven)
    page.locator("#strip-tied-img").wait_for(timeout=30_000)
    strips = {name: src(page, f"strip-{name}") for name in ("tied", "untied")}
    page.get_by_role("button", name="Clear").click()
    page.locator("#interpolation").get_by_text("Draw a digit first").wait_for(timeout=30_000)
    draw(page, [[(0.5, 0.2), (0.5, 0.8)]])  # a 1
    page.locator("#strip-tied-img").wait_for(timeout=30_000)
    for name in ("tied", "untied"):
        assert src(page, f"strip-{name}") != strips[name], f"the {name} strip still shows the old drawing"


def test_an_uploaded_dot_is_refused_as_on_the_api(page, tmp_path):
    from PIL import ImageDraw

    dot = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(dot).ellipse((195, 195, 205, 205), fill="black")
    path = tmp_path / "dot.png"
    dot.save(path)
    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload input[type='file']").set_input_files(str(path))
    page.get_by_text("That is just a dot").first.wait_for(timeout=30_000)  # the same message as /reconstruct gives
    assert page.locator("#tied-img").count() == 0  # nothing blown up onto the pad and reconstructed


def test_labels_do_not_cover_the_pictures(page):
    draw(page, THREE)
    page.get_by_role("button", name="Latent space").click()
    page.get_by_role("button", name="First-layer weights").click()
    for css in ("#map-tied", "#map-untied"):
        page.locator(f"{css} img").first.wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('.pixelated img').length >= 8", timeout=30_000)
    overlaps = page.evaluate(
        """() => {
            const labels = [...document.querySelectorAll('[data-testid="block-label"]')].filter(l => l.offsetParent);
            const images = [...document.querySelectorAll('#map-tied img, #map-untied img, .pixelated img')];
            const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
            return images.flatMap(img => labels.filter(l => hit(l.getBoundingClientRect(), img.getBoundingClientRect()))
                .map(l => l.textContent.trim()));
        }"""
    )
    assert overlaps == [], overlaps


def test_latent_arithmetic_shows_three_inputs_and_both_decoders(page):
    page.get_by_role("button", name="Latent arithmetic").click()
    page.locator("#arith-tied-img").wait_for(timeout=30_000)
    assert page.locator("#arithmetic img[id^='arith-in-']").count() == 3
    before = {name: src(page, f"arith-{name}") for name in ("tied", "untied")}
    assert before["tied"] != before["untied"]
    third = page.locator("#arith-2 input").first
    third.fill("Example 0")
    third.press("Enter")
    wait_for_new(page, "arith-tied", before["tied"])
    assert src(page, "arith-untied") != before["untied"]


def test_a_tour_of_the_page_logs_no_console_warning_or_error(browser, app_url, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    messages = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None)
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    try:
        page.goto(app_url)
        page.locator("#sketchpad canvas[data-ready='true']").first.wait_for(timeout=30_000)
        draw(page, THREE)
        for section, ready in (
            ("Noise sweep", "#sweep img"),
            ("What does tying cost?", "#study-latent .vega-embed .marks"),
            ("Train them yourself", "#train-note p"),
            ("Latent space", "#map-tied img"),
            ("Interpolate between two digits", "#strip-tied-img"),
            ("Latent arithmetic", "#arith-tied-img"),
            ("Sparse codes", "#dictionary-untied img"),
            ("First-layer weights", ".pixelated img"),
            ("How tying works", None),
        ):
            page.get_by_role("button", name=section).click()
            if ready:
                page.locator(ready).first.wait_for(timeout=30_000)
        page.get_by_label("Test digits with Gaussian noise σ = 0.5").check()
        page.wait_for_timeout(1500)  # let the last renders and their logs land
    finally:
        page.close()
    assert messages == [], messages


def test_an_upload_and_an_example_log_no_console_warning(browser, app_url, tmp_path):
    from tiedae.drawing import draw_digit

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    messages = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None)
    try:
        page.goto(app_url)
        page.locator("#sketchpad canvas[data-ready='true']").first.wait_for(timeout=30_000)
        page.locator("img[src*='digit_5']").first.click(timeout=30_000)  # an example
        wait_for_new(page, "tied", None)
        upload = tmp_path / "two.png"
        draw_digit(2).save(upload)
        page.get_by_role("tab", name="Upload").click()
        before = src(page, "clean")
        page.locator("#upload input[type='file']").set_input_files(str(upload))
        wait_for_new(page, "clean", before)
        page.wait_for_timeout(1000)
    finally:
        page.close()
    assert messages == [], messages


def set_number(page, elem_id: str, value) -> None:
    """Type a value into a slider's (or a number's) box, as a visitor would, and leave the box."""
    box = page.locator(f"#{elem_id} input[type='number']").first
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def test_live_training_streams_every_epoch_and_stop_stops_a_run(page, monkeypatch, mnist_root):
    monkeypatch.setattr(live_training, "DATA_DIR", str(mnist_root))  # tiny MNIST files: the app in this process reads them
    draw(page, THREE)
    page.get_by_role("button", name="Train them yourself").click()
    page.get_by_label("Conv (32/64 channels)").check()
    set_number(page, "train-size", 200)
    set_number(page, "train-epochs", 5)
    # what the page shows after each update: the status line and the tied model's reconstruction of the first digit
    page.evaluate(
        """() => {
            window.trainSeen = [];
            new MutationObserver(() => {
                const img = document.querySelector('#train-digits img[alt="Tied 0"]');
                window.trainSeen.push([document.querySelector('#train-status').innerText, img ? img.src : null]);
            }).observe(document.querySelector('#train-status').parentElement.parentElement, {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )
    page.locator("#train-button").click()
    page.locator("#train-status").get_by_text("Done:").wait_for(timeout=120_000)
    seen = page.evaluate("window.trainSeen")
    epochs = {int(t.split("epoch ")[1].split(" of")[0]) for t, _ in seen if "Training: epoch" in t}
    pictures = {src for _, src in seen if src}
    assert len(epochs) >= 3 and len(pictures) >= 3, (epochs, len(pictures))
    assert page.locator("#train-digits img").count() == 33  # 10 test digits and the drawing, three rows
    page.locator("#train-curves .vega-embed .marks").first.wait_for(timeout=30_000)
    page.locator("#train-study .vega-embed .marks").first.wait_for(timeout=30_000)
    result = page.locator("#train-result").inner_text()
    assert "clean test MSE" in result and "parameters" in result
    assert "python train.py" in page.locator("#train-command").inner_text()
    # the trained pair stands in for the shipped conv pair in the side by side
    page.get_by_label("My trained pair").check()
    page.locator("#result").get_by_text("Yours: Conv 32-64 channels").wait_for(timeout=30_000)

    set_number(page, "train-epochs", 50)
    page.locator("#train-button").click()
    page.locator("#train-status").get_by_text(re.compile(r"epoch \d+ of 50")).wait_for(timeout=60_000)  # under way
    page.locator("#stop-button").click()
    page.locator("#train-status").get_by_text("Stopped").wait_for(timeout=5_000)
    stopped = page.locator("#train-status").inner_text()
    page.wait_for_timeout(1000)
    assert page.locator("#train-status").inner_text() == stopped  # and no epoch comes after it


def test_a_second_visitor_waits_in_the_queue_and_can_stop_before_their_turn(browser, app_url, monkeypatch, mnist_root):
    monkeypatch.setattr(live_training, "DATA_DIR", str(mnist_root))
    first, second = open_app(browser, app_url), open_app(browser, app_url)
    try:
        for page in (first, second):
            page.get_by_role("button", name="Train them yourself").click()
            page.get_by_label("Conv (32/64 channels)").check()
            set_number(page, "train-size", 200)
            set_number(page, "train-epochs", 50)
        first.locator("#train-button").click()
        first.locator("#train-status").get_by_text(re.compile(r"epoch \d+ of 50")).wait_for(timeout=60_000)  # under way
        second.locator("#train-button").click()
        second.get_by_text("queue: 1/1").first.wait_for(timeout=10_000)  # their place, shown while they wait
        second.locator("#stop-button").click()
        first.locator("#stop-button").click()
        first.locator("#train-status").get_by_text("Stopped").wait_for(timeout=5_000)
        second.locator("#train-status").get_by_text("Stopped before it started").wait_for(timeout=10_000)
    finally:
        first.close()
        second.close()


def test_an_upload_that_is_not_an_image_gets_the_message_and_the_pad_is_kept(page, tmp_path):
    draw(page, THREE)
    before = src(page, "clean")
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload input[type='file']").set_input_files(str(notes))
    page.get_by_text("not an image that can be read").first.wait_for(timeout=30_000)
    assert src(page, "clean") == before  # the drawing and its reconstructions are still there


def check_sparse_section(page) -> None:
    """Open the sparse codes: both models' active atoms, fewer at a lower k, and an atom's card on a tap."""
    page.get_by_role("button", name="Sparse codes").click()
    for name in ("tied", "untied"):
        page.locator(f"#sparse-{name} .atom-tile").first.wait_for(timeout=30_000)
        count = page.locator(f"#sparse-{name} .atom-tile").count()
        assert 1 <= count <= 32, (name, count)
        image = _image(page, f"sparse_{name}-parts")
        assert image.shape == (28, 28) and image.max() > 150, f"the {name} sparse model drew nothing"
    k = page.locator("#sparse-k input[type='number']")
    k.fill("4")
    k.press("Enter")
    page.wait_for_function(  # the k slider redraws both models' parts
        "() => ['tied', 'untied'].every(n => { const t = document.querySelectorAll(`#sparse-${n} .atom-tile`);"
        " return t.length >= 1 && t.length <= 4; })",
        timeout=30_000,
    )
    tile = page.locator("#sparse-untied .atom-tile").nth(1)
    atom = tile.get_attribute("data-atom")
    tile.click()
    card = page.locator(f"#atom-card-untied-{atom}")
    card.wait_for(timeout=30_000)
    assert "Cosine between its encoder filter and its decoder atom" in card.inner_text()


def test_the_sparse_codes_show_both_models_atoms_redraw_with_k_and_open_an_atoms_card(page):
    draw(page, THREE)
    check_reconstructions(page)
    check_sparse_section(page)
    grid = page.locator("#dictionary-tied img").first
    grid.wait_for(timeout=30_000)
    grid.click(position={"x": 3, "y": 3})  # the most used atom, top left
    page.locator("#atom-card .atom-card[id^='atom-card-tied-']").wait_for(timeout=30_000)
    assert "cosine 1 by construction" in page.locator("#atom-card").inner_text()


def test_on_a_phone_a_tap_on_an_atom_opens_its_card(browser, app_url):
    page = open_app(browser, app_url, width=390, height=844, phone=True)
    try:
        draw(page, THREE, finger=True)
        check_sparse_section(page)
    finally:
        page.close()
