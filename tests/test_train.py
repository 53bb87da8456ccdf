"""train.py end to end on a tiny IDX MNIST: dry run, bad data, Hub push (faked), atomic writes."""

import hashlib
import json
import shutil

import pytest
from huggingface_hub import HfApi, ModelCard

import train
from tiedae import TiedAutoencoder, UntiedAutoencoder, losses, publish, training
from tiedae import recipe as recipe_module
from tiedae.recipe import Recipe

FILES = {"model.safetensors", "config.json", "metrics.json", "README.md", "reconstructions.png", "noise_sweep.png"}


def dry_run(mnist_root, out, *extra):
    return train.main(["--dry-run", "--data-dir", str(mnist_root), "--out", str(out), *extra])


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_dry_run_writes_loadable_checkpoints(mnist_root, tmp_path, capsys):
    assert dry_run(mnist_root, tmp_path) == 0
    for name, cls in (("tied", TiedAutoencoder), ("untied", UntiedAutoencoder)):
        folder = tmp_path / name
        assert {p.name for p in folder.iterdir()} == FILES  # no latent map for a 20-D code
        model = cls.from_pretrained(folder)
        assert not model.training and model.sizes == [784, 400, 20]
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["model"] == name and metrics["test_size"] == 60 and metrics["recipe"]["denoise"] is True
        gaussian = metrics["test"]["gaussian"]
        assert [r["level"] for r in gaussian] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
        assert set(metrics["test"]) == {"gaussian", "salt_pepper", "uniform"}
        card = ModelCard.load(folder / "README.md")
        assert card.data.license == "mit" and card.data.datasets == ["mnist"] and card.data.library_name == "tiedae"
        assert card.data.eval_results[0].dataset_split == "test"
    assert not list(tmp_path.glob(".staging-*"))
    out = capsys.readouterr().out
    assert "test MSE" in out and "pca" in out and "noisy_input" in out


