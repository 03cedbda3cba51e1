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
- ``request``: what to export, checked against the model before any work.
- ``reading``: images read and prepared a batch at a time (progress bar), unreadable ones
  reported and skipped; the report of what failed.
- ``batch``: batched inference, analysis and export of the figures of a request.
- ``predict``: batched top-k classes (``vitviz predict``).
"""
