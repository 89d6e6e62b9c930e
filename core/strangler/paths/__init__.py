"""Where strangler keeps files of its own."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir"]


def default_cache_dir() -> Path:
    """``$STRANGLER_CACHE_DIR``, else ``strangler`` in the user's cache folder."""
    env = os.environ.get("STRANGLER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "strangler"
