"""The slide style: set inside the block, restored after it, nested blocks included."""

from __future__ import annotations

import matplotlib as mpl

from vitviz.export.styles import SLIDE_RC, slide_style


def test_nested_blocks_keep_the_style_until_the_outer_one_ends():
    before = mpl.rcParams["font.size"]
    with slide_style():
        assert mpl.rcParams["font.size"] == SLIDE_RC["font.size"]
        with slide_style():
            assert mpl.rcParams["font.size"] == SLIDE_RC["font.size"]
        assert mpl.rcParams["font.size"] == SLIDE_RC["font.size"]
    assert mpl.rcParams["font.size"] == before


def test_a_block_ended_by_an_error_restores_the_style():
    before = mpl.rcParams["font.size"]
    try:
        with slide_style():
            raise KeyError("boom")
    except KeyError:
        pass
    assert mpl.rcParams["font.size"] == before
    with slide_style():
        assert mpl.rcParams["font.size"] == SLIDE_RC["font.size"]
