# The kit's entry point on the ESP32 (MicroPython runs /main.py after boot.py).
#
# Builds the real hardware objects from config.json and the pin map, then
# runs airkit.app. Three ways out, none of them a silent crash loop:
#   - bad config: print the problems and blink, forever (status.safe_loop);
#     Ctrl-C gives the REPL to fix /config.json.
#   - Ctrl-C (or mpremote connecting): the watchdog is "parked" on a timer so
#     the REPL stays usable; machine.reset() starts the kit again.
#   - an unexpected error: written to /error.log and printed, LED flickers,
#     then a reset (the watchdog would do it anyway).
# Hold the BOOT button (GPIO 0) while the kit powers up to skip all this and
# land in the REPL: a kit that misbehaves can always be reached.

import sys
import time

import machine

from airkit import config, status

CONFIG = "/config.json"
ERROR_LOG = "/error.log"
ERROR_LOG_MAX = 8192


def led_pin(pins):
    if "led" not in pins:
        return None
    led = machine.Pin(pins["led"], machine.Pin.OUT)
    led.value(0)
    return led


def build_hardware(cfg, wdt, led):
    import network
    import ntptime

    from airkit import app, pins as pinmap
    from airkit.clock import MachineRTC

    variant = cfg["variant"]
    p = cfg["pins"]
    sensors = cfg["sensors"]
    uarts = pinmap.UART.get(variant, {})
    i2c_conf = pinmap.I2C.get(variant, {})

    pm_uart = pm_set = gps_uart = i2c = batt_adc = None
    if sensors["pm"] != "none" and "pm_rx" in p:
        # 9600 8N1 for all three PM sensors. rxbuf: several frames, so a slow
        # sample_s never overflows the driver's view of the stream.
        pm_uart = machine.UART(uarts.get("pm", 1), 9600, tx=p["pm_tx"], rx=p["pm_rx"], rxbuf=512, timeout=0)
        if "pm_set" in p and sensors["pm"] != "sds011":
            pm_set = machine.Pin(p["pm_set"], machine.Pin.OUT)
    if sensors["gps"] and "gps_rx" in p:
        # NMEA at 9600 baud is ~960 bytes/s; the app reads every 0.5 s.
        kw = {"rx": p["gps_rx"], "rxbuf": 2048, "timeout": 0}
        if "gps_tx" in p:
            kw["tx"] = p["gps_tx"]
        gps_uart = machine.UART(uarts.get("gps", 2), 9600, **kw)
    if (sensors["bme280"] or sensors["scd4x"]) and "i2c_sda" in p:
        i2c = machine.I2C(i2c_conf.get("id", 0), scl=machine.Pin(p["i2c_scl"]), sda=machine.Pin(p["i2c_sda"]),
                          freq=i2c_conf.get("freq", 100000))
    if sensors["battery"] and "batt_adc" in p:
        # 11 dB attenuation: the calibrated range reaches ~2.45 V at the pin.
        batt_adc = machine.ADC(machine.Pin(p["batt_adc"]), atten=machine.ADC.ATTN_11DB)

    wlan = None
    if cfg["wifi"]:
        wlan = network.WLAN(network.STA_IF)
        try:
            wlan.config(dhcp_hostname=cfg["device_id"])
        except (OSError, ValueError):
            pass
    return app.Hardware(
        rtc=MachineRTC(machine.RTC()),
        pm_uart=pm_uart, pm_set=pm_set, gps_uart=gps_uart,
        i2c=i2c, i2c_addr=pinmap.I2C_ADDR.get(variant, {}),
        batt_adc=batt_adc, batt_divider=pinmap.BATT_DIVIDER.get(variant),
        wlan=wlan, ntp=ntptime, wdt=wdt, led=led)


def log_error(exc):
    try:
        import os

        try:
            if os.stat(ERROR_LOG)[6] > ERROR_LOG_MAX:
                os.remove(ERROR_LOG)
        except OSError:
            pass
        with open(ERROR_LOG, "a") as f:
            f.write("--- %04d-%02d-%02d %02d:%02d:%02d (kit clock, UTC)\n" % time.gmtime()[:6])
            sys.print_exception(exc, f)
    except OSError:
        pass


def park_watchdog(wdt):
    # An ESP32 watchdog cannot be stopped once started. A hardware timer keeps
    # feeding it so the REPL (and mpremote: `airtrail kit pull`) stays usable.
    timer = machine.Timer(0)
    timer.init(period=10000, mode=machine.Timer.PERIODIC, callback=lambda t: wdt.feed())
    print("airtrail: stopped. The watchdog is parked; the REPL is yours. machine.reset() restarts the kit.")


def main():
    cfg, problems = config.load(CONFIG)
    led = led_pin(cfg["pins"] if isinstance(cfg.get("pins"), dict) else {})
    if machine.Pin(0, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0:
        print("airtrail: BOOT button held: not starting. The REPL is yours.")
        return
    if problems:
        status.safe_loop(problems, led, time.sleep_ms)
        return

    from airkit import app
    from airkit.clock import Timebase
    from airkit.queue import FlashQueue
    from airkit.seqno import SeqCounter

    try:
        queue = FlashQueue("/queue", cfg["queue_budget_kb"] * 1024)
        seq = SeqCounter("/seq")
    except (OSError, ValueError) as exc:
        status.safe_loop(["the reading store on flash cannot be opened (%s): run `airtrail kit pull` to save it, "
                          "then remove /queue and /seq" % exc], led, time.sleep_ms)
        return

    wdt = machine.WDT(timeout=app.WDT_TIMEOUT_MS)
    try:
        hw = build_hardware(cfg, wdt, led)
        kit = app.Kit(cfg, hw, queue, seq, Timebase(), data_dir="/")
        import asyncio

        asyncio.run(kit.run())
    except KeyboardInterrupt:
        park_watchdog(wdt)
    except Exception as exc:
        print("airtrail: crashed, restarting (details in %s):" % ERROR_LOG)
        sys.print_exception(exc)
        log_error(exc)
        if led is not None:
            status.blink(led, status.CRASHED, time.sleep_ms)
        time.sleep_ms(2000)
        machine.reset()


main()
