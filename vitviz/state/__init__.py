"""Qt-free, evented application state (psygnal).

Panels listen to the fields they show and write user input back here; they never talk to
one another. The controller turns state changes into compute requests and stores the
results here. Nothing in this package imports Qt.
"""

from vitviz.state.app_state import AppState
from vitviz.state.events import held_events
from vitviz.state.inputs import Inputs, LoadedImage
from vitviz.state.results import LoadedModel, Results
from vitviz.state.selection import Selection
from vitviz.state.view import RolloutOptions, ViewOptions

__all__ = [
    "AppState",
    "Inputs",
    "LoadedImage",
    "LoadedModel",
    "Results",
    "RolloutOptions",
    "Selection",
    "ViewOptions",
    "held_events",
]
