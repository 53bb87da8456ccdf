"""The model families tiedae shows, one row each: the one place that knows what a family is.

A family is a tied model and its untied twin of the same shape, plus how the rest of the project
treats them: how a Recipe builds them, how checkpoints and Hub repos are named, how the page titles
and draws them, and which study axes they are measured along. Nothing outside this table and the
model code branches on a family's name; to add a family, write its two classes in tiedae/model.py
and add its row here.

Nothing here imports torch (the app builds its page from this table while torch loads): classes are
named, and resolved on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tiedae.constants import (
    CONV_CHANNELS,
    CONV_LATENT,
    DECODER_INITS,
    DEFAULT_SIZES,
    MNIST_PIXELS,
    MODEL_NAMES,
    SPARSE_HIDDEN,
    SPARSE_K,
)

REPO_PREFIX = "tiedae-mnist"  # Hub repos: NAMESPACE/tiedae-mnist-tied and -untied


@dataclass(frozen=True)
class Family:
    """One row of the table. Callables take plain values (a Recipe, a config dict, a model), never a family name."""

    name: str  # --arch, `arch` in config.json and metrics.json, a study row's "arch"
    label: str  # short, in titles, legends and the study's tables: "MLP"
    description: str  # in words, for --help and cards: "fully connected"
    tied: str  # the tied class's name in `module`
    untied: str  # the untied twin's
    hparams: tuple[str, ...]  # the config.json keys that fix the weights' shapes (how a checkpoint without `arch` is told apart)
    default_sizes: tuple[int, ...]  # a Recipe's `sizes` unless set: the shipped pair's
    model_kwargs: Callable[[Any], dict]  # Recipe -> the keyword arguments of both classes (ValueError if it cannot build them)
    repo_prefix: Callable[[dict], str]  # hparams -> the Hub repo name prefix: another shape never overwrites a shipped pair
    title: Callable[[dict], str]  # hparams -> the pair's title on the page: "MLP 784-400-20"
    first_layer: Callable[[Any], tuple]  # model -> its first layer's (encoder, decoder) weights, as weight_tiles draws them
    untied_kwargs: Callable[[Any], dict] | None = None  # Recipe -> the untied class's further keyword arguments (how it starts)
    tile_options: dict = field(default_factory=dict)  # weight_tiles' keyword arguments for them
    tile_labels: tuple[str, str, str] = (  # the tied model's tiles, the untied encoder's and decoder's
        "Tied: encoder filters = decoder basis",
        "Untied: encoder filters",
        "Untied: decoder basis",
    )
    weights_caption: str = ""  # the weights section's words over this family's tiles
    intro: str = ""  # the page's first lines: this pair in words and shapes
    how_it_ties: str = ""  # the page's "How tying works", for this family (markdown)
    checkpoints: str = ""  # the shipped pair's folder under checkpoints/ ("" : checkpoints/tied and /untied)
    result_prefix: str = ""  # the side by side's result keys: f"{result_prefix}tied" (the /reconstruct API's names)
    layer_pairs: Callable[[dict], int] | None = None  # hparams -> the digits of a tie mask (tiedae.ties); None: all or none
    dictionary: bool = False  # its models code an image with a few atoms of a dictionary: the page's "Sparse codes"
    noise_note: str = ""  # said under the side by side while noise is on: how this pair takes it
    study_axes: tuple[str, ...] = ()  # the study axes this family's pairs are measured along
    study_shape: dict = field(default_factory=dict)  # the study's Recipe fields for this family beyond the shipped ones
    live_label: str = ""  # the live-training choice
    live_kwargs: Callable[[int, int], dict] | None = None  # (code size, hidden layers) -> a live run's Recipe shape
    live_depth: bool = False  # whether a live run can choose its hidden layers
    card_about: str = ""  # the model card's first sentence; {layout} and {latent} are filled in
    card_tie: str = ""  # the tied model card's account of the tie
    card_note: str = ""  # anything more the card says about the shipped pair
    tags: tuple[str, ...] = ()  # Hub tags beyond the project's
    chart_label: str = "AE"  # a model in chart legends: "tied AE"
    colors: tuple[str, str] = ("#d62728", "#1f77b4")  # tied, untied in charts
    dash: tuple[int, int] = (1, 0)  # the study charts' line dash
    plot_style: dict = field(default_factory=dict)  # matplotlib's, in study.png
    module: str = "tiedae.model"

    def classes(self) -> dict[str, type]:
        """{'tied': the tied class, 'untied': its twin}, imported on first use."""
        module = importlib.import_module(self.module)
        return dict(zip(MODEL_NAMES, (getattr(module, self.tied), getattr(module, self.untied))))

    def chart_labels(self) -> dict[str, str]:
        """Each model's name in chart legends: {'tied': 'tied conv AE', …}."""
        return {name: f"{name} {self.chart_label}" for name in MODEL_NAMES}

    def model_names(self) -> dict[str, str]:
        """Each model's name in results and the API: 'tied', or 'conv_tied'."""
        return {name: f"{self.result_prefix}{name}" for name in MODEL_NAMES}


