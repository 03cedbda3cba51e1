"""Where the bundled files (demo model, icons) live."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
DEMO_MODEL_PATH = RESOURCES_DIR / "models" / "demo_vit.safetensors"
DEMO_MODEL_CARD = RESOURCES_DIR / "models" / "MODEL_CARD.md"
