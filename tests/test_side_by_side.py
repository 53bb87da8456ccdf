"""The app's steps: the recent-drawings cache and the controls check."""

import io

import numpy as np
import pytest

from space import inputs, pictures, side_by_side
from tiedae import controls
from tiedae.constants import MAX_SEED
from tiedae.drawing import draw_digit
from tiedae.preprocess import SketchError, find_ink, sketch_to_mnist


@pytest.fixture
def counted(monkeypatch):
    """Count real preprocessing runs; start from an empty cache."""
    calls = []
    real = inputs.sketch_to_mnist  # counted: the decoding work the cache exists to skip

    def counting(drawing):
        calls.append(drawing)
        return real(drawing)

    monkeypatch.setattr(inputs, "sketch_to_mnist", counting)
    inputs._prepare.cache_clear()
    yield calls
    inputs._prepare.cache_clear()


def png(digit: int, **kw) -> bytes:
    buffer = io.BytesIO()
    draw_digit(digit, **kw).save(buffer, format="PNG")
    return buffer.getvalue()


def test_same_drawing_is_prepared_once(counted, tmp_path):
    path = tmp_path / "three.png"
    path.write_bytes(png(3))
    first = inputs.prepared_digit(str(path))
    again = inputs.prepared_digit(path)
    assert len(counted) == 1 and again is first
    # the canvas arrives as a new PIL image on every event: the same pixels are a hit
    assert inputs.prepared_digit(draw_digit(5)) is inputs.prepared_digit(draw_digit(5))
    assert len(counted) == 2


