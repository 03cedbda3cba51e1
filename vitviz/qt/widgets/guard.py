"""Turn a vitviz error raised while a panel renders into a message in that panel.

A selection that a result cannot serve (a token index from the previous model, a
colormap name matplotlib does not know) must never escape from a state listener: the
error would unwind through the state's setter into whichever panel made the change.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from vitviz.errors import VitvizError

logger = logging.getLogger(__name__)

Method = TypeVar("Method", bound=Callable[..., Any])


def shows_errors(method: Method) -> Method:
    """Decorate a render method; a :class:`VitvizError` goes to ``self.show_error(message)``."""

    @functools.wraps(method)
    def guarded(self, *args: Any) -> Any:
        try:
            return method(self, *args)
        except VitvizError as error:
            logger.info("%s cannot render: %s", type(self).__name__, error)
            self.show_error(str(error))
            return None

    return guarded  # type: ignore[return-value]
