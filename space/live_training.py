"""Live training: a visitor trains a tied and an untied pair, watches them learn, then uses or downloads them.

The loop is tiedae.live's (the package's training loop, the one train.py runs). What one visitor owns lives in
their session's gr.State (a LiveSession: the Stop switch, the pair they trained); Gradio drops it, and calls
forget_session, when it expires or some time after the visitor leaves.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

import tiedae  # torch-free until first use
from space.errors import refused
from space.inputs import drawing_digit
from space.models import LoadedModels, loading
from space.page_first import PAGE_FIRST, behind_the_page
from space.pictures import png_data_uri
from tiedae.constants import CHECKPOINTS, MODEL_NAMES
from tiedae.families import FAMILIES
from tiedae.preprocess import SketchError
from tiedae.recipe import Recipe
from tiedae.study import STUDY_FILE, StudyError, describe, load_study, summarize
from tiedae.ties import describe_tie, partly_tied

log = logging.getLogger("tiedae")

TRAIN_QUEUE = "live-training"  # one run at a time, from the page and from /train alike

LIVE_ROWS = (("input", "Test digits"), ("tied", "Tied"), ("untied", "Untied"))


def live_digits_html(images: dict[str, np.ndarray]) -> str:
    """A live run's reconstructions: the row of test digits (and the drawing, last) over each model's row."""
    if not images:
        return ""
    count = len(images["input"])
    head = "".join(f"<th>{digit}</th>" for digit in range(10)) + ("<th>yours</th>" if count > 10 else "")
    body = "".join(
        f"<tr><th>{label}</th>"
        + "".join(f'<td><img alt="{label} {i}" src="{png_data_uri(image)}"></td>' for i, image in enumerate(images[key]))
        + "</tr>"
        for key, label in LIVE_ROWS
    )
    return f'<table class="live-digits"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'


def clock(seconds: float) -> str:
    """'42 s', '3 min 05 s'."""
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def live_status(update) -> str:
    """One line on a live run: the epoch, the time so far and left, and each model's latest test MSE."""
    recipe = update.recipe
    if update.stopped:
        why = "Stopped" if update.stopped == "stopped" else f"Stopped at the {update.stopped}"
        return f"**{why}**, after {update.epoch} of {recipe.epochs} epochs ({clock(update.seconds)}). Press Train to start again."
    latest = ", ".join(f"{name} {values[-1]:.5f}" for name, values in update.curve.items())
    if update.final is not None:
        return (
            f"**Done:** {recipe.epochs} epochs in {clock(update.seconds)}. "
            f"Test MSE (first {tiedae.training.EPOCH_EVAL_SIZE:,} test digits): {latest}."
        )
    return (
        f"**Training:** epoch {update.epoch} of {recipe.epochs} · {clock(update.seconds)} so far, about {clock(update.eta)} left · "
        f"test MSE {latest}"
    )


def live_result_html(final: dict) -> str:
    """The numbers at the end of a live run: both models' clean and noisy test MSE and parameter counts."""
    rows = "".join(
        f"<tr><td><b>{name}</b>{tie_note(final[name].get('tie'))}</td><td>{final[name]['test_mse_clean']:.5f}</td>"
        f"<td>{final[name]['test_mse_noisy']:.5f}</td><td>{final[name]['parameters']:,}</td></tr>"
        for name in MODEL_NAMES
    )
    return (
        '<table class="metrics"><thead><tr><th></th><th>clean test MSE ↓</th><th>at Gaussian σ = 0.5 ↓</th>'
        f"<th>parameters</th></tr></thead><tbody>{rows}</tbody></table>"
        '<p class="note">On all 10,000 MNIST test digits, with the fixed test noise train.py evaluates with.</p>'
    )


def tie_note(mask: str | None) -> str:
    """' (ties the inner layer pair only)' after a partly tied model's name; nothing for an all-or-nothing one."""
    if not partly_tied(mask):
        return ""
    return f" <small>(ties {describe_tie(mask)})</small>"


