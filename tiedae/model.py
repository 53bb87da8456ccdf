"""Tied and untied autoencoders, MLP and convolutional, in one file: one block per family.

Each family's row in tiedae/families.py names its two classes here. Every model shares
`HubAutoencoder`: `model(x)` reconstructs, and `model(x, target)` returns (reconstruction,
loss), as nanoGPT's `model(idx, targets)` does, so the training loop needs no branch per
family.

The MLP models share one architecture: a stack of `LayerPair`s mirrored around the latent
code. Encoding runs the pairs forwards, decoding runs them backwards:

    784 -> 400 -> 20 (latent)  ->  400 -> 784
    ReLU on hidden maps, linear latent, sigmoid output in [0, 1].

The only difference between the two models is where a decoder layer gets its weight.
`TiedAutoencoder` decodes with the transpose of the encoder's own Parameter (see
`LayerPair.decoder_weight`: the tie is that one line); `UntiedAutoencoder` gives every
decoder layer a Parameter of its own. Decoder biases are separate in both.

The convolutional pair (`TiedConvAutoencoder`, `UntiedConvAutoencoder`) mirrors two strided
convolutions and a linear code layer:

    1x28x28 -conv k4 s2 p1-> C1x14x14 -conv k4 s2 p1-> C2x7x7 -linear-> 20 (latent)
    and back: linear transpose -> C2x7x7 -conv_transpose-> C1x14x14 -conv_transpose-> 1x28x28

The tied decoder applies `F.conv_transpose2d` with the encoder's own kernel: that is the
adjoint of the strided convolution, so no flip or permute is needed (see
`ConvLayerPair.decoder_weight`). k4/s2/p1 maps 28 <-> 14 <-> 7 exactly without output_padding,
and a kernel divisible by its stride overlaps evenly (no checkerboard).

Save and load go through `huggingface_hub.PyTorchModelHubMixin`: `save_pretrained` writes
`model.safetensors` + `config.json` (the shape, `tied` and the family as `arch`) + a model card;
`from_pretrained` rebuilds the model strictly and returns it in eval mode.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub import ModelCard, ModelCardData, PyTorchModelHubMixin, constants, hf_hub_download
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from tiedae.card import MODEL_CARD_TEMPLATE
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
from tiedae.controls import whole_number
from tiedae.families import FAMILIES, REPO_PREFIX, family_of_config
from tiedae.losses import reconstruction_loss
from tiedae.ties import describe_tie, partly_tied, repo_suffix, tie_mask


class LayerPair(nn.Module):
    """One encoder layer and its mirror decoder layer."""

    def __init__(self, n_in: int, n_out: int, *, tied: bool) -> None:
        super().__init__()
        self.tied = tied
        # Encoder weight W: (n_out, n_in), the nn.Linear convention. Init as nn.Linear does.
        self.weight = nn.Parameter(torch.empty(n_out, n_in))
        self.encoder_bias = nn.Parameter(torch.empty(n_out))
        self.decoder_bias = nn.Parameter(torch.empty(n_in))
        # Untied decoder weight: (n_in, n_out), its own Parameter. Tied: none at all.
        self.own_decoder_weight = None if tied else nn.Parameter(torch.empty(n_in, n_out))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform init with nn.Linear's bounds (1/sqrt(fan_in)) for each direction."""
        n_out, n_in = self.weight.shape
        nn.init.uniform_(self.weight, -1 / math.sqrt(n_in), 1 / math.sqrt(n_in))
        nn.init.uniform_(self.encoder_bias, -1 / math.sqrt(n_in), 1 / math.sqrt(n_in))
        nn.init.uniform_(self.decoder_bias, -1 / math.sqrt(n_out), 1 / math.sqrt(n_out))
        if self.own_decoder_weight is not None:
            nn.init.uniform_(self.own_decoder_weight, -1 / math.sqrt(n_out), 1 / math.sqrt(n_out))

    @property
    def decoder_weight(self) -> torch.Tensor:
        """The (n_in, n_out) weight the decoder applies."""
        if self.tied:
            return self.weight.t()  # THE TIE: decode with W.t(), a view of the same Parameter
        return self.own_decoder_weight

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.encoder_bias)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.decoder_weight, self.decoder_bias)


