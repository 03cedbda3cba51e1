"""vitviz: see inside Vision Transformers.

Importing this package is cheap: it loads neither torch nor Qt. The layers live in
sub-packages (``vitviz.vit``, ``vitviz.compute``, ``vitviz.state``, ``vitviz.qt``, ...).
"""

from vitviz.errors import (
    AnalysisError,
    ImageLoadError,
    ModelLoadError,
    UnsupportedModelError,
    VitvizError,
)

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "ImageLoadError",
    "ModelLoadError",
    "UnsupportedModelError",
    "VitvizError",
    "__version__",
]
