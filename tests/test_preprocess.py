"""sketch_to_mnist: MNIST's recipe, every input form, both polarities, photos, EXIF, blank and bad input."""

import math

import numpy as np
import pytest
from PIL import Image, ImageOps

from tiedae import preprocess
from tiedae.drawing import draw_digit, photograph
from tiedae.preprocess import (
    ROUNDING_PER_WIDTH,
    SketchError,
    _rounded_shift,
    centre_by_mass,
    centre_offset,
    find_ink,
    ink_to_mnist,
    sized_digit,
    sketch_to_mnist,
    stroke_width,
)


def centred(digit):
    """The digit drawn small and centred on a 280×280 canvas."""
    return draw_digit(digit, size=(280, 280), box=(90, 60, 190, 220), width=14)


def cornered(digit, **kw):
    """The same digit ×3, pushed into the bottom-left corner of an 800×800 canvas."""
    return draw_digit(digit, size=(800, 800), box=(20, 300, 320, 780), width=42, **kw)


def mse(a, b):
    return float(np.mean((a - b) ** 2))


def centre_of_mass(x):
    mass = x.sum()
    return (x.sum(axis=1) @ np.arange(28)) / mass, (x.sum(axis=0) @ np.arange(28)) / mass


def check_mnist_like(x):
    """What every MNIST digit shows (measured on MNIST: see the constants in tiedae/preprocess.py)."""
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1)
    rows, cols = np.flatnonzero(x.max(axis=1) > 0.1), np.flatnonzero(x.max(axis=0) > 0.1)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21)  # longer side 20 px
    for c in centre_of_mass(x):  # whole-pixel shift to 14: the centre lands within half a pixel of it
        assert 13.5 - 0.05 <= c <= 14.5 + 0.05


@pytest.mark.parametrize("digit", range(10))
def test_shifted_and_scaled_digit_matches_centred_one(digit):
    small, big = sketch_to_mnist(centred(digit)), sketch_to_mnist(cornered(digit))
    check_mnist_like(small)
    check_mnist_like(big)
    # 0.003: a centre on either side of x.5 in the two drawings (the 5's: 0.43 and 0.52 px) rounds apart, as MNIST's would
    assert mse(small, big) < 0.003
    others = [sketch_to_mnist(centred(d)) for d in range(10) if d != digit]
    assert min(mse(big, o) for o in others) > 10 * mse(small, big)  # and it is not just any blob


def _modes(image):
    """The same drawing in every PIL mode the app accepts."""
    rgb = image.convert("RGB")
    yield "RGBA", image
    yield "RGB", rgb
    yield "L", rgb.convert("L")
    yield "P", rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    yield "1", rgb.convert("1", dither=Image.Dither.NONE)
    yield "I", rgb.convert("L").convert("I")
    yield "F", rgb.convert("L").convert("F")
    yield "I;16", Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    yield "CMYK", rgb.convert("CMYK")
    yield "LA", rgb.convert("LA")


@pytest.mark.parametrize("digit", [3, 8])
@pytest.mark.parametrize("polarity", ["dark-on-light", "light-on-dark"])
def test_every_mode_and_polarity_gives_the_same_result(digit, polarity):
    reference = sketch_to_mnist(cornered(digit))
    kw = {} if polarity == "dark-on-light" else {"ink": "white", "background": "black"}
    image = cornered(digit, **kw)
    for mode, converted in _modes(image):
        tol = 0.003 if mode == "1" else 0.0005  # "1" loses the anti-aliasing
        assert mse(sketch_to_mnist(converted), reference) < tol, mode
    arrays = {
        "uint8 L": np.asarray(image.convert("L")),
        "uint8 RGB": np.asarray(image.convert("RGB")),
        "uint8 RGBA": np.asarray(image),
        "float 0-1": np.asarray(image.convert("L"), dtype=np.float64) / 255,
        "float 0-255": np.asarray(image.convert("L"), dtype=np.float32),
        "uint16": np.asarray(image.convert("L"), dtype=np.uint16) * 257,
        "(H, W, 1)": np.asarray(image.convert("L"))[..., None],
    }
    for name, array in arrays.items():
        assert mse(sketch_to_mnist(array), reference) < 0.0005, name


def test_transparent_canvas_with_strokes_of_any_colour():
    reference = sketch_to_mnist(cornered(5))
    for ink in ("black", "white", "#ff8800"):
        assert mse(sketch_to_mnist(cornered(5, ink=ink, background=None)), reference) < 0.001, ink


def test_file_path(tmp_path):
    path = tmp_path / "digit.png"
    cornered(7).save(path)
    assert mse(sketch_to_mnist(str(path)), sketch_to_mnist(cornered(7))) < 0.0005


@pytest.mark.parametrize(
    "blank",
    [
        Image.new("RGBA", (800, 800), "white"),
        Image.new("RGBA", (800, 800), (0, 0, 0, 0)),
        Image.new("L", (800, 800), 0),
        Image.new("RGB", (300, 200), (128, 128, 128)),
        np.full((800, 800, 4), 255, np.uint8),
    ],
)
def test_blank_is_reported_as_none(blank):
    assert sketch_to_mnist(blank) is None


