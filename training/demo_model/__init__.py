"""Training of the bundled demo ViT: ``python -m training.demo_model``.

``train`` (the recipe, the model card writer), ``initialization`` (the structured start)
and ``quality`` (the quality bars, measured with the app's own analysis). The weights
and the model card it writes live in ``resources/models/``; the images come from
:mod:`vitviz.demo` (the sample generator the app ships).
"""
