# The kit's configuration: /config.json on the kit's flash, merged onto
# DEFAULTS, then checked by validate().
#
# Layers, lowest first: DEFAULTS here; pin defaults from airkit.pins (generated
# from the pin map in hardware/, the one source of truth for wiring); then the
# kit's own /config.json, written by `airtrail kit provision`.
#
# validate() never raises on bad input: it returns every problem it found as a
# sentence that says what to change, so boot can print them all on the console
# and blink the LED instead of crash-looping (see status.py and main.py).
#
# Runs on MicroPython and CPython alike: no typing, no dataclasses, % formatting.

import json

from . import contract

# Every key the kit understands, with its default. `airtrail kit provision`
# writes config.json from these plus the device's credentials.
DEFAULTS = {
    "device_id": "",
    # Which board layout: "walk" (battery, GPS, carried) or "fixed" (mains, a
    # window or balcony). Chooses the pin defaults from airkit.pins.PINS.
    "variant": "walk",
    # "online": send readings as they are taken whenever Wi-Fi is up.
    # "walk": record with no network and forward the backlog later; the kit
    # looks for Wi-Fi only every walk_wifi_retry_s, to save battery.
    "mode": "online",
    "walk_wifi_retry_s": 300,
    # Networks in priority order, e.g. home first, then a phone hotspot:
    # [{"ssid": "home", "password": "..."}, {"ssid": "phone", "password": "..."}]
    "wifi": [],
    "mqtt": {
        "host": "",
        "port": 0,  # 0: 1883, or 8883 when tls is true
        "username": "",  # "": the device id (the collector's registry uses it)
        "password": "",
        "tls": False,
        # CA certificate file on the kit (PEM or DER) to verify the broker;
        # "" with tls: encrypted but the broker is not authenticated.
        "ca_file": "",
        "keepalive": 60,
    },
    # One reading is published per interval: the aggregate of the samples
    # taken every sample_s inside it.
    "interval_s": 60,
    "sample_s": 5,
    "aggregate": "median",  # "median" or "trimmed" (trimmed mean)
    "sensors": {
        "pm": "pms5003",  # pms5003 | pms7003 | sds011 | none
        "bme280": True,
        "gps": True,
        "scd4x": False,
        "battery": True,
    },
    # Optical PM sensors need their fan to run ~30 s before readings settle
    # (Plantower PMS5003 datasheet: "stable data ... 30 seconds after the
    # sensor wakes up"; Nova SDS011 datasheet: "the stable data should be got
    # at least 30 seconds after the sensor wakeup from the sleep mode because
    # of the fan's performance"). The one warm-up rule is sensors.PMSensor's,
    # with this setting. "cycle" sleeps the fan between intervals when the
    # interval is long enough; "continuous" never sleeps it.
    "pm_warmup_s": 30,
    "pm_duty": "cycle",
    # Flash the store-and-forward queue may use; when full the oldest readings
    # are dropped and counted (reported as "dropped" in the status message).
    "queue_budget_kb": 512,
    # Readings per MQTT message when flushing a backlog.
    "batch_max": 50,
    "ntp_host": "pool.ntp.org",
    # Pin overrides, {role: gpio}, on top of airkit.pins.PINS[variant].
    "pins": {},
}

VARIANTS = ("walk", "fixed")
MODES = contract.MODES
PM_SENSORS = ("pms5003", "pms7003", "sds011", "none")
PM_DUTIES = ("cycle", "continuous")
AGGREGATES = ("median", "trimmed")
ON_OFF_SENSORS = ("bme280", "gps", "scd4x", "battery")
# Sensors a variant does not carry by default: the fixed kit runs on mains
# power at one place, so it has neither a GPS nor a battery.
VARIANT_SENSORS = {"fixed": {"gps": False, "battery": False}}
# The pin roles (airkit.pins) each enabled sensor needs.
SENSOR_PINS = {
    "pm": ("pm_tx", "pm_rx"),
    "bme280": ("i2c_sda", "i2c_scl"),
    "scd4x": ("i2c_sda", "i2c_scl"),
    "gps": ("gps_rx",),
    "battery": ("batt_adc",),
}
MAX_WIFI = 8
MAX_GPIO = 48  # ESP32-S3 has GPIO 0..48; the classic ESP32 0..39

# Whole-number settings: (key, minimum, maximum, unit for messages)
_RANGES = (
    ("interval_s", 1, 86400, "s"),
    ("sample_s", 1, 3600, "s"),
    ("pm_warmup_s", 0, 300, "s"),
    ("walk_wifi_retry_s", 10, 86400, "s"),
    ("queue_budget_kb", 16, 8192, "KB"),  # at least two 8 KB queue segments
    ("batch_max", 1, contract.MAX_BATCH, "readings"),
)


