"""Round trip: real MNIST test digits rendered the way people's input arrives, through the app's preprocessing.

    python benchmarks/roundtrip.py [--data-dir ../shared/data] [--digits 500] [--quick]

Each MNIST test digit is rendered as a drawing (scaled up 5-25×, anywhere on a canvas of the
app's size or larger, with several resampling filters, pens from thin to fat, opaque white,
transparent and light-on-dark canvases) or as a phone photo (dark ink on paper, uneven light,
a shadow edge, paper texture, sensor noise, blur, JPEG), and the photos again stored with each
EXIF orientation. Every rendering goes through `sketch_to_mnist`'s own steps, as the app's call runs them,
and the result is compared with the original digit:

- input fidelity: MSE(preprocessed rendering, original digit), mean, p90 and max;
- reconstruction ratio, per model (the MLP pair and each other shipped pair checkpoints/ holds: conv, sparse, 2-D):
  MSE(model(preprocessed), original) / MSE(model(original), original).

It also re-measures on the data the MNIST constants `tiedae.preprocess` uses and prints them
beside the code's values. The full run checks the acceptance bars and exits 1 if one is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, mnist_root, shipped_pairs

from tiedae import preprocess as pre
from tiedae import training
from tiedae.constants import CANVAS_SIZE
from tiedae.drawing import photograph
from tiedae.metrics import mse
from tiedae.model import METRICS_FILE, load_checkpoint

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
CANVASES = ("white", "transparent", "light-on-dark")
MORPH_SCALE = 8  # pens are thinned and thickened on the digit upscaled 8×, then resized to the drawing's scale
# EXIF orientation -> the transpose that stores an upright picture so that a viewer applying the tag shows it upright
STORE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
BARS = {  # family -> (mean, max) input-fidelity bars; None: no bar
    "drawing, own pen": (0.010, 0.03),
    "drawing, thin pen": (0.02, None),
    "drawing, fat pen": (0.035, None),  # a fattened digit and a naturally thick one look the same (see RESULTS.md)
    "photo": (0.02, None),
}
ROUNDING_FAMILIES = ("drawing, own pen", "drawing, fat pen")  # pre.ROUNDING_PER_WIDTH was fitted on these two
# median reconstruction ratio, drawings at the digit's own pen, for the pairs trained as denoisers: a pair that
# learned clean digits only (the sparse one, as sparse autoencoders are trained) has no noise or distortion to
# forgive a drawn stroke by, and its ratio is printed without a bar
RATIO_BAR = 1.5
EXIF_BAR = 0.002  # each orientation's mean fidelity within this of the upright photos'


def pen(digit: np.ndarray, grow: float) -> Image.Image:
    """The digit (28, 28) upscaled MORPH_SCALE× with its strokes grown (> 0) or thinned (< 0) by `grow` MNIST px a side.

    A round pen: grey dilation or erosion with a disk (not the distance transform the app uses).
    """
    big = np.asarray(
        Image.fromarray(digit.astype(np.float32), mode="F").resize((28 * MORPH_SCALE,) * 2, Image.Resampling.BILINEAR)
    )
    radius = abs(grow) * MORPH_SCALE
    r = math.ceil(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = yy**2 + xx**2 <= radius**2
    morph = ndimage.grey_dilation if grow > 0 else ndimage.grey_erosion
    return Image.fromarray(morph(big, footprint=disk).astype(np.float32), mode="F")


def render_drawing(digit: np.ndarray, rng: np.random.Generator, *, grow: float) -> Image.Image:
    """A drawing of the digit: scaled 5-25×, anywhere on a canvas at least the app's size."""
    scale = rng.uniform(5, 25)
    side = round(28 * scale)
    source = pen(digit, grow) if grow else Image.fromarray(digit.astype(np.float32), mode="F")
    ink = source.resize((side, side), FILTERS[rng.choice(list(FILTERS))])
    ink = np.clip(np.asarray(ink), 0, 1)
    canvas = max(CANVAS_SIZE, side + 2) + int(rng.integers(0, CANVAS_SIZE))
    top, left = rng.integers(0, canvas - side + 1, size=2)
    field = np.zeros((canvas, canvas), np.float32)
    field[top : top + side, left : left + side] = ink
    ink8 = np.round(255 * field).astype(np.uint8)
    kind = rng.choice(CANVASES)
    if kind == "white":  # black pen on an opaque white canvas
        return Image.fromarray(255 - ink8, mode="L").convert("RGBA")
    if kind == "transparent":  # black pen on a transparent canvas: the strokes are in the alpha channel
        rgba = np.zeros((canvas, canvas, 4), np.uint8)
        rgba[..., 3] = ink8
        return Image.fromarray(rgba, mode="RGBA")
    return Image.fromarray(ink8, mode="L").convert("RGB")  # white chalk on black


