"""Pure analysis functions on tensors and arrays: no Qt, no application state.

Modules, one idea each, imported by name (this package imports nothing, so that
``import vitviz.compute.render`` does not pull in torch):

- ``images``: open a path, bytes or PIL image and convert it to RGB, or refuse it with
  :class:`vitviz.errors.ImageLoadError`.
- ``preprocess``: image → normalised model input per the checkpoint's spec (crop, whole
  image, native aspect), with the geometry that maps it back.
- ``geometry``: :class:`~vitviz.compute.geometry.PatchGrid`, which token covers which
  pixels of the original image.
- ``render``: maps → RGBA through matplotlib colormap lookup tables, upsampling, overlays,
  the ViT paper's blurred alpha mask.

The attention maths (maps, rollout, class-specific maps, statistics) lives in sibling
modules of this package; ``analysis`` bundles what the GUI's worker derives from one
forward pass, with the cheap per-query reads the panels make.
"""