def mlp_repo_prefix(hparams: dict) -> str:
    sizes = tuple(hparams["sizes"])
    if sizes == DEFAULT_SIZES:
        return REPO_PREFIX
    if sizes[:-1] == DEFAULT_SIZES[:-1]:
        return f"{REPO_PREFIX}-{sizes[-1]}d"  # 784-400-2: tiedae-mnist-2d
    return f"{REPO_PREFIX}-" + "-".join(map(str, sizes[1:]))


def conv_repo_prefix(hparams: dict) -> str:
    base, latent, channels = f"{REPO_PREFIX}-conv", int(hparams["latent"]), tuple(hparams["channels"])
    if channels == CONV_CHANNELS:
        return base if latent == CONV_LATENT else f"{base}-{latent}d"
    return f"{base}-" + "-".join(map(str, [*channels, latent]))


def conv_model_kwargs(recipe) -> dict:
    if len(recipe.sizes) != 2:
        raise ValueError(f"a conv recipe's sizes are ({MNIST_PIXELS}, code size), got {recipe.sizes}")
    if len(recipe.channels) != 2:
        raise ValueError(f"a conv recipe has two conv layers' channels, got {recipe.channels}")
    return {"channels": recipe.channels, "latent": recipe.sizes[-1]}


def sparse_repo_prefix(hparams: dict) -> str:
    base = f"{REPO_PREFIX}-sparse"
    if (int(hparams["hidden"]), int(hparams["k"])) == (SPARSE_HIDDEN, SPARSE_K):
        return base
    return f"{base}-{hparams['hidden']}-k{hparams['k']}"


def sparse_model_kwargs(recipe) -> dict:
    if tuple(recipe.sizes) != DEFAULT_SIZES:
        raise ValueError(
            f"a sparse recipe's shape is set by hidden and k (--hidden, --k), not sizes; got sizes {list(recipe.sizes)}"
        )
    if recipe.hidden < MNIST_PIXELS:
        raise ValueError(f"hidden must be at least {MNIST_PIXELS} (an overcomplete dictionary), got {recipe.hidden}")
    if not 1 <= recipe.k <= recipe.hidden:
        raise ValueError(f"k must be from 1 to hidden={recipe.hidden}, got {recipe.k}")
    return {"hidden": recipe.hidden, "k": recipe.k}


def sparse_untied_kwargs(recipe) -> dict:
    if recipe.decoder_init not in DECODER_INITS:
        raise ValueError(f"decoder init must be one of {', '.join(DECODER_INITS)}, got {recipe.decoder_init!r}")
    return {"decoder_init": recipe.decoder_init}


LIVE_HIDDEN = {
    1: (400,),
    2: (512, 256),
    3: (1000, 500, 250),
}  # a live MLP's hidden widths by number of hidden layers: the study's depth axis
STUDY_CONV_CHANNELS = (32, 64)  # the study's and live training's conv pairs: under half the shipped pair's compute per step

