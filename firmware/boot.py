# Runs first at every power-up or reset, before main.py. Kept minimal: any
# error here happens before the kit can report anything.
#
# - Silence ESP-IDF's log output on UART0, so the USB console shows airtrail's
#   messages (and mpremote's raw REPL is not interleaved with Wi-Fi chatter).
# - Put the Wi-Fi access-point interface down: MicroPython may leave it on
#   with an open network named after the chip.
import esp
import network

esp.osdebug(None)
try:
    network.WLAN(network.AP_IF).active(False)
except OSError:
    pass
