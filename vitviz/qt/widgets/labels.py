"""Short texts for tokens that never fail, whatever index a stale selection holds."""

from __future__ import annotations

from vitviz.vit.layout import TokenLayout


def token_label(layout: TokenLayout, index: int) -> str:
    """``CLS`` / ``REG2`` / ``patch (r, c)``, or ``token <index>`` outside ``layout``."""
    if 0 <= index < layout.num_tokens:
        return layout.label(index)
    return f"token {index}"