def render_photo(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone photo of the digit in dark ink on paper (tiedae.drawing.photograph): 600×800 either way, scaled 8-18×."""
    h, w = (600, 800) if rng.random() < 0.5 else (800, 600)
    side = round(28 * rng.uniform(8, 18))
    ink = Image.fromarray(digit.astype(np.float32), mode="F").resize((side, side), Image.Resampling.BICUBIC)
    field = np.zeros((h, w), np.float32)
    top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    field[top : top + side, left : left + side] = np.clip(np.asarray(ink), 0, 1)
    drawing = Image.fromarray(np.round(255 * (1 - field)).astype(np.uint8), mode="L")
    return photograph(drawing, seed=int(rng.integers(2**31)))


def with_orientation(jpeg: Image.Image, orientation: int) -> Image.Image:
    """The photo stored as a phone would with EXIF orientation `orientation`, decoded from JPEG bytes."""
    upright = jpeg.convert("RGB")
    stored = upright.transpose(STORE_FOR_ORIENTATION[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=92, exif=exif)
    return Image.open(io.BytesIO(buffer.getvalue()))


def with_orientation_upright(jpeg: Image.Image) -> Image.Image:
    """The photo re-saved as the rotated ones are, with orientation 1 (the control for JPEG re-encoding)."""
    buffer = io.BytesIO()
    jpeg.convert("RGB").save(buffer, format="JPEG", quality=92)
    return Image.open(io.BytesIO(buffer.getvalue()))


def measure_mnist(images: np.ndarray) -> list[tuple[str, str, str]]:
    """(what, measured on the data, value in the code) for each constant in tiedae.preprocess."""
    x = images.astype(np.float32) / 255  # (N, 28, 28)
    mass = x.sum(axis=(1, 2))
    com_y, com_x = (x.sum(axis=2) @ np.arange(28)) / mass, (x.sum(axis=1) @ np.arange(28)) / mass
    rows, cols = x.max(axis=2) > 0.1, x.max(axis=1) > 0.1
    height = 28 - rows.argmax(axis=1) - rows[:, ::-1].argmax(axis=1)
    width = 28 - cols.argmax(axis=1) - cols[:, ::-1].argmax(axis=1)
    longer, shorter = np.maximum(height, width), np.minimum(height, width)
    even = np.mean(shorter % 2 == 0)
    widths = [pre.stroke_width(d) for d in x]
    p05, p2, p50, p98, p995 = np.percentile(widths, [0.5, 2, 50, 98, 99.5])
    return [
        (
            "centre of mass (row, col)",
            f"rows {com_y.min():.2f}-{com_y.max():.2f} (mean {com_y.mean():.3f}), cols {com_x.min():.2f}-{com_x.max():.2f} (mean {com_x.mean():.3f})",
            f"whole-pixel shift to {pre.COM_TARGET}",
        ),
        (
            "bounding box (> 0.1), longer side",
            f"{np.mean(longer == 20):.1%} are 20 px (min {longer.min()}, max {longer.max()})",
            f"BOX_SIZE = {pre.BOX_SIZE}",
        ),
        ("shorter side even (centred in the box)", f"{even:.1%} even", "centred on a pixel edge"),
        (
            "stroke width (stroke_width), p0.5 / p2 / median / p98 / p99.5",
            f"{p05:.2f} / {p2:.2f} / {p50:.2f} / {p98:.2f} / {p995:.2f} px",
            f"STROKE_MIN {pre.STROKE_MIN}, STROKE_WIDE {pre.STROKE_WIDE}, STROKE_MAX {pre.STROKE_MAX}",
        ),
        ("peak intensity", f"{np.mean(x.max(axis=(1, 2)) >= 0.99):.1%} have a pixel ≥ 0.99", "output scaled to peak 1"),
    ]


def shift_choice(sized: np.ndarray, original: np.ndarray) -> list[tuple[float, int, float]]:
    """(fraction of the centring offset, 1 if the upper whole-pixel shift brings it nearer the original, the width the
    blend's scale is proportional to) per axis.

    `sized`: the digit before centring (pre.sized_digit), as prepare keeps it.
    """
    offsets = pre.centre_offset(sized)
    base = [math.floor(o) for o in offsets]

    def error(up_y: int, up_x: int) -> float:
        moved = ndimage.shift(sized, (base[0] + up_y, base[1] + up_x), order=0)  # whole pixels, zeros in
        return float(((moved / moved.max() - original) ** 2).mean())

    best = min(((y, x) for y in (0, 1) for x in (0, 1)), key=lambda s: error(*s))
    width = pre.rounding_width(sized)
    return [(o - b, up, width) for o, b, up in zip(offsets, base, best)]


def fit_rounding_per_width(choices: list[tuple[float, int, float]]) -> float:
    """Maximum-likelihood factor c of a logistic at x.5, of scale c × stroke width, giving the chance that the upper
    shift is the original's."""
    fraction, up, width = np.array(choices, dtype=np.float64).T
    factors = np.arange(0.005, 0.1, 0.0005)
    p = 1 / (1 + np.exp(-(fraction[None] - 0.5) / (factors[:, None] * width[None])))  # (factors, choices)
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(factors[np.argmax((up * np.log(p) + (1 - up) * np.log(1 - p)).sum(axis=1))])


@torch.inference_mode()
def reconstruction_errors(models: dict, inputs: np.ndarray, originals: np.ndarray) -> dict[str, np.ndarray]:
    """Per-digit MSE against the originals of each model fed `inputs`: {name: (N,)}."""
    x = torch.from_numpy(inputs.reshape(len(inputs), 784))  # (N, 28, 28) -> (N, 784)
    target = torch.from_numpy(originals.reshape(len(originals), 784))
    with torch.inference_mode():
        return {name: mse(model(x), target).numpy() for name, model in models.items()}


def prepare(image: Image.Image, like: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """sketch_to_mnist's steps as it runs them (find_ink, then ink_to_mnist = centre_by_mass(sized_digit)).

    Returns (digit, failed, the digit before centring). A blank or refused result counts as an
    all-black digit (a total loss), with nothing before centring.
    """
    try:
        ink = pre.find_ink(image)
        sized = None if ink is None else pre.sized_digit(ink)
    except pre.SketchError:
        sized = None
    if sized is None:
        return np.zeros_like(like), True, None
    return pre.centre_by_mass(sized), False, sized


def renderings(digit: np.ndarray, rng: np.random.Generator) -> dict[str, Image.Image]:
    """Every family's rendering of one digit."""
    photo = render_photo(digit, rng)
    out = {
        "drawing, own pen": render_drawing(digit, rng, grow=0),
        "drawing, thin pen": render_drawing(digit, rng, grow=-rng.uniform(0.3, 0.6)),
        "drawing, fat pen": render_drawing(digit, rng, grow=rng.uniform(0.5, 1.5)),
        "photo": photo,
        "photo, EXIF 1 (re-saved)": with_orientation_upright(photo),
    }
    for orientation in STORE_FOR_ORIENTATION:
        out[f"photo, EXIF {orientation}"] = with_orientation(photo, orientation)
    return out


def summarize_family(name: str, prepared: np.ndarray, failures: int, seconds: float, originals, models, own_errors) -> dict:
    """Fidelity and reconstruction ratios of one family's preprocessed renderings against the originals."""
    fidelity = ((prepared - originals) ** 2).mean(axis=(1, 2))
    errors = reconstruction_errors(models, prepared, originals)
    ratios = {m: errors[m] / own_errors[m] for m in models}
    return {
        "family": name,
        "n": len(originals),
        "failures": failures,
        "fidelity": fidelity,
        "ratios": ratios,
        "ms": 1000 * seconds / len(originals),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST root holding MNIST/raw/ (default: ../shared/data)")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"), help="folder holding tied/ and untied/")
    p.add_argument("--digits", type=int, default=500, help="MNIST test digits per family")
    p.add_argument("--seed", type=int, default=0, help="seed for choosing digits and renderings")
    p.add_argument("--quick", action="store_true", help="20 digits per family, no bars checked (CI smoke run)")
    args = p.parse_args()
    n = 20 if args.quick else args.digits

    root, description = mnist_root(args.data_dir)
    print(f"machine: {machine()}\ndata: {description}")
    x_train, x_test = training.load_mnist(root)
    print("\nMNIST measured vs the constants in tiedae/preprocess.py:")
    for what, measured, code in measure_mnist(np.concatenate([x_test.numpy(), x_train.numpy()])):
        print(f"  {what:<52} {measured:<70} code: {code}")

    rng = np.random.default_rng(args.seed)
    index = rng.choice(len(x_test), size=n, replace=False)
    originals = x_test.numpy()[index].astype(np.float32) / 255  # (n, 28, 28)
    folder = Path(args.checkpoints)
    models, denoisers = {}, set()
    for prefix, pair in shipped_pairs(folder).values():  # every shipped pair present, under the API's names
        if not (pair / "tied").is_dir():
            continue
        for name in ("tied", "untied"):
            models[prefix + name] = load_checkpoint(pair / name, name)
            if json.loads((pair / name / METRICS_FILE).read_text())["recipe"]["denoise"]:
                denoisers.add(prefix + name)
    own = reconstruction_errors(models, originals, originals)

    # One digit at a time: all its renderings, preprocessed at once, so only 28×28 results are kept.
    prepared: dict[str, list[np.ndarray]] = {}
    failures: dict[str, int] = {}
    seconds: dict[str, float] = {}
    choices: dict[str, list[tuple[float, int]]] = {family: [] for family in ROUNDING_FAMILIES}
    for digit in originals:
        for family, image in renderings(digit, rng).items():
            start = time.perf_counter()
            x, failed, sized = prepare(image, digit)
            seconds[family] = seconds.get(family, 0.0) + time.perf_counter() - start
            prepared.setdefault(family, []).append(x)
            failures[family] = failures.get(family, 0) + failed
            if family in choices and sized is not None:
                choices[family] += shift_choice(sized, digit)
    results = [
        summarize_family(family, np.stack(xs), failures[family], seconds[family], originals, models, own)
        for family, xs in prepared.items()
    ]

    fits = {family: fit_rounding_per_width(c) for family, c in choices.items()}
    fits["both"] = fit_rounding_per_width([c for family_choices in choices.values() for c in family_choices])
    print(
        "  centring blend: logistic scale per px of stroke width, fitted on these drawings (which whole-pixel shift is"
        f" nearer the original)  {', '.join(f'{family}: {factor:.4f}' for family, factor in fits.items())}"
        f"   code: ROUNDING_PER_WIDTH = {pre.ROUNDING_PER_WIDTH}"
    )
    print(
        f"\n{n} MNIST test digits per family; fidelity = MSE(preprocessed, original); ratio = model MSE on it / on the original"
    )
    print(f"{'':<59}median ratio per model")
    ratio_heads = "".join(f"{m:>{len(m) + 2}}" for m in models)
    print(f"{'family':<26}{'mean':>9}{'p90':>9}{'max':>9}{'fail':>6}{ratio_heads}{'ms/img':>8}")
    for r in results:
        f = r["fidelity"]
        ratios = "".join(f"{np.median(r['ratios'][m]):>{len(m) + 2}.2f}" for m in models)
        print(
            f"{r['family']:<26}{f.mean():>9.4f}{np.percentile(f, 90):>9.4f}{f.max():>9.4f}{r['failures']:>6}"
            f"{ratios}{r['ms']:>8.1f}"
        )

    by_name = {r["family"]: r for r in results}
    missed = []
    for family, (mean_bar, max_bar) in BARS.items():
        f = by_name[family]["fidelity"]
        if f.mean() > mean_bar:
            missed.append(f"{family}: mean {f.mean():.4f} > {mean_bar}")
        if max_bar is not None and f.max() > max_bar:
            missed.append(f"{family}: max {f.max():.4f} > {max_bar}")
    for model in (m for m in models if m in denoisers):
        ratio = float(np.median(by_name["drawing, own pen"]["ratios"][model]))
        if ratio > RATIO_BAR:
            missed.append(f"{model} median ratio {ratio:.2f} > {RATIO_BAR}")
    upright = by_name["photo, EXIF 1 (re-saved)"]["fidelity"].mean()  # same JPEG re-encoding as the rotated ones
    worst_exif = max(abs(by_name[f"photo, EXIF {o}"]["fidelity"].mean() - upright) for o in STORE_FOR_ORIENTATION)
    if worst_exif > EXIF_BAR:
        missed.append(f"EXIF orientation off the upright photos by {worst_exif:.4f} > {EXIF_BAR}")
    own_pen = by_name["drawing, own pen"]
    headline = (
        f"drawings at own pen: fidelity mean {own_pen['fidelity'].mean():.4f} max {own_pen['fidelity'].max():.4f}, "
        "ratio " + " ".join(f"{m} {np.median(own_pen['ratios'][m]):.2f}" for m in models) + "; "
        f"thin {by_name['drawing, thin pen']['fidelity'].mean():.4f}, fat {by_name['drawing, fat pen']['fidelity'].mean():.4f}, "
        f"photos {by_name['photo']['fidelity'].mean():.4f}, EXIF within {worst_exif:.4f}"
    )
    if args.quick:
        print(f"SUMMARY roundtrip (quick, {n} digits per family, bars not checked): {headline}")
        return 0
    verdict = "all bars met" if not missed else "MISSED: " + "; ".join(missed)
    print(f"SUMMARY roundtrip ({n} digits per family): {headline}; {verdict}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
