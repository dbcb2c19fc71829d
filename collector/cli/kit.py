"""`airtrail kit`: build, flash, provision, pull, decode and simulate kits.

Each sub-module registers its commands on ``app``:
    kit_decode   decode           sensor frames and NMEA from a serial log
    kit_device   build, flash, provision, pull   the kit on a USB cable
    kit_sim      simulate         virtual kits running the real firmware
    kit_hw       power, pins, wiring             hardware docs and calculators
"""

import typer

app = typer.Typer(help="Work with ESP32 kits: build, flash, provision, pull, decode, simulate.", no_args_is_help=True)


@app.callback()
def _kit() -> None:
    """Kit firmware and hardware tooling."""


from . import kit_decode, kit_device, kit_hw, kit_sim  # noqa: E402,F401  (registration)
