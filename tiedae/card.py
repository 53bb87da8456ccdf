"""The model card template (Jinja), the one way a checkpoint's README.md is written.

`Autoencoder.save_pretrained` renders it through the Hub mixin. With no more than the model it
says what the model is and how to load it; `tiedae.publish` passes the training recipe, the
test results and the twin's name (as `model_card_kwargs`) for the full card of a shipped checkpoint.
"""

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ repo_id.split("/")[-1] if repo_id else "tiedae autoencoder" }}: {{ "tied" if model.tied else "untied" }}-weight MNIST autoencoder

{{ about }}
{%- if twin_id %} Its twin with {{ "independent" if model.tied else "tied" }} decoder weights is
[{{ twin_id }}](https://huggingface.co/{{ twin_id }}); both were trained with the same data, data order,
seed, optimizer, schedule and epochs.{% endif %}

{% if tie -%}
{{ tie }}
{%- if partly %}

{{ partly }}
{%- endif %}
{%- else -%}
Every decoder layer has its own weight (the same shapes as the tied twin's decoder, but independent
parameters). It is the control for the tied model.
{%- if model.decoder_init is defined %} Its decoder weight started as {{ "the encoder's transpose W.t() (what sparse
autoencoder libraries do), then trained on its own" if model.decoder_init == "transpose" else "its own random init" }}.{% endif %}
{%- endif %}
{%- if note %}

{{ note }}
{%- endif %}

**Parameters:** {{ "{:,}".format(parameters) }}{% if twin_parameters %} ({{ twin_name }}: {{ "{:,}".format(twin_parameters) }}){% endif %}.

## Load it

```python
import torch
from tiedae import {{ class_name }}

model = {{ class_name }}.from_pretrained("{{ repo_id or "path/to/checkpoint" }}")  # strict load, eval mode
x = torch.rand(1, 1, 28, 28)        # MNIST-like images in [0, 1], white digit on black (or (1, 784))
reconstruction = model(x)           # same shape as x
code = model.encode(x)              # (1, {{ model.latent_size }})
```

{% if model.latent_size == 2 -%}
With a 2-D code this model's code space can be drawn: `latent_map.npz` beside the weights holds its
codes of the {{ "{:,}".format(test_size) if test_size else "" }} MNIST test digits (`codes`, float32 (N, 2)) and their labels (`labels`, uint8),
the map the tiedae Space shows, where a click decodes any point:

```python
import numpy as np
from huggingface_hub import hf_hub_download

saved = np.load(hf_hub_download("{{ repo_id or "path/to/checkpoint" }}", "latent_map.npz"))
codes, labels = saved["codes"], saved["labels"]
image = model.decode(torch.tensor([[1.0, -2.0]])).reshape(28, 28)  # the decoder at one point of the map
```

{% endif -%}
The `tiedae` package is the `tiedae/` folder of the project (the source of the tiedae Space); it needs
torch and huggingface_hub.
{% if recipe %}
## Training

- Data: {% if all_of_mnist %}**all 60,000 MNIST training images** (`torchvision.datasets.MNIST`, `train=True`){% else %}MNIST training images, **the first {{ "{:,}".format(train_size) }} of the 60,000** (`torchvision.datasets.MNIST`,
  `train=True`, indices 0–{{ train_size - 1 }}){% endif %}; no validation split was used for any choice.
- Objective: {% if recipe.denoise %}denoising: input corrupted with {{ recipe.noise_kind }} noise, level drawn per sample
  from U[0, {{ recipe.noise_max }}]{% if recipe.clean_fraction %} ({{ "%.0f" | format(100 * recipe.clean_fraction) }}% of images shown clean){% endif %}, target the clean image{% else %}plain reconstruction (clean input, clean target){% endif %};
  {{ loss_name }} loss.{% if recipe.distort %} Each training image first goes through its own random small affine map
  ({{ recipe.distortion() }}), input and target alike.{% endif %}
- Optimizer: Adam, peak learning rate {{ recipe.lr }}, one-cycle schedule, batch size {{ recipe.batch_size }},
  {{ recipe.epochs }} epochs ({{ "{:,}".format(steps) }} optimizer steps per model), seed {{ recipe.seed }}; {{ precision_name }}, on {{ device }}.
- Wall time: {{ "%.0f" | format(seconds) }} s ({{ "%.1f" | format(seconds / 60) }} min) of training for both models at once{% if seed_seconds %}; seeds {{ seeds | join(", ") }}: {{ seed_seconds | map("round") | map("int") | join(" s, ") }} s{% endif %}.
- Command: `{{ command }}`
{% endif %}
{%- if table %}
## Evaluation

On the full MNIST **test** set ({{ "{:,}".format(test_size) }} images). Noise is added to the test images (then clamped
to [0, 1]) with a fixed seed, the same for every model; MSE is against the clean image, averaged over
pixels and images, PSNR is the mean of per-image PSNR (peak 1). PCA is the best linear code of the same
size ({{ model.pca_size }}-D), fit on the same training images.

| noise | level | this model | {{ twin_name }} | PCA | noisy input |
|---|---|---|---|---|---|
{% for row in table -%}
| {{ row.kind }} | {{ "%.1f" | format(row.level) }} | {{ "%.5f" | format(row.mse) }} | {{ "%.5f" | format(row.twin) }} | {{ "%.5f" | format(row.pca) }} | {{ "%.5f" | format(row.noisy_input) }} |
{% endfor %}
![noise sweep]({{ sweep_file }})

Reconstructions of digits drawn with pen strokes (not MNIST images): clean, noisy (Gaussian σ =
{{ grid_sigma }}), reconstructed.

![reconstructions]({{ grid_file }})

`metrics.json` holds every number above, PSNR too, and the recipe.
{% endif %}
{%- if code and code.dead_atoms is defined %}
### Atoms

On the same test images, at k = {{ code.k }}: **{{ code.dead_atoms }} of {{ "{:,}".format(code.atoms) }} atoms are dead
({{ "%.1f" | format(100 * code.dead_fraction) }}%)**: no test image's code uses them. A living atom fires for a median
{{ "%.2f" | format(100 * code.firing_median) }}% of the test images; the busiest for {{ "%.1f" | format(100 * code.firing_max) }}%.
{%- if code_seeds %} Over seeds {{ seeds | join(", ") }}: {{ "%.1f" | format(100 * code_seeds.dead_fraction[0]) }}% ± {{ "%.1f" | format(100 * code_seeds.dead_fraction[1]) }}% dead.{% endif %}
`atoms.npz` beside the weights holds, for every atom, how often it fires, the indices of the 9 test images
that activate it most and a histogram of its activations.
{% endif %}
{%- if seeds_table %}
### Over seeds

The same recipe run with seeds {{ seeds | join(", ") }} (this checkpoint is seed {{ recipe.seed }}): test MSE, mean ± std.

| Gaussian σ | tied | untied |
|---|---|---|
{% for row in seeds_table -%}
| {{ "%.1f" | format(row.level) }} | {{ "%.5f" | format(row.tied[0]) }} ± {{ "%.5f" | format(row.tied[1]) }} | {{ "%.5f" | format(row.untied[0]) }} ± {{ "%.5f" | format(row.untied[1]) }} |
{% endfor %}
{%- endif %}
{%- if references %}
### References

Clean test MSE per pixel, to set the numbers above beside the classic ones:

| reference | clean test MSE |
|---|---|
{% for row in references -%}
| {{ row.label }} | {{ "%.5f" | format(row.mse) }} |
{% endfor %}
Hinton & Salakhutdinov pretrained their autoencoder layer by layer as RBMs, started its decoder as the
transpose of the encoder, then fine-tuned it untied on all 60,000 images, without noise.
{% endif %}
{%- if study %}
## What does tying cost?

The project's study trains tied/untied pairs across training-set size, latent size and depth, with
several seeds each; [the Space]({{ study.url }}) shows it as interactive charts, and its README as a table.

{{ study.finding }}
{% if study.cell and at_study_setting %}
At this model's setting the study's pairs ({{ "{:,}".format(study.steps) if study.steps else "?" }} optimizer steps per model, seeds
{{ study.seeds | join(", ") }}; this checkpoint trained {{ "{:,}".format(steps) }}) measured, mean ± std:

| test MSE | tied | untied | untied − tied (paired) |
|---|---|---|---|
{% for label, stats in study.cell.items() -%}
| {{ label }} | {{ "%.5f" | format(stats.tied[0]) }} ± {{ "%.5f" | format(stats.tied[1]) }} | {{ "%.5f" | format(stats.untied[0]) }} ± {{ "%.5f" | format(stats.untied[1]) }} | {{ "%+.5f" | format(stats.diff[0]) }} ± {{ "%.5f" | format(stats.diff[1]) }} |
{% endfor %}
{% endif %}
![the study: tied vs untied across data size, latent size and depth]({{ study.figure_url }})
{% endif %}"""
