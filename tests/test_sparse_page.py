"""The page's sparse codes: /sparse and its bad input, the parts of a drawing at k, the dictionaries and an atom's card."""

import numpy as np
import pytest
import torch
from PIL import Image
from test_app import decode, raw_call_error, sketch  # the page tests' helpers: a drawing as sent, a PNG data URI read back

from space import side_by_side, sparse_codes
from space.models import shipped_pairs
from tiedae import mse
from tiedae.atoms import TILE, atom_at
from tiedae.drawing import draw_digit
from tiedae.families import FAMILIES

pytestmark = pytest.mark.skipif(sparse_codes.ARCH is None, reason="no family with a dictionary")


def sparse_models():
    return shipped_pairs()[sparse_codes.ARCH].models


def three_digit() -> torch.Tensor:
    from tiedae.preprocess import sketch_to_mnist

    return torch.from_numpy(sketch_to_mnist(draw_digit(3))).reshape(1, -1)


def test_the_parts_are_the_k_strongest_atoms_and_they_add_up_to_the_reconstruction():
    numbers = sparse_codes.sparse_numbers(sketch(draw_digit(3)), 8)
    x = three_digit()
    assert numbers["k"] == 8
    for name, model in sparse_models().items():
        code = model.encode(x, 8)[0]
        kept = code.nonzero().flatten()
        atoms = numbers[name]["atoms"]
        assert [a["index"] for a in atoms] == sorted(kept.tolist(), key=lambda i: -code[i].item())  # strongest first
        assert [a["activation"] for a in atoms] == pytest.approx([code[a["index"]].item() for a in atoms], abs=1e-5)
        assert all(decode(a["image"]).shape == (28, 28) for a in atoms)
        reconstruction = decode(numbers[name]["reconstruction"])
        expected = np.round(model.decode(code[None])[0].detach().numpy().reshape(28, 28) * 255)
        assert np.abs(reconstruction.astype(int) - expected).max() <= 1
        assert numbers[name]["mse"] == pytest.approx(
            mse(torch.from_numpy(reconstruction / 255).reshape(1, -1), x).item(), abs=2e-4
        )
    fewer = sparse_codes.sparse_numbers(sketch(draw_digit(3)), 2)
    assert all(len(fewer[name]["atoms"]) <= 2 for name in ("tied", "untied"))
    assert fewer["tied"]["mse"] > numbers["tied"]["mse"]  # two atoms draw a worse three than eight


def test_the_section_shows_both_models_atoms_and_build_up_and_says_what_is_missing():
    shown = sparse_codes.sparse_view(sketch(draw_digit(3)), 5)
    for name in ("tied", "untied"):
        assert f'id="sparse-{name}"' in shown and f'id="sparse_{name}-parts-img"' in shown
        assert shown.count(f'data-model="{name}" data-atom=') <= 5
    assert shown.count('class="sparse-step"') == shown.count("data-atom=")  # one frame per atom added
    assert "Draw a digit" in sparse_codes.sparse_view(None, 5)
    assert "k must be a whole number from 1 to 32; got 40" in sparse_codes.sparse_view(sketch(draw_digit(3)), 40)
    assert sparse_codes.follow_drawing(sketch(draw_digit(3)), 5, False) is not None  # closed: skipped, not drawn


def test_the_dictionaries_are_ordered_by_use_with_dead_atoms_last_and_a_click_finds_the_atom():
    loaded = shipped_pairs()[sparse_codes.ARCH]
    *files, tied_caption, untied_caption = sparse_codes.dictionaries()
    stats = loaded.atoms["untied"]
    order = stats.order()
    assert f"{stats.summary()['dead_atoms']:,} dead" in untied_caption and "dead" in tied_caption
    grid = np.asarray(Image.open(files[1]).convert("RGB")).astype(int)
    assert grid.shape == (32 * (TILE + 1) + 1, 32 * (TILE + 1) + 1, 3)
    last = grid[-TILE - 1 : -1, -TILE - 1 : -1]  # the least used atom's tile, bottom right: red if it is dead
    assert (last[..., 0] > last[..., 1] + 40).all() == bool(stats.dead[order[-1]])
    assert np.all(np.diff(stats.frequency[order]) <= 0)  # most used first
    assert atom_at(stats, 1, 1) == order[0] and atom_at(stats, 1 + 3 * (TILE + 1), 1 + (TILE + 1)) == order[32 + 3]
    with pytest.raises(ValueError, match="not on an atom"):
        atom_at(stats, 1, 1e6)
    import gradio as gr

    card = sparse_codes.grid_click_handler("untied")(gr.SelectData(None, {"index": [1, 1], "value": None}))
    assert f"atom #{order[0]}" in card


