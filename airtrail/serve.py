"""`airtrail serve`: the collector and the whole web app in one process."""

from __future__ import annotations

import typer

from collector.cli import ClientId, InfluxUrl, MqttHost, MqttPort, ShareGroup, Transport, Verbose, collector_overrides, console, setup_logging
from collector.settings import cli_settings

commands = typer.Typer()


@commands.command()
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

    from collector.service import Collector

    from .web import build_app

    setup_logging(verbose)
    s = cli_settings(**{"api.host": host, "api.port": port, **collector_overrides(client_id, share_group, mqtt_host, mqtt_port, influx_url, transport)})
    collector = Collector(s).start()
    console.print(f"API on http://{s.api.host}:{s.api.port}  (docs: /docs, health: /health, metrics: /metrics)")
    try:
        uvicorn.run(build_app(collector), host=s.api.host, port=s.api.port, log_level="warning")
    finally:
        collector.stop()
