"""The collector's MQTT connection (paho-mqtt 2.x, MQTT 5, QoS 1, manual acks).

A fixed client id with ``clean_start=False`` and a session expiry keeps the
session (subscriptions and the unacknowledged backlog) on the broker across
collector restarts and crashes; paho's default would clear it at every start.
Messages are acknowledged by the store worker, after storage, through ``ack``.

The source is the one reporter of the broker's state (``collector.health``):
every failed connection attempt, refusal and disconnect is reported with its
cause. Causes a retry cannot fix (MQTT 5 reason codes 0x85-0x87 on CONNACK,
0x8E on DISCONNECT) are logged at ERROR with what to do.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from airkit import contract as wire

from .health import State, broker_state
from .ingest import Inbound
from .mqtt_client import CollectorClient
from .settings import MqttSettings

log = logging.getLogger("airtrail.mqtt")


def readings_filter(share_group: str | None) -> str:
    topic = f"{wire.TOPIC_ROOT}/+/{wire.READINGS}"
    return f"$share/{share_group}/{topic}" if share_group else topic


STATUS_FILTER = f"{wire.TOPIC_ROOT}/+/{wire.STATUS}"

# MQTT 5 reason codes (spec 2.4, table 2-6) a reconnect cannot fix: a person must.
SESSION_TAKEN_OVER = 0x8E
UNSPECIFIED_ERROR = 0x80  # what paho reports for a connection the broker closed without a DISCONNECT
# Mosquitto before 2.0.15 closes a taken-over connection without the DISCONNECT
# 0x8E that MQTT 5 (3.1.4-3) requires, and then accepts the collector's next
# attempt at once (paho retries after 0.2 s). A broker that went away refuses
# that first attempt. So a silent close followed by a first retry that
# succeeds within this window is taken for a takeover.
TAKEOVER_WINDOW_S = 1.0
REFUSALS = {
    0x85: "the broker does not accept client id {client_id}: set mqtt.client_id to one it allows",
    0x86: "the broker does not accept the collector's user name or password: check mqtt.username and mqtt.password "
    "(`airtrail device list` shows the collector account)",
    0x87: "account {username} may not connect as client id {client_id}: check mqtt.username and mqtt.password, "
    "and that the broker lets this account use this client id",
}


class MqttSource:
    def __init__(
        self,
        settings: MqttSettings,
        username: str | None,
        password: str | None,
        deliver: Callable[[Inbound], None],
        paused: Callable[[], bool] = lambda: False,
        state: State | None = None,
    ) -> None:
        self.settings = settings
        self.username = username
        self.deliver = deliver
        self.state = state or broker_state(f"{settings.host}:{settings.port}")
        self.generation = 0
        self._refusal = ""  # a refused CONNACK's cause, reported by the disconnect paho calls next
        self._connected_before = False
        self._closed_silently_at: float | None = None  # time.monotonic() of a close without a DISCONNECT
        self._stopping = False
        # Set once the broker has confirmed our subscriptions: from then on it
        # queues every reading for this session, even while we are away.
        self.subscribed = threading.Event()
        self._ack_lock = threading.Lock()
        client = CollectorClient(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            on_publish_fast=self._receive,
            paused=paused,
        )
        if username:
            client.username_pw_set(username, password)
        if settings.tls:
            client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=0.2, max_delay=5)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        self.client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s, clean_start=False, properties=props
        )
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def ack_all(self, messages: Sequence[Inbound]) -> None:
        """Acknowledge ``messages`` to the broker, in the order given."""
        # An ack for a message from an earlier connection could acknowledge a
        # different message that reuses its packet id on the new one; skip it:
        # the broker redelivers that message and we store it again, harmlessly.
        # Every disconnect starts a new generation, so nothing is acked while
        # disconnected either.
        with self._ack_lock:
            generation = self.generation
            self.client.ack_many([m.mid for m in messages if m.qos == 1 and m.generation == generation])

    @property
    def connected(self) -> bool:
        return self.state.is_up

    @property
    def last_error(self) -> str:
        return self.state.error or ""

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            hint = REFUSALS.get(reason_code.value, "")
            cause = f"the broker refused the connection (0x{reason_code.value:02X} {reason_code})"
            self._refusal = f"{cause}: {hint.format(client_id=self.settings.client_id, username=self.username)}" if hint else cause
            return
        self.state.up(f" (session present: {flags.session_present})")
        if not flags.session_present and self.settings.session_expiry_s > 0:
            # We asked to resume (clean_start=False) and the broker started afresh.
            what = ("lost this collector's session since the last connection: the readings it had queued for the collector are gone"
                    if self._connected_before else
                    "has no session for this collector: new on a first start with this client id; otherwise the backlog it kept "
                    "for the collector was lost")
            log.warning("the broker %s (client id %s; causes: the session expired, the broker restarted without persistence, "
                        "or another client used this client id with a clean start)", what, self.settings.client_id)
        self._connected_before = True
        closed_at, self._closed_silently_at = self._closed_silently_at, None
        if closed_at is not None and time.monotonic() - closed_at < TAKEOVER_WINDOW_S:
            log.error("%s", self._taken_over(", most likely (the broker closed the connection without a reason and let the collector "
                                             "straight back in, as Mosquitto before 2.0.15 does instead of sending MQTT 5 reason code 0x8E)"))
        client.subscribe(
            [
                (readings_filter(self.settings.share_group), SubscribeOptions(qos=1)),
                # Status is never shared: retained messages are not delivered on
                # shared subscriptions, and every replica wants every kit's state.
                (STATUS_FILTER, SubscribeOptions(qos=1)),
            ]
        )

    def _on_connect_fail(self, client, userdata) -> None:
        self._closed_silently_at = None  # the broker was away: not a takeover
        error = getattr(client, "connect_error", None)
        self.state.down(f"cannot connect: {error or 'no answer'} (is the broker running, and listening on this address?)")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self.state.down(f"broker refused the subscriptions: {', '.join(refused)} (check the broker ACL for {self.settings.client_id})",
                            level=logging.ERROR)
            return
        self.subscribed.set()
        log.info("subscribed to %s and %s", readings_filter(self.settings.share_group), STATUS_FILTER)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._ack_lock:
            self.generation += 1
        if self._stopping:
            return
        refusal, self._refusal = self._refusal, ""
        if refusal:
            self.state.down(refusal, level=logging.ERROR)
        elif flags.is_disconnect_packet_from_server and reason_code.value == SESSION_TAKEN_OVER:
            self.state.down(self._taken_over(" (MQTT 5 reason code 0x8E)"), level=logging.ERROR)
        elif flags.is_disconnect_packet_from_server:
            self.state.down(f"the broker closed the connection (0x{reason_code.value:02X} {reason_code})")
        else:
            if reason_code.value == UNSPECIFIED_ERROR:
                self._closed_silently_at = time.monotonic()
            self.state.down(f"lost the connection to the broker ({reason_code})")

    def _taken_over(self, evidence: str) -> str:
        return (f"session taken over{evidence}: another client connected as {self.username} with client id {self.settings.client_id} "
                "(a second collector with the same settings?); each collector replica needs its own account and client id: "
                "`airtrail device add-collector NAME`, then mqtt.username = NAME")

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        """paho's path: messages the fast path leaves to paho."""
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers should refuse these; quarantine rather than crash paho's loop
            topic = msg._topic.decode("utf-8", "replace")
        self._receive(topic, msg.payload, msg.mid, msg.qos, bool(msg.retain))

    def _receive(self, topic: str, payload: bytes, mid: int, qos: int, retained: bool = False) -> None:
        self.deliver(Inbound(topic, payload, time.time(), mid, qos, self.generation, retained))


def prime_session(settings: MqttSettings, username: str | None, password: str | None, timeout: float = 10.0) -> bool:
    """Create the collector's persistent session on the broker, then leave.

    A broker queues QoS 1 messages only for sessions that exist; a reading a
    kit publishes before the collector ever subscribed is not kept for it.
    Priming the session when the stack starts closes that gap.
    """
    source = MqttSource(settings, username, password, deliver=lambda message: None)
    source.start()
    try:
        return source.subscribed.wait(timeout)
    finally:
        source.stop()
