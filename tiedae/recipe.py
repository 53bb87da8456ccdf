"""The training recipe: the hyperparameters a run is defined by, saved into metrics.json beside the weights."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from tiedae.constants import CONV_CHANNELS, DEFAULT_SIZES, MNIST_PIXELS, SPARSE_HIDDEN, SPARSE_K
from tiedae.families import FAMILIES, FIRST_FAMILY, Family
from tiedae.ties import repo_suffix, tie_mask

# tiedae.training.distort at strength 1, about the image's centre; a strength scales all three
DISTORT_ROTATION_DEGREES, DISTORT_SCALE, DISTORT_SHEAR = 12.0, 0.10, 0.15
DISTORT_MAX = 2.0  # stronger maps would make digits MNIST never has
LOSS_NAMES = {"bce": "binary cross-entropy", "mse": "mean squared error"}
PRECISION_NAMES = {"bf16": "bfloat16 autocast for matmuls (weights and optimizer in float32)", "fp32": "float32"}


FAMILY_FIELDS = ("channels", "hidden", "k", "decoder_init")  # Recipe fields only some families read (flags skip the rest)


@dataclass(frozen=True)
class Recipe:
    """What both models of a pair are trained with; train.py builds it from its flags, defaults included."""

    sizes: tuple[int, ...] = DEFAULT_SIZES  # layer widths, input first (a family may read them its own way: see model_kwargs)
    arch: str = FIRST_FAMILY  # the model family, a name in tiedae.families.FAMILIES
    channels: tuple[int, ...] = CONV_CHANNELS  # the conv layers' channels, for families that have them
    hidden: int = SPARSE_HIDDEN  # a sparse dictionary's atoms, for families that have one
    k: int = SPARSE_K  # the atoms a sparse code keeps per image
    decoder_init: str = "transpose"  # how an untied sparse decoder starts: as the encoder's W.t(), or "random"
    tie: str = "all"  # which layer pairs the tied model ties (tiedae.ties); its twin ties none
    epochs: int = 60
    batch_size: int = 128
    lr: float = 3e-3  # peak learning rate: Adam with a one-cycle schedule
    loss: str = "bce"
    precision: str = "auto"  # "auto" is resolved to "bf16" or "fp32" before training
    denoise: bool = True
    noise_kind: str = "gaussian"
    noise_max: float = 0.5  # each training image's noise level is drawn from U[0, noise_max]
    clean_fraction: float = 0.0  # the share of training images shown without noise (the clean digits are test inputs too)
    distort: float = 0.0  # strength of a random affine map per training image (0: off; 1: see train.distort)
    train_size: int | None = None  # the first N training images; None: all
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))  # lists from JSON or argparse
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.arch not in FAMILIES:
            raise ValueError(f"arch must be one of {', '.join(FAMILIES)}, got {self.arch!r}")
        if self.sizes[0] != MNIST_PIXELS:
            raise ValueError(f"sizes must start with {MNIST_PIXELS} (28×28 pixels), got {list(self.sizes)}")
        if min(self.sizes) < 1 or min(self.channels, default=1) < 1:
            raise ValueError(f"sizes and channels must be positive, got {list(self.sizes)} and {list(self.channels)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch size must be at least 1, got {self.epochs} and {self.batch_size}")
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"loss must be one of {', '.join(LOSS_NAMES)}, got {self.loss!r}")
        if not 0 <= self.noise_max <= 1:
            raise ValueError(f"noise max must be between 0 and 1, got {self.noise_max}")
        if not 0 <= self.clean_fraction <= 1:
            raise ValueError(f"clean fraction must be between 0 and 1, got {self.clean_fraction}")
        if not 0 <= self.distort <= DISTORT_MAX:
            raise ValueError(f"distort must be between 0 and {DISTORT_MAX:g}, got {self.distort}")
        used = self.untied_kwargs()  # the family's own checks of the shape
        self.tie_mask()
        for name in FAMILY_FIELDS:
            value, default = getattr(self, name), next(f.default for f in fields(self) if f.name == name)
            if name not in used and value != default:
                users = [f"--arch {f.name}" for f in FAMILIES.values() if name in f.hparams]
                raise ValueError(
                    f"{name} does not apply to the {self.family.label} family (it reads {', '.join(used)})"
                    + (f"; it is for {' and '.join(users)}" if users else "")
                )

    def tie_mask(self) -> str | None:
        """The tied model's tie mask (None for a family that ties all or none); a ValueError if the choice cannot be."""
        if self.family.layer_pairs is None:
            if self.tie != "all":
                raise ValueError(
                    f"the {self.family.label} family ties every layer pair or none; tie must be 'all', got {self.tie!r}"
                )
            return None
        mask = tie_mask(self.tie, self.family.layer_pairs(self.model_kwargs()))
        if "1" not in mask:
            raise ValueError(
                f"tie={self.tie!r} ties no layer pair: that is the untied twin, which every run trains beside the tied model"
            )
        return mask

    def tied_kwargs(self) -> dict:
        """The keyword arguments that build this recipe's tied model: the shape and which layer pairs it ties."""
        mask = self.tie_mask()
        return {**self.model_kwargs(), **({} if mask is None else {"tie": mask})}

    def untied_kwargs(self) -> dict:
        """The keyword arguments that build this recipe's untied model: the shape and, for some families, how it starts."""
        extra = self.family.untied_kwargs(self) if self.family.untied_kwargs else {}
        return {**self.model_kwargs(), **extra}

    def repo_prefix(self) -> str:
        """The pair's Hub repo prefix: the family's for the shape, and '-tie01' for a partly tied pair."""
        return self.family.repo_prefix(self.model_kwargs()) + repo_suffix(self.tie_mask())

    @property
    def family(self) -> Family:
        """The recipe's row of the family table."""
        return FAMILIES[self.arch]

    @classmethod
    def for_arch(cls, arch: str, **changes) -> Recipe:
        """The default recipe of a model family (its shipped pair's sizes)."""
        if arch not in FAMILIES:
            raise ValueError(f"arch must be one of {', '.join(FAMILIES)}, got {arch!r}")
        return cls(**{"sizes": FAMILIES[arch].default_sizes, "arch": arch, **changes})

    def model_kwargs(self) -> dict:
        """The keyword arguments that build this recipe's models (either class of its pair); a ValueError if it cannot."""
        return self.family.model_kwargs(self)

    def distortion(self) -> str:
        """The random affine map applied to each training image, in words ("" when off)."""
        if not self.distort:
            return ""
        return (
            f"rotation up to ±{DISTORT_ROTATION_DEGREES * self.distort:g}°, scale up to ±{100 * DISTORT_SCALE * self.distort:g}%, "
            f"shear up to ±{DISTORT_SHEAR * self.distort:g}"
        )

    def batches_per_epoch(self, images: int) -> int:
        """Optimizer steps per epoch over `images` training images (the last batch may be short)."""
        return math.ceil(images / self.batch_size)

    def flags(self) -> list[str]:
        """The train.py flags that set this recipe (those that differ from the defaults; a resolved precision is named)."""
        out = []
        for field in fields(self):
            value, default = getattr(self, field.name), field.default
            if value == default or (field.name in FAMILY_FIELDS and field.name not in self.untied_kwargs()):
                continue
            flag = "--" + field.name.replace("_", "-")
            if isinstance(value, bool):
                out.append(flag if value else "--no-" + field.name.replace("_", "-"))
            elif isinstance(value, tuple):
                out += [flag, *map(str, value)]
            else:
                out += [flag, str(value)]
        return out

    def command(self, data_dir: str = "<MNIST root>") -> str:
        """The `python train.py …` command line that trains exactly this recipe."""
        return " ".join(["python", "train.py", "--data-dir", data_dir, *self.flags()])