def device_id_ok(device_id):
    """contract.DEVICE_ID_PATTERN, checked by hand: MicroPython's re module has
    no counted repetition ({0,31}), so the pattern cannot be used as is."""
    if not isinstance(device_id, str) or not 1 <= len(device_id) <= 32:
        return False
    for i, ch in enumerate(device_id):
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            continue
        if i > 0 and ch in "_-":
            continue
        return False
    return True


def _is_int(value):
    # JSON true/false are Python bools, and bool is a subclass of int.
    return isinstance(value, int) and not isinstance(value, bool)


def _merge(base, override):
    """A copy of base with override's keys laid over it, recursing into dicts."""
    out = {}
    for key in base:
        value = base[key]
        # Copy nested containers so that filling in a config never edits DEFAULTS.
        if isinstance(value, dict):
            value = _merge(value, {})
        elif isinstance(value, list):
            value = list(value)
        out[key] = value
    for key in override:
        if key in out and isinstance(out[key], dict) and isinstance(override[key], dict):
            out[key] = _merge(out[key], override[key])
        else:
            out[key] = override[key]
    return out


def pin_defaults(variant):
    """The pin map for a variant, {role: gpio}, from the generated airkit.pins."""
    try:
        from . import pins
    except ImportError:
        return None
    return pins.PINS.get(variant)


def _check_unknown(conf, defaults, prefix, problems):
    for key in conf:
        if key not in defaults:
            problems.append("unknown setting '%s%s': remove it or fix its spelling (known: %s)"
                            % (prefix, key, ", ".join(sorted(defaults))))


def _choice(conf, key, choices, problems, label=None):
    value = conf[key]
    if value not in choices:
        problems.append("%s is %s; use one of: %s" % (label or key, json.dumps(value), ", ".join(choices)))


def _check_wifi(wifi, problems):
    if not isinstance(wifi, list):
        problems.append('wifi must be a list like [{"ssid": "home", "password": "..."}]')
        return
    if len(wifi) > MAX_WIFI:
        problems.append("wifi lists %d networks; the kit tries at most %d, keep the ones it will meet" % (len(wifi), MAX_WIFI))
    for i, net in enumerate(wifi):
        where = "wifi[%d]" % i
        if not isinstance(net, dict):
            problems.append('%s must be an object like {"ssid": "home", "password": "..."}' % where)
            continue
        for key in net:
            if key not in ("ssid", "password"):
                problems.append("unknown setting '%s.%s': only ssid and password are used" % (where, key))
        ssid = net.get("ssid")
        # IEEE 802.11: an SSID is 1-32 octets; WPA2 passphrases are 8-63 characters.
        if not isinstance(ssid, str) or not 1 <= len(ssid.encode()) <= 32:
            problems.append("%s.ssid must be the network name, 1-32 bytes" % where)
        password = net.get("password", "")
        if not isinstance(password, str) or (password and not 8 <= len(password) <= 64):
            problems.append('%s.password must be 8-63 characters (WPA2), or "" for an open network' % where)


def _check_mqtt(conf, problems):
    mqtt = conf["mqtt"]
    if not isinstance(mqtt, dict):
        problems.append("mqtt must be an object with host, port, username, password, tls, keepalive")
        return
    _check_unknown(mqtt, DEFAULTS["mqtt"], "mqtt.", problems)
    for key in ("host", "username", "password", "ca_file"):
        if not isinstance(mqtt[key], str):
            problems.append("mqtt.%s must be a string" % key)
    if not isinstance(mqtt["tls"], bool):
        problems.append("mqtt.tls must be true or false")
    port = mqtt["port"]
    if not _is_int(port) or not 0 <= port <= 65535:
        problems.append("mqtt.port must be 1-65535 (or 0 for 1883, 8883 with tls)")
    elif port == 0:
        mqtt["port"] = 8883 if mqtt["tls"] is True else 1883
    # MQTT 3.1.1 section 3.1.2.10: keep alive is a 16-bit number of seconds;
    # below 10 s a kit on a weak hotspot would be disconnected for nothing.
    keepalive = mqtt["keepalive"]
    if not _is_int(keepalive) or not 10 <= keepalive <= 65535:
        problems.append("mqtt.keepalive must be 10-65535 seconds (60 is a good choice)")
    if mqtt["username"] == "" and isinstance(conf["device_id"], str):
        mqtt["username"] = conf["device_id"]
    # Credentials are needed as soon as the kit will talk to a broker: always
    # in online mode, and in walk mode when it has Wi-Fi to forward over.
    needs_broker = conf["mode"] == "online" or (isinstance(conf["wifi"], list) and len(conf["wifi"]) > 0)
    if needs_broker:
        if mqtt["host"] == "":
            problems.append("mqtt.host is empty: set the collector's broker address (`airtrail kit provision` writes it)")
        if mqtt["password"] == "":
            problems.append("mqtt.password is empty: provision the kit with `airtrail kit provision --device %s`"
                            % (conf["device_id"] or "<id>"))


