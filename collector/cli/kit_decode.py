"""Commands registered on `airtrail kit` (see kit.py)."""

from .kit import app  # noqa: F401
