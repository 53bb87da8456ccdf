"""Figures: the noise sweep, reconstruction grids and first-layer weight tiles.

Shared by publishing (files beside the checkpoints) and the app (arrays on the page);
matplotlib and torchvision are imported only when a figure is drawn (the app's cold start).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from tiedae.constants import MODEL_NAMES
from tiedae.drawing import draw_digit
from tiedae.families import FAMILIES, FIRST_FAMILY
from tiedae.images import to_uint8
from tiedae.model import Autoencoder
from tiedae.noise import NOISE_KINDS, add_noise
from tiedae.preprocess import sketch_to_mnist

RENDERER_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # the Vega-Lite major version Gradio's page renders
GRID_NOISE = ("gaussian", 0.3)  # the noise shown in reconstruction grids
KIND_LABELS = {"gaussian": "Gaussian σ", "salt_pepper": "salt & pepper fraction", "uniform": "uniform level"}
STYLES = {
    "tied": dict(color="#d62728", marker="o"),
    "untied": dict(color="#1f77b4", marker="s"),
    "pca": dict(color="#7f7f7f", marker="^", linestyle="--"),
    "noisy_input": dict(color="#bbbbbb", marker=".", linestyle=":"),
}
LABELS = {"tied": "tied AE", "untied": "untied AE", "pca": "PCA (same latent size)", "noisy_input": "noisy input"}


def drawn_digits() -> torch.Tensor:
    """The ten stroke-drawn example digits, preprocessed: (10, 1, 28, 28)."""
    return torch.stack([torch.from_numpy(sketch_to_mnist(draw_digit(d))) for d in range(10)]).unsqueeze(1)


@torch.inference_mode()
def save_reconstruction_grid(model: Autoencoder, path: Path) -> None:
    """Rows: clean drawn digits, noisy copies, reconstructions (upscaled ×4, nearest)."""
    from torchvision.utils import make_grid, save_image

    clean = drawn_digits()
    noisy = add_noise(clean, *GRID_NOISE, seed=0)
    rows = torch.cat([clean, noisy, model.eval()(noisy)])  # (30, 1, 28, 28)
    grid = make_grid(rows, nrow=10, padding=2, pad_value=0.5)
    grid = torch.nn.functional.interpolate(grid[None], scale_factor=4, mode="nearest")[0]
    save_image(grid, path)


def weight_tiles(weight: torch.Tensor, *, count: int | None = 64, columns: int = 8, scale: int = 2) -> np.ndarray:
    """The first `count` rows (None: all) of a (hidden, 784) weight as 28×28 tiles in a grid, uint8 RGB.

    Each tile is scaled symmetrically around zero: grey is 0, dark negative, light positive. A conv
    layer's (out, 1, k, k) kernels are tiled the same way, each k×k.
    """
    from torchvision.utils import make_grid

    tiles = weight.detach().float()[:count]
    if tiles.dim() == 2:
        tiles = tiles.reshape(-1, 1, 28, 28)  # (count, 784) -> (count, 1, 28, 28)
    peak = tiles.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    grid = make_grid(0.5 + 0.5 * tiles / peak, nrow=columns, padding=1, pad_value=1.0)  # (3, H, W)
    grid = grid.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return to_uint8(grid.permute(1, 2, 0))  # (3, H, W) -> (H, W, 3)


def sweep_figure(results: dict[str, dict], *, highlight: str | None = None):
    """A matplotlib figure of test MSE vs noise level, one panel per noise kind, for every entry in results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in NOISE_KINDS if any(k in r for r in results.values())]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), squeeze=False, layout="constrained")
    for ax, kind in zip(axes[0], kinds):
        for name, result in results.items():
            rows = [r for r in result.get(kind, []) if r["mse"] > 0]  # log axis: the clean input's 0 has no place
            ax.plot(
                [r["level"] for r in rows],
                [r["mse"] for r in rows],
                label=LABELS.get(name, name),
                linewidth=2.5 if name == highlight else 1.5,
                **STYLES.get(name, {}),
            )
        log_panel(ax, KIND_LABELS.get(kind, kind), "test MSE")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("MNIST test set: reconstruction error vs input noise")
    return fig