FAMILIES: dict[str, Family] = {
    "mlp": Family(
        name="mlp",
        label="MLP",
        description="fully connected",
        tied="TiedAutoencoder",
        untied="UntiedAutoencoder",
        hparams=("sizes",),
        default_sizes=DEFAULT_SIZES,
        model_kwargs=lambda recipe: {"sizes": recipe.sizes},
        layer_pairs=lambda hparams: len(hparams["sizes"]) - 1,
        repo_prefix=mlp_repo_prefix,
        title=lambda hparams: "MLP " + "-".join(map(str, hparams["sizes"])),
        # the decoder's basis images are the columns of its (784, hidden) weight: transposed, one per row as the encoder's
        first_layer=lambda model: (model.layers[0].weight, model.layers[0].decoder_weight.t()),
        weights_caption=(
            "Each tile is one row of the first layer's weight, reshaped to 28×28 (grey = 0). For the **tied** model "
            "these are the encoder's filters *and* the decoder's basis images: the same numbers. The untied model "
            "learns two different sets."
        ),
        intro="fully connected (784 → 400 → 20 → 400 → 784)",
        how_it_ties=(
            "A tied autoencoder keeps **one** weight matrix W per layer pair. The encoder applies `F.linear(x, W, b_enc)`; "
            "the decoder applies `F.linear(h, W.t(), b_dec)`. `W.t()` is a view of the same `nn.Parameter`, so "
            "backpropagation adds the gradients of both uses into W, and the model has half the weights."
        ),
        study_axes=("train_size", "latent", "depth", "tie", "classic"),
        live_label="MLP",
        live_kwargs=lambda latent, depth: {"sizes": (MNIST_PIXELS, *LIVE_HIDDEN[depth], latent)},
        live_depth=True,
        card_about=(
            "A fully connected autoencoder `{layout}`\n(ReLU hidden layers, linear {latent}-D latent code, sigmoid output) "
            "from tiedae, the\nreference demo of tied-weight autoencoders."
        ),
        card_tie=(
            "Each decoder layer reuses the transpose of its encoder layer's weight: one `nn.Parameter` W per layer\n"
            "pair, applied as `F.linear(x, W, b_enc)` when encoding and `F.linear(h, W.t(), b_dec)` when decoding,\n"
            "so its gradient collects both uses. Decoder biases are separate."
        ),
    ),
    "conv": Family(
        name="conv",
        label="conv",
        description="convolutional",
        tied="TiedConvAutoencoder",
        untied="UntiedConvAutoencoder",
        hparams=("channels", "latent"),
        default_sizes=(MNIST_PIXELS, CONV_LATENT),
        model_kwargs=conv_model_kwargs,
        layer_pairs=lambda hparams: len(hparams["channels"]) + 1,  # the convolutions, then the code layer
        repo_prefix=conv_repo_prefix,
        title=lambda hparams: f"Conv {'-'.join(map(str, hparams['channels']))} channels",  # short: on a phone it shares a row
        first_layer=lambda model: (model.convs[0].weight, model.convs[0].decoder_weight),  # (C1, 1, 4, 4) kernels
        tile_options={"count": None, "scale": 12},  # every kernel, 4×4 each: shown large
        tile_labels=(
            "Tied conv: encoder kernels = decoder kernels",
            "Untied conv: encoder kernels",
            "Untied conv: decoder kernels",
        ),
        weights_caption=(
            f"The conv pair's first layer: {CONV_CHANNELS[0]} kernels of 4×4. For the **tied** conv model each kernel is "
            "at once an encoder filter (`F.conv2d`) and a stamp of the decoder's last layer (`F.conv_transpose2d` with the "
            "same kernel, its adjoint). The untied conv model learns a second set for its decoder."
        ),
        intro="convolutional (28×28 → 14×14 → 7×7 → 20 and back)",
        how_it_ties=(
            "A tied **conv** layer keeps one kernel W of shape (out, in, 4, 4). The encoder applies "
            "`F.conv2d(x, W, b_enc, stride=2, padding=1)`; the decoder applies "
            "`F.conv_transpose2d(h, W, b_dec, stride=2, padding=1)` with the *same* W: the transposed convolution is "
            "the convolution's adjoint (⟨conv(x, W), y⟩ = ⟨x, conv_transpose(y, W)⟩), and a Conv2d weight already has "
            "the layout it takes, so there is no flip or permute. 4×4 kernels at stride 2 map 28 → 14 → 7 and back "
            "exactly, with no `output_padding`."
        ),
        checkpoints="conv",
        result_prefix="conv_",
        study_axes=("train_size",),
        study_shape={"channels": STUDY_CONV_CHANNELS},
        live_label=f"Conv ({'/'.join(map(str, STUDY_CONV_CHANNELS))} channels)",
        live_kwargs=lambda latent, depth: {"sizes": (MNIST_PIXELS, latent), "channels": STUDY_CONV_CHANNELS},
        card_about=(
            "A convolutional autoencoder `{layout}` (two stride-2 convolutions with 4×4 kernels, a linear\n"
            "{latent}-D code layer, and their mirrors: ReLU between layers, linear code, sigmoid output) from tiedae,\n"
            "the reference demo of tied-weight autoencoders."
        ),
        card_tie=(
            "Each decoder layer reuses its encoder layer's weight: one `nn.Parameter` per layer pair. A convolution\n"
            "kernel W is applied as `F.conv2d(x, W, b_enc, stride=2, padding=1)` when encoding and as\n"
            "`F.conv_transpose2d(h, W, b_dec, stride=2, padding=1)` when decoding, the convolution's adjoint (no\n"
            "flip or permute: a Conv2d weight (out, in, 4, 4) is the layout the transposed convolution takes back\n"
            "from out to in channels); the code layer's W is applied as W and W.t(). Each gradient collects both\n"
            "uses. Decoder biases are separate. The first layer's 4×4 kernels are at once the encoder's filters\n"
            "and the decoder's last layer."
        ),
        # why the shipped conv pair has the channels it has: measured on the project's 2-core machine, see benchmarks/RESULTS.md
        card_note=(
            "**Channels:** 64 and 128, chosen by measurement. On the first 10,000 training images, with 32 and 64 channels "
            "and the same recipe for 200 epochs (14 min for the pair on a 2-core CPU), the tied model's clean test MSE was "
            "0.00734 (untied 0.00697), above the project's 0.0070 bar then; with 64 and 128 a step costs 2.4× as much, and "
            "120 epochs met the bar for both models. The project's study compares tied and untied conv pairs at 32/64 "
            "channels (less than half the compute per step)."
        ),
        tags=("convolutional-autoencoder",),
        chart_label="conv AE",
        colors=("#8c1c13", "#0b4f8a"),  # darker: the same hue per kind as the MLP pair's
        dash=(5, 3),
        plot_style={"linestyle": "--", "marker": "x"},
    ),
    "sparse": Family(
        name="sparse",
        label="sparse",
        description="sparse (TopK, overcomplete)",
        tied="TiedSparseAutoencoder",
        untied="UntiedSparseAutoencoder",
        hparams=("hidden", "k"),
        default_sizes=DEFAULT_SIZES,  # unused: hidden and k set the shape
        model_kwargs=sparse_model_kwargs,
        untied_kwargs=sparse_untied_kwargs,
        repo_prefix=sparse_repo_prefix,
        title=lambda hparams: f"Sparse {hparams['hidden']:,} · top {hparams['k']}",  # short: on a phone it shares a row
        # encoder rows (what each atom responds to) and decoder atoms (what it draws): the same numbers when tied
        first_layer=lambda model: (model.dictionary.weight, model.atoms()),
        tile_labels=(
            "Tied sparse: encoder filters = decoder atoms",
            "Untied sparse: encoder filters",
            "Untied sparse: decoder atoms",
        ),
        weights_caption=(
            f"The sparse pair's first {SPARSE_K * 2} of {SPARSE_HIDDEN:,} atoms. Each image is coded by only its top "
            f"{SPARSE_K} atoms. For the **tied** sparse model the atom an image is drawn with is the filter that chose it; "
            "the untied one started that way too, then let its decoder atoms drift."
        ),
        intro=f"sparse (784 → {SPARSE_HIDDEN:,} atoms, the top {SPARSE_K} kept → 784)",
        how_it_ties=(
            "A tied **sparse** autoencoder keeps one dictionary W (atoms × 784). The encoder scores every atom with "
            "`F.linear(x, W, b_enc)` and keeps the k best (TopK, after ReLU); the decoder adds those atoms up with "
            "`F.linear(z, W.t(), b_dec)`. So each atom is at once a detector and a stroke it draws. The untied twin "
            "has a decoder weight of its own, started as W.t() (what sparse autoencoder libraries do) and then "
            "trained freely."
        ),
        checkpoints="sparse",
        result_prefix="sparse_",
        dictionary=True,
        noise_note=(
            "The sparse pair learned from clean digits, as sparse autoencoders do: noise switches on atoms that have "
            "nothing to do with your digit, the tied model's most. Set the noise to 0 to see how it draws your digit."
        ),
        study_axes=("k", "k_random"),
        live_label=f"Sparse ({SPARSE_HIDDEN:,} atoms, k = code size)",
        live_kwargs=lambda latent, depth: {"k": latent},  # a live sparse pair keeps `code size` atoms per digit
        card_about=(
            "A TopK sparse autoencoder `{layout}` from tiedae, the reference demo of tied-weight\nautoencoders: the "
            "encoder scores {latent} atoms, keeps the k largest (after ReLU) and zeroes the rest; the decoder adds\nthe "
            "kept atoms up, then a sigmoid."
        ),
        card_tie=(
            "The decoder's atoms are the encoder's rows: one `nn.Parameter` W (atoms × 784), applied as\n"
            "`F.linear(x, W, b_enc)` when encoding and `F.linear(z, W.t(), b_dec)` when decoding, so its gradient\n"
            "collects both uses. Decoder biases are separate."
        ),
        card_note=(
            f"**Atoms:** {SPARSE_HIDDEN:,}, the first power of two above 784: an overcomplete dictionary, drawn whole as a "
            "32×32 grid, small enough that the pair trains in under 30 minutes on a 2-core CPU. `model.encode(x, k=8)` "
            f"keeps only the top 8 of the {SPARSE_K}."
        ),
        tags=("sparse-autoencoder", "topk"),
        chart_label="sparse AE",
        colors=("#e377c2", "#17becf"),
        dash=(2, 2),
        plot_style={"linestyle": ":", "marker": "s"},
    ),
}
FIRST_FAMILY = next(iter(FAMILIES))  # the default --arch, and the family of study rows written before rows named theirs


def family_of_config(config: dict) -> Family:
    """The family of a checkpoint's config.json: its `arch`, or for a checkpoint saved before configs named it
    (the first bundled and Hub checkpoints), the family whose shape keys it holds."""
    if "arch" in config:
        if config["arch"] not in FAMILIES:
            raise ValueError(f"unknown model family arch={config['arch']!r}; this tiedae knows {', '.join(FAMILIES)}")
        return FAMILIES[config["arch"]]
    keys = set(config) - {"tied", "tie"}
    for family in FAMILIES.values():
        if keys == set(family.hparams):
            return family
    raise ValueError(f"config.json does not describe a tiedae model (keys {sorted(config)})")


def family_choices() -> list[tuple[str, str]]:
    """(description, name) for every family, as the page's and argparse's choices list them."""
    return [(family.description, name) for name, family in FAMILIES.items()]
