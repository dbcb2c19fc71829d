"""The collector's MQTT connection (paho-mqtt 2.x, MQTT 5, QoS 1, manual acks).

A fixed client id with ``clean_start=False`` and a session expiry keeps the
session (subscriptions and the unacknowledged backlog) on the broker across
collector restarts and crashes; paho's default would clear it at every start.
Messages are acknowledged by the store worker, after storage, through ``ack``.

The source is the one reporter of the broker's state (``collector.health``):
every failed connection attempt, refusal and disconnect is reported with its
cause.
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
        self.deliver = deliver
        self.state = state or broker_state(f"{settings.host}:{settings.port}")
        self.generation = 0
        self._refusal = ""  # a refused CONNACK's cause, reported by the disconnect paho calls next
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
            self._refusal = (f"the broker refused the connection (0x{reason_code.value:02X} {reason_code}): check "
                             "mqtt.username/password; `airtrail device list` shows the collector account")
            return
        self.state.up(f" (session present: {flags.session_present})")
        client.subscribe(
            [
                (readings_filter(self.settings.share_group), SubscribeOptions(qos=1)),
                # Status is never shared: retained messages are not delivered on
                # shared subscriptions, and every replica wants every kit's state.
                (STATUS_FILTER, SubscribeOptions(qos=1)),
            ]
        )

    def _on_connect_fail(self, client, userdata) -> None:
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
        elif flags.is_disconnect_packet_from_server:
            self.state.down(f"the broker closed the connection (0x{reason_code.value:02X} {reason_code})")
        else:
            self.state.down(f"lost the connection to the broker ({reason_code})")

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        """paho's path: messages the fast path leaves to paho."""
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers should refuse these; quarantine rather than crash paho's loop
            topic = msg._topic.decode("utf-8", "replace")
        self._receive(topic, msg.payload, msg.mid, msg.qos)

    def _receive(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.deliver(Inbound(topic, payload, time.time(), mid, qos, self.generation))


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
