"""Query tokens named on the command line, and their labels in titles."""

from __future__ import annotations

import pytest

from vitviz.errors import AnalysisError
from vitviz.export.tokens import parse_query, query_label
from vitviz.vit.layout import TokenLayout

REGISTERS = TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(10, 16))
DISTILLED = TokenLayout(num_class=1, num_dist=1, num_reg=0, grid=(14, 14))
NO_CLASS = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(14, 14), pool_query=True)


@pytest.mark.parametrize(
    ("text", "layout", "expected"),
    [
        (None, REGISTERS, None),
        ("", REGISTERS, None),
        ("cls", REGISTERS, 0),
        ("CLASS", REGISTERS, 0),
        ("reg0", REGISTERS, 1),
        ("REG3", REGISTERS, 4),
        ("dist", DISTILLED, 1),
        ("0,0", REGISTERS, 5),
        ("2,3", REGISTERS, 5 + 2 * 16 + 3),
        ("(9, 15)", REGISTERS, 5 + 9 * 16 + 15),
        ("7", REGISTERS, 7),
        ("patches", NO_CLASS, "patches"),
        ("pool", NO_CLASS, "pool"),
    ],
)
def test_parse_query(text, layout, expected):
    assert parse_query(text, layout) == expected


@pytest.mark.parametrize(
    ("text", "layout", "message"),
    [
        ("cls", NO_CLASS, "unknown query token"),
        ("reg4", REGISTERS, "unknown query token"),
        ("dist", REGISTERS, "unknown query token"),
        ("10,0", REGISTERS, "outside the 10x16"),
        ("0,16", REGISTERS, "outside the 10x16"),
        ("9999", REGISTERS, "unknown query token"),
        ("nose", REGISTERS, "CLS, REG0"),
    ],
)
def test_unknown_tokens_are_refused_with_what_exists(text, layout, message):
    with pytest.raises(AnalysisError, match=message):
        parse_query(text, layout)


def test_labels_name_the_token():
    assert query_label(None, REGISTERS) == "CLS"
    assert query_label(2, REGISTERS) == "REG1"
    assert query_label(parse_query("2,3", REGISTERS), REGISTERS) == "patch (2, 3)"
    assert query_label(None, NO_CLASS) == "the pooling query"
    assert query_label("patches", NO_CLASS) == "the mean patch query"