class HubAutoencoder(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="tiedae",
    license="mit",
    tags=["autoencoder", "mnist", "tied-weights"],
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """What every tiedae model shares: the model card and a strict, eval-mode `from_pretrained`."""

    arch = ""  # the family's name in tiedae.families.FAMILIES: config.json records it
    tie: str | None = (
        None  # which layer pairs are tied, one 0/1 each from the pixels inwards (None: a family that ties all or none)
    )

    @property
    def hparams(self) -> dict:
        """The constructor arguments that fix the weights' shapes (tied aside), as config.json holds them."""
        raise NotImplementedError

    @property
    def pca_size(self) -> int:
        """The size of the PCA code the model is compared with: as many numbers per image as its code holds."""
        return self.latent_size

    @property
    def shape(self) -> str:
        """hparams as error messages name them: 'sizes=[784, 400, 20]'."""
        return ", ".join(f"{key}={value}" for key, value in self.hparams.items())

    @property
    def family(self):
        """This model's row of the family table."""
        return FAMILIES[self.arch]

    @property
    def ties(self) -> str:
        """Which layer pairs are tied, in words: 'the inner layer pair only'."""
        if self.tie is None:
            return "every layer pair" if self.tied else "no layer pair"
        return describe_tie(self.tie)

    @staticmethod
    def checked_mask(cls_name: str, tied: bool, tie: str | None, pairs: int) -> str:
        """The tie mask a tied or untied class is built with; a ValueError when config.json's `tied` or `tie` says
        the checkpoint is the other class's."""
        if pairs < 1:
            return "all" if tied else "none"  # no layer pairs: the shape check names the problem
        if tied:
            mask = tie_mask("all" if tie is None else tie, pairs)
            if "1" not in mask:
                raise ValueError(
                    f"tie={tie!r} ties no layer pair: that is the untied twin; load it with {cls_name.replace('Tied', 'Untied', 1)}"
                )
            return mask
        mask = tie_mask("none" if tie is None else tie, pairs)
        if "1" in mask:
            raise ValueError(f"this model ties layer pairs (tie={tie!r}); load it with {cls_name.replace('Untied', 'Tied', 1)}")
        return mask

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None, *, loss: str = "bce"):
        """Reconstruct x (the output has x's shape). With a target, (reconstruction, loss), as nanoGPT's
        `model(idx, targets)`: the training loop asks the model for its objective and needs no branch per family."""
        output = self.decode(self.encode(x)).reshape(x.shape)
        if target is None:
            return output
        return output, reconstruction_loss(output, target, loss)

    def code_report(self, images: torch.Tensor) -> dict:
        """What the model's codes of test images (N, 784) in [0, 1] show beyond the reconstruction error, as
        metrics.json and the card report it: nothing for a plain autoencoder (a sparse one's dead atoms)."""
        return {}

    def save_pretrained(self, save_directory: str | Path, *, config: dict | None = None, **kwargs):
        """The mixin's save_pretrained; config.json also records the family (`arch`), so loading needs no guess."""
        if config is None:
            config = {**self.hparams, "tied": self.tied, **({"tie": self.tie} if self.tie else {}), "arch": self.arch}
        return super().save_pretrained(save_directory, config=config, **kwargs)

    def generate_model_card(self, *args, card_data: ModelCardData | None = None, **kwargs) -> ModelCard:
        """The mixin's card from MODEL_CARD_TEMPLATE; `card_data` (metadata, eval results) replaces its header."""
        kwargs.setdefault("parameters", count_parameters(self))
        kwargs.setdefault("about", self.family.card_about.format(layout=self.layout, latent=self.latent_size))
        kwargs.setdefault("tie", self.family.card_tie if self.tied else "")
        kwargs.setdefault(
            "partly",
            partly_tied(self.tie)
            and f"Here only some do: this model ties {self.ties} (mask `{self.tie}`, from the pixels inwards); its other layer pairs have decoder weights of their own.",
        )
        card = super().generate_model_card(*args, class_name=type(self).__name__, model=self, **kwargs)
        if card_data is not None:
            card.data = card_data
        return card

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *args, **kwargs) -> HubAutoencoder:
        """The Hub mixin's `from_pretrained` (a local folder or a Hub repo id; strict load, eval mode), except that a
        name that is neither a local folder nor found on the Hub fails at once, naming both (the Hub is not retried)."""
        model_id = str(pretrained_model_name_or_path)
        if not os.path.isdir(model_id) and not kwargs.get("local_files_only"):
            kwargs["local_files_only"] = hub_unreachable_but_cached(model_id, kwargs.get("revision"), kwargs.get("cache_dir"))
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ) -> HubAutoencoder:
        """Build from config.json and load model.safetensors strictly; errors name the file."""
        if os.path.isdir(model_id):
            weights_file = os.path.join(model_id, constants.SAFETENSORS_SINGLE_FILE)
        else:
            weights_file = hf_hub_download(
                repo_id=model_id,
                filename=constants.SAFETENSORS_SINGLE_FILE,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
        config_file = Path(weights_file).with_name(constants.CONFIG_NAME)
        try:
            config = json.loads(config_file.read_text())
        except (OSError, ValueError):
            config = None  # no usable config: the strict load below still refuses mismatched weights
        if isinstance(config, dict) and cls.arch:
            try:
                family = family_of_config(config)
            except ValueError as e:
                raise ValueError(f"{config_file}: {e}") from None
            if family.name != cls.arch:
                right = family.classes()["tied" if config.get("tied", True) else "untied"]
                raise ValueError(
                    f"{config_file}: this is a checkpoint of the {family.label} family; load it with {right.__name__}"
                )
        try:
            model = cls(**model_kwargs)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{config_file}: does not describe a {cls.__name__}: {e}") from e
        try:
            state = load_file(weights_file, device=str(map_location))
        except (OSError, SafetensorError) as e:
            raise ValueError(f"{weights_file}: not a readable safetensors file ({e})") from e
        try:
            model.load_state_dict(state, strict=strict)
        except RuntimeError as e:  # torch lists every missing, unexpected and mis-shaped tensor
            reason = " ".join(str(e).split("\n", 1)[-1].split())
            raise ValueError(f"{weights_file}: checkpoint does not match {cls.__name__}({model.shape}): {reason}") from e
        return model.eval()


class Autoencoder(HubAutoencoder):
    """MLP autoencoder over `sizes`; `tied` decides whether decoders reuse encoder weights."""

    arch = "mlp"

    def __init__(self, *, sizes: Sequence[int] = DEFAULT_SIZES, tie: str = "all") -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive layer widths, got {sizes}")
        self.sizes = sizes
        self.tie = tie_mask(tie, len(sizes) - 1)  # one 0/1 per layer pair, from the pixels inwards
        self.tied = "1" in self.tie
        self.layers = nn.ModuleList(
            LayerPair(n_in, n_out, tied=bit == "1") for n_in, n_out, bit in zip(sizes[:-1], sizes[1:], self.tie)
        )

    @property
    def latent_size(self) -> int:
        return self.sizes[-1]

    @property
    def hparams(self) -> dict:
        return {"sizes": self.sizes}  # the tie is saved beside it (save_pretrained)

    @property
    def layout(self) -> str:
        """The layers, input to output, in words."""
        widths = [*self.sizes, *self.sizes[-2::-1]]
        return " → ".join(map(str, widths))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 784) or (B, 1, 28, 28) -> (B, latent)."""
        h = x.reshape(x.shape[0], -1)  # (B, 1, 28, 28) -> (B, 784)
        if h.shape[1] != self.sizes[0]:
            raise ValueError(f"expected {self.sizes[0]} input features, got input of shape {tuple(x.shape)}")
        for i, layer in enumerate(self.layers):
            h = layer.encode(h)
            if i < len(self.layers) - 1:  # the latent code stays linear
                h = F.relu(h)
        return h

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) -> (B, 784) in [0, 1]."""
        h = z
        for i, layer in reversed(list(enumerate(self.layers))):
            h = layer.decode(h)
            h = torch.sigmoid(h) if i == 0 else F.relu(h)
        return h