def test_faint_specks_are_blank():
    canvas = np.full((800, 800), 255, np.uint8)
    canvas[np.random.default_rng(0).integers(0, 800, (2, 50)).tolist()] = 235  # barely visible marks
    assert sketch_to_mnist(canvas) is None


def test_a_dot_is_refused_with_a_message():
    dot = Image.new("RGB", (800, 800), "white")
    from PIL import ImageDraw

    ImageDraw.Draw(dot).ellipse((400, 400, 420, 420), fill="black")
    with pytest.raises(SketchError, match="dot"):
        sketch_to_mnist(dot)


@pytest.mark.parametrize(
    "bad, message",
    [
        (Image.new("L", (5, 5), 0), "too small"),
        (np.zeros((800, 800, 7)), "shape"),
        (np.full((10, 10), np.nan), "NaN"),
        (np.array([["a"] * 10] * 10), "numbers"),
        ({"composite": 3}, "Cannot read"),  # Gradio's dicts are app.py's to unpack
        (b"\x89PNG bytes", "Cannot read"),
        (None, "Cannot read"),
        (42, "Cannot read"),
        ("/no/such/file.png", "No image file"),
    ],
)
def test_bad_input_raises_sketch_error(bad, message):
    with pytest.raises(SketchError, match=message):
        sketch_to_mnist(bad)


def test_a_file_that_is_not_an_image(tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(b"this is not an image")
    with pytest.raises(SketchError, match="not an image"):
        sketch_to_mnist(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(SketchError, match="too large"):
        sketch_to_mnist(tmp_path / "bomb.png")


def test_huge_input_is_downscaled_and_still_right():
    huge = draw_digit(4, size=(4000, 4000), box=(500, 500, 2000, 3500))
    small = draw_digit(4, size=(400, 400), box=(50, 50, 200, 350))
    assert mse(sketch_to_mnist(huge), sketch_to_mnist(small)) < 0.001


def test_thin_and_fat_pens_are_brought_to_mnist_stroke_widths():
    normal = sketch_to_mnist(draw_digit(7))
    for pen in (3, 8, 60, 90):  # a hairline to a marker a fifth of the digit's height (480 px)
        out = sketch_to_mnist(draw_digit(7, width=pen))
        check_mnist_like(out)
        assert preprocess.STROKE_MIN - 0.15 <= stroke_width(out) <= preprocess.STROKE_MAX + 0.15, pen
        assert mse(out, normal) < 0.03, pen
    assert preprocess.STROKE_MIN <= stroke_width(normal) <= preprocess.STROKE_MAX  # a pen in range is left as it is


def test_stroke_width_is_mass_over_outline():
    bar = np.zeros((60, 60), np.float32)
    bar[10:50, 28:32] = 1  # a 4 px wide bar, 40 px long
    assert stroke_width(bar) == pytest.approx(2 * 160 / (2 * 40 + 2 * 4), rel=0.05)


def test_centring_is_mnist_whole_pixel_rule_and_continuous_at_the_boundary():
    # Shifting a drawing by a fraction of an MNIST pixel moves the centre of mass in the box; it is
    # always brought to within half a pixel of 14, and the result never jumps by a whole pixel.
    previous = None
    for step in range(12):
        dx = step * 2.4  # canvas px: 1/12 of an MNIST pixel each (the digit is ~20 MNIST px over ~577 canvas px)
        out = sketch_to_mnist(draw_digit(2, box=(200 + dx, 100, 500 + dx, 680)))
        check_mnist_like(out)
        if previous is not None:
            assert mse(out, previous) < 0.01
        previous = out


def test_preprocessing_an_mnist_like_digit_gives_it_back():
    """The reference: a digit already in MNIST's form, drawn large anywhere, comes back as it was."""
    digit = sketch_to_mnist(draw_digit(4))
    rng = np.random.default_rng(0)
    for resample in (Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC):
        scale = int(rng.integers(6, 20))
        big = Image.fromarray(np.round(255 * (1 - digit)).astype(np.uint8), mode="L").resize((28 * scale,) * 2, resample)
        canvas = Image.new("L", (28 * scale + 300, 28 * scale + 200), 255)
        canvas.paste(big, (int(rng.integers(0, 300)), int(rng.integers(0, 200))))
        assert mse(sketch_to_mnist(canvas), digit) < 0.003, resample


def test_an_unevenly_lit_photo_with_a_shadow_finds_the_digit_not_the_shadow():
    drawing = draw_digit(3, size=(800, 600), box=(250, 120, 500, 520), width=36)
    photo = photograph(drawing, seed=3)
    gray = np.asarray(photo.convert("L"), dtype=np.float32) / 255
    ink = gray[np.asarray(drawing.convert("L")) < 128]
    assert np.percentile(gray, 5) < np.percentile(ink, 95)  # some paper is darker than some ink: no global threshold works
    out = sketch_to_mnist(photo)
    check_mnist_like(out)
    assert mse(out, sketch_to_mnist(drawing)) < 0.01


def test_a_photo_of_a_digit_in_thick_marker_keeps_the_middle_of_its_strokes():
    """Strokes wider than the first paper estimate's window would pass for paper in their middle (a hollow digit)."""
    for digit in (2, 6, 9):
        drawing = draw_digit(digit, width=100, mode="L")  # a marker a fifth of the digit's height
        out = sketch_to_mnist(photograph(drawing, seed=0))
        check_mnist_like(out)
        assert mse(out, sketch_to_mnist(drawing)) < 0.005, digit


@pytest.mark.parametrize("digit, seed", [(8, 3), (0, 5), (2, 4), (9, 12)])
def test_a_photo_of_a_small_digit_in_pen_is_read_in_its_own_polarity(digit, seed):
    """The paper between and beside thin strokes is not ink of the other polarity: the polarity whose strokes stand out more above the paper's spread wins."""
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(50, 600), rng.uniform(50, 400)
    drawing = draw_digit(digit, size=(800, 600), box=(x0, y0, x0 + 90, y0 + 150), width=7, mode="L")
    photo = photograph(drawing, seed=seed).convert("RGB")
    for image in (photo, ImageOps.invert(photo)):  # and its negative: chalk on a board, lit the same way
        out = sketch_to_mnist(image)
        check_mnist_like(out)
        assert mse(out, sketch_to_mnist(drawing)) < 0.01


def test_a_photo_of_blank_paper_has_no_digit():
    for seed in range(3):
        assert sketch_to_mnist(photograph(Image.new("L", (800, 600), 255), seed=seed)) is None


@pytest.mark.parametrize(
    "orientation, stored",
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),  # the usual phone portrait: stored sideways, tag says turn it
        (8, Image.Transpose.ROTATE_270),
        (2, Image.Transpose.FLIP_LEFT_RIGHT),
        (5, Image.Transpose.TRANSPOSE),
    ],
)
def test_an_exif_rotated_jpeg_is_read_upright(tmp_path, orientation, stored):
    upright = photograph(draw_digit(7, size=(600, 800), box=(150, 150, 450, 650), width=40), quality=95)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    upright.transpose(stored).save(path, format="JPEG", quality=90, exif=exif)
    plain = tmp_path / "plain.jpg"
    upright.save(plain, format="JPEG", quality=90)
    reference = sketch_to_mnist(plain)
    assert mse(sketch_to_mnist(path), reference) < 0.002  # from the file
    assert mse(sketch_to_mnist(Image.open(path)), reference) < 0.002  # and from an opened image


