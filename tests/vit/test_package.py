"""The lazy ``vitviz.vit`` package: light modules without timm, public names as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

import vitviz.vit


def _imports_in_fresh_process(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_light_modules_do_not_import_timm():
    loaded = _imports_in_fresh_process(
        "import vitviz.vit.layout, vitviz.vit.spec, vitviz.vit.output, vitviz.state"
    )
    assert "vitviz.vit.layout" in loaded
    assert "timm" not in loaded
    assert "torchvision" not in loaded


def test_functions_win_over_same_named_submodules():
    # Importing the submodules first binds them on the package; the functions must stay.
    loaded = _imports_in_fresh_process(
        "import vitviz.vit.load, vitviz.vit.from_timm\n"
        "from vitviz.vit import from_timm, load\n"
        "assert callable(load) and callable(from_timm), (load, from_timm)"
    )
    assert "timm" in loaded


def test_every_public_name_resolves():
    for name in vitviz.vit.__all__:
        assert getattr(vitviz.vit, name).__name__ == name
    assert set(vitviz.vit.__all__) <= set(dir(vitviz.vit))


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        vitviz.vit.no_such_name  # noqa: B018
