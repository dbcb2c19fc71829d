# The kit's connectivity layer: Wi-Fi, NTP, the MQTT broker, the backlog.
#
# In the style of Peter Hinch's mqtt_as, the protocol and the connectivity
# are two layers: mqtt.MQTTClient speaks MQTT 5 and raises on every
# error; Uplink joins Wi-Fi (networks in priority order), sets the clock over
# NTP, connects the broker with the kit's last will, sends the flash queue in
# batches, publishes the retained status message, and absorbs every outage
# with a jittered backoff. It reports the broker connection through the
# ``up`` and ``down`` events (set here, cleared by whoever waits on them) and
# ``online``. Unlike mqtt_as the first connect does not raise: a kit that
# boots without Wi-Fi keeps sampling into flash and keeps trying
# (firmware/README.md, "No Wi-Fi at boot").
#
# A batch leaves the queue only after the broker's PUBACK for it (MQTT 5
# section 4.3.2, QoS 1), so an outage in the middle of a send costs a resend
# at most, never a reading (InfluxDB writes are idempotent: collector/store.py).
# A PUBACK that refuses (reason code >= 0x80, section 3.4.2.1: the ACL does
# not let this account publish there, a quota) is no acknowledgement: the
# batch stays, the kit backs off and tries again, and says so on the console,
# on the LED (``refusing``) and in the next status that gets through
# (``refused``); it resumes by itself once the account is fixed.

import asyncio  # MicroPython >= 1.22 names it asyncio (uasyncio before)

from . import contract, encode, status, version
from .mqtt import NO_SUBSCRIBERS, NOT_AUTHORIZED, ConnectRefused, MQTTClient, PublishRefused
from .net import Backoff, WiFi

STATUS_EVERY_MS = 600000  # and whenever a sensor's health changes


def mqtt_client(cfg):
    """The kit's MQTT client for config.json, not yet connected. Its last will
    marks the kit offline when the connection breaks without a goodbye."""
    m = cfg["mqtt"]
    dev = cfg["device_id"]
    client = MQTTClient(dev, m["host"], m["port"], user=m["username"], password=m["password"],
                        keepalive=m["keepalive"], tls=m["tls"], ca_file=m["ca_file"] or None)
    client.set_last_will(contract.status_topic(dev), contract.offline_status(dev), retain=True, qos=1)
    return client