def _check_sensors(conf, problems):
    sensors = conf["sensors"]
    if not isinstance(sensors, dict):
        problems.append("sensors must be an object like %s" % json.dumps(DEFAULTS["sensors"]))
        return
    _check_unknown(sensors, DEFAULTS["sensors"], "sensors.", problems)
    _choice(sensors, "pm", PM_SENSORS, problems, "sensors.pm")
    for key in ON_OFF_SENSORS:
        if not isinstance(sensors[key], bool):
            problems.append("sensors.%s must be true or false" % key)


def _all_roles():
    try:
        from . import pins
    except ImportError:
        return ()
    roles = {}
    for variant in pins.PINS:
        for role in pins.PINS[variant]:
            roles[role] = True
    return sorted(roles)


def _resolve_pins(conf, problems):
    defaults = pin_defaults(conf["variant"]) if conf["variant"] in VARIANTS else {}
    if defaults is None:
        problems.append("airkit/pins.py is missing or has no '%s' variant: rebuild the bundle with `airtrail kit build`"
                        % conf["variant"])
        defaults = {}
    overrides = conf["pins"]
    pins = {}
    for role in defaults:
        pins[role] = defaults[role]
    roles = _all_roles()
    if not isinstance(overrides, dict):
        problems.append('pins must be an object of {role: gpio}, e.g. {"pm_tx": 17}')
    else:
        for role in overrides:
            gpio = overrides[role]
            if roles and role not in roles:
                problems.append("pins.%s is not a pin role (roles: %s)" % (role, ", ".join(roles)))
            elif not _is_int(gpio) or not 0 <= gpio <= MAX_GPIO:
                problems.append("pins.%s must be a GPIO number 0-%d" % (role, MAX_GPIO))
            else:
                pins[role] = gpio
    conf["pins"] = pins
    # An enabled sensor needs its wires.
    sensors = conf["sensors"]
    if isinstance(sensors, dict) and defaults:
        for name in SENSOR_PINS:
            enabled = sensors.get(name) not in (False, "none", None)
            missing = [role for role in SENSOR_PINS[name] if role not in pins]
            if enabled and missing:
                problems.append("sensors.%s is on but the %s kit has no %s pin: set it under pins, or turn the sensor off"
                                % (name, conf["variant"], " / ".join(missing)))


def validate(raw):
    """Merge ``raw`` (config.json as a dict) onto DEFAULTS and check it.

    Returns (config, problems): the merged config and a list of sentences, each
    naming a setting and what to do about it. An empty list means the kit can run.
    """
    problems = []
    if not isinstance(raw, dict):
        return _merge(DEFAULTS, {}), ["config.json must hold one JSON object {...}"]
    _check_unknown(raw, DEFAULTS, "", problems)
    variant = raw.get("variant", DEFAULTS["variant"])
    variant_defaults = VARIANT_SENSORS.get(variant, {}) if isinstance(variant, str) else {}
    conf = _merge(_merge(DEFAULTS, {"sensors": variant_defaults}), raw)

    if not device_id_ok(conf["device_id"]):
        if conf["device_id"] == "":
            problems.append("device_id is missing: provision the kit with `airtrail kit provision --device <id>`")
        else:
            problems.append("device_id %s is not valid: use 1-32 lower-case letters, digits, '-' or '_', "
                            "starting with a letter or digit" % json.dumps(conf["device_id"]))
    _choice(conf, "variant", VARIANTS, problems)
    _choice(conf, "mode", MODES, problems)
    _choice(conf, "pm_duty", PM_DUTIES, problems)
    _choice(conf, "aggregate", AGGREGATES, problems)
    for key, lo, hi, unit in _RANGES:
        value = conf[key]
        if not _is_int(value) or not lo <= value <= hi:
            problems.append("%s is %s; use a whole number from %d to %d %s" % (key, json.dumps(value), lo, hi, unit))
    if _is_int(conf["sample_s"]) and _is_int(conf["interval_s"]) and conf["sample_s"] > conf["interval_s"]:
        problems.append("sample_s (%d) is longer than interval_s (%d): sample at least once per interval"
                        % (conf["sample_s"], conf["interval_s"]))
    if not isinstance(conf["ntp_host"], str):
        problems.append("ntp_host must be a host name such as pool.ntp.org")
    _check_wifi(conf["wifi"], problems)
    if conf["mode"] == "online" and conf["wifi"] == []:
        problems.append('mode is "online" but wifi lists no networks: add one, or set mode to "walk"')
    _check_mqtt(conf, problems)
    _check_sensors(conf, problems)
    _resolve_pins(conf, problems)
    return conf, problems


def load(path="/config.json"):
    """Read and validate the config file. Returns (config, problems); never raises."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return _merge(DEFAULTS, {}), ["%s not found: provision the kit with `airtrail kit provision --device <id>`" % path]
    try:
        raw = json.loads(text)
    except ValueError:
        return _merge(DEFAULTS, {}), ["%s is not valid JSON: re-provision the kit, or fix it with `mpremote edit %s`" % (path, path)]
    return validate(raw)
