"""Query tokens written as text, as the GUI's chips name them (``cls``, ``reg2``, ``3,7``
...), read as a :data:`vitviz.compute.attention_maps.Query`; labels of queries for titles.
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
    """The query named by ``text`` (:data:`TOKEN_HELP`; None or ``""``: the default, None)
    in ``layout``; a token the layout lacks raises an :class:`AnalysisError`."""
    if not text:
        return None
    name = text.strip().lower()
    if name in ("patches", "pool"):
        return name
    name = "cls" if name == "class" else name
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
    """Short label of a :func:`parse_query` query for titles: ``CLS``, ``patch (3, 7)`` ..."""
    if query is None and layout.class_index is not None:
        return layout.label(layout.class_index)
    if query is None:
        query = "pool" if layout.pool_query else "patches"
    names = {"patches": "the mean patch query", "pool": "the pooling query"}
    return names[query] if query in names else layout.label(int(query))