class TiedAutoencoder(Autoencoder):
    """Autoencoder whose decoder layers reuse the transpose of the encoder weights (`tie`: which of them; default all)."""

    def __init__(self, *, sizes: Sequence[int] = DEFAULT_SIZES, tied: bool = True, tie: str = "all") -> None:
        if not tied:
            raise ValueError("this is an untied checkpoint (tied=false); load it with UntiedAutoencoder")
        super().__init__(sizes=sizes, tie=self.checked_mask("TiedAutoencoder", True, tie, len(list(sizes)) - 1))


class UntiedAutoencoder(Autoencoder):
    """The same autoencoder with an independent weight in every decoder layer."""

    def __init__(self, *, sizes: Sequence[int] = DEFAULT_SIZES, tied: bool = False, tie: str = "none") -> None:
        if tied:
            raise ValueError("this is a tied checkpoint (tied=true); load it with TiedAutoencoder")
        super().__init__(sizes=sizes, tie=self.checked_mask("UntiedAutoencoder", False, tie, len(list(sizes)) - 1))


class ConvLayerPair(nn.Module):
    """One strided convolution (k4, s2, p1: halves the side) and its mirror transposed convolution."""

    kernel, stride, padding = 4, 2, 1

    def __init__(self, c_in: int, c_out: int, *, tied: bool) -> None:
        super().__init__()
        self.tied = tied
        k = self.kernel
        # Encoder kernel W: (c_out, c_in, k, k), the Conv2d layout, which is also the layout
        # conv_transpose2d takes to map c_out channels back to c_in.
        self.weight = nn.Parameter(torch.empty(c_out, c_in, k, k))
        self.encoder_bias = nn.Parameter(torch.empty(c_out))
        self.decoder_bias = nn.Parameter(torch.empty(c_in))
        # Untied decoder kernel: the same shape, its own Parameter. Tied: none at all.
        self.own_decoder_weight = None if tied else nn.Parameter(torch.empty(c_out, c_in, k, k))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform init with nn.Conv2d's bounds (1/sqrt(fan_in)) for each direction."""
        c_out, c_in, k, _ = self.weight.shape
        encoder_bound = 1 / math.sqrt(c_in * k * k)
        # each output pixel of the stride-2 transposed conv sums (k / stride)^2 taps of every input channel
        decoder_bound = 1 / math.sqrt(c_out * (k // self.stride) ** 2)
        nn.init.uniform_(self.weight, -encoder_bound, encoder_bound)
        nn.init.uniform_(self.encoder_bias, -encoder_bound, encoder_bound)
        nn.init.uniform_(self.decoder_bias, -decoder_bound, decoder_bound)
        if self.own_decoder_weight is not None:
            nn.init.uniform_(self.own_decoder_weight, -decoder_bound, decoder_bound)

    @property
    def decoder_weight(self) -> torch.Tensor:
        """The (c_out, c_in, k, k) kernel the transposed convolution applies."""
        if self.tied:
            return self.weight  # THE TIE: conv_transpose2d with the encoder's own kernel W is conv2d's adjoint
        return self.own_decoder_weight

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.encoder_bias, stride=self.stride, padding=self.padding)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(h, self.decoder_weight, self.decoder_bias, stride=self.stride, padding=self.padding)


class ConvAutoencoder(HubAutoencoder):
    """Convolutional autoencoder: two strided conv pairs (28 -> 14 -> 7) and a linear code pair, tied or not."""

    arch = "conv"
    side, bottom = 28, 7  # MNIST's side, and what the two stride-2 conv pairs make of it

    def __init__(self, *, channels: Sequence[int] = CONV_CHANNELS, latent: int = CONV_LATENT, tie: str = "all") -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if len(channels) != 2 or any(c < 1 for c in channels):
            raise ValueError(f"channels must be two positive widths (28 -> 14 -> 7), got {channels}")
        if int(latent) < 1:
            raise ValueError(f"latent must be a positive code size, got {latent}")
        self.channels = channels
        self.tie = tie_mask(tie, len(channels) + 1)  # one 0/1 per layer pair from the pixels inwards: the convs, then the code
        self.tied = "1" in self.tie
        self.convs = nn.ModuleList(
            ConvLayerPair(c_in, c_out, tied=bit == "1") for c_in, c_out, bit in zip([1, *channels[:-1]], channels, self.tie)
        )
        self.code = LayerPair(channels[-1] * self.bottom**2, int(latent), tied=self.tie[-1] == "1")  # C2x7x7 <-> latent

    @property
    def latent_size(self) -> int:
        return self.code.weight.shape[0]

    @property
    def hparams(self) -> dict:
        return {"channels": self.channels, "latent": self.latent_size}

    @property
    def layout(self) -> str:
        """The layers, input to output, in words."""
        maps = [f"{c}×{self.side >> i}×{self.side >> i}" for i, c in enumerate([1, *self.channels])]
        return " → ".join([*maps, str(self.latent_size), *maps[::-1]])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 784) or (B, 1, 28, 28) -> (B, latent)."""
        if x[0].numel() != self.side**2:
            raise ValueError(f"expected {self.side}×{self.side} images, got input of shape {tuple(x.shape)}")
        h = x.reshape(x.shape[0], 1, self.side, self.side)  # (B, 784) -> (B, 1, 28, 28)
        for conv in self.convs:
            h = F.relu(conv.encode(h))
        return self.code.encode(h.flatten(1))  # (B, C2, 7, 7) -> (B, C2*49) -> (B, latent), linear

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) -> (B, 1, 28, 28) in [0, 1]."""
        h = F.relu(self.code.decode(z)).reshape(
            len(z), self.channels[-1], self.bottom, self.bottom
        )  # (B, C2*49) -> (B, C2, 7, 7)
        for i, conv in reversed(list(enumerate(self.convs))):
            h = conv.decode(h)
            h = torch.sigmoid(h) if i == 0 else F.relu(h)
        return h


