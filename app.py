"""tiedae Space: draw a digit, add noise, compare a tied and an untied autoencoder side by side.

    python app.py                      # bundled checkpoints/, http://127.0.0.1:7860
    python app.py --hub NAMESPACE      # NAMESPACE/tiedae-mnist-tied and -untied from the Hub
    python app.py --data-dir DIR       # MNIST for live training from DIR/MNIST/raw (TIEDAE_DATA=DIR; else ./data)
    TIEDAE_HUB=NAMESPACE gradio app.py # the same, with auto-reload

This file only wires plain functions from `tiedae` to Gradio components.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import html
import importlib.util
import logging
import os
import random
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

import tiedae  # torch-free until first use: the page is served first, torch and the models load behind it
from tiedae.constants import (
    CANVAS_SIZE,
    CHECKPOINTS,
    CONV_CHANNELS,
    CONV_LATENT,
    DEFAULT_SIZES,
    DIGIT_COLORS,
    LIVE_DEFAULTS,
    LIVE_LIMITS,
    LIVE_SETTING_NAMES,
    LIVE_TIME_CAP,
    MAX_SEED,
    MNIST_PIXELS,
    MODEL_NAMES,
)
from tiedae.preprocess import SketchError, check_not_a_dot, find_ink, image_from_data_uri, open_image
from tiedae.study import AXES, METRICS, STUDY_FILE, StudyError

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
log = logging.getLogger("tiedae")

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
CONCURRENCY = max(1, os.cpu_count() or 1)
BLANK_HINT = '<p class="hint">✏️ <b>Draw a digit (0–9)</b> on the canvas, upload an image, or pick an example below.</p>'
NOISE_CHOICES = [("Gaussian", "gaussian"), ("Salt & pepper", "salt_pepper"), ("Uniform", "uniform")]
MODEL_SOURCE = Path(importlib.util.find_spec("tiedae.model").origin)  # read, not imported: it imports torch
TIE_LINES = [line.strip() for line in MODEL_SOURCE.read_text().splitlines() if "THE TIE" in line]  # the MLP's, the conv's


def refused(message: str) -> gr.Error:
    """The error for an input the app refuses on purpose: shown to the visitor, one line in the log (no traceback)."""
    log.info("refused: %s", message)
    return gr.Error(message, print_exception=False)


def app_options() -> tuple[str | None, str | None, str]:
    """Hub namespace, revision and MNIST folder from --hub/--revision/--data-dir (python app.py) or TIEDAE_HUB/…/TIEDAE_DATA."""
    hub, revision = os.environ.get("TIEDAE_HUB") or None, os.environ.get("TIEDAE_REVISION") or None
    data_dir = os.environ.get("TIEDAE_DATA") or "./data"
    if __name__ == "__main__":
        parser = argparse.ArgumentParser(description="tiedae Gradio app")
        parser.add_argument(
            "--hub", default=hub, help="load NAMESPACE/tiedae-mnist-{tied,untied} from the Hub (default: bundled checkpoints/)"
        )
        parser.add_argument("--revision", default=revision, help="Hub revision (branch, tag or commit) to pin (default: main)")
        parser.add_argument(
            "--data-dir",
            default=data_dir,
            help=f"MNIST for live training: a folder holding MNIST/raw/, downloaded there if missing (default: {data_dir})",
        )
        args = parser.parse_args()
        hub, revision, data_dir = args.hub, args.revision, args.data_dir
    return hub, revision, data_dir


HUB, REVISION, DATA_DIR = app_options()
LATENT_ROOT = CHECKPOINTS / "2d"  # the 2-D pair and its codes of the test digits
CONV_ROOT = CHECKPOINTS / "conv"  # the convolutional pair
LOAD_FAILED = "The models could not be loaded: {}"


def load_pair(root: Path, sizes: tuple[int, ...], arch: str = "mlp"):
    """One tied/untied pair: from the Hub with --hub (the bundled one in root if that fails), else from root."""
    if not HUB:
        return tiedae.demo.load_bundled(root, arch=arch)
    prefix = tiedae.model.repo_prefix(sizes, arch=arch)
    return tiedae.demo.load_from_hub(HUB, revision=REVISION, root=root, prefix=prefix, arch=arch)


def load_models():
    """Import torch, then load the shipped pairs (MLP and conv) and the 2-D pair; runs once, in the background (see loading)."""
    import torch  # here, not at the top: the page does not wait for torch

    torch.set_num_threads(1)  # one thread per call; the queue runs as many calls as there are cores
    # One image at a time through the conv pair: torch's own conv kernels, not oneDNN's, whose set-up in each new
    # worker thread cost 11 ms of CPU per call and model against 1.3 ms (measured; the MLP pair is unaffected)
    torch.backends.mkldnn.enabled = False
    start = time.perf_counter()
    try:
        loaded = load_pair(CHECKPOINTS, DEFAULT_SIZES)
    except (ValueError, FileNotFoundError) as e:  # a broken bundled checkpoint: say which file, no traceback
        log.error(LOAD_FAILED.format(e))
        raise
    try:
        latent = load_pair(LATENT_ROOT, (*DEFAULT_SIZES[:-1], 2))
    except (ValueError, FileNotFoundError) as e:  # the explorer says so; drawing and reconstructing still work
        log.warning("no 2-D models for the latent maps: %s", e)
        latent = None
    try:
        conv = load_pair(CONV_ROOT, (MNIST_PIXELS, CONV_LATENT), arch="conv")
    except (ValueError, FileNotFoundError) as e:  # the MLP pair is still shown, and the page says the conv pair is missing
        log.warning("no conv pair: %s", e)
        conv = None
    log.info("models loaded in %.1f s", time.perf_counter() - start)
    return loaded, latent, conv


_loading: Future | None = None
_loading_lock = threading.Lock()


def loading() -> Future:
    """The one background load of torch and the models: started once the page is served (python app.py), else on first need."""
    global _loading
    with _loading_lock:
        if _loading is None:
            _loading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiedae-models").submit(load_models)
        return _loading


def load_once_serving() -> None:
    """Start loading torch and the models once the server is up, so the page (first HTTP 200) does not wait for them."""
    while not demo.is_running:
        time.sleep(0.05)
    loading()


def shipped_models():
    """The shipped 20-D pair (LoadedModels), waiting while it loads; a clear error if it could not be loaded."""
    try:
        return loading().result()[0]
    except (ValueError, FileNotFoundError) as e:
        raise refused(LOAD_FAILED.format(e)) from None


def shipped_pairs() -> dict:
    """The pairs the side by side shows, {'mlp': LoadedModels, 'conv': LoadedModels} (conv only where it loaded)."""
    pairs = {"mlp": shipped_models()}
    conv = loading().result()[2]
    if conv is not None:
        pairs["conv"] = conv
    return pairs


def source_note() -> str:
    """Where the models came from, shown once they are loaded (or why they are not)."""
    try:
        pairs = shipped_pairs()
    except gr.Error as e:
        return f"⚠️ {e.message}"
    warnings = [f"⚠️ {loaded.warning}" for loaded in pairs.values() if loaded.warning]
    if "conv" not in pairs:
        warnings.append(f"⚠️ No conv pair ({CONV_ROOT.name}/ holds no usable checkpoints): only the MLP pair is shown.")
    sources = f"Models: {pairs['mlp'].source}" + (f"; conv pair: {pairs['conv'].source}." if "conv" in pairs else ".")
    return " ".join([*warnings, sources])


def sent_image(value: object) -> object:
    """One image of a drawing sent to the API: a file Gradio took into its upload cache (its file record, passed on
    unprocessed) is opened here, so a file that is not an image gets our message, not one naming a server path."""
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return open_image(value["path"])
    return value


def drawing_image(drawing: object) -> object:
    """The one image a drawing stands for: the pad's data URL, or a Sketchpad value sent to the API (None if blank)."""
    if isinstance(drawing, str):
        return image_from_data_uri(drawing)  # the pad, as the page sends it
    if not isinstance(drawing, dict):
        return drawing  # None, or an image handed over by Python callers
    unknown = set(drawing) - {"background", "layers", "composite", "id"}
    if unknown:
        raise SketchError(
            f"A drawing is a dict with 'background', 'layers' and 'composite'; got keys {sorted(map(str, unknown))}."
        )
    if drawing.get("composite") is not None:
        return sent_image(drawing["composite"])  # the background with every layer on it
    layers = drawing.get("layers") or []
    if isinstance(layers, (list, tuple)):
        layers = [sent_image(layer) for layer in layers]
    if not isinstance(layers, (list, tuple)) or not all(layer is None or isinstance(layer, Image.Image) for layer in layers):
        raise SketchError("A drawing's 'layers' must be a list of images.")
    layers = [layer for layer in layers if layer is not None]
    if not layers:
        return sent_image(drawing.get("background"))
    composite = sent_image(drawing.get("background")) or Image.new("RGBA", layers[0].size, (0, 0, 0, 0))
    for layer in layers:
        composite = Image.alpha_composite(composite.convert("RGBA"), layer.convert("RGBA").resize(composite.size))
    return composite


