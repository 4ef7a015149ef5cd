"""Where zssar reads data and keeps caches. Everything is explicit and overridable."""
from __future__ import annotations

import os
from pathlib import Path


def data_root(root: str | os.PathLike | None = None) -> Path | None:
    """The folder that holds real datasets: ``root`` if given, else ``$ZSSAR_DATA``, else None."""
    value = root if root is not None else os.environ.get("ZSSAR_DATA")
    return Path(value).expanduser() if value else None


def cache_root(cache: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache`` if given, else ``$ZSSAR_CACHE``, else ``~/.cache/zssar``.

    Entries inside are keyed by a hash of everything that produced them, so a shared cache is safe.
    """
    value = cache if cache is not None else os.environ.get("ZSSAR_CACHE")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "zssar"
