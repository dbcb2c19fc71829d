"""The walk file (walk.toml): what a facilitator plans, and its checks.

A walk file says when and where a group walked, who carried which kit (by
pseudonym only), where the kits sat side by side before setting off, which
places must never appear in a published output, and in which languages and
under which licence the result is published. Everything the walk tooling
builds starts from it.

``load_plan(path)`` parses and checks a walk file and returns a ``WalkPlan``,
or raises ``PlanError`` listing every problem with its line in the file and
what to change. Paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airkit import contract as wire
from airkit.errors import ConfigError

__all__ = ["LANGUAGES", "LICENCES", "PlanError", "WalkPlan", "load_plan", "template"]

# Output languages the maps and summaries are written in.
LANGUAGES = ("en", "es")
# Open licences a walk's data can be published under (SPDX identifiers), so
# open-data portals can take it as it is.
LICENCES = ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODbL-1.0", "ODC-By-1.0", "PDDL-1.0")
ROUTE_SUFFIXES = (".geojson", ".json", ".gpx")
PSEUDONYM = re.compile(r"^[\w][\w .'-]{0,31}$")


class PlanError(ConfigError):
    """A walk file with problems; the message lists each with its line and what to change."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listed = "".join(f"\n  - {problem}" for problem in problems)
        super().__init__(f"{path} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:{listed}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stop(_Strict):
    name: str = Field(min_length=1, max_length=80)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Route(_Strict):
    file: Path = Field(description="The planned route: a GeoJSON LineString, or a GPX route or track.")
    segment_m: float = Field(default=50, gt=0, le=5000, description="Length of the route's segments in the summary.")
    stops: tuple[Stop, ...] = ()

    @field_validator("file")
    @classmethod
    def _route_format(cls, file: Path) -> Path:
        if file.suffix.lower() not in ROUTE_SUFFIXES:
            raise ValueError(f"a route is a {', '.join(ROUTE_SUFFIXES)} file, not {file.suffix or 'a file without an ending'}")
        return file


class Window(_Strict):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must come after start ({self.start})")
        return self


class Colocation(Window):
    apply: bool = Field(default=False, description="Add each kit's values divided by its ratio to the group median as extra fields.")


class Readings(_Strict):
    source: Literal["influxdb", "api", "pull"] = "influxdb"
    url: str | None = Field(default=None, description="source = api: the collector's address.")
    folder: Path | None = Field(default=None, description="source = pull: the folder `airtrail kit pull --out` wrote.")
    search_h: float = Field(default=48, gt=0, le=24 * 14, description="How far around the walk to look for kits whose clock was wrong.")

    @model_validator(mode="after")
    def _where(self) -> Readings:
        if self.source == "api" and not self.url:
            raise ValueError('source = "api" needs the collector\'s url, e.g. url = "https://air.example.org"')
        if self.source == "api" and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} needs its scheme: https://{self.url}")
        if self.source == "pull" and self.folder is None:
            raise ValueError('source = "pull" needs the folder of pulled files, e.g. folder = "pulls"')
        return self


class Alignment(_Strict):
    tolerance_s: float = Field(default=10, ge=0, le=600, description="A reading this close in time to a fix takes it, at a track's ends.")
    max_gap_s: float = Field(default=60, gt=0, le=3600, description="Fixes farther apart than this are not interpolated between.")
    route_distance_m: float = Field(default=50, gt=0, le=1000, description="Readings farther than this from the route are off it.")


class Humidity(_Strict):
    correction: Literal["none", "epa", "kohler"] = "none"
    kappa: float | None = Field(default=None, gt=0, lt=2, description="correction = kohler: the aerosol's hygroscopicity κ.")

    @model_validator(mode="after")
    def _kappa(self) -> Humidity:
        if self.correction == "kohler" and self.kappa is None:
            raise ValueError('correction = "kohler" needs the κ of the aerosol, e.g. kappa = 0.3 (state where it comes from)')
        return self


class Participant(_Strict):
    pseudonym: str = Field(description="A name the participant chose for the outputs; never their real name.")
    kit: str = Field(description="The device id of the kit they carried.")
    gpx: Path | None = Field(default=None, description="Their phone's GPS track (GPX), if the kit has no GPS.")
    clock_offset_s: float | None = Field(default=None, description="Seconds the kit's clock was ahead of true time, if known.")

    @field_validator("pseudonym")
    @classmethod
    def _pseudonym(cls, name: str) -> str:
        if not PSEUDONYM.match(name):
            raise ValueError("a pseudonym is 1-32 letters, digits, spaces, ' . - or _")
        return name

    @field_validator("kit")
    @classmethod
    def _kit(cls, kit: str) -> str:
        if not re.match(wire.DEVICE_ID_PATTERN, kit):
            raise ValueError(f"{kit!r} is not a device id (1-32 lower-case letters, digits, '-' or '_')")
        return kit


class PrivacyZone(_Strict):
    name: str = Field(default="", max_length=80, description="For the facilitator only; never published.")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=5000)


class Privacy(_Strict):
    trim_m: float = Field(default=200, ge=0, le=5000, description="Metres cut from the start and end of each participant's trace.")


