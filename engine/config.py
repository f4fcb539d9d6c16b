"""Settings from the environment, read when asked (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///var/pathways.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    workflows_dir: Path = Path("workflows")
    timer_poll_seconds: float = 30.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            "workflows_dir": Path(os.environ.get("WORKFLOWS_DIR", "workflows")),
            "timer_poll_seconds": float(os.environ.get("TIMER_POLL_SECONDS", "30")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