def test_a_changed_drawing_is_prepared_again(counted, tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(png(1))
    one = inputs.prepared_digit(str(path))
    path.write_bytes(png(7, width=60))
    seven = inputs.prepared_digit(str(path))
    assert len(counted) == 2 and not (one == seven).all()
    image = draw_digit(4)
    inputs.prepared_digit(image)
    image.putpixel((400, 400), (0, 0, 0, 255))  # one more pixel of ink is another drawing
    inputs.prepared_digit(image)
    assert len(counted) == 4


def test_cache_is_bounded_and_errors_are_not_kept(counted, tmp_path):
    for i in range(inputs.PREPARED_CACHE_SIZE + 5):
        inputs.prepared_digit(draw_digit(i % 10, box=(100 + i, 100, 400 + i, 600)))
    assert inputs._prepare.cache_info().currsize == inputs.PREPARED_CACHE_SIZE
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    calls_before = len(counted)
    for _ in range(2):
        with pytest.raises(SketchError):
            inputs.prepared_digit(str(bad))
    assert len(counted) == calls_before + 2


def test_the_same_content_at_a_new_path_is_a_hit(counted, tmp_path):
    data = png(8)
    (tmp_path / "a.png").write_bytes(data)
    (tmp_path / "b.png").write_bytes(data)  # an upload of the same drawing again
    assert inputs.prepared_digit(str(tmp_path / "a.png")) is inputs.prepared_digit(str(tmp_path / "b.png"))
    assert len(counted) == 1


def test_uncacheable_input_still_gets_its_message(counted):
    with pytest.raises(SketchError, match="Cannot read"):
        inputs.prepared_digit({"composite": png(1)})


def test_ink_on_canvas_crops_to_the_digit_and_keeps_it():
    ink = find_ink(draw_digit(6, size=(1000, 700), box=(700, 400, 800, 650), width=20))  # small, in a corner
    canvas = side_by_side.ink_on_canvas(ink, 280)
    assert canvas.size == (280, 280) and canvas.mode == "L"
    dark = np.asarray(canvas.convert("L")) < 128
    rows = np.flatnonzero(dark.any(axis=1))
    assert rows[-1] - rows[0] > 150  # the digit fills most of the canvas now
    assert np.mean((sketch_to_mnist(canvas) - sketch_to_mnist(ink)) ** 2) < 0.003


@pytest.mark.parametrize("seed, expected", [(3, 3), (3.0, 3), (0, 0), (MAX_SEED, MAX_SEED)])
def test_controls_accept_whole_seeds(seed, expected):
    assert controls.check_controls("uniform", 1, seed) == ("uniform", 1.0, expected)


def test_a_digit_with_strokes_thicker_than_nearly_all_of_mnists_gets_a_note():
    from tiedae.preprocess import STROKE_WIDE, stroke_width

    normal, marker = sketch_to_mnist(draw_digit(8)), sketch_to_mnist(draw_digit(8, width=150))  # a pen 31% of its height
    assert side_by_side.stroke_note(normal) == "" and stroke_width(normal) < STROKE_WIDE
    note = side_by_side.stroke_note(marker)
    assert stroke_width(marker) > STROKE_WIDE and f"{stroke_width(marker):.1f} px" in note and "thinner pen" in note
    uris = {key: pictures.png_data_uri(np.zeros((28, 28), np.uint8)) for key in ("clean", "noisy", "tied", "untied")}
    numbers = {name: {"mse": 0.01, "psnr": 20.0} for name in ("tied", "untied", "noisy_input")}
    shown = side_by_side.result_html(uris, numbers, {"tied": 1, "untied": 2}, note)
    assert shown.endswith(note) and side_by_side.result_html(uris, numbers, {"tied": 1, "untied": 2}).endswith("</table>")


def test_the_side_by_side_shows_a_row_per_loaded_pair_with_its_numbers():
    keys = ["clean", "noisy", "tied", "untied", "conv_tied", "conv_untied"]
    uris = {key: pictures.png_data_uri(np.full((28, 28), i, np.uint8)) for i, key in enumerate(keys)}
    numbers = {name: {"mse": 0.001 * (i + 1), "psnr": 20.0 + i} for i, name in enumerate([*keys[2:], "noisy_input"])}
    parameters = {"tied": 11, "untied": 22, "conv_tied": 33, "conv_untied": 44}
    titles = {"mlp": "MLP 784-400-20", "conv": "Conv 32-64 channels, 20-D code"}
    shown = side_by_side.result_html(uris, numbers, parameters, titles=titles)
    assert all(f'id="{key}-img"' in shown and uris[key] in shown for key in keys)
    assert shown.index("pair-mlp") < shown.index("pair-spacer") < shown.index("pair-conv")  # conv under MLP
    assert titles["mlp"] in shown and titles["conv"] in shown
    for name, count in parameters.items():
        assert f"{numbers[name]['mse']:.4f}" in shown and f"{count:,}" in shown
    api = side_by_side.result_numbers(uris, numbers, parameters)
    assert set(api) == {"clean", "noisy_input", "tied", "untied", "conv_tied", "conv_untied"}
    assert api["conv_untied"] == {**numbers["conv_untied"], "parameters": 44, "image": uris["conv_untied"]}
    # the MLP pair alone (no conv checkpoints): no conv row, no spacer, the API as before
    mlp_only = {key: uris[key] for key in keys[:4]}
    shown = side_by_side.result_html(mlp_only, numbers, {"tied": 11, "untied": 22})
    assert "pair-conv" not in shown and "pair-spacer" not in shown and "conv" not in shown
    assert set(side_by_side.result_numbers(mlp_only, numbers, {"tied": 11, "untied": 22})) == {
        "clean",
        "noisy_input",
        "tied",
        "untied",
    }


def test_a_partly_tied_pair_says_on_the_page_which_layers_it_ties():
    from space.models import LoadedModels
    from tiedae import TiedAutoencoder, UntiedAutoencoder

    def pair(tie):
        models = {"tied": TiedAutoencoder(sizes=[784, 16, 4], tie=tie), "untied": UntiedAutoencoder(sizes=[784, 16, 4])}
        return {"mlp": LoadedModels(models, {"tied": None, "untied": None}, source="test")}

    assert side_by_side.pair_titles(pair("inner"))["mlp"] == "MLP 784-16-4 · tied: the inner layer pair only"
    assert side_by_side.pair_titles(pair("all"))["mlp"] == "MLP 784-16-4"