class Uplink:
    """Forward the flash queue whenever the network allows; run() forever.

    ``status`` () -> the status message (bytes) and ``health`` () -> the
    sensors' health dict come from the kit, which knows its sensors; a change
    of health publishes a new status. ``new_client`` (cfg -> an unconnected
    client) defaults to mqtt_client; tests wrap it to watch the wire.
    """

    def __init__(self, cfg, wlan, ntp, clock, queue, timebase, status_message, health, say, new_client=None):
        self.cfg = cfg
        self.dev = cfg["device_id"]
        self.wifi = WiFi(wlan, cfg["wifi"], timebase)
        self.ntp = ntp  # the ntptime module, or None
        self.clock = clock
        self.queue = queue
        self.tb = timebase
        self.status_message = status_message
        self.health = health
        self._say = say
        self.new_client = new_client or mqtt_client
        self.mqtt = None
        self.topic = contract.readings_topic(self.dev)
        self.wake = asyncio.Event()  # set when a new reading is in the queue
        self.up = asyncio.Event()  # set when the broker connection is made
        self.down = asyncio.Event()  # set when it is lost (or closed on purpose)
        self.online = False
        self.sent = 0  # readings the broker acknowledged this boot
        self.refused = 0  # logins and publishes the broker refused this boot (status "refused")
        self.refusing = None  # the reason code while the broker refuses this kit, None once it accepts
        self.stopping = False
        self._status_at = None
        self._health = None

    def rssi(self):
        return self.wifi.rssi()

    def _set_online(self, online):
        if online == self.online:
            return
        self.online = online
        (self.up if online else self.down).set()

    def _publish_status(self):
        self.mqtt.publish(contract.status_topic(self.dev), self.status_message(), retain=True, qos=1)
        self._accepted()
        self._status_at = self.tb.ticks_ms()
        self._health = self.health()

    def _status_due(self):
        if self._status_at is None or self.health() != self._health:
            return True
        return self.tb.ticks_diff(self.tb.ticks_ms(), self._status_at) >= STATUS_EVERY_MS

    def _drop_mqtt(self):
        if self.mqtt is not None:
            self.mqtt.close()  # abrupt on purpose: the broker publishes our last will
        self._set_online(False)

    def goodbye(self):
        """A planned disconnect: say offline (retained), then DISCONNECT, so
        the broker does not publish the last will."""
        if self.mqtt is not None and self.mqtt.connected:
            try:
                self.mqtt.publish(contract.status_topic(self.dev), status.offline_message(self.dev), retain=True, qos=1)
                self.mqtt.disconnect()
            except OSError:
                self.mqtt.close()
        self._set_online(False)

    def send_batch(self):
        """Send up to batch_max queued readings as one message; pop them only
        once the broker has acknowledged it. Returns how many were sent."""
        records = self.queue.peek(self.cfg["batch_max"], encode.batch_budget(self.dev, version.VERSION))
        if not records:
            return 0
        count = len(records)
        parts = encode.batch_parts(self.dev, version.VERSION, records)
        del records  # joined into parts[1]: the GC may have them during the send
        # Returns after PUBACK, raises otherwise: a refusal, or no subscriber at all (nobody would store them).
        self.mqtt.publish(self.topic, parts, qos=1, must_reach=True)
        self._accepted()
        self.queue.pop(count)
        self.sent += count
        return count

    def _accepted(self):
        if self.refusing is not None:
            self._say("broker: accepts the kit's messages again; sending the %d queued readings" % self.queue.depth)
            self.refusing = None

    def _refused_by_broker(self, exc, retry_ms):
        """Log a refused login or publish with what to do; the caller backs off."""
        self.refused += 1
        self.refusing = exc.reason
        advice = ""
        if isinstance(exc, PublishRefused) and exc.reason == NO_SUBSCRIBERS:
            advice = (" No collector subscribes to the kit's readings, so none would be stored: start the"
                      " collector (`airtrail serve`) on this broker.")
        elif isinstance(exc, PublishRefused) and exc.reason == NOT_AUTHORIZED:
            if self.mqtt.user != self.dev:
                advice = (" Account %r may publish only as itself, not as kit %r: the device id in config.json"
                          " must be the account's name (`airtrail device list`); re-provision the kit"
                          " (`airtrail kit provision`)." % (self.mqtt.user, self.dev))
            else:
                advice = (" The broker's ACL does not let account %r publish on its own topics: check the"
                          " broker's ACL (the local stack generates it from the device registry)." % self.dev)
        self._say("broker: %s.%s Queued readings kept in flash: %d; retrying in %d s"
                  % (exc, advice, self.queue.depth, retry_ms // 1000))

    async def _join_wifi(self):
        """True once Wi-Fi is up (and NTP tried); False after a failed attempt."""
        if self.wifi.isconnected():
            return True
        self._drop_mqtt()
        ssid = await self.wifi.connect()
        if ssid is None:
            self._say("no Wi-Fi: %s" % (self.wifi.problem or "no network joined"))
            return False
        self._say("joined Wi-Fi %s (RSSI %s)" % (ssid, self.wifi.rssi()))
        if self.clock.wants_ntp() and self.ntp is not None:
            try:
                self.ntp.host = self.cfg["ntp_host"]
                self.clock.sync_ntp(self.ntp)
            except (OSError, OverflowError) as exc:
                self._say("NTP failed (%s); keeping %s time" % (exc, self.clock.source))
        return True

    def _connect_broker(self):
        m = self.cfg["mqtt"]
        self.mqtt = self.new_client(self.cfg)
        self.mqtt.connect()
        self._say("connected to broker %s:%d" % (m["host"], m["port"]))
        self._set_online(True)
        self._publish_status()

    async def run(self):
        walk = self.cfg["mode"] == "walk"
        walk_pause = self.cfg["walk_wifi_retry_s"] * 1000
        wifi_backoff = Backoff(2000, 300000)
        broker_backoff = Backoff(2000, 300000)
        while not self.stopping:
            if not await self._join_wifi():
                if walk:
                    self.wifi.off()
                    await self.tb.sleep_ms(walk_pause)
                else:
                    await self.tb.sleep_ms(wifi_backoff.next_ms())
                continue
            wifi_backoff.reset()
            try:
                if self.mqtt is None or not self.mqtt.connected:
                    self._connect_broker()
                while self.queue.depth and self.wifi.isconnected() and not self.stopping:
                    if not self.send_batch():
                        break  # a guard only: depth counts exactly the records peek() can return
                    await self.tb.sleep_ms(0)  # let the sampler run between batches
                # Reset only once the broker has acknowledged what we had: one
                # that accepts connections but never a PUBACK keeps backing off.
                broker_backoff.reset()
                if not self.wifi.isconnected():
                    continue
                if self._status_due():
                    self._publish_status()
                self.mqtt.ping_if_due()
            except OSError as exc:
                retry_ms = broker_backoff.next_ms()
                if isinstance(exc, (ConnectRefused, PublishRefused)):
                    self._refused_by_broker(exc, retry_ms)
                else:
                    self._say("broker: %s" % exc)
                # A new connection for the retry: the broker then applies its
                # current ACL and password file, whatever changed meanwhile.
                self._drop_mqtt()
                await self.tb.sleep_ms(retry_ms)
                continue
            if walk and not self.queue.depth:
                # Backlog forwarded: say so, then radio off until the next try.
                self._say("walk mode: backlog forwarded; Wi-Fi off for %d s" % (walk_pause // 1000))
                self.goodbye()
                self.wifi.off()
                await self.tb.sleep_ms(walk_pause)
                continue
            await self.tb.wait_event(self.wake, 1000)
            self.wake.clear()
