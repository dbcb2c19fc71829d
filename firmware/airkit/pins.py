# GENERATED from hardware/pins/fixed.toml, hardware/pins/walk.toml by `airtrail kit pins --write`.
# Do not edit: change the TOML and regenerate. tests/test_hardware_pins.py
# fails when this file and the pin maps disagree.
#
# Roles name the ESP32 side of a wire: "pm_tx" is the ESP32's TX pin, wired to
# the sensor's RX pin; "pm_rx" is the ESP32's RX pin, fed by the sensor's TX.
# The firmware's config reads PINS[variant] for its default pins.

# GPIO number per role, per kit variant.
PINS = {
    "fixed": {
        "i2c_scl": 22,
        "i2c_sda": 21,
        "led": 25,
        "pm_rx": 19,
        "pm_set": 23,
        "pm_tx": 18,
    },
    "walk": {
        "batt_adc": 35,
        "gps_rx": 32,
        "gps_tx": 33,
        "i2c_scl": 22,
        "i2c_sda": 21,
        "led": 25,
        "pm_rx": 19,
        "pm_set": 23,
        "pm_tx": 18,
    },
}

# MicroPython UART id per serial sensor (UART0 is the USB console).
UART = {
    "fixed": {
        "pm": 1,
    },
    "walk": {
        "gps": 2,
        "pm": 1,
    },
}

# I2C bus id and clock in Hz.
I2C = {
    "fixed": {
        "freq": 100000,
        "id": 0,
    },
    "walk": {
        "freq": 100000,
        "id": 0,
    },
}

# 7-bit I2C addresses of the sensors on that bus.
I2C_ADDR = {
    "fixed": {
        "bme280": 0x76,
        "scd4x": 0x62,
    },
    "walk": {
        "bme280": 0x76,
    },
}

# Supply voltage = ADC pin voltage * BATT_DIVIDER[variant] ((r_top + r_bottom) / r_bottom).
BATT_DIVIDER = {
    "walk": 3.2,
}