def drawing_digit(drawing) -> np.ndarray | None:
    """The 28×28 digit a drawing (the pad's data URL, a Sketchpad value or an image) stands for, None if blank."""
    image = drawing_image(drawing)
    return None if image is None else tiedae.demo.prepared_digit(image)


def reconstruct(
    drawing, noise_kind: str, noise_level: float, seed: int, side: str = "shipped", request: gr.Request | None = None
) -> tuple[str, dict | None]:
    """Drawing -> MNIST 28×28 -> noise -> tied and untied models -> (display HTML, numbers).

    `side` "mine": the pair this visitor trained live stands in for the shipped pair of its architecture.
    """
    try:
        kind, level, seed = tiedae.demo.check_controls(noise_kind, noise_level, seed)
    except ValueError as e:
        raise refused(str(e)) from None
    try:
        clean = drawing_digit(drawing)
    except SketchError as e:
        gr.Warning(str(e))
        return f'<p class="hint">⚠️ {html.escape(str(e))}</p>', None
    if clean is None:
        return BLANK_HINT, None
    pairs = shipped_pairs()
    trained = TRAINED.get(request.session_hash) if side == "mine" and request is not None else None
    if trained is not None:
        pairs = {**pairs, trained["arch"]: trained["pair"]}
    models, parameters = tiedae.demo.pair_models(pairs)
    out = tiedae.demo.reconstruct_digit(clean, models, kind, level, seed)
    uris = {name: tiedae.demo.png_data_uri(image) for name, image in out["images"].items()}  # encoded once, shown and returned
    titles = tiedae.demo.pair_titles(pairs)
    if trained is not None:
        titles[trained["arch"]] = f"Yours: {titles[trained['arch']]}"
    return (
        tiedae.demo.result_html(uris, out["metrics"], parameters, tiedae.demo.stroke_note(clean), titles),
        tiedae.demo.result_numbers(uris, out["metrics"], parameters),
    )


def upload_to_canvas(path: str | None):
    """Put an uploaded image or example on the canvas as the strokes found in it, dark on white, cropped to the digit."""
    if path is None:
        return gr.skip(), gr.skip()
    try:
        ink = find_ink(image_from_data_uri(path) if path.startswith("data:") else path)
        if ink is not None:
            check_not_a_dot(ink)  # the rule sketch_to_mnist applies: once cropped onto the pad a dot would be a disk
    except SketchError as e:
        raise refused(str(e)) from None
    if ink is None:
        raise refused("No digit found in that image: it looks blank, or the strokes are too faint to tell from the paper.")
    canvas = tiedae.demo.ink_on_canvas(ink, CANVAS_SIZE)
    return tiedae.demo.png_data_uri(np.asarray(canvas)), gr.Tabs(selected="draw")  # shown on the pad, drawn over there


def picked_to_canvas(picked: str):
    """The Upload tab's image (a data URL read in the browser) onto the canvas; the tab is then cleared for the next."""
    if not picked:
        return gr.skip(), gr.skip(), gr.skip()
    if not isinstance(picked, str) or not picked.startswith("data:"):
        raise refused("An upload is sent as a data URL ('data:image/…;base64,…').")
    return *upload_to_canvas(picked), ""


def example_to_canvas(index: int):
    """Put the example clicked (its index among EXAMPLE_FILES) on the canvas, as an upload is."""
    paths = list(EXAMPLE_FILES.values())
    if not isinstance(index, int) or not 0 <= index < len(paths):
        raise refused(f"There is no example number {index!r}.")
    return upload_to_canvas(paths[index])


