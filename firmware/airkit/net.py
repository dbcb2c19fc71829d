# Wi-Fi for the kit: several networks in priority order (home first, then a
# phone hotspot), and the backoff used for every reconnect (Wi-Fi and broker).
#
# WiFi drives any object with the network.WLAN interface: the real one on the
# ESP32, or the scripted one the virtual kits use (airkit_host.simulate), so
# the same connect logic runs in both.

import random


# network.WLAN.status() codes on the ESP32 port (esp_wifi reason codes mapped
# in MicroPython's ports/esp32/network_wlan.c).
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202


class Backoff:
    """Exponential backoff with jitter: first_ms, 2x, 4x ... capped at max_ms.

    The jitter (each delay drawn from [d/2, d]) keeps a room of kits that lost
    the same access point from reconnecting in lock-step ("Exponential Backoff
    And Jitter", AWS Architecture Blog, 2015).
    """

    def __init__(self, first_ms=1000, max_ms=300000):
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.delay_ms = first_ms

    def next_ms(self):
        d = self.delay_ms
        self.delay_ms = min(d * 2, self.max_ms)
        # getrandbits, not uniform(): it is in every MicroPython build.
        return d // 2 + (d // 2) * random.getrandbits(10) // 1024

    def reset(self):
        self.delay_ms = self.first_ms


class WiFi:
    """Join the first reachable network of a priority list."""

    # How long one network may take to associate and get an address.
    CONNECT_TIMEOUT_MS = 15000
    POLL_MS = 250

    def __init__(self, wlan, networks, timebase):
        self.wlan = wlan
        self.networks = networks  # [{"ssid": ..., "password": ...}, ...]
        self.tb = timebase
        self.ssid = None
        self.problem = None  # last failure, for the console

    def isconnected(self):
        try:
            return self.wlan.isconnected()
        except OSError:
            return False

    def rssi(self):
        if not self.isconnected():
            return None
        try:
            return self.wlan.status("rssi")
        except (OSError, ValueError, TypeError):
            return None

    def _visible(self):
        # A scan costs about 2 s but saves waiting a whole connect timeout for
        # each network that is not in range (the hotspot left at home).
        try:
            return set(ap[0].decode() if isinstance(ap[0], bytes) else ap[0] for ap in self.wlan.scan())
        except OSError:
            return None

    async def connect(self):
        """Try the networks in order; return the SSID joined, or None."""
        self.wlan.active(True)
        if self.isconnected():
            return self.ssid
        visible = self._visible()
        for net in self.networks:
            ssid = net["ssid"]
            if visible is not None and ssid not in visible:
                continue
            if await self._join(ssid, net.get("password", "")):
                self.ssid = ssid
                self.problem = None
                return ssid
        if visible is not None and not any(n["ssid"] in visible for n in self.networks):
            self.problem = "none of the configured Wi-Fi networks is in range"
        self.ssid = None
        return None

    async def _join(self, ssid, password):
        try:
            self.wlan.disconnect()
        except OSError:
            pass
        try:
            self.wlan.connect(ssid, password)
        except OSError as exc:
            self.problem = "Wi-Fi %s: %s" % (ssid, exc)
            return False
        waited = 0
        while waited < self.CONNECT_TIMEOUT_MS:
            if self.isconnected():
                return True
            status = self.wlan.status()
            if status == STAT_WRONG_PASSWORD:
                self.problem = "Wi-Fi %s refused the password: fix wifi in config.json" % ssid
                return False
            if status == STAT_NO_AP_FOUND:
                self.problem = "Wi-Fi %s is not in range" % ssid
                return False
            await self.tb.sleep_ms(self.POLL_MS)
            waited += self.POLL_MS
        self.problem = "Wi-Fi %s did not give an address within %d s" % (ssid, self.CONNECT_TIMEOUT_MS // 1000)
        return False

    def off(self):
        """Radio off (walk mode between forwarding attempts): about 100 mA saved."""
        self.ssid = None
        try:
            self.wlan.disconnect()
            self.wlan.active(False)
        except OSError:
            pass