def log_panel(ax, xlabel: str, ylabel: str) -> None:
    """The look of every panel here: labels, a log error axis, a light grid."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)


def save_sweep_plot(results: dict[str, dict], path: Path, *, highlight: str | None = None) -> None:
    """The sweep figure as a PNG file."""
    import matplotlib.pyplot as plt

    fig = sweep_figure(results, highlight=highlight)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def sweep_image(results: dict[str, dict]) -> np.ndarray:
    """The sweep figure rendered to an RGB array (H, W, 3)."""
    import matplotlib.pyplot as plt

    fig = sweep_figure(results)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # (H, W, 4) -> (H, W, 3)
    plt.close(fig)
    return image


def log_ticks(low: float, high: float) -> list[float]:
    """4 to 11 round ticks for a log axis over [low, high]: 1-2-5 or every digit per decade, else evenly spaced."""
    assert 0 < low < high, f"a log axis needs 0 < low < high, got {low}, {high}"
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in ((1, 2, 5), range(1, 10), (1, 3), (1,)):
        ticks = [float(f"{m * 10.0**e:.6g}") for e in decades for m in mantissas if low <= m * 10.0**e <= high]
        if 4 <= len(ticks) <= 8:
            return ticks
    if high / low > 10:  # many decades: every k-th power of ten
        powers = [10.0**e for e in decades if low <= 10.0**e <= high]
        return powers[:: -(-len(powers) // 8)]
    # too narrow for those: the largest round step (1, 2 or 5 times a power of ten) giving four or more ticks
    raw = (high - low) / 4
    power = 10.0 ** np.floor(np.log10(raw))
    step = max(m * power for m in (1, 2, 5) if m * power <= raw)
    first = np.ceil(low / step) * step
    return [float(f"{v:.6g}") for v in np.arange(first, high + step / 1e6, step)]


def family_colors(archs: list[str]) -> tuple[list[str], list[str]]:
    """The chart legend's models of these families (tied, untied each) and their colours."""
    names, colors = [], []
    for arch in archs:
        names += FAMILIES[arch].chart_labels().values()
        colors += FAMILIES[arch].colors
    return names, colors


def study_chart(
    summaries: dict[str, dict[str, list[dict]]],
    axis: str,
    *,
    metric: str = "test_mse_clean",
    shipped: dict | None = None,
    yours: dict | None = None,
):
    """An interactive Altair chart of one study axis: both models' mean ± std over seeds, the shipped models marked.

    `summaries` is {family: its study summary}; each family with cells on this axis adds its two lines, in its
    colours and dash. `shipped` is {"tied": mse, "untied": mse, "label": str}: the shipped checkpoints of the first
    family, drawn as diamonds at the shipped setting (784-400-20, 10,000 images). `yours` is
    {"value", "arch", "tied", "untied", "label"}: a live run's test MSE, drawn as crosses at that setting.
    """
    import altair as alt

    from tiedae.study import AXES, CHART_METRICS, METRICS, SHIPPED, value_label

    by_arch = [(arch, summary.get(axis, [])) for arch, summary in summaries.items()]
    name_of = {cell["value"]: value_label(cell["value"]) for _, cells in by_arch for cell in cells}
    order = list(name_of.values())
    records = []
    for arch, cells in by_arch:
        labels = FAMILIES[arch].chart_labels()
        for cell in cells:
            diff, diff_std = cell[metric]["diff"]
            for name in MODEL_NAMES:
                mean, std = cell[metric][name]
                records.append(
                    {
                        "setting": name_of[cell["value"]],
                        "model": labels[name],
                        "pair": FAMILIES[arch].label,
                        "mean": mean,
                        "low": mean - std,
                        "high": mean + std,
                        "mean ± std": f"{mean:.5f} ± {std:.5f}",
                        "untied − tied": f"{diff:+.5f} ± {diff_std:.5f}",
                        "seeds": len(cell["seeds"]),
                        "parameters": f"{cell['parameters'][name]:,}",
                    }
                )
    shown = [arch for arch, cells in by_arch if cells or arch == FIRST_FAMILY]
    shown_models, shown_colors = family_colors(shown)
    colors = alt.Scale(domain=shown_models, range=shown_colors)
    x = alt.X("setting:O", sort=order, title=AXES[axis][0], axis=alt.Axis(labelAngle=-20))
    marks = []
    if shipped is not None and SHIPPED.get(axis) in name_of:
        marks = [
            {"setting": name_of[SHIPPED[axis]], "model": LABELS[name], "mse": shipped[name], "shipped": shipped["label"]}
            for name in MODEL_NAMES
            if shipped.get(name) is not None
        ]
    crosses = []
    if yours is not None and value_label(yours["value"]) in order:
        names = FAMILIES[yours["arch"]].chart_labels()
        crosses = [
            {"setting": value_label(yours["value"]), "model": names[name], "mse": yours[name], "run": yours["label"]}
            for name in MODEL_NAMES
        ]
    seen = [r["low"] for r in records] + [r["high"] for r in records] + [m["mse"] for m in marks + crosses]
    if metric in METRICS:  # errors: a log scale
        domain = [min(seen) / 1.1, max(seen) * 1.1] if seen else None
        y_scale = alt.Scale(type="log", nice=False, domain=domain or alt.Undefined)
        # ticks chosen here: over less than a decade Vega's log axis labels some of its ticks and not others
        y_axis = alt.Axis(values=log_ticks(*domain) if domain else alt.Undefined, format="~g")
    else:  # a share, 0 to 1
        y_scale, y_axis = alt.Scale(domain=[0, 1]), alt.Axis(format="~%")
    y = alt.Y("mean:Q", scale=y_scale, axis=y_axis, title=f"{CHART_METRICS[metric]} (mean ± std)")
    legend = alt.Legend(orient="top", title=None)
    pairs = [FAMILIES[arch].label for arch in summaries]
    dashes = alt.StrokeDash(
        "pair:N", scale=alt.Scale(domain=pairs, range=[list(FAMILIES[arch].dash) for arch in summaries]), legend=None
    )
    base = alt.Chart(alt.Data(values=records)).encode(
        x=x, color=alt.Color("model:N", scale=colors, legend=legend), strokeDash=dashes
    )
    tooltip = ["model:N", "setting:O", "mean ± std:N", "untied − tied:N", "seeds:Q", "parameters:N"]
    lines = base.mark_line(point=True).encode(y=y, tooltip=tooltip)
    bars = base.mark_rule(strokeWidth=2).encode(y=alt.Y("low:Q", scale=y_scale, axis=y_axis), y2="high:Q", tooltip=tooltip)
    layers = [bars, lines]
    if marks:
        layers.append(
            alt.Chart(alt.Data(values=marks))
            .mark_point(shape="diamond", size=160, filled=False, strokeWidth=2)
            .encode(
                x=x,
                y=alt.Y("mse:Q", scale=y_scale, axis=y_axis),
                color=alt.Color("model:N", scale=colors, legend=legend),
                tooltip=["model:N", "shipped:N", alt.Tooltip("mse:Q", format=".5f")],
            )
        )
    if crosses:
        layers.append(
            alt.Chart(alt.Data(values=crosses))
            .mark_point(shape="cross", size=180, filled=True)
            .encode(
                x=x,
                y=alt.Y("mse:Q", scale=y_scale, axis=y_axis),
                color=alt.Color("model:N", scale=colors, legend=legend),
                tooltip=["model:N", "run:N", alt.Tooltip("mse:Q", format=".5f")],
            )
        )
    # as wide as its column, on a phone too; the size includes the axes, legend and Vega's 5-px padding
    fit = alt.AutoSizeParams(type="fit", contains="padding")
    # declared as Vega-Lite 5: Gradio's page renders charts with its bundled Vega-Lite 5, which warns in the console
    # for every spec that names v6 (altair 6's default); the charts use nothing v5 lacks
    return alt.layer(*layers).properties(width="container", height=320, autosize=fit, **{"$schema": RENDERER_SCHEMA})


