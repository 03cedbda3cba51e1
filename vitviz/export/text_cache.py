"""An Agg canvas that remembers text layouts, sizes and glyph bitmaps between draws.

Titles and colour-bar labels are most of the cost of drawing an exported figure, and
shaping a string in FreeType costs about as much as drawing it. Figures reused for many
pictures draw the same strings, and the same glyphs, again and again; this renderer keeps
what matplotlib's Agg renderer computes for them:

- the size of a string (matplotlib asks for it several times per draw, for layout),
- the glyph layout of a string (font, glyph and offset of every character),
- the bitmap of a glyph at a given sub-pixel position (FreeType places glyphs in 1/64
  pixel steps, so a glyph moved by whole pixels has the same bitmap, moved).

The pixels are exactly those of matplotlib's renderer. Glyph layouts and bitmaps are
kept where matplotlib draws text glyph by glyph (3.11 and later); with older versions
only sizes are kept. Sizes (plain numbers) are shared by all renderers, so a title
measured before it is drawn (``figures.fitted_font_size``) is laid out once; layouts and
bitmaps hold FreeType fonts, which are not shared between threads, so each renderer keeps
its own. The number of entries is bounded.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import (
    FigureCanvasAgg,
    RendererAgg,
    get_hinting_flag,
)
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

# Bounds on the kept entries; a batch draws far fewer distinct strings and glyphs.
MAX_STRINGS = 4096
MAX_GLYPHS = 65536

# matplotlib 3.11's text drawing (shaped layouts, glyphs drawn one by one), which the
# layout and glyph caches reproduce; with other versions only sizes are kept.
_GLYPH_BY_GLYPH = (
    hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
    and hasattr(FT2Font, "_layout")
    and hasattr(FT2Font, "_render_glyph")
    and hasattr(Text, "get_fontfeatures")
)
_SIZES: dict = {}  # (string, font, dpi, hinting) -> (width, height, descent)


def _remember(cache: dict, key, value, limit: int):
    if len(cache) >= limit:
        cache.clear()  # simpler than LRU; a batch never gets here
    cache[key] = value
    return value


class TextCachingRenderer(RendererAgg):
    """matplotlib's Agg renderer, with string sizes, layouts and glyph bitmaps kept."""

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._layouts: dict = {}
        self._glyphs: dict = {}

    def get_text_width_height_descent(self, s, prop, ismath):
        # docstring inherited
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, hash(prop), self.dpi, get_hinting_flag())
        found = _SIZES.get(key)
        if found is None:
            found = super().get_text_width_height_descent(s, prop, ismath)
            _remember(_SIZES, key, found, MAX_STRINGS)
        return found

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        # docstring inherited
        if ismath or not _GLYPH_BY_GLYPH:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        flags = get_hinting_flag()
        key = (s, hash(prop), self.dpi, flags, tuple(features or ()), language)
        items = self._layouts.get(key)
        if items is None:
            font = self._prepare_font(prop)
            laid_out = font._layout(s, flags=flags, features=features, language=language)
            items = [(item.ft_object, item.glyph_index, item.x, item.y) for item in laid_out]
            _remember(self._layouts, key, items, MAX_STRINGS)
        size = prop.get_size_in_points()
        glyphs = ((font, size, index, 0, 1, dx, dy) for font, index, dx, dy in items)
        self._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, [])
        return None

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        # matplotlib's drawing of a string's glyphs (backend_agg), with bitmaps kept.
        if boxes:  # mathtext's rules: rare, left to matplotlib
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        cos = math.cos(math.radians(angle))
        sin = math.sin(math.radians(angle))
        antialiased = gc.get_antialiased()
        flags = get_hinting_flag()
        for font, size, index, slant, extend, dx, dy in glyphs:  # dy is upwards
            # FreeType's pen position in 1/64 pixels; y upwards.
            pen_x = round(0x40 * (x + dx * cos - dy * sin))
            pen_y = round(0x40 * (self.height - y + dx * sin + dy * cos))
            key = (font.fname, size, self.dpi, index, slant, extend, angle, antialiased, flags)
            key += (pen_x & 0x3F, pen_y & 0x3F)
            glyph = self._glyphs.get(key)
            if glyph is None:
                glyph = self._render_glyph(font, size, index, (slant, extend, cos, sin), key)
                _remember(self._glyphs, key, glyph, MAX_GLYPHS)
            buffer, left, top = glyph
            left, top = left + (pen_x >> 6), top + (pen_y >> 6)
            # draw_text_image's y is downwards and at the bitmap's bottom side.
            self._renderer.draw_text_image(
                buffer, left, int(self.height) - top + buffer.shape[0], 0, gc
            )
        return None

    def _render_glyph(self, font, size, index, shape, key) -> tuple[np.ndarray, int, int]:
        """``(bitmap, left, top)`` of a glyph with its pen at the fraction of a pixel in ``key``.

        ``shape`` is ``(slant, extend, cos, sin)`` of the glyph and the text's angle.
        """
        from matplotlib.ft2font import RenderMode  # matplotlib >= 3.10, like glyph drawing

        slant, extend, cos, sin = shape
        antialiased, flags, fraction = key[7], key[8], key[-2:]
        font.set_size(size, self.dpi)
        transform = np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]]
        font._set_transform((0x10000 * transform).round().astype(int), list(fraction))
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        bitmap = font._render_glyph(index, flags, mode)
        buffer = np.array(bitmap.buffer)  # a copy: FreeType reuses its glyph slot
        if not antialiased:
            buffer *= 0xFF
        return buffer, bitmap.left, bitmap.top


class TextCachingCanvas(FigureCanvasAgg):
    """An Agg canvas that draws with a :class:`TextCachingRenderer`."""

    def get_renderer(self):
        # docstring inherited
        renderer = super().get_renderer()
        if not isinstance(renderer, TextCachingRenderer):
            # The size or resolution changed: matplotlib made a plain renderer; replace it.
            self.renderer = TextCachingRenderer(renderer.width, renderer.height, renderer.dpi)
        return self.renderer
