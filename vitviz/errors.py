"""Error types with messages a user can act on.

Every failure caused by user input (a file, a model name, an image) is raised as one of
these, never as a bare ``KeyError`` or an unpickling traceback. The message is written for
the person in front of the app: what went wrong and what to do about it.
"""


class VitvizError(Exception):
    """Base class of every error vitviz raises on purpose."""


class ModelLoadError(VitvizError):
    """A model or checkpoint could not be loaded; nothing was half-loaded."""


class UnsupportedModelError(ModelLoadError):
    """The architecture exists but vitviz cannot represent it (e.g. hybrid CNN stems)."""


class ImageLoadError(VitvizError):
    """An image could not be read or converted to RGB."""


class AnalysisError(VitvizError):
    """An analysis was asked for something the model or map cannot give."""
