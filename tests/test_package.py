"""Package-level promises: importing vitviz is cheap and the layering holds."""

import subprocess
import sys


def test_import_vitviz_loads_neither_torch_nor_qt():
    code = (
        "import sys, vitviz, vitviz.errors, vitviz.resources;"
        "heavy = [m for m in ('torch', 'PySide6', 'timm', 'matplotlib') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_errors_share_one_base_class():
    import vitviz

    for error in (vitviz.ModelLoadError, vitviz.ImageLoadError, vitviz.AnalysisError):
        assert issubclass(error, vitviz.VitvizError)
    assert issubclass(vitviz.UnsupportedModelError, vitviz.ModelLoadError)
