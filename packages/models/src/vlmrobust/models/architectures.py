"""vlmrobust's own open_clip architecture configs (tiny models), registered with open_clip lazily."""

from __future__ import annotations

from functools import cache
from pathlib import Path

CONFIG_DIR = Path(__file__).parent / "model_configs"


def tiny_architectures() -> list[str]:
    """Return the names of the architectures shipped in ``model_configs/`` (file stems), sorted."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


@cache
def register_model_configs() -> None:
    """Add ``model_configs/`` to open_clip's architecture registry (idempotent; runs once per process)."""
    import open_clip

    open_clip.add_model_config(CONFIG_DIR)
    missing = set(tiny_architectures()) - set(open_clip.list_models())
    if missing:
        raise RuntimeError(f"open_clip rejected the configs {sorted(missing)} in {CONFIG_DIR}")


def open_clip_architectures() -> list[str]:
    """Return every open_clip architecture name, vlmrobust's tiny configs included."""
    import open_clip

    register_model_configs()
    return list(open_clip.list_models())