def test_an_atoms_card_gives_its_use_its_activations_its_top_digits_and_its_drift(monkeypatch):
    loaded = shipped_pairs()[sparse_codes.ARCH]
    digits = np.zeros((10_000, 28, 28), dtype=np.uint8)
    digits[:, 0, 0] = np.arange(10_000) % 251  # each test digit told apart by its first pixel
    monkeypatch.setattr(sparse_codes, "mnist_test_digits", lambda: digits)
    stats = loaded.atoms["untied"]
    busiest = int(stats.order()[0])
    card = sparse_codes.card_view("untied", busiest)
    model = loaded.models["untied"]
    cosine = torch.nn.functional.cosine_similarity(model.dictionary.weight[busiest], model.atoms()[busiest], dim=0).item()
    assert f"{cosine:.3f}" in card and f"{100 * stats.frequency[busiest]:.2f}%" in card
    assert "<svg" in card and card.count('alt="test digit') == (stats.top_indices[busiest] >= 0).sum()
    assert f'alt="test digit {stats.top_indices[busiest][0]}"' in card
    assert "cosine 1 by construction" in sparse_codes.card_view("tied", int(loaded.atoms["tied"].order()[0]))
    dead = np.flatnonzero(loaded.atoms["tied"].dead)
    if len(dead):
        assert "<b>Dead</b>" in sparse_codes.card_view("tied", int(dead[0]))
    monkeypatch.setattr(sparse_codes, "mnist_test_digits", lambda: None)
    assert "could not load" in sparse_codes.card_view("untied", busiest)
    assert "Atom must be a whole number from 0 to 1,023; got 1024" in sparse_codes.card_view("tied", 1024)
    assert "Model must be one of tied, untied" in sparse_codes.card_view("both", 3)
    assert "atom #7" in sparse_codes.picked("tied:7:123456")


def test_the_side_by_side_has_a_sparse_row_with_its_numbers():
    from tiedae import count_parameters

    shown, numbers = side_by_side.reconstruct(sketch(draw_digit(2)), "gaussian", 0.2, 3)
    models = sparse_models()
    prefix = FAMILIES[sparse_codes.ARCH].result_prefix
    for name in ("tied", "untied"):
        key = prefix + name
        assert set(numbers[key]) == {"mse", "psnr", "parameters", "image"}
        assert numbers[key]["parameters"] == count_parameters(models[name])
        assert numbers[key]["image"] in shown
    assert shown.index('id="conv_tied-img"') < shown.index(f'id="{prefix}tied-img"')  # under the conv pair


def test_api_sparse_and_its_bad_input(app_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    path = tmp_path / "three.png"
    draw_digit(3).save(path)
    client = Client(app_url, verbose=False)
    value = {"background": None, "layers": [], "composite": handle_file(str(path))}
    out = client.predict(value, 6, api_name="/sparse")
    assert out == sparse_codes.sparse_numbers(sketch(draw_digit(3)), 6)
    assert set(out) == {"k", "tied", "untied"} and set(out["tied"]) == {"reconstruction", "mse", "psnr", "atoms"}
    assert set(out["tied"]["atoms"][0]) == {"index", "activation", "image"}
    for k, message in ((0, "k must be a whole number from 1 to 32; got 0"), (33, "got 33"), (2.5, "got 2.5")):
        with pytest.raises(AppError, match=message):
            client.predict(value, k, api_name="/sparse")
    blank = tmp_path / "blank.png"
    draw_digit(3).point(lambda _: 255).save(blank)
    with pytest.raises(AppError, match="Draw a digit"):
        client.predict({"background": None, "layers": [], "composite": handle_file(str(blank))}, 8, api_name="/sparse")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(AppError, match="not an image that can be read"):
        client.predict({"background": None, "layers": [], "composite": handle_file(str(junk))}, 8, api_name="/sparse")
    assert "k must be a whole number" in raw_call_error(app_url, "sparse", [None, "eight"])
    assert len(client.predict(value, 3, api_name="/sparse")["untied"]["atoms"]) <= 3  # still serving


def test_the_sparse_pair_and_its_atoms_load_from_an_offline_hub_cache(monkeypatch, tmp_path):
    import shutil
    from pathlib import Path

    import huggingface_hub.constants as constants

    from space.models import load_bundled, load_from_hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    family = FAMILIES[sparse_codes.ARCH]
    folder = Path(__file__).resolve().parent.parent / "checkpoints" / family.checkpoints
    prefix = family.repo_prefix({"hidden": 1024, "k": 32})
    for i, name in enumerate(("tied", "untied")):  # a Hub cache holding both repos at refs/main
        repo = tmp_path / f"models--someorg--{prefix}-{name}"
        snapshot = repo / "snapshots" / f"{i:040d}"
        snapshot.mkdir(parents=True)
        for file in ("config.json", "model.safetensors", "metrics.json", "atoms.npz"):
            shutil.copy(folder / name / file, snapshot / file)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(f"{i:040d}")
    loaded = load_from_hub("someorg", root=folder, prefix=prefix, family=family)
    bundled = load_bundled(folder, family)
    assert loaded.warning is None and f"someorg/{prefix}-tied" in loaded.source
    for name in ("tied", "untied"):
        assert loaded.atoms[name].summary() == bundled.atoms[name].summary()
        x = torch.rand(2, 784)
        assert torch.equal(loaded.models[name](x), bundled.models[name](x))


def test_while_noise_is_on_the_page_says_the_sparse_pair_learned_from_clean_digits():
    note = FAMILIES[sparse_codes.ARCH].noise_note
    noisy, _ = side_by_side.reconstruct(sketch(draw_digit(4)), "gaussian", 0.3, 0)
    clean, numbers = side_by_side.reconstruct(sketch(draw_digit(4)), "gaussian", 0.0, 0)
    assert note and note.split(":")[0] in noisy and note.split(":")[0] not in clean
    assert numbers["sparse_tied"]["mse"] < 0.02  # on the clean digit it draws it