def test_centring_blend_weights_the_two_nearest_shifts_by_their_fitted_chance():
    scale = 0.09
    for offset in (-1.7, -0.5, 0.0, 0.3, 2.5, 3.9):
        (low, w_low), (high, w_high) = _rounded_shift(offset, scale)
        assert (low, high) == (math.floor(offset), math.floor(offset) + 1)
        assert w_low + w_high == pytest.approx(1)
    assert _rounded_shift(2.5, scale)[1][1] == pytest.approx(0.5)  # right at x.5: even
    assert _rounded_shift(2.0, scale)[0][1] > 0.98 and _rounded_shift(2.99, scale)[1][1] > 0.98  # a whole shift away from it
    # a tenth of a pixel below x.5, the upper shift keeps the logistic's share
    assert _rounded_shift(2.4, scale)[1][1] == pytest.approx(1 / (1 + math.exp(0.1 / scale)))
    weights = [_rounded_shift(2 + f / 20, scale)[1][1] for f in range(20)]
    assert weights == sorted(weights)
    assert _rounded_shift(2.4, 2 * scale)[1][1] > _rounded_shift(2.4, scale)[1][1]  # a wider logistic blends more


def test_centring_blends_wide_strokes_more_than_thin_ones():
    # A bar whose centre of mass is 0.1 px short of x.5 across (row 14 down, so no blend there): the
    # output is the two nearest whole-pixel shifts mixed, and the bar's first column holds only the
    # lower shift, so its value is that shift's weight. The other shift's share grows with the width.
    minority = {}
    for width in (2, 4):
        digit = np.zeros((28, 28), np.float32)
        digit[4:25, 10 : 10 + width] = 1
        bar_centre, dim_column = 10 + (width - 1) / 2, 10 + width
        digit[4:25, dim_column] = 0.1 * width / (dim_column - bar_centre - 0.1)  # moves the centre 0.1 px right
        offset = centre_offset(digit)[1]
        assert offset % 1 == pytest.approx(0.4)
        lower = centre_by_mass(digit)[14, 10 + math.floor(offset)]
        scale = ROUNDING_PER_WIDTH * stroke_width(digit)
        assert lower == pytest.approx(1 - 1 / (1 + math.exp(0.1 / scale)), abs=1e-5)
        minority[width] = 1 - lower
    assert minority[2] < minority[4] < 0.5


def test_ink_to_mnist_is_sized_then_centred():
    ink = find_ink(draw_digit(7))
    centred = centre_by_mass(sized_digit(ink))
    assert np.array_equal(ink_to_mnist(ink), centred)
    assert all(abs(o) <= 0.5 + 0.05 for o in centre_offset(centred))
