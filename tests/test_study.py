"""study.py: cells, resuming, reproducible rows, and a summary that matches a direct computation."""

import json
import shlex
import statistics
from pathlib import Path

import pytest

import study
import train
from tiedae import training
from tiedae.families import FAMILIES
from tiedae.study import AXES, summarize

FIELDS = {
    "arch",
    "axis",
    "value",
    "sizes",
    "train_size",
    "model",
    "seed",
    "parameters",
    "test_mse_clean",
    "test_mse_gaussian_0.5",
    "seconds",
    "command",
}


def test_cells_vary_one_axis_and_keep_the_step_budget():
    for n in (500, 1_000, 10_000):
        recipe = study.cell_recipe("train_size", n, 0)
        assert recipe.train_size == n and recipe.sizes == study.BASE.sizes
        steps = recipe.epochs * -(-n // recipe.batch_size)  # epochs × batches per epoch
        assert abs(steps - study.STEPS) / study.STEPS < 0.02, n
    assert study.cell_recipe("latent", 5, 1).sizes == (784, 400, 5)
    assert study.cell_recipe("depth", "784-512-256-20", 2).sizes == (784, 512, 256, 20)
    assert study.cell_recipe("latent", 5, 1).seed == 1
    with pytest.raises(ValueError, match="unknown axis"):
        study.cell_recipe("width", 3, 0)


@pytest.fixture(scope="module")
def quick_study(mnist_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    assert study.main(["--quick", "--data-dir", str(mnist_root), "--out", str(out)]) == 0
    return out, json.loads((out / study.STUDY_FILE).read_text())["rows"]


def test_quick_study_writes_every_row_and_the_figure(quick_study):
    out, rows = quick_study
    assert json.loads((out / study.STUDY_FILE).read_text())["wall_seconds"] > 0  # the study's own time, kept in the file
    assert (out / study.FIGURE_FILE).stat().st_size > 10_000
    pairs = {(r["arch"], r["axis"], r["model"]) for r in rows}
    expected = {(arch, a, m) for arch, family in FAMILIES.items() for a in family.study_axes for m in ("tied", "untied")}
    assert pairs == expected  # each family along its own axes: MLP along every MLP axis, conv along training-set size, …
    sparse = [r for r in rows if r["axis"] in ("k", "k_random")]
    assert sparse and all(0 <= r["dead_fraction"] <= 1 and r["k"] == r["value"] for r in sparse)
    assert all("--decoder-init random" in r["command"] for r in sparse if r["axis"] == "k_random")
    for row in rows:
        assert FIELDS <= set(row), FIELDS - set(row)
        assert row["command"].startswith("python train.py --data-dir ")
        assert 0 < row["test_mse_clean"] < 1 and 0 < row["test_mse_gaussian_0.5"] < 1
    tied = next(r for r in rows if r["model"] == "tied" and r["axis"] == "latent" and r["value"] == 2)
    untied = next(r for r in rows if r["model"] == "untied" and r["axis"] == "latent" and r["value"] == 2)
    assert untied["parameters"] > tied["parameters"]  # the untied twin has its own decoder weights


def test_an_interrupted_study_resumes_from_the_rows_written(quick_study, mnist_root, monkeypatch, tmp_path):
    out, rows = quick_study
    (tmp_path / study.STUDY_FILE).write_text((out / study.STUDY_FILE).read_text())

    def no_training(*args, **kwargs):
        raise AssertionError("a pair already in study.json was trained again")

    monkeypatch.setattr(training, "run", no_training)
    assert study.main(["--quick", "--data-dir", str(mnist_root), "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / study.STUDY_FILE).read_text())["rows"] == rows


@pytest.mark.parametrize("arch, axis", [("mlp", "depth"), ("conv", "train_size"), ("sparse", "k_random")])
def test_a_rows_command_reproduces_its_numbers(quick_study, mnist_root, tmp_path, arch, axis):
    _, rows = quick_study
    row = next(r for r in rows if r["arch"] == arch and r["axis"] == axis and r["model"] == "untied")
    if arch == "conv":
        assert "--arch conv" in row["command"] and row["channels"] == list(study.BASES["conv"].channels)
    argv = shlex.split(row["command"])[2:]  # drop "python train.py"
    argv[argv.index("--out") + 1] = str(tmp_path / "run")
    assert train.main(argv) == 0
    metrics = json.loads((tmp_path / "run" / "untied" / "metrics.json").read_text())
    assert metrics["test"]["gaussian"][0]["mse"] == pytest.approx(row["test_mse_clean"], abs=1e-4)
    assert metrics["test"]["gaussian"][-1]["mse"] == pytest.approx(row["test_mse_gaussian_0.5"], abs=1e-4)


def fake_rows():
    """Three seeds of one latent cell, with known numbers."""
    rows = []
    for seed, (tied, untied) in enumerate([(0.010, 0.009), (0.011, 0.0095), (0.012, 0.0098)]):
        for model, value in (("tied", tied), ("untied", untied)):
            rows.append(
                {
                    "axis": "latent",
                    "value": 20,
                    "model": model,
                    "seed": seed,
                    "parameters": 1,
                    "test_mse_clean": value,
                    "test_mse_gaussian_0.5": 2 * value,
                }
            )
    return rows


def test_summary_matches_a_direct_computation():
    cell = study.summarize(fake_rows())["latent"][0]
    tied, untied = [0.010, 0.011, 0.012], [0.009, 0.0095, 0.0098]
    assert cell["test_mse_clean"]["tied"] == pytest.approx((statistics.mean(tied), statistics.stdev(tied)))
    diffs = [u - t for u, t in zip(untied, tied)]  # paired, per seed
    assert cell["test_mse_clean"]["diff"] == pytest.approx((statistics.mean(diffs), statistics.stdev(diffs)))
    assert cell["seeds"] == [0, 1, 2]


def test_finding_and_readme_come_from_the_numbers(tmp_path):
    sentence = study.study_finding(fake_rows())
    assert "the untied model (twice the weights) has the lower clean test MSE in 1" in sentence
    assert "a 20-D code" in sentence and "14.2% lower" in sentence  # mean paired diff -0.00157 over mean tied 0.011
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{study.README_START}\nold\n{study.README_END}\n\nafter\n")
    assert study.update_readme(readme, fake_rows())
    text = readme.read_text()
    assert "old" not in text and sentence in text and text.endswith("after\n")
    assert "0.01100 ± 0.00100" in text  # the tied mean ± std


def test_the_readme_section_is_the_one_made_from_the_shipped_study():
    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / study.STUDY_FILE
    readme = (shipped.parent.parent / "README.md").read_text()
    if not shipped.exists():
        pytest.skip("no checkpoints/study.json yet")
    expected = study.readme_section(study.load_previous(shipped)["rows"])
    assert expected in readme, "README's study section is stale: run python study.py to rewrite it from study.json"


def test_a_setting_on_several_axes_is_trained_once(mnist_root, tmp_path, monkeypatch):
    calls = []
    real = training.run

    def counting(recipe, *args, **kwargs):
        calls.append((recipe.sizes, recipe.train_size, recipe.seed))
        return real(recipe, *args, **kwargs)

    monkeypatch.setattr(training, "run", counting)
    # 784-400-20 on 200 images: the train-size axis's 200 and the latent axis's 20 are the same setting
    monkeypatch.setattr(study, "QUICK_AXES", {"train_size": [200], "latent": [20, 2], "depth": ["784-400-20"]})
    monkeypatch.setattr(study, "BASE", study.dataclasses.replace(study.BASE, train_size=200))
    assert study.main(["--quick", "--arch", "mlp", "--data-dir", str(mnist_root), "--out", str(tmp_path)]) == 0
    assert len(calls) == len(set(calls)) == 2  # 784-400-20 once, 784-400-2 once
    rows = json.loads((tmp_path / study.STUDY_FILE).read_text())["rows"]
    assert len(rows) == 8  # four cells, two models each


def test_the_tied_layers_axis_trains_each_mask_and_reuses_the_fully_tied_cell(mnist_root, tmp_path, monkeypatch):
    calls = []
    real = training.run

    def counting(recipe, *args, **kwargs):
        calls.append((recipe.sizes, recipe.train_size, recipe.tie))
        return real(recipe, *args, **kwargs)

    monkeypatch.setattr(training, "run", counting)
    # with all 200 training images, 784-400-20 tied all is the train-size axis's 200 cell: one pair, not two
    monkeypatch.setattr(study, "QUICK_AXES", {"train_size": [200], "tie": ["784-400-20:11", "784-400-20:01"]})
    assert study.main(["--quick", "--arch", "mlp", "--data-dir", str(mnist_root), "--out", str(tmp_path)]) == 0
    assert calls == [((784, 400, 20), 200, "all"), ((784, 400, 20), 200, "01")]
    rows = json.loads((tmp_path / study.STUDY_FILE).read_text())["rows"]
    tied = {row["value"]: row for row in rows if row["model"] == "tied"}
    assert tied["784-400-20:01"]["tie"] == "01" and "--tie 01" in tied["784-400-20:01"]["command"]
    assert tied["784-400-20:11"]["test_mse_clean"] == tied[200]["test_mse_clean"]
    assert {row["tie"] for row in rows if row["model"] == "untied"} == {"00"}
    untied = {row["value"]: row["test_mse_clean"] for row in rows if row["model"] == "untied"}
    assert untied["784-400-20:01"] == untied[200]  # the same untied twin, whatever its tied model ties
    summary = summarize(rows)["tie"]
    assert [cell["value"] for cell in summary] == ["784-400-20:01", "784-400-20:11"]  # the axis's order


def test_the_classic_cell_is_plain_reconstruction_on_all_images_and_quotes_hinton_and_salakhutdinov():
    recipe = study.cell_recipe("classic", "784-1000-500-250-30", 1)
    assert recipe.sizes == (784, 1000, 500, 250, 30) and recipe.train_size == 60_000 and not recipe.denoise
    assert recipe.epochs == study.CLASSIC_EPOCHS and recipe.tie == "all" and recipe.seed == 1
    tie = study.cell_recipe("tie", "784-1000-500-250-20:0001", 0)
    assert tie.tie == "0001" and tie.train_size == 60_000 and tie.denoise and tie.tied_kwargs()["tie"] == "0001"
    cell = {
        "value": "784-1000-500-250-30",
        "seeds": [0, 1, 2],
        "test_mse_clean": {"tied": (0.0076, 0.0001), "untied": (0.0057, 0.0001)},
    }
    text = study.classic_comparison(cell)
    assert "0.0038 per pixel" in text and "tied 0.0076 (2.0× theirs)" in text and "untied 0.0057 (1.5×)" in text


def layer_values(chart, test) -> list[dict]:
    """The data rows of the first layer of a chart for which test(layer) holds (inline, or named in the spec)."""
    spec = chart.to_dict()
    data = next(layer.get("data", spec.get("data")) for layer in spec["layer"] if test(layer))
    return data["values"] if "values" in data else spec["datasets"][data["name"]]


def chart_points(chart) -> dict[tuple[str, str], float]:
    """{(setting, model): mean} as drawn by one study chart (its line layer's data)."""
    values = layer_values(chart, lambda layer: layer["mark"]["type"] == "line")
    return {(v["setting"], v["model"]): v["mean"] for v in values}


def test_the_apps_charts_and_caption_come_from_study_json(tmp_path):
    from space.study_charts import study_view

    path = tmp_path / "study.json"
    rows = fake_rows()
    path.write_text(json.dumps({"steps": 4740, "rows": rows}))
    metrics = {name: None for name in ("tied", "untied")}  # no shipped point to mark
    caption, charts = study_view(path, metrics)
    assert len(charts) == len(study.AXES)  # one chart per axis (those with no cells empty)
    assert caption.startswith(study.study_finding(rows))
    assert chart_points(charts[1])[("20", "tied AE")] == pytest.approx(0.011)

    # change the file: the caption and the chart change with it
    for row in rows:
        if row["model"] == "tied":
            row["test_mse_clean"] = 0.005
    path.write_text(json.dumps({"steps": 4740, "rows": rows}))
    new_caption, new_charts = study_view(path, metrics)
    assert new_caption != caption and "tied model in 1" in new_caption
    assert chart_points(new_charts[1])[("20", "tied AE")] == pytest.approx(0.005)
    _, noisy = study_view(path, metrics, "test_mse_gaussian_0.5")
    assert chart_points(noisy[1])[("20", "untied AE")] == pytest.approx(2 * statistics.mean([0.009, 0.0095, 0.0098]))


def test_the_shipped_models_are_marked_where_they_sit_on_the_study_axes(tmp_path):
    from space.models import load_bundled
    from space.study_charts import study_view

    loaded = load_bundled()
    rows = [{**row, "axis": "train_size", "value": size} for size in (10_000, study.SHIPPED["train_size"]) for row in fake_rows()]
    (tmp_path / "study.json").write_text(json.dumps({"steps": 4740, "rows": rows}))
    caption, charts = study_view(tmp_path / "study.json", loaded.metrics)
    tied_clean = loaded.metrics["tied"]["test"]["gaussian"][0]["mse"]
    diamond = lambda layer: layer["mark"].get("shape") == "diamond"  # noqa: E731
    marks = layer_values(charts[list(study.AXES).index("train_size")], diamond)
    assert {(m["setting"], m["model"]): m["mse"] for m in marks}[("60,000", "tied AE")] == tied_clean
    assert f"{loaded.metrics['tied']['recipe']['epochs']} epochs" in caption


def test_every_study_chart_labels_a_handful_of_ticks_across_its_data():
    from space.models import load_bundled
    from space.study_charts import study_view
    from tiedae.study import METRICS

    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / study.STUDY_FILE
    for metric in METRICS:
        drawn = 0
        for chart in study_view(shipped, load_bundled().metrics, metric)[1]:
            if chart is None:
                continue  # an axis with no cells yet: not drawn
            y = next(layer["encoding"]["y"] for layer in chart.to_dict()["layer"] if layer["mark"]["type"] == "line")
            if "domain" not in y["scale"]:
                continue  # an axis with no cells yet: nothing to label
            drawn += 1
            low, high = y["scale"]["domain"]
            ticks = y["axis"]["values"]
            assert len(ticks) >= 4 and low <= ticks[0] and ticks[-1] <= high, (metric, low, high, ticks)
        assert drawn >= 3


@pytest.mark.parametrize(
    "low, high",
    [(0.0072, 0.0308), (0.0042, 0.055), (0.0078, 0.0145), (0.0095, 0.0101), (0.001, 1.0), (1e-30, 1.0), (0.5, 0.50001)],
)
def test_log_ticks_are_few_round_and_inside_the_range(low, high):
    from tiedae.plots import log_ticks

    ticks = log_ticks(low, high)
    assert 4 <= len(ticks) <= 11 and ticks == sorted(set(ticks)), ticks
    assert all(low <= t <= high for t in ticks), ticks
    assert all(float(f"{t:.6g}") == t for t in ticks), ticks  # no 0.30000000000000004 on the axis
    if high / low < 2:  # within a decade: evenly spaced
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert max(gaps) - min(gaps) < 1e-9 * high, ticks
    else:  # across decades: a single digit times a power of ten
        assert all(f"{t:e}"[1:].startswith(".000000e") for t in ticks), ticks


@pytest.mark.parametrize(
    "content, message",
    [(None, "no study results"), ("{not json", "not a study file"), ('{"rows": [{"axis": "latent"}]}', "must be a list")],
)
def test_a_missing_or_damaged_study_file_is_named(tmp_path, content, message):
    from tiedae.study import StudyError, load_study

    path = tmp_path / "study.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(StudyError, match=message) as error:
        load_study(path)
    assert str(path) in str(error.value)


def test_the_caption_follows_the_metric_and_says_when_bars_hide_behind_their_marks(tmp_path):
    from space.study_charts import study_view

    path = tmp_path / "study.json"
    rows = fake_rows()
    path.write_text(json.dumps({"steps": 4740, "rows": rows}))
    metrics = {name: None for name in ("tied", "untied")}
    clean, _ = study_view(path, metrics)
    noisy, _ = study_view(path, metrics, "test_mse_gaussian_0.5")
    assert "clean test MSE" in clean and "σ = 0.5" not in clean
    assert "test MSE at Gaussian σ = 0.5" in noisy and "clean test MSE" not in noisy
    assert "bars are shorter than their marks" not in clean  # the fake spreads are 4-9% of their means: visible
    for row in rows:  # spreads of 0.1%: every bar hides behind its mark
        row["test_mse_clean"] = 0.01 + 1e-5 * row["seed"] + (0.001 if row["model"] == "tied" else 0)
    path.write_text(json.dumps({"steps": 4740, "rows": rows}))
    assert "2 of 2 bars are shorter than their marks" in study_view(path, metrics)[0]


def test_conv_rows_are_their_own_dashed_lines_on_the_training_size_chart(tmp_path):
    from space.study_charts import study_view

    rows = [
        {
            **row,
            "axis": "train_size",
            "value": 500,
            "arch": arch,
            "test_mse_clean": row["test_mse_clean"] / (2 if arch == "conv" else 1),
        }
        for row in fake_rows()
        for arch in ("mlp", "conv")
    ]
    path = tmp_path / "study.json"
    path.write_text(json.dumps({"steps": 4740, "rows": rows}))
    caption, charts = study_view(path, {name: None for name in ("tied", "untied")})
    points = chart_points(charts[0])
    assert points[("500", "tied AE")] == pytest.approx(0.011) and points[("500", "tied conv AE")] == pytest.approx(0.0055)
    assert charts[1] is None  # no latent rows of either kind: nothing drawn
    spec = charts[0].to_dict()
    assert any("strokeDash" in layer.get("encoding", {}) for layer in spec["layer"])
    assert caption.startswith("MLP pairs: ") and " conv pairs: " in caption and "Dashed: the conv pairs." in caption
    readme = study.readme_section(rows)
    assert "| training images (conv) |" in readme and "| training images |" in readme


def test_the_charts_declare_the_vega_lite_version_the_page_renders():
    from space.study_charts import study_view

    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / study.STUDY_FILE
    charts = [chart for chart in study_view(shipped, {name: None for name in ("tied", "untied")})[1] if chart is not None]
    assert len(charts) >= 4
    for chart in charts:
        assert chart.to_dict()["$schema"].endswith("/vega-lite/v5.json")  # Gradio's bundled renderer: no version warning


def numbers(rows: list[dict]) -> dict:
    """Each row's numbers by (family, axis, value, seed, model): what a rerun must give again."""
    return {
        (r["arch"], r["axis"], r["value"], r["seed"], r["model"]): (r["test_mse_clean"], r[study.NOISY_METRIC], r["command"])
        for r in rows
    }


def test_the_study_runs_cell_by_cell_and_a_killed_cell_reruns_to_the_same_rows(
    quick_study, mnist_root, tmp_path, capsys, monkeypatch
):
    _, whole = quick_study
    out = tmp_path / "by-cell"
    base = ["--quick", "--data-dir", str(mnist_root), "--out", str(out)]
    assert study.main([*base, "--list"]) == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    ids = [name for name, _ in listed]
    assert {f"{r['arch']}-{r['axis']}-{r['value']}-seed{r['seed']}" for r in whole} <= set(ids) and len(ids) == len(set(ids))
    assert {done for _, done in listed} == {"to do"}  # (cells of 400 images too: this MNIST has 200, a run skips them)
    first, second = "mlp-train_size-200-seed0", "conv-train_size-200-seed0"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the job was killed while the cell trained

    with monkeypatch.context() as m:
        m.setattr(study, "run_cell", killed)
        with pytest.raises(KeyboardInterrupt):
            study.main([*base, "--cell", first])
    assert not (out / study.CELLS_DIR / f"{first}.json").exists()

    assert study.main([*base, "--cell", first]) == 0 and study.main([*base, "--cell", second]) == 0
    assert {f.stem for f in (out / study.CELLS_DIR).glob("*.json")} == {first, second}
    rows = json.loads((out / study.STUDY_FILE).read_text())["rows"]
    assert numbers(rows) == {k: v for k, v in numbers(whole).items() if f"{k[0]}-{k[1]}-{k[2]}-seed{k[3]}" in (first, second)}
    capsys.readouterr()
    assert study.main([*base, "--cell", first]) == 0 and "already done" in capsys.readouterr().out  # not trained again
    assert study.main([*base, "--list"]) == 0
    status = dict(line.split("\t") for line in capsys.readouterr().out.strip().splitlines())
    assert status[first] == status[second] == "done" and list(status.values()).count("to do") == len(status) - 2

    def no_training(*args, **kwargs):
        raise AssertionError("--merge-only trained a cell")

    with monkeypatch.context() as m:
        m.setattr(study, "run_cell", no_training)
        (out / study.STUDY_FILE).unlink()  # the cells' own files are enough
        assert study.main([*base, "--merge-only"]) == 0
    merged = json.loads((out / study.STUDY_FILE).read_text())["rows"]
    assert numbers(merged) == numbers(rows) and (out / study.FIGURE_FILE).stat().st_size > 0
    assert study.main(base) == 0  # a plain run takes the cells in and trains the rest
    assert numbers(json.loads((out / study.STUDY_FILE).read_text())["rows"]) == numbers(whole)
    with pytest.raises(SystemExit):
        study.main([*base, "--cell", "mlp-latent-7-seed0"])


def test_cells_come_in_their_axis_order_whatever_order_they_finished_in():
    rows = [
        {**row, "axis": "train_size", "value": size}
        for size in (60_000, 500, 20_000)  # a cell run on its own finishes when it finishes
        for row in fake_rows()
    ]
    assert [cell["value"] for cell in summarize(rows)["train_size"]] == [500, 20_000, 60_000]


def test_the_dead_atoms_finding_names_the_k_where_tied_and_untied_differ_most():
    from tiedae.study import dead_atoms_finding

    def cell(k, tied, untied):
        return {"value": k, "dead_fraction": {"tied": (tied, 0.0), "untied": (untied, 0.0), "diff": (untied - tied, 0.0)}}

    summary = {"k": [cell(4, 0.70, 0.90), cell(16, 0.10, 0.85), cell(64, 0.12, 0.60)], "k_random": []}
    assert dead_atoms_finding(summary) == (
        "Dead atoms differ most at k = 16 (the untied twin started as W.t()): 10.0% of the tied model's, 85.0% of the untied one's."
    )
    assert dead_atoms_finding({"train_size": [{"value": 500}]}) == ""  # no dead atoms measured: nothing said


def test_the_page_shows_every_study_axis_once_a_few_a_row():
    from space.study_charts import chart_rows

    rows = chart_rows(AXES)
    shown = [axis for row in rows for axis in row]
    assert sorted(shown) == sorted(AXES) and len(shown) == len(set(shown))
    assert all(1 <= len(row) <= 3 for row in rows)
    assert chart_rows(["k", "latent", "new_a", "new_b", "new_c", "new_d"]) == [
        ("latent",),
        ("k",),
        ("new_a", "new_b", "new_c"),
        ("new_d",),
    ]  # an axis the page does not know yet still gets a place
