"""`airtrail kit flash`: erase an ESP32 and write MicroPython onto it, with esptool.

The MicroPython image is a file the user downloads from
https://micropython.org/download/ESP32_GENERIC/ (the "Firmware" .bin for the
board; ESP32_GENERIC_S3 / _C3 for those chips). It is written at the address
MicroPython's download page gives for each chip: 0x1000 on the original ESP32
and the ESP32-S2 (their ROM loads the second-stage bootloader from there),
0x0 on the S3, C3 and C6.

esptool's scripting API (esptool >= 5: detect_chip, run_stub, erase_flash,
write_flash, reset_chip) does the work; its "custom logger" hook feeds the
progress bar.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import KitError, require

DOWNLOAD_URL = "https://micropython.org/download/ESP32_GENERIC/"
IMAGE_OFFSET = {"esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0, "esp32c6": 0x0}
ESP_IMAGE_MAGIC = 0xE9  # first byte of an ESP-IDF image header (esptool bin_image.py ESP_IMAGE_MAGIC)


class FlashError(KitError):
    pass


def check_image(firmware: Path, chip: str) -> int:
    """Validate the inputs before touching the board; returns the flash offset."""
    if chip not in IMAGE_OFFSET:
        raise FlashError(f"unknown chip {chip!r}: use one of {', '.join(IMAGE_OFFSET)}")
    if not firmware.is_file():
        raise FlashError(
            f"no firmware file at {firmware}: download the MicroPython .bin for your board from {DOWNLOAD_URL} "
            "and pass its path with --firmware"
        )
    with firmware.open("rb") as f:
        head = f.read(1)
    if head != bytes([ESP_IMAGE_MAGIC]):
        raise FlashError(
            f"{firmware} is not an ESP32 firmware image (it does not start with byte 0x{ESP_IMAGE_MAGIC:X}): "
            f"download the .bin file (not .uf2, .elf or .app-bin) from {DOWNLOAD_URL}"
        )
    return IMAGE_OFFSET[chip]


def _progress_logger(progress: Callable[[str, int, int], None], messages: list[str]) -> Any:
    from esptool.logger import TemplateLogger

    class _Logger(TemplateLogger):
        def print(self, *args: Any, **kwargs: Any) -> None:
            messages.append(" ".join(str(a) for a in args))

        def note(self, message: str) -> None:
            messages.append(message)

        def warning(self, message: str) -> None:
            messages.append("Warning: " + message)

        def error(self, message: str) -> None:
            messages.append("Error: " + message)

        def stage(self, finish: bool = False) -> None:
            pass

        def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "", bar_length: int = 30) -> None:
            progress("write", cur_iter, total_iters)

        def set_verbosity(self, verbosity: str) -> None:
            pass

    return _Logger()


def flash(
    port: str,
    firmware: Path,
    chip: str = "esp32",
    baud: int = 460800,
    progress: Callable[[str, int, int], None] | None = None,
    connect_attempts: int = 3,
) -> list[str]:
    """Erase the flash and write ``firmware``; returns esptool's messages.

    ``progress(stage, done, total)`` is called with stage "connect", "erase",
    "write" and "reset".
    """
    # The extra first: on a server install without it, say so before anything
    # about ports or images.
    require("esptool", "esptool", "flash")
    try:
        from esp_pylib.logger import EspLog
        from esptool.cmds import attach_flash, detect_chip, erase_flash, reset_chip, run_stub, write_flash
        from esptool.logger import log
        from esptool.util import FatalError
    except ImportError:
        raise FlashError("esptool 5 or newer is needed: pip install -U esptool (or `make setup`)") from None

    offset = check_image(firmware, chip)
    if not os.path.exists(port):
        from .link import _port_hint

        raise FlashError(f"there is no serial port {port}: plug the kit in with a USB data cable and pass --port ({_port_hint()})")

    def step(stage: str) -> None:
        if progress:
            progress(stage, 0, 1)

    messages: list[str] = []
    previous = EspLog.instance
    log.set_logger(_progress_logger(progress or (lambda *a: None), messages))
    try:
        step("connect")
        try:
            esp = detect_chip(port, connect_attempts=connect_attempts)
        except (FatalError, OSError) as exc:
            raise FlashError(
                f"could not talk to the ESP32 bootloader on {port} ({exc}): hold the BOOT button, press and release "
                "EN/RESET, release BOOT, then try again; close any serial monitor using the port"
            ) from None
        try:
            if esp.CHIP_NAME.lower().replace("-", "") != chip:
                raise FlashError(f"the board on {port} is an {esp.CHIP_NAME}, not an {chip}: pass --chip {esp.CHIP_NAME.lower().replace('-', '')} and its MicroPython image")
            esp = run_stub(esp)
            if baud != esp.ESP_ROM_BAUD:
                esp.change_baud(baud)
            attach_flash(esp)
            step("erase")
            erase_flash(esp)
            step("write")
            write_flash(esp, [(offset, str(firmware))])
            step("reset")
            reset_chip(esp, "hard-reset")
        except FatalError as exc:
            raise FlashError(f"flashing failed ({exc}): try a lower --baud such as 115200, or another USB cable") from None
        finally:
            esp._port.close()
    finally:
        EspLog.instance = previous
    return messages