def live_study_view(path: Path, recipe: Recipe, final: dict) -> tuple[str, object]:
    """The study at the setting nearest a live run (caption and chart, the run marked); StudyError if unusable."""
    axis, value = tiedae.live.nearest_study_cell(recipe)
    study = load_study(path)
    summary = summarize(study["rows"], recipe.arch)
    cell = next((c for c in summary.get(axis, []) if c["value"] == value), None)
    steps = recipe.epochs * recipe.batches_per_epoch(recipe.train_size)
    yours = {
        "value": value,
        "arch": recipe.arch,
        **{name: final[name]["test_mse_clean"] for name in MODEL_NAMES},
        "label": f"your run: {recipe.train_size:,} images, {recipe.epochs} epochs ({steps:,} steps)",
    }
    pair = f"{recipe.family.label} pairs"
    if cell is None:
        caption = f"The study has no {pair} at {describe(axis, value)} yet."
    else:
        numbers = ", ".join(
            f"{name} {cell['test_mse_clean'][name][0]:.5f} ± {cell['test_mse_clean'][name][1]:.5f}" for name in MODEL_NAMES
        )
        caption = (
            f"The study's {pair} at {describe(axis, value)}, the setting nearest yours: clean test MSE {numbers} "
            f"(mean ± std over {len(cell['seeds'])} seeds, {study.get('steps', 0):,} optimizer steps per model). "
            f"Yours took {steps:,} steps: the crosses."
        )
    chart = tiedae.plots.study_chart({arch: summarize(study["rows"], arch) for arch in FAMILIES}, axis, yours=yours)
    return caption, chart


TRAINED_SECONDS = 3600  # how long a session keeps the pair it trained after its last run (Gradio's gr.State time to live)
MAX_TRAINED = 16  # trained pairs kept in all (up to ~20 MB each): the oldest is dropped first, whatever its time to live


@dataclass
class TrainedPair:
    """A pair a visitor trained: its family, the models as the side by side loads them, and the zip they can download."""

    arch: str
    pair: LoadedModels
    zip: Path


@dataclass
class LiveSession:
    """One visitor's live training, the value of their gr.State: the Stop switch their runs share, and their last pair."""

    stop: threading.Event = field(default_factory=threading.Event)
    trained: TrainedPair | None = None

    def forget(self) -> None:
        """Drop the trained pair and its zip (Gradio serves its own copy of a zip already sent)."""
        trained, self.trained = self.trained, None
        if trained is not None:
            shutil.rmtree(trained.zip.parent, ignore_errors=True)


def forget_session(session: LiveSession | None) -> None:
    """gr.State's delete callback (the session expired, or its visitor left a while ago): stop its run, drop its pair."""
    if session is None:
        return
    session.stop.set()
    session.forget()
    with _lock:
        for key in [key for key, kept in _kept.items() if kept is session]:
            del _kept[key]


# Two process-wide records of sessions, by session hash, for what a gr.State cannot do alone: an unload event is given
# no state, yet a leaving visitor's run must stop and their pair go at once; and all sessions' pairs together must
# fit in memory. The sessions themselves stay in each visitor's gr.State.
_running: dict[str, LiveSession] = {}  # session hash -> its session, while one of its runs trains
_kept: OrderedDict[str, LiveSession] = OrderedDict()  # sessions holding a trained pair, oldest first
_lock = threading.Lock()  # runs finish, visitors leave and states expire on any worker thread


def session_for_run(session: LiveSession | None) -> LiveSession:
    """At the Train click (before the queue): the visitor's session, with a fresh Stop switch if the last was used."""
    session = session or LiveSession()
    if session.stop.is_set():
        session.stop = threading.Event()
    return session


def caption(time_cap: float) -> str:
    """The section's words above its settings."""
    return (
        "Pick a setting and press **Train**: a tied and an untied twin train side by side on MNIST, on the same "
        "batches, noise and schedule, here on this server. After every epoch you see both models' test MSE and "
        "their reconstructions of one test digit of each class (and of your drawing). At the end: both models' "
        "numbers on the whole test set, the study at the nearest setting, and the `train.py` command that gives "
        f"the same numbers. One run trains at a time (others wait in the queue), for at most "
        f"{time_cap / 60:.0f} minutes. Try 500 images against 10,000: which model wins?"
    )


def depth_setting(arch: str):
    """The hidden-layers slider: settable only for a family whose live runs choose their hidden layers."""
    return gr.update(interactive=arch in FAMILIES and FAMILIES[arch].live_depth)


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


TIE_CHOICES = [  # the page's choices; a mask typed in (or sent to /train) works too
    ("every layer pair", "all"),
    ("the inner pair only (next to the code)", "inner"),
    ("the outer pair only (next to the pixels)", "outer"),
]
DATA_DIR = "./data"  # MNIST for live runs: python app.py --data-dir (or TIEDAE_DATA) sets it


def live_updates(arch, train_size, latent, depth, epochs, noise_level, seed, tie, drawing, stop: threading.Event):
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
            tie=tie,
            precision=precision,
        )
    except ValueError as e:
        raise refused(str(e)) from None
    data = live_data()
    if recipe.train_size > len(data.x_train):
        raise refused(f"Only {len(data.x_train):,} MNIST training images are available here; choose at most that many.")
    log.info("live training: %s", tiedae.live.command(recipe, DATA_DIR))

    def stop_or_give_way() -> bool:  # asked before each batch
        PAGE_FIRST.wait_turn()  # strokes being answered go first
        return stop.is_set()

    run = tiedae.live.train_live(recipe, data, drawing=drawing, should_stop=stop_or_give_way, data_dir=DATA_DIR)
    yield from behind_the_page(run, stop)


