"""Query tokens written as text (``cls``, ``reg2``, ``3,7`` ...) and their labels.

The command line names query tokens the way the GUI's chips do; this module turns such a
name into a :data:`vitviz.compute.attention_maps.Query` for one token layout, and a query
back into a label for titles.
"""

from __future__ import annotations

import re

from vitviz.compute.attention_maps import Query
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

TOKEN_HELP = (
    "cls, dist, reg0 .. regN, a patch as ROW,COL, a sequence index, 'patches' (mean over "
    "patch queries) or 'pool' (the latent pooling query)"
)

_PATCH = re.compile(r"^\(?\s*(\d+)\s*,\s*(\d+)\s*\)?$")


def parse_query(text: str | None, layout: TokenLayout) -> Query:
    """The query named by ``text`` in ``layout``.

    Parameters
    ----------
    text : str or None
        See :data:`TOKEN_HELP`; None or ``""`` for the default query (the class token, or
        the mean over patches for models without one).
    layout : TokenLayout
        Token layout of the analysed input.

    Returns
    -------
    Query
        A sequence index, ``"patches"``, ``"pool"`` or None.

    Raises
    ------
    AnalysisError
        The token does not exist in this layout.
    """
    if not text:
        return None
    name = text.strip().lower()
    if name in ("patches", "pool"):
        return name
    if name in ("cls", "class"):
        name = "cls"
    labels = [label.lower() for label in layout.prefix_labels]
    if name in labels:
        return labels.index(name)
    patch = _PATCH.match(name)
    if patch:
        row, col = int(patch.group(1)), int(patch.group(2))
        try:
            return layout.patch_index(row, col)
        except IndexError:
            raise AnalysisError(
                f"patch ({row}, {col}) is outside the {layout.grid[0]}x{layout.grid[1]} "
                "patch grid (rows and columns count from 0)"
            ) from None
    if name.isdigit() and int(name) < layout.num_tokens:
        return int(name)
    known = ", ".join(layout.prefix_labels) or "no prefix tokens"
    raise AnalysisError(
        f"unknown query token {text!r} for this model ({known}; "
        f"{layout.grid[0]}x{layout.grid[1]} patches); use {TOKEN_HELP}"
    )


def query_label(query: Query, layout: TokenLayout) -> str:
    """Short label of a query for titles: ``CLS``, ``REG2``, ``patch (3, 7)`` ...

    Parameters
    ----------
    query : Query
        A query as returned by :func:`parse_query`.
    layout : TokenLayout
        Token layout of the analysed input.

    Returns
    -------
    str
        The label.
    """
    if query is None:
        if layout.class_index is not None:
            return layout.label(layout.class_index)
        return "the pooling query" if layout.pool_query else "the mean patch query"
    if query == "patches":
        return "the mean patch query"
    if query == "pool":
        return "the pooling query"
    return layout.label(int(query))
