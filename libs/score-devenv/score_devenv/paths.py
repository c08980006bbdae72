"""Where the local environment keeps its state (var/) and its build cache."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def var_dir() -> Path:
    path = Path(os.environ.get("SCORE_VAR_DIR", REPO_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    base = os.environ.get("SCORE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "score-platform")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path