class TiedConvAutoencoder(ConvAutoencoder):
    """Conv autoencoder whose transposed convolutions (and code layer) reuse the encoder's own weights."""

    def __init__(
        self, *, channels: Sequence[int] = CONV_CHANNELS, latent: int = CONV_LATENT, tied: bool = True, tie: str = "all"
    ) -> None:
        if not tied:
            raise ValueError("this is an untied checkpoint (tied=false); load it with UntiedConvAutoencoder")
        mask = self.checked_mask("TiedConvAutoencoder", True, tie, len(list(channels)) + 1)
        super().__init__(channels=channels, latent=latent, tie=mask)


class UntiedConvAutoencoder(ConvAutoencoder):
    """The same conv autoencoder with independent decoder kernels and code weight."""

    def __init__(
        self, *, channels: Sequence[int] = CONV_CHANNELS, latent: int = CONV_LATENT, tied: bool = False, tie: str = "none"
    ) -> None:
        if tied:
            raise ValueError("this is a tied checkpoint (tied=true); load it with TiedConvAutoencoder")
        mask = self.checked_mask("UntiedConvAutoencoder", False, tie, len(list(channels)) + 1)
        super().__init__(channels=channels, latent=latent, tie=mask)


class TopK(nn.Module):
    """The sparse code: each row keeps its k largest pre-activations (after ReLU) and the rest become 0.

    As openai/sparse_autoencoder's TopK: the gradient reaches only the k kept units. `k` can be lowered per call
    ("keep only the top 8 of the 32"), never raised above what the model trained with.
    """

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = int(k)

    def forward(self, h: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = self.k if k is None else check_k(k, self.k)
        top = torch.topk(h, k, dim=-1, sorted=False)
        return torch.zeros_like(h).scatter_(-1, top.indices, F.relu(top.values))


def check_k(k: object, trained: int) -> int:
    """k as an int from 1 to the trained k (a code cannot keep atoms it never learned to add); a ValueError naming it."""
    return whole_number(k, 1, trained, "k")


class SparseAutoencoder(HubAutoencoder):
    """Overcomplete TopK sparse autoencoder 784 -> hidden -> 784: each image is coded by at most k of `hidden` atoms.

    One LayerPair holds the dictionary: the encoder's W (hidden, 784) has one row per atom, and the decoder adds
    up the atoms the code keeps, each scaled by its activation. Tied, the atoms are the rows of W itself
    (LayerPair.decoder_weight: W.t()); untied, the decoder has atoms of its own, which start as W.t() (what sparse
    autoencoder libraries do) or from their own random init (`decoder_init`).
    """

    arch = "sparse"

    def __init__(self, *, hidden: int = SPARSE_HIDDEN, k: int = SPARSE_K, tied: bool, decoder_init: str = "transpose") -> None:
        super().__init__()
        hidden, k = int(hidden), int(k)
        if hidden < MNIST_PIXELS:
            raise ValueError(f"hidden must be at least {MNIST_PIXELS} (an overcomplete dictionary), got {hidden}")
        if not 1 <= k <= hidden:
            raise ValueError(f"k must be from 1 to hidden={hidden}, got {k}")
        if decoder_init not in DECODER_INITS:
            raise ValueError(f"decoder_init must be one of {', '.join(DECODER_INITS)}, got {decoder_init!r}")
        self.tied, self.decoder_init = bool(tied), decoder_init
        self.dictionary = LayerPair(MNIST_PIXELS, hidden, tied=self.tied)
        self.topk = TopK(k)
        if not self.tied and decoder_init == "transpose":
            with torch.no_grad():  # a starting value only: from here on the decoder's atoms train on their own
                self.dictionary.own_decoder_weight.copy_(self.dictionary.weight.t())

    @property
    def k(self) -> int:
        """The number of atoms each code keeps (as trained)."""
        return self.topk.k

    @property
    def latent_size(self) -> int:
        return self.dictionary.weight.shape[0]  # the code's width: one unit per atom, at most k of them non-zero

    @property
    def pca_size(self) -> int:
        return self.k  # as many numbers per image as the sparse code keeps

    @property
    def hparams(self) -> dict:
        return {"hidden": self.latent_size, "k": self.k}

    @property
    def layout(self) -> str:
        return f"{MNIST_PIXELS} → {self.latent_size} (top {self.k}) → {MNIST_PIXELS}"

    def save_pretrained(self, save_directory: str | Path, *, config: dict | None = None, **kwargs):
        """config.json also records how an untied decoder started (`decoder_init`)."""
        if config is None and not self.tied:
            config = {**self.hparams, "tied": False, "decoder_init": self.decoder_init, "arch": self.arch}
        return super().save_pretrained(save_directory, config=config, **kwargs)

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 784) or (B, 1, 28, 28) -> every atom's pre-activation (B, hidden), before TopK."""
        h = x.reshape(x.shape[0], -1)
        if h.shape[1] != MNIST_PIXELS:
            raise ValueError(f"expected {MNIST_PIXELS} input features, got input of shape {tuple(x.shape)}")
        return self.dictionary.encode(h)

    def encode(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """(B, 784) or (B, 1, 28, 28) -> the sparse code (B, hidden): at most k non-zeros per row (default: the trained k)."""
        return self.topk(self.pre_activations(x), k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, hidden) -> (B, 784) in [0, 1]: the kept atoms added up, plus the decoder bias, through a sigmoid."""
        return torch.sigmoid(self.dictionary.decode(z))

    def code_report(self, images: torch.Tensor) -> dict:
        """Dead atoms and how often the living ones fire on these images (tiedae.atoms)."""
        from tiedae.atoms import atom_statistics

        return atom_statistics(self, images).summary()

    def atoms(self) -> torch.Tensor:
        """The decoder's atoms (hidden, 784): row i is what unit i adds to the image's logits per unit of activation."""
        return self.dictionary.decoder_weight.t()


class TiedSparseAutoencoder(SparseAutoencoder):
    """TopK sparse autoencoder whose decoder atoms are its encoder's rows: one weight W, decoded with W.t()."""

    def __init__(self, *, hidden: int = SPARSE_HIDDEN, k: int = SPARSE_K, tied: bool = True) -> None:
        if not tied:
            raise ValueError("this is an untied checkpoint (tied=false); load it with UntiedSparseAutoencoder")
        super().__init__(hidden=hidden, k=k, tied=True)


class UntiedSparseAutoencoder(SparseAutoencoder):
    """The same sparse autoencoder with a decoder weight of its own, started as the encoder's transpose or at random."""

    def __init__(
        self, *, hidden: int = SPARSE_HIDDEN, k: int = SPARSE_K, tied: bool = False, decoder_init: str = "transpose"
    ) -> None:
        if tied:
            raise ValueError("this is a tied checkpoint (tied=true); load it with TiedSparseAutoencoder")
        super().__init__(hidden=hidden, k=k, tied=False, decoder_init=decoder_init)


METRICS_FILE = "metrics.json"  # beside the weights: the recipe and every test number
LATENT_MAP_FILE = "latent_map.npz"  # beside a 2-D model: its codes of the MNIST test digits, with their labels


def config_repo_prefix(config: dict) -> str:
    """The Hub repo prefix for a checkpoint's config.json (its family names it from the shape)."""
    return family_of_config(config).repo_prefix(config) + repo_suffix(config.get("tie"))


def repo_ids(namespace: str, prefix: str = REPO_PREFIX) -> dict[str, str]:
    """{'tied': 'NS/prefix-tied', 'untied': 'NS/prefix-untied'}."""
    return {name: f"{namespace}/{prefix}-{name}" for name in MODEL_NAMES}


def count_parameters(model: nn.Module) -> int:
    """Number of distinct trainable scalars (a tied weight counts once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def is_tied(encoder_weight: torch.Tensor, decoder_weight: torch.Tensor) -> bool:
    """True only if decoder_weight is encoder_weight transposed *through autograd*.

    Equal values or shared storage are not enough: a tie means one Parameter whose
    gradient collects both uses. Checked by differentiating decoder_weight w.r.t.
    encoder_weight: only a true tie has a gradient path between them.
    """
    if tuple(decoder_weight.shape) != tuple(encoder_weight.t().shape):
        return False
    if not (encoder_weight.requires_grad and decoder_weight.requires_grad):
        return False
    if decoder_weight is encoder_weight or decoder_weight.grad_fn is None:
        return False  # a leaf: its own Parameter, whatever it holds
    probe = torch.randn_like(decoder_weight)
    (grad,) = torch.autograd.grad(decoder_weight, encoder_weight, probe, retain_graph=True, allow_unused=True)
    return grad is not None and torch.equal(grad, probe.t())


HUB_PROBE_TIMEOUT = 5  # seconds for the one look at the Hub before a download (the mixin alone retries 5 times, ~26 s)


def hub_unreachable_but_cached(model_id: str, revision: str | None, cache_dir: str | Path | None) -> bool:
    """Look once, without retries, for model_id's config.json on the Hub; True if only the local cache can serve it.

    Raises FileNotFoundError naming both causes when model_id is neither a local folder nor to be had from the Hub
    (no such repo, the Hub unreachable or offline with nothing cached).
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, OfflineModeIsEnabled, RepositoryNotFoundError

    folder = f"There is no local folder {Path(model_id).expanduser().resolve()}"
    try:
        cached = isinstance(try_to_load_from_cache(model_id, constants.CONFIG_NAME, cache_dir=cache_dir, revision=revision), str)
    except ValueError as e:  # not a valid repo id: a path that does not exist
        raise FileNotFoundError(f"{folder}, and {model_id!r} is not a Hub repo id ({e}).") from None
    try:
        if constants.HF_HUB_OFFLINE:
            raise OfflineModeIsEnabled("HF_HUB_OFFLINE is set")
        url = hf_hub_url(model_id, constants.CONFIG_NAME, revision=revision, endpoint=constants.ENDPOINT)
        get_hf_file_metadata(url, endpoint=constants.ENDPOINT, timeout=HUB_PROBE_TIMEOUT, retry_on_errors=False)
    except GatedRepoError:
        return False  # the download says how to get access
    except (RepositoryNotFoundError, EntryNotFoundError):
        raise FileNotFoundError(
            f"{folder}, and the Hub has no model repo {model_id!r} (with a {constants.CONFIG_NAME})."
        ) from None
    except Exception as e:  # offline, or no connection: the cache, if it holds a copy, is all there is
        if cached:
            return True
        why = "the Hub is offline (HF_HUB_OFFLINE)" if isinstance(e, OfflineModeIsEnabled) else "the Hub could not be reached"
        raise FileNotFoundError(
            f"{folder}, and {why} to look for a model repo {model_id!r} ({type(e).__name__}: {str(e).splitlines()[0]}); "
            "no copy of it is in the local cache."
        ) from None
    return False


def load_checkpoint(folder: str | Path, name: str | None = None) -> HubAutoencoder:
    """The model in a local checkpoint folder, whatever its architecture (from its config.json); strict, eval mode."""
    config = json.loads((Path(folder) / constants.CONFIG_NAME).read_text())
    name = name or ("tied" if config.get("tied", True) else "untied")
    return family_of_config(config).classes()[name].from_pretrained(folder)


def is_conv_tied(encoder_kernel: torch.Tensor, decoder_kernel: torch.Tensor) -> bool:
    """True only if the transposed convolution's kernel is the encoder's own Parameter (or a view of it through autograd).

    The adjoint of conv2d(·, W) is conv_transpose2d(·, W) with the same kernel, so a conv tie is the identity,
    not a transpose: equal values, a copy, a detached tensor or a kernel re-wrapped in a new Parameter are
    not ties, because the encoder's Parameter would then miss the decoder's share of the gradient.
    """
    if tuple(decoder_kernel.shape) != tuple(encoder_kernel.shape) or not encoder_kernel.requires_grad:
        return False
    if decoder_kernel is encoder_kernel:
        return True
    if not decoder_kernel.requires_grad or decoder_kernel.grad_fn is None:
        return False  # a leaf of its own (a copy or a new Parameter), or cut off from autograd
    probe = torch.randn_like(decoder_kernel)
    (grad,) = torch.autograd.grad(decoder_kernel, encoder_kernel, probe, retain_graph=True, allow_unused=True)
    return grad is not None and torch.equal(grad, probe)
