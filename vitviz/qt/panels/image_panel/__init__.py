"""The image panel: the picture, the patch grid, the query and a map laid over it.

The whole original image is drawn, with the region the model sees (the crop) left bright
and the rest dimmed; the patch grid and the map are placed through the result's
:class:`~vitviz.compute.geometry.PatchGrid`, so they sit on the original pixels whatever
the resize and crop. Prefix tokens (CLS, DIST, REG0…) are chips beside the image.
Hovering shows the patch under the pointer, a click makes it the query, arrow keys move
the query, and the map chosen in ``state.view.overlay`` (:mod:`vitviz.qt.overlay`) is
drawn with the chosen colormap and opacity.

Modules: ``chips`` (prefix-token buttons) and ``panel`` (the widget, drawing through the
shared :class:`~vitviz.qt.widgets.map_view.MapView`).
"""

from vitviz.qt.panels.image_panel.panel import ImagePanel

__all__ = ["ImagePanel"]
