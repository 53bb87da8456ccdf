"""The Space's sections, one module each, as plain functions app.py wires to the page.

side_by_side, noise_sweep, study_charts, live_training, latent_maps, interpolation, arithmetic and weights are
the page's sections; models loads what they show, inputs turns drawings into digits, pictures hands images to the
page, errors words a refusal. The pad's and the upload's HTML, JavaScript and CSS, and the page's CSS, are the
.html, .js and .css files beside them. Nothing here is part of the pip package: it needs Gradio.
"""
