"""tiedae Space: draw a digit, add noise, compare a tied and an untied autoencoder side by side.

    python app.py                      # bundled checkpoints/, http://127.0.0.1:7860
    python app.py --hub NAMESPACE      # NAMESPACE/tiedae-mnist-tied and -untied from the Hub
    python app.py --data-dir DIR       # MNIST for live training from DIR/MNIST/raw (TIEDAE_DATA=DIR; else ./data)
    TIEDAE_HUB=NAMESPACE gradio app.py # the same, with auto-reload

This file only lays out the page and wires its events. What each section does is in space/, one module per
section, as plain functions; the pad's and the upload's HTML, JavaScript and CSS are files beside them.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import threading
import time
from pathlib import Path

import gradio as gr

from space import (
    arithmetic,
    interpolation,
    latent_maps,
    live_training,
    models,
    noise_sweep,
    side_by_side,
    sparse_codes,
    study_charts,
    weights,
)
from space.errors import in_section
from space.inputs import EXAMPLE_FILES, YOUR_DRAWING
from tiedae.constants import (
    CANVAS_SIZE,
    LIVE_DEFAULTS,
    LIVE_LIMITS,
    LIVE_SETTING_NAMES,
    LIVE_TIME_CAP,
    MAX_SEED,
    MODEL_NAMES,
    SPARSE_K,
)
from tiedae.families import FAMILIES, FIRST_FAMILY
from tiedae.study import AXES, CHART_METRICS, METRICS

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

SPACE = Path(__file__).resolve().parent / "space"
CONCURRENCY = max(1, os.cpu_count() or 1)
PEN_WIDTH = 0.086  # of the canvas side: strokes ~13% of a digit drawn two-thirds of the canvas high, as in MNIST
UPLOAD_SIDE = 1024  # twice preprocess.WORK_SIZE: the server works at 512 px, so nothing it uses is lost
UPLOAD_MAX_BYTES = 10_000_000  # as LAUNCH_KWARGS' max_file_size for the API's uploads
LAUNCH_KWARGS = {"max_file_size": "10mb", "show_error": True, "css": (SPACE / "page.css").read_text()}
TILE_KW = {"interactive": False, "format": "png", "buttons": ["fullscreen"]}  # a tap enlarges them on a phone


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


HUB, REVISION, live_training.DATA_DIR = app_options()
models.configure(hub=HUB, revision=REVISION)


def load_once_serving() -> None:
    """Start loading torch and the models once the server is up, so the page (first HTTP 200) does not wait for them."""
    while not demo.is_running:
        time.sleep(0.05)
    models.loading()


def captioned_image(label: str, **kwargs) -> gr.Image:
    """An image with its label as a caption above it: Gradio's label badge would cover the picture's top-left corner."""
    gr.HTML(f'<p class="image-caption">{html.escape(label)}</p>', padding=False)
    return gr.Image(label=label, show_label=False, **kwargs)


def live_slider(name: str, *, step: int = 1, note: str = "") -> gr.Slider:
    """A live-training setting's slider: its range, default and name (the one its messages use) from one place."""
    return gr.Slider(
        *LIVE_LIMITS[name],
        value=LIVE_DEFAULTS[name],
        step=step,
        label=LIVE_SETTING_NAMES[name] + note,
        elem_id=f"train-{name.removeprefix('train_')}",  # train-size, train-latent, …
    )


def showing(is_open: bool):
    """A section's open/closed flag, for the events that follow the drawing only while the section is on view."""
    return lambda: is_open


