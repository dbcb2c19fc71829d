"""`airtrail collect` (collector alone), `airtrail serve` (collector + HTTP API)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import typer
from rich.logging import RichHandler

from collector.service import Collector

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema" / "airtrail-v1.schema.json"

from .common import console, settings


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _collector_overrides(client_id, share_group, mqtt_host, mqtt_port, influx_url, transport) -> dict:
    return {
        "mqtt.client_id": client_id,
        "mqtt.share_group": share_group,
        "mqtt.host": mqtt_host,
        "mqtt.port": mqtt_port,
        "influx.url": influx_url,
        "influx.transport": transport,
    }


ClientId = typer.Option(None, help="Fixed MQTT client id; each replica needs its own.")
ShareGroup = typer.Option(None, help="Share the readings subscription ($share/<group>/...) with other replicas.")
MqttHost = typer.Option(None, help="Broker host (default: the local stack).")
MqttPort = typer.Option(None, help="Broker port.")
InfluxUrl = typer.Option(None, help="InfluxDB URL.")
Transport = typer.Option(None, help="v1 (/write) or v2 (/api/v2/write via influxdb-client).")
Verbose = typer.Option(False, "--verbose", "-v")


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        client_id: str = ClientId,
        share_group: str = ShareGroup,
        mqtt_host: str = MqttHost,
        mqtt_port: int = MqttPort,
        influx_url: str = InfluxUrl,
        transport: str = Transport,
        verbose: bool = Verbose,
    ) -> None:
        """Run the collector alone (for scale-out replicas): MQTT → validate → InfluxDB."""
        setup_logging(verbose)
        s = settings(**_collector_overrides(client_id, share_group, mqtt_host, mqtt_port, influx_url, transport))
        collector = Collector(s).start()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        console.print(f"Collecting from mqtt://{s.mqtt.host}:{s.mqtt.port} into {s.influx.url} (db {s.influx.database}). Ctrl-C stops.")
        stop.wait()
        collector.stop()

    @app.command()
    def serve(
        host: str = typer.Option(None, help="API listen address (default 127.0.0.1)."),
        port: int = typer.Option(None, help="API port (default 8000)."),
        client_id: str = ClientId,
        share_group: str = ShareGroup,
        mqtt_host: str = MqttHost,
        mqtt_port: int = MqttPort,
        influx_url: str = InfluxUrl,
        transport: str = Transport,
        verbose: bool = Verbose,
    ) -> None:
        """Run the collector and the HTTP API in one process."""
        import uvicorn

        from collector.api.app import create_app

        setup_logging(verbose)
        s = settings(**{"api.host": host, "api.port": port, **_collector_overrides(client_id, share_group, mqtt_host, mqtt_port, influx_url, transport)})
        collector = Collector(s).start()
        console.print(f"API on http://{s.api.host}:{s.api.port}  (docs: /docs, health: /health, metrics: /metrics)")
        try:
            uvicorn.run(create_app(collector), host=s.api.host, port=s.api.port, log_level="warning")
        finally:
            collector.stop()

    @app.command()
    def schema(write: bool = typer.Option(False, "--write", help=f"Write {SCHEMA_FILE} instead of printing.")) -> None:
        """The JSON Schema of the MQTT message contract (generated from the one definition)."""
        import json

        from collector.contract import json_schema

        text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
        if write:
            SCHEMA_FILE.write_text(text)
            console.print(f"Wrote {SCHEMA_FILE}")
        else:
            print(text, end="")

    @app.command()
    def demo() -> None:
        """The whole story on the local stack: kits → broker → collector → InfluxDB → API."""
        from .demo import run_demo

        run_demo()