def live_settings_note() -> str:
    """Where live training's MNIST comes from, shown in its section."""
    if tiedae.live.data_ready(DATA_DIR):
        return f"MNIST: {Path(DATA_DIR, 'MNIST', 'raw')}."
    return (
        f"MNIST is not in {Path(DATA_DIR, 'MNIST', 'raw')} yet: the first run downloads it there (about 12 MB). "
        "Offline, start the app with `--data-dir DIR` (or TIEDAE_DATA=DIR) pointing at a folder with MNIST/raw/."
    )


@contextlib.contextmanager
def running(session: LiveSession, request: gr.Request | None):
    """While a run trains, its session is found by its hash, so that end_session can stop it."""
    key = getattr(request, "session_hash", None)
    if key is None:
        yield
        return
    with _lock:
        _running[key] = session
    try:
        yield
    finally:
        with _lock:
            if _running.get(key) is session:
                del _running[key]


def train_view(arch, train_size, latent, depth, epochs, noise_level, seed, tie, drawing, session, request: gr.Request):
    """The page's live run: status, curves and reconstructions after every epoch; numbers, study and download at the end."""
    try:
        digit = drawing_digit(drawing)
    except SketchError:
        digit = None  # an unusable drawing is left out of the reconstructions, not a reason to refuse the run
    session = session or session_for_run(None)  # set at the click (session_for_run); a fresh one if the page skipped it
    hidden = gr.update(visible=False)
    if session.stop.is_set():
        yield "**Stopped** before it started.", *[gr.skip()] * 8
        return
    yield "**Starting…**", None, "", "", hidden, "", None, hidden, hidden
    with running(session, request):
        for update in live_updates(arch, train_size, latent, depth, epochs, noise_level, seed, tie, digit, session.stop):
            status = live_status(update)
            curves = tiedae.plots.training_curves(update.curve, update.recipe.epochs, arch=update.recipe.arch)
            digits = live_digits_html(update.images)
            if update.final is None:
                yield status, curves, digits, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                continue
            zip_path = keep_trained(session, update, request.session_hash)
            try:
                caption, chart = live_study_view(CHECKPOINTS / STUDY_FILE, update.recipe, update.final)
            except StudyError as e:
                caption, chart = f"⚠️ {e}", None
            yield (
                status,
                curves,
                digits,
                live_result_html(update.final),
                gr.update(value=update.final["command"], visible=True),
                caption,
                chart,
                gr.update(interactive=True, visible=True),
                gr.update(value=zip_path, visible=True),
            )


def train_api(
    arch: str,
    train_size: int,
    latent: int,
    depth: int,
    epochs: int,
    noise_level: float,
    seed: int,
    tie: str = "all",
    session=None,
    request: gr.Request = None,
):
    """Train a tied and an untied pair live: one JSON update per epoch, the last one the run's result."""
    session = session_for_run(session)
    with running(session, request):
        for update in live_updates(arch, train_size, latent, depth, epochs, noise_level, seed, tie, None, session.stop):
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


def side_shown(choice: str, session: LiveSession | None) -> object:
    """What the side by side shows (its gr.State): "shipped", or for "mine" the visitor's session, whose trained pair
    stands in for the shipped one of its family while they have it. Strokes then carry one state, not two."""
    return session if choice == "mine" and session is not None else "shipped"


def stop_training(session: LiveSession | None) -> None:
    """Stop this session's run before its next batch."""
    if session is not None:
        session.stop.set()


def keep_trained(session: LiveSession, update, key: str) -> str:
    """Keep a finished run's pair in the visitor's session (the oldest kept pair goes past MAX_TRAINED); its zip's path."""
    folder = Path(tempfile.mkdtemp(prefix="tiedae-trained-"))
    zip_path = tiedae.live.save_pair(update.models, update.final, folder)
    pair = LoadedModels(dict(update.models), dict.fromkeys(MODEL_NAMES), source="your live run")
    session.forget()
    session.trained = TrainedPair(update.recipe.arch, pair, zip_path)
    with _lock:
        _kept.pop(key, None)
        _kept[key] = session
        while len(_kept) > MAX_TRAINED:
            _kept.popitem(last=False)[1].forget()
    return str(zip_path)


def end_session(request: gr.Request) -> None:
    """A visitor left: stop their run and drop the pair they trained."""
    with _lock:
        running_session = _running.pop(request.session_hash, None)
        kept_session = _kept.pop(request.session_hash, None)
    if running_session is not None:
        running_session.stop.set()
    if kept_session is not None:
        kept_session.forget()