def training_curves(curve: dict[str, list[float]], epochs: int, *, arch: str = FIRST_FAMILY):
    """An Altair chart of a live run: both models' test MSE after each epoch, the x axis all the run's epochs."""
    import altair as alt

    names = FAMILIES[arch].chart_labels()
    records = [
        {"epoch": epoch, "model": names[name], "test MSE": value}
        for name, values in curve.items()
        for epoch, value in enumerate(values, start=1)
    ]
    shown, shown_colors = family_colors([arch])
    colors = alt.Scale(domain=shown, range=shown_colors)
    values = [r["test MSE"] for r in records]
    domain = [min(values) / 1.1, max(values) * 1.1] if values else [0.01, 0.1]
    y_axis = alt.Axis(values=log_ticks(*domain), format="~g")
    ticks = list(range(1, max(2, epochs) + 1, max(1, math.ceil(epochs / 10))))  # whole epochs, at most about ten
    chart = (
        alt.Chart(alt.Data(values=records))
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "epoch:Q", scale=alt.Scale(domain=[1, max(2, epochs)]), axis=alt.Axis(values=ticks, format="d"), title="epoch"
            ),
            y=alt.Y("test MSE:Q", scale=alt.Scale(type="log", nice=False, domain=domain), axis=y_axis, title="test MSE"),
            color=alt.Color("model:N", scale=colors, legend=alt.Legend(orient="top", title=None)),
            tooltip=["model:N", "epoch:Q", alt.Tooltip("test MSE:Q", format=".5f")],
        )
    )
    fit = alt.AutoSizeParams(type="fit", contains="padding")
    return chart.properties(width="container", height=260, autosize=fit, **{"$schema": RENDERER_SCHEMA})
