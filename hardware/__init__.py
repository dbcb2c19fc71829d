"""airtrail's kit hardware as data, with the tools that check and publish it.

    pins         pin maps (pins/<variant>.toml): load, check ESP32 pitfalls,
                 render firmware/airkit/pins.py
    esp32        what each ESP32 GPIO can and cannot do (datasheet facts)
    wiring       wiring diagrams (wiring/<variant>.svg) drawn from the pin maps
    bom          bills of materials (bom.toml) and their totals
    power        current per state (power.toml) and the battery-runtime calculator
    calibration  per-device calibration factors from a reference co-location
    guide        the generated tables in README.md (the build guide)
    generate     every generated file in one place, for the CLI and the tests

Pure Python and the standard library only; the `airtrail kit power | pins |
wiring | docs` commands (hardware/cli.py, mounted under `airtrail kit`) are its front door.
"""