with gr.Blocks(title="tiedae: tied vs untied autoencoders", delete_cache=(600, 3600)) as demo:
    gr.Markdown(side_by_side.intro(), elem_id="intro")
    note = gr.Markdown("Models: loading…", elem_id="source-note")
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Tabs() as tabs:
                with gr.Tab("Draw", id="draw"):
                    sketch = gr.HTML(
                        "",
                        html_template=(SPACE / "pad.html").read_text(),
                        css_template=(SPACE / "pad.css").read_text(),
                        js_on_load=(SPACE / "pad.js").read_text(),
                        size=CANVAS_SIZE,
                        pen=PEN_WIDTH,
                        elem_id="sketchpad",
                    )
                with gr.Tab("Upload", id="upload"):
                    # read in the browser and sent as a data URL (downscaled): no file upload, whose progress
                    # stream the page's client closes with a console warning; the server reads it as an upload
                    upload = gr.HTML(
                        "",
                        html_template=(SPACE / "upload.html").read_text(),
                        css_template=(SPACE / "upload.css").read_text(),
                        js_on_load=(SPACE / "upload.js").read_text(),
                        side=UPLOAD_SIDE,
                        max_bytes=UPLOAD_MAX_BYTES,
                        elem_id="upload",
                    )
        with gr.Column(scale=3):
            result = gr.HTML(side_by_side.BLANK_HINT, elem_id="result")
            numbers = gr.JSON(label="Numbers (as returned by the API)", visible=False)
    # Controls and examples in a row of their own: on a phone the columns stack, and the
    # reconstructions then come right under the canvas, not below every control.
    with gr.Row():
        with gr.Column(scale=2):
            noise_kind = gr.Radio(side_by_side.NOISE_CHOICES, value="gaussian", label="Noise type", elem_id="noise-kind")
            noise_level = gr.Slider(
                0, 1, value=0.3, step=0.01, label="Noise level (σ, fraction or amplitude)", elem_id="noise-level"
            )
            with gr.Row():
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Noise seed", elem_id="seed")
                reroll = gr.Button("↻ Re-roll noise", elem_id="reroll")  # a plain arrow: an emoji is a box without an emoji font
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
        sweep = captioned_image("Test-set MSE vs noise level (from the checkpoints' metrics.json)", **TILE_KW, elem_id="sweep")
    with gr.Accordion(
        "What does tying cost? Tied vs untied across data, code size, depth, tied layers and k", open=False
    ) as study_section:
        study_caption = gr.Markdown(elem_id="study-caption")
        study_metric = gr.Radio(
            list(zip(("Clean test digits", "Test digits with Gaussian noise σ = 0.5", "Dead atoms (sparse)"), CHART_METRICS)),
            value=next(iter(METRICS)),
            label="Error measured on",
            elem_id="study-metric",
        )
        plots = {}
        for row in study_charts.chart_rows(AXES):  # a few charts a row, so the tied-layers settings have room
            with gr.Row():
                for axis in row:
                    plots[axis] = gr.Plot(
                        label=f"By {AXES[axis][0]}", show_label=False, elem_id=f"study-{axis}", elem_classes="study-plot"
                    )
        study_plots = [plots[axis] for axis in AXES]  # in the order study_charts returns them
    with gr.Accordion("Sparse codes: your digit as k parts", open=False, visible=bool(sparse_codes.ARCH)) as sparse_ui:
        gr.Markdown(sparse_codes.CAPTION)
        sparse_k = gr.Slider(1, SPARSE_K, value=SPARSE_K, step=1, label="k: atoms kept per digit", elem_id="sparse-k")
        sparse_view = gr.HTML(elem_id="sparse-parts")
        atom_pick = gr.HTML("", html_template="<span hidden></span>", js_on_load=sparse_codes.ATOM_PICK_JS, elem_id="atom-pick")
        atom_card = gr.HTML(
            '<p class="hint">Click an atom, above or in a dictionary below, for its card.</p>', elem_id="atom-card"
        )
        gr.Markdown(sparse_codes.DICTIONARY_CAPTION)
        dictionary_images, dictionary_captions = {}, {}
        with gr.Row():
            for name in MODEL_NAMES:
                with gr.Column(min_width=300):
                    dictionary_captions[name] = gr.Markdown(elem_id=f"dictionary-{name}-caption")
                    dictionary_images[name] = gr.Image(
                        show_label=False,
                        interactive=False,
                        format="png",
                        buttons=["fullscreen"],
                        elem_id=f"dictionary-{name}",
                        elem_classes=["pixelated"],
                    )
    with gr.Accordion("Train them yourself: a tied and an untied pair, trained live", open=False) as train_ui:
        gr.Markdown(live_training.caption(LIVE_TIME_CAP))
        with gr.Row():
            train_arch = gr.Radio(
                [(family.live_label, name) for name, family in FAMILIES.items()],
                value=FIRST_FAMILY,
                label="Architecture",
                elem_id="train-arch",
            )
            train_size = live_slider("train_size", step=100)
            train_latent = live_slider("latent")
            train_depth = live_slider("depth", note=f" ({', '.join(f.label for f in FAMILIES.values() if f.live_depth)})")
            train_tie = gr.Dropdown(
                live_training.TIE_CHOICES,
                value=LIVE_DEFAULTS["tie"],
                allow_custom_value=True,  # a mask: one 0/1 per layer pair, from the pixels inwards
                label=f"{LIVE_SETTING_NAMES['tie']} of the tied model (or a mask like 01)",
                elem_id="train-tie",
            )
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
                value=LIVE_DEFAULTS["seed"],
                precision=0,
                minimum=0,
                maximum=MAX_SEED,
                label=LIVE_SETTING_NAMES["seed"],
                elem_id="train-seed",
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
        gr.Markdown(latent_maps.LATENT_CAPTION)
        gr.HTML(latent_maps.digit_legend(), elem_id="digit-legend")
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
                        f"{name}: the decoder's output over the map", elem_classes=["pixelated"], **TILE_KW
                    )
    with gr.Accordion("Interpolate between two digits", open=False) as interp_ui:
        gr.Markdown(
            "The path z = (1 − t)·z₁ + t·z₂ between two digits' codes, decoded by each of the models above "
            "(20-D codes). The framed image is the one nearest t."
        )
        with gr.Row():
            interp_start = gr.Dropdown([YOUR_DRAWING, *EXAMPLE_FILES], value="Example 3", label="From", elem_id="interp-start")
            interp_end = gr.Dropdown([YOUR_DRAWING, *EXAMPLE_FILES], value="Example 8", label="To", elem_id="interp-end")
            interp_steps = gr.Slider(
                interpolation.MIN_STEPS, interpolation.MAX_STEPS, value=10, step=1, label="Steps", elem_id="interp-steps"
            )
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
                for i, (value, label) in enumerate(zip(arithmetic.ARITH_DEFAULTS, arithmetic.ARITHMETIC_SIGNS))
            ]
        arith_view = gr.HTML(elem_id="arithmetic")
    # API-only inputs of /reconstruct, /interpolate, /arithmetic, /sparse and /train: drawings as a Sketchpad sends them (image files)
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
            gr.Textbox(value=FIRST_FAMILY, visible=False),
            *[
                gr.Number(value=LIVE_DEFAULTS[name], precision=0, visible=False)
                for name in ("train_size", "latent", "depth", "epochs")
            ],
            gr.Number(value=LIVE_DEFAULTS["noise_level"], visible=False),
            gr.Number(value=LIVE_DEFAULTS["seed"], precision=0, visible=False),
            gr.Textbox(value=LIVE_DEFAULTS["tie"], visible=False),
        ]
        api_train = gr.JSON(visible=False)
        api_train_button = gr.Button(visible=False)
        api_sparse_k = gr.Number(value=SPARSE_K, precision=0, visible=False)
        api_sparse = gr.JSON(visible=False)
        api_sparse_button = gr.Button(visible=False)
    with gr.Accordion("First-layer weights as 28×28 images", open=False) as tiles_section:
        tiles = []
        for family in FAMILIES.values():
            gr.Markdown(family.weights_caption)
            with gr.Row():
                for label in family.tile_labels:
                    with gr.Column(min_width=160):
                        tiles.append(captioned_image(label, elem_classes=["pixelated"], **TILE_KW))
    with gr.Accordion("How tying works", open=False):
        gr.Markdown(weights.how_tying_works())

    controls = [noise_kind, noise_level, seed]
    side = gr.State("shipped")  # what the side by side shows: the shipped pairs, or with the visitor's session (their own pair)
    # the visitor's live training (their Stop switch and trained pair): dropped, and forgotten, when the session ends
    session = gr.State(None, time_to_live=live_training.TRAINED_SECONDS, delete_callback=live_training.forget_session)
    outputs = [result, numbers]
    latent_open = gr.State(False)  # the maps are re-marked after each reconstruction only while they are on view
    maps_shown = gr.State(None)  # what the maps show: "plain", or the marked codes
    marking = [sketch, *controls, latent_open, maps_shown]
    maps_out = [*map_images.values(), maps_shown]
    quiet = {"api_name": False, "show_progress": "hidden"}
    interp_open = gr.State(False)  # the interpolation follows the drawing only while it is on view
    sparse_open = gr.State(False)  # and so do the sparse parts
    arith_open = gr.State(False)  # and so does the latent arithmetic
    interp_inputs = [sketch, interp_start, interp_end, interp_steps, interp_t]
    arith_inputs = [sketch, *arith_choices]
    # The pad's value changes on each stroke's end, and when an upload or example is put on it.
    # Its event is callable by clients as /stroke (not in the API docs), so benchmarks send exactly what the page sends.
    sketch.change(
        side_by_side.reconstruct,
        [sketch, *controls, side],
        outputs,
        api_name="stroke",
        api_visibility="undocumented",
        show_progress="hidden",
        trigger_mode="always_last",
    ).then(latent_maps.mark_drawing, marking, maps_out, **quiet).then(
        interpolation.follow_drawing, [*interp_inputs, interp_open], interp_view, **quiet
    ).then(arithmetic.follow_drawing_arithmetic, [*arith_inputs, arith_open], arith_view, **quiet).then(
        sparse_codes.follow_drawing, [sketch, sparse_k, sparse_open], sparse_view, **quiet
    )
    # The API's drawings reach our code as Gradio's file records (preprocess=False): we open them, and check every
    # control ourselves (check_controls), so a bad file or value gets our message and never a server path.
    api_reconstruct.click(side_by_side.reconstruct, [api_drawing, *controls], outputs, api_name="reconstruct", preprocess=False)
    for control in controls:
        control.change(side_by_side.reconstruct, [sketch, *controls, side], outputs, **quiet, trigger_mode="always_last").then(
            latent_maps.mark_drawing, marking, maps_out, **quiet
        )
    # An upload or example goes onto the pad (its change event then reconstructs it), so drawing over it works.
    # The upload step is callable by clients (not in the API docs), so bad files can be tested down the path people use.
    upload.change(side_by_side.picked_to_canvas, upload, [sketch, tabs, upload], api_name=False)
    api_upload.change(
        side_by_side.upload_to_canvas, api_upload, [sketch, tabs], api_name="upload_to_canvas", api_visibility="undocumented"
    )
    examples.click(side_by_side.example_to_canvas, examples, [sketch, tabs], api_name=False)
    demo.load(models.source_note, None, note, **quiet)
    reroll.click(side_by_side.new_seed, None, seed, api_name=False)
    sweep_section.expand(noise_sweep.sweep_chart, None, sweep, api_name=False)
    study_section.expand(study_charts.study_charts, study_metric, [study_caption, *study_plots], api_name=False)
    study_metric.change(study_charts.study_charts, study_metric, [study_caption, *study_plots], api_name=False)
    latent_ui.expand(showing(True), None, latent_open, api_name=False).then(
        latent_maps.latent_section, None, list(grid_images.values()), api_name=False
    ).then(latent_maps.mark_drawing, marking, maps_out, **quiet)
    latent_ui.collapse(showing(False), None, latent_open, api_name=False)
    for name in MODEL_NAMES:
        map_images[name].select(
            latent_maps.click_handler(name), maps_shown, [decoded_views[name], map_images[name]], api_name=False
        )
    gr.api(latent_maps.decode_latent, api_name="decode_latent")
    interp_ui.expand(showing(True), None, interp_open, api_name=False).then(
        in_section(interpolation.interpolate_view), interp_inputs, interp_view, api_name=False
    )
    interp_ui.collapse(showing(False), None, interp_open, api_name=False)
    gr.on(
        [interp_start.change, interp_end.change, interp_steps.change, interp_t.change],
        in_section(interpolation.interpolate_view),
        interp_inputs,
        interp_view,
        **quiet,
        trigger_mode="always_last",
    )
    api_button.click(interpolation.interpolate, [*api_drawings, api_steps], api_paths, api_name="interpolate", preprocess=False)
    tiles_section.expand(weights.weight_images, None, tiles, api_name=False)
    arith_ui.expand(showing(True), None, arith_open, api_name=False).then(
        in_section(arithmetic.arithmetic_view), arith_inputs, arith_view, api_name=False
    )
    arith_ui.collapse(showing(False), None, arith_open, api_name=False)
    gr.on(
        [choice.change for choice in arith_choices],
        in_section(arithmetic.arithmetic_view),
        arith_inputs,
        arith_view,
        **quiet,
        trigger_mode="always_last",
    )
    api_arith_button.click(arithmetic.arithmetic_api, api_arith_drawings, api_arith, api_name="arithmetic", preprocess=False)
    sparse_ui.expand(showing(True), None, sparse_open, api_name=False).then(
        sparse_codes.sparse_view, [sketch, sparse_k], sparse_view, api_name=False
    ).then(sparse_codes.dictionaries, None, [*dictionary_images.values(), *dictionary_captions.values()], api_name=False)
    sparse_ui.collapse(showing(False), None, sparse_open, api_name=False)
    sparse_k.change(sparse_codes.sparse_view, [sketch, sparse_k], sparse_view, **quiet, trigger_mode="always_last")
    atom_pick.change(sparse_codes.picked, atom_pick, atom_card, **quiet)
    for name in MODEL_NAMES:
        dictionary_images[name].select(sparse_codes.grid_click_handler(name), None, atom_card, api_name=False)
    api_sparse_button.click(
        sparse_codes.sparse_numbers, [api_drawing, api_sparse_k], api_sparse, api_name=sparse_codes.API_NAME, preprocess=False
    )
    train_settings = [train_arch, train_size, train_latent, train_depth, train_epochs, train_noise, train_seed, train_tie]
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
    train_ui.expand(live_training.live_settings_note, None, train_note, api_name=False)
    train_arch.change(live_training.depth_setting, train_arch, train_depth, api_name=False, queue=False)
    train_button.click(live_training.session_for_run, session, session, api_name=False, queue=False).then(
        live_training.train_view,
        [*train_settings, sketch, session],
        train_outputs,
        api_name=False,
        concurrency_limit=1,
        concurrency_id=live_training.TRAIN_QUEUE,
        show_progress="minimal",
    )
    stop_button.click(live_training.stop_training, session, None, api_name=False, queue=False)
    api_train_button.click(
        live_training.train_api,
        [*api_train_inputs, session],
        api_train,
        api_name="train",
        concurrency_limit=1,
        concurrency_id=live_training.TRAIN_QUEUE,
    )
    use_trained.change(live_training.side_shown, [use_trained, session], side, api_name=False).then(
        side_by_side.reconstruct, [sketch, *controls, side], outputs, **quiet
    )
    demo.unload(live_training.end_session)

demo.queue(default_concurrency_limit=CONCURRENCY)

if __name__ == "__main__":
    threading.Thread(target=load_once_serving, daemon=True).start()
    demo.launch(**LAUNCH_KWARGS)