class WalkPlan(_Strict):
    title: str = Field(min_length=1, max_length=120)
    date: date
    timezone: str
    window: Window
    route: Route
    participants: tuple[Participant, ...] = Field(min_length=1)
    colocation: Colocation | None = None
    privacy_zones: tuple[PrivacyZone, ...] = ()
    privacy: Privacy = Privacy()
    readings: Readings = Readings()
    alignment: Alignment = Alignment()
    humidity: Humidity = Humidity()
    observations: tuple[Path, ...] = Field(default=(), description="Notes (CSV, GeoJSON) and photo folders or files.")
    calibration: Path | None = Field(default=None, description="A folder of <device>.toml calibrations; default hardware/calibration.")
    languages: tuple[str, ...] = ("en",)
    licence: str = "CC-BY-4.0"
    source: Path = Field(default=Path("walk.toml"), exclude=True)  # the walk file itself (its hash is provenance)
    folder: Path = Field(default=Path("."), exclude=True)  # where the file is; its paths are relative to it

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not a time zone name: use an IANA name such as Europe/London or America/Mexico_City") from None
        return name

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in languages if code not in LANGUAGES]
        if unknown or not languages:
            raise ValueError(f"languages are a list of {', '.join(LANGUAGES)}; not {', '.join(unknown) or 'an empty list'}")
        return languages

    @field_validator("licence")
    @classmethod
    def _licence(cls, licence: str) -> str:
        if licence not in LICENCES:
            raise ValueError(f"licence {licence!r} is not one of the open licences {', '.join(LICENCES)}")
        return licence

    @model_validator(mode="after")
    def _consistent(self) -> WalkPlan:
        pseudonyms = [p.pseudonym.casefold() for p in self.participants]
        twice = sorted({p.pseudonym for p in self.participants if pseudonyms.count(p.pseudonym.casefold()) > 1})
        if twice:
            raise ValueError(f"each participant needs their own pseudonym; used more than once: {', '.join(twice)}")
        kits = [p.kit for p in self.participants]
        shared = sorted({k for k in kits if kits.count(k) > 1})
        if shared:
            raise ValueError(f"each participant carries their own kit; carried by more than one: {', '.join(shared)}")
        if self.colocation is not None and self.colocation.start >= self.window.end:
            raise ValueError("the co-location window must start before the walk ends (kits side by side before setting off)")
        return self

    # -- derived ---------------------------------------------------------------

    def utc_window(self, window: Window | None = None) -> tuple[datetime, datetime]:
        """A window of this walk's day, in its time zone, as aware UTC datetimes."""
        window = window or self.window
        zone = ZoneInfo(self.timezone)
        start = datetime.combine(self.date, window.start, zone)
        end = datetime.combine(self.date, window.end, zone)
        utc = ZoneInfo("UTC")
        return start.astimezone(utc), end.astimezone(utc)

    def span_s(self) -> tuple[int, int]:
        """From the co-location (or the walk's start) to the walk's end, Unix seconds UTC."""
        start = self.utc_window(self.colocation)[0] if self.colocation else self.utc_window()[0]
        return int(min(start, self.utc_window()[0]).timestamp()), int(self.utc_window()[1].timestamp())

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.folder / relative

    @property
    def kits(self) -> tuple[str, ...]:
        return tuple(p.kit for p in self.participants)


# -- loading, with every problem pointed at its line ---------------------------------


_HEADER = re.compile(r"^\s*(\[\[?)\s*([\w.]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([\w-]+)\s*=")


def line_index(text: str) -> dict[tuple[Any, ...], int]:
    """Where each table and key of a TOML text is: {("participants", 1, "kit"): 23, ...}.

    tomllib keeps no positions; a walk file is simple enough (tables, arrays of
    tables, one key per line) for one pass to find them, so every problem can
    name its line.
    """
    index: dict[tuple[Any, ...], int] = {}
    counts: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            names = tuple(header.group(2).split("."))
            if header.group(1) == "[[":  # an array of tables: the next element of names
                parent = _resolve(names[:-1], counts)
                counts[parent + names[-1:]] = counts.get(parent + names[-1:], -1) + 1
                table = parent + names[-1:] + (counts[parent + names[-1:]],)
            else:
                table = _resolve(names, counts)
            index.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            index.setdefault(table + (key.group(1),), number)
    return index


