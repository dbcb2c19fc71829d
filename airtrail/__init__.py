"""airtrail's front door: the `airtrail` command and the assembly of `airtrail serve`.

It is the one place that knows every package. Each package owns its commands
next to its code (collector.cli, airkit_host.cli, hardware.cli, walks.cli,
viz.cli); this package only mounts them, holds the global flags, prints
"Problem: ..." for airtrail's one error root, and builds the web app from the
routers of the packages. Nothing imports it (an import-linter contract in
pyproject.toml checks that).
"""
