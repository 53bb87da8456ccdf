"""The models the page shows: every family's shipped pair and the 2-D pair, loaded once in the background.

Loading imports torch, so it starts once the page is served (python app.py), or on first need; every section
waits on the same Future. The first family's pair is required; any other family's pair, and the 2-D pair, may
be missing, and the page then says so.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from space.errors import refused
from tiedae.constants import CHECKPOINTS, DEFAULT_SIZES, MODEL_NAMES
from tiedae.families import FAMILIES, FIRST_FAMILY, REPO_PREFIX, Family
from tiedae.recipe import Recipe

log = logging.getLogger("tiedae")

LATENT_ROOT = CHECKPOINTS / "2d"  # the 2-D pair (the first family's shape, with a 2-D code) and its codes of the test digits
LATENT_SIZES = (*DEFAULT_SIZES[:-1], 2)
LOAD_FAILED = "The models could not be loaded: {}"
HUB: str | None = None  # set by configure(): load NAMESPACE/<prefix>-tied and -untied from the Hub
REVISION: str | None = None


def configure(*, hub: str | None, revision: str | None) -> None:
    """Where the models come from: the Hub namespace and revision of python app.py --hub/--revision (None: the bundled ones)."""
    global HUB, REVISION
    HUB, REVISION = hub, revision


@dataclass
class LoadedModels:
    """Both models, their test metrics (None if unavailable) and where they came from."""

    models: dict
    metrics: dict[str, dict | None]
    source: str
    warning: str | None = None
    maps: dict | None = None  # 2-D models only: each model's LatentMap of the test digits
    atoms: dict | None = None  # models with a dictionary: each one's AtomStatistics on the test digits (atoms.npz)
    parameters: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        from tiedae.model import count_parameters

        self.parameters = {name: count_parameters(model) for name, model in self.models.items()}


def _read_metrics(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        log.warning("no usable %s: %s", path, e)
        return None


def load_bundled(root: Path = CHECKPOINTS, family: Family | None = None) -> LoadedModels:
    """The checkpoints shipped in root/tied and root/untied (a pair of `family`, the first one's unless given);
    errors name the bad file."""
    family = family or FAMILIES[FIRST_FAMILY]
    from tiedae.atoms import ATOMS_FILE, AtomStatistics
    from tiedae.latent import LatentMap
    from tiedae.model import LATENT_MAP_FILE, METRICS_FILE

    if not root.is_dir():  # e.g. the package installed with pip, which ships no checkpoints
        raise FileNotFoundError(
            f"{root}: no checkpoints folder here (checkpoints/ comes with the repository, not with the installed "
            "package); load the models from the Hub instead, e.g. TiedAutoencoder.from_pretrained('tiedae/tiedae-mnist-tied')"
        )
    models = {}
    for name, cls in family.classes().items():
        folder = root / name
        if not (folder / "model.safetensors").is_file():
            raise FileNotFoundError(f"{folder / 'model.safetensors'}: checkpoint missing (run train.py to make it)")
        models[name] = cls.from_pretrained(folder)
    metrics = {name: _read_metrics(root / name / METRICS_FILE) for name in MODEL_NAMES}
    maps = atoms = None
    if all((root / name / LATENT_MAP_FILE).is_file() for name in MODEL_NAMES):
        maps = {name: LatentMap.load(root / name / LATENT_MAP_FILE) for name in MODEL_NAMES}
    if all((root / name / ATOMS_FILE).is_file() for name in MODEL_NAMES):
        atoms = {name: AtomStatistics.load(root / name / ATOMS_FILE) for name in MODEL_NAMES}
    where = root.relative_to(CHECKPOINTS.parent) if root.is_relative_to(CHECKPOINTS.parent) else root.name
    return LoadedModels(models, metrics, source=f"bundled checkpoints ({where}/)", maps=maps, atoms=atoms)


def load_from_hub(
    namespace: str,
    *,
    revision: str | None = None,
    root: Path = CHECKPOINTS,
    prefix: str = REPO_PREFIX,
    family: Family | None = None,
) -> LoadedModels:
    """NAMESPACE/<prefix>-tied and -untied from the Hub (or its cache); the bundled ones in root if that fails."""
    family = family or FAMILIES[FIRST_FAMILY]
    from huggingface_hub import hf_hub_download

    from tiedae.atoms import ATOMS_FILE, AtomStatistics
    from tiedae.latent import LatentMap
    from tiedae.model import LATENT_MAP_FILE, METRICS_FILE, repo_ids

    ids = repo_ids(namespace, prefix)
    try:
        models, metrics, maps, atoms = {}, {}, {}, {}
        for name, cls in family.classes().items():
            models[name] = cls.from_pretrained(ids[name], revision=revision)
            metrics_path = hf_hub_download(ids[name], METRICS_FILE, revision=revision)
            metrics[name] = _read_metrics(Path(metrics_path))
            if models[name].latent_size == 2:
                maps[name] = LatentMap.load(Path(hf_hub_download(ids[name], LATENT_MAP_FILE, revision=revision)))
            if hasattr(models[name], "atoms"):
                atoms[name] = AtomStatistics.load(Path(hf_hub_download(ids[name], ATOMS_FILE, revision=revision)))
    except Exception as e:  # offline, no such repo, bad files: all mean "use what we ship"
        reason = f"{type(e).__name__}: {e}".splitlines()[0]
        warning = f"Could not load {ids['tied']} / {ids['untied']} from the Hub ({reason}); showing the bundled checkpoints."
        log.warning(warning)
        loaded = load_bundled(root, family)
        loaded.warning = warning
        return loaded
    at = f"@{revision}" if revision else ""
    return LoadedModels(
        models, metrics, source=f"Hub: {ids['tied']}{at}, {ids['untied']}{at}", maps=maps or None, atoms=atoms or None
    )


def load_pair(root: Path, recipe: Recipe) -> LoadedModels:
    """One tied/untied pair of the recipe's family and shape: from the Hub with --hub (the bundled one in root if that
    fails), else from root."""
    if not HUB:
        return load_bundled(root, recipe.family)
    prefix = recipe.repo_prefix()
    return load_from_hub(HUB, revision=REVISION, root=root, prefix=prefix, family=recipe.family)


def load_models() -> dict:
    """Import torch, then load every family's shipped pair and the 2-D pair; runs once, in the background (see loading).

    {"pairs": {family name: LoadedModels}, "latent": LoadedModels or None}; a family whose pair could not be loaded
    is left out (the first family's failure is an error: nothing could be shown)."""
    import torch  # here, not at the top: the page does not wait for torch

    torch.set_num_threads(1)  # one thread per call; the queue runs as many calls as there are cores
    # One image at a time through the conv pair: torch's own conv kernels, not oneDNN's, whose set-up in each new
    # worker thread costs several times the call itself (benchmarks/RESULTS.md; the MLP pair is unaffected)
    torch.backends.mkldnn.enabled = False
    start = time.perf_counter()
    pairs = {}
    for name, family in FAMILIES.items():
        try:
            pairs[name] = load_pair(CHECKPOINTS / family.checkpoints, Recipe.for_arch(name))
        except (ValueError, FileNotFoundError) as e:
            if name == FIRST_FAMILY:  # a broken bundled checkpoint: say which file, no traceback
                log.error(LOAD_FAILED.format(e))
                raise
            log.warning("no %s pair: %s", family.label, e)  # the page shows the others, and says this one is missing
    try:
        latent = load_pair(LATENT_ROOT, Recipe(sizes=LATENT_SIZES))
    except (ValueError, FileNotFoundError) as e:  # the explorer says so; drawing and reconstructing still work
        log.warning("no 2-D models for the latent maps: %s", e)
        latent = None
    log.info("models loaded in %.1f s", time.perf_counter() - start)
    return {"pairs": pairs, "latent": latent}


_loading: Future | None = None
_loading_lock = threading.Lock()


def loading() -> Future:
    """The one background load of torch and the models: started once the page is served (python app.py), else on first need."""
    global _loading
    with _loading_lock:
        if _loading is None:
            _loading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiedae-models").submit(load_models)
        return _loading


def shipped_pairs() -> dict[str, LoadedModels]:
    """Every family's shipped pair that loaded, in the table's order, waiting while they load; a clear error if none could."""
    try:
        return loading().result()["pairs"]
    except (ValueError, FileNotFoundError) as e:
        raise refused(LOAD_FAILED.format(e)) from None


def shipped_models() -> LoadedModels:
    """The first family's shipped pair (784-400-20): the one the noise sweep, interpolation and arithmetic use."""
    return shipped_pairs()[FIRST_FAMILY]


def source_note() -> str:
    """Where the models came from, shown once they are loaded (or why they are not)."""
    try:
        pairs = shipped_pairs()
    except gr.Error as e:
        return f"⚠️ {e.message}"
    warnings = [f"⚠️ {loaded.warning}" for loaded in pairs.values() if loaded.warning]
    for name, family in FAMILIES.items():
        if name not in pairs:
            folder = f"checkpoints/{family.checkpoints}/" if family.checkpoints else "checkpoints/"
            warnings.append(f"⚠️ No {family.label} pair ({folder} holds no usable checkpoints): it is not shown.")
    first, *others = pairs.items()
    sources = f"Models: {first[1].source}" + "".join(f"; {FAMILIES[name].label} pair: {loaded.source}" for name, loaded in others)
    return " ".join([*warnings, sources + "."])


def latent_models() -> LoadedModels:
    """The 2-D pair and its maps, or a clear error if they are missing."""
    shipped_pairs()  # the same error first if nothing could be loaded
    latent = loading().result()["latent"]
    if latent is None or latent.maps is None:
        raise refused(f"The 2-D models are missing ({LATENT_ROOT.name}/ holds no checkpoints with latent maps).")
    return latent
