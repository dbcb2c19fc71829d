"""The collector: MQTT → validate → InfluxDB, the HTTP API, the local stack and the device registry.

What the packages above it (the kit tooling, walks, viz, the front door) use:

    collector.settings   Settings, load_settings, cli_settings: the one place configuration enters
    collector.readings   fetch_readings, rows_csv, UnknownFields: the one read of a kit's stored readings
    collector.errors     the collector's errors (the whole tree is drawn in airkit.errors)
    collector.devices    DeviceRegistry: kits and broker accounts
    collector.stack      Stack: the local Mosquitto and InfluxDB
    collector.service    Collector: the running collector (for `serve` and the demo)
    collector.api.app    create_app: the collector's API, which the front door extends
    collector.cli        the collector's commands

It imports nothing from the packages above it (tests/test_layers.py).
"""
