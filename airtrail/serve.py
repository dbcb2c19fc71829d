"""`airtrail serve`: the collector and the whole web app in one process."""

from __future__ import annotations

import socket

import typer

from collector.cli import ClientId, InfluxUrl, MqttHost, MqttPort, ShareGroup, Transport, Verbose, collector_settings, console
from collector.errors import ConfigError

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

    s = collector_settings(verbose, client_id, share_group, mqtt_host, mqtt_port, influx_url, transport, **{"api.host": host, "api.port": port})
    # Bind the API's socket before the collector touches the broker: a second
    # `serve` on a busy port must not first take the running collector's session.
    listener = _bind(s.api.host, s.api.port)
    collector = Collector(s).start()
    console.print(f"API on http://{s.api.host}:{s.api.port}  (docs: /docs, health: /health, metrics: /metrics)")
    try:
        server = uvicorn.Server(uvicorn.Config(build_app(collector), log_level="warning"))
        server.run(sockets=[listener])
    finally:
        collector.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(f"the API cannot listen on {host}:{port} ({exc.strerror}): another `airtrail serve` may be running; "
                          "stop it, or choose another port with --port or api.port") from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener
