"""What an ESP32 GPIO can and cannot do, from Espressif's datasheet.

Source throughout: *ESP32 Series Datasheet* v5.2 (Espressif), Table 2-1
"Pin Overview", Section 2.3.1 "Restrictions for GPIOs and RTC_GPIOs",
Section 2.6 "Pin Mapping Between Chip and Flash/PSRAM", Section 3 "Boot
Configurations" (Tables 3-1 and 3-3), Section 4.10 Table 4-6 "Peripheral Pin
Configurations". ADC2 and Wi-Fi: ESP-IDF Programming Guide, "Analog to Digital
Converter (ADC)", hardware limitations ("ADC2 is used by the Wi-Fi driver").

Pure data and small lookups: used by the pin-map checker (hardware.pins) and
by the wiring generator, never by the firmware itself.
"""

from __future__ import annotations

# Table 2-1: the GPIO numbers an ESP32 has (QFN48): there is no GPIO 20, 24
# or 28-31. GPIO 37 and 38 exist on the chip, but WROOM/WROVER modules and
# DevKit boards do not bring them out, so for a kit they do not exist either.
GPIOS = frozenset([*range(0, 20), 21, 22, 23, 25, 26, 27, *range(32, 37), 39])

# Section 2.6: on every ESP32-WROOM/WROVER module GPIO 6-11 are the SPI flash
# bus (SD_CLK, SD_DATA0-3, SD_CMD). Driving them crashes the chip.
FLASH_PINS = frozenset(range(6, 12))

# Section 2.3.1: "Input only pins, output is not supported due to lack of
# pull-up/pull-down resistors" (GPIO 34-39).
INPUT_ONLY = frozenset(range(34, 40))

# Section 2.6 note 2 / ESP32-WROVER-E datasheet: WROVER modules use GPIO 16
# (PSRAM CE#) and GPIO 17 (PSRAM SCLK). Fine on WROOM, broken on WROVER, and
# a DevKitC can carry either module.
PSRAM_PINS = frozenset([16, 17])

# UART0 (GPIO 1 = U0TXD, GPIO 3 = U0RXD) is wired to the board's USB-serial
# bridge: the MicroPython REPL, `mpremote` and esptool all talk over it.
CONSOLE_PINS = frozenset([1, 3])

# Section 3, Table 3-1: strapping pins are latched at reset, so whatever a
# sensor does to them at power-up decides how the chip boots. Each reason says
# what goes wrong.
STRAPPING = {
    0: "GPIO0 is a strapping pin: held low at reset it starts the ROM download mode "
    "instead of MicroPython (Table 3-3)",
    2: "GPIO2 is a strapping pin: it must be low or floating to enter download mode, "
    "so a sensor pulling it high stops `esptool` from flashing (Table 3-3); it also "
    "drives the blue LED on many clone boards",
    5: "GPIO5 is a strapping pin (SDIO slave timing, Table 3-1); a device pulling it "
    "low at reset changes the boot configuration",
    12: "GPIO12 (MTDI) is a strapping pin that selects the flash voltage: high at reset "
    "powers 3.3 V flash at 1.8 V and the board will not boot (Section 3.2). Never "
    "connect anything that can pull it high",
    15: "GPIO15 (MTDO) is a strapping pin: low at reset silences the boot log on the "
    "serial console, which hides boot errors (Table 3-1)",
}
# GPIO12 can brick a board until the wire is removed; the others change the
# boot mode or logging and are worth a warning, not a refusal.
STRAPPING_FATAL = frozenset([12])

# Table 4-6: ADC channels per GPIO.
ADC1 = {36: 0, 37: 1, 38: 2, 39: 3, 32: 4, 33: 5, 34: 6, 35: 7}
ADC2 = {4: 0, 0: 1, 2: 2, 15: 3, 13: 4, 12: 5, 14: 6, 27: 7, 25: 8, 26: 9}


def adc_unit(gpio: int) -> int | None:
    """1 or 2 for an analog-capable GPIO, None for a digital-only one."""
    if gpio in ADC1:
        return 1
    if gpio in ADC2:
        return 2
    return None
