"""Figures, animations and batch runs without a window (matplotlib, no Qt).

Modules, one idea each, imported by name (this package imports nothing, so that
``import vitviz.export.styles`` stays cheap):

- ``styles``: the slide-ready matplotlib style, figure formats, map styles.
- ``titles``: the titles that say model, map, query, layer, head and class.
- ``tokens``: query tokens named as text (``cls``, ``reg2``, ``3,7``) and their labels.
- ``pictures``: maps → RGB pictures through :mod:`vitviz.compute.render` (the renderer the
  GUI uses), overlaid on the original image or in the ViT paper's blurred-mask style.
- ``figures``: builders returning matplotlib Figures for one picture, a grid of
  pictures and the mean-attention-distance plot.
- ``map_figures``: maps → finished figures in one call (what the GUI's export calls).
- ``saving``: deterministic PNG / SVG / PDF, with a fast raster path for pictures.
- ``animation``: GIF (Pillow) and MP4 (ffmpeg, where installed) stepping through layers.
- ``batch``: batched preprocessing, inference, analysis and export over many images, with
  a progress bar, skipping unreadable images and collecting what failed.
"""