def test_training_is_deterministic_per_seed(mnist_root, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert dry_run(mnist_root, a, "--seed", "3") == 0
    assert dry_run(mnist_root, b, "--seed", "3") == 0
    assert digest(a / "tied")["model.safetensors"] == digest(b / "tied")["model.safetensors"]
    assert digest(a / "untied")["model.safetensors"] == digest(b / "untied")["model.safetensors"]


def test_multi_seed_reports_mean_and_std(mnist_root, tmp_path, capsys):
    assert dry_run(mnist_root, tmp_path, "--seeds", "0", "1") == 0
    assert "mean ± std over seeds [0, 1]" in capsys.readouterr().out
    summary = json.loads((tmp_path / "tied" / "metrics.json").read_text())["seeds_summary"]
    assert summary["seeds"] == [0, 1] and summary["std"]["tied"]["gaussian"][0]["mse"] >= 0
    card = (tmp_path / "untied" / "README.md").read_text()  # the card shows the same mean ± std
    assert "seeds 0, 1 (this checkpoint is seed 0)" in card
    mean, std = summary["mean"]["untied"]["gaussian"][-1]["mse"], summary["std"]["untied"]["gaussian"][-1]["mse"]
    assert f"| 0.5 | {summary['mean']['tied']['gaussian'][-1]['mse']:.5f} ± " in card and f"{mean:.5f} ± {std:.5f} |" in card


def test_cards_quote_and_link_the_study(mnist_root, tmp_path, monkeypatch):
    from tiedae.study import finding, summarize

    rows = [
        {
            "axis": "train_size",
            "value": 60_000,  # the shipped pair's setting on the study's axes
            "model": model,
            "seed": seed,
            "parameters": 1,
            "test_mse_clean": mse,
            "test_mse_gaussian_0.5": 2 * mse,
        }
        for seed in (0, 1, 2)
        for model, mse in (("tied", 0.0100 + seed / 1e4), ("untied", 0.0090 + seed / 1e4))
    ]
    study_file = tmp_path / "study.json"
    study_file.write_text(json.dumps({"steps": 4740, "rows": rows}))
    monkeypatch.setattr(train, "STUDY_PATH", study_file)
    monkeypatch.setattr(publish, "SHIPPED_TRAIN_SIZE", 128)  # the dry run's training set is the setting the study measured
    assert dry_run(mnist_root, tmp_path / "out") == 0
    card = (tmp_path / "out" / "tied" / "README.md").read_text()
    assert finding(summarize(rows)) in card and "https://huggingface.co/spaces/tiedae/tiedae" in card
    assert "| clean | 0.01010 ± 0.00010 | 0.00910 ± 0.00010 | -0.00100 ± 0.00000 |" in card  # the study's cell
    assert "4,740 optimizer steps per model" in card
    monkeypatch.setattr(publish, "SHIPPED_TRAIN_SIZE", 10_000)  # another setting: the finding, not the cell
    assert dry_run(mnist_root, tmp_path / "other") == 0
    card = (tmp_path / "other" / "tied" / "README.md").read_text()
    assert finding(summarize(rows)) in card and "| clean |" not in card


def test_missing_data_gives_one_clear_message(tmp_path, capsys):
    assert train.main(["--dry-run", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Could not load MNIST" in err and "MNIST/raw" in err and "train-images-idx3-ubyte" in err
    assert "Traceback" not in err


def test_corrupt_data_gives_one_clear_message(mnist_root, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(mnist_root, broken)
    (broken / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    assert train.main(["--dry-run", "--data-dir", str(broken), "--out", str(tmp_path / "out")]) == 1
    assert "Could not load MNIST" in capsys.readouterr().err


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """HfApi.create_repo/upload_folder replaced: uploads are copied to tmp/hub/<repo_id>."""
    hub = tmp_path / "hub"
    calls = {"create": [], "upload": []}

    def create_repo(self, repo_id, **kwargs):
        calls["create"].append((repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        calls["upload"].append((repo_id, sorted(p.name for p in folder_path.iterdir())))
        shutil.copytree(folder_path, hub / repo_id)
        return f"https://huggingface.co/{repo_id}/commit/0"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_secret_token_value")
    return hub, calls


def test_push_uploads_each_model_to_its_own_repo(mnist_root, tmp_path, fake_hub, capsys):
    hub, calls = fake_hub
    out = tmp_path / "ckpt"
    assert dry_run(mnist_root, out, "--push-to-hub", "someone", "--private") == 0
    assert [repo for repo, _ in calls["create"]] == ["someone/tiedae-mnist-tied", "someone/tiedae-mnist-untied"]
    assert all(kw["private"] and kw["exist_ok"] for _, kw in calls["create"])
    assert calls["upload"] == [(repo, sorted(FILES)) for repo, _ in calls["create"]]
    tied = TiedAutoencoder.from_pretrained(hub / "someone" / "tiedae-mnist-tied")
    untied = UntiedAutoencoder.from_pretrained(hub / "someone" / "tiedae-mnist-untied")
    assert tied.tied and not untied.tied
    card = ModelCard.load(hub / "someone" / "tiedae-mnist-tied" / "README.md")
    assert "someone/tiedae-mnist-untied" in card.text  # links its twin
    assert {r.metric_type for r in card.data.eval_results} == {"mse", "psnr"}
    printed = capsys.readouterr()
    assert "hf_secret_token_value" not in printed.out + printed.err


def test_missing_token_fails_before_training(monkeypatch, mnist_root, tmp_path, capsys):
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)

    def no_training(*args, **kwargs):
        raise AssertionError("training started without a token")

    monkeypatch.setattr(train, "load_mnist", no_training)
    assert dry_run(mnist_root, tmp_path, "--push-to-hub", "someone") == 1
    assert "needs a Hugging Face token" in capsys.readouterr().err
    assert not (tmp_path / "tied").exists()


def test_failed_upload_keeps_local_files_and_says_how_to_retry(monkeypatch, mnist_root, tmp_path, fake_hub, capsys):
    def failing_upload(self, **kwargs):
        raise OSError("connection reset")

    monkeypatch.setattr(HfApi, "upload_folder", failing_upload)
    out = tmp_path / "ckpt"
    assert dry_run(mnist_root, out, "--push-to-hub", "someone") == 1
    err = capsys.readouterr().err
    assert "connection reset" in err and f"--push-only {out} --push-to-hub someone" in err
    TiedAutoencoder.from_pretrained(out / "tied")
    UntiedAutoencoder.from_pretrained(out / "untied")


def test_push_only_uploads_existing_checkpoints(mnist_root, tmp_path, fake_hub):
    _, calls = fake_hub
    out = tmp_path / "ckpt"
    assert dry_run(mnist_root, out) == 0
    assert calls["upload"] == []
    assert train.main(["--push-only", str(out), "--push-to-hub", "someone"]) == 0
    assert [repo for repo, _ in calls["upload"]] == ["someone/tiedae-mnist-tied", "someone/tiedae-mnist-untied"]


def test_push_only_refuses_a_broken_checkpoint(mnist_root, tmp_path, fake_hub, capsys):
    _, calls = fake_hub
    out = tmp_path / "ckpt"
    assert dry_run(mnist_root, out) == 0
    (out / "untied" / "model.safetensors").write_bytes(b"broken")
    assert train.main(["--push-only", str(out), "--push-to-hub", "someone"]) == 1
    assert "model.safetensors" in capsys.readouterr().err
    assert calls["upload"] == []


def test_interrupted_save_leaves_previous_checkpoints_intact(monkeypatch, mnist_root, tmp_path):
    assert dry_run(mnist_root, tmp_path, "--seed", "1") == 0
    before = {name: digest(tmp_path / name) for name in ("tied", "untied")}
    real_card = publish.card_data

    def card_then_crash(name, *args, **kwargs):
        if name == "untied":
            raise KeyboardInterrupt  # killed mid-save, after the tied folder was complete
        return real_card(name, *args, **kwargs)

    monkeypatch.setattr(publish, "card_data", card_then_crash)
    with pytest.raises(KeyboardInterrupt):
        dry_run(mnist_root, tmp_path, "--seed", "2")
    assert {name: digest(tmp_path / name) for name in ("tied", "untied")} == before
    assert not list(tmp_path.glob(".staging-*"))


def test_a_2d_pair_ships_its_test_codes_and_pushes_to_its_own_repos(mnist_root, tmp_path, fake_hub):
    import numpy as np
    import torch
    from torchvision import datasets

    _, calls = fake_hub
    out = tmp_path / "2d"
    assert dry_run(mnist_root, out, "--sizes", "784", "400", "2", "--push-to-hub", "someone") == 0
    labels = datasets.MNIST(root=mnist_root, train=False).targets.numpy()
    test = datasets.MNIST(root=mnist_root, train=False).data.reshape(-1, 784).float() / 255
    for name, cls in (("tied", TiedAutoencoder), ("untied", UntiedAutoencoder)):
        model = cls.from_pretrained(out / name)
        with np.load(out / name / "latent_map.npz") as saved:
            codes, saved_labels = saved["codes"], saved["labels"]
        assert codes.shape == (60, 2) and codes.dtype == np.float32
        np.testing.assert_array_equal(saved_labels, labels)  # each code beside its digit's label
        with torch.no_grad():
            np.testing.assert_allclose(codes, model.encode(test).numpy(), atol=1e-5)  # the model's own codes
    # the same --push-to-hub flow, to repos named for the 2-D pair (never over the shipped 20-D pair)
    assert [repo for repo, _ in calls["create"]] == ["someone/tiedae-mnist-2d-tied", "someone/tiedae-mnist-2d-untied"]
    assert "latent_map.npz" in dict(calls["upload"])["someone/tiedae-mnist-2d-tied"]
    assert train.main(["--push-only", str(out), "--push-to-hub", "other"]) == 0
    assert calls["upload"][-1][0] == "other/tiedae-mnist-2d-untied"


# --- the training recipe's clean share and distortion ------------------------------------------


def test_distort_matches_a_reference_affine_resampling():
    """Each image goes through its own map, as scipy.ndimage resamples it from the same drawn parameters."""
    import math

    import numpy as np
    import torch
    from scipy import ndimage

    images = torch.from_numpy(np.stack([np.pad(np.ones((8, 16), np.float32), ((6, 14), (4, 8))) for _ in range(4)]))
    images[:, 10:14, 8:10] = 0.5  # something that is not symmetric
    out = training.distort(images.view(4, 784), 1.5, torch.Generator().manual_seed(7)).view(4, 28, 28).numpy()
    u = (torch.rand(4, 3, generator=torch.Generator().manual_seed(7)) * 2 - 1).numpy() * 1.5  # the same draws
    for image, result, (a, s, h) in zip(images.numpy(), out, u):
        angle, scale, shear = (
            a * math.radians(recipe_module.DISTORT_ROTATION_DEGREES),
            1 + s * recipe_module.DISTORT_SCALE,
            h * recipe_module.DISTORT_SHEAR,
        )
        rotate = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        xy = rotate @ np.array([[1, shear], [0, 1]]) / scale  # output (x, y) about the centre -> input (x, y)
        rc = xy[::-1, ::-1]  # the same map in (row, column) order
        centre = np.array([13.5, 13.5])
        expected = ndimage.affine_transform(image, rc, offset=centre - rc @ centre, order=1, mode="constant")
        np.testing.assert_allclose(result, expected, atol=1e-4)
        assert np.abs(result - image).max() > 0.2  # it did move
    same = training.distort(images.view(4, 784), 1e-9, torch.Generator().manual_seed(7))
    np.testing.assert_allclose(same.numpy(), images.view(4, 784).numpy(), atol=1e-5)  # strength 0: unchanged


def test_a_batch_shown_clean_is_trained_as_without_noise(mnist_root):
    """clean_fraction 1 feeds the clean digits, exactly as noise_max 0 does; 0 leaves the random stream as it was."""
    import torch

    x_train = training.load_mnist(str(mnist_root))[0].reshape(-1, 784)  # (N, 28, 28) -> (N, 784) uint8

    def weights(**fields):
        recipe = Recipe(epochs=1, batch_size=64, **fields)
        models, _ = training.run(recipe, x_train, x_train[:10], torch.device("cpu"), quiet=True)
        return models["tied"].state_dict()

    all_clean, no_noise, noisy = weights(clean_fraction=1.0), weights(noise_max=0.0), weights()
    assert all(torch.equal(all_clean[k], no_noise[k]) for k in all_clean)
    assert not torch.equal(noisy["layers.0.weight"], no_noise["layers.0.weight"])
    explicit_zero = weights(clean_fraction=0.0)
    assert all(torch.equal(noisy[k], explicit_zero[k]) for k in noisy)


def test_recipe_flags_name_the_clean_share_and_the_distortion():
    recipe = Recipe(clean_fraction=0.25, distort=0.5)
    assert recipe.command().endswith("--clean-fraction 0.25 --distort 0.5")
    assert recipe.distortion() == "rotation up to ±6°, scale up to ±5%, shear up to ±0.075" and Recipe().distortion() == ""
    args = train.get_args(["--clean-fraction", "0.25", "--distort", "0.5"])
    assert train.recipe_from_args(args) == recipe
    for flag in ("--clean-fraction", "--distort"):
        with pytest.raises(SystemExit):
            train.get_args([flag, "3"])


def test_binary_cross_entropy_matches_torch_bit_for_bit():
    """The loss as torch computes it, and exactly its gradient, at the edges too (0, 1, tiny, clamped logs)."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    output = torch.rand(64, 784, generator=generator).mul_(1.2).sub_(0.1).clamp_(0, 1)  # exact 0s and 1s too
    output[0, :6] = torch.tensor([0.0, 1.0, 1e-30, 1 - 6e-8, 0.5, 1e-45])
    target = torch.rand(64, 784, generator=generator)
    target[target < 0.4] = 0  # MNIST targets: mostly 0, grey edges, some 1
    target[0, :6] = torch.tensor([1.0, 0.0, 0.3, 0.7, 0.5, 0.0])
    for scale in (1.0, 3.5):  # the gradient arriving from the loss is not always 1
        ours, theirs = output.clone().requires_grad_(), output.clone().requires_grad_()
        loss, expected = losses.binary_cross_entropy(ours, target), F.binary_cross_entropy(theirs, target)
        (loss * scale).backward()
        (expected * scale).backward()
        torch.testing.assert_close(loss, expected, rtol=1e-6, atol=0)
        assert torch.equal(ours.grad, theirs.grad)
    assert torch.isfinite(ours.grad).all() and loss.item() > 0


def test_a_train_step_with_our_loss_trains_the_same_weights_as_torchs(monkeypatch):
    import torch
    import torch.nn.functional as F

    x_train = torch.randint(0, 256, (300, 784), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))

    def weights(loss_fn, precision):
        monkeypatch.setitem(losses.LOSSES, "bce", loss_fn)
        recipe = Recipe(sizes=(784, 32, 4), batch_size=64, precision=precision)
        models, optimizers, schedulers = training.make_pair(recipe, 20, torch.device("cpu"))
        training.train_epoch(models, optimizers, schedulers, x_train, recipe, torch.Generator().manual_seed(0), 1, quiet=True)
        return [t for model in models.values() for t in model.state_dict().values()]

    # Bit for bit on the machines it was written on; CI's CPU once differed in the last bits (the gradient test above held
    # there), so a whole run is held to float rounding: a wrong scale, sign or reduction is far outside it.
    for precision in ("fp32", "bf16"):
        ours, theirs = weights(losses.binary_cross_entropy, precision), weights(F.binary_cross_entropy, precision)
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=lambda m, precision=precision: f"{precision}: {m}")


def test_a_training_batch_is_the_chosen_digits_noised_per_the_recipe():
    import torch

    x_train = torch.randint(0, 256, (50, 784), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    indices = torch.tensor([7, 3, 41])

    def batch(**fields):
        return training.training_batch(x_train, indices, Recipe(**fields), torch.Generator().manual_seed(0))

    noisy, clean = batch()
    assert torch.equal(clean, x_train[indices].float() / 255) and noisy.shape == clean.shape == (3, 784)
    assert 0 < (noisy - clean).std() < 0.5  # gaussian, sigma drawn from U[0, 0.5] per image
    assert torch.equal(*batch(clean_fraction=1.0)) and torch.equal(*batch(denoise=False))
    distorted, _ = batch(denoise=False, distort=1.0)
    assert not torch.equal(distorted, clean)


@pytest.mark.parametrize(
    "cpuinfo, expected",
    [
        ("flags\t: fpu sse2 avx2 fma", "fp32"),  # AVX2 only: bf16 is emulated, 5-14x slower (benchmarks/precision.py)
        ("flags\t: fpu avx2 avx512f avx512_bf16", "bf16"),
        ("flags\t: fpu avx2 amx_bf16 amx_tile", "bf16"),
        (OSError("no /proc"), "fp32"),
    ],
)
def test_auto_precision_is_bf16_only_where_the_cpu_computes_it_natively(monkeypatch, cpuinfo, expected):
    import torch

    class FakePath:
        def __init__(self, path):
            assert path == "/proc/cpuinfo", path

        def read_text(self):
            if isinstance(cpuinfo, Exception):
                raise cpuinfo
            return cpuinfo

    monkeypatch.setattr(training, "Path", FakePath)
    assert training.pick_precision("auto", torch.device("cpu")) == expected
    for named in ("fp32", "bf16"):  # a named precision is kept, whatever the CPU
        assert training.pick_precision(named, torch.device("cpu")) == named
