"""The root of every error airtrail reports to a person.

It sits at the bottom of the import layers (see [tool.importlinter] in
pyproject.toml), beside the message contract, so every package above it can
derive from it: the kit tooling, the collector, the hardware tools, the
walks and the maps. The front door (airtrail.cli) catches AirtrailError and
prints "Problem: <message>", exit 1, never a traceback; anything else that
escapes is a bug. Third-party errors (OSError from a port, pydantic's
ValidationError, tomllib's TOMLDecodeError, httpx's errors) are converted to
one of these where they enter, with a message that says what to do.

  AirtrailError                     airkit.errors
  ├── ConfigError                   airkit.errors: bad or missing configuration
  │   ├── PinMapError               hardware.pins: a pin map that is unreadable or unsafe
  │   ├── CalibrationError          hardware.calibration: a calibration file or fit that cannot be used
  │   ├── GuideError                hardware.guide: the hardware guide lacks a generated section's markers
  │   ├── PowerModelError           hardware.power: a runtime question the power model cannot answer
  │   ├── PlanError                 walks.plan: a walk file with problems, each with its line
  │   ├── GpxError                  walks.gpx: a GPX that cannot give a walk its positions
  │   ├── ObservationError          walks.observations: notes or photos with problems, each with its line or file
  │   ├── ReadingsError             walks.sources: a source of a walk's readings that cannot be read
  │   └── WalkRouteError            walks.route: a route file that holds no line to follow
  ├── StackError                    collector.errors: a local service cannot start, stop or be found
  ├── DeviceError                   collector.errors: device registry problems (unknown id, duplicate)
  ├── InfluxError                   collector.errors: InfluxDB answered in a way we cannot use
  │   ├── InfluxUnavailable         connection refused, timeout, 5xx, or 401/403/404 (setup): retry later
  │   └── InfluxRejected            4xx: the data itself is refused; retrying the same points fails again
  ├── UnknownFields                 collector.readings: a readings query names fields the contract lacks
  └── KitError                      airkit_host.errors: the kit, its port, the firmware or a virtual kit
      ├── BuildError                airkit_host.bundle
      ├── FlashError                airkit_host.flash
      ├── LinkError                 airkit_host.link
      ├── ProvisionError            airkit_host.provision
      ├── PullError                 airkit_host.pull
      ├── RouteError                airkit_host.route: a --route file that is missing or unreadable
      ├── VirtualBoardError         airkit_host.virtual_board
      └── MissingExtra              airkit_host.errors: a command needs an optional extra that is not installed

A test (tests/test_errors.py) keeps this drawing and the classes in step.
Not part of the tree: the kit's own runtime exceptions (SensorMissing,
MQTTError: OSErrors the firmware handles itself) and the API's ApiError, which
is an HTTP answer, not a message for the person running airtrail.

Plain classes with no typing, so the module also runs under MicroPython
(which drops docstrings when it compiles).
"""


class AirtrailError(Exception):
    """An error with a message written for the person running airtrail."""


class ConfigError(AirtrailError):
    """Bad or missing configuration: a setting, a file, a flag's value."""
