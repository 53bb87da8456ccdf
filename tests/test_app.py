"""The Space: reconstruct on drawn digits, bad input, the API over HTTP, Hub loading and fallback."""

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import app
from space import (
    arithmetic,
    inputs,
    interpolation,
    latent_maps,
    models,
    noise_sweep,
    pictures,
    side_by_side,
    study_charts,
    weights,
)
from space.models import load_bundled, load_from_hub
from tiedae import TiedAutoencoder, mse
from tiedae.drawing import draw_digit
from tiedae.families import FAMILIES
from tiedae.preprocess import sketch_to_mnist
from tiedae.study import AXES

ROOT = Path(__file__).resolve().parent.parent
CONV_ROOT = ROOT / "checkpoints" / "conv"


def decode(uri: str) -> np.ndarray:
    """A PNG data URI (the API's 28×28 images, or what is put on the pad) -> uint8 array."""
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def images_of(numbers: dict) -> dict[str, np.ndarray]:
    return {
        key: decode(numbers[name]["image"])
        for key, name in (("clean", "clean"), ("noisy", "noisy_input"), ("tied", "tied"), ("untied", "untied"))
    }


def data_uri(image: Image.Image) -> str:
    """An image as the pad sends it: a PNG data URL."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def sketch(image):
    """A Sketchpad value as the component hands it over: a composite, no separate layers."""
    return {"background": None, "layers": [], "composite": image}


def test_reconstruct_shapes_ranges_and_metrics():
    shown, numbers = side_by_side.reconstruct(sketch(draw_digit(3)), "gaussian", 0.3, 7)
    images = images_of(numbers)
    for image in images.values():
        assert image.shape == (28, 28) and image.dtype == np.uint8
    clean = torch.from_numpy(images["clean"] / 255).reshape(1, -1)
    # the numbers describe the images shown (up to 8-bit rounding)
    for name, key in (("tied", "tied"), ("untied", "untied"), ("noisy_input", "noisy")):
        shown_mse = mse(torch.from_numpy(images[key] / 255).reshape(1, -1), clean).item()
        assert numbers[name]["mse"] == pytest.approx(shown_mse, abs=2e-4)
        assert numbers[name]["psnr"] == pytest.approx(10 * np.log10(1 / numbers[name]["mse"]), abs=0.05)
        assert f"{numbers[name]['mse']:.4f}" in shown
    assert numbers["tied"]["parameters"] == 323_204 and numbers["untied"]["parameters"] == 644_804
    assert numbers["tied"]["mse"] < numbers["noisy_input"]["mse"] / 2  # denoising actually helps
    assert "323,204" in shown and "644,804" in shown
    for uri in (numbers[name]["image"] for name in ("clean", "noisy_input", "tied", "untied")):
        assert uri in shown  # the page shows exactly the images the API returns
    np.testing.assert_allclose(images["clean"] / 255, sketch_to_mnist(draw_digit(3)), atol=1 / 255)


def test_reconstructions_are_recognisable_digits():
    # each reconstruction is closer to its own digit than to any other digit
    clean = {d: sketch_to_mnist(draw_digit(d)) for d in range(10)}
    for d in range(10):
        images = images_of(side_by_side.reconstruct(sketch(draw_digit(d)), "gaussian", 0.2, 0)[1])
        for image in (images["tied"], images["untied"]):
            errors = {other: np.mean((image / 255 - clean[other]) ** 2) for other in range(10)}
            assert min(errors, key=errors.get) == d


def test_same_seed_same_noise_and_controls_matter():
    first = images_of(side_by_side.reconstruct(sketch(draw_digit(5)), "salt_pepper", 0.2, 3)[1])
    again = images_of(side_by_side.reconstruct(sketch(draw_digit(5)), "salt_pepper", 0.2, 3)[1])
    other = images_of(side_by_side.reconstruct(sketch(draw_digit(5)), "salt_pepper", 0.2, 4)[1])
    assert np.array_equal(first["noisy"], again["noisy"]) and not np.array_equal(first["noisy"], other["noisy"])
    quiet = images_of(side_by_side.reconstruct(sketch(draw_digit(5)), "uniform", 0.0, 3)[1])
    assert np.array_equal(quiet["clean"], quiet["noisy"])  # level 0: the noisy input is the clean input


@pytest.mark.parametrize(
    "blank",
    [None, sketch(None), sketch(Image.new("RGBA", (800, 800), "white")), {"background": None, "layers": [], "composite": None}],
)
def test_blank_clears_outputs_with_a_hint(blank):
    shown, numbers = side_by_side.reconstruct(blank, "gaussian", 0.3, 0)
    assert numbers is None and "<img" not in shown
    assert "Draw a digit" in shown


def _dot():
    image = Image.new("RGB", (800, 800), "white")
    ImageDraw.Draw(image).ellipse((390, 390, 410, 410), fill="black")
    return image


@pytest.mark.parametrize(
    "bad, message",
    [
        (sketch(_dot()), "dot"),
        (sketch(Image.new("L", (4, 4), 0)), "too small"),
        ({"composite": 12}, "Cannot read"),
        ({"background": None, "layers": 5, "composite": None}, "list"),
        ({"unexpected": 1}, "keys"),
        (np.zeros((3, 3, 3, 3)), "shape"),
        # the pad's value is a PNG data URL: anything else is refused, file paths included
        ("/etc/hostname", "data URL"),
        ("data:text/plain;base64,aGk=", "data URL"),
        ("data:image/png;base64,not base64!", "not valid base64"),
        ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), "not an image"),
        ("data:image/png;base64," + "A" * 4_000_000, "too large"),
        (data_uri(Image.new("RGB", (280, 280), "white")), "Draw a digit"),
    ],
)
def test_bad_drawings_get_a_clear_message_and_clear_outputs(bad, message):
    shown, numbers = side_by_side.reconstruct(bad, "gaussian", 0.3, 0)
    assert numbers is None and "<img" not in shown
    assert message in shown


def test_drawing_image_reads_every_sketchpad_form():
    opaque = draw_digit(2)
    layer = draw_digit(2, background=None)
    reference = sketch_to_mnist(opaque)
    forms = {
        "composite": {"background": None, "layers": [], "composite": opaque},
        "transparent composite": {"background": None, "layers": [layer], "composite": layer},
        "layers only": {"background": None, "layers": [layer], "composite": None},
        "background and layers": {"background": Image.new("RGBA", (800, 800), "white"), "layers": [layer], "composite": None},
        "the pad's data URL": data_uri(opaque),
    }
    for name, value in forms.items():
        image = inputs.drawing_image(value)
        assert image is not None, name
        assert np.mean((sketch_to_mnist(image) - reference) ** 2) < 0.0005, name
    assert inputs.drawing_image(None) is None and inputs.drawing_image(sketch(None)) is None
    assert inputs.drawing_image("") is None  # a clear pad


def test_upload_goes_onto_the_canvas_as_its_strokes():
    value, _ = side_by_side.upload_to_canvas(str(ROOT / "examples" / "digit_3.png"))
    assert decode(value).shape == (app.CANVAS_SIZE, app.CANVAS_SIZE)  # what the pad shows, to be drawn over
    on_canvas = side_by_side.reconstruct(value, "gaussian", 0.0, 0)[1]
    direct = side_by_side.reconstruct(sketch(Image.open(ROOT / "examples" / "digit_3.png")), "gaussian", 0.0, 0)[1]
    clean = decode(on_canvas["clean"]["image"]) / 255
    assert np.mean((clean - decode(direct["clean"]["image"]) / 255) ** 2) < 0.003  # the canvas holds the same digit


def test_a_dot_gets_the_same_message_on_every_path(tmp_path):
    dot = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(dot).ellipse((195, 195, 205, 205), fill="black")  # a 10-px dot
    path = tmp_path / "dot.png"
    dot.save(path)
    with pytest.raises(gr.Error, match="That is just a dot"):  # the upload (and an example) path: not put on the pad
        side_by_side.upload_to_canvas(str(path))
    for drawing in (sketch(dot), data_uri(dot)):  # the API's Sketchpad value, the pad's data URL
        shown, numbers = side_by_side.reconstruct(drawing, "gaussian", 0.3, 0)
        assert "That is just a dot" in shown and numbers is None


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "CMYK", "RGB", "1", "I", "F"])
def test_every_image_mode_reconstructs(mode):
    image = draw_digit(8, mode="RGB").convert(mode)
    numbers = side_by_side.reconstruct(sketch(image), "gaussian", 0.1, 0)[1]
    assert numbers is not None and decode(numbers["tied"]["image"]).max() > 128


def test_huge_upload_is_downscaled_and_works():
    huge = draw_digit(2, size=(5000, 5000), box=(1000, 800, 3000, 4200))
    assert side_by_side.reconstruct(sketch(huge), "gaussian", 0.1, 0)[1] is not None


@pytest.mark.parametrize(
    "kind, level, seed, message",
    [
        ("gaussian", float("nan"), 0, "Noise level"),
        ("gaussian", float("inf"), 0, "Noise level"),
        ("gaussian", -0.1, 0, "Noise level"),
        ("gaussian", 1.5, 0, "Noise level"),
        ("gaussian", "0.3", 0, "Noise level"),
        ("gaussian", None, 0, "Noise level"),
        ("speckle", 0.3, 0, "Noise type"),
        (None, 0.3, 0, "Noise type"),
        ("gaussian", 0.3, -1, "Seed"),
        ("gaussian", 0.3, 2.5, "Seed"),
        ("gaussian", 0.3, float("nan"), "Seed"),
        ("gaussian", 0.3, "abc", "Seed"),
    ],
)
def test_bad_controls_raise_a_clear_gradio_error(kind, level, seed, message):
    with pytest.raises(gr.Error, match=message):
        side_by_side.reconstruct(sketch(draw_digit(1)), kind, level, seed)


def test_upload_goes_onto_the_canvas_as_dark_ink_on_white(tmp_path):
    path = tmp_path / "digit.png"
    draw_digit(4, ink="white", background="black").save(path)  # light on dark: normalised for the canvas
    value, _ = side_by_side.upload_to_canvas(str(path))
    canvas = decode(value)
    assert canvas[0, 0] == 255 and canvas.min() == 0
    clean = decode(side_by_side.reconstruct(value, "gaussian", 0.0, 0)[1]["clean"]["image"])
    assert np.mean((clean / 255 - sketch_to_mnist(draw_digit(4))) ** 2) < 0.001
    (tmp_path / "notes.png").write_bytes(b"not really a png")
    with pytest.raises(gr.Error, match="not an image"):
        side_by_side.upload_to_canvas(str(tmp_path / "notes.png"))


# --- the API over HTTP ------------------------------------------------------------------------


def test_the_pads_stroke_event_over_http_matches_the_api_and_refuses_bad_strings(app_url, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    seven = draw_digit(7, size=(app.CANVAS_SIZE, app.CANVAS_SIZE), box=(90, 50, 190, 230), width=24)
    shown, numbers = client.predict(data_uri(seven), "gaussian", 0.3, 5, api_name="/stroke")  # as the page sends a stroke
    assert numbers["tied"]["mse"] > 0 and 'id="tied-img"' in shown
    path = tmp_path / "seven.png"
    seven.save(path)
    value = {"background": None, "layers": [], "composite": handle_file(str(path))}
    same = client.predict(value, "gaussian", 0.3, 5, api_name="/reconstruct")[1]
    assert same["tied"] == numbers["tied"] and same["untied"] == numbers["untied"]
    for bad, message in (("/etc/hostname", "data URL"), ("data:image/png;base64,@@", "base64"), ("", "Draw a digit")):
        shown, numbers = client.predict(bad, "gaussian", 0.3, 5, api_name="/stroke")
        assert numbers is None and message in shown
    assert client.predict(data_uri(seven), "gaussian", 0.3, 5, api_name="/stroke")[1] is not None  # still serving


def test_api_reconstruct_returns_both_reconstructions_and_metrics(app_url, tmp_path):
    from gradio_client import Client, handle_file

    path = tmp_path / "three.png"
    draw_digit(3).save(path)
    client = Client(app_url, verbose=False)
    value = {"background": None, "layers": [], "composite": handle_file(str(path))}
    shown, numbers = client.predict(value, "gaussian", 0.3, 0, api_name="/reconstruct")
    assert "MSE" in shown
    tied_img, untied_img = decode(numbers["tied"]["image"]), decode(numbers["untied"]["image"])
    assert tied_img.shape == (28, 28) and tied_img.max() > 128 and untied_img.max() > 128
    keys = [key for family in FAMILIES.values() for key in family.model_names().values()]  # tied, …, sparse_untied
    assert set(numbers) == {"clean", "noisy_input", *keys} and len(keys) == 2 * len(FAMILIES)
    for name in ("tied", "untied", "conv_tied", "conv_untied"):  # the denoising pairs
        assert set(numbers[name]) == {"mse", "psnr", "parameters", "image"}
        assert numbers[name]["mse"] < numbers["noisy_input"]["mse"]
    assert numbers == side_by_side.reconstruct(sketch(draw_digit(3)), "gaussian", 0.3, 0)[1]


def test_api_bad_input_gets_a_message_and_the_server_keeps_serving(app_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    good = tmp_path / "seven.png"
    draw_digit(7).save(good)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n definitely broken")
    value = {"background": None, "layers": [], "composite": handle_file(str(good))}
    with pytest.raises(AppError, match="Noise level must be a number from 0 to 1"):
        client.predict(value, "gaussian", 7.0, 0, api_name="/reconstruct")
    with pytest.raises(AppError, match="Noise type must be one of gaussian"):
        client.predict(value, "bogus", 0.3, 0, api_name="/reconstruct")
    with pytest.raises(AppError, match="Seed must be a whole number"):
        client.predict(value, "gaussian", 0.3, 2.5, api_name="/reconstruct")
    # A file that is not an image is ours to open (the API's drawings are not preprocessed): our message
    junk_value = {"background": None, "layers": [], "composite": handle_file(str(junk))}
    shown, numbers = client.predict(junk_value, "gaussian", 0.3, 0, api_name="/reconstruct")
    assert "not an image that can be read" in shown and numbers is None
    with pytest.raises(AppError, match="EditorData"):  # a payload that is not a drawing at all: Gradio's check
        client.predict({"composite": 42}, "gaussian", 0.3, 0, api_name="/reconstruct")
    # still serving normally
    assert client.predict(value, "gaussian", 0.3, 0, api_name="/reconstruct")[1]["tied"]["mse"] > 0


# --- model sources ------------------------------------------------------------------------------


def test_bundled_checkpoints_load_with_metrics():
    loaded = load_bundled()
    assert loaded.models["tied"].tied and not loaded.models["untied"].tied
    assert loaded.metrics["tied"]["test"]["gaussian"][0]["level"] == 0
    assert loaded.warning is None


def test_corrupt_bundled_checkpoint_names_the_file(tmp_path):
    shutil.copytree(ROOT / "checkpoints", tmp_path / "checkpoints")
    weights = tmp_path / "checkpoints" / "untied" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"untied/model\.safetensors"):
        load_bundled(tmp_path / "checkpoints")


def build_hf_cache(cache: Path, namespace: str, prefix: str = "tiedae-mnist", folder: Path = ROOT / "checkpoints") -> None:
    """A Hub cache holding NAMESPACE/<prefix>-{tied,untied} at refs/main, copied from `folder`."""
    for name in ("tied", "untied"):
        repo = cache / f"models--{namespace}--{prefix}-{name}"
        sha = "0123456789abcdef0123456789abcdef0123456" + ("1" if name == "tied" else "2")
        snapshot = repo / "snapshots" / sha
        snapshot.mkdir(parents=True)
        for file in ("config.json", "model.safetensors", "metrics.json"):
            shutil.copy(folder / name / file, snapshot / file)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(sha)


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_loads_both_repos_from_an_offline_hub_cache(offline_hub):
    build_hf_cache(offline_hub, "someorg")
    loaded = load_from_hub("someorg")
    assert loaded.warning is None and "someorg/tiedae-mnist-tied" in loaded.source
    assert isinstance(loaded.models["tied"], TiedAutoencoder) and not loaded.models["tied"].training
    x = torch.rand(2, 784)
    assert torch.equal(loaded.models["tied"](x), load_bundled().models["tied"](x))
    assert loaded.metrics["untied"]["model"] == "untied"


def test_the_conv_pair_loads_from_an_offline_hub_cache_or_falls_back_to_its_own_bundled_pair(offline_hub):
    from tiedae import TiedConvAutoencoder, UntiedConvAutoencoder

    build_hf_cache(offline_hub, "someorg", "tiedae-mnist-conv", ROOT / "checkpoints" / "conv")
    loaded = load_from_hub("someorg", root=CONV_ROOT, prefix="tiedae-mnist-conv", family=FAMILIES["conv"])
    assert loaded.warning is None and "someorg/tiedae-mnist-conv-tied" in loaded.source
    assert type(loaded.models["tied"]) is TiedConvAutoencoder and type(loaded.models["untied"]) is UntiedConvAutoencoder
    assert not loaded.models["tied"].training
    x = torch.rand(2, 784)
    assert torch.equal(loaded.models["tied"](x), load_bundled(CONV_ROOT, FAMILIES["conv"]).models["tied"](x))
    missing = load_from_hub("nobody", root=CONV_ROOT, prefix="tiedae-mnist-conv", family=FAMILIES["conv"])
    assert "nobody/tiedae-mnist-conv-tied" in missing.warning and "checkpoints/conv/" in missing.source
    assert type(missing.models["untied"]) is UntiedConvAutoencoder


def test_missing_repo_falls_back_to_bundled_and_says_so(offline_hub, caplog):
    loaded = load_from_hub("nobody")
    assert loaded.warning and "nobody/tiedae-mnist-tied" in loaded.warning and "bundled" in loaded.warning
    assert "bundled checkpoints" in loaded.source
    assert any("nobody/tiedae-mnist-tied" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("present", [True, False])
def test_app_started_with_tiedae_hub_uses_the_hub_or_falls_back_visibly(tmp_path, present):
    cache = tmp_path / "hub"
    cache.mkdir()
    if present:
        build_hf_cache(cache, "someorg")
    env = {**os.environ, "TIEDAE_HUB": "someorg", "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    code = "import app, json; from space import models; print(json.dumps([models.shipped_models().source, models.shipped_models().warning]))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    source, warning = json.loads(result.stdout.strip().splitlines()[-1])
    if present:
        assert warning is None and "Hub: someorg/tiedae-mnist-tied" in source
    else:
        assert "bundled" in source and "Could not load someorg/tiedae-mnist-tied" in warning
        assert "Could not load someorg/tiedae-mnist-tied" in result.stderr  # and in the log


def test_outputs_are_small_inline_pngs():
    shown, numbers = side_by_side.reconstruct(sketch(draw_digit(0)), "gaussian", 0.3, 0)
    assert len(numbers["tied"]["image"]) < 2000  # 28×28 PNGs inline: the browser upscales them
    assert len(shown) < 10_000


def picture(path: str) -> np.ndarray:
    """An image output the app hands Gradio as a file."""
    with Image.open(path) as image:
        return np.asarray(image)


def test_noise_sweep_chart_is_drawn_from_metrics_on_first_view():
    path = noise_sweep.sweep_chart()
    chart = picture(path)
    assert chart.ndim == 3 and chart.shape[2] == 3 and chart.shape[1] > 600
    assert chart.std() > 10  # not a blank canvas
    assert noise_sweep.sweep_chart() is path  # drawn once


def test_pictures_every_visitor_sees_are_whole_files_written_once(monkeypatch, tmp_path):
    """Gradio copies a file output into its cache once, atomically; an array it would rewrite in place."""
    monkeypatch.setattr(pictures, "picture_dir", lambda: tmp_path)
    first = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    path = pictures.png_file(first, "noise-sweep")
    np.testing.assert_array_equal(picture(path), first)  # lossless
    second = np.zeros((10, 10), dtype=np.uint8)
    assert pictures.png_file(second, "noise-sweep") == path
    np.testing.assert_array_equal(picture(path), second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise-sweep.png"]  # no staging file left behind


def test_weight_tiles_show_the_tie():
    tied, untied_encoder, untied_decoder = map(picture, weights.weight_images()[:3])
    for image in (tied, untied_encoder, untied_decoder):
        assert image.dtype == np.uint8 and image.shape == (2 * (8 * 29 + 1),) * 2 + (3,)  # 8×8 tiles of 28 px, 1 px apart, ×2
    layer = models.shipped_models().models["tied"].layers[0]
    first = layer.weight[0].detach().reshape(28, 28)  # the first tile is the first row of W, scaled around 0
    expected = np.round(255 * (0.5 + 0.5 * first / first.abs().max()).numpy())
    np.testing.assert_allclose(tied[2:58:2, 2:58:2, 0], expected, atol=1)
    assert not np.array_equal(untied_encoder, untied_decoder)  # untied: two different sets


def test_the_conv_pairs_first_layer_kernels_are_shown_beside_the_weight_tiles():
    conv_tied, conv_encoder, conv_decoder = map(picture, weights.weight_images()[3:6])
    kernels = models.shipped_pairs()["conv"].models["tied"].convs[0].weight  # (C1, 1, 4, 4)
    rows = -(-len(kernels) // 8)
    assert conv_tied.shape == (12 * (rows * 5 + 1), 12 * (8 * 5 + 1), 3)  # 8 kernels a row, 4 px each, 1 px apart, ×12
    first = kernels[0, 0].detach()
    expected = np.round(255 * (0.5 + 0.5 * first / first.abs().max()).numpy())
    np.testing.assert_allclose(conv_tied[12:60:12, 12:60:12, 0], expected, atol=1)
    assert not np.array_equal(conv_encoder, conv_decoder)  # untied: two different sets of kernels


def test_reconstruct_shows_the_conv_pair_under_the_mlp_pair_with_its_numbers():
    from tiedae import count_parameters

    shown, numbers = side_by_side.reconstruct(sketch(draw_digit(2)), "gaussian", 0.4, 3)
    conv = models.shipped_pairs()["conv"].models
    clean = torch.from_numpy(decode(numbers["clean"]["image"]) / 255).reshape(1, -1)
    for name in ("conv_tied", "conv_untied"):
        image = torch.from_numpy(decode(numbers[name]["image"]) / 255).reshape(1, -1)
        assert numbers[name]["mse"] == pytest.approx(mse(image, clean).item(), abs=2e-4)
        assert numbers[name]["mse"] < numbers["noisy_input"]["mse"] / 2  # the conv pair denoises too
        assert numbers[name]["parameters"] == count_parameters(conv[name.split("_")[1]])
        assert numbers[name]["image"] in shown and f"{numbers[name]['parameters']:,}" in shown
    assert numbers["conv_untied"]["parameters"] > numbers["conv_tied"]["parameters"]
    assert shown.index('id="tied-img"') < shown.index('id="conv_tied-img"')


def test_study_section_draws_a_chart_per_axis_from_the_shipped_study():
    caption, *charts = study_charts.study_charts("test_mse_clean")
    assert "seeds each" in caption and len(charts) == len(AXES)
    shown = [chart for chart in charts if chart is not None]  # an axis with no cells yet: an empty plot
    assert len(shown) >= 4 and all(chart.to_dict()["layer"] for chart in shown)
    assert study_charts.study_charts("test_mse_clean")[1] is charts[0]  # drawn once per metric
    with pytest.raises(gr.Error, match="Unknown study metric"):
        study_charts.study_charts("accuracy")


# --- the latent explorer and interpolation -------------------------------------------------------


def test_the_latent_section_shows_both_maps_and_decoded_grids():
    tied_grid, untied_grid = map(picture, latent_maps.latent_section())
    tied_map, untied_map = map(picture, latent_maps.plain_maps())
    assert tied_map.shape == untied_map.shape == (400, 400, 3)
    assert tied_grid.shape == untied_grid.shape == (15 * 28, 15 * 28)
    assert not np.array_equal(tied_map, untied_map)  # two models, two code spaces


def test_the_drawing_is_ringed_on_both_maps_only_while_they_are_open():
    drawing = sketch(draw_digit(0))
    *marked, shown = latent_maps.mark_drawing(drawing, "gaussian", 0.5, 0, True)
    for name, ringed in zip(("tied", "untied"), map(picture, marked)):
        plain = latent_maps.latent_pictures()[name]
        changed = np.argwhere((ringed != plain).any(axis=2))
        assert len(changed) > 50, f"no ring on the {name} map"
        assert (ringed == latent_maps.MARK_NOISY).all(axis=2).any() and (ringed == latent_maps.MARK_CLEAN).all(axis=2).any()
    skipped = (gr.skip(),) * 3
    assert latent_maps.mark_drawing(drawing, "gaussian", 0.5, 0, False) == skipped  # closed
    assert latent_maps.mark_drawing(drawing, "gaussian", 0.5, 0, True, shown) == skipped  # already on the page: not sent again
    assert latent_maps.mark_drawing(drawing, "gaussian", 0.6, 0, True, shown)[2] != shown  # the noisy ring moves
    *blank, shown = latent_maps.mark_drawing(None, "gaussian", 0.5, 0, True, shown)  # nothing drawn: the plain maps
    assert shown == "plain" and tuple(blank) == latent_maps.plain_maps()
    assert all(np.array_equal(picture(a), b) for a, b in zip(blank, latent_maps.latent_pictures().values()))
    assert latent_maps.mark_drawing(None, "gaussian", 0.5, 0, True, shown) == skipped


def test_two_visitors_with_the_same_marks_each_get_a_whole_file_of_their_own(monkeypatch, tmp_path):
    """The same example, noise and seed in two sessions at once: the same picture, never one file rewritten in place."""
    monkeypatch.setattr(pictures, "picture_dir", lambda: tmp_path)
    drawing = sketch(draw_digit(7))
    start = threading.Barrier(2)

    def visit(_):
        start.wait()
        return latent_maps.mark_drawing(drawing, "gaussian", 0.5, 0, True)

    with ThreadPoolExecutor(2) as pool:
        (*first, shown_a), (*second, shown_b) = pool.map(visit, range(2))
    assert shown_a == shown_b
    assert not set(first) & set(second)  # a file each
    for a, b in zip(first, second):
        np.testing.assert_array_equal(picture(a), picture(b))  # both whole, and the same picture
    assert sorted(p.suffix for p in (tmp_path / "marked").iterdir()) == [".png"] * 4  # nothing else left behind


def test_marked_maps_are_removed_once_gradio_has_long_copied_them(monkeypatch, tmp_path):
    monkeypatch.setattr(pictures, "picture_dir", lambda: tmp_path)
    monkeypatch.setattr(pictures, "_pruned", [0.0])
    ringed = np.zeros((8, 8, 3), np.uint8)
    old = Path(pictures.marked_file(ringed, "map-tied"))
    recent = Path(pictures.marked_file(ringed, "map-tied"))
    past = time.time() - pictures.MARKED_KEEP_SECONDS - 1
    os.utime(old, (past, past))
    pictures._pruned[0] = 0.0  # a minute has passed since the last clean-up
    newest = Path(pictures.marked_file(ringed, "map-untied"))
    assert not old.exists() and recent.exists() and newest.exists()
    np.testing.assert_array_equal(picture(str(newest)), ringed)


def test_a_click_on_a_map_decodes_the_point_under_it():
    latent_map = models.latent_models().maps["untied"]
    column, row = latent_map.to_pixel(latent_map.codes[0])  # where the first test digit's code is drawn
    event = gr.SelectData(None, {"index": [int(column), int(row)], "value": None})
    shown, marked = latent_maps.click_handler("untied")(event)
    x, y = latent_map.to_code(int(column), int(row))
    assert f"({x:.2f}, {y:.2f})" in shown and "decoded-untied-img" in shown
    expected = latent_maps.decode_latent("untied", x, y)
    assert expected["image"] in shown and expected["on_map"]
    cross = np.asarray(Image.open(marked).convert("RGB"))
    assert (cross[int(row), int(column) - 9 : int(column) + 10] == latent_maps.MARK_CLICK).all()  # the point clicked, marked
    assert not (np.asarray(latent_maps.latent_pictures()["untied"]) == latent_maps.MARK_CLICK).all(axis=2).any()  # and only there
    # with the drawing's rings on the map (its codes as mark_drawing keeps them), the click keeps them
    rings = tuple(float(c) for pair in ((latent_map.codes[1], latent_map.codes[2]),) * 2 for code in pair for c in code)
    _, with_rings = latent_maps.click_handler("untied")(event, rings)
    assert (np.asarray(Image.open(with_rings).convert("RGB")) == latent_maps.MARK_NOISY).all(axis=2).any()
    for index in ([float("nan"), 3.0], None):  # what a click on a picture that has not loaded could send
        with pytest.raises(gr.Error, match="Could not decode that point"):
            latent_maps.click_handler("tied")(gr.SelectData(None, {"index": index, "value": None}))


def test_interpolation_view_changes_with_t_and_needs_a_drawing():
    half = interpolation.interpolate_view(None, "Example 3", "Example 8", 10, 0.5)
    start = interpolation.interpolate_view(None, "Example 3", "Example 8", 10, 0.0)
    assert half.count("<img") == start.count("<img") == 4  # two strips, two frames at t
    assert half != start
    with pytest.raises(gr.Error, match="Draw a digit first"):
        interpolation.interpolate_view(None, inputs.YOUR_DRAWING, "Example 8", 10, 0.5)
    with pytest.raises(gr.Error, match="Steps must be"):
        interpolation.interpolate_view(None, "Example 3", "Example 8", 100, 0.5)
    mine = interpolation.interpolate_view(sketch(draw_digit(1)), inputs.YOUR_DRAWING, "Example 8", 8, 0.5)
    assert mine.count("<img") == 4


def raw_call_error(url: str, endpoint: str, data: list) -> str:
    """POST data to Gradio's call API as raw JSON (NaN allowed) and return the error event's message."""
    import urllib.request

    request = urllib.request.Request(
        f"{url}gradio_api/call/{endpoint}", json.dumps({"data": data}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        event_id = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{endpoint}/{event_id}", timeout=30) as r:
        stream = r.read().decode()
    assert "event: error" in stream, stream
    return stream


def test_api_decode_latent_and_its_bad_input(app_url):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    centre = models.latent_models().maps["tied"].centre
    out = client.predict("tied", float(centre[0]), float(centre[1]), api_name="/decode_latent")
    assert decode(out["image"]).shape == (28, 28) and out["model"] == "tied" and 0 <= out["nearest_test_digit"] <= 9
    assert out == latent_maps.decode_latent("tied", float(centre[0]), float(centre[1]))
    for model, x, y, message in (
        ("tied", 1e6, 0.0, "far outside the map"),
        ("both", 0.0, 0.0, "Model must be one of tied, untied"),
    ):
        with pytest.raises(AppError, match=message):
            client.predict(model, x, y, api_name="/decode_latent")
    # gradio_client refuses to send NaN (not JSON), but a raw request can: it gets a message too
    for x in (float("nan"), float("inf")):
        assert "finite" in raw_call_error(app_url, "decode_latent", ["tied", x, 0.0])
    assert client.predict("untied", 0.0, 0.0, api_name="/decode_latent")["model"] == "untied"  # still serving


def test_api_interpolate_returns_both_strips_and_refuses_a_blank_drawing(app_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    paths = []
    for digit in (2, 7):
        paths.append(tmp_path / f"{digit}.png")
        draw_digit(digit).save(paths[-1])
    first, second = ({"background": None, "layers": [], "composite": handle_file(str(p))} for p in paths)
    out = client.predict(first, second, 9, api_name="/interpolate")
    assert out["steps"] == 9 and out["t"][0] == 0 and out["t"][-1] == 1
    for name in ("tied", "untied"):
        frames = [decode(uri) for uri in out[name]["frames"]]
        assert len(frames) == 9 and frames[0].shape == (28, 28)
        assert not np.array_equal(frames[0], frames[-1])  # the path goes somewhere
    blank = tmp_path / "blank.png"
    Image.new("RGB", (280, 280), "white").save(blank)
    with pytest.raises(AppError, match="second drawing is blank"):
        client.predict(
            first, {"background": None, "layers": [], "composite": handle_file(str(blank))}, 9, api_name="/interpolate"
        )
    with pytest.raises(AppError, match="Steps must be"):
        client.predict(first, second, 1, api_name="/interpolate")
    assert client.predict(first, second, 5, api_name="/interpolate")["steps"] == 5  # still serving


def test_latent_arithmetic_decodes_the_sum_of_codes_by_each_model():
    from tiedae.latent import decode_codes, encode_digit

    digits = [inputs.prepared_digit(inputs.EXAMPLE_FILES[f"Example {d}"]) for d in (7, 1, 4)]
    shown = arithmetic.arithmetic_view(None, "Example 7", "Example 1", "Example 4")
    for name, model in models.shipped_models().models.items():
        code = encode_digit(model, digits[0]) + encode_digit(model, digits[1]) - encode_digit(model, digits[2])
        expected = pictures.png_data_uri(decode_codes(model, code[None])[0])
        assert f'id="arith-{name}-img" alt="{name} decoder" src="{expected}"' in shown
    assert shown.count('id="arith-in-') == 3 and "− z₃: Example 4" in shown
    mine = inputs.YOUR_DRAWING
    with pytest.raises(gr.Error, match="Draw a digit first"):  # "your drawing" with nothing drawn
        arithmetic.arithmetic_view(None, mine, "Example 1", "Example 4")
    assert "Draw a digit first" in arithmetic.follow_drawing_arithmetic(
        None, mine, "Example 1", "Example 4", True
    )  # in the section
    assert arithmetic.follow_drawing_arithmetic(None, mine, "Example 1", "Example 4", False) == gr.skip()  # closed: left as it is
    drawn = arithmetic.follow_drawing_arithmetic(sketch(draw_digit(3)), mine, "Example 1", "Example 4", True)
    assert drawn.count('id="arith-in-') == 3 and "z₁: Your drawing" in drawn


def test_api_arithmetic_returns_both_models_results_and_refuses_blank_and_unusable_drawings(app_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    values = []
    for digit in (7, 1, 4):
        path = tmp_path / f"{digit}.png"
        draw_digit(digit).save(path)
        values.append({"background": None, "layers": [], "composite": handle_file(str(path))})
    out = client.predict(*values, api_name="/arithmetic")
    assert set(out) == {"inputs", "tied", "untied"} and len(out["inputs"]) == 3
    assert decode(out["tied"]).shape == (28, 28) and not np.array_equal(decode(out["tied"]), decode(out["untied"]))
    assert out == arithmetic.arithmetic_api(*(sketch(draw_digit(d)) for d in (7, 1, 4)))
    blank, dot = tmp_path / "blank.png", tmp_path / "dot.png"
    Image.new("RGB", (280, 280), "white").save(blank)
    image = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(image).ellipse((195, 195, 205, 205), fill="black")
    image.save(dot)
    with pytest.raises(AppError, match="third drawing is blank"):
        client.predict(*values[:2], {**values[2], "composite": handle_file(str(blank))}, api_name="/arithmetic")
    with pytest.raises(AppError, match="second drawing: That is just a dot"):
        client.predict(values[0], {**values[1], "composite": handle_file(str(dot))}, values[2], api_name="/arithmetic")
    assert client.predict(*values, api_name="/arithmetic") == out  # still serving


def test_page_is_built_without_torch_and_models_load_on_first_need():
    code = (
        "import sys, app\nfrom space import models\n"
        "print('torch' in sys.modules, models._loading is None, app.note.value)\n"
        "print(models.source_note())\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    before, note, after = result.stdout.strip().splitlines()[-3:]
    assert before == "False True Models: loading…"  # the whole page, and no torch, no models yet
    assert note == (
        "Models: bundled checkpoints (checkpoints/); conv pair: bundled checkpoints (checkpoints/conv/); "
        "sparse pair: bundled checkpoints (checkpoints/sparse/)."
    )
    assert after == "True"


def test_models_that_fail_to_load_are_named_on_the_page_and_in_each_answer(monkeypatch):
    from concurrent.futures import Future

    failed = Future()
    failed.set_exception(FileNotFoundError("checkpoints/tied/model.safetensors: checkpoint missing (run train.py to make it)"))
    monkeypatch.setattr(models, "_loading", failed)
    note = models.source_note()
    assert note.startswith("⚠️ The models could not be loaded") and "tied/model.safetensors" in note
    with pytest.raises(gr.Error, match=r"could not be loaded: checkpoints/tied/model\.safetensors"):
        side_by_side.reconstruct(sketch(draw_digit(3)), "gaussian", 0.3, 0)
    with pytest.raises(gr.Error, match="could not be loaded"):
        latent_maps.decode_latent("tied", 0.0, 0.0)
    assert latent_maps.mark_drawing(sketch(draw_digit(3)), "gaussian", 0.3, 0) == (gr.skip(),) * 3


@pytest.mark.parametrize("command", [["python", "app.py"], ["gradio", "app.py"]], ids=["python", "gradio-reload"])
def test_the_app_keeps_serving_when_started_from_the_command_line(command, tmp_path):
    """`python app.py` and `gradio app.py` (reload mode) serve the page, then answer strokes for a while."""
    import socket
    import time
    import urllib.request

    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    executable = sys.executable if command[0] == "python" else str(Path(sys.executable).with_name("gradio"))
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    # a session of its own: `gradio app.py` runs the app in a child process, and both must go at the end
    proc = subprocess.Popen(
        [executable, command[1]], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the page never came up"
                time.sleep(0.1)
        client = Client(url, verbose=False)
        stroke = data_uri(draw_digit(5, size=(app.CANVAS_SIZE, app.CANVAS_SIZE), box=(90, 50, 190, 230), width=24))
        until = time.monotonic() + 12  # a broken start-up once ended the process about 10 s in
        while time.monotonic() < until:
            assert client.predict(stroke, "gaussian", 0.3, 0, api_name="/stroke")[1] is not None
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the whole group: the reload command and the app it started
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # anyone left in the group?
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("the app outlived SIGTERM by 30 s")


def test_a_digit_drawn_small_on_the_pad_is_shown_with_a_note_on_its_thick_strokes():
    """The pad's pen is fixed: a digit a quarter of the canvas high comes out with strokes wider than MNIST's p98."""
    pen = round(app.PEN_WIDTH * app.CANVAS_SIZE)
    pad = draw_digit(7, size=(app.CANVAS_SIZE, app.CANVAS_SIZE), box=(100, 40, 142, 110), width=pen)
    shown, numbers = side_by_side.reconstruct(data_uri(pad), "gaussian", 0.3, 0)
    assert numbers is not None and 'class="note"' in shown and "Thick strokes" in shown
    large = draw_digit(7, size=(app.CANVAS_SIZE, app.CANVAS_SIZE), box=(60, 40, 200, 230), width=pen)
    shown, numbers = side_by_side.reconstruct(data_uri(large), "gaussian", 0.3, 0)
    assert numbers is not None and 'class="note"' not in shown


def test_no_error_from_the_drawing_endpoints_shows_a_server_path(app_url, tmp_path):
    import tempfile

    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    good = tmp_path / "three.png"
    draw_digit(3).save(good)
    junk = {"background": None, "layers": [], "composite": handle_file(str(text))}
    fine = {"background": None, "layers": [], "composite": handle_file(str(good))}
    layered = {"background": handle_file(str(good)), "layers": [handle_file(str(text))], "composite": None}
    client = Client(app_url, verbose=False)
    messages = [client.predict(bad, "gaussian", 0.3, 0, api_name="/reconstruct")[0] for bad in (junk, layered)]
    for call in (
        lambda: client.predict(junk, fine, 5, api_name="/interpolate"),
        lambda: client.predict(fine, junk, fine, api_name="/arithmetic"),
    ):
        with pytest.raises(AppError) as caught:
            call()
        messages.append(str(caught.value))
    for message in messages:
        assert "not an image that can be read" in message, message
        assert tempfile.gettempdir() not in message and "gradio" not in message.lower(), message


def test_an_image_picked_in_the_upload_tab_goes_onto_the_canvas_as_an_upload_does(tmp_path):
    path = tmp_path / "three.png"
    draw_digit(3).save(path)
    pad_value, tabs, cleared = side_by_side.picked_to_canvas(data_uri(draw_digit(3)))
    assert tabs.selected == "draw"  # back to the pad, to draw over it
    assert pad_value == side_by_side.upload_to_canvas(str(path))[0] and cleared == ""  # cleared: the same file can come again
    assert all(value == gr.skip() for value in side_by_side.picked_to_canvas(""))
    for bad, message in (
        ("/etc/passwd", "data URL"),
        ("data:text/plain;base64,aGVsbG8=", "data URL"),
        (data_uri_of(b"junk"), "not an image"),
    ):
        with pytest.raises(gr.Error, match=message):
            side_by_side.picked_to_canvas(bad)


def data_uri_of(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()