@functools.cache
def picture_dir() -> Path:
    """Where the pictures that every visitor sees are written, once per process."""
    path = Path(tempfile.mkdtemp(prefix="tiedae-pictures-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)  # Gradio serves its own copies
    return path


def png_file(picture: np.ndarray, name: str) -> str:
    """A picture shown to every visitor, as a PNG file for an image output.

    Why a file: Gradio saves an array output by rewriting, in place, a file named by its content, so the same
    picture sent again (to another visitor, or twice in one session) can cut the file short while a browser is
    reading it: a broken image. A file path is copied into Gradio's cache once, under a temporary name renamed
    into place.
    """
    path = picture_dir() / f"{name}.png"
    staging = path.with_suffix(f".{threading.get_ident()}.tmp")
    Image.fromarray(picture).save(staging, format="PNG")
    os.replace(staging, path)  # whole or not at all, even if two first views draw it at once
    return str(path)


MARKED_KEEP_SECONDS = 600  # Gradio copies an output file into its cache as the event ends; after that it is not read
_pruned = [0.0]  # when marked_file last removed old files (a list: set from any thread)


def marked_file(picture: np.ndarray, name: str) -> str:
    """A picture for one visitor (a map with their drawing ringed), as a PNG file of its own.

    Two visitors can be sent the same picture (the same example, noise and seed), so one name per picture would be
    rewritten while Gradio copies it (see png_file); each call writes a new file instead, and files older than
    MARKED_KEEP_SECONDS are removed, at most once a minute.
    """
    folder = picture_dir() / "marked"
    folder.mkdir(exist_ok=True)
    now = time.time()
    if now - _pruned[0] > 60:
        _pruned[0] = now
        for old in folder.iterdir():
            try:
                if now - old.stat().st_mtime > MARKED_KEEP_SECONDS:
                    old.unlink()
            except FileNotFoundError:
                pass  # another thread removed it first
    handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".png", dir=folder)
    with os.fdopen(handle, "wb") as file:
        Image.fromarray(picture).save(file, format="PNG")
    return path


@functools.cache
def sweep_chart() -> str:
    """Drawn on first view, not at start-up: matplotlib costs a second the first page does not need."""
    chart = tiedae.demo.noise_sweep_image(shipped_models().metrics)
    if chart is None:
        raise refused("No usable metrics.json beside the checkpoints, so there is no sweep to show.")
    return png_file(chart, "noise-sweep")


@functools.cache
def study_charts(metric: str) -> tuple:
    """The study's caption and one interactive chart per axis, from checkpoints/study.json (drawn on first view)."""
    if metric not in METRICS:
        raise refused(f"Unknown study metric {metric!r}; choose one of {', '.join(METRICS)}.")
    try:
        caption, charts = tiedae.demo.study_view(CHECKPOINTS / STUDY_FILE, shipped_models().metrics, metric)
    except StudyError as e:
        raise refused(str(e)) from None
    return caption, *charts


@functools.cache
def weight_images() -> tuple[str, ...]:
    """The first layers' weights as tiles, drawn on first view: the tied weight, the untied encoder's and decoder's,
    then the same three for the conv pair's first-layer 4×4 kernels (blank where the conv pair is missing)."""
    pairs = shipped_pairs()
    mlp = pairs["mlp"].models
    tiles = tiedae.plots.weight_tiles
    pictures = {
        "tied": tiles(mlp["tied"].layers[0].weight),
        "untied-encoder": tiles(mlp["untied"].layers[0].weight),
        "untied-decoder": tiles(mlp["untied"].layers[0].decoder_weight.t()),
    }
    files = [png_file(picture, f"weights-{name}") for name, picture in pictures.items()]
    if "conv" not in pairs:
        return (*files, None, None, None)
    conv = pairs["conv"].models
    kernels = {  # (32, 1, 4, 4): 4×4 tiles, shown large
        "tied": conv["tied"].convs[0].weight,
        "untied-encoder": conv["untied"].convs[0].weight,
        "untied-decoder": conv["untied"].convs[0].decoder_weight,
    }
    return (*files, *(png_file(tiles(k, count=len(k), scale=12), f"kernels-{name}") for name, k in kernels.items()))


def latent_models():
    """The 2-D pair and its maps, or a clear error if they are missing."""
    shipped_models()  # the same error first if nothing could be loaded
    latent = loading().result()[1]
    if latent is None or latent.maps is None:
        raise refused(f"The 2-D models are missing ({LATENT_ROOT.name}/ holds no checkpoints with latent maps).")
    return latent


@functools.cache
def latent_pictures() -> dict[str, np.ndarray]:
    """Each 2-D model's map of the test codes, drawn once."""
    return {name: latent_map.picture() for name, latent_map in latent_models().maps.items()}


@functools.cache
def plain_maps() -> tuple[str, str]:
    """Both maps with nothing marked, as files (every visitor sees them)."""
    return tuple(png_file(picture, f"map-{name}") for name, picture in latent_pictures().items())


@functools.cache
def latent_section() -> tuple[str, str]:
    """The decoded grids the latent section shows when first opened (mark_drawing puts up the maps)."""
    loaded = latent_models()
    grids = {name: tiedae.latent.decoded_grid(loaded.models[name], loaded.maps[name]) for name in MODEL_NAMES}
    return tuple(png_file(grid, f"grid-{name}") for name, grid in grids.items())


def mark_drawing(drawing, noise_kind: str, noise_level: float, seed: int, is_open: bool = True, shown=None):
    """Both maps with the current drawing's clean and noisy codes ringed (plain if there is none), and what they show.

    `shown` is what the page's maps show now (a gr.State): the same maps are not sent twice to one page.
    """
    unchanged = gr.skip(), gr.skip(), gr.skip()
    if not is_open:
        return unchanged
    try:
        loaded = latent_models()
    except gr.Error:
        return unchanged  # the section says what is missing
    try:
        kind, level, seed = tiedae.demo.check_controls(noise_kind, noise_level, seed)
        clean = drawing_digit(drawing)
    except (ValueError, SketchError):
        clean = None  # the reconstruction above says what is wrong
    if clean is None:
        return unchanged if shown == "plain" else (*plain_maps(), "plain")
    noisy = tiedae.demo.noisy_digit(clean, kind, level, seed)
    encode = tiedae.latent.encode_digit
    codes = {name: (encode(model, noisy), encode(model, clean)) for name, model in loaded.models.items()}
    marks = tuple(float(v) for pair in codes.values() for code in pair for v in code)  # what the rings show
    if shown == marks:
        return unchanged
    pictures = latent_pictures()
    maps = (
        marked_file(
            tiedae.latent.mark(pictures[name], loaded.maps[name], [(noisy_code, MARK_NOISY), (clean_code, MARK_CLEAN)]),
            f"map-{name}",
        )
        for name, (noisy_code, clean_code) in codes.items()
    )
    return (*maps, marks)


def click_handler(name: str):
    """The select handler of one map: decode the point clicked, and mark it on the map (the drawing's rings kept)."""

    def on_click(evt: gr.SelectData, shown=None):
        loaded = latent_models()
        try:
            column, row = map(float, evt.index)  # pixels of the map picture
            x, y = loaded.maps[name].to_code(column, row)
            decoded = tiedae.demo.decoded_html(tiedae.demo.decode_point(loaded, name, x, y), f"{name} decoder")
        except (TypeError, ValueError) as e:  # e.g. a click before the map's picture has loaded
            raise refused(f"Could not decode that point: {e}") from None
        picture = latent_pictures()[name]
        if isinstance(shown, (tuple, list)) and len(shown) == 4 * len(MODEL_NAMES):  # the drawing's rings (see mark_drawing)
            i = 4 * MODEL_NAMES.index(name)
            rings = [(np.array(shown[i : i + 2]), MARK_NOISY), (np.array(shown[i + 2 : i + 4]), MARK_CLEAN)]
            picture = tiedae.latent.mark(picture, loaded.maps[name], rings)
        picture = tiedae.latent.mark_point(picture, loaded.maps[name], np.array([x, y]), MARK_CLICK)
        return decoded, marked_file(picture, f"map-{name}")

    return on_click


def decode_latent(model: str, x: float, y: float) -> dict:
    """A 2-D model's decoder output at the code (x, y): the image as a PNG data URI, and the numbers."""
    try:
        return tiedae.demo.decode_point(latent_models(), model, x, y)
    except ValueError as e:
        raise refused(str(e)) from None


def example_digit(choice: str, drawing) -> np.ndarray:
    """The 28×28 digit an interpolation end stands for: the current drawing or an example."""
    if choice != YOUR_DRAWING and choice not in EXAMPLE_FILES:
        raise refused(f"Unknown choice {choice!r}.")
    digit = drawing_digit(drawing) if choice == YOUR_DRAWING else tiedae.demo.prepared_digit(EXAMPLE_FILES[choice])
    if digit is None:
        raise refused("Draw a digit first, or choose an example to start from.")
    return digit


def check_steps(steps: object) -> int:
    try:
        return tiedae.demo.whole_number(steps, MIN_STEPS, MAX_STEPS, "Steps")
    except ValueError as e:
        raise refused(str(e)) from None


def interpolate_view(drawing, start: str, end: str, steps: int, t: float) -> str:
    """The interpolation section: both models' strips from `start` to `end`, and each one's decoding at t."""
    steps = check_steps(steps)
    if not isinstance(t, (int, float)) or not 0 <= t <= 1:
        raise refused(f"t must be a number from 0 to 1; got {t!r}.")
    try:
        a, b = example_digit(start, drawing), example_digit(end, drawing)
    except SketchError as e:
        raise refused(str(e)) from None
    paths = tiedae.demo.interpolate_digits(shipped_models().models, a, b, steps, float(t))
    return tiedae.demo.interpolation_html(paths, steps, float(t))


def in_section(view):
    """A section's view that says in the section what is missing (no drawing yet, an unusable one), not in a pop-up."""

    @functools.wraps(view)
    def shown(*args):
        try:
            return view(*args)
        except gr.Error as e:
            return f'<p class="hint">{html.escape(e.message)}</p>'

    return shown


def follow_drawing(drawing, start: str, end: str, steps: int, t: float, is_open: bool):
    """The interpolation again after the drawing changed, while it is open and one of its ends is the drawing."""
    if not is_open or YOUR_DRAWING not in (start, end):
        return gr.skip()
    return in_section(interpolate_view)(drawing, start, end, steps, t)


def api_digits(*drawings) -> list[np.ndarray]:
    """The 28×28 digits of an endpoint's drawings, or a clear error naming the blank or unusable one."""
    digits = []
    for which, drawing in zip(("first", "second", "third"), drawings):
        try:
            digit = drawing_digit(drawing)
        except SketchError as e:
            raise refused(f"The {which} drawing: {e}") from None
        if digit is None:
            raise refused(f"The {which} drawing is blank: draw a digit (0–9) in it.")
        digits.append(digit)
    return digits


def interpolate(drawing_a, drawing_b, steps: int) -> dict:
    """Both models' paths between two drawings' codes: each strip and frame as PNG data URIs."""
    steps = check_steps(steps)
    digits = api_digits(drawing_a, drawing_b)
    paths = tiedae.demo.interpolate_digits(shipped_models().models, *digits, steps, 0.0)
    return tiedae.demo.interpolation_numbers(paths, steps)


def arithmetic_view(drawing, first: str, second: str, third: str) -> str:
    """The latent arithmetic section: the three chosen digits and each 20-D model's decode(z1 + z2 − z3)."""
    choices = [first, second, third]
    try:
        digits = [example_digit(choice, drawing) for choice in choices]
    except SketchError as e:
        raise refused(str(e)) from None
    result = tiedae.demo.arithmetic_digits(shipped_models().models, digits)
    return tiedae.demo.arithmetic_html(result, choices)


def follow_drawing_arithmetic(drawing, first: str, second: str, third: str, is_open: bool):
    """The arithmetic again after the drawing changed, while it is open and one of its digits is the drawing."""
    if not is_open or YOUR_DRAWING not in (first, second, third):
        return gr.skip()
    return in_section(arithmetic_view)(drawing, first, second, third)


def arithmetic_api(drawing_a, drawing_b, drawing_c) -> dict:
    """decode(z1 + z2 − z3) of three drawings' codes by the tied and the untied 20-D model, images as PNG data URIs."""
    return tiedae.demo.arithmetic_digits(shipped_models().models, api_digits(drawing_a, drawing_b, drawing_c))


def digit_legend() -> str:
    """The maps' colour key: one swatch per digit."""
    swatches = "".join(
        f'<span class="swatch"><i style="background: rgb{tuple(int(c) for c in color)}"></i>{digit}</span>'
        for digit, color in enumerate(DIGIT_COLORS)
    )
    marks = (
        f'<span class="swatch"><i class="ring" style="border-color: rgb{MARK_CLEAN}"></i>your drawing</span>'
        f'<span class="swatch"><i class="ring" style="border-color: rgb{MARK_NOISY}"></i>with noise</span>'
        f'<span class="swatch"><b style="color: rgb{MARK_CLICK}">+</b> the point clicked</span>'
    )
    return f'<div class="legend">{swatches}{marks}</div>'


def captioned_image(label: str, **kwargs) -> gr.Image:
    """An image with its label as a caption above it: Gradio's label badge would cover the picture's top-left corner."""
    gr.HTML(f'<p class="image-caption">{html.escape(label)}</p>', padding=False)
    return gr.Image(label=label, show_label=False, **kwargs)


TRAINED: OrderedDict[str, dict] = OrderedDict()  # session -> the pair it trained live: {"arch", "pair", "zip"}
MAX_TRAINED = 16  # sessions whose trained pair is kept (the oldest goes first): at most ~20 MB each
RUNNING: dict[str, threading.Event] = {}  # session -> the Stop switch its runs share (a new one after each Stop)
TRAIN_QUEUE = "live-training"  # one run at a time, from the page and from /train alike


def live_data():
    """MNIST for live runs (downloaded into DATA_DIR on first need); a clear message if it cannot be had."""
    try:
        return tiedae.live.load_data(DATA_DIR)
    except tiedae.training.TrainError as e:
        log.warning("live training: no MNIST: %s", e)  # the details (paths, URLs tried) for whoever runs the app
        raise refused(
            "Live training needs MNIST, and it could not be loaded or downloaded on this server. Whoever runs the app: "
            "start it with `python app.py --data-dir DIR` (or TIEDAE_DATA=DIR), DIR holding MNIST/raw/ with the four "
            "MNIST files. Everything else on the page works without it."
        ) from None


def stop_switch(session: str) -> threading.Event:
    """This session's Stop switch: the one its runs share until Stop is pressed, then a new one."""
    stop = RUNNING.get(session)
    if stop is None or stop.is_set():
        stop = RUNNING[session] = threading.Event()
    return stop


def request_run(request: gr.Request) -> None:
    """At the Train click, before the queue: the switch a Stop pressed while the run waits its turn will set."""
    stop_switch(request.session_hash)


def live_updates(arch, train_size, latent, depth, epochs, noise_level, seed, drawing, stop: threading.Event):
    """A live run's updates (tiedae.live.train_live), stoppable by this session's Stop button or by leaving."""
    try:
        loading().result()  # torch imported and set to one thread per call (load_models), so strokes keep a core
    except (ValueError, FileNotFoundError):
        pass  # no shipped models: training works without them
    import torch

    precision = tiedae.training.pick_precision("auto", torch.device("cpu"))
    try:
        recipe = tiedae.live.live_recipe(
            arch=arch,
            train_size=train_size,
            latent=latent,
            depth=depth,
            epochs=epochs,
            noise_level=noise_level,
            seed=seed,
            precision=precision,
        )
    except ValueError as e:
        raise refused(str(e)) from None
    data = live_data()
    if recipe.train_size > len(data.x_train):
        raise refused(f"Only {len(data.x_train):,} MNIST training images are available here; choose at most that many.")
    log.info("live training: %s", tiedae.live.command(recipe, DATA_DIR))
    yield from tiedae.live.train_live(recipe, data, drawing=drawing, should_stop=stop.is_set, data_dir=DATA_DIR)


def keep_trained(session: str, update) -> str:
    """Keep a finished run's pair for this session (the oldest session's goes past MAX_TRAINED); its zip's path."""
    folder = Path(tempfile.mkdtemp(prefix="tiedae-trained-"))
    zip_path = tiedae.live.save_pair(update.models, update.final, folder)
    pair = tiedae.demo.LoadedModels(dict(update.models), dict.fromkeys(MODEL_NAMES), source="your live run")
    with _trained_lock:
        forget_trained(session)
        TRAINED[session] = {"arch": update.recipe.arch, "pair": pair, "zip": zip_path}
        while len(TRAINED) > MAX_TRAINED:
            forget_trained(next(iter(TRAINED)))
    return str(zip_path)


def forget_trained(session: str) -> None:
    """Drop a session's trained pair and its zip (Gradio serves its own copy of a zip already sent)."""
    with _trained_lock:
        trained = TRAINED.pop(session, None)
    if trained is not None:
        shutil.rmtree(Path(trained["zip"]).parent, ignore_errors=True)


_trained_lock = threading.RLock()  # sessions finish runs and leave from any worker thread
atexit.register(lambda: [forget_trained(session) for session in list(TRAINED)])  # no zips left behind


def live_settings_note() -> str:
    """Where live training's MNIST comes from, shown in its section."""
    if tiedae.live.data_ready(DATA_DIR):
        return f"MNIST: {Path(DATA_DIR, 'MNIST', 'raw')}."
    return (
        f"MNIST is not in {Path(DATA_DIR, 'MNIST', 'raw')} yet: the first run downloads it there (about 12 MB). "
        "Offline, start the app with `--data-dir DIR` (or TIEDAE_DATA=DIR) pointing at a folder with MNIST/raw/."
    )


def train_view(arch, train_size, latent, depth, epochs, noise_level, seed, drawing, request: gr.Request):
    """The page's live run: status, curves and reconstructions after every epoch; numbers, study and download at the end."""
    try:
        digit = drawing_digit(drawing)
    except SketchError:
        digit = None  # an unusable drawing is left out of the reconstructions, not a reason to refuse the run
    hidden = gr.update(visible=False)
    stop = RUNNING.get(request.session_hash) or stop_switch(request.session_hash)  # set at the click (request_run)
    if stop.is_set():
        yield "**Stopped** before it started.", *[gr.skip()] * 8
        return
    yield "**Starting…**", None, "", "", hidden, "", None, hidden, hidden
    for update in live_updates(arch, train_size, latent, depth, epochs, noise_level, seed, digit, stop):
        status = tiedae.demo.live_status(update)
        curves = tiedae.plots.training_curves(update.curve, update.recipe.epochs, arch=update.recipe.arch)
        digits = tiedae.demo.live_digits_html(update.images)
        if update.final is None:
            yield status, curves, digits, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            continue
        zip_path = keep_trained(request.session_hash, update)
        try:
            caption, chart = tiedae.demo.live_study_view(CHECKPOINTS / STUDY_FILE, update.recipe, update.final)
        except StudyError as e:
            caption, chart = f"⚠️ {e}", None
        yield (
            status,
            curves,
            digits,
            tiedae.demo.live_result_html(update.final),
            gr.update(value=update.final["command"], visible=True),
            caption,
            chart,
            gr.update(interactive=True, visible=True),
            gr.update(value=zip_path, visible=True),
        )


def train_api(
    arch: str, train_size: int, latent: int, depth: int, epochs: int, noise_level: float, seed: int, request: gr.Request
):
    """Train a tied and an untied pair live: one JSON update per epoch, the last one the run's result."""
    stop = stop_switch(request.session_hash)
    for update in live_updates(arch, train_size, latent, depth, epochs, noise_level, seed, None, stop):
        if update.final is not None:
            yield update.final
        else:
            yield {
                "epoch": update.epoch,
                "epochs": update.recipe.epochs,
                "seconds": round(update.seconds, 2),
                **{name: {"curve": values} for name, values in update.curve.items()},
                **({"stopped": update.stopped} if update.stopped else {"eta": round(update.eta, 1)}),
            }


def stop_training(request: gr.Request) -> None:
    """Stop this session's run before its next batch."""
    stop = RUNNING.get(request.session_hash)
    if stop is not None:
        stop.set()


def end_session(request: gr.Request) -> None:
    """A visitor left: stop their run and drop the pair they trained."""
    stop_training(request)
    RUNNING.pop(request.session_hash, None)
    forget_trained(request.session_hash)


def live_slider(name: str, *, step: int = 1, note: str = "") -> gr.Slider:
    """A live-training setting's slider: its range, default and name (the one its messages use) from one place."""
    return gr.Slider(
        *LIVE_LIMITS[name],
        value=LIVE_DEFAULTS[name],
        step=step,
        label=LIVE_SETTING_NAMES[name] + note,
        elem_id=f"train-{name.removeprefix('train_')}",  # train-size, train-latent, …
    )


def new_seed() -> int:
    return random.randint(0, MAX_SEED)


MARK_CLEAN, MARK_NOISY = (0, 0, 0), (255, 0, 255)  # rings on the maps: the drawing, and the drawing with noise
MARK_CLICK = (0, 150, 0)  # a cross on a map: the point last clicked (decoded below it)
MIN_STEPS, MAX_STEPS = 5, 16  # interpolation frames
EXAMPLE_FILES = {f"Example {p.stem.split('_')[-1]}": str(p) for p in sorted(EXAMPLES_DIR.glob("digit_*.png"))}
YOUR_DRAWING = "Your drawing"
ARITH_DEFAULTS = ("Example 7", "Example 1", "Example 4")  # z1 + z2 − z3
LATENT_CAPTION = (
    "Two more twins, tied and untied, trained with a **2-D code** (784 → 400 → 2), so the code space can be drawn. "
    "Each dot is one MNIST test digit's code, coloured by its label; your drawing (and its noisy copy) is ringed as you "
    "draw. **Click a map** to see what that model's decoder makes of the point. Below each map, the decoder's output "
    "on a grid over it. Look for: how the digits spread and overlap in each model's space, and whether the tied "
    "decoder (the encoder's own weights, transposed) draws sharper or blurrier digits between the clusters."
)
PEN_WIDTH = 0.086  # of the canvas side: strokes ~13% of a digit drawn two-thirds of the canvas high, as in MNIST
# The drawing pad: a plain <canvas> in a gr.HTML component. Its value is the drawing as a PNG data URL
# (CANVAS_SIZE px a side, "" when clear), set on each stroke's end: one small string per stroke, no file uploads.
# An image the server puts in the value (an upload or example) is painted on the pad and can be drawn over.
PAD_HTML = """
<div class="pad">
  <canvas width="${size}" height="${size}" role="img" aria-label="Drawing pad: draw a digit"></canvas>
  <div class="pad-tools">
    <span class="pad-hint">Draw with the mouse, a finger or a pen</span>
    <button type="button" class="pad-undo" title="Undo the last stroke">↶ Undo</button>
    <button type="button" class="pad-clear" title="Clear the pad">✕ Clear</button>
  </div>
</div>
"""
PAD_CSS = """
.pad canvas { display: block; width: 100%; max-width: 460px; aspect-ratio: 1; margin: 0 auto; background: #fff;
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); touch-action: none; cursor: crosshair; }
.pad-tools { display: flex; gap: 8px; align-items: center; justify-content: flex-end; max-width: 460px; margin: 6px auto 0; }
.pad-hint { flex: 1; font-size: 0.9em; opacity: 0.8; }
.pad-tools button { padding: 4px 12px; border: 1px solid var(--border-color-primary); border-radius: var(--radius-md);
  background: var(--button-secondary-background-fill); color: var(--button-secondary-text-color); }
"""
PAD_JS = """
const canvas = element.querySelector("canvas");
const ctx = canvas.getContext("2d");
const strokes = [];  // each a list of [x, y] in canvas pixels
let current = null, shown = null, sent = props.value || "";  // shown: an image the server put on the pad

function paint() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (shown) ctx.drawImage(shown, 0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#000";
  ctx.lineWidth = props.pen * canvas.width;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.fillStyle = "#000";
  for (const stroke of strokes) {
    ctx.beginPath();
    if (stroke.every(([x, y]) => x === stroke[0][0] && y === stroke[0][1])) {
      // a tap: a dot the pen's width (a zero-length line is not drawn, and an invisible stroke would make Undo do nothing)
      ctx.arc(...stroke[0], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.moveTo(...stroke[0]);
    for (const point of stroke) ctx.lineTo(...point);
    ctx.stroke();
  }
}
function send() {
  sent = strokes.length || shown ? canvas.toDataURL("image/png") : "";
  props.value = sent;  // fires the pad's change event: one call per stroke
}
function at(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}
canvas.addEventListener("pointerdown", (event) => {
  if (event.button > 0) return;
  canvas.setPointerCapture(event.pointerId);
  current = [at(event)];
  strokes.push(current);
  paint();
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  current.push(at(event));
  paint();
});
for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, () => {
    if (!current) return;
    current = null;
    send();
  });
}
element.querySelector(".pad-undo").addEventListener("click", () => {
  if (strokes.length) strokes.pop();
  else shown = null;
  paint();
  send();
});
element.querySelector(".pad-clear").addEventListener("click", () => {
  strokes.length = 0;
  shown = null;
  paint();
  send();
});
watch("value", () => {
  if ((props.value || "") === sent) return;  // our own stroke coming back, or still empty (null and "" alike)
  strokes.length = 0;
  shown = null;
  sent = props.value || "";
  if (!sent) return paint();
  const image = new Image();
  image.onload = () => { shown = image; paint(); };
  image.src = sent;
});
paint();
canvas.dataset.ready = "true";  // strokes are taken from here on (tests wait for it; a slow phone may take a moment)
"""
# The Upload tab: a file picker (and, on a phone, the camera); the image is decoded in the browser (EXIF orientation
# applied), scaled to at most UPLOAD_SIDE px a side and sent as a data URL. A file the browser cannot decode is sent
# as it is, so the server says what is wrong with it.
UPLOAD_SIDE = 1024  # twice preprocess.WORK_SIZE: the server works at 512 px, so nothing it uses is lost
UPLOAD_MAX_BYTES = 10_000_000  # as LAUNCH_KWARGS' max_file_size for the API's uploads
UPLOAD_HTML = """
<div class="upload-pick">
  <label class="upload-button">
    <input type="file" accept="image/*" aria-label="Upload an image of a digit">
    <span>Choose an image of a digit (PNG, JPEG, …) or take a photo of one</span>
  </label>
  <p class="upload-status" role="status"></p>
</div>
"""
UPLOAD_CSS = """
.upload-pick { padding: 24px 8px; text-align: center; }
.upload-button { display: inline-block; padding: 12px 18px; border: 1px dashed var(--border-color-primary);
  border-radius: var(--radius-lg); cursor: pointer; }
.upload-button input { display: block; margin: 0 auto 8px; }
.upload-status { font-size: 0.9em; margin-top: 8px; }
"""
UPLOAD_JS = """
const input = element.querySelector("input");
const status = element.querySelector(".upload-status");
const side = props.side, maxBytes = props.max_bytes;
function send(url) { status.textContent = ""; props.value = url; }
input.addEventListener("change", async () => {
  const file = input.files[0];
  input.value = "";  // the same file chosen again is a new upload
  if (!file) return;
  if (file.size > maxBytes) {
    status.textContent = `That file is ${(file.size / 1e6).toFixed(1)} MB; an upload can be at most ${maxBytes / 1e6} MB.`;
    return;
  }
  status.textContent = "Reading…";
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (error) {  // not an image this browser decodes: the server's message says what it is
    const reader = new FileReader();
    reader.onload = () => send(reader.result);
    reader.readAsDataURL(file);
    return;
  }
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  send(canvas.toDataURL(file.type === "image/jpeg" ? "image/jpeg" : "image/png", 0.92));  // PNG keeps transparency
});
"""
CSS = """
.pixelated img, .panel img { image-rendering: pixelated; }
.pixelated img { width: 100% !important; height: 100% !important; object-fit: contain; }
/* pairs of images, at most two pairs a row: the input and the MLP pair, then (under the MLP pair) the conv pair;
   in a narrow column (a phone) one pair a row */
.panels { display: flex; flex-wrap: wrap; gap: 12px; }
.pair { flex: 1 1 calc(50% - 6px); min-width: 200px; display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));
  gap: 4px 12px; align-content: start; }
.pair-title { grid-column: 1 / -1; font-size: 0.85em; font-weight: 600; }
.panel { margin: 0; text-align: center; }
.panel img { width: 100%; aspect-ratio: 1; background: #000; border-radius: 4px; }
.panel figcaption { font-size: 0.9em; margin-top: 4px; }
table.metrics { margin-top: 12px; }
table.metrics th, table.metrics td { padding: 6px 10px; }
/* the charts are "container" wide: the container fills the column, and no padding is added around the chart */
.study-plot .vega-embed { width: 100%; }
.study-plot .vega-embed .marks { padding: 0; }
.hint { font-size: 1.1em; padding: 24px 0; }
#train-digits { overflow-x: auto; }
.live-digits { border-collapse: collapse; }
.live-digits th { font-size: 0.8em; font-weight: 600; padding: 2px 4px; text-align: right; }
.live-digits td { padding: 1px; }
.live-digits img { display: block; width: 36px; height: 36px; image-rendering: pixelated; background: #000; }
.image-caption { margin: 0 0 4px; font-size: 0.9em; font-weight: 600; }
#source-note, #result .note { font-size: 0.9em; opacity: 0.85; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 0.9em; }
.swatch i { display: inline-block; width: 11px; height: 11px; border-radius: 50%; margin-right: 4px; vertical-align: -1px; }
.swatch i.ring { background: #fff; border: 2px solid; width: 9px; height: 9px; }  /* white inside, as on the maps: seen in dark mode too */
.decoded { max-width: 160px; }
.interp-row { display: grid; grid-template-columns: 4em 1fr 96px; gap: 10px; align-items: center; margin: 6px 0; }
.interp-strip { width: 100%; image-rendering: pixelated; }
/* latent arithmetic: the three inputs and the two results alike, in one row (three a row on a phone) */
.arith { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 8px; max-width: 800px; }
.arith-in, .arith-out { display: contents; }
@media (max-width: 600px) { .arith { grid-template-columns: repeat(3, minmax(0, 1fr)); } }
@media (max-width: 600px) { .live-digits img { width: 26px; height: 26px; } .live-digits th { font-size: 0.7em; padding: 1px 2px; } }
/* a phone: the table smaller; each interpolation's name and image at t on one line, its strip the whole width below */
@media (max-width: 600px) {
  /* a phone: a shorter header, and the four reconstructions in one row right under the pad (the input pair after
     them), so that after a stroke both pairs' answers are in view with the pad */
  #intro h1 { font-size: 1.45em; margin-bottom: 4px; }
  #intro p { font-size: 0.85em; line-height: 1.35; margin: 0; }
  #source-note { font-size: 0.8em; }
  .pair-input { order: 1; flex-grow: 0; }
  .pair-spacer { display: none; }
  .pair { min-width: 0; gap: 2px 6px; }
  .pair-mlp, .pair-conv { flex-basis: calc(50% - 6px); }
  .pair-title { font-size: 0.75em; }
  .panel figcaption { font-size: 0.8em; margin-top: 2px; }
  table.metrics { font-size: 0.85em; }
  table.metrics th, table.metrics td { padding: 4px 6px; }
  .interp-row { grid-template-columns: 1fr 72px; grid-template-areas: "name at" "strip strip"; }
  .interp-name { grid-area: name; }
  .interp-strip { grid-area: strip; }
  .interp-at { grid-area: at; }
}
"""
LAUNCH_KWARGS = {"max_file_size": "10mb", "show_error": True, "css": CSS}

tile_kw = {"interactive": False, "format": "png", "buttons": ["fullscreen"]}  # a tap enlarges them on a phone

with gr.Blocks(title="tiedae: tied vs untied autoencoders", delete_cache=(600, 3600)) as demo:
    gr.Markdown(
        "# tiedae — tied vs untied autoencoders\n"
        "Draw a digit and add noise. Two pairs of MNIST autoencoders reconstruct it: fully connected "
        "(784 → 400 → 20 → 400 → 784) and convolutional (28×28 → 14×14 → 7×7 → 20 and back). In each pair the "
        "**tied** model decodes with its encoder's own weights (transposed; for conv layers, the same kernels in a "
        "transposed convolution), the **untied** one has decoder weights of its own. What does tying cost?",
        elem_id="intro",
    )
    note = gr.Markdown("Models: loading…", elem_id="source-note")
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Tabs() as tabs:
                with gr.Tab("Draw", id="draw"):
                    sketch = gr.HTML(
                        "",
                        html_template=PAD_HTML,
                        css_template=PAD_CSS,
                        js_on_load=PAD_JS,
                        size=CANVAS_SIZE,
                        pen=PEN_WIDTH,
                        elem_id="sketchpad",
                    )
                with gr.Tab("Upload", id="upload"):
                    # read in the browser and sent as a data URL (downscaled): no file upload, whose progress
                    # stream the page's client closes with a console warning; the server reads it as an upload
                    upload = gr.HTML(
                        "",
                        html_template=UPLOAD_HTML,
                        css_template=UPLOAD_CSS,
                        js_on_load=UPLOAD_JS,
                        side=UPLOAD_SIDE,
                        max_bytes=UPLOAD_MAX_BYTES,
                        elem_id="upload",
                    )
        with gr.Column(scale=3):
            result = gr.HTML(BLANK_HINT, elem_id="result")
            numbers = gr.JSON(label="Numbers (as returned by the API)", visible=False)
    # Controls and examples in a row of their own: on a phone the columns stack, and the
    # reconstructions then come right under the canvas, not below every control.
    with gr.Row():
        with gr.Column(scale=2):
            noise_kind = gr.Radio(NOISE_CHOICES, value="gaussian", label="Noise type", elem_id="noise-kind")
            noise_level = gr.Slider(
                0, 1, value=0.3, step=0.01, label="Noise level (σ, fraction or amplitude)", elem_id="noise-level"
            )
            with gr.Row():
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Noise seed", elem_id="seed")
                reroll = gr.Button(
                    "↻ Re-roll noise", elem_id="reroll"
                )  # a plain arrow: an emoji is an empty box without an emoji font
        with gr.Column(scale=3):
            # The examples as a Dataset: a click sends the example's index, and the server puts that file on the pad
            # (gr.Examples would load the file into an image input first, an upload whose progress stream the page's
            # client closes with a console warning)
            examples = gr.Dataset(
                components=[gr.Image(type="filepath", visible=False)],
                samples=[[path] for path in EXAMPLE_FILES.values()],
                type="index",
                label="Example digits (drawn with pen strokes)",
                samples_per_page=10,
                elem_id="examples",
                visible=bool(EXAMPLE_FILES),
            )

    with gr.Accordion("Noise sweep on the MNIST test set", open=False) as sweep_section:
        sweep = captioned_image(
            "Test-set MSE vs noise level (from the checkpoints' metrics.json)",
            interactive=False,
            format="png",
            buttons=["fullscreen"],
            elem_id="sweep",
        )
    with gr.Accordion("What does tying cost? Tied vs untied across data, latent size and depth", open=False) as study_section:
        study_caption = gr.Markdown(elem_id="study-caption")
        study_metric = gr.Radio(
            list(zip(("Clean test digits", "Test digits with Gaussian noise σ = 0.5"), METRICS)),
            value=next(iter(METRICS)),
            label="Error measured on",
            elem_id="study-metric",
        )
        with gr.Row():
            study_plots = [
                gr.Plot(label=f"By {label}", show_label=False, elem_id=f"study-{axis}", elem_classes="study-plot")
                for axis, (label, _) in AXES.items()
            ]
    with gr.Accordion("Train them yourself: a tied and an untied pair, trained live", open=False) as train_ui:
        gr.Markdown(
            "Pick a setting and press **Train**: a tied and an untied twin train side by side on MNIST, on the same "
            "batches, noise and schedule, here on this server. After every epoch you see both models' test MSE and "
            "their reconstructions of one test digit of each class (and of your drawing). At the end: both models' "
            "numbers on the whole test set, the study at the nearest setting, and the `train.py` command that gives "
            f"the same numbers. One run trains at a time (others wait in the queue), for at most "
            f"{LIVE_TIME_CAP / 60:.0f} minutes. Try 500 images against 10,000: which model wins?"
        )
        with gr.Row():
            train_arch = gr.Radio(
                [("MLP", "mlp"), ("Conv (32/64 channels)", "conv")], value="mlp", label="Architecture", elem_id="train-arch"
            )
            train_size = live_slider("train_size", step=100)
            train_latent = live_slider("latent")
            train_depth = live_slider("depth", note=" (MLP)")
        with gr.Row():
            train_epochs = live_slider("epochs")
            train_noise = gr.Slider(
                0,
                1,
                value=LIVE_DEFAULTS["noise_level"],
                step=0.05,
                label=f"{LIVE_SETTING_NAMES['noise_level']} (σ up to; 0: clean)",
                elem_id="train-noise",
            )
            train_seed = gr.Number(
                value=LIVE_DEFAULTS["seed"], precision=0, minimum=0, maximum=MAX_SEED, label=LIVE_SETTING_NAMES["seed"], elem_id="train-seed"
            )
            with gr.Column(min_width=160):
                train_button = gr.Button("Train", variant="primary", elem_id="train-button")
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop-button")
        train_status = gr.Markdown(elem_id="train-status")
        with gr.Row(equal_height=False):  # two columns side by side where there is room, stacked on a phone
            with gr.Column(min_width=300):
                train_curves = gr.Plot(
                    label="Test MSE after each epoch", show_label=False, elem_id="train-curves", elem_classes="study-plot"
                )
            with gr.Column(min_width=300):
                train_digits = gr.HTML(elem_id="train-digits")
        train_result = gr.HTML(elem_id="train-result")
        train_command = gr.Code(
            label="The same run from the command line", language="shell", visible=False, elem_id="train-command"
        )
        train_study_caption = gr.Markdown(elem_id="train-study-caption")
        train_study = gr.Plot(show_label=False, elem_id="train-study", elem_classes="study-plot")
        with gr.Row():
            use_trained = gr.Radio(
                [("The shipped models", "shipped"), ("My trained pair", "mine")],
                value="shipped",
                label="The side by side shows",
                visible=False,
                elem_id="use-trained",
            )
            train_download = gr.DownloadButton(
                "Download my pair (zip of save_pretrained folders)", visible=False, elem_id="train-download"
            )
        train_note = gr.Markdown(elem_id="train-note")
    with gr.Accordion("Latent space: the code maps of a tied and an untied twin with a 2-D code", open=False) as latent_ui:
        gr.Markdown(LATENT_CAPTION)
        gr.HTML(digit_legend(), elem_id="digit-legend")
        map_images, decoded_views, grid_images = {}, {}, {}
        with gr.Row():
            for name in MODEL_NAMES:
                with gr.Column():
                    map_images[name] = captioned_image(
                        f"{name}: codes of the 10,000 test digits (click to decode)",
                        interactive=False,
                        format="png",
                        buttons=[],
                        elem_id=f"map-{name}",
                    )
                    decoded_views[name] = gr.HTML(f'<p class="hint">Click the {name} map to decode a point.</p>')
                    grid_images[name] = captioned_image(
                        f"{name}: the decoder's output over the map", elem_classes=["pixelated"], **tile_kw
                    )
    with gr.Accordion("Interpolate between two digits", open=False) as interp_ui:
        gr.Markdown(
            "The path z = (1 − t)·z₁ + t·z₂ between two digits' codes, decoded by each of the models above "
            "(20-D codes). The framed image is the one nearest t."
        )
        with gr.Row():
            interp_start = gr.Dropdown([YOUR_DRAWING, *EXAMPLE_FILES], value="Example 3", label="From", elem_id="interp-start")
            interp_end = gr.Dropdown([YOUR_DRAWING, *EXAMPLE_FILES], value="Example 8", label="To", elem_id="interp-end")
            interp_steps = gr.Slider(MIN_STEPS, MAX_STEPS, value=10, step=1, label="Steps", elem_id="interp-steps")
            interp_t = gr.Slider(0, 1, value=0.5, step=0.01, label="t", elem_id="interp-t")
        interp_view = gr.HTML(elem_id="interpolation")
    with gr.Accordion("Latent arithmetic: z₁ + z₂ − z₃", open=False) as arith_ui:
        gr.Markdown(
            "Add two digits' codes and take away a third's, then decode: decode(z₁ + z₂ − z₃), by each of the 20-D "
            "models above. The codes are not made for arithmetic, so the result is often a blend; see where the two "
            "decoders agree."
        )
        with gr.Row():
            arith_choices = [
                gr.Dropdown([YOUR_DRAWING, *EXAMPLE_FILES], value=value, label=label, elem_id=f"arith-{i}")
                for i, (value, label) in enumerate(zip(ARITH_DEFAULTS, ("z₁", "+ z₂", "− z₃")))
            ]
        arith_view = gr.HTML(elem_id="arithmetic")
    # API-only inputs of /reconstruct, /interpolate and /arithmetic: drawings as a Sketchpad sends them (image files)
    with gr.Group(visible=False):
        api_drawing = gr.Sketchpad(type="pil", visible=False)
        api_upload = gr.File(file_types=["image"], type="filepath", visible=False)  # an upload, as a client sends a file
        api_reconstruct = gr.Button(visible=False)
        api_drawings = [gr.Sketchpad(type="pil", visible=False) for _ in range(2)]
        api_steps = gr.Number(value=10, precision=0, visible=False)
        api_paths = gr.JSON(visible=False)
        api_button = gr.Button(visible=False)
        api_arith_drawings = [gr.Sketchpad(type="pil", visible=False) for _ in range(3)]
        api_arith = gr.JSON(visible=False)
        api_arith_button = gr.Button(visible=False)
        api_train_inputs = [
            gr.Textbox(value="mlp", visible=False),
            *[
                gr.Number(value=LIVE_DEFAULTS[name], precision=0, visible=False)
                for name in ("train_size", "latent", "depth", "epochs")
            ],
            gr.Number(value=LIVE_DEFAULTS["noise_level"], visible=False),
            gr.Number(value=LIVE_DEFAULTS["seed"], precision=0, visible=False),
        ]
        api_train = gr.JSON(visible=False)
        api_train_button = gr.Button(visible=False)
    with gr.Accordion("First-layer weights as 28×28 images", open=False) as tiles_section:
        gr.Markdown(
            "Each tile is one row of the first layer's weight, reshaped to 28×28 (grey = 0). For the **tied** model "
            "these are the encoder's filters *and* the decoder's basis images: the same numbers. The untied model "
            "learns two different sets."
        )
        tiles = []
        with gr.Row():
            for label in ("Tied: encoder filters = decoder basis", "Untied: encoder filters", "Untied: decoder basis"):
                with gr.Column(min_width=160):
                    tiles.append(captioned_image(label, elem_classes=["pixelated"], **tile_kw))
        gr.Markdown(
            f"The conv pair's first layer: {CONV_CHANNELS[0]} kernels of 4×4. For the **tied** conv model each kernel is at once an "
            "encoder filter (`F.conv2d`) and a stamp of the decoder's last layer (`F.conv_transpose2d` with the same "
            "kernel, its adjoint). The untied conv model learns a second set for its decoder."
        )
        with gr.Row():
            for label in (
                "Tied conv: encoder kernels = decoder kernels",
                "Untied conv: encoder kernels",
                "Untied conv: decoder kernels",
            ):
                with gr.Column(min_width=160):
                    tiles.append(captioned_image(label, elem_classes=["pixelated"], **tile_kw))
    with gr.Accordion("How tying works", open=False):
        gr.Markdown(
            "A tied autoencoder keeps **one** weight matrix W per layer pair. The encoder applies `F.linear(x, W, b_enc)`; "
            "the decoder applies `F.linear(h, W.t(), b_dec)`. `W.t()` is a view of the same `nn.Parameter`, so "
            "backpropagation adds the gradients of both uses into W, and the model has half the weights.\n\n"
            "A tied **conv** layer keeps one kernel W of shape (out, in, 4, 4). The encoder applies "
            "`F.conv2d(x, W, b_enc, stride=2, padding=1)`; the decoder applies "
            "`F.conv_transpose2d(h, W, b_dec, stride=2, padding=1)` with the *same* W: the transposed convolution is "
            "the convolution's adjoint (⟨conv(x, W), y⟩ = ⟨x, conv_transpose(y, W)⟩), and a Conv2d weight already has "
            "the layout it takes, so there is no flip or permute. 4×4 kernels at stride 2 map 28 → 14 → 7 and back "
            "exactly, with no `output_padding`.\n\n"
            "The two lines in `tiedae/model.py` that do it:\n\n```python\n" + "\n".join(TIE_LINES) + "\n```\n\n"
            "Common mistakes: assigning `decoder.weight = encoder.weight` (wrong shape), wrapping "
            "`nn.Parameter(encoder.weight.t())` (a second, independent parameter), or copying the transpose "
            "after each step (two parameters, the decoder's gradient thrown away); for conv layers, a copied, "
            "detached or re-wrapped kernel (the encoder's kernel then misses the decoder's gradient)."
        )

    controls = [noise_kind, noise_level, seed]
    side = gr.State("shipped")  # which pair of its architecture the side by side shows: shipped, or the visitor's own
    outputs = [result, numbers]
    maps = list(map_images.values())
    latent_open = gr.State(False)  # the maps are re-marked after each reconstruction only while they are on view
    maps_shown = gr.State(None)  # what the maps show: "plain", or the marked codes
    marking = [sketch, *controls, latent_open, maps_shown]
    maps_out = [*maps, maps_shown]
    mark_kw = {"api_name": False, "show_progress": "hidden"}
    # The pad's value changes on each stroke's end, and when an upload or example is put on it.
    # Its event is callable by clients as /stroke (not in the API docs), so benchmarks send exactly what the page sends.
    interp_open = gr.State(False)  # the interpolation follows the drawing only while it is on view
    arith_open = gr.State(False)  # and so does the latent arithmetic
    interp_inputs = [sketch, interp_start, interp_end, interp_steps, interp_t]
    sketch.change(
        reconstruct,
        [sketch, *controls, side],
        outputs,
        api_name="stroke",
        api_visibility="undocumented",
        show_progress="hidden",
        trigger_mode="always_last",
    ).then(mark_drawing, marking, maps_out, **mark_kw).then(
        follow_drawing, [*interp_inputs, interp_open], interp_view, **mark_kw
    ).then(follow_drawing_arithmetic, [sketch, *arith_choices, arith_open], arith_view, **mark_kw)
    # The API's drawings reach our code as Gradio's file records (preprocess=False): we open them, and check every
    # control ourselves (check_controls), so a bad file or value gets our message and never a server path.
    api_reconstruct.click(reconstruct, [api_drawing, *controls], outputs, api_name="reconstruct", preprocess=False)
    for control in controls:
        control.change(
            reconstruct, [sketch, *controls, side], outputs, api_name=False, show_progress="hidden", trigger_mode="always_last"
        ).then(mark_drawing, marking, maps_out, **mark_kw)
    # An upload or example goes onto the pad (its change event then reconstructs it), so drawing over it works.
    # The upload step is callable by clients (not in the API docs), so bad files can be tested down the path people use.
    upload.change(picked_to_canvas, upload, [sketch, tabs, upload], api_name=False)
    api_upload.change(upload_to_canvas, api_upload, [sketch, tabs], api_name="upload_to_canvas", api_visibility="undocumented")
    examples.click(example_to_canvas, examples, [sketch, tabs], api_name=False)
    demo.load(source_note, None, note, api_name=False, show_progress="hidden")
    reroll.click(new_seed, None, seed, api_name=False)
    sweep_section.expand(sweep_chart, None, sweep, api_name=False)
    study_section.expand(study_charts, study_metric, [study_caption, *study_plots], api_name=False)
    study_metric.change(study_charts, study_metric, [study_caption, *study_plots], api_name=False)
    latent_ui.expand(lambda: True, None, latent_open, api_name=False).then(
        latent_section, None, list(grid_images.values()), api_name=False
    ).then(mark_drawing, marking, maps_out, **mark_kw)
    latent_ui.collapse(lambda: False, None, latent_open, api_name=False)
    for name in MODEL_NAMES:
        map_images[name].select(click_handler(name), maps_shown, [decoded_views[name], map_images[name]], api_name=False)
    interp_ui.expand(lambda: True, None, interp_open, api_name=False).then(
        in_section(interpolate_view), interp_inputs, interp_view, api_name=False
    )
    interp_ui.collapse(lambda: False, None, interp_open, api_name=False)
    gr.on(
        [interp_start.change, interp_end.change, interp_steps.change, interp_t.change],
        in_section(interpolate_view),
        interp_inputs,
        interp_view,
        api_name=False,
        show_progress="hidden",
        trigger_mode="always_last",
    )
    gr.api(decode_latent, api_name="decode_latent")
    api_button.click(interpolate, [*api_drawings, api_steps], api_paths, api_name="interpolate", preprocess=False)
    tiles_section.expand(weight_images, None, tiles, api_name=False)
    arith_inputs = [sketch, *arith_choices]
    arith_ui.expand(lambda: True, None, arith_open, api_name=False).then(
        in_section(arithmetic_view), arith_inputs, arith_view, api_name=False
    )
    arith_ui.collapse(lambda: False, None, arith_open, api_name=False)
    gr.on(
        [choice.change for choice in arith_choices],
        in_section(arithmetic_view),
        arith_inputs,
        arith_view,
        api_name=False,
        show_progress="hidden",
        trigger_mode="always_last",
    )
    api_arith_button.click(arithmetic_api, api_arith_drawings, api_arith, api_name="arithmetic", preprocess=False)
    train_settings = [train_arch, train_size, train_latent, train_depth, train_epochs, train_noise, train_seed]
    train_outputs = [
        train_status,
        train_curves,
        train_digits,
        train_result,
        train_command,
        train_study_caption,
        train_study,
        use_trained,
        train_download,
    ]
    train_ui.expand(live_settings_note, None, train_note, api_name=False)
    # hidden layers are the MLP's: the conv pair's shape is its two conv layers and the code
    train_arch.change(lambda arch: gr.update(interactive=arch == "mlp"), train_arch, train_depth, api_name=False, queue=False)
    train_button.click(request_run, None, None, api_name=False, queue=False).then(
        train_view,
        [*train_settings, sketch],
        train_outputs,
        api_name=False,
        concurrency_limit=1,
        concurrency_id=TRAIN_QUEUE,
        show_progress="minimal",
    )
    stop_button.click(stop_training, None, None, api_name=False, queue=False)
    api_train_button.click(
        train_api, api_train_inputs, api_train, api_name="train", concurrency_limit=1, concurrency_id=TRAIN_QUEUE
    )
    use_trained.change(lambda choice: choice, use_trained, side, api_name=False).then(
        reconstruct, [sketch, *controls, side], outputs, api_name=False, show_progress="hidden"
    )
    demo.unload(end_session)

demo.queue(default_concurrency_limit=CONCURRENCY)

if __name__ == "__main__":
    threading.Thread(target=load_once_serving, daemon=True).start()
    demo.launch(**LAUNCH_KWARGS)
