"""Where every edgekit cache lives: ``$EDGEKIT_CACHE_DIR`` (default ``~/.cache/edgekit``).

One root and one environment variable for all caches, each in its own subfolder: ``layers/``
(layer tables, :mod:`edgekit.roofline.cache`) and ``artifacts/`` (benchmark artifacts,
:mod:`edgekit.bench.artifacts`). Everything under it is safe to delete.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EDGEKIT_CACHE_DIR"


def cache_root() -> Path:
    """The cache root (not created): ``$EDGEKIT_CACHE_DIR``, else ``~/.cache/edgekit``."""
    root = os.environ.get(ENV_VAR) or os.path.join(os.path.expanduser("~"), ".cache", "edgekit")
    return Path(root)
