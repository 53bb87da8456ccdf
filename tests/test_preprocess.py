"""sketch_to_mnist: MNIST's recipe, every input form, both polarities, blank and bad input."""

import io

import numpy as np
import pytest
from PIL import Image

from tiedae.drawing import draw_digit
from tiedae.preprocess import SketchError, sketch_to_mnist, stroke_width


def centred(digit):
    """The digit drawn small and centred on a 280×280 canvas."""
    return draw_digit(digit, size=(280, 280), box=(90, 60, 190, 220), width=14)


def cornered(digit, **kw):
    """The same digit ×3, pushed into the bottom-left corner of an 800×800 canvas."""
    return draw_digit(digit, size=(800, 800), box=(20, 300, 320, 780), width=42, **kw)


def mse(a, b):
    return float(np.mean((a - b) ** 2))


def check_mnist_like(x):
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1)
    rows, cols = np.flatnonzero(x.max(axis=1) > 0.05), np.flatnonzero(x.max(axis=0) > 0.05)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21, 22)  # longer side scaled to 20 px
    mass = x.sum()
    centre = ((x.sum(axis=1) @ np.arange(28)) / mass, (x.sum(axis=0) @ np.arange(28)) / mass)
    assert centre == pytest.approx((13.5, 13.5), abs=0.6)  # centre of mass in the middle


@pytest.mark.parametrize("digit", range(10))
def test_shifted_and_scaled_digit_matches_centred_one(digit):
    small, big = sketch_to_mnist(centred(digit)), sketch_to_mnist(cornered(digit))
    check_mnist_like(small)
    check_mnist_like(big)
    assert mse(small, big) < 0.002
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


def test_sketchpad_dicts_files_and_bytes():
    opaque = cornered(2)
    layer = cornered(2, background=None)
    reference = sketch_to_mnist(opaque)
    as_numpy = {
        "background": np.full((800, 800, 4), 255, np.uint8),
        "layers": [np.asarray(layer)],
        "composite": np.asarray(opaque),
    }
    buffer = io.BytesIO()
    opaque.save(buffer, format="PNG")
    forms = {
        "composite opaque white": {"background": None, "layers": [], "composite": opaque},
        "composite transparent": {"background": None, "layers": [layer], "composite": layer},
        "layers only": {"background": None, "layers": [layer], "composite": None},
        "numpy dict": as_numpy,
        "png bytes": buffer.getvalue(),
    }
    for name, value in forms.items():
        assert mse(sketch_to_mnist(value), reference) < 0.0005, name


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
        {"background": None, "layers": [], "composite": None},
        {"background": None, "layers": [Image.new("RGBA", (800, 800), (0, 0, 0, 0))], "composite": None},
        {"background": Image.new("RGBA", (800, 800), "white"), "layers": [], "composite": Image.new("RGBA", (800, 800), "white")},
        None,
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
        (b"this is not an image", "not an image"),
        (Image.new("L", (5, 5), 0), "too small"),
        (np.zeros((800, 800, 7)), "shape"),
        (np.full((10, 10), np.nan), "NaN"),
        (np.array([["a"] * 10] * 10), "numbers"),
        ({"composite": 3}, "Cannot read"),
        ({"foo": 1}, "keys"),
        ({"layers": "nope", "composite": None}, "list"),
        (42, "Cannot read"),
        ("/no/such/file.png", "No image file"),
    ],
)
def test_bad_input_raises_sketch_error(bad, message):
    with pytest.raises(SketchError, match=message):
        sketch_to_mnist(bad)


def test_decompression_bomb_is_refused_before_decoding():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")
    with pytest.raises(SketchError, match="too large"):
        sketch_to_mnist(bomb)


def test_huge_input_is_downscaled_and_still_right():
    huge = draw_digit(4, size=(4000, 4000), box=(500, 500, 2000, 3500))
    small = draw_digit(4, size=(400, 400), box=(50, 50, 200, 350))
    assert mse(sketch_to_mnist(huge), sketch_to_mnist(small)) < 0.001


def test_thin_pens_are_thickened_to_mnist_like_strokes():
    thin = draw_digit(7, width=4)  # a hairline for a 480 px tall digit
    thick = draw_digit(7)
    out_thin, out_thick = sketch_to_mnist(thin), sketch_to_mnist(thick)
    assert stroke_width(out_thin) >= 1.5  # about 2 px in 28×28, like MNIST
    assert mse(out_thin, out_thick) < 0.02
