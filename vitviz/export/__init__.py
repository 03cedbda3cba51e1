"""Figures, animations and batch runs without a window (matplotlib, no Qt).

Modules, one idea each, imported by name (this package imports nothing, so that
``import vitviz.export.styles`` stays cheap):

- ``styles``: the slide-ready matplotlib style, deterministic saving, map styles.
- ``titles``: the titles that say model, layer, head, query and class.
- ``pictures``: maps → RGB pictures through :mod:`vitviz.compute.render` (the renderer the
  GUI uses), overlaid on the original image or in the ViT paper's blurred-mask style.
- ``figures``: builders returning matplotlib Figures for one map, the heads × layers grid
  and the mean-attention-distance plot; the GUI's figure export calls these.
- ``animation``: GIF (Pillow) and MP4 (ffmpeg, where installed) stepping through layers.
- ``batch``: batched preprocessing, inference, analysis and export over many images, with
  a progress bar, skipping unreadable images and collecting what failed.
"""