def _resolve(names: tuple[str, ...], counts: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
    """Dotted names to a path through the latest element of each array of tables."""
    path: tuple[Any, ...] = ()
    for name in names:
        path += (name,)
        if path in counts:
            path += (counts[path],)
    return path


def _line(index: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of ``loc``, or of the nearest table that holds it."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in index:
            return index[loc[:n]]
    return None


def _problems(exc: ValidationError, index: dict[tuple[Any, ...], int]) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or "the file"
        line = _line(index, loc)
        at = f"line {line}: " if line else ""
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is missing"
        elif err["type"] == "extra_forbidden":
            message = "is not a walk-file key (check the spelling; `airtrail walk new` writes a commented template)"
        out.append(f"{at}{where} {message}" if err["type"] in ("missing", "extra_forbidden") else f"{at}{where}: {message}")
    return out


def _files(plan: WalkPlan, index: dict[tuple[Any, ...], int]) -> list[str]:
    """Files the plan names that are not there."""
    problems = []
    named = [(("route", "file"), plan.route.file)]
    named += [(("participants", i, "gpx"), p.gpx) for i, p in enumerate(plan.participants) if p.gpx is not None]
    named += [(("observations", i), o) for i, o in enumerate(plan.observations)]
    folders = [(("readings", "folder"), plan.readings.folder)] if plan.readings.source == "pull" else []
    folders += [(("calibration",), plan.calibration)] if plan.calibration is not None else []
    for loc, relative in folders:
        if not plan.path(relative).is_dir():
            line = _line(index, loc)
            problems.append(f"{'line ' + str(line) + ': ' if line else ''}{relative} is not a folder next to the walk file "
                            f"({plan.path(relative).resolve()}); fix the path or create it")
    for loc, relative in named:
        if not (plan.path(relative).exists() if loc[0] == "observations" else plan.path(relative).is_file()):
            line = _line(index, loc)
            problems.append(f"{'line ' + str(line) + ': ' if line else ''}{relative} does not exist next to the walk file "
                            f"({plan.path(relative).resolve()}); fix the path or copy the file there")
    return problems


def load_plan(path: Path) -> WalkPlan:
    """Parse and check a walk file; PlanError lists every problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"there is no walk file {path}: write one with `airtrail walk new {path}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the walk file {path}: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(path, [f"not valid TOML: {exc}"]) from None
    index = line_index(text)
    # folder and source say where the file is; written in it, they are unknown keys like any other.
    written = [key for key in ("folder", "source") if key in doc]
    if written:
        raise PlanError(path, [f"{'line ' + str(index[(k,)]) + ': ' if (k,) in index else ''}{k} is not a walk-file key "
                               "(check the spelling; `airtrail walk new` writes a commented template)" for k in written])
    try:
        plan = WalkPlan(**doc, folder=path.parent, source=path)
    except ValidationError as exc:
        raise PlanError(path, _problems(exc, index)) from None
    missing = _files(plan, index)
    if missing:
        raise PlanError(path, missing)
    return plan


def template(title: str = "Our data walk", day: date | None = None) -> str:
    """A commented walk file to start from (`airtrail walk new`)."""
    day = day or date.today() + timedelta(days=7)
    return f'''# A data walk, for `airtrail walk check` and `airtrail walk build`.
# Paths are relative to this file's folder. Times are local, in `timezone`.

title = "{title}"
date = {day.isoformat()}
timezone = "Europe/London"          # an IANA name: America/Mexico_City, Europe/Brussels, ...
languages = ["en", "es"]            # the outputs' languages: {", ".join(LANGUAGES)}
licence = "CC-BY-4.0"               # the published data's licence: {", ".join(LICENCES)}
# observations = ["notes.csv", "photos"]   # participants' notes (CSV or GeoJSON) and photos (their EXIF time and place)
# calibration = "calibration"       # a folder of <device>.toml calibrations (default: hardware/calibration)

[window]                            # when the group walked
start = 10:00:00
end = 11:30:00

[colocation]                        # optional: kits side by side before setting off (cross-calibration)
start = 09:45:00
end = 09:55:00
apply = false                       # true: also add each kit's values divided by its ratio to the group median

[readings]                          # where the kits' readings come from
source = "influxdb"                 # "influxdb" (the collector's, from its settings), "api" or "pull"
# url = "https://air.example.org"   # source = "api": a collector's address; its read token in AIRTRAIL_READ_TOKEN
# folder = "pulls"                  # source = "pull": the folder `airtrail kit pull --out` wrote
search_h = 48                       # how far around the walk to look for kits whose clock was wrong

[alignment]
tolerance_s = 10                    # a reading this close to a fix takes it, at the ends of a track
max_gap_s = 60                      # no position is made up across a longer gap between fixes
route_distance_m = 50               # readings farther from the route are off it

[humidity]                          # raw PM is always kept; a correction adds columns
correction = "none"                 # "epa" (Plantower PM2.5, US EPA 2021) or "kohler" (needs kappa)
# kappa = 0.3

[route]
file = "route.geojson"              # the planned route: a GeoJSON LineString, or a GPX route or track
segment_m = 50                      # the summary splits the route every this many metres

[[route.stops]]                     # optional named stops (the summary can split between them)
name = "Start"
lat = 53.4808
lon = -2.2426

# One [[participants]] per person: a pseudonym they chose, never their real name.
[[participants]]
pseudonym = "Heron"
kit = "walk-01"
# gpx = "phones/heron.gpx"          # their phone's track, if the kit has no GPS fix
# clock_offset_s = 40               # if you know the kit's clock ran this far ahead

[[participants]]
pseudonym = "Kestrel"
kit = "walk-02"

[privacy]
trim_m = 200                        # cut from the start and end of every trace (where people live)

# Places that never appear in a published output (a school, a home, a shelter).
[[privacy_zones]]
name = "school gate"                # for you only; never published
lat = 53.4790
lon = -2.2450
radius_m = 100
'''
