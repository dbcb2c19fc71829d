"""The local stack: Mosquitto and InfluxDB as background processes."""

from __future__ import annotations

import time
from dataclasses import dataclass

from collector.devices import DeviceRegistry
from collector.errors import StackError
from collector.settings import Settings

from .process import Service, free_port, port_in_use
from .services import InfluxDB, KitEndpoint, Mosquitto

__all__ = ["Stack", "Service", "Mosquitto", "InfluxDB", "KitEndpoint", "free_port", "port_in_use"]


@dataclass
class Stack:
    mosquitto: Mosquitto
    influxdb: InfluxDB
    registry: DeviceRegistry

    @classmethod
    def from_settings(cls, settings: Settings) -> "Stack":
        root = settings.stack_dir
        return cls(
            Mosquitto(root / "mosquitto", settings.stack.mqtt_port, settings.stack.kit_address, settings.stack.kit_port,
                      settings.stack.kit_tls),
            InfluxDB(root / "influxdb", settings.stack.influx_port, settings.stack.influx_rpc_port, settings.influx.database),
            DeviceRegistry(settings.registry_path),
        )

    @property
    def services(self) -> list[Service]:
        return [self.mosquitto, self.influxdb]

    def up(self) -> None:
        wanted, running = self.mosquitto.configured_endpoint(), self.mosquitto.kit_endpoint()
        if self.mosquitto.running() and wanted is not None and wanted != running:
            raise StackError(f"the broker is already running with {'kit listener ' + running.url if running else 'no kit listener'}; "
                             "run `airtrail stack down` first, then `airtrail stack up` with the new kit address")
        self.mosquitto.check_kit_address()
        self.sync_broker_auth()
        self.influxdb.start()
        self.mosquitto.start()

    def kit_endpoint(self):
        """Where kits connect (a KitEndpoint), while the broker runs with a kit listener; else None."""
        return self.mosquitto.kit_endpoint() if self.mosquitto.running() else None

    def down(self) -> list[str]:
        """Stop every service; the names of those that were running."""
        stopped = []
        for service in reversed(self.services):
            if service.running():
                stopped.append(service.name)
            service.stop()
        return stopped

    def sync_broker_auth(self) -> bool:
        """Regenerate Mosquitto's password file and ACL; reload it if running (True then)."""
        self.registry.write_broker_files(self.mosquitto.auth_dir)
        if not self.mosquitto.reload():
            return False
        time.sleep(0.3)  # Mosquitto re-reads the files after SIGHUP, asynchronously
        return True
