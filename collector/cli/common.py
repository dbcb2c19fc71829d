"""What every command shares: settings from the one place, and the console."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from collector.settings import Settings, load_settings

console = Console()

# Set afresh by the root callback at every invocation from --config
# ("config_file") and --data-dir ("data_dir"); every command's own flags are
# layered on top.
GLOBAL_OVERRIDES: dict[str, Any] = {}


def settings(**overrides: Any) -> Settings:
    return load_settings(**{**GLOBAL_OVERRIDES, **overrides})
