"""What the app remembers between runs, kept in QSettings.

Recent files, the last model, device and precision, the preprocessing mode, the colormap
and opacity, each checkpoint's chosen architecture, the last folder of a file dialog, and
the window's geometry and each layout preset's docks. Values read back are checked, so a
settings file edited by hand (or written by another version) never breaks start-up.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from vitviz.state.inputs import DEVICES, PRECISIONS, PREPROCESS_MODES

MAX_RECENT = 10
# Saved choices: the values allowed and the default.
CHOICES = {
    "device": (DEVICES, "auto"),
    "precision": (PRECISIONS, "fp32"),
    "preprocess_mode": (PREPROCESS_MODES, "crop"),
}


class Settings:
    """Typed access to ``qsettings`` (the user's vitviz settings by default)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._q = qsettings if qsettings is not None else QSettings("vitviz", "vitviz")

    @classmethod
    def at_path(cls, path: str | Path) -> Settings:
        """Settings kept in an INI file at ``path`` (tests, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def sync(self) -> None:
        self._q.sync()

    def remember(self, key: str, value) -> None:
        """Keep ``value`` under ``key`` (``device``, ``colormap``, ``last_model``, …)."""
        self._q.setValue(key, value)

    def _read(self, key: str, default, kind: type = str):
        # A value of another type (a hand-edited or foreign file) reads as the default.
        value = self._q.value(key, default)
        return value if isinstance(value, kind) and value else default

    def recent_files(self) -> list[str]:
        """Recently opened image paths, newest first, without duplicates."""
        value = self._q.value("recent_files", [])
        value = [value] if isinstance(value, str) else value  # QSettings' one-element list
        return [str(v) for v in value if v][:MAX_RECENT] if isinstance(value, list) else []

    def add_recent_file(self, path: str) -> list[str]:
        """Put ``path`` first in the recent files and return the new list."""
        recent = ([path] + [p for p in self.recent_files() if p != path])[:MAX_RECENT]
        self._q.setValue("recent_files", recent)
        return recent

    def clear_recent_files(self) -> None:
        self._q.setValue("recent_files", [])

    def choice(self, key: str) -> str:
        """Saved ``device``, ``precision`` or ``preprocess_mode``; its default if unknown."""
        allowed, default = CHOICES[key]
        value = self._read(key, default)
        return value if value in allowed else default

    def last_model(self) -> str:
        """The model source used last (``demo`` when none was saved)."""
        return self._read("last_model", "demo")

    def checkpoint_arch(self, path: str) -> str | None:
        """The architecture the user chose for a checkpoint file, if they were asked."""
        return self._read(f"checkpoint_arch/{_key(path)}", None)

    def set_checkpoint_arch(self, path: str, arch: str) -> None:
        """Remember the architecture chosen for a checkpoint file (never ask again)."""
        self._q.setValue(f"checkpoint_arch/{_key(path)}", arch)

    def colormap(self, default: str = "inferno") -> str:
        """Saved colormap name (checked against the caller's list by the caller)."""
        return self._read("colormap", default)

    def opacity(self, default: float = 0.6) -> float:
        """Saved overlay opacity, clamped to 0..1."""
        try:
            return min(max(float(self._q.value("opacity", default)), 0.0), 1.0)
        except (TypeError, ValueError):
            return default

    def window_geometry(self) -> QByteArray | None:
        """Saved ``QMainWindow.saveGeometry()`` bytes, or None."""
        return self._read("window/geometry", None, QByteArray)

    def window_state(self, preset: str) -> QByteArray | None:
        """Saved ``QMainWindow.saveState()`` bytes (dock layout) of a layout preset, or None."""
        return self._read(f"window/state/{preset}", None, QByteArray)

    def set_window_state(self, preset: str, state: QByteArray | None) -> None:
        """Remember the dock layout of a layout preset (None forgets it)."""
        self._q.setValue(f"window/state/{preset}", state)

    def preset(self) -> str:
        """The layout preset shown last: Explore or Inspect (Present only when asked for)."""
        value = self._read("window/preset", "explore")
        return value if value in ("explore", "inspect") else "explore"

    def folder(self) -> str:
        """The folder of the file last opened or saved through a dialog ("" at first)."""
        return self._read("last_folder", "")

    def remember_folder(self, path: str) -> str:
        """Remember ``path``'s folder for the next dialog; returns ``path``."""
        if path:
            self._q.setValue("last_folder", str(Path(path).parent))
        return path


def _key(path: str) -> str:
    # QSettings reads "/" as a group separator and "\\" oddly: one key per absolute path.
    return str(Path(path).expanduser().resolve()).replace("\\", "/").replace("/", "|")
