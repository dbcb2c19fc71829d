"""A simulated data walk with known truth: where everyone was, when, and what the air held.

A group walks a planned route together. Each participant's true position is
known every second; the air along the route has a slow background, hot spots
at two places (a junction, a bus stop) and passing plumes that every kit near
them breathes at the same moment. Each kit measures that air with its own
gain and noise and stamps its readings with its own clock; each phone records
a GPX track of its owner with GPS noise. A test builds the walk from the
files the simulation writes and compares what comes out with the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from airkit_host.pull import write_csv

LAT0, LON0 = 53.4740, -2.2500
M_PER_DEG = 111_195.0
M_PER_DEG_LON = M_PER_DEG * np.cos(np.radians(LAT0))
# The planned route, metres east/north of (LAT0, LON0): about 4.2 km with five turns.
ROUTE_EN = np.array([(0, 0), (900, 0), (900, 700), (1500, 700), (1500, 1300), (2300, 1300), (2300, 1700)], float)
HOT_SPOTS_M = ((1200.0, 30.0), (2900.0, 45.0))  # (distance along the route, extra µg/m³ at its centre)
WALK_START = datetime(2026, 5, 16, 9, 0, tzinfo=UTC)  # 10:00 in Europe/London (BST)
WALK_S = 3600
COLOCATION_S = (-900, -300)  # kits side by side at the start, 15 to 5 minutes before setting off
SPEED_M_S = 1.15


def to_latlon(east, north):
    return LAT0 + np.asarray(north, float) / M_PER_DEG, LON0 + np.asarray(east, float) / M_PER_DEG_LON


def route_latlon() -> tuple[np.ndarray, np.ndarray]:
    return to_latlon(ROUTE_EN[:, 0], ROUTE_EN[:, 1])


def _along(distance_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    legs = np.hypot(*np.diff(ROUTE_EN, axis=0).T)
    at = np.concatenate([[0], np.cumsum(legs)])
    d = np.clip(distance_m, 0, at[-1])
    return np.interp(d, at, ROUTE_EN[:, 0]), np.interp(d, at, ROUTE_EN[:, 1])


@dataclass
class Kit:
    device: str
    participant: str
    clock_offset_s: float  # true time = kit time + offset
    clk: str  # how its clock was set on the walk
    gain: float
    phone: bool  # the participant carries a phone that records a GPX; otherwise the kit's GPS gives positions
    lag_m: float = 0.0  # how far behind the group's leader the participant walks
    seq0: int = 1000


@dataclass
class Walk:
    kits: list[Kit]
    seed: int = 3
    every_s: int = 10
    t0: int = int(WALK_START.timestamp())
    truth_t: np.ndarray = field(init=False)  # seconds, one a second from the co-location to the walk's end
    air: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.truth_t = np.arange(self.t0 + COLOCATION_S[0], self.t0 + WALK_S + 1)
        s = self.truth_t - self.t0
        background = 9 + 3 * np.sin(s / 900) + np.cumsum(rng.normal(0, 0.05, len(s)))
        plumes = np.zeros(len(s))
        for centre in rng.uniform(s[0], s[-1], size=len(s) // 200):
            plumes += rng.uniform(5, 40) * np.exp(-0.5 * ((s - centre) / rng.uniform(5, 30)) ** 2)
        self.air = np.clip(background, 1, None) + plumes
        self.rng = rng

    def distance(self, kit: Kit, true_t: np.ndarray) -> np.ndarray:
        """Metres along the route at true time ``true_t`` (standing at the start before setting off)."""
        return np.clip((true_t - self.t0) * SPEED_M_S - kit.lag_m, 0, None)

    def position(self, kit: Kit, true_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return to_latlon(*_along(self.distance(kit, true_t)))

    def pm(self, kit: Kit, true_t: np.ndarray) -> np.ndarray:
        air = np.interp(true_t, self.truth_t, self.air)
        d = self.distance(kit, true_t)
        for at, extra in HOT_SPOTS_M:
            air = air + extra * np.exp(-0.5 * ((d - at) / 25) ** 2) * (true_t >= self.t0)
        return kit.gain * air * self.rng.lognormal(0, 0.06, len(true_t))

    def true_times(self, kit: Kit) -> np.ndarray:
        phase = self.rng.integers(0, self.every_s)
        return np.arange(self.t0 + COLOCATION_S[0] + phase, self.t0 + WALK_S, self.every_s)

    def readings(self, kit: Kit) -> tuple[np.ndarray, list[dict]]:
        """(true times, the readings as the kit published them)."""
        true_t = self.true_times(kit)
        pm25 = self.pm(kit, true_t)
        lat, lon = self.position(kit, true_t)
        rh = 55 + 10 * np.sin((true_t - self.t0) / 2000)
        out = []
        for i, (t, p) in enumerate(zip(true_t, pm25)):
            r = {"ts": int(round(t - kit.clock_offset_s)), "seq": kit.seq0 + i, "clk": kit.clk, "pm25": round(float(p), 1),
                 "pm10": round(float(p * 1.4), 1), "pm1": round(float(p * 0.7), 1), "pm25_cf1": round(float(p * 1.1), 1),
                 "rh": round(float(rh[i]), 1), "temp": 14.5}
            if not kit.phone:
                e, n = self.rng.normal(0, 2.5, 2)
                r["lat"] = round(float(lat[i] + n / M_PER_DEG), 7)
                r["lon"] = round(float(lon[i] + e / M_PER_DEG_LON), 7)
            r["flags"] = []
            out.append(r)
        return true_t, out

    def gpx(self, kit: Kit) -> str:
        """The phone's GPX 1.1 track: a fix a second, with GPS noise, from the co-location to the end."""
        t = np.arange(self.t0 + COLOCATION_S[0], self.t0 + WALK_S + 1)
        lat, lon = self.position(kit, t)
        e, n = self.rng.normal(0, 3.0, (2, len(t)))
        lat, lon = lat + n / M_PER_DEG, lon + e / M_PER_DEG_LON
        points = "".join(f'<trkpt lat="{a:.7f}" lon="{o:.7f}"><ele>40.0</ele><time>{datetime.fromtimestamp(int(s), UTC):%Y-%m-%dT%H:%M:%SZ}'
                         f"</time></trkpt>\n" for a, o, s in zip(lat, lon, t))
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="simulated phone" '
                'xmlns="http://www.topografix.com/GPX/1/1">\n<trk><name>walk</name><trkseg>\n' + points + "</trkseg></trk>\n</gpx>\n")

    def write(self, folder: Path, extra_readings: dict[str, list[dict]] | None = None) -> dict[str, np.ndarray]:
        """The walk's files: route.geojson, pulls/<kit>-<stamp>.csv, phones/<participant>.gpx. Returns each kit's true times."""
        import json

        folder.mkdir(parents=True, exist_ok=True)
        lat, lon = route_latlon()
        (folder / "route.geojson").write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": {
            "type": "LineString", "coordinates": [[round(float(o), 7), round(float(a), 7)] for a, o in zip(lat, lon)]}}))
        (folder / "pulls").mkdir(exist_ok=True)
        (folder / "phones").mkdir(exist_ok=True)
        truth = {}
        for kit in self.kits:
            true_t, readings = self.readings(kit)
            truth[kit.device] = true_t
            readings = (extra_readings or {}).get(kit.device, []) + readings
            write_csv(kit.device, readings, folder / "pulls" / f"{kit.device}-20260516T120000Z.csv")
            if kit.phone:
                (folder / "phones" / f"{kit.participant.lower()}.gpx").write_text(self.gpx(kit))
        return truth


def walk_file(walk: Walk, zones: str = "", trim_m: float = 200, colocation_apply: bool = False) -> str:
    participants = "".join(
        f'[[participants]]\npseudonym = "{k.participant}"\nkit = "{k.device}"\n' + (f'gpx = "phones/{k.participant.lower()}.gpx"\n' if k.phone else "")
        for k in walk.kits)
    return f'''title = "Simulated walk"
date = 2026-05-16
timezone = "Europe/London"
languages = ["en", "es"]
licence = "CC-BY-4.0"

[window]
start = 10:00:00
end = 11:00:00

[colocation]
start = 09:45:00
end = 09:55:00
apply = {str(colocation_apply).lower()}

[route]
file = "route.geojson"
segment_m = 50

[readings]
source = "pull"
folder = "pulls"

[privacy]
trim_m = {trim_m}

{participants}
{zones}'''
