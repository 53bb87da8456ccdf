"""Tied and untied MLP autoencoders, in one file.

Both models share one architecture: a stack of `LayerPair`s mirrored around the latent
code. Encoding runs the pairs forwards, decoding runs them backwards:

    784 -> 400 -> 20 (latent)  ->  400 -> 784
    ReLU on hidden maps, linear latent, sigmoid output in [0, 1].

The only difference between the two models is where a decoder layer gets its weight.
`TiedAutoencoder` decodes with the transpose of the encoder's own Parameter (see
`LayerPair.decoder_weight`: the tie is that one line); `UntiedAutoencoder` gives every
decoder layer a Parameter of its own. Decoder biases are separate in both.

Save and load go through `huggingface_hub.PyTorchModelHubMixin`: `save_pretrained` writes
`model.safetensors` + `config.json` (+ a model card), `from_pretrained` rebuilds the model
strictly and returns it in eval mode.
"""

from __future__ import annotations

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
from tiedae.constants import DEFAULT_SIZES, MODEL_NAMES


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


class Autoencoder(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="tiedae",
    license="mit",
    tags=["autoencoder", "mnist", "tied-weights"],
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """MLP autoencoder over `sizes`; `tied` decides whether decoders reuse encoder weights."""

    def __init__(self, *, sizes: Sequence[int] = DEFAULT_SIZES, tied: bool = True) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive layer widths, got {sizes}")
        self.sizes = sizes
        self.tied = bool(tied)
        self.layers = nn.ModuleList(LayerPair(n_in, n_out, tied=self.tied) for n_in, n_out in zip(sizes[:-1], sizes[1:]))

    @property
    def latent_size(self) -> int:
        return self.sizes[-1]

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct x; the output has the input's shape."""
        return self.decode(self.encode(x)).reshape(x.shape)

    def generate_model_card(self, *args, card_data: ModelCardData | None = None, **kwargs) -> ModelCard:
        """The mixin's card from MODEL_CARD_TEMPLATE; `card_data` (metadata, eval results) replaces its header."""
        kwargs.setdefault("parameters", count_parameters(self))
        card = super().generate_model_card(*args, class_name=type(self).__name__, model=self, **kwargs)
        if card_data is not None:
            card.data = card_data
        return card

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
    ) -> Autoencoder:
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
            raise ValueError(f"{weights_file}: checkpoint does not match {cls.__name__}(sizes={model.sizes}): {reason}") from e
        return model.eval()


class TiedAutoencoder(Autoencoder):
    """Autoencoder whose decoder layers reuse the transpose of the encoder weights."""

    def __init__(self, *, sizes: Sequence[int] = DEFAULT_SIZES, tied: bool = True) -> None:
        if not tied:
            raise ValueError("this is an untied checkpoint (tied=false); load it with UntiedAutoencoder")
        super().__init__(sizes=sizes, tied=True)


class UntiedAutoencoder(Autoencoder):
    """The same autoencoder with an independent weight in every decoder layer."""

    def __init__(self, *, sizes: Sequence[int] = DEFAULT_SIZES, tied: bool = False) -> None:
        if tied:
            raise ValueError("this is a tied checkpoint (tied=true); load it with TiedAutoencoder")
        super().__init__(sizes=sizes, tied=False)


MODEL_CLASSES = dict(zip(MODEL_NAMES, (TiedAutoencoder, UntiedAutoencoder)))  # checkpoint folder / repo suffix -> class
REPO_PREFIX = "tiedae-mnist"  # Hub repos: NAMESPACE/tiedae-mnist-tied and -untied
METRICS_FILE = "metrics.json"  # beside the weights: the recipe and every test number
LATENT_MAP_FILE = "latent_map.npz"  # beside a 2-D model: its codes of the MNIST test digits, with their labels


def repo_prefix(sizes: Sequence[int]) -> str:
    """The repo name prefix for a pair of these sizes: another shape never overwrites the shipped pair."""
    if tuple(sizes) == DEFAULT_SIZES:
        return REPO_PREFIX
    if tuple(sizes[:-1]) == DEFAULT_SIZES[:-1]:
        return f"{REPO_PREFIX}-{sizes[-1]}d"  # 784-400-2: tiedae-mnist-2d
    return f"{REPO_PREFIX}-" + "-".join(map(str, sizes[1:]))


def repo_ids(namespace: str, prefix: str = REPO_PREFIX) -> dict[str, str]:
    """{'tied': 'NS/prefix-tied', 'untied': 'NS/prefix-untied'}."""
    return {name: f"{namespace}/{prefix}-{name}" for name in MODEL_CLASSES}


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
