"""Figures, animations, talk decks and batch runs without a window (matplotlib, no Qt).

Modules, one idea each, imported by name (this package imports nothing, so that
``import vitviz.export.styles`` stays cheap): ``styles`` (slide look, formats, map
styles), ``titles``, ``tokens`` (query tokens as text), ``pictures`` (a map drawn on its
image in axes), ``figures`` and ``map_figures`` (finished figures), ``saving``,
``animation`` (GIF / MP4 through matplotlib's writers), ``deck`` (the multi-page PDF),
``request`` (what to export, checked first), ``reading`` (images a batch at a time, the
report of failures), ``batch`` (the export loop) and ``predict`` (``vitviz predict``).
"""
