"""What every command shares: settings from the one place, and the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from collector.settings import Settings, load_settings

console = Console()

# Set afresh by the root callback at every invocation from --config and
# --data-dir; every command's own flags are layered on top.
GLOBAL_OVERRIDES: dict[str, Any] = {}
CONFIG_FILE: list[Path] = []


def settings(**overrides: Any) -> Settings:
    return load_settings(config_file=CONFIG_FILE[0] if CONFIG_FILE else None, **{**GLOBAL_OVERRIDES, **overrides})
